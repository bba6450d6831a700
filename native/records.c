// Records from JS: each submission record becomes a req_t, every pointer and length checked
// against the buffer JS gave (JS validated the arguments; native trusts no address it did not
// check). And the options object, read one whole number at a time.
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addon.h"

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

int option_bool(napi_env env, napi_value obj, const char *name) {
  napi_valuetype t;
  napi_value v;
  bool out = false;
  if (!obj || napi_typeof(env, obj, &t) != napi_ok || t != napi_object) return 0;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok) return 0;
  if (napi_get_value_bool(env, v, &out) != napi_ok) return 0;
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
int bytes_of(napi_env env, napi_value v, uint8_t **data, size_t *len) {
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
  return bytes_of(env, v, data, len);
}

// A NUL-terminated path in buffer `index`.
static int path_at(napi_env env, napi_value bufs, double index, const char **path) {
  uint8_t *data;
  size_t len;
  int err = buffer_at(env, bufs, index, &data, &len);
  if (err < 0) return err;
  if (len == 0 || data[len - 1] != 0) return -EINVAL;
  *path = (const char *)data;
  return 0;
}

// STAT_FIELDS doubles, aligned, in buffer `index`: where a stat writes its result.
static int stat_out_at(napi_env env, napi_value bufs, double index, req_t *r) {
  uint8_t *data;
  size_t len;
  int err = buffer_at(env, bufs, index, &data, &len);
  if (err < 0) return err;
  if (len < STAT_FIELDS * sizeof(double) || ((uintptr_t)data & 7)) return -EINVAL;
  r->stat = (double *)data;
  return 0;
}

// Fill r from record rec; returns 0, -EINVAL when the record does not fit its buffers, or -EFAULT
// when a buffer was detached after JS checked it (a zero-length read would be a false end of file).
int record_parse(napi_env env, const double *rec, napi_value bufs, req_t *r) {
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
      if ((err = path_at(env, bufs, rec[R_BUF], &r->path)) < 0) return err;
      r->flags = (int)rec[R_A];
      r->mode = (int)rec[R_B];
      return 0;
    case OP_FSTAT:
      return stat_out_at(env, bufs, rec[R_BUF], r);
    case OP_STAT:
    case OP_UNLINK:
    case OP_RENAME:
    case OP_MKDIR:
    case OP_ACCESS:
    case OP_CHMOD:
    case OP_UTIMES:
    case OP_TRUNCATE:
    case OP_COPYFILE:
      if ((err = path_at(env, bufs, rec[R_BUF], &r->path)) < 0) return err;
      if (r->op == OP_UTIMES) {  // seconds, beyond an int's range
        r->atime = rec[R_A];
        r->mtime = rec[R_B];
        return 0;
      }
      r->flags = (int)rec[R_A];
      r->mode = (int)rec[R_B];
      if (r->op == OP_RENAME || r->op == OP_COPYFILE) return path_at(env, bufs, rec[R_BUF] + 1, &r->path2);
      if (r->op == OP_STAT) return stat_out_at(env, bufs, rec[R_BUF] + 1, r);
      return 0;
    case OP_READFILE:
    case OP_WRITEFILE:
    case OP_READDIR:
      if ((err = path_at(env, bufs, rec[R_BUF], &r->path)) < 0) return err;
      if ((err = buffer_at(env, bufs, rec[R_BUF] + 1, &data, &len)) < 0) return err;
      r->iov[0].iov_base = data;
      r->iov[0].iov_len = len;
      r->iovcnt = 1;
      r->flags = (int)rec[R_A];
      r->mode = (int)rec[R_B];
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
int request_remember(engine_t *e, req_t *r) {
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
