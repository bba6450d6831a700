// The `posix-aio` engine: glibc's aio_read/aio_write/aio_fsync. glibc implements POSIX AIO in
// user space with its own pool of threads doing the blocking calls; each completion is announced
// with SIGEV_THREAD (glibc runs our function on a thread of its own), which hands the request to
// the loop through the shared, coalesced uv_async_send wake-up.
#define _GNU_SOURCE
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"

_Static_assert(sizeof(struct aiocb) <= sizeof(((req_t *)0)->engine_data), "aiocb fits in req_t");

typedef struct {
  engine_t base;
  pthread_mutex_t lock;
  uint32_t started, announced;  // under lock: stop() waits until every start was announced
} paio_engine_t;

static void on_done(union sigval value) {
  req_t *r = value.sival_ptr;
  struct aiocb *cb = (struct aiocb *)r->engine_data;
  int err = aio_error(cb);
  r->result = err == 0 ? (int64_t)aio_return(cb) : -(int64_t)err;
  paio_engine_t *p = (paio_engine_t *)r->engine;
  pthread_mutex_lock(&p->lock);
  p->announced++;
  pthread_mutex_unlock(&p->lock);
  completion_push(r->engine, r);
}

static int paio_init(engine_t *e, napi_env env, napi_value options) {
  paio_engine_t *p = (paio_engine_t *)e;
  pthread_mutex_init(&p->lock, NULL);
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

static void paio_start(engine_t *e, req_t *r) {
  paio_engine_t *p = (paio_engine_t *)e;
  struct aiocb *cb = (struct aiocb *)r->engine_data;
  memset(cb, 0, sizeof *cb);
  cb->aio_fildes = r->fd;
  cb->aio_sigevent.sigev_notify = SIGEV_THREAD;
  cb->aio_sigevent.sigev_notify_function = on_done;
  cb->aio_sigevent.sigev_value.sival_ptr = r;
  int rc;
  pthread_mutex_lock(&p->lock);
  p->started++;
  pthread_mutex_unlock(&p->lock);
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
      rc = 0;
      errno = 0;
      r->result = 0;
      pthread_mutex_lock(&p->lock);
      p->announced++;
      pthread_mutex_unlock(&p->lock);
      completion_push(e, r);
      return;
  }
  if (rc < 0) {  // not queued: no notification will come
    r->result = -errno;
    pthread_mutex_lock(&p->lock);
    p->announced++;
    pthread_mutex_unlock(&p->lock);
    completion_push(e, r);
  }
}

static void paio_cancel_one(engine_t *e, req_t *r) {
  // glibc takes back a request its threads have not started; it then announces ECANCELED.
  aio_cancel(r->fd, (struct aiocb *)r->engine_data);
}

static void paio_cancel(engine_t *e) {}

static void paio_stop(engine_t *e) {
  paio_engine_t *p = (paio_engine_t *)e;
  // Every request glibc holds is announced through on_done; wait for all of them.
  for (;;) {
    pthread_mutex_lock(&p->lock);
    int idle = p->announced == p->started;
    pthread_mutex_unlock(&p->lock);
    completion_drain_pushed(e, 0);
    if (idle && e->inflight == 0) break;
    usleep(100);
  }
  e->ncomp = 0;
  pthread_mutex_destroy(&p->lock);
}

static uv_handle_t *paio_handle(engine_t *e) { return (uv_handle_t *)&e->async; }

const engine_kind_t posix_aio_kind = {
    .name = "posix-aio",
    .size = sizeof(paio_engine_t),
    .init = paio_init,
    .start = paio_start,
    .cancel = paio_cancel,
    .cancel_one = paio_cancel_one,
    .stop = paio_stop,
    .supports = paio_supports,
    .handle = paio_handle,
};
