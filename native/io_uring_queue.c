// The io_uring engine's submission side: SQEs written from requests, handed to the kernel once
// per batch, and cancellation.
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_uring.h"

int uring_submit_pending(uring_t *u, unsigned min_complete, unsigned flags) {
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

struct io_uring_sqe *uring_get_sqe(uring_t *u) {
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

// Where a read or write starts. Writes always have a position here (uring_supports). The ring
// moves the file position only for a read that completes while it is being issued: one that
// completes later (O_DIRECT, FUSE) would leave it where it began, and the next read would return
// the same bytes again. So a read at the current position of a file that has one reads at that
// position, and its completion moves it (uring_moved_position; the handle runs such reads one at
// a time). A pipe has none (ESPIPE): there the ring reads as read(2) does.
uint64_t uring_read_position(req_t *r) {
  int64_t *moves_from = (int64_t *)r->engine_data;
  *moves_from = -1;
  if (r->pos >= 0) return (uint64_t)r->pos;
  off_t at = lseek(r->fd, 0, SEEK_CUR);
  if (at < 0) return (uint64_t)-1;
  *moves_from = at;
  return (uint64_t)at;
}

void uring_moved_position(req_t *r) {
  int64_t from = *(int64_t *)r->engine_data;
  if (from >= 0 && r->result > 0) lseek(r->fd, from + r->result, SEEK_SET);
}

// The path operations, from the working directory (AT_FDCWD) as the blocking calls: the kernel
// copies each path while it prepares the SQE, inside io_uring_enter.
static void prep_by_path(struct io_uring_sqe *sqe, const req_t *r) {
  sqe->fd = AT_FDCWD;
  sqe->addr = (uint64_t)(uintptr_t)r->path;
  switch (r->op) {
    case OP_STAT:
      sqe->opcode = IORING_OP_STATX;
      sqe->statx_flags = (unsigned)r->flags & AT_SYMLINK_NOFOLLOW;
      sqe->len = STAT_MASK;
      sqe->off = (uint64_t)(uintptr_t)r->engine_data;  // the kernel writes the statx there
      break;
    case OP_UNLINK:
      sqe->opcode = IORING_OP_UNLINKAT;
      sqe->unlink_flags = (unsigned)r->flags & AT_REMOVEDIR;
      break;
    case OP_RENAME:
      sqe->opcode = IORING_OP_RENAMEAT;
      sqe->len = (unsigned)AT_FDCWD;  // the new path's directory
      sqe->addr2 = (uint64_t)(uintptr_t)r->path2;
      break;
    default:  // OP_MKDIR
      sqe->opcode = IORING_OP_MKDIRAT;
      sqe->len = (unsigned)r->mode;
  }
}

// A buffered read this large is copied out of the page cache for 100 µs or more (its buffer's
// pages faulted in as well, when fresh). Done inline, it runs on the loop thread inside
// io_uring_enter, which no turn budget can cut short: a read stream's four 1 MiB reads held the
// loop for 2.5 ms a submit, 10-27 ms on a slow hour. IOSQE_ASYNC hands it to an io-wq worker.
#define ASYNC_READ_BYTES (512u * 1024)

static int copies_long(const req_t *r) {
  if (r->iov[0].iov_len < ASYNC_READ_BYTES) return 0;
  int flags = fcntl(r->fd, F_GETFL);  // O_DIRECT copies nothing: the device's read is async already
  return flags >= 0 && !(flags & O_DIRECT);
}

void uring_start(engine_t *e, req_t *r) {
  // fstat of an open file answers from its inode in memory, in well under a microsecond; the ring
  // would hand it to an io-wq thread (the kernel forces STATX async): two context switches.
  if (r->op == OP_FSTAT) {
    blocking_run(r);
    completion_record(e, r);
    return;
  }
  uring_t *u = (uring_t *)e;
  struct io_uring_sqe *sqe = uring_get_sqe(u);
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
      int index = uring_fixed_buffer(u, &r->iov[0]);
      if (index >= 0) {
        sqe->opcode = r->op == OP_READ ? IORING_OP_READ_FIXED : IORING_OP_WRITE_FIXED;
        sqe->buf_index = (uint16_t)index;
      } else {
        sqe->opcode = r->op == OP_READ ? IORING_OP_READ : IORING_OP_WRITE;
      }
      sqe->addr = (uint64_t)(uintptr_t)r->iov[0].iov_base;
      sqe->len = (unsigned)r->iov[0].iov_len;
      sqe->off = uring_read_position(r);
      uring_use_fixed_file(u, sqe, r->fd);
      if (r->op == OP_READ && copies_long(r)) sqe->flags |= IOSQE_ASYNC;
      break;
    }
    case OP_READV:
    case OP_WRITEV:
      sqe->opcode = r->op == OP_READV ? IORING_OP_READV : IORING_OP_WRITEV;
      sqe->addr = (uint64_t)(uintptr_t)r->iov;
      sqe->len = (unsigned)r->iovcnt;
      sqe->off = uring_read_position(r);
      uring_use_fixed_file(u, sqe, r->fd);
      break;
    case OP_FSYNC:
    case OP_FDATASYNC:
      sqe->opcode = IORING_OP_FSYNC;
      sqe->fsync_flags = r->op == OP_FDATASYNC ? IORING_FSYNC_DATASYNC : 0;
      uring_use_fixed_file(u, sqe, r->fd);
      break;
    case OP_STAT:
    case OP_UNLINK:
    case OP_RENAME:
    case OP_MKDIR:
      prep_by_path(sqe, r);
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
      uring_file_closing(u, r->fd);
      sqe->opcode = IORING_OP_CLOSE;
      break;
    default:
      sqe->opcode = IORING_OP_NOP;
  }
}

// io_uring_enter refused the SQEs for good: take them back (without SQPOLL the kernel reads the
// tail only inside io_uring_enter) and fail their operations with its error, rather than leave
// them waiting for a submit that will not come.
void uring_fail_unsubmitted(uring_t *u, int err) {
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

void uring_flush(engine_t *e) {
  uring_t *u = (uring_t *)e;
  uring_mute_eventfd(u, 1);
  unsigned submitted = u->to_submit;
  // The SQEs are written; a release store of the tail makes them visible to the kernel.
  store_release(u->sq_tail, u->sq_local_tail);
  // EAGAIN/EBUSY: the kernel is short of room for completions; reaping makes room. They get
  // one more try from the next wake-up (the eventfd below); any other refusal is final.
  for (int tries = 0; u->to_submit && tries < 3; tries++) {
    int r = uring_submit_pending(u, 0, 0);
    if (r >= 0) continue;
    if (r != -EAGAIN && r != -EBUSY) uring_fail_unsubmitted(u, r);
    else uring_reap(u, 1, UINT_MAX);
  }
  // Page-cache reads are usually complete by now: deliver them with this call. Device I/O
  // completed earlier waits its turn (see ramp_budget); the eventfd below brings what is left.
  unsigned budget = ramp_budget(submitted);
  budget -= uring_reap(u, 1, budget);
  uring_mute_eventfd(u, 0);
  uring_reap(u, 1, budget);
  if (u->cq_flags && !u->sqpoll && (e->inflight > 0 || load_acquire(u->cq_tail) != *u->cq_head))
    signal_eventfd(u->event_fd);
}

// An ASYNC_CANCEL of the operation whose user_data is addr.
static void prep_cancel(struct io_uring_sqe *sqe, uint64_t addr) {
  sqe->opcode = IORING_OP_ASYNC_CANCEL;
  sqe->fd = -1;
  sqe->addr = addr;
  sqe->user_data = CANCEL_TAG;
}

// Queues a cancel for r, once (more would only fill the completion queue): 1 when queued, 0
// when not needed, -1 when the ring has no room now. Never for a close: one the ring handed to
// a kernel worker (files with ->flush: FUSE, NFS) and cancelled before the worker ran it would
// leave its file open for good.
static int queue_cancel(uring_t *u, req_t *r) {
  if (r->op == OP_CLOSE || r->cancel_sent) return 0;
  struct io_uring_sqe *sqe = uring_get_sqe(u);  // a full ring is submitted to make room
  if (!sqe) return -1;
  prep_cancel(sqe, (uint64_t)(uintptr_t)r);
  r->cancel_sent = 1;
  return 1;
}

static void submit_cancels(uring_t *u) {
  store_release(u->sq_tail, u->sq_local_tail);
  uring_submit_pending(u, 0, 0);
}

// Every operation in flight but closes, one cancel each (not IORING_ASYNC_CANCEL_ANY, which takes
// closes too), submitted together. What finds no room now is cancelled by the next call
// (engine.close() calls again while it waits; uring_stop too).
void uring_cancel(engine_t *e) {
  uring_t *u = (uring_t *)e;
  int queued = 0, q = 0;
  for (size_t id = 0; e->inflight > 0 && id < e->by_id_cap && q >= 0; id++)
    if (e->by_id[id] && (q = queue_cancel(u, e->by_id[id])) > 0) queued = 1;
  if (queued) submit_cancels(u);
}

void uring_cancel_one(engine_t *e, req_t *r) {
  if (queue_cancel((uring_t *)e, r) > 0) submit_cancels((uring_t *)e);
}
