// The io_uring engine over the raw syscalls and <linux/io_uring.h> (no liburing): setting the
// ring up (map, probe, register what was asked for), and tearing it down.
//
// A batch of operations becomes SQEs and one io_uring_enter (io_uring_queue.c); completions that
// are already there when it returns (page-cache reads usually are) are reaped at once and go back
// to JS with the submit call. The rest wake the loop through an eventfd registered with the ring,
// watched by a uv_poll_t: one wake-up drains every ready CQE (io_uring_reap.c).
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "io_uring.h"

_Static_assert(sizeof(struct statx) <= sizeof(((req_t *)0)->engine_data), "statx fits in req_t");

static void uring_unmap(uring_t *u) {
  if (u->sqes) munmap(u->sqes, u->sqes_size);
  if (u->cq_ring && u->cq_ring != u->sq_ring) munmap(u->cq_ring, u->cq_ring_size);
  if (u->sq_ring) munmap(u->sq_ring, u->sq_ring_size);
  u->sqes = NULL;
  u->sq_ring = u->cq_ring = NULL;
}

// Everything uring_init set up, given back (also after a failure part way through it).
void uring_release_ring(uring_t *u) {
  if (u->enter_flags & IORING_ENTER_REGISTERED_RING) {
    // The registration holds the ring open: drop it, or closing the fd would not free the ring.
    struct io_uring_rsrc_update reg = {.offset = (unsigned)u->enter_fd};
    sys_register(u->ring_fd, IORING_UNREGISTER_RING_FDS, &reg, 1);
  }
  uring_unmap(u);
  if (u->event_fd >= 0) close(u->event_fd);
  close(u->ring_fd);  // unregisters files and buffers with the ring
  free(u->slot_used);
  free(u->slot_of_fd);
  if (u->region) uring_region_release(u->region);
  u->region = NULL;
}

// Set flags the kernel does not know are refused with EINVAL: try the best set first, then less.
static int setup_ring(unsigned entries, struct io_uring_params *p, unsigned sqpoll_idle_ms, int sqpoll, int defer_taskrun) {
  // DEFER_TASKRUN (Linux 6.1): completions' task work runs when we enter the ring for events, not
  // by interrupting the thread whenever the network stack finishes a request (the socket engine).
  // TASKRUN_FLAG: the kernel flags work it set aside, so the engine can come back for it.
  const unsigned defer = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  const unsigned tries[] = {
      defer_taskrun ? defer : IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER,
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

int uring_init(engine_t *e, napi_env env, napi_value options) {
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
  int fd = setup_ring(entries, &p, sqpoll_idle, sqpoll, option_bool(env, options, "deferTaskrun") && !sqpoll);
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
  if (u->file_slots && uring_register_files(u) < 0) {
    free(u->slot_used);
    u->slot_used = NULL;
    u->file_slots = 0;
  }
  if (u->buffer_count && u->buffer_size && (err = uring_register_buffers(u)) < 0) goto fail;

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
  uv_poll_start(&u->poll, UV_READABLE, uring_on_poll);
  uv_unref((uv_handle_t *)&u->poll);  // ref'ed only while operations are in flight
  return 0;

fail:
  uring_release_ring(u);
  return err;
}

// Which of the engine's operations this kernel's ring can do (the rest go to the pool engine).
// fstat runs inline (uring_start), never on the ring: it needs only what every ring has.
static const int OP_NEEDS[OP_COUNT] = {
    [OP_NOP] = IORING_OP_NOP,         [OP_READ] = IORING_OP_READ,     [OP_WRITE] = IORING_OP_WRITE,
    [OP_READV] = IORING_OP_READV,     [OP_WRITEV] = IORING_OP_WRITEV, [OP_FSYNC] = IORING_OP_FSYNC,
    [OP_FDATASYNC] = IORING_OP_FSYNC, [OP_FSTAT] = IORING_OP_NOP,     [OP_FTRUNCATE] = IORING_OP_FTRUNCATE_NUM,
    [OP_OPEN] = IORING_OP_OPENAT,     [OP_CLOSE] = IORING_OP_CLOSE,   [OP_STAT] = IORING_OP_STATX,
    [OP_UNLINK] = IORING_OP_UNLINKAT, [OP_RENAME] = IORING_OP_RENAMEAT, [OP_MKDIR] = IORING_OP_MKDIRAT,
};

int uring_supports(engine_t *e, int op) {
  uring_t *u = (uring_t *)e;
  if (op & AT_CURRENT_POSITION) {
    op &= ~AT_CURRENT_POSITION;
    if (!(u->features & IORING_FEAT_RW_CUR_POS)) return 0;
    // Reads only (see uring_read_position). After a short write (ENOSPC, EFBIG) the ring leaves
    // the file position where the write began, so the next write at the current position would
    // overwrite bytes already acknowledged; write(2) in the pool moves it past what was written.
    if (op != OP_READ && op != OP_READV) return 0;
  }
  if (op < 0 || op >= OP_COUNT) return 0;
  if (op >= OP_READFILE) return 0;  // several calls each, or none the ring has: the pool's
  // The kernel never runs a ring's statx inline: each goes to an io-wq worker, and the pool's
  // threads do them 1.8x faster here (10,000 cached stats, 64 in flight: 339k/s against 192k).
  if (op == OP_STAT) return 0;
  return u->supported[OP_NEEDS[op]];
}

void uring_stop(engine_t *e) {
  uring_t *u = (uring_t *)e;
  uv_poll_stop(&u->poll);
  // Wait for every operation the kernel holds: only then may the buffers and ring go away.
  while (e->inflight > 0) {
    unsigned before = e->inflight;
    uring_reap(u, 0, UINT_MAX);
    completion_drain_pushed(e, 0, DRAIN_ALL);  // requests that failed before reaching the ring
    if (e->inflight == before) {
      uring_cancel(e);  // those a full ring left out before (each request is sent one cancel)
      int r = uring_submit_pending(u, 1, IORING_ENTER_GETEVENTS);
      if (r < 0 && u->to_submit) uring_fail_unsubmitted(u, r);
    }
  }
  e->ncomp = 0;
  uring_release_ring(u);
}

static uv_handle_t *uring_handle(engine_t *e) { return (uv_handle_t *)&((uring_t *)e)->poll; }

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
