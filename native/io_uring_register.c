// The io_uring engine's registered resources: a sparse table of files (an fd's slot spares the
// kernel a file lookup per operation) and one region of buffers (READ_FIXED/WRITE_FIXED).
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "io_uring.h"

void uring_region_release(region_t *r) {
  if (--r->refs == 0) {
    free(r->base);
    free(r);
  }
}

// A sparse table: every slot -1 until open() fills one.
int uring_register_files(uring_t *u) {
  int *fds = malloc(u->file_slots * sizeof *fds);
  u->slot_used = calloc(u->file_slots, 1);
  if (!fds || !u->slot_used) { free(fds); return -ENOMEM; }
  for (unsigned i = 0; i < u->file_slots; i++) fds[i] = -1;
  int err = sys_register(u->ring_fd, IORING_REGISTER_FILES, fds, u->file_slots);
  free(fds);
  return err < 0 ? err : 0;
}

int uring_register_buffers(uring_t *u) {
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
void uring_file_opened(uring_t *u, int fd) {
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
void uring_file_closing(uring_t *u, int fd) {
  if (fd < 0 || (unsigned)fd >= u->fd_cap || !u->slot_of_fd[fd]) return;
  unsigned slot = u->slot_of_fd[fd] - 1;
  int none = -1;
  struct io_uring_files_update up = {.offset = slot, .fds = (uint64_t)(uintptr_t)&none};
  sys_register(u->ring_fd, IORING_REGISTER_FILES_UPDATE, &up, 1);
  u->slot_used[slot] = 0;
  u->slot_of_fd[fd] = 0;
}



static void on_region_finalize(napi_env env, void *data, void *hint) { uring_region_release(hint); }

napi_value uring_buffers(engine_t *e, napi_env env) {
  uring_t *u = (uring_t *)e;
  napi_value ab;
  if (!u->region) return NULL;
  if (napi_create_external_arraybuffer(env, u->region->base, u->region->size, on_region_finalize, u->region, &ab) != napi_ok)
    return NULL;
  u->region->refs++;
  return ab;
}
