// The N-API surface of the addon: create an engine, submit a batch, cancel, destroy.
// Every engine's teardown also runs from the environment's async cleanup hook, so a process
// exiting or a worker_thread terminated with operations in flight waits for them first.
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

static const engine_kind_t *const KINDS[] = {
    &thread_kind,
    &pool_kind,
#ifdef __linux__
    &uring_kind,
    &linux_aio_kind,
    &posix_aio_kind,
#endif
};

// The JS handle: an external pointing at a box, which outlives the engine it points to.
struct handle_box {
  engine_t *engine;
};

#define CHECK(call)                                                        \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error(env, "ERR_IOENGINE_NATIVE", "N-API call failed: " #call); \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

uint32_t option_u32(napi_env env, napi_value obj, const char *name, uint32_t dflt) {
  napi_valuetype t;
  if (!obj || napi_typeof(env, obj, &t) != napi_ok || t != napi_object) return dflt;
  napi_value v;
  uint32_t out;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok) return dflt;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return dflt;
  if (napi_get_value_uint32(env, v, &out) != napi_ok) return dflt;
  return out;
}

// A view with no bytes: is it empty, or was its ArrayBuffer detached (transferred) since JS checked it?
static int detached(napi_env env, napi_value ab) {
  bool is = false;
  if (ab) napi_is_detached_arraybuffer(env, ab, &is);
  return is;
}

// Any TypedArray, DataView or ArrayBuffer: its bytes; -EINVAL for anything else, -EFAULT for
// memory that is gone (detached).
static int get_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is;
  napi_typedarray_type type;
  size_t count, offset;
  napi_value ab;
  // The common case (a Buffer or other TypedArray) in one call: it fails on anything else.
  if (napi_get_typedarray_info(env, v, &type, &count, (void **)data, &ab, &offset) == napi_ok) {
    size_t width = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: width = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: width = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: width = 8; break;
      default: width = 1;
    }
    *len = count * width;
    return *len == 0 && detached(env, ab) ? -EFAULT : 0;
  }
  if (napi_is_dataview(env, v, &is) == napi_ok && is) {
    if (napi_get_dataview_info(env, v, len, (void **)data, &ab, &offset) != napi_ok) return -EINVAL;
    return *len == 0 && detached(env, ab) ? -EFAULT : 0;
  }
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
    if (napi_get_arraybuffer_info(env, v, (void **)data, len) != napi_ok) return -EINVAL;
    return *len == 0 && detached(env, v) ? -EFAULT : 0;
  }
  return -EINVAL;
}

static int buffer_at(napi_env env, napi_value bufs, double index, uint8_t **data, size_t *len) {
  napi_value v;
  if (!(index >= 0 && index <= UINT32_MAX)) return -EINVAL;
  if (napi_get_element(env, bufs, (uint32_t)index, &v) != napi_ok) return -EINVAL;
  return get_bytes(env, v, data, len);
}

// Fill r from record rec; returns 0, -EINVAL when the record does not fit its buffers, or -EFAULT
// when a buffer was detached after JS checked it (a zero-length read would be a false end of file).
static int parse_record(napi_env env, const double *rec, napi_value bufs, req_t *r) {
  uint8_t *data;
  size_t len;
  int err;
  r->op = (int)rec[R_OP];
  r->id = (uint32_t)rec[R_ID];
  r->fd = (int)rec[R_FD];
  r->pos = (int64_t)rec[R_POS];
  switch (r->op) {
    case OP_READ:
    case OP_WRITE: {
      double off = rec[R_A], n = rec[R_B];
      if ((err = buffer_at(env, bufs, rec[R_BUF], &data, &len)) < 0) return err;
      if (!(off >= 0 && n >= 0 && off + n <= (double)len)) return -EINVAL;  // NaN fails too
      r->iov[0].iov_base = data + (size_t)off;
      r->iov[0].iov_len = (size_t)n;
      r->iovcnt = 1;
      return 0;
    }
    case OP_READV:
    case OP_WRITEV: {
      double nb = rec[R_NBUF];
      if (!(nb >= 0 && nb <= 1024)) return -EINVAL;
      r->iovcnt = (int)nb;
      if (r->iovcnt > INLINE_IOVS && !(r->iov = malloc(r->iovcnt * sizeof *r->iov))) {
        r->iov = r->iov1;
        return -ENOMEM;
      }
      for (int i = 0; i < r->iovcnt; i++) {
        if ((err = buffer_at(env, bufs, rec[R_BUF] + i, &data, &len)) < 0) return err;
        r->iov[i].iov_base = data;
        r->iov[i].iov_len = len;
      }
      return 0;
    }
    case OP_OPEN:
      if ((err = buffer_at(env, bufs, rec[R_BUF], &data, &len)) < 0) return err;
      if (len == 0 || data[len - 1] != 0) return -EINVAL;  // must be NUL-terminated
      r->path = (const char *)data;
      r->flags = (int)rec[R_A];
      r->mode = (int)rec[R_B];
      return 0;
    case OP_FSTAT:
      if ((err = buffer_at(env, bufs, rec[R_BUF], &data, &len)) < 0) return err;
      if (len < STAT_FIELDS * sizeof(double) || ((uintptr_t)data & 7)) return -EINVAL;
      r->stat = (double *)data;
      return 0;
    case OP_NOP:
    case OP_FSYNC:
    case OP_FDATASYNC:
    case OP_FTRUNCATE:
    case OP_CLOSE:
      return 0;
    default:
      return -EINVAL;
  }
}

// Keep r findable by its JS id, for cancel(handle, id).
static int remember(engine_t *e, req_t *r) {
  if (r->id >= e->by_id_cap) {
    size_t cap = e->by_id_cap ? e->by_id_cap : 256;
    while (cap <= r->id) cap *= 2;
    req_t **grown = realloc(e->by_id, cap * sizeof *grown);
    if (!grown) return -ENOMEM;
    memset(grown + e->by_id_cap, 0, (cap - e->by_id_cap) * sizeof *grown);
    e->by_id = grown;
    e->by_id_cap = cap;
  }
  e->by_id[r->id] = r;
  return 0;
}

static engine_t *unbox(napi_env env, napi_value v) {
  handle_box_t *box;
  if (napi_get_value_external(env, v, (void **)&box) != napi_ok || !box) return NULL;
  return box->engine;
}

// ---- teardown ----

static void free_engine(engine_t *e) {
  while (e->free_reqs) {
    req_t *r = e->free_reqs;
    e->free_reqs = r->next;
    free(r);
  }
  pthread_mutex_destroy(&e->done_lock);
  free(e->by_id);
  napi_async_cleanup_hook_handle hook = e->cleanup;
  free(e);
  napi_remove_async_cleanup_hook(hook);
}

static void on_handle_closed(uv_handle_t *h) {
  engine_t *e = h->data;
  if (--e->open_handles == 0) free_engine(e);
}

// Stop the engine: cancel, wait for every operation, then close its loop handles. Memory is
// freed when the last handle's close callback has run.
void engine_shutdown(engine_t *e, int from_js) {
  if (e->stopping) return;
  e->draining = 1;
  e->kind->cancel(e);
  e->kind->stop(e);
  e->stopping = 1;
  completion_drain_pushed(e, 0);
  if (from_js) {
    napi_delete_reference(e->env, e->on_complete);
    napi_delete_reference(e->env, e->sub_ref);
    napi_delete_reference(e->env, e->comp_ref);
    napi_async_destroy(e->env, e->async_context);
  }
  if (e->box) e->box->engine = NULL;
  e->box = NULL;
  uv_handle_t *own = e->kind->handle(e);
  e->open_handles = 1;
  uv_close((uv_handle_t *)&e->async, on_handle_closed);
  if (own && own != (uv_handle_t *)&e->async) {
    e->open_handles++;
    own->data = e;
    uv_close(own, on_handle_closed);
  }
}

static void on_env_cleanup(napi_async_cleanup_hook_handle hook, void *arg) { engine_shutdown(arg, 0); }

static void on_box_finalize(napi_env env, void *data, void *hint) {
  handle_box_t *box = data;
  if (box->engine) box->engine->box = NULL;  // the engine lives on until cleanup
  free(box);
}

// ---- exports ----

// create(kind, options, onComplete, submissions, completions)
//   0 kind: engine name; 1 options: object; 2 onComplete(count): called with completions ready;
//   3 submissions: Float64Array of RECORD_SIZE-double records; 4 completions: Float64Array of pairs.
// Returns the handle, or a negative errno when the engine cannot be set up here.
static napi_value js_create(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[32];
  size_t n;
  CHECK(napi_get_value_string_utf8(env, argv[0], name, sizeof name, &n));
  const engine_kind_t *kind = NULL;
  for (size_t i = 0; i < sizeof KINDS / sizeof *KINDS; i++)
    if (strcmp(KINDS[i]->name, name) == 0) kind = KINDS[i];
  if (!kind) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "unknown native engine");
    return NULL;
  }
  engine_t *e = calloc(1, kind->size);
  if (!e) {
    CHECK(napi_create_int32(env, -ENOMEM, &result));
    return result;
  }
  e->kind = kind;
  e->env = env;
  uint8_t *data;
  size_t len;
  if (get_bytes(env, argv[3], &data, &len) < 0 || get_bytes(env, argv[4], (uint8_t **)&e->comp, &n) < 0) {
    free(e);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "submission and completion arrays must be Float64Arrays");
    return NULL;
  }
  e->sub = (double *)data;
  e->sub_cap = len / (RECORD_SIZE * sizeof(double));
  e->comp_cap = n / (2 * sizeof(double));
  if (e->sub_cap == 0 || e->comp_cap < e->sub_cap) {
    free(e);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "the completion array must hold a pair for every submission record");
    return NULL;
  }
  CHECK(napi_get_uv_event_loop(env, &e->loop));
  int err = kind->init(e, env, argv[1]);
  if (err < 0) {
    free(e);
    CHECK(napi_create_int32(env, err, &result));
    return result;
  }
  completion_init(e);
  CHECK(napi_create_reference(env, argv[2], 1, &e->on_complete));
  CHECK(napi_create_reference(env, argv[3], 1, &e->sub_ref));
  CHECK(napi_create_reference(env, argv[4], 1, &e->comp_ref));
  napi_value resource_name;
  CHECK(napi_create_string_utf8(env, "ioengine", NAPI_AUTO_LENGTH, &resource_name));
  CHECK(napi_async_init(env, NULL, resource_name, &e->async_context));
  CHECK(napi_add_async_cleanup_hook(env, on_env_cleanup, e, &e->cleanup));
  handle_box_t *box = malloc(sizeof *box);
  if (!box) {
    engine_shutdown(e, 1);
    CHECK(napi_create_int32(env, -ENOMEM, &result));
    return result;
  }
  box->engine = e;
  e->box = box;
  CHECK(napi_create_external(env, box, on_box_finalize, NULL, &result));
  return result;
}

// submit(handle, count, buffers)
//   0 handle; 1 count: records written to the submission array; 2 buffers: the batch's buffers,
//   indexed by the records. Returns how many completions it left in the completion array.
static napi_value js_submit(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  engine_t *e = unbox(env, argv[0]);
  if (!e || e->stopping || e->destroy_requested) {
    napi_throw_error(env, "ERR_IOENGINE_CLOSED", "engine is closed");
    return NULL;
  }
  uint32_t count;
  CHECK(napi_get_value_uint32(env, argv[1], &count));
  if (count > e->sub_cap) count = e->sub_cap;
  e->in_js_call = 1;
  for (uint32_t i = 0; i < count; i++) {
    const double *rec = e->sub + (size_t)i * RECORD_SIZE;
    req_t *r = req_alloc(e);
    if (!r) {
      // Out of memory: report this operation failed; never lose it. There is room: an operation
      // records at most one completion while the batch is started, and comp_cap >= sub_cap.
      e->comp[2 * e->ncomp] = rec[R_ID];
      e->comp[2 * e->ncomp + 1] = -ENOMEM;
      e->ncomp++;
      continue;
    }
    e->inflight++;
    int err = parse_record(env, rec, argv[2], r);
    if (err == 0 && e->kind->cancel_one) err = remember(e, r);
    if (err < 0) {
      r->op = OP_NOP;
      r->result = err;
      completion_push(e, r);
      continue;
    }
    e->kind->start(e, r);
  }
  if (e->kind->flush) e->kind->flush(e);
  completion_update_ref(e);
  e->in_js_call = 0;
  size_t n = e->ncomp;
  e->ncomp = 0;
  CHECK(napi_create_uint32(env, (uint32_t)n, &result));
  return result;
}

// cancel(handle, id?): cancel what can be cancelled (everything, or the operation with that id);
// those operations complete with ECANCELED, the others as usual.
static napi_value js_cancel(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  engine_t *e = unbox(env, argv[0]);
  if (!e || e->stopping) return NULL;
  napi_valuetype t = napi_undefined;
  if (argc > 1) CHECK(napi_typeof(env, argv[1], &t));
  if (t != napi_number) {
    e->kind->cancel(e);
    return NULL;
  }
  uint32_t id;
  CHECK(napi_get_value_uint32(env, argv[1], &id));
  if (id < e->by_id_cap && e->by_id[id] && e->kind->cancel_one) e->kind->cancel_one(e, e->by_id[id]);
  return NULL;
}

// buffers(handle): the engine's registered buffers as one ArrayBuffer, or undefined.
static napi_value js_buffers(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  engine_t *e = unbox(env, argv[0]);
  return e && e->kind->buffers ? e->kind->buffers(e, env) : NULL;
}

// destroy(handle): wait for everything in flight (without telling JS), then free the engine.
static napi_value js_destroy(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  engine_t *e = unbox(env, argv[0]);
  if (!e) return NULL;
  // Called from JS while a delivery of ours is on the stack: the native frames below still use
  // the engine, so the outermost of them shuts it down when JS returns (completion_destroyed).
  if (e->delivering) e->destroy_requested = 1;
  else engine_shutdown(e, 1);
  return NULL;
}

// supports(handle, op): can the engine do this operation itself.
static napi_value js_supports(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  engine_t *e = unbox(env, argv[0]);
  int32_t op;
  CHECK(napi_get_value_int32(env, argv[1], &op));
  int yes = e && (!e->kind->supports || e->kind->supports(e, op));
  CHECK(napi_get_boolean(env, yes, &result));
  return result;
}

// misalignment(view, offset, alignment): (address of view[offset]) % alignment.
static napi_value js_misalignment(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *data;
  size_t len;
  uint32_t offset, alignment;
  if (get_bytes(env, argv[0], &data, &len) < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a TypedArray or DataView");
    return NULL;
  }
  CHECK(napi_get_value_uint32(env, argv[1], &offset));
  CHECK(napi_get_value_uint32(env, argv[2], &alignment));
  CHECK(napi_create_uint32(env, alignment ? (uint32_t)(((uintptr_t)data + offset) % alignment) : 0, &result));
  return result;
}

// layout(): the numbers JS must share with this build (src/ops.ts, src/stats.ts), by name.
typedef struct { const char *name; int value; } named_t;
#define N(x) {#x, x}
static const named_t LAYOUT[] = {
    N(OP_NOP), N(OP_READ), N(OP_WRITE), N(OP_READV), N(OP_WRITEV), N(OP_FSYNC), N(OP_FDATASYNC),
    N(OP_FSTAT), N(OP_FTRUNCATE), N(OP_OPEN), N(OP_CLOSE), N(OP_COUNT), N(AT_CURRENT_POSITION),
    N(R_OP), N(R_ID), N(R_FD), N(R_POS), N(R_BUF), N(R_NBUF), N(R_A), N(R_B), N(RECORD_SIZE),
    N(ST_DEV), N(ST_MODE), N(ST_NLINK), N(ST_UID), N(ST_GID), N(ST_RDEV), N(ST_BLKSIZE), N(ST_INO),
    N(ST_SIZE), N(ST_BLOCKS), N(ST_ATIME_MS), N(ST_MTIME_MS), N(ST_CTIME_MS), N(ST_BIRTHTIME_MS),
    N(ST_DIO_MEM_ALIGN), N(ST_DIO_OFFSET_ALIGN), N(STAT_FIELDS),
};
#undef N

static napi_value js_layout(napi_env env, napi_callback_info info) {
  napi_value result, v;
  CHECK(napi_create_object(env, &result));
  for (size_t i = 0; i < sizeof LAYOUT / sizeof *LAYOUT; i++) {
    CHECK(napi_create_int32(env, LAYOUT[i].value, &v));
    CHECK(napi_set_named_property(env, result, LAYOUT[i].name, v));
  }
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"create", NULL, js_create, NULL, NULL, NULL, napi_default, NULL},
      {"submit", NULL, js_submit, NULL, NULL, NULL, napi_default, NULL},
      {"cancel", NULL, js_cancel, NULL, NULL, NULL, napi_default, NULL},
      {"misalignment", NULL, js_misalignment, NULL, NULL, NULL, napi_default, NULL},
      {"buffers", NULL, js_buffers, NULL, NULL, NULL, napi_default, NULL},
      {"supports", NULL, js_supports, NULL, NULL, NULL, napi_default, NULL},
      {"destroy", NULL, js_destroy, NULL, NULL, NULL, napi_default, NULL},
      {"layout", NULL, js_layout, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof *props, props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
