// Memory for large readFile results, used again. Fresh memory from the kernel is zeroed and
// faulted in as a read fills it: for a cached 64 MiB file that costs more than the copy out of
// the page cache (BENCHMARKS.md, "readFile of a large file"). Here a result's memory, once the
// collector frees its ArrayBuffer, goes back to a small cache (MADV_FREE: the kernel may take
// the pages whenever it needs them) and the next large result of about its size takes it; what
// stays unused for a while is unmapped (trim).
//
// Its own addon, on V8's API: a backing store with a deleter of our own makes a plain
// ArrayBuffer, transferable and detachable as node's own Buffers are (N-API's external buffers
// are neither, and run their finalizers a turn late). V8 calls the deleter on any thread.
#include <node.h>
#include <node_buffer.h>
#include <sys/mman.h>
#include <time.h>

#include <mutex>
#include <vector>

namespace {

constexpr size_t kHugePage = 2u << 20;
constexpr size_t kCacheBytes = 512u << 20;  // at most this much kept for use again
constexpr size_t kCacheRegions = 8;

struct Region {
  void *base;
  size_t size;    // mapped, a multiple of kHugePage
  uint64_t idle;  // since when it is in the cache (CLOCK_MONOTONIC, ns)
};

uint64_t now_ns() {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<uint64_t>(t.tv_sec) * 1000000000u + static_cast<uint64_t>(t.tv_nsec);
}

// Never destroyed: a deleter may run on a V8 thread while the process exits.
std::mutex &lock = *new std::mutex;
std::vector<Region> &cache = *new std::vector<Region>;
size_t cached = 0;

// A region of at least size bytes, aligned to a huge page so that all of it can be one.
Region map_region(size_t size) {
  size_t want = (size + kHugePage - 1) & ~(kHugePage - 1);
  void *p = mmap(nullptr, want + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return {nullptr, 0, 0};
  uintptr_t start = (reinterpret_cast<uintptr_t>(p) + kHugePage - 1) & ~(uintptr_t)(kHugePage - 1);
  size_t head = start - reinterpret_cast<uintptr_t>(p);
  if (head) munmap(p, head);
  if (kHugePage - head) munmap(reinterpret_cast<char *>(start) + want, kHugePage - head);
  madvise(reinterpret_cast<void *>(start), want, MADV_HUGEPAGE);
  return {reinterpret_cast<void *>(start), want, 0};
}

// The cached region that fits best (no more than twice the size: a large one is not held for a
// small result), taken out of the cache; else a new one.
Region take(size_t size) {
  {
    std::lock_guard<std::mutex> hold(lock);
    size_t best = cache.size();
    for (size_t i = 0; i < cache.size(); i++)
      if (cache[i].size >= size && cache[i].size <= 2 * size && (best == cache.size() || cache[i].size < cache[best].size)) best = i;
    if (best < cache.size()) {
      Region r = cache[best];
      cache[best] = cache.back();
      cache.pop_back();
      cached -= r.size;
      return r;
    }
  }
  return map_region(size);
}

// The collector freed a result: keep its region for the next, or give it back.
void give_back(void *data, size_t, void *mapped) {
  Region r{data, reinterpret_cast<size_t>(mapped), now_ns()};
  {
    std::lock_guard<std::mutex> hold(lock);
    if (cache.size() < kCacheRegions && cached + r.size <= kCacheBytes) {
      madvise(r.base, r.size, MADV_FREE);
      cache.push_back(r);
      cached += r.size;
      return;
    }
  }
  munmap(r.base, r.size);
}

// largeBuffer(size): a Buffer of size bytes, not initialized (as Buffer.allocUnsafeSlow), in
// memory of its own; undefined when none can be mapped.
void LargeBuffer(const v8::FunctionCallbackInfo<v8::Value> &args) {
  v8::Isolate *isolate = args.GetIsolate();
  if (args.Length() < 1 || !args[0]->IsNumber()) return;
  double want = args[0].As<v8::Number>()->Value();
  if (!(want >= 1) || want > static_cast<double>(node::Buffer::kMaxLength)) return;
  size_t size = static_cast<size_t>(want);
  Region r = take(size);
  if (!r.base) return;
  std::unique_ptr<v8::BackingStore> store =
      v8::ArrayBuffer::NewBackingStore(r.base, size, give_back, reinterpret_cast<void *>(r.size));
  v8::Local<v8::ArrayBuffer> ab = v8::ArrayBuffer::New(isolate, std::move(store));
  v8::Local<v8::Object> buffer;
  if (node::Buffer::New(isolate, ab, 0, size).ToLocal(&buffer)) args.GetReturnValue().Set(buffer);
}

// trim(idleMs): gives back to the kernel the regions unused for idleMs or more; returns the bytes
// still kept. (JS calls it from a timer while anything is kept: memory a program no longer reads
// large files into does not stay mapped.)
void Trim(const v8::FunctionCallbackInfo<v8::Value> &args) {
  double ms = args.Length() > 0 && args[0]->IsNumber() ? args[0].As<v8::Number>()->Value() : 0;
  uint64_t before = now_ns() - static_cast<uint64_t>(ms > 0 ? ms * 1e6 : 0);
  std::vector<Region> gone;
  double left;
  {
    std::lock_guard<std::mutex> hold(lock);
    for (size_t i = 0; i < cache.size();) {
      if (cache[i].idle <= before) {
        gone.push_back(cache[i]);
        cached -= cache[i].size;
        cache[i] = cache.back();
        cache.pop_back();
      } else {
        i++;
      }
    }
    left = static_cast<double>(cached);
  }
  for (const Region &r : gone) munmap(r.base, r.size);
  args.GetReturnValue().Set(left);
}

// cachedBytes(): memory kept for use again (for tests).
void CachedBytes(const v8::FunctionCallbackInfo<v8::Value> &args) {
  double bytes;
  {
    std::lock_guard<std::mutex> hold(lock);
    bytes = static_cast<double>(cached);
  }
  args.GetReturnValue().Set(bytes);
}

}  // namespace

NODE_MODULE_INIT(/* exports, module, context */) {
  NODE_SET_METHOD(exports, "largeBuffer", LargeBuffer);
  NODE_SET_METHOD(exports, "cachedBytes", CachedBytes);
  NODE_SET_METHOD(exports, "trim", Trim);
}
