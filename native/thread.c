// The `thread` engine: a new native thread for every operation. Shows what concurrency costs
// when every operation pays for creating (and joining) a thread.
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine.h"

typedef struct {
  engine_t base;
  uint32_t running;  // threads started and not yet joined
} thread_engine_t;

static int thread_init(engine_t *e, napi_env env, napi_value options) { return 0; }

static void thread_start(engine_t *e, req_t *r) {
  thread_engine_t *t = (thread_engine_t *)e;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);  // blocking_run needs little; keeps 1000s cheap
  int err = pthread_create(&r->thread, &attr, blocking_thread, r);
  pthread_attr_destroy(&attr);
  if (err) {
    // No thread to be had: the operation fails with the reason rather than blocking the loop.
    r->op = OP_NOP;
    r->result = -err;
    completion_push(e, r);
    return;
  }
  t->running++;
}

static void thread_finished(engine_t *e, req_t *r) {
  if (r->op == OP_NOP && r->result < 0) return;  // never started
  pthread_join(r->thread, NULL);
  ((thread_engine_t *)e)->running--;
}

static void thread_cancel(engine_t *e) {}  // a running syscall cannot be taken back

static void thread_stop(engine_t *e) {
  thread_engine_t *t = (thread_engine_t *)e;
  // Every thread pushes its request before it exits; join them as they arrive.
  while (t->running > 0) {
    completion_drain_pushed(e, 0, DRAIN_ALL);
    if (t->running > 0) usleep(100);
  }
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
