// The io_uring engine's own header: the ring as the engine keeps it, and what its files
// (setup, register, queue, reap: split by lifecycle, as liburing splits its own) share.
#ifndef IOENGINE_IO_URING_H
#define IOENGINE_IO_URING_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <linux/io_uring.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine.h"

// Newer than the uapi headers of some stock machines (Linux 6.1); the kernel's probe decides.
#ifndef IORING_OP_FTRUNCATE_NUM
#define IORING_OP_FTRUNCATE_NUM 55
#endif
#ifndef IORING_ASYNC_CANCEL_ANY
#define IORING_ASYNC_CANCEL_ANY (1U << 2)
#endif

// Registered-buffer memory is shared with JS (an external ArrayBuffer): it is freed when both
// the engine and that ArrayBuffer are gone.
// Registered-buffer memory is shared with JS (an external ArrayBuffer): it is freed when both
// the engine and that ArrayBuffer are gone.
typedef struct region {
  uint8_t *base;
  size_t size;
  int refs;
} region_t;

#define CANCEL_TAG 0  // user_data of our cancel SQEs: not an operation

typedef struct {
  engine_t base;
  int ring_fd, event_fd;
  int enter_fd;          // what io_uring_enter takes: the fd, or its registered index
  unsigned enter_flags;  // IORING_ENTER_REGISTERED_RING when enter_fd is an index
  unsigned features;
  // SQ ring
  unsigned *sq_head, *sq_tail, *sq_mask, *sq_flags, *sq_array;
  unsigned sq_entries;
  unsigned sq_local_tail;  // SQEs written, tail not yet published
  unsigned to_submit;      // published, not yet passed to io_uring_enter
  struct io_uring_sqe *sqes;
  // CQ ring
  unsigned *cq_head, *cq_tail, *cq_mask, *cq_flags;
  unsigned cq_entries;
  struct io_uring_cqe *cqes;
  void *sq_ring, *cq_ring;
  size_t sq_ring_size, cq_ring_size, sqes_size;
  uint8_t supported[256];  // by IORING_OP_*, from IORING_REGISTER_PROBE
  uv_poll_t poll;
  int sqpoll;
  // registerFiles: a sparse table of registered files, and each fd's slot + 1 (0: none).
  unsigned file_slots;
  uint32_t *slot_of_fd;
  unsigned fd_cap;
  uint8_t *slot_used;
  // registeredBuffers: one region of count x size bytes, registered as count buffers.
  region_t *region;
  size_t buffer_size;
  unsigned buffer_count;
} uring_t;

static inline int sys_setup(unsigned entries, struct io_uring_params *p) {
  int r = (int)syscall(__NR_io_uring_setup, entries, p);
  return r < 0 ? -errno : r;
}
static inline int sys_enter(int fd, unsigned submit, unsigned min_complete, unsigned flags) {
  int r = (int)syscall(__NR_io_uring_enter, fd, submit, min_complete, flags, NULL, 0);
  return r < 0 ? -errno : r;
}
static inline int sys_register(int fd, unsigned op, void *arg, unsigned n) {
  int r = (int)syscall(__NR_io_uring_register, fd, op, arg, n);
  return r < 0 ? -errno : r;
}

// The ring memory is shared with the kernel. Its producer publishes entries with a release store
// of the tail after writing them; the consumer loads the tail with acquire before reading them
// (and the other way round for the head), as the kernel's smp_load_acquire/smp_store_release.
#define load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

// io_uring_setup.c: set up, probe, tear down
int uring_init(engine_t *e, napi_env env, napi_value options);
int uring_supports(engine_t *e, int op);
void uring_stop(engine_t *e);
void uring_release_ring(uring_t *u);

// io_uring_register.c: registered files and buffers
int uring_register_files(uring_t *u);
int uring_register_buffers(uring_t *u);
void uring_region_release(region_t *r);
void uring_file_opened(uring_t *u, int fd);
void uring_file_closing(uring_t *u, int fd);
napi_value uring_buffers(engine_t *e, napi_env env);

// On the submission path, for every read and write: inline.
static inline void uring_use_fixed_file(uring_t *u, struct io_uring_sqe *sqe, int fd) {
  if (fd >= 0 && (unsigned)fd < u->fd_cap && u->slot_of_fd[fd]) {
    sqe->fd = (int)u->slot_of_fd[fd] - 1;
    sqe->flags |= IOSQE_FIXED_FILE;
  }
}

// A read/write whose bytes lie inside one registered buffer uses READ_FIXED/WRITE_FIXED: no
// per-operation page pinning.
static inline int uring_fixed_buffer(uring_t *u, const struct iovec *iov) {
  if (!u->region) return -1;
  uint8_t *p = iov->iov_base;
  if (p < u->region->base || p >= u->region->base + u->region->size) return -1;
  size_t index = (size_t)(p - u->region->base) / u->buffer_size;
  if (p + iov->iov_len > u->region->base + (index + 1) * u->buffer_size) return -1;
  return (int)index;
}

// io_uring_queue.c: submission and cancellation
struct io_uring_sqe *uring_get_sqe(uring_t *u);
int uring_submit_pending(uring_t *u, unsigned min_complete, unsigned flags);
void uring_start(engine_t *e, req_t *r);
void uring_flush(engine_t *e);
void uring_fail_unsubmitted(uring_t *u, int err);
void uring_cancel(engine_t *e);
void uring_cancel_one(engine_t *e, req_t *r);

// io_uring_reap.c: completions, and the eventfd that wakes the loop for them
unsigned uring_reap(uring_t *u, int deliver, unsigned max);
// A read's offset for its SQE, and on its completion the file position it moves (io_uring_queue.c).
uint64_t uring_read_position(req_t *r);
void uring_moved_position(req_t *r);
void uring_mute_eventfd(uring_t *u, int mute);
void uring_on_poll(uv_poll_t *h, int status, int events);

#endif
