// The `posix-aio` engine: glibc's aio_read/aio_write/aio_fsync. glibc implements POSIX AIO in
// user space with its own pool of threads doing the blocking calls.
//
// Completions: glibc's SIGEV_THREAD starts a new thread for every completion (measured: 12k IOPS
// on cached 4k reads at depth 32). Instead, requests are started with SIGEV_NONE and one reaper
// thread of ours waits for any of them with aio_suspend, then hands the finished ones to the loop
// through the shared, coalesced uv_async_send wake-up. aio_suspend only watches the list it was
// given, so new requests wake the reaper through a 1-byte aio_read on a pipe that is always in
// its list.
#define _GNU_SOURCE
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"

_Static_assert(sizeof(struct aiocb) <= sizeof(((req_t *)0)->engine_data), "aiocb fits in req_t");

typedef struct {
  engine_t base;
  pthread_mutex_t lock;    // guards everything below but the reaper's own copies
  pthread_cond_t work;     // the reaper sleeps here while nothing is in flight
  req_t **inflight;        // started with glibc, not yet reaped
  unsigned n, cap;
  int suspended;           // the reaper is in aio_suspend with an older list
  int kicked;              // a wake-up byte is on its way
  int quit;
  int pipe_r, pipe_w;
  struct aiocb wake;       // aio_read of one byte from pipe_r (reaper thread only)
  char wake_byte;
  int wake_armed;
  pthread_t reaper;
} paio_engine_t;

static void arm_wake(paio_engine_t *p) {
  memset(&p->wake, 0, sizeof p->wake);
  p->wake.aio_fildes = p->pipe_r;
  p->wake.aio_buf = &p->wake_byte;
  p->wake.aio_nbytes = 1;
  p->wake.aio_sigevent.sigev_notify = SIGEV_NONE;
  p->wake_armed = aio_read(&p->wake) == 0;
}

// The wake read finished: take its result so glibc forgets it.
static void take_wake(paio_engine_t *p) {
  if (p->wake_armed && aio_error(&p->wake) != EINPROGRESS) {
    aio_return(&p->wake);
    p->wake_armed = 0;
  }
}

static void *reaper_main(void *arg) {
  paio_engine_t *p = arg;
  req_t **mine = NULL;
  const struct aiocb **list = NULL;
  unsigned mine_cap = 0;
  for (;;) {
    pthread_mutex_lock(&p->lock);
    while (p->n == 0 && !p->quit) pthread_cond_wait(&p->work, &p->lock);
    if (p->quit && p->n == 0) {
      pthread_mutex_unlock(&p->lock);
      break;
    }
    if (p->n > mine_cap) {
      mine_cap = p->cap;
      free(mine);
      free(list);
      mine = malloc(mine_cap * sizeof *mine);
      list = malloc((mine_cap + 1) * sizeof *list);
      if (!mine || !list) abort();  // a few KiB; nothing sensible to do without them
    }
    unsigned m = p->n;
    memcpy(mine, p->inflight, m * sizeof *mine);
    p->suspended = 1;
    p->kicked = 0;
    pthread_mutex_unlock(&p->lock);

    for (unsigned i = 0; i < m; i++) list[i] = (const struct aiocb *)mine[i]->engine_data;
    if (!p->wake_armed) arm_wake(p);
    if (p->wake_armed) list[m] = &p->wake;
    aio_suspend(list, (int)(m + (p->wake_armed ? 1 : 0)), NULL);  // EINTR too: just look again

    pthread_mutex_lock(&p->lock);
    p->suspended = 0;
    pthread_mutex_unlock(&p->lock);
    take_wake(p);
    for (unsigned i = 0; i < m; i++) {
      req_t *r = mine[i];
      struct aiocb *cb = (struct aiocb *)r->engine_data;
      int err = aio_error(cb);
      if (err == EINPROGRESS) continue;
      r->result = err == 0 ? (int64_t)aio_return(cb) : -(int64_t)err;
      pthread_mutex_lock(&p->lock);
      for (unsigned j = 0; j < p->n; j++) {
        if (p->inflight[j] != r) continue;
        p->inflight[j] = p->inflight[--p->n];
        break;
      }
      pthread_mutex_unlock(&p->lock);
      completion_push(&p->base, r);
    }
  }
  // Quitting: a wake read still queued with glibc must finish before its memory goes
  // (stop() wrote a byte for it).
  if (p->wake_armed) {
    const struct aiocb *w[1] = {&p->wake};
    while (aio_error(&p->wake) == EINPROGRESS) aio_suspend(w, 1, NULL);
    aio_return(&p->wake);
    p->wake_armed = 0;
  }
  free(mine);
  free(list);
  return NULL;
}

static int paio_init(engine_t *e, napi_env env, napi_value options) {
  paio_engine_t *p = (paio_engine_t *)e;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return -errno;
  p->pipe_r = fds[0];
  p->pipe_w = fds[1];
  p->cap = 256;
  p->inflight = malloc(p->cap * sizeof *p->inflight);
  if (!p->inflight) {
    close(fds[0]);
    close(fds[1]);
    return -ENOMEM;
  }
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->work, NULL);
  int err = pthread_create(&p->reaper, NULL, reaper_main, p);
  if (err) {
    free(p->inflight);
    close(fds[0]);
    close(fds[1]);
    return -err;
  }
  return 0;
}

// POSIX AIO has single-buffer reads and writes and fsync; the rest goes to the pool.
static int paio_supports(engine_t *e, int op) {
  switch (op) {
    case OP_READ: case OP_WRITE: case OP_FSYNC: case OP_FDATASYNC: case OP_NOP:
      return 1;
    default:
      return 0;
  }
}

// Room in the in-flight list for one more, taken before glibc gets the request: a request glibc
// holds must be tracked, so running out of memory has to be found out first.
static int reserve_inflight(paio_engine_t *p) {
  pthread_mutex_lock(&p->lock);
  int ok = p->n < p->cap;
  if (!ok) {
    req_t **grown = realloc(p->inflight, 2 * p->cap * sizeof *grown);
    if (grown) {
      p->inflight = grown;
      p->cap *= 2;
      ok = 1;
    }
  }
  pthread_mutex_unlock(&p->lock);
  return ok;
}

static void paio_start(engine_t *e, req_t *r) {
  paio_engine_t *p = (paio_engine_t *)e;
  struct aiocb *cb = (struct aiocb *)r->engine_data;
  if (!reserve_inflight(p)) {
    r->result = -ENOMEM;
    completion_push(e, r);
    return;
  }
  memset(cb, 0, sizeof *cb);
  cb->aio_fildes = r->fd;
  cb->aio_sigevent.sigev_notify = SIGEV_NONE;
  int rc;
  switch (r->op) {
    case OP_READ:
    case OP_WRITE:
      cb->aio_buf = r->iov[0].iov_base;
      cb->aio_nbytes = r->iov[0].iov_len;
      cb->aio_offset = r->pos;
      rc = r->op == OP_READ ? aio_read(cb) : aio_write(cb);
      break;
    case OP_FSYNC:
    case OP_FDATASYNC:
      rc = aio_fsync(r->op == OP_FSYNC ? O_SYNC : O_DSYNC, cb);
      break;
    default:
      r->result = 0;
      completion_push(e, r);
      return;
  }
  if (rc < 0) {  // not queued: it will never complete with glibc
    r->result = -errno;
    completion_push(e, r);
    return;
  }
  pthread_mutex_lock(&p->lock);
  p->inflight[p->n++] = r;  // room: reserved above, and only this thread adds
  if (p->n == 1) pthread_cond_signal(&p->work);
  pthread_mutex_unlock(&p->lock);
}

// End of a batch: if the reaper waits on an older list, one byte through the pipe wakes it.
static void paio_flush(engine_t *e) {
  paio_engine_t *p = (paio_engine_t *)e;
  pthread_mutex_lock(&p->lock);
  int kick = p->suspended && !p->kicked;
  if (kick) p->kicked = 1;
  pthread_mutex_unlock(&p->lock);
  if (kick) {
    char one = 1;
    while (write(p->pipe_w, &one, 1) < 0 && errno == EINTR) {}
  }
}

// Nothing is taken back (no cancel_one): an aborted operation runs to its end and resolves as
// done. glibc's aio_cancel of a queued request, mixed with writes and aio_fsync on the same file,
// left every later request on that file unrun for good (found by the soak test: all of them hung).
static void paio_cancel(engine_t *e) {}

static void paio_stop(engine_t *e) {
  paio_engine_t *p = (paio_engine_t *)e;
  // Every request glibc holds completes and is reaped; wait for all of them.
  for (;;) {
    completion_drain_pushed(e, 0);
    if (e->inflight == 0) break;
    usleep(100);
  }
  e->ncomp = 0;
  pthread_mutex_lock(&p->lock);
  p->quit = 1;
  pthread_cond_signal(&p->work);
  pthread_mutex_unlock(&p->lock);
  char one = 1;
  while (write(p->pipe_w, &one, 1) < 0 && errno == EINTR) {}
  pthread_join(p->reaper, NULL);
  close(p->pipe_r);
  close(p->pipe_w);
  free(p->inflight);
  pthread_cond_destroy(&p->work);
  pthread_mutex_destroy(&p->lock);
}

static uv_handle_t *paio_handle(engine_t *e) { return (uv_handle_t *)&e->async; }

const engine_kind_t posix_aio_kind = {
    .name = "posix-aio",
    .size = sizeof(paio_engine_t),
    .init = paio_init,
    .start = paio_start,
    .flush = paio_flush,
    .cancel = paio_cancel,
    .stop = paio_stop,
    .supports = paio_supports,
    .handle = paio_handle,
};
