// The `posix-aio` engine: glibc's aio_read/aio_write/aio_fsync. glibc implements POSIX AIO in
// user space with its own pool of threads doing the blocking calls.
//
// Completions: glibc's SIGEV_THREAD starts a new thread for every completion (measured: 12k IOPS
// on cached 4k reads at depth 32). Instead, requests are started with SIGEV_NONE and one reaper
// thread waits for any of them with aio_suspend, then hands the finished ones to their engine's
// loop through the shared, coalesced uv_async_send wake-up. aio_suspend only watches the list it
// was given, so new requests wake the reaper through a 1-byte aio_read on a pipe that is always
// in its list. That read occupies one of glibc's AIO threads (20 by default) for as long as it
// waits, so there is one reaper for the whole process, not one per engine: with one per engine,
// the 21st busy engine's requests queued behind 20 parked reads forever.
#define _GNU_SOURCE
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"

// A request's control block, and its place in the reaper's list (so it leaves without a search).
typedef struct {
  struct aiocb cb;
  unsigned slot;
} paio_req_t;

_Static_assert(sizeof(paio_req_t) <= sizeof(((req_t *)0)->engine_data), "paio_req_t fits in req_t");

static inline paio_req_t *of(req_t *r) { return (paio_req_t *)r->engine_data; }

// The process's one reaper, shared by every posix-aio engine of every thread.
static struct {
  pthread_mutex_t life;    // serialises starting and stopping the reaper (engines come and go)
  int engines;             // live engines: the reaper runs while there is one
  pthread_mutex_t lock;    // guards what follows, but the reaper thread's own copies
  pthread_cond_t work;     // the reaper sleeps here while nothing is in flight
  req_t **inflight;        // started with glibc, not yet reaped, of every engine
  unsigned n, cap;
  unsigned reserved;       // places taken by requests on their way to glibc
  int suspended;           // the reaper is in aio_suspend with an older list
  int kicked;              // a wake-up byte is on its way
  int quit;
  int pipe_r, pipe_w;
  pthread_t thread;
  // reaper thread only
  struct aiocb wake;       // aio_read from pipe_r: takes every byte waiting, at least one
  char wake_bytes[64];
  int wake_armed;
  unsigned turn;           // where in the list the next look begins (see SUSPEND_MAX)
} reaper = {
    .life = PTHREAD_MUTEX_INITIALIZER,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .work = PTHREAD_COND_INITIALIZER,
};

static void arm_wake(void) {
  memset(&reaper.wake, 0, sizeof reaper.wake);
  reaper.wake.aio_fildes = reaper.pipe_r;
  reaper.wake.aio_buf = reaper.wake_bytes;
  reaper.wake.aio_nbytes = sizeof reaper.wake_bytes;
  reaper.wake.aio_sigevent.sigev_notify = SIGEV_NONE;
  reaper.wake_armed = aio_read(&reaper.wake) == 0;
}

// The wake read finished: take its result so glibc forgets it.
static void take_wake(void) {
  if (reaper.wake_armed && aio_error(&reaper.wake) != EINPROGRESS) {
    aio_return(&reaper.wake);
    reaper.wake_armed = 0;
  }
}

// aio_suspend keeps two words per request on its stack and looks each one up under glibc's one
// lock: it watches at most this many at a time, a different part of the list each turn.
enum { SUSPEND_MAX = 1024 };

static void *reaper_main(void *arg) {
  req_t **mine = NULL, **done = NULL;
  const struct aiocb **list = NULL;
  unsigned mine_cap = 0;
  for (;;) {
    pthread_mutex_lock(&reaper.lock);
    while (reaper.n == 0 && !reaper.quit) pthread_cond_wait(&reaper.work, &reaper.lock);
    if (reaper.quit && reaper.n == 0) {
      pthread_mutex_unlock(&reaper.lock);
      break;
    }
    unsigned m = reaper.n < SUSPEND_MAX ? reaper.n : SUSPEND_MAX;
    if (m > mine_cap) {
      mine_cap = SUSPEND_MAX;
      free(mine);
      free(done);
      free(list);
      mine = malloc(mine_cap * sizeof *mine);
      done = malloc(mine_cap * sizeof *done);
      list = malloc((mine_cap + 1) * sizeof *list);
      if (!mine || !done || !list) abort();  // a few KiB; nothing sensible to do without them
    }
    for (unsigned i = 0, first = reaper.turn % reaper.n; i < m; i++) mine[i] = reaper.inflight[(first + i) % reaper.n];
    reaper.turn += m;
    reaper.suspended = 1;
    reaper.kicked = 0;
    pthread_mutex_unlock(&reaper.lock);

    for (unsigned i = 0; i < m; i++) list[i] = &of(mine[i])->cb;
    if (!reaper.wake_armed) arm_wake();
    if (reaper.wake_armed) list[m] = &reaper.wake;
    aio_suspend(list, (int)(m + (reaper.wake_armed ? 1 : 0)), NULL);  // EINTR too: just look again
    take_wake();

    unsigned nd = 0;
    for (unsigned i = 0; i < m; i++) {
      struct aiocb *cb = &of(mine[i])->cb;
      int err = aio_error(cb);
      if (err == EINPROGRESS) continue;
      mine[i]->result = err == 0 ? (int64_t)aio_return(cb) : -(int64_t)err;
      done[nd++] = mine[i];
    }
    pthread_mutex_lock(&reaper.lock);
    reaper.suspended = 0;
    for (unsigned i = 0; i < nd; i++) {
      unsigned slot = of(done[i])->slot;
      req_t *last = reaper.inflight[--reaper.n];
      reaper.inflight[slot] = last;
      of(last)->slot = slot;
    }
    pthread_mutex_unlock(&reaper.lock);
    // Handed back only now: once pushed, a request belongs to its engine, which may stop.
    for (unsigned i = 0; i < nd; i++) completion_push(done[i]->engine, done[i]);
  }
  // Quitting: a wake read still queued with glibc must finish before its memory is reused
  // (stop_reaper wrote a byte for it).
  if (reaper.wake_armed) {
    const struct aiocb *w[1] = {&reaper.wake};
    while (aio_error(&reaper.wake) == EINPROGRESS) aio_suspend(w, 1, NULL);
    aio_return(&reaper.wake);
    reaper.wake_armed = 0;
  }
  free(mine);
  free(done);
  free(list);
  return NULL;
}

// A full pipe (EAGAIN) already holds a wake-up: the writer never waits.
static void wake_reaper(void) {
  char one = 1;
  while (write(reaper.pipe_w, &one, 1) < 0 && errno == EINTR) {}
}

// With reaper.life held: the first engine starts the reaper.
static int start_reaper(void) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return -errno;
  fcntl(fds[1], F_SETFL, O_NONBLOCK);  // the read end blocks: the wake read waits on it
  reaper.pipe_r = fds[0];
  reaper.pipe_w = fds[1];
  reaper.cap = 256;
  reaper.n = reaper.reserved = 0;
  reaper.quit = 0;
  reaper.inflight = malloc(reaper.cap * sizeof *reaper.inflight);
  int err = reaper.inflight ? pthread_create(&reaper.thread, NULL, reaper_main, NULL) : ENOMEM;
  if (err) {
    free(reaper.inflight);
    reaper.inflight = NULL;
    close(fds[0]);
    close(fds[1]);
    return -err;
  }
  return 0;
}

// With reaper.life held: the last engine has nothing in flight; the reaper goes.
static void stop_reaper(void) {
  pthread_mutex_lock(&reaper.lock);
  reaper.quit = 1;
  pthread_cond_signal(&reaper.work);
  pthread_mutex_unlock(&reaper.lock);
  wake_reaper();
  pthread_join(reaper.thread, NULL);
  close(reaper.pipe_r);
  close(reaper.pipe_w);
  free(reaper.inflight);
  reaper.inflight = NULL;
}

static int paio_init(engine_t *e, napi_env env, napi_value options) {
  pthread_mutex_lock(&reaper.life);
  int err = reaper.engines == 0 ? start_reaper() : 0;
  if (err == 0) reaper.engines++;
  pthread_mutex_unlock(&reaper.life);
  return err;
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
static int reserve_inflight(void) {
  pthread_mutex_lock(&reaper.lock);
  int ok = reaper.n + reaper.reserved < reaper.cap;
  if (!ok) {
    req_t **grown = realloc(reaper.inflight, 2 * reaper.cap * sizeof *grown);
    if (grown) {
      reaper.inflight = grown;
      reaper.cap *= 2;
      ok = 1;
    }
  }
  if (ok) reaper.reserved++;
  pthread_mutex_unlock(&reaper.lock);
  return ok;
}

static void paio_start(engine_t *e, req_t *r) {
  struct aiocb *cb = &of(r)->cb;
  if (r->op != OP_READ && r->op != OP_WRITE && r->op != OP_FSYNC && r->op != OP_FDATASYNC) {
    r->result = 0;  // OP_NOP
    completion_push(e, r);
    return;
  }
  if (!reserve_inflight()) {
    r->result = -ENOMEM;
    completion_push(e, r);
    return;
  }
  memset(cb, 0, sizeof *cb);
  cb->aio_fildes = r->fd;
  cb->aio_sigevent.sigev_notify = SIGEV_NONE;
  int rc;
  if (r->op == OP_READ || r->op == OP_WRITE) {
    cb->aio_buf = r->iov[0].iov_base;
    cb->aio_nbytes = r->iov[0].iov_len;
    cb->aio_offset = r->pos;
    rc = r->op == OP_READ ? aio_read(cb) : aio_write(cb);
  } else {
    rc = aio_fsync(r->op == OP_FSYNC ? O_SYNC : O_DSYNC, cb);
  }
  int err = rc < 0 ? errno : 0;
  pthread_mutex_lock(&reaper.lock);
  reaper.reserved--;
  if (!err) {
    of(r)->slot = reaper.n;
    reaper.inflight[reaper.n++] = r;
    if (reaper.n == 1) pthread_cond_signal(&reaper.work);
  }
  pthread_mutex_unlock(&reaper.lock);
  if (err) {  // not queued: it will never complete with glibc
    r->result = -err;
    completion_push(e, r);
  }
}

// End of a batch: if the reaper waits on an older list, one byte through the pipe wakes it.
static void paio_flush(engine_t *e) {
  pthread_mutex_lock(&reaper.lock);
  int kick = reaper.suspended && !reaper.kicked;
  if (kick) reaper.kicked = 1;
  pthread_mutex_unlock(&reaper.lock);
  if (kick) wake_reaper();
}

// Nothing is taken back (no cancel_one): an aborted operation runs to its end and resolves as
// done. glibc's aio_cancel of a queued request, mixed with writes and aio_fsync on the same file,
// left every later request on that file unrun for good (found by the soak test: all of them hung).
static void paio_cancel(engine_t *e) {}

static void paio_stop(engine_t *e) {
  // Every request glibc holds for this engine completes and is reaped; wait for all of them.
  for (;;) {
    completion_drain_pushed(e, 0, DRAIN_ALL);
    if (e->inflight == 0) break;
    usleep(100);
  }
  e->ncomp = 0;
  pthread_mutex_lock(&reaper.life);
  if (--reaper.engines == 0) stop_reaper();
  pthread_mutex_unlock(&reaper.life);
}

static uv_handle_t *paio_handle(engine_t *e) { return (uv_handle_t *)&e->async; }

const engine_kind_t posix_aio_kind = {
    .name = "posix-aio",
    .size = sizeof(engine_t),
    .init = paio_init,
    .start = paio_start,
    .flush = paio_flush,
    .cancel = paio_cancel,
    .stop = paio_stop,
    .supports = paio_supports,
    .handle = paio_handle,
};
