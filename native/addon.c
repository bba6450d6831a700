// The N-API surface of the addon: create an engine, submit a batch, cancel, destroy, and the
// helpers JS needs (misalignment for O_DIRECT, layout for the check of src/ops.ts). Records are
// parsed in records.c; an engine's life after create() is in lifecycle.c.
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "addon.h"

static const engine_kind_t *const KINDS[] = {
    &thread_kind,
    &pool_kind,
#ifdef __linux__
    &uring_kind,
    &linux_aio_kind,
    &posix_aio_kind,
#endif
};


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
  if (bytes_of(env, argv[3], &data, &len) < 0 || bytes_of(env, argv[4], (uint8_t **)&e->comp, &n) < 0) {
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
  e->inline_io = option_bool(env, argv[1], "inline");
  e->inline_group = 1;  // inline writes per io_submit, to begin with (inline.c)
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
  CHECK(napi_add_async_cleanup_hook(env, engine_on_env_cleanup, e, &e->cleanup));
  handle_box_t *box = malloc(sizeof *box);
  if (!box) {
    engine_shutdown(e, 1);
    CHECK(napi_create_int32(env, -ENOMEM, &result));
    return result;
  }
  box->engine = e;
  e->box = box;
  CHECK(napi_create_external(env, box, engine_on_box_finalize, NULL, &result));
  return result;
}

// submit(handle, count, buffers, inline)
//   0 handle; 1 count: records written to the submission array; 2 buffers: the batch's buffers,
//   indexed by the records; 3 inline (default true): may buffered writes run at once (inline.c).
//   Returns how many completions it left in the completion array, or -EBADF when the engine is
//   closed (the batch was not started).
static napi_value js_submit(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  engine_t *e = engine_unbox(env, argv[0]);
  if (!e || e->stopping || e->destroy_requested) {  // JS fails the batch: errors are made in JS
    CHECK(napi_create_int32(env, -EBADF, &result));
    return result;
  }
  uint32_t count;
  CHECK(napi_get_value_uint32(env, argv[1], &count));
  if (count > e->sub_cap) count = e->sub_cap;
  e->in_js_call = 1;
  // inline false: this batch is flushed to be cancelled (abort, close): nothing runs at once.
  bool may_inline = true;
  if (argc > 3) napi_get_value_bool(env, argv[3], &may_inline);
  inline_turn_t turn = {0};
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
    int err = record_parse(env, rec, argv[2], r);
    if (err == 0 && e->kind->cancel_one) err = request_remember(e, r);
    if (err < 0) {
      r->op = OP_NOP;
      r->result = err;
      completion_push(e, r);
      continue;
    }
    if (r->op == OP_CLOSE) engine_file_closing(e, r->fd);
    if (may_inline && inline_write(e, r, &turn)) continue;
    inline_went_elsewhere(e, &turn, r);
    e->kind->start(e, r);
  }
  inline_turn_end(e, &turn);
  if (e->kind->flush) e->kind->flush(e);
  completion_update_ref(e);
  e->in_js_call = 0;
  size_t n = e->ncomp;
  e->ncomp = 0;
  CHECK(napi_create_uint32(env, (uint32_t)n, &result));
  return result;
}

// readNow(handle, fd, buffer, offset, length, position): the read at once if the page cache holds
// all of it; writeNow(...): the buffered write at once, where auto writes inline (inline.c). The
// bytes moved, or a negative errno: -EAGAIN (either), or the read's, and JS submits it as usual;
// the write's own error, and JS reports it.
static napi_value io_now(napi_env env, napi_callback_info info, int write) {
  size_t argc = 6;
  napi_value argv[6], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  engine_t *e = engine_unbox(env, argv[0]);
  int32_t fd;
  double offset, length, position;
  uint8_t *data;
  size_t len;
  int64_t n = -EAGAIN;
  CHECK(napi_get_value_int32(env, argv[1], &fd));
  CHECK(napi_get_value_double(env, argv[3], &offset));
  CHECK(napi_get_value_double(env, argv[4], &length));
  CHECK(napi_get_value_double(env, argv[5], &position));
  if (e && !e->stopping && !e->destroy_requested && bytes_of(env, argv[2], &data, &len) == 0 && offset >= 0 && length > 0 && offset + length <= (double)len) {
    void *at = data + (size_t)offset;
    n = write ? inline_write_now(e, fd, at, (size_t)length, (int64_t)position)
              : inline_read(e, fd, at, (size_t)length, (int64_t)position);
  }
  CHECK(napi_create_double(env, (double)n, &result));
  return result;
}

static napi_value js_read_now(napi_env env, napi_callback_info info) { return io_now(env, info, 0); }
static napi_value js_write_now(napi_env env, napi_callback_info info) { return io_now(env, info, 1); }

// cancel(handle, id?): cancel what can be cancelled (everything, or the operation with that id);
// those operations complete with ECANCELED, the others as usual.
static napi_value js_cancel(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  engine_t *e = engine_unbox(env, argv[0]);
  if (!e || e->stopping) return NULL;
  napi_valuetype t = napi_undefined;
  if (argc > 1) CHECK(napi_typeof(env, argv[1], &t));
  if (t != napi_number) {
    engine_cancel_all(e);
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
  engine_t *e = engine_unbox(env, argv[0]);
  return e && e->kind->buffers ? e->kind->buffers(e, env) : NULL;
}

// destroy(handle): wait for everything in flight (without telling JS), then free the engine.
static napi_value js_destroy(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  engine_t *e = engine_unbox(env, argv[0]);
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
  engine_t *e = engine_unbox(env, argv[0]);
  int32_t op;
  CHECK(napi_get_value_int32(env, argv[1], &op));
  int yes = e && (!e->kind->supports || e->kind->supports(e, op));
  CHECK(napi_get_boolean(env, yes, &result));
  return result;
}

// adviseHugePages(view): ask for transparent huge pages under the view's untouched memory (a
// large buffer about to be filled by a read: 512 times fewer page faults). Only whole 2 MiB
// pages inside the view are advised; returns 0 or -errno (the advice is only advice).
static napi_value js_advise_huge_pages(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *data = NULL;
  size_t len = 0;
  int err = bytes_of(env, argv[0], &data, &len);
  const uintptr_t huge = 2u << 20;
  uintptr_t from = ((uintptr_t)data + huge - 1) & ~(huge - 1), to = ((uintptr_t)data + len) & ~(huge - 1);
  if (err == 0 && to > from && madvise((void *)from, to - from, MADV_HUGEPAGE) < 0) err = -errno;
  CHECK(napi_create_int32(env, err, &result));
  return result;
}

// filePosition(fd): where fd's current position is (lseek SEEK_CUR), or -errno (ESPIPE: a pipe,
// a socket, a terminal). Never waits for a device.
static napi_value js_file_position(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd = -1;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok) fd = -1;
  off_t at = fd < 0 ? -1 : lseek(fd, 0, SEEK_CUR);
  CHECK(napi_create_double(env, at < 0 ? -(double)(fd < 0 ? EBADF : errno) : (double)at, &result));
  return result;
}

// adopt(handle, fd, from): a file from's operation opened and left open becomes a file of this
// engine's, which runs its close (readFile in one operation on an engine's pool hands back a file
// it did not read): closed with this engine's other files if the environment goes first. In one
// call, so that the file is on exactly one engine's list whenever JS stops.
static napi_value js_adopt(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  engine_t *to = engine_unbox(env, argv[0]), *from = engine_unbox(env, argv[2]);
  int32_t fd = -1;
  if (!to || to->stopping || !from || from->stopping) return NULL;  // it stays where it is
  if (napi_get_value_int32(env, argv[1], &fd) != napi_ok || fd < 0) return NULL;
  engine_file_closing(from, fd);
  engine_file_opened(to, fd);
  return NULL;
}

// misalignment(view, offset, alignment): (address of view[offset]) % alignment.
static napi_value js_misalignment(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *data;
  size_t len;
  uint32_t offset, alignment;
  if (bytes_of(env, argv[0], &data, &len) < 0) {
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
    N(OP_FSTAT), N(OP_FTRUNCATE), N(OP_OPEN), N(OP_CLOSE), N(OP_STAT), N(OP_UNLINK), N(OP_RENAME),
    N(OP_MKDIR), N(OP_READFILE), N(OP_WRITEFILE), N(OP_ACCESS), N(OP_CHMOD), N(OP_UTIMES),
    N(OP_TRUNCATE), N(OP_COPYFILE), N(OP_READDIR), N(OP_COUNT),
    N(STEP_OPEN), N(STEP_READ), N(STEP_WRITE), N(STEP_FTRUNCATE), N(STEP_FSYNC), N(STEP_CLOSE), N(STEP_FSTAT),
    N(STEP_UNIT), N(WRITEFILE_CUT), N(WRITEFILE_FLUSH), N(COPYFILE_EXCL), N(COPYFILE_FICLONE), N(COPYFILE_FICLONE_FORCE), N(AT_CURRENT_POSITION), N(AT_SYMLINK_NOFOLLOW), N(AT_REMOVEDIR),
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
      {"readNow", NULL, js_read_now, NULL, NULL, NULL, napi_default, NULL},
      {"writeNow", NULL, js_write_now, NULL, NULL, NULL, napi_default, NULL},
      {"cancel", NULL, js_cancel, NULL, NULL, NULL, napi_default, NULL},
      {"misalignment", NULL, js_misalignment, NULL, NULL, NULL, napi_default, NULL},
      {"buffers", NULL, js_buffers, NULL, NULL, NULL, napi_default, NULL},
      {"adviseHugePages", NULL, js_advise_huge_pages, NULL, NULL, NULL, napi_default, NULL},
      {"filePosition", NULL, js_file_position, NULL, NULL, NULL, napi_default, NULL},
      {"adopt", NULL, js_adopt, NULL, NULL, NULL, napi_default, NULL},
      {"supports", NULL, js_supports, NULL, NULL, NULL, napi_default, NULL},
      {"destroy", NULL, js_destroy, NULL, NULL, NULL, napi_default, NULL},
      {"layout", NULL, js_layout, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof *props, props) != napi_ok) return NULL;
#ifdef __linux__
  if (net_define(env, exports) < 0) return NULL;
#endif
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
