// The `pool` engine: pre-spawned native threads taking operations from one queue. The classic
// server design: no thread creation per operation, two context switches per operation. The JS
// side never queues more than threads + queueDepth operations here; the rest wait there in order.
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "engine.h"

typedef struct {
  engine_t base;
  pthread_mutex_t lock;
  pthread_cond_t work;
  req_t *head, *tail;  // queued, not started
  req_t *batch, *batch_tail;  // started in this submit(), queued at its end (loop thread only)
  uint32_t batch_len;
  uint32_t idle;       // threads waiting for work
  int quit;
  uint32_t nthreads;
  pthread_t *threads;
} pool_engine_t;

// How much lower than the loop thread's the threads' priority is: CFS weighs nice 5 at a third
// of nice 0. Measured here: small readFiles 0 -> 3 -> 5: 147k -> 155k -> 163k files/s; 128 KiB
// reads (the threads copy, the loop thread waits) 5% slower at 5, a fifth at 10: the copies
// yield to every wake-up of the loop thread.
#define POOL_NICE 5

static void *pool_main(void *arg) {
  pool_engine_t *p = arg;
  pthread_setname_np(pthread_self(), "ioengine-pool");  // as top, perf and /proc show it
  thread_interruptible();
  // The loop thread must take every completion and start everything new: where it and these
  // threads want the CPU at once, it goes first (as equals, four threads on two cores left it a
  // fifth of the CPUs). Nothing is held back: the threads run whenever a CPU is free.
  // (0: this thread; errno tells a nice of -1 from a failure.)
  errno = 0;
  int nice = getpriority(PRIO_PROCESS, 0);
  if (errno == 0) setpriority(PRIO_PROCESS, 0, nice + POOL_NICE);
  pthread_mutex_lock(&p->lock);
  for (;;) {
    while (!p->head && !p->quit) {
      p->idle++;
      pthread_cond_wait(&p->work, &p->lock);
      p->idle--;
    }
    if (!p->head) break;  // quit, and nothing left
    req_t *r = p->head;
    p->head = r->next;
    if (!p->head) p->tail = NULL;
    pthread_mutex_unlock(&p->lock);
    blocking_run(r);
    completion_push(&p->base, r);
    pthread_mutex_lock(&p->lock);
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

static int pool_init(engine_t *e, napi_env env, napi_value options) {
  pool_engine_t *p = (pool_engine_t *)e;
  p->nthreads = option_u32(env, options, "threads", 4);
  if (p->nthreads < 1) p->nthreads = 1;
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->work, NULL);
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

// A batch is queued under one lock, and wakes as many idle threads as it has requests (each
// wake-up is a futex call: none for threads that are busy and will come back for more).
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
  if (p->batch_len >= p->idle)
    pthread_cond_broadcast(&p->work);
  else
    for (uint32_t i = 0; i < p->batch_len; i++) pthread_cond_signal(&p->work);
  pthread_mutex_unlock(&p->lock);
  p->batch = p->batch_tail = NULL;
  p->batch_len = 0;
}

// The threads' calls that may wait forever (interrupt.c); idle threads go back to waiting.
static void pool_interrupt(pool_engine_t *p) {
  for (uint32_t i = 0; i < p->nthreads; i++) thread_interrupt(p->threads[i]);
}

// Everything queued but closes (cancelled, their files would stay open: a closing engine cancels
// again while it waits), and the calls running that may wait forever.
static void pool_cancel(engine_t *e) {
  pool_engine_t *p = (pool_engine_t *)e;
  req_t *cancelled = NULL, **last = &cancelled;
  pthread_mutex_lock(&p->lock);
  req_t *kept = NULL, **keep = &kept;
  for (req_t *r = p->head, *next; r; r = next) {
    next = r->next;
    r->next = NULL;
    if (r->op == OP_CLOSE) {
      *keep = r;
      keep = &r->next;
      p->tail = r;
    } else {
      *last = r;
      last = &r->next;
    }
  }
  p->head = kept;
  if (!kept) p->tail = NULL;
  int running = p->idle < p->nthreads;
  pthread_mutex_unlock(&p->lock);
  if (running) pool_interrupt(p);
  while (cancelled) {
    req_t *next = cancelled->next;
    cancelled->result = -ECANCELED;
    completion_push(e, cancelled);
    cancelled = next;
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
  pthread_mutex_lock(&p->lock);  // engine_shutdown cancelled what was queued but closes, which run before quitting
  p->quit = 1;
  pthread_cond_broadcast(&p->work);
  pthread_mutex_unlock(&p->lock);
  // A thread not yet in its call when pool_cancel interrupted it is interrupted again.
  for (uint32_t i = 0; i < p->nthreads; i++) {
    for (;;) {
      // From now each time (timedjoin takes the wall clock): a clock set back or forward meanwhile
      // neither stretches a wait nor makes it spin.
      struct timespec at;
      clock_gettime(CLOCK_REALTIME, &at);
      at.tv_nsec += INTERRUPT_AGAIN_NS;
      if (at.tv_nsec >= 1000000000L) {
        at.tv_sec++;
        at.tv_nsec -= 1000000000L;
      }
      if (pthread_timedjoin_np(p->threads[i], NULL, &at) != ETIMEDOUT) break;
      thread_interrupt(p->threads[i]);
    }
  }
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
