// The `thread` engine: a new native thread for every operation. Shows what concurrency costs
// when every operation pays for creating (and joining) a thread.
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

typedef struct {
  engine_t base;
  req_t **running;  // requests whose thread is started and not yet joined (loop thread only)
  size_t n_running, cap_running;
} thread_engine_t;

// A request's index in `running`, kept in its engine_data (swap-removal moves one). A request
// that was never started has whatever its memory held before: it is running only if found there.
static size_t *slot(req_t *r) { return (size_t *)r->engine_data; }

static int thread_init(engine_t *e, napi_env env, napi_value options) { return 0; }

static void thread_start(engine_t *e, req_t *r) {
  thread_engine_t *t = (thread_engine_t *)e;
  int err = 0;
  if (t->n_running == t->cap_running) {
    size_t cap = t->cap_running ? 2 * t->cap_running : 64;
    req_t **grown = realloc(t->running, cap * sizeof *grown);
    if (grown) {
      t->running = grown;
      t->cap_running = cap;
    } else {
      err = ENOMEM;
    }
  }
  if (!err) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);  // blocking_run needs little; keeps 1000s cheap
    err = pthread_create(&r->thread, &attr, blocking_thread, r);
    pthread_attr_destroy(&attr);
  }
  if (err) {
    // No thread to be had: the operation fails with the reason rather than blocking the loop.
    r->op = OP_NOP;
    r->result = -err;
    completion_push(e, r);
    return;
  }
  *slot(r) = t->n_running;
  t->running[t->n_running++] = r;
}

static void thread_finished(engine_t *e, req_t *r) {
  thread_engine_t *t = (thread_engine_t *)e;
  size_t i = *slot(r);
  if (i >= t->n_running || t->running[i] != r) return;  // never started (refused before start, or no thread)
  pthread_join(r->thread, NULL);
  req_t *last = t->running[--t->n_running];
  t->running[i] = last;
  *slot(last) = i;
}

// A running syscall cannot be taken back, but one that may wait forever can be interrupted.
static void thread_cancel(engine_t *e) {
  thread_engine_t *t = (thread_engine_t *)e;
  for (size_t i = 0; i < t->n_running; i++) thread_interrupt(t->running[i]->thread);
}

static void thread_stop(engine_t *e) {
  thread_engine_t *t = (thread_engine_t *)e;
  // Every thread pushes its request before it exits; join them as they arrive. A thread not yet
  // in its call when thread_cancel interrupted it is interrupted again.
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (t->n_running > 0) {
    completion_drain_pushed(e, 0, DRAIN_ALL);
    if (t->n_running == 0) break;
    usleep(100);
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < INTERRUPT_AGAIN_NS) continue;
    thread_cancel(e);
    start = now;
  }
  free(t->running);
}

static uv_handle_t *thread_handle(engine_t *e) { return (uv_handle_t *)&e->async; }

const engine_kind_t thread_kind = {
    .name = "thread",
    .size = sizeof(thread_engine_t),
    .init = thread_init,
    .start = thread_start,
    .cancel = thread_cancel,
    .stop = thread_stop,
    .finished = thread_finished,
    .handle = thread_handle,
};
