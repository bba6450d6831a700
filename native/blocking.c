// One request, run with blocking syscalls on the calling thread: the body of the thread and pool
// engines, and the fallback for operations an asynchronous engine cannot do itself.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <math.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/vfs.h>
#include <stdlib.h>
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

static int64_t failed(int step) { return -(errno + step * STEP_UNIT); }

// The engine of the request this thread is running (blocking_run), for blocking_given_up().
static __thread engine_t *running_for;

int blocking_given_up(void) { return running_for && __atomic_load_n(&running_for->cancelled, __ATOMIC_SEQ_CST); }

// A call retried while a signal interrupts it (the caller asked for the call, not for EINTR),
// unless the engine gave the operation up.
#define RETRY(call) ({ __typeof__(call) ret_; do ret_ = (call); while (ret_ < 0 && errno == EINTR && !blocking_given_up()); ret_; })

// readFile in one request: open, size, read, close. The result is the bytes read, which are the
// whole file; or, for a file that is no regular file of a size under the buffer's (a FIFO, /proc,
// a large file), the buffer's length + 2 + fd: it stays open for JS to read its usual way
// (src/fs/one-operation.ts). Opening it again instead would not be the same: a FIFO's writer is
// lost when it is closed, and a stat by path before the open, to know, costs a fifth of a
// small file's readFile.
static int64_t read_file(req_t *r) {
  char *buf = r->iov[0].iov_base;
  size_t cap = r->iov[0].iov_len;
  struct stat st;
  int fd = RETRY(open(r->path, r->flags | O_CLOEXEC, 0666));
  if (fd < 0) return failed(STEP_OPEN);
  int64_t res;
  if (fstat(fd, &st) < 0) {
    res = failed(STEP_FSTAT);
  } else if (!S_ISREG(st.st_mode) || st.st_size == 0 || (uint64_t)st.st_size >= cap) {
    return (int64_t)cap + 2 + fd;
  } else {
    // As node: a file of known size (under 512 KiB, as here) in one read, whose short count is
    // the end (node takes the file to have shrunk).
    ssize_t n = RETRY(read(fd, buf, (size_t)st.st_size));
    res = n < 0 ? failed(STEP_READ) : (int64_t)n;
  }
  // Linux releases the fd even when close() says EINTR. Node reports close's error only when
  // the rest succeeded.
  if (close(fd) < 0 && errno != EINTR && res >= 0) res = failed(STEP_CLOSE);
  return res;
}

// writeFile in one request: open, write everything, cut the file after it (WRITEFILE_CUT: the
// caller opens without O_TRUNC, see src/fs/promises.ts), fsync (WRITEFILE_FLUSH), close.
// Written from offset 0 when cutting, else at the file's position; a file without positions
// (a pipe: ESPIPE) at its position. The result is the bytes written (all of them).
static int64_t write_file(req_t *r) {
  const char *data = r->iov[0].iov_base;
  size_t len = r->iov[0].iov_len, done = 0;
  int cut = (r->pos & WRITEFILE_CUT) != 0, positioned = cut;
  int fd = RETRY(open(r->path, r->flags | O_CLOEXEC, r->mode));
  if (fd < 0) return failed(STEP_OPEN);
  int64_t res = 0;
  while (done < len) {
    ssize_t n = positioned ? RETRY(pwrite(fd, data + done, len - done, (off_t)done))
                           : RETRY(write(fd, data + done, len - done));
    if (n < 0 && errno == ESPIPE && positioned) {
      positioned = 0;
      continue;
    }
    if (n < 0) {
      res = failed(STEP_WRITE);
      break;
    }
    done += (size_t)n;
  }
  // As O_TRUNC would have left it, also after a failed write; nothing to cut where there are no
  // positions (EINVAL: not a regular file).
  if (cut && RETRY(ftruncate(fd, (off_t)done)) < 0 && errno != EINVAL && res >= 0) res = failed(STEP_FTRUNCATE);
  if ((r->pos & WRITEFILE_FLUSH) && res >= 0 && RETRY(fsync(fd)) < 0) res = failed(STEP_FSYNC);
  if (close(fd) < 0 && errno != EINTR && res >= 0) res = failed(STEP_CLOSE);
  return res < 0 ? res : (int64_t)done;
}

// truncate by path as node does it: open for reading and writing, ftruncate, close (failures by step).
static int64_t truncate_path(req_t *r) {
  int fd = RETRY(open(r->path, O_RDWR | O_CLOEXEC));
  if (fd < 0) return failed(STEP_OPEN);
  int64_t res = RETRY(ftruncate(fd, r->pos)) < 0 ? failed(STEP_FTRUNCATE) : 0;
  if (close(fd) < 0 && errno != EINTR && res >= 0) res = failed(STEP_CLOSE);
  return res;
}

// A time in seconds as utimensat takes it, as libuv converts it for node: microseconds kept,
// infinity for now, NaN to leave it as it is.
static struct timespec to_timespec(double t) {
  if (isinf(t)) return (struct timespec){.tv_nsec = UTIME_NOW};
  if (isnan(t)) return (struct timespec){.tv_nsec = UTIME_OMIT};
  struct timespec ts = {.tv_sec = (time_t)t};
  ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
  ts.tv_nsec -= ts.tv_nsec % 1000;
  if (ts.tv_nsec < 0) {
    ts.tv_nsec += 1000000000L;
    ts.tv_sec -= 1;
  }
  return ts;
}

static int on_smb(int fd) {
  struct statfs fs;
  return fstatfs(fd, &fs) == 0 && (fs.f_type == 0xFF534D42 /* CIFS */ || fs.f_type == 0xFE534D42 /* SMB2 */ || fs.f_type == 0x517B /* SMB */);
}

// size bytes of src to dst from offset 0, as libuv's sendfile does it: copy_file_range in the
// kernel; sendfile where that cannot (across filesystems on older kernels); read and write where
// neither can. A copy that stops short (0 before size: the file shrank, or a filesystem such as
// sysfs that copy_file_range cannot read) is tried once more with the next way.
static int copy_bytes(int src, int dst, off_t size) {
  enum { RANGE, SENDFILE, READ_WRITE } way = RANGE;
  char *buf = NULL;
  off_t at = 0;
  int err = 0;
  while (at < size) {
    size_t left = (size_t)(size - at);
    ssize_t n;
    if (way == RANGE) {
      n = copy_file_range(src, &at, dst, NULL, left, 0);
    } else if (way == SENDFILE) {
      n = sendfile(dst, src, &at, left);
    } else {
      if (!buf && !(buf = malloc(65536))) {
        err = -ENOMEM;
        break;
      }
      n = pread(src, buf, left < 65536 ? left : 65536, at);
      for (ssize_t w = 0, done = 0; n > 0 && done < n; done += w) {
        w = write(dst, buf + done, (size_t)(n - done));
        if (w < 0 && errno == EINTR && !blocking_given_up()) w = 0;
        else if (w < 0) n = -1;
      }
      if (n > 0) at += n;
    }
    if (n < 0 && errno == EINTR && !blocking_given_up()) continue;
    if (n < 0 && way != READ_WRITE && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP ||
                                       errno == EPERM || errno == EIO || errno == ENOTSOCK)) {
      way++;
      continue;
    }
    if (n < 0) {
      err = -errno;
      break;
    }
    if (n == 0 && way == READ_WRITE) break;  // the file is shorter than it was
    if (n == 0) way++;
  }
  free(buf);
  return err;
}

// copyFile as node's (libuv's): the new file gets the old one's mode; the same file copied onto
// itself is left alone; a clone first when asked (COPYFILE_FICLONE), or only a clone
// (COPYFILE_FICLONE_FORCE); else copy_file_range, sendfile where that cannot. A failure after
// the new file was opened removes it.
static int64_t copy_file(req_t *r) {
  int src = RETRY(open(r->path, O_RDONLY | O_CLOEXEC));
  if (src < 0) return -errno;
  int dst = -1, err = 0;
  struct stat from, to;
  if (fstat(src, &from) < 0) {
    err = -errno;
    goto out;
  }
  dst = RETRY(open(r->path2, O_WRONLY | O_CREAT | O_CLOEXEC | ((r->flags & COPYFILE_EXCL) ? O_EXCL : 0), from.st_mode));
  if (dst < 0) {
    err = -errno;
    goto out;
  }
  if (!(r->flags & COPYFILE_EXCL)) {
    if (fstat(dst, &to) < 0) {
      err = -errno;
      goto out;
    }
    if (from.st_dev == to.st_dev && from.st_ino == to.st_ino) goto out;
    // ceph-fuse refuses to truncate a file just created read-only (EACCES): empty already.
    if (RETRY(ftruncate(dst, 0)) < 0 && !(errno == EACCES && to.st_size == 0)) {
      err = -errno;
      goto out;
    }
  }
  // CIFS/SMB shares refuse every fchmod (EPERM) unless mounted with noperm: meaningless there.
  if (fchmod(dst, from.st_mode) < 0 && !(errno == EPERM && on_smb(dst))) {
    err = -errno;
    goto out;
  }
  if (r->flags & (COPYFILE_FICLONE | COPYFILE_FICLONE_FORCE)) {
    if (ioctl(dst, FICLONE, src) == 0) goto out;
    if (r->flags & COPYFILE_FICLONE_FORCE) {
      err = -errno;
      goto out;
    }
  }
  err = copy_bytes(src, dst, from.st_size);
out:
  close(src);
  if (dst >= 0) {
    if (close(dst) < 0 && errno != EINTR && err == 0) err = -errno;
    if (err < 0) unlink(r->path2);
  }
  return err;
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
    case OP_ACCESS:
      return NEG_ERRNO(access(r->path, r->flags));
    case OP_CHMOD:
      return NEG_ERRNO(chmod(r->path, (mode_t)r->mode));
    case OP_UTIMES: {
      struct timespec times[2] = {to_timespec(r->atime), to_timespec(r->mtime)};
      return NEG_ERRNO(utimensat(AT_FDCWD, r->path, times, 0));
    }
    case OP_TRUNCATE:
      return truncate_path(r);
    case OP_COPYFILE:
      return copy_file(r);
    case OP_READDIR:
      return read_dir(r);
    case OP_READFILE:
      return read_file(r);
    case OP_WRITEFILE:
      return write_file(r);
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
  // Unless the engine was cancelled (interrupt.c): then it is cancelled, started or not.
  running_for = r->engine;
  res = -EINTR;
  while (res == -EINTR && !blocking_given_up()) res = run(r);
  // Given up: cancelled, at the step it was at (a whole-file operation's steps: failed() above).
  if (res < 0 && -res % STEP_UNIT == EINTR && blocking_given_up()) res += EINTR - ECANCELED;
  running_for = NULL;
  r->result = res;
}

void *blocking_thread(void *req) {
  req_t *r = req;
  thread_interruptible();
  blocking_run(r);
  completion_push(r->engine, r);
  return NULL;
}
