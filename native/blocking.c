// One request, run with blocking syscalls on the calling thread: the body of the thread and pool
// engines, and the fallback for operations an asynchronous engine cannot do itself.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "engine.h"

static inline int64_t NEG_ERRNO(int64_t ret) { return ret < 0 ? -errno : ret; }

static double ms(struct statx_timestamp t) { return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6; }

void stat_fill(double *o, const struct statx *st) {
  for (int i = 0; i < STAT_FIELDS; i++) o[i] = 0;
  o[ST_DEV] = (double)makedev(st->stx_dev_major, st->stx_dev_minor);
  o[ST_MODE] = st->stx_mode;
  o[ST_NLINK] = st->stx_nlink;
  o[ST_UID] = st->stx_uid;
  o[ST_GID] = st->stx_gid;
  o[ST_RDEV] = (double)makedev(st->stx_rdev_major, st->stx_rdev_minor);
  o[ST_BLKSIZE] = st->stx_blksize;
  o[ST_INO] = (double)st->stx_ino;
  o[ST_SIZE] = (double)st->stx_size;
  o[ST_BLOCKS] = (double)st->stx_blocks;
  o[ST_ATIME_MS] = ms(st->stx_atime);
  o[ST_MTIME_MS] = ms(st->stx_mtime);
  o[ST_CTIME_MS] = ms(st->stx_ctime);
  o[ST_BIRTHTIME_MS] = (st->stx_mask & STATX_BTIME) ? ms(st->stx_btime) : 0;
  o[ST_DIO_MEM_ALIGN] = (st->stx_mask & STATX_DIOALIGN) ? st->stx_dio_mem_align : 0;
  o[ST_DIO_OFFSET_ALIGN] = (st->stx_mask & STATX_DIOALIGN) ? st->stx_dio_offset_align : 0;
}

// fstat (path "" of the fd) and stat/lstat by path.
static int64_t do_statx(req_t *r, int dirfd, const char *path, int flags) {
  struct statx st;
  if (statx(dirfd, path, flags, STAT_MASK, &st) < 0) return -errno;
  stat_fill(r->stat, &st);
  return 0;
}

static int64_t run(req_t *r) {
  ssize_t n;
  switch (r->op) {
    case OP_NOP:
      return 0;
    case OP_READ:
      n = r->pos < 0 ? read(r->fd, r->iov[0].iov_base, r->iov[0].iov_len)
                     : pread(r->fd, r->iov[0].iov_base, r->iov[0].iov_len, r->pos);
      return NEG_ERRNO(n);
    case OP_WRITE:
      n = r->pos < 0 ? write(r->fd, r->iov[0].iov_base, r->iov[0].iov_len)
                     : pwrite(r->fd, r->iov[0].iov_base, r->iov[0].iov_len, r->pos);
      return NEG_ERRNO(n);
    case OP_READV:
      n = r->pos < 0 ? readv(r->fd, r->iov, r->iovcnt) : preadv(r->fd, r->iov, r->iovcnt, r->pos);
      return NEG_ERRNO(n);
    case OP_WRITEV:
      n = r->pos < 0 ? writev(r->fd, r->iov, r->iovcnt) : pwritev(r->fd, r->iov, r->iovcnt, r->pos);
      return NEG_ERRNO(n);
    case OP_FSYNC:
      return NEG_ERRNO(fsync(r->fd));
    case OP_FDATASYNC:
      return NEG_ERRNO(fdatasync(r->fd));
    case OP_FSTAT:
      return do_statx(r, r->fd, "", AT_EMPTY_PATH);
    case OP_STAT:
      return do_statx(r, AT_FDCWD, r->path, r->flags & AT_SYMLINK_NOFOLLOW);
    case OP_UNLINK:
      return NEG_ERRNO(unlinkat(AT_FDCWD, r->path, r->flags & AT_REMOVEDIR));
    case OP_RENAME:
      return NEG_ERRNO(rename(r->path, r->path2));
    case OP_MKDIR:
      return NEG_ERRNO(mkdir(r->path, (mode_t)r->mode));
    case OP_FTRUNCATE:
      return NEG_ERRNO(ftruncate(r->fd, r->pos));
    case OP_OPEN:
      return NEG_ERRNO(open(r->path, r->flags | O_CLOEXEC, r->mode));
    case OP_CLOSE:
      return NEG_ERRNO(close(r->fd));
    default:
      return -EINVAL;
  }
}

void blocking_run(req_t *r) {
  int64_t res;
  if (r->op == OP_CLOSE) {
    // Linux releases the fd even when close() says EINTR: retrying could close another file.
    res = run(r);
    r->result = res == -EINTR ? 0 : res;
    return;
  }
  // A signal may interrupt a blocking call; the caller asked for the operation, not for EINTR.
  do res = run(r);
  while (res == -EINTR);
  r->result = res;
}

void *blocking_thread(void *req) {
  req_t *r = req;
  blocking_run(r);
  completion_push(r->engine, r);
  return NULL;
}
