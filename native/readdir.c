// readdir as node's (libuv's scandir): every entry but . and .., sorted by strcmp, each with its
// type (an lstat where the filesystem does not tell it). Written into the caller's buffer as
// entries of one type byte (fs.constants.UV_DIRENT_*), the name and a NUL. The result is the
// bytes the listing takes: more than the buffer holds says how large a buffer to come back with.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine.h"


struct linux_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

static unsigned char uv_type(unsigned char d_type) {
  switch (d_type) {
    case DT_REG: return UV_DIRENT_FILE;
    case DT_DIR: return UV_DIRENT_DIR;
    case DT_LNK: return UV_DIRENT_LINK;
    case DT_FIFO: return UV_DIRENT_FIFO;
    case DT_SOCK: return UV_DIRENT_SOCKET;
    case DT_CHR: return UV_DIRENT_CHAR;
    case DT_BLK: return UV_DIRENT_BLOCK;
    default: return UV_DIRENT_UNKNOWN;
  }
}

static unsigned char type_of_mode(mode_t mode) {
  return S_ISREG(mode) ? UV_DIRENT_FILE : S_ISDIR(mode) ? UV_DIRENT_DIR : S_ISLNK(mode) ? UV_DIRENT_LINK
       : S_ISFIFO(mode) ? UV_DIRENT_FIFO : S_ISSOCK(mode) ? UV_DIRENT_SOCKET : S_ISCHR(mode) ? UV_DIRENT_CHAR
       : S_ISBLK(mode) ? UV_DIRENT_BLOCK : UV_DIRENT_UNKNOWN;
}

// The entries as they are kept until sorted: type byte, name, NUL, one after another.
typedef struct {
  char *bytes;
  size_t len, cap;
  size_t *at;  // where each entry starts
  size_t n, cap_at;
} listing_t;

static int add(listing_t *l, unsigned char type, const char *name) {
  size_t need = strlen(name) + 2;
  if (l->len + need > l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16384;
    while (cap < l->len + need) cap *= 2;
    char *grown = realloc(l->bytes, cap);
    if (!grown) return -ENOMEM;
    l->bytes = grown;
    l->cap = cap;
  }
  if (l->n == l->cap_at) {
    size_t cap = l->cap_at ? l->cap_at * 2 : 256;
    size_t *grown = realloc(l->at, cap * sizeof *grown);
    if (!grown) return -ENOMEM;
    l->at = grown;
    l->cap_at = cap;
  }
  l->at[l->n++] = l->len;
  l->bytes[l->len] = (char)type;
  memcpy(l->bytes + l->len + 1, name, need - 1);
  l->len += need;
  return 0;
}

// qsort_r's comparison: entries by name (after the type byte), as strcmp orders them.
static int by_name(const void *a, const void *b, void *bytes) {
  return strcmp((const char *)bytes + *(const size_t *)a + 1, (const char *)bytes + *(const size_t *)b + 1);
}

static int64_t list(int dir, listing_t *l, char *buf, size_t size) {
  for (;;) {
    long n = syscall(SYS_getdents64, dir, buf, size);
    if (n < 0 && errno == EINTR && !blocking_given_up()) continue;
    if (n < 0) return -errno;
    if (n == 0) return 0;
    for (long off = 0; off < n;) {
      struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
      off += d->d_reclen;
      if (d->d_ino == 0) continue;  // a deleted entry, as readdir(3) skips them
      if (d->d_name[0] == '.' && (d->d_name[1] == 0 || (d->d_name[1] == '.' && d->d_name[2] == 0))) continue;
      unsigned char type = uv_type(d->d_type);
      struct stat st;
      if (type == UV_DIRENT_UNKNOWN && fstatat(dir, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) type = type_of_mode(st.st_mode);
      int err = add(l, type, d->d_name);
      if (err < 0) return err;
    }
  }
}

int64_t read_dir(req_t *r) {
  int dir;
  do dir = open(r->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  while (dir < 0 && errno == EINTR && !blocking_given_up());
  if (dir < 0) return -errno;
  listing_t l = {0};
  // Off the stack: the thread engine's threads have small ones.
  enum { DENTS = 32768 };
  char *dents = aligned_alloc(8, DENTS);
  int64_t res = dents ? list(dir, &l, dents, DENTS) : -ENOMEM;
  free(dents);
  close(dir);
  if (res == 0) {
    res = (int64_t)l.len;
    if (l.len <= r->iov[0].iov_len) {
      char *out = r->iov[0].iov_base;
      qsort_r(l.at, l.n, sizeof *l.at, by_name, l.bytes);
      for (size_t i = 0, w = 0; i < l.n; i++) {
        size_t len = strlen(l.bytes + l.at[i] + 1) + 2;
        memcpy(out + w, l.bytes + l.at[i], len);
        w += len;
      }
    }
  }
  free(l.bytes);
  free(l.at);
  return res;
}
