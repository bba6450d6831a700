// Receive blocks from V8's allocator, handed to JS as Buffers that own them (owned_buffer.cc).
// Only on the JS thread.
#ifndef IOENGINE_OWNED_BUFFER_H
#define IOENGINE_OWNED_BUFFER_H
#include <node_api.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif
typedef struct {
  void *store;          // V8's backing store
  unsigned char *data;  // its bytes, for the kernel to fill
} js_block_t;

// A block of size bytes: 0, or -1 when none can be had.
int js_block_new(js_block_t *b, size_t size);
void js_block_free(js_block_t *b);
// The block's first len bytes as a Buffer (inside a handle scope); the block is JS's from then
// on, even when this fails (NULL).
napi_value js_block_buffer(napi_env env, js_block_t *b, size_t len);
#ifdef __cplusplus
}
#endif
#endif
