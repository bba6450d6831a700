// Receive blocks in memory V8's own allocator gave, handed to JS as the Buffer itself: node's own
// reads do the same (allocate a backing store, read into it, hand it over). Memory that
// V8 did not allocate (a backing store with a deleter of ours, or N-API's external buffers) is
// external to it and is freed only by full collections: a socket streaming 64 KiB reads so ran a
// mark-compact every 30 ms, a fifth of its CPU (BENCHMARKS.md, sockets, session 7).
//
// napi_value is the address of a v8::Local's slot (node's js_native_api_v8.h converts so both
// ways); the Buffer made here lives in the caller's N-API handle scope.
#undef NAPI_VERSION  // (node.h names its own; this file needs none of N-API's versions)
#include <node.h>
#include <node_api.h>
#include <node_buffer.h>

#include "owned_buffer.h"

extern "C" int js_block_new(js_block_t *b, size_t size) {
  v8::Isolate *isolate = v8::Isolate::GetCurrent();
  if (!isolate) return -1;
  std::unique_ptr<v8::BackingStore> store = v8::ArrayBuffer::NewBackingStore(isolate, size);
  if (!store || !store->Data()) return -1;
  b->data = static_cast<unsigned char *>(store->Data());
  b->store = store.release();
  return 0;
}

extern "C" void js_block_free(js_block_t *b) {
  delete static_cast<v8::BackingStore *>(b->store);
  b->store = nullptr;
  b->data = nullptr;
}

extern "C" napi_value js_block_buffer(napi_env env, js_block_t *b, size_t len) {
  v8::Isolate *isolate = v8::Isolate::GetCurrent();
  if (!isolate) return nullptr;
  std::unique_ptr<v8::BackingStore> store(static_cast<v8::BackingStore *>(b->store));
  b->store = nullptr;
  b->data = nullptr;
  // The Buffer views the first len bytes of the whole block (only reads of half a block or more
  // are handed over, so at most half of it is unused). Not shrunk to len as node's reads are:
  // BackingStore::Reallocate is deprecated in later V8s, and this file is in the main addon.
  v8::Local<v8::ArrayBuffer> ab = v8::ArrayBuffer::New(isolate, std::move(store));
  v8::Local<v8::Uint8Array> buffer;
  if (!node::Buffer::New(isolate, ab, 0, len).ToLocal(&buffer)) return nullptr;
  v8::Local<v8::Value> value = buffer;
  return reinterpret_cast<napi_value>(*value);
}
