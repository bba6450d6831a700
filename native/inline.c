// Page-cache work on the loop thread: auto's choice for what takes microseconds there.
//
// Reads one at a time (inline_read, called by JS when no other read is starting): pread with
// RWF_NOWAIT copies what the page cache holds and answers EAGAIN instead of waiting for the
// device, so a cached read costs one syscall and no ring, no record, no second crossing.
//
// Buffered writes run on the loop thread, inside the submit call. The page
// cache takes a 4 KiB write in a few microseconds, less than handing it to a thread costs, and
// ext4 has no non-blocking buffered write (pwritev2(RWF_NOWAIT) says EOPNOTSUPP), so io_uring
// punts each one to an io-wq worker. Bounded so that the loop never waits long:
// - only positional writes, on regular files this engine opened without O_DIRECT, O_SYNC or
//   O_DSYNC (those wait for the device by design);
// - at most TURN_BUDGET_NS of them per submit call; the rest of the batch goes the engine's way;
// - a write that took longer than INLINE_SLOW_NS waited for something (dirty-page throttling, a
//   page read in for a partial write, the journal): then none for a while, INLINE_PAUSE_FIRST_NS
//   doubling up to INLINE_PAUSE_MAX_NS while it keeps happening (a device slower than the
//   writes), so the loop stands still for one such write per pause at most.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "addon.h"

#define INLINE_SLOW_NS 500000u
#define INLINE_PAUSE_FIRST_NS 10000000u
#define INLINE_PAUSE_MAX_NS 1000000000u
#define INLINE_CALM_NS 10000000000u  // this long without a slow write: back to the first pause

// What an fd is to the inline writer (fd_class): not opened by this engine, opened and not yet
// looked at, or looked at.
enum { FD_NOT_OURS = 0, FD_UNKNOWN, FD_INLINE, FD_NOT_INLINE };
enum { FD_CLASS_MAX = 1 << 20 };

void inline_fd_changed(engine_t *e, int fd, int opened) {
  if (fd < 0 || fd >= FD_CLASS_MAX) return;
  if ((size_t)fd >= e->fd_class_cap) {
    if (!opened) return;
    size_t cap = e->fd_class_cap ? e->fd_class_cap : 256;
    while (cap <= (size_t)fd) cap *= 2;
    uint8_t *grown = realloc(e->fd_class, cap);
    if (!grown) return;  // this file's writes go the engine's way
    memset(grown + e->fd_class_cap, FD_NOT_OURS, cap - e->fd_class_cap);
    e->fd_class = grown;
    e->fd_class_cap = cap;
  }
  e->fd_class[fd] = opened ? FD_UNKNOWN : FD_NOT_OURS;
}

static int can_inline(engine_t *e, int fd) {
  if (fd < 0 || (size_t)fd >= e->fd_class_cap) return 0;
  uint8_t *c = &e->fd_class[fd];
  if (*c == FD_UNKNOWN) {
    struct stat st;
    int fl = fcntl(fd, F_GETFL);
    int ok = fl >= 0 && !(fl & (O_DIRECT | O_DSYNC)) && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    *c = ok ? FD_INLINE : FD_NOT_INLINE;
  }
  return *c == FD_INLINE;
}

static void pause_inline(engine_t *e, uint64_t now) {
  if (e->inline_pause_ns == 0 || now - e->inline_paused_until >= INLINE_CALM_NS) e->inline_pause_ns = INLINE_PAUSE_FIRST_NS;
  else if (e->inline_pause_ns < INLINE_PAUSE_MAX_NS) e->inline_pause_ns *= 2;
  e->inline_paused_until = now + e->inline_pause_ns;
}

int64_t inline_read(engine_t *e, int fd, void *buffer, size_t length, int64_t position) {
  if (!e->inline_io || position < 0 || !can_inline(e, fd)) return -EAGAIN;
  struct iovec v = {buffer, length};
  ssize_t n;
  do n = preadv2(fd, &v, 1, position, RWF_NOWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EOPNOTSUPP) e->fd_class[fd] = FD_NOT_INLINE;  // this filesystem cannot
  if (n < 0) return -errno;
  // Short: the end of the file, or only part of the range is cached; the engine's way tells.
  if (n > 0 && (size_t)n < length) return -EAGAIN;
  return n;
}

int inline_write(engine_t *e, req_t *r, inline_turn_t *t) {
  if (!e->inline_io || (r->op != OP_WRITE && r->op != OP_WRITEV)) return 0;
  if (r->pos < 0 || !can_inline(e, r->fd)) return 0;
  if (t->now == 0) t->started = t->now = uv_hrtime();
  if (t->now < e->inline_paused_until || t->now - t->started >= TURN_BUDGET_NS) return 0;
  blocking_run(r);
  uint64_t after = uv_hrtime();
  if (after - t->now >= INLINE_SLOW_NS) pause_inline(e, after);
  t->now = after;
  completion_record(e, r);
  return 1;
}
