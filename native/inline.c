// Page-cache work on the loop thread: auto's choice for what takes microseconds there.
//
// A read alone (inline_read, called by JS when no other read is starting): pread with
// RWF_NOWAIT copies what the page cache holds and answers EAGAIN instead of waiting for the
// device, so a cached read costs one syscall and no ring, no record, no second crossing.
//
// Buffered writes at a position run inside the submit call, or, alone (no other starting), at
// once in the call that asks for them (inline_write_now; also at the file position, with
// write(2)). The page cache takes a 4 KiB write in a few microseconds, less than handing it to a
// thread costs, and ext4 has no non-blocking buffered write (pwritev2(RWF_NOWAIT) says
// EOPNOTSUPP), so io_uring punts each one to an io-wq worker. A batch's writes are taken, then go
// several to one io_submit, which runs buffered writes itself before it returns: one syscall
// for many (where a syscall costs a microsecond, 4 KiB writes 32 deep ran at half of linux-aio's
// rate one pwrite each). Bounded so that the loop never waits long:
// - only on regular files this engine opened, on a local filesystem that is not mounted sync,
//   without O_DIRECT, O_SYNC, O_DSYNC or the sync attribute (chattr +S): elsewhere a write waits
//   for a device or a server by design;
// - at most INLINE_MAX_BYTES per operation and per io_submit, and TURN_BUDGET_NS of them per
//   submit call (JS bounds the turn: src/engines/native.ts); the rest goes the engine's way;
// - in the batch's order with what goes the engine's way: never ahead of an operation on the same
//   file earlier in the batch (a larger write, a truncate, an fsync), and the writes taken are
//   written before any later operation of the batch starts. Operations in flight from earlier
//   batches are not waited for: as with node:fs, concurrent operations on one file have no order
//   (and waiting for them would keep a busy file off the inline path for as long as it stays busy);
// - writes that took longer than INLINE_SLOW_NS waited for something (dirty-page throttling, a
//   page read in for a partial write, the journal): then none for a while, INLINE_PAUSE_FIRST_NS
//   doubling up to INLINE_PAUSE_MAX_NS while it keeps happening (a device slower than the
//   writes). One io_submit may hold several such waits: its group of writes starts at one after
//   a slow one, and doubles (up to INLINE_WRITES) only while groups stay fast.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include "addon.h"
#include "aio_syscalls.h"

#define INLINE_MAX_BYTES (256u * 1024)
#define INLINE_SLOW_NS 500000u
#define INLINE_PAUSE_FIRST_NS 10000000u
#define INLINE_PAUSE_MAX_NS 1000000000u
#define INLINE_CALM_NS 10000000000u  // this long without a slow write: back to the first pause

// What an fd is to the inline work: not opened by this engine, opened and not yet looked at, or
// looked at.
enum { FD_NOT_OURS = 0, FD_UNKNOWN, FD_INLINE, FD_NOT_INLINE };
enum { FD_MAX = 1 << 20 };

void inline_fd_changed(engine_t *e, int fd, int opened) {
  if (fd < 0 || fd >= FD_MAX) return;
  if ((size_t)fd >= e->fd_cap) {
    if (!opened) return;
    size_t cap = e->fd_cap ? e->fd_cap : 256;
    while (cap <= (size_t)fd) cap *= 2;
    uint8_t *grown = realloc(e->fd_kind, cap);
    if (!grown) return;  // this file's work goes the engine's way
    memset(grown + e->fd_cap, FD_NOT_OURS, cap - e->fd_cap);
    e->fd_kind = grown;
    e->fd_cap = cap;
  }
  e->fd_kind[fd] = opened ? FD_UNKNOWN : FD_NOT_OURS;
}

static void write_taken(engine_t *e, inline_turn_t *t);

void inline_went_elsewhere(engine_t *e, inline_turn_t *t, const req_t *r) {
  // The writes taken go first: the engine may start r at once (a thread engine does), and r may
  // be on their file by another fd or by path.
  write_taken(e, t);
  if (r->fd < 0) return;
  for (int i = 0; i < t->nfds; i++)
    if (t->fds[i] == r->fd) return;
  if (t->nfds < INLINE_TURN_FDS) t->fds[t->nfds++] = r->fd;
  else t->full = 1;  // too many to remember: nothing more inline in this batch
}

static int went_elsewhere(const inline_turn_t *t, int fd) {
  if (t->full) return 1;
  for (int i = 0; i < t->nfds; i++)
    if (t->fds[i] == fd) return 1;
  return 0;
}

// Filesystems whose page cache takes a write without a round trip to a server or a daemon.
static int local_fs(long type) {
  switch (type) {
    case EXT4_SUPER_MAGIC: case XFS_SUPER_MAGIC: case BTRFS_SUPER_MAGIC: case TMPFS_MAGIC: case F2FS_SUPER_MAGIC:
      return 1;
    default:
      return 0;
  }
}

static int looks_inline(int fd) {
  struct stat st;
  struct statfs fs;
  int flags = fcntl(fd, F_GETFL), attr = 0;
  if (flags < 0 || (flags & (O_DIRECT | O_DSYNC))) return 0;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) return 0;
  if (fstatfs(fd, &fs) < 0 || !local_fs((long)fs.f_type) || (fs.f_flags & ST_SYNCHRONOUS)) return 0;
  if (ioctl(fd, FS_IOC_GETFLAGS, &attr) == 0 && (attr & FS_SYNC_FL)) return 0;
  return 1;
}

static int can_inline(engine_t *e, int fd) {
  if (!e->inline_io || fd < 0 || (size_t)fd >= e->fd_cap) return 0;
  uint8_t *kind = &e->fd_kind[fd];
  if (*kind == FD_UNKNOWN) *kind = looks_inline(fd) ? FD_INLINE : FD_NOT_INLINE;
  return *kind == FD_INLINE;
}

static void pause_inline(engine_t *e, uint64_t now) {
  if (e->inline_pause_ns == 0 || now - e->inline_paused_until >= INLINE_CALM_NS) e->inline_pause_ns = INLINE_PAUSE_FIRST_NS;
  else e->inline_pause_ns = e->inline_pause_ns * 2 < INLINE_PAUSE_MAX_NS ? e->inline_pause_ns * 2 : INLINE_PAUSE_MAX_NS;
  e->inline_paused_until = now + e->inline_pause_ns;
}

int64_t inline_read(engine_t *e, int fd, void *buffer, size_t length, int64_t position) {
  if (position < 0 || length > INLINE_MAX_BYTES || !can_inline(e, fd)) return -EAGAIN;
  struct iovec v = {buffer, length};
  ssize_t n;
  do n = preadv2(fd, &v, 1, position, RWF_NOWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EOPNOTSUPP) e->fd_kind[fd] = FD_NOT_INLINE;  // this filesystem cannot
  if (n < 0) return -errno;
  // Short: the end of the file, or only part of the range is cached; the engine's way tells.
  if (n > 0 && (size_t)n < length) return -EAGAIN;
  return n;
}

// The AIO context for inline writes, made on first need (0: none here; each write is a pwrite).
static aio_context_t inline_aio(engine_t *e) {
  if (e->inline_aio == 0 && !e->inline_aio_failed) {
    aio_context_t ctx = 0;
    if (sys_io_setup(INLINE_WRITES, &ctx) == 0) e->inline_aio = ctx;
    else e->inline_aio_failed = 1;  // aio-max-nr reached, or no AIO in this kernel
  }
  return e->inline_aio;
}

void inline_free(engine_t *e) {
  if (e->inline_aio) sys_io_destroy(e->inline_aio);
  e->inline_aio = 0;
}

// Writes the writes taken, in one io_submit where it can (those it did not take run one by one),
// and records each. A buffered write completes inside io_submit: its event is there on return.
static void write_taken(engine_t *e, inline_turn_t *t) {
  int n = t->nwrites;
  if (n == 0) return;
  t->nwrites = 0;
  t->bytes = 0;
  uint64_t before = uv_hrtime();
  struct iocb cbs[INLINE_WRITES], *list[INLINE_WRITES];
  long submitted = 0, reaped = 0;
  // One write alone is one pwrite: io_submit and io_getevents would be two syscalls.
  aio_context_t ctx = n > 1 ? inline_aio(e) : 0;
  if (ctx) {
    for (int i = 0; i < n; i++) {
      req_t *r = t->writes[i];
      memset(&cbs[i], 0, sizeof cbs[i]);
      cbs[i].aio_lio_opcode = IOCB_CMD_PWRITEV;
      cbs[i].aio_fildes = (uint32_t)r->fd;
      cbs[i].aio_buf = (uint64_t)(uintptr_t)r->iov;
      cbs[i].aio_nbytes = (uint64_t)r->iovcnt;
      cbs[i].aio_offset = r->pos;
      cbs[i].aio_data = (uint64_t)(uintptr_t)r;
      list[i] = &cbs[i];
      r->result = -EIO;  // until its event says otherwise
    }
    submitted = sys_io_submit(ctx, n, list);
    if (submitted < 0) submitted = 0;  // none taken (EAGAIN, EINVAL...): each its own pwrite below
    struct io_event events[INLINE_WRITES];
    while (reaped < submitted) {
      long got = sys_io_getevents(ctx, submitted - reaped, submitted - reaped, events, NULL);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      for (long i = 0; i < got; i++) ((req_t *)(uintptr_t)events[i].data)->result = events[i].res;
      reaped += got;
    }
    if (reaped < submitted) {
      // Cannot happen for writes done inside io_submit. Were it to, no event may outlive its
      // request: io_destroy waits for them, and inline writes go one by one from then on.
      sys_io_destroy(ctx);
      e->inline_aio = 0;
      e->inline_aio_failed = 1;
    }
  }
  for (long i = 0; i < n; i++) {
    req_t *r = t->writes[i];
    // Not submitted, or interrupted (a signal during the write): a pwrite of its own.
    if (i >= submitted || r->result == -EINTR) blocking_run(r);
    completion_record(e, r);
  }
  uint64_t after = uv_hrtime();
  // Slow: a write waited (every write of the group may have): a pause, and groups of one again.
  // Fast: the next group may be twice as large. So one slow spell after a calm one holds the loop
  // for at most INLINE_WRITES waits, and a second soon after for one.
  if (after - before >= INLINE_SLOW_NS) {
    pause_inline(e, after);
    e->inline_group = 1;
  } else if (after - before < INLINE_SLOW_NS / 2 && n >= e->inline_group && e->inline_group < INLINE_WRITES) {
    e->inline_group *= 2;
  }
  t->now = after;
}

int64_t inline_write_now(engine_t *e, int fd, const void *buffer, size_t length, int64_t position) {
  if (e->cancelled || length > INLINE_MAX_BYTES || !can_inline(e, fd)) return -EAGAIN;
  uint64_t before = uv_hrtime();
  if (before < e->inline_paused_until) return -EAGAIN;
  ssize_t n;
  // At the file position (-1): write(2), which moves it as node:fs does.
  do n = position < 0 ? write(fd, buffer, length) : pwrite(fd, buffer, length, position);
  while (n < 0 && errno == EINTR);
  uint64_t after = uv_hrtime();
  if (after - before >= INLINE_SLOW_NS) pause_inline(e, after);
  return n < 0 ? -errno : n;
}

int inline_write(engine_t *e, req_t *r, inline_turn_t *t) {
  if (r->op != OP_WRITE && r->op != OP_WRITEV) return 0;
  if (e->cancelled || r->pos < 0 || went_elsewhere(t, r->fd) || !can_inline(e, r->fd)) return 0;
  size_t bytes = 0;
  for (int i = 0; i < r->iovcnt; i++) bytes += r->iov[i].iov_len;
  if (bytes > INLINE_MAX_BYTES) return 0;
  if (t->nwrites >= e->inline_group || t->bytes + bytes > INLINE_MAX_BYTES) write_taken(e, t);
  if (t->now == 0) t->started = t->now = uv_hrtime();
  if (t->now < e->inline_paused_until || t->now - t->started >= TURN_BUDGET_NS) return 0;
  t->writes[t->nwrites++] = r;
  t->bytes += bytes;
  return 1;
}

void inline_turn_end(engine_t *e, inline_turn_t *t) { write_taken(e, t); }
