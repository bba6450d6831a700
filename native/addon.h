// What the addon's own files share (the engine contract itself is engine.h).
#ifndef IOENGINE_ADDON_H
#define IOENGINE_ADDON_H

#include "engine.h"

// records.c
// Any TypedArray, DataView or ArrayBuffer: its bytes; -EINVAL for anything else, -EFAULT for
// memory that is gone (detached).
// An N-API call that must not fail: if it does, a JS error, and the function returns NULL.
#define CHECK(call)                                                        \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error(env, "ERR_IOENGINE_NATIVE", "N-API call failed: " #call); \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

int bytes_of(napi_env env, napi_value v, uint8_t **data, size_t *len);
// Fill r from record rec; 0, -EINVAL when the record does not fit its buffers, -EFAULT when a
// buffer was detached after JS checked it.
int record_parse(napi_env env, const double *rec, napi_value bufs, req_t *r);
// Keep r findable by its JS id, for cancel(handle, id).
int request_remember(engine_t *e, req_t *r);

// lifecycle.c
// The JS handle: an external pointing at a box, which outlives the engine it points to.
struct handle_box {
  engine_t *engine;
};
engine_t *engine_unbox(napi_env env, napi_value v);
void engine_on_env_cleanup(napi_async_cleanup_hook_handle hook, void *arg);
void engine_on_box_finalize(napi_env env, void *data, void *hint);

// net.c: the socket engines' exports (netCreate, netListen, ...).
int net_define(napi_env env, napi_value exports);

#endif
