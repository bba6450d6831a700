// The `pool` engine: pre-spawned native threads taking operations from one queue. The classic
// server design: no thread creation per operation, two context switches per operation. The JS
// side never queues more than threads + queueDepth operations here; the rest wait there in order.
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

typedef struct {
  engine_t base;
  pthread_mutex_t lock;
  pthread_cond_t work;
  req_t *head, *tail;  // queued, not started
  req_t *batch, *batch_tail;  // started in this submit(), queued at its end (loop thread only)
  uint32_t batch_len;
  uint32_t idle;       // threads waiting for work
  uint32_t running;    // threads running a request
  uint32_t cores;      // CPUs this process may run on
  int behind;          // the loop thread had completions still to take at the last push
  int watching;        // an idle thread wakes now and then to see that the queue moves
  uint64_t avg_ns;     // how long a request takes, on average of the last few
  uint64_t finished;   // requests done, ever (the watcher's measure of progress)
  int quit;
  uint32_t nthreads;
  pthread_t *threads;
} pool_engine_t;

// Requests that take less than this run on the CPU all along (cached reads, stat, open): more
// threads than cores only take turns on them, and the loop thread, which must take every
// completion, waits its turn too. Slower ones wait for a device: those overlap on every thread.
#define CPU_BOUND_NS 50000u
// A queue that has not moved for this long (its requests blocked: a FIFO's open) gets another thread.
#define STALL_NS 1000000u

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

// How many threads may run requests at once. Requests that wait for a device: all of them. Ones
// that run on the CPU: one per core, less the loop thread's while it is behind with their
// completions (readFile of small files here: a third faster with one thread than with four,
// where the loop thread had a fifth of the CPUs; 128 KiB reads of a loop that keeps up: fastest
// with one per core). Under the lock.
static uint32_t pool_limit(const pool_engine_t *p) {
  if (p->avg_ns >= CPU_BOUND_NS) return p->nthreads;
  uint32_t n = p->cores > 1 && p->behind ? p->cores - 1 : p->cores;
  return n < p->nthreads ? n : p->nthreads;
}

static void *pool_main(void *arg) {
  pool_engine_t *p = arg;
  pthread_setname_np(pthread_self(), "ioengine-pool");  // as top, perf and /proc show it
  pthread_mutex_lock(&p->lock);
  for (;;) {
    int stalled = 0;
    while (!p->quit && !(p->head && (p->running < pool_limit(p) || stalled))) {
      p->idle++;
      if (p->head && !p->watching) {
        // Queued work this thread may not start yet: it looks again in a while, and starts it
        // then if nothing has finished meanwhile (those running are blocked).
        uint64_t seen = p->finished;
        uint64_t at = now_ns() + STALL_NS;
        struct timespec until = {(time_t)(at / 1000000000u), (long)(at % 1000000000u)};
        p->watching = 1;
        pthread_cond_timedwait(&p->work, &p->lock, &until);
        p->watching = 0;
        stalled = p->finished == seen && now_ns() >= at;
      } else {
        pthread_cond_wait(&p->work, &p->lock);
      }
      p->idle--;
    }
    if (!p->head) break;  // quit, and nothing left
    req_t *r = p->head;
    p->head = r->next;
    if (!p->head) p->tail = NULL;
    p->running++;
    // More queued and a thread idle: it takes the next when there is room (flush wakes no more
    // than may start), or watches the queue when nobody does.
    if (p->head && p->idle > 0 && (p->running < pool_limit(p) || !p->watching)) pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->lock);
    uint64_t start = now_ns();
    blocking_run(r);
    uint64_t took = now_ns() - start;
    int caught_up = completion_push(&p->base, r);
    pthread_mutex_lock(&p->lock);
    p->running--;
    p->finished++;
    p->behind = !caught_up;
    p->avg_ns = (p->avg_ns * 7 + took) / 8;
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

static int pool_init(engine_t *e, napi_env env, napi_value options) {
  pool_engine_t *p = (pool_engine_t *)e;
  p->nthreads = option_u32(env, options, "threads", 4);
  if (p->nthreads < 1) p->nthreads = 1;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  p->cores = cores > 0 ? (uint32_t)cores : 1;
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);  // the watcher's deadline (now_ns)
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->work, &attr);
  pthread_condattr_destroy(&attr);
  p->threads = calloc(p->nthreads, sizeof *p->threads);
  if (!p->threads) return -ENOMEM;
  for (uint32_t i = 0; i < p->nthreads; i++) {
    int err = pthread_create(&p->threads[i], NULL, pool_main, p);
    if (err) {
      pthread_mutex_lock(&p->lock);
      p->quit = 1;
      pthread_cond_broadcast(&p->work);
      pthread_mutex_unlock(&p->lock);
      for (uint32_t j = 0; j < i; j++) pthread_join(p->threads[j], NULL);
      free(p->threads);
      return -err;
    }
  }
  return 0;
}

// A batch is queued under one lock, and wakes as many idle threads as may start one of its
// requests (each wake-up is a futex call: none for threads that are busy and will come back for
// more), or one to watch the queue.
static void pool_start(engine_t *e, req_t *r) {
  pool_engine_t *p = (pool_engine_t *)e;
  r->next = NULL;
  if (p->batch_tail)
    p->batch_tail->next = r;
  else
    p->batch = r;
  p->batch_tail = r;
  p->batch_len++;
}

static void pool_flush(engine_t *e) {
  pool_engine_t *p = (pool_engine_t *)e;
  if (!p->batch) return;
  pthread_mutex_lock(&p->lock);
  if (p->tail)
    p->tail->next = p->batch;
  else
    p->head = p->batch;
  p->tail = p->batch_tail;
  uint32_t limit = pool_limit(p), wake = limit > p->running ? limit - p->running : 0;
  if (wake > p->batch_len) wake = p->batch_len;
  if (wake == 0 && !p->watching) wake = 1;
  if (wake >= p->idle)
    pthread_cond_broadcast(&p->work);
  else
    for (uint32_t i = 0; i < wake; i++) pthread_cond_signal(&p->work);
  pthread_mutex_unlock(&p->lock);
  p->batch = p->batch_tail = NULL;
  p->batch_len = 0;
}

static void pool_cancel(engine_t *e) {
  pool_engine_t *p = (pool_engine_t *)e;
  pthread_mutex_lock(&p->lock);
  req_t *r = p->head;
  p->head = p->tail = NULL;
  pthread_mutex_unlock(&p->lock);
  while (r) {
    req_t *next = r->next;
    r->result = -ECANCELED;
    completion_push(e, r);
    r = next;
  }
}

static void pool_cancel_one(engine_t *e, req_t *target) {
  pool_engine_t *p = (pool_engine_t *)e;
  int found = 0;
  pthread_mutex_lock(&p->lock);
  for (req_t **at = &p->head, *prev = NULL; *at; prev = *at, at = &(*at)->next) {
    if (*at != target) continue;
    *at = target->next;
    if (p->tail == target) p->tail = prev;
    found = 1;
    break;
  }
  pthread_mutex_unlock(&p->lock);
  if (!found) return;  // already running: it completes as usual
  target->result = -ECANCELED;
  completion_push(e, target);
}

static void pool_stop(engine_t *e) {
  pool_engine_t *p = (pool_engine_t *)e;
  pthread_mutex_lock(&p->lock);  // queued requests were cancelled by engine_shutdown already
  p->quit = 1;
  pthread_cond_broadcast(&p->work);
  pthread_mutex_unlock(&p->lock);
  for (uint32_t i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
  free(p->threads);
  pthread_cond_destroy(&p->work);
  pthread_mutex_destroy(&p->lock);
}

static uv_handle_t *pool_handle(engine_t *e) { return (uv_handle_t *)&e->async; }

const engine_kind_t pool_kind = {
    .name = "pool",
    .size = sizeof(pool_engine_t),
    .init = pool_init,
    .start = pool_start,
    .flush = pool_flush,
    .cancel = pool_cancel,
    .cancel_one = pool_cancel_one,
    .stop = pool_stop,
    .handle = pool_handle,
};
