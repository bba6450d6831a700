// The `io_uring` engine over the raw syscalls and <linux/io_uring.h> (no liburing).
//
// A batch of operations becomes SQEs and one io_uring_enter; completions that are already there
// when it returns (page-cache reads usually are) are reaped at once and go back to JS with the
// submit call. The rest wake the loop through an eventfd registered with the ring, watched by a
// uv_poll_t: one wake-up drains every ready CQE.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
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
typedef struct region {
  uint8_t *base;
  size_t size;
  int refs;
} region_t;

static void region_release(region_t *r) {
  if (--r->refs == 0) {
    free(r->base);
    free(r);
  }
}

_Static_assert(sizeof(struct statx) <= sizeof(((req_t *)0)->engine_data), "statx fits in req_t");

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

static int sys_setup(unsigned entries, struct io_uring_params *p) {
  int r = (int)syscall(__NR_io_uring_setup, entries, p);
  return r < 0 ? -errno : r;
}
static int sys_enter(int fd, unsigned submit, unsigned min_complete, unsigned flags) {
  int r = (int)syscall(__NR_io_uring_enter, fd, submit, min_complete, flags, NULL, 0);
  return r < 0 ? -errno : r;
}
static int sys_register(int fd, unsigned op, void *arg, unsigned n) {
  int r = (int)syscall(__NR_io_uring_register, fd, op, arg, n);
  return r < 0 ? -errno : r;
}

// The ring memory is shared with the kernel. Its producer publishes entries with a release store
// of the tail after writing them; the consumer loads the tail with acquire before reading them
// (and the other way round for the head), as the kernel's smp_load_acquire/smp_store_release.
#define load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

static void unmap(uring_t *u) {
  if (u->sqes) munmap(u->sqes, u->sqes_size);
  if (u->cq_ring && u->cq_ring != u->sq_ring) munmap(u->cq_ring, u->cq_ring_size);
  if (u->sq_ring) munmap(u->sq_ring, u->sq_ring_size);
  u->sqes = NULL;
  u->sq_ring = u->cq_ring = NULL;
}

// Everything uring_init set up, given back (also after a failure part way through it).
static void release_ring(uring_t *u) {
  if (u->enter_flags & IORING_ENTER_REGISTERED_RING) {
    // The registration holds the ring open: drop it, or closing the fd would not free the ring.
    struct io_uring_rsrc_update reg = {.offset = (unsigned)u->enter_fd};
    sys_register(u->ring_fd, IORING_UNREGISTER_RING_FDS, &reg, 1);
  }
  unmap(u);
  if (u->event_fd >= 0) close(u->event_fd);
  close(u->ring_fd);  // unregisters files and buffers with the ring
  free(u->slot_used);
  free(u->slot_of_fd);
  if (u->region) region_release(u->region);
  u->region = NULL;
}

// Set flags the kernel does not know are refused with EINVAL: try the best set first, then less.
static int setup_ring(unsigned entries, struct io_uring_params *p, unsigned sqpoll_idle_ms, int sqpoll) {
  static const unsigned tries[] = {
      IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER,
      IORING_SETUP_SUBMIT_ALL,
      0,
  };
  int fd = -EINVAL;
  for (size_t i = 0; i < sizeof tries / sizeof *tries; i++) {
    memset(p, 0, sizeof *p);
    p->flags = tries[i] | IORING_SETUP_CQSIZE;
    p->cq_entries = entries * 2;
    if (sqpoll) {
      p->flags |= IORING_SETUP_SQPOLL;
      p->flags &= ~IORING_SETUP_SINGLE_ISSUER;
      p->sq_thread_idle = sqpoll_idle_ms;
    }
    fd = sys_setup(entries, p);
    if (fd != -EINVAL) break;
  }
  return fd;
}

static void on_poll(uv_poll_t *h, int status, int events);

// A sparse table: every slot -1 until open() fills one.
static int register_files(uring_t *u) {
  int *fds = malloc(u->file_slots * sizeof *fds);
  u->slot_used = calloc(u->file_slots, 1);
  if (!fds || !u->slot_used) { free(fds); return -ENOMEM; }
  for (unsigned i = 0; i < u->file_slots; i++) fds[i] = -1;
  int err = sys_register(u->ring_fd, IORING_REGISTER_FILES, fds, u->file_slots);
  free(fds);
  return err < 0 ? err : 0;
}

static int register_buffers(uring_t *u) {
  size_t size = (u->buffer_size + 4095) & ~(size_t)4095;  // page-aligned slots suit O_DIRECT too
  u->buffer_size = size;
  region_t *r = calloc(1, sizeof *r);
  struct iovec *iov = calloc(u->buffer_count, sizeof *iov);
  if (!r || !iov || posix_memalign((void **)&r->base, 4096, size * u->buffer_count)) {
    free(r); free(iov);
    return -ENOMEM;
  }
  memset(r->base, 0, size * u->buffer_count);
  r->size = size * u->buffer_count;
  r->refs = 1;
  for (unsigned i = 0; i < u->buffer_count; i++) {
    iov[i].iov_base = r->base + i * size;
    iov[i].iov_len = size;
  }
  int err = sys_register(u->ring_fd, IORING_REGISTER_BUFFERS, iov, u->buffer_count);
  free(iov);
  if (err < 0) { free(r->base); free(r); return err; }
  u->region = r;
  return 0;
}

// After a successful open: put the new fd in a free slot (if any) so that reads and writes on it
// skip the kernel's per-operation file lookup.
static void file_opened(uring_t *u, int fd) {
  if (!u->file_slots || fd < 0) return;
  unsigned slot = 0;
  while (slot < u->file_slots && u->slot_used[slot]) slot++;
  if (slot == u->file_slots) return;  // table full: this file works unregistered
  if ((unsigned)fd >= u->fd_cap) {
    unsigned cap = u->fd_cap ? u->fd_cap : 64;
    while (cap <= (unsigned)fd) cap *= 2;
    uint32_t *grown = realloc(u->slot_of_fd, cap * sizeof *grown);
    if (!grown) return;
    memset(grown + u->fd_cap, 0, (cap - u->fd_cap) * sizeof *grown);
    u->slot_of_fd = grown;
    u->fd_cap = cap;
  }
  struct io_uring_files_update up = {.offset = slot, .fds = (uint64_t)(uintptr_t)&fd};
  if (sys_register(u->ring_fd, IORING_REGISTER_FILES_UPDATE, &up, 1) < 1) return;
  u->slot_used[slot] = 1;
  u->slot_of_fd[fd] = slot + 1;
}

// Before close: the slot goes back (no operation on the file is in flight: FileHandle waits).
static void file_closing(uring_t *u, int fd) {
  if (fd < 0 || (unsigned)fd >= u->fd_cap || !u->slot_of_fd[fd]) return;
  unsigned slot = u->slot_of_fd[fd] - 1;
  int none = -1;
  struct io_uring_files_update up = {.offset = slot, .fds = (uint64_t)(uintptr_t)&none};
  sys_register(u->ring_fd, IORING_REGISTER_FILES_UPDATE, &up, 1);
  u->slot_used[slot] = 0;
  u->slot_of_fd[fd] = 0;
}

static void use_fixed_file(uring_t *u, struct io_uring_sqe *sqe, int fd) {
  if (fd >= 0 && (unsigned)fd < u->fd_cap && u->slot_of_fd[fd]) {
    sqe->fd = (int)u->slot_of_fd[fd] - 1;
    sqe->flags |= IOSQE_FIXED_FILE;
  }
}

// A read/write whose bytes lie inside one registered buffer uses READ_FIXED/WRITE_FIXED: no
// per-operation page pinning.
static int fixed_buffer(uring_t *u, const struct iovec *iov) {
  if (!u->region) return -1;
  uint8_t *p = iov->iov_base;
  if (p < u->region->base || p >= u->region->base + u->region->size) return -1;
  size_t index = (size_t)(p - u->region->base) / u->buffer_size;
  if (p + iov->iov_len > u->region->base + (index + 1) * u->buffer_size) return -1;
  return (int)index;
}

static int uring_init(engine_t *e, napi_env env, napi_value options) {
  uring_t *u = (uring_t *)e;
  u->ring_fd = u->event_fd = -1;
  unsigned entries = option_u32(env, options, "entries", 256);
  unsigned sqpoll_idle = option_u32(env, options, "sqpollIdle", 0);
  int sqpoll = sqpoll_idle > 0;
  u->sqpoll = sqpoll;
  u->file_slots = option_u32(env, options, "fileSlots", 0);
  u->buffer_count = option_u32(env, options, "bufferCount", 0);
  u->buffer_size = option_u32(env, options, "bufferSize", 0);
  struct io_uring_params p;
  int fd = setup_ring(entries, &p, sqpoll_idle, sqpoll);
  if (fd < 0) return fd;
  u->ring_fd = fd;
  u->features = p.features;
  int err = 0;

  u->sq_ring_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  u->cq_ring_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  if (p.features & IORING_FEAT_SINGLE_MMAP) {
    if (u->cq_ring_size > u->sq_ring_size) u->sq_ring_size = u->cq_ring_size;
    u->cq_ring_size = u->sq_ring_size;
  }
  u->sq_ring = mmap(NULL, u->sq_ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
  if (u->sq_ring == MAP_FAILED) { u->sq_ring = NULL; err = -errno; goto fail; }
  if (p.features & IORING_FEAT_SINGLE_MMAP) {
    u->cq_ring = u->sq_ring;
  } else {
    u->cq_ring = mmap(NULL, u->cq_ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
    if (u->cq_ring == MAP_FAILED) { u->cq_ring = NULL; err = -errno; goto fail; }
  }
  u->sqes_size = p.sq_entries * sizeof(struct io_uring_sqe);
  u->sqes = mmap(NULL, u->sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  if (u->sqes == MAP_FAILED) { u->sqes = NULL; err = -errno; goto fail; }

  char *sq = u->sq_ring, *cq = u->cq_ring;
  u->sq_head = (unsigned *)(sq + p.sq_off.head);
  u->sq_tail = (unsigned *)(sq + p.sq_off.tail);
  u->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
  u->sq_flags = (unsigned *)(sq + p.sq_off.flags);
  u->sq_array = (unsigned *)(sq + p.sq_off.array);
  u->sq_entries = p.sq_entries;
  u->cq_head = (unsigned *)(cq + p.cq_off.head);
  u->cq_tail = (unsigned *)(cq + p.cq_off.tail);
  u->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
  u->cq_flags = p.cq_off.flags ? (unsigned *)(cq + p.cq_off.flags) : NULL;
  u->cq_entries = p.cq_entries;
  u->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
  // SQE i always sits at array slot i: the indirection is not needed.
  for (unsigned i = 0; i < p.sq_entries; i++) u->sq_array[i] = i;
  u->sq_local_tail = *u->sq_tail;

  // Which operations this kernel has: asked once, not guessed from its version.
  size_t probe_size = sizeof(struct io_uring_probe) + 256 * sizeof(struct io_uring_probe_op);
  struct io_uring_probe *probe = calloc(1, probe_size);
  if (probe && sys_register(fd, IORING_REGISTER_PROBE, probe, 256) >= 0) {
    for (unsigned i = 0; i < probe->ops_len && i < 256; i++)
      u->supported[probe->ops[i].op] = (probe->ops[i].flags & IO_URING_OP_SUPPORTED) != 0;
  }
  free(probe);

  // Registered files only spare a lookup: never a reason to fail. The kernel refuses a table
  // larger than the open-file limit (EMFILE under `ulimit -n 1023`), so it is clamped to it,
  // and without one every file works unregistered.
  struct rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < u->file_slots) u->file_slots = (unsigned)nofile.rlim_cur;
  if (u->file_slots && register_files(u) < 0) {
    free(u->slot_used);
    u->slot_used = NULL;
    u->file_slots = 0;
  }
  if (u->buffer_count && u->buffer_size && (err = register_buffers(u)) < 0) goto fail;

  // A registered ring fd spares io_uring_enter its file lookup (one per batch; at depth 1, one
  // per operation). Kernels before 5.18 refuse it: then the plain fd is used.
  u->enter_fd = fd;
  struct io_uring_rsrc_update reg = {.offset = -1U, .data = (uint64_t)fd};
  if (sys_register(fd, IORING_REGISTER_RING_FDS, &reg, 1) == 1) {
    u->enter_fd = (int)reg.offset;
    u->enter_flags = IORING_ENTER_REGISTERED_RING;
  }

  u->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (u->event_fd < 0) { err = -errno; goto fail; }
  err = sys_register(fd, IORING_REGISTER_EVENTFD, &u->event_fd, 1);
  if (err < 0) goto fail;
  uv_poll_init(e->loop, &u->poll, u->event_fd);
  u->poll.data = u;
  uv_poll_start(&u->poll, UV_READABLE, on_poll);
  uv_unref((uv_handle_t *)&u->poll);  // ref'ed only while operations are in flight
  return 0;

fail:
  release_ring(u);
  return err;
}

// Which of the engine's operations this kernel's ring can do (the rest go to the pool engine).
static const int OP_NEEDS[OP_COUNT] = {
    [OP_NOP] = IORING_OP_NOP,         [OP_READ] = IORING_OP_READ,     [OP_WRITE] = IORING_OP_WRITE,
    [OP_READV] = IORING_OP_READV,     [OP_WRITEV] = IORING_OP_WRITEV, [OP_FSYNC] = IORING_OP_FSYNC,
    [OP_FDATASYNC] = IORING_OP_FSYNC, [OP_FSTAT] = IORING_OP_STATX,   [OP_FTRUNCATE] = IORING_OP_FTRUNCATE_NUM,
    [OP_OPEN] = IORING_OP_OPENAT,     [OP_CLOSE] = IORING_OP_CLOSE,
};

static int uring_supports(engine_t *e, int op) {
  uring_t *u = (uring_t *)e;
  if (op & AT_CURRENT_POSITION) {
    op &= ~AT_CURRENT_POSITION;
    if (!(u->features & IORING_FEAT_RW_CUR_POS)) return 0;
    // Reads only. After a short write (ENOSPC, EFBIG) the ring leaves the file position where the
    // write began, so the next write at the current position overwrites bytes already
    // acknowledged; write(2) in the pool moves it past what was written.
    if (op != OP_READ && op != OP_READV) return 0;
  }
  if (op < 0 || op >= OP_COUNT) return 0;
  return u->supported[OP_NEEDS[op]];
}

static int uring_submit_pending(uring_t *u, unsigned min_complete, unsigned flags) {
  if (u->sqpoll) {
    // The kernel's SQ thread takes published SQEs by itself; it only needs a wake-up when it
    // went idle. Full barrier: the tail store must be visible before we read its flags.
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (load_acquire(u->sq_flags) & IORING_SQ_NEED_WAKEUP) flags |= IORING_ENTER_SQ_WAKEUP;
    u->to_submit = 0;
    if (!(flags & (IORING_ENTER_SQ_WAKEUP | IORING_ENTER_GETEVENTS | IORING_ENTER_SQ_WAIT))) return 0;
  }
  for (;;) {
    int r = sys_enter(u->enter_fd, u->to_submit, min_complete, flags | u->enter_flags);
    if (r >= 0) {
      u->to_submit -= (unsigned)r < u->to_submit ? (unsigned)r : u->to_submit;
      return r;
    }
    if (r != -EINTR) return r;
  }
}

// Reap up to max ready CQEs into the completion array (delivering to JS when it fills, if
// deliver); returns how many were reaped. Re-entrant: delivering runs JS, which may submit and
// reap again, so the head is published before every delivery and read again after it.
static unsigned reap(uring_t *u, int deliver, unsigned max) {
  engine_t *e = &u->base;
  unsigned n = 0;
  for (;;) {
    unsigned head = *u->cq_head;
    unsigned tail = load_acquire(u->cq_tail);  // CQEs before tail are fully written
    while (head != tail && !completion_full(e) && n < max) {
      struct io_uring_cqe *cqe = &u->cqes[head & *u->cq_mask];
      req_t *r = (req_t *)(uintptr_t)cqe->user_data;
      head++;
      if (!r) continue;  // a cancel request's own completion
      r->result = cqe->res;
      if (r->op == OP_OPEN) file_opened(u, (int)r->result);
      if (r->op == OP_FSTAT && r->result >= 0) stat_fill(r->stat, (const struct statx *)r->engine_data);
      completion_record(e, r);
      n++;
    }
    store_release(u->cq_head, head);  // done reading these CQEs: the kernel may overwrite them
    if (completion_full(e)) {
      if (!deliver) e->ncomp = 0;         // stopping: nobody to tell
      else if (e->in_js_call) return n;   // submit() returns what fits; the eventfd brings the rest
      else {
        completion_deliver(e);
        if (e->destroy_requested) return n;  // JS closed the engine: touch the ring no more
      }
      continue;
    }
    // Enough for now: the rest (parked overflow included) waits its turn, see ramp_budget. Before
    // the overflow check: with the ring still full, flushing the overflow moves nothing and the
    // flag stays set.
    if (n >= max) break;
    // With IORING_FEAT_NODROP a full CQ parks completions in the kernel; entering flushes them.
    if (load_acquire(u->sq_flags) & IORING_SQ_CQ_OVERFLOW) {
      uring_submit_pending(u, 0, IORING_ENTER_GETEVENTS);
      continue;
    }
    if (head == tail) break;
  }
  return n;
}

static struct io_uring_sqe *get_sqe(uring_t *u) {
  unsigned head = load_acquire(u->sq_head);  // the kernel has consumed SQEs before head
  if (u->sq_local_tail - head >= u->sq_entries) {
    // Full: hand what we have to the kernel first.
    store_release(u->sq_tail, u->sq_local_tail);
    uring_submit_pending(u, 0, u->sqpoll ? IORING_ENTER_SQ_WAIT : 0);
    head = load_acquire(u->sq_head);
    if (u->sq_local_tail - head >= u->sq_entries) return NULL;
  }
  struct io_uring_sqe *sqe = &u->sqes[u->sq_local_tail & *u->sq_mask];
  memset(sqe, 0, sizeof *sqe);
  u->sq_local_tail++;
  u->to_submit++;
  return sqe;
}

static void uring_start(engine_t *e, req_t *r) {
  uring_t *u = (uring_t *)e;
  struct io_uring_sqe *sqe = get_sqe(u);
  if (!sqe) {
    r->result = -EBUSY;
    completion_record(e, r);
    return;
  }
  sqe->user_data = (uint64_t)(uintptr_t)r;
  sqe->fd = r->fd;
  switch (r->op) {
    case OP_READ:
    case OP_WRITE: {
      int index = fixed_buffer(u, &r->iov[0]);
      if (index >= 0) {
        sqe->opcode = r->op == OP_READ ? IORING_OP_READ_FIXED : IORING_OP_WRITE_FIXED;
        sqe->buf_index = (uint16_t)index;
      } else {
        sqe->opcode = r->op == OP_READ ? IORING_OP_READ : IORING_OP_WRITE;
      }
      sqe->addr = (uint64_t)(uintptr_t)r->iov[0].iov_base;
      sqe->len = (unsigned)r->iov[0].iov_len;
      sqe->off = r->pos < 0 ? (uint64_t)-1 : (uint64_t)r->pos;  // -1: the file position
      use_fixed_file(u, sqe, r->fd);
      break;
    }
    case OP_READV:
    case OP_WRITEV:
      sqe->opcode = r->op == OP_READV ? IORING_OP_READV : IORING_OP_WRITEV;
      sqe->addr = (uint64_t)(uintptr_t)r->iov;
      sqe->len = (unsigned)r->iovcnt;
      sqe->off = r->pos < 0 ? (uint64_t)-1 : (uint64_t)r->pos;
      use_fixed_file(u, sqe, r->fd);
      break;
    case OP_FSYNC:
    case OP_FDATASYNC:
      sqe->opcode = IORING_OP_FSYNC;
      sqe->fsync_flags = r->op == OP_FDATASYNC ? IORING_FSYNC_DATASYNC : 0;
      use_fixed_file(u, sqe, r->fd);
      break;
    case OP_FSTAT:
      sqe->opcode = IORING_OP_STATX;
      sqe->addr = (uint64_t)(uintptr_t)"";
      sqe->statx_flags = AT_EMPTY_PATH;
      sqe->len = STAT_MASK;
      sqe->off = (uint64_t)(uintptr_t)r->engine_data;  // the kernel writes the statx there
      break;
    case OP_FTRUNCATE:
      sqe->opcode = IORING_OP_FTRUNCATE_NUM;
      sqe->off = (uint64_t)r->pos;
      break;
    case OP_OPEN:
      sqe->opcode = IORING_OP_OPENAT;
      sqe->fd = AT_FDCWD;
      sqe->addr = (uint64_t)(uintptr_t)r->path;
      sqe->open_flags = (unsigned)r->flags | O_CLOEXEC;
      sqe->len = (unsigned)r->mode;
      break;
    case OP_CLOSE:
      file_closing(u, r->fd);
      sqe->opcode = IORING_OP_CLOSE;
      break;
    default:
      sqe->opcode = IORING_OP_NOP;
  }
}

// Completions reaped inline need no wake-up: the eventfd is muted (IORING_CQ_EVENTFD_DISABLED)
// around io_uring_enter and the reap that follows, which saves the kernel's eventfd signal and
// the loop's extra epoll round per batch. A CQE posted meanwhile from another CPU may go unseen by
// the last reap (the kernel publishes the tail, then reads the flag, with no full barrier between),
// so whenever operations are still in flight afterwards, we signal the eventfd ourselves.
static void mute_eventfd(uring_t *u, int mute) {
  if (!u->cq_flags || u->sqpoll) return;  // SQPOLL completes nothing inline
  unsigned flags = *u->cq_flags;
  flags = mute ? flags | IORING_CQ_EVENTFD_DISABLED : flags & ~IORING_CQ_EVENTFD_DISABLED;
  __atomic_store_n(u->cq_flags, flags, __ATOMIC_SEQ_CST);
}

// io_uring_enter refused the SQEs for good: take them back (without SQPOLL the kernel reads the
// tail only inside io_uring_enter) and fail their operations with its error, rather than leave
// them waiting for a submit that will not come.
static void fail_unsubmitted(uring_t *u, int err) {
  if (u->sqpoll) return;  // the SQ thread may take them at any moment: they stay
  for (; u->to_submit > 0; u->to_submit--) {
    struct io_uring_sqe *sqe = &u->sqes[--u->sq_local_tail & *u->sq_mask];
    req_t *r = (req_t *)(uintptr_t)sqe->user_data;
    if (!r) continue;  // a cancel request
    r->result = err;
    completion_push(&u->base, r);
  }
  store_release(u->sq_tail, u->sq_local_tail);
}

static void uring_flush(engine_t *e) {
  uring_t *u = (uring_t *)e;
  mute_eventfd(u, 1);
  unsigned submitted = u->to_submit;
  // The SQEs are written; a release store of the tail makes them visible to the kernel.
  store_release(u->sq_tail, u->sq_local_tail);
  // EAGAIN/EBUSY: the kernel is short of room for completions; reaping makes room. They get
  // one more try from the next wake-up (the eventfd below); any other refusal is final.
  for (int tries = 0; u->to_submit && tries < 3; tries++) {
    int r = uring_submit_pending(u, 0, 0);
    if (r >= 0) continue;
    if (r != -EAGAIN && r != -EBUSY) fail_unsubmitted(u, r);
    else reap(u, 1, UINT_MAX);
  }
  // Page-cache reads are usually complete by now: deliver them with this call. Device I/O
  // completed earlier waits its turn (see ramp_budget); the eventfd below brings what is left.
  unsigned budget = ramp_budget(submitted);
  budget -= reap(u, 1, budget);
  mute_eventfd(u, 0);
  reap(u, 1, budget);
  if (u->cq_flags && !u->sqpoll && (e->inflight > 0 || load_acquire(u->cq_tail) != *u->cq_head))
    signal_eventfd(u->event_fd);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  uring_t *u = h->data;
  uint64_t count;
  // Clear the eventfd before reaping: a CQE posted after this read signals it again.
  while (read(u->event_fd, &count, sizeof count) < 0 && errno == EINTR) {}
  if (u->base.stopping) return;
  if (u->to_submit) {  // left over from a refused io_uring_enter: its last chance
    int r = uring_submit_pending(u, 0, 0);
    if (r < 0) fail_unsubmitted(u, r);
  }
  for (unsigned max = RAMP_FIRST; reap(u, 1, max) > 0; max = ramp_budget(max))
    if (completion_deliver_unless_destroyed(&u->base)) return;
  if (completion_destroyed(&u->base)) return;
  completion_update_ref(&u->base);
}

// One ASYNC_CANCEL SQE, submitted now: addr matches an operation's user_data, or with
// IORING_ASYNC_CANCEL_ANY every operation in flight.
static void submit_cancel(uring_t *u, uint64_t addr, unsigned flags) {
  struct io_uring_sqe *sqe = get_sqe(u);
  if (!sqe) return;
  sqe->opcode = IORING_OP_ASYNC_CANCEL;
  sqe->fd = -1;
  sqe->addr = addr;
  sqe->cancel_flags = flags;
  sqe->user_data = CANCEL_TAG;
  store_release(u->sq_tail, u->sq_local_tail);
  uring_submit_pending(u, 0, 0);
}

static void uring_cancel(engine_t *e) {
  if (e->inflight > 0) submit_cancel((uring_t *)e, 0, IORING_ASYNC_CANCEL_ANY);
}

static void uring_cancel_one(engine_t *e, req_t *r) { submit_cancel((uring_t *)e, (uint64_t)(uintptr_t)r, 0); }

static void uring_stop(engine_t *e) {
  uring_t *u = (uring_t *)e;
  uv_poll_stop(&u->poll);
  // Wait for every operation the kernel holds: only then may the buffers and ring go away.
  while (e->inflight > 0) {
    unsigned before = e->inflight;
    reap(u, 0, UINT_MAX);
    completion_drain_pushed(e, 0);  // requests that failed before reaching the ring
    if (e->inflight == before) {
      int r = uring_submit_pending(u, 1, IORING_ENTER_GETEVENTS);
      if (r < 0 && u->to_submit) fail_unsubmitted(u, r);
    }
  }
  e->ncomp = 0;
  release_ring(u);
}

static uv_handle_t *uring_handle(engine_t *e) { return (uv_handle_t *)&((uring_t *)e)->poll; }

static void on_region_finalize(napi_env env, void *data, void *hint) { region_release(hint); }

static napi_value uring_buffers(engine_t *e, napi_env env) {
  uring_t *u = (uring_t *)e;
  napi_value ab;
  if (!u->region) return NULL;
  if (napi_create_external_arraybuffer(env, u->region->base, u->region->size, on_region_finalize, u->region, &ab) != napi_ok)
    return NULL;
  u->region->refs++;
  return ab;
}

const engine_kind_t uring_kind = {
    .buffers = uring_buffers,
    .name = "io_uring",
    .size = sizeof(uring_t),
    .init = uring_init,
    .start = uring_start,
    .flush = uring_flush,
    .cancel = uring_cancel,
    .cancel_one = uring_cancel_one,
    .stop = uring_stop,
    .handle = uring_handle,
    .supports = uring_supports,
};
