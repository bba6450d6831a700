// Completion plumbing shared by every native engine: request records, the hand-off from worker
// threads to the loop thread (one coalesced uv_async_send wake-up for many completions), and
// delivery to JS in batches through the completion array.
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine.h"

req_t *req_alloc(engine_t *e) {
  req_t *r = e->free_reqs;
  if (r) {
    e->free_reqs = r->next;
  } else {
    r = malloc(sizeof *r);
    if (!r) return NULL;
  }
  r->next = NULL;
  r->engine = e;
  r->iov = r->iov1;
  r->iovcnt = 0;
  r->cancel_sent = 0;
  r->path = r->path2 = NULL;
  r->stat = NULL;
  r->result = 0;
  return r;
}

void req_free(engine_t *e, req_t *r) {
  if (r->iov != r->iov1) free(r->iov);
  r->iov = r->iov1;
  r->next = e->free_reqs;
  e->free_reqs = r;
}

void completion_push(engine_t *e, req_t *r) {
  r->next = NULL;
  pthread_mutex_lock(&e->done_lock);
  int was_empty = e->done_head == NULL;
  if (e->done_tail)
    e->done_tail->next = r;
  else
    e->done_head = r;
  e->done_tail = r;
  // uv_async_send coalesces, but skipping it when a wake-up is already pending saves a write().
  // Under the lock: once stop() has drained the list, no pushing thread touches the engine again
  // (posix-aio's and linux-aio's helper threads are never joined).
  if (was_empty) uv_async_send(&e->async);
  pthread_mutex_unlock(&e->done_lock);
}

int completion_full(engine_t *e) { return e->ncomp >= e->comp_cap; }

void completion_note(engine_t *e, const req_t *r) {
  e->comp[2 * e->ncomp] = r->id;
  e->comp[2 * e->ncomp + 1] = (double)r->result;
  e->ncomp++;
}

room_t completion_make_room(engine_t *e, int deliver) {
  if (!deliver) {
    e->ncomp = 0;
    return ROOM_MADE;
  }
  if (e->in_js_call) return ROOM_LATER;
  completion_deliver(e);
  return e->destroy_requested ? ROOM_GONE : ROOM_MADE;
}

void completion_record(engine_t *e, req_t *r) {
  // An open that completes while shutting down: nobody will get the fd, so do not leak it.
  if (r->op == OP_OPEN && r->result >= 0) {
    if (e->draining) close((int)r->result);
    else engine_file_opened(e, (int)r->result);
  }
  // Likewise a file a readFile hands back (blocking.c): this engine's, as an open's, until the
  // engine that runs its close takes it (js_adopt).
  int64_t handed = r->op == OP_READFILE ? r->result - (int64_t)r->iov[0].iov_len - 2 : -1;
  if (handed >= 0) {
    if (e->draining) close((int)handed);
    else engine_file_opened(e, (int)handed);
  }
  completion_note(e, r);
  e->inflight--;
  if (r->id < e->by_id_cap && e->by_id[r->id] == r) e->by_id[r->id] = NULL;
  req_free(e, r);
}

void completion_deliver(engine_t *e) {
  if (e->ncomp == 0 || e->stopping) return;
  napi_env env = e->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, argv[1], result;
  size_t n = e->ncomp;
  e->ncomp = 0;  // JS consumes the pairs before this call returns; reset before it can submit
  napi_get_reference_value(env, e->on_complete, &fn);
  napi_get_global(env, &recv);  // make_callback wants an object
  napi_create_uint32(env, (uint32_t)n, &argv[0]);
  // make_callback (not call_function): microtasks and nextTicks run when it returns, so the
  // promises just settled continue in this same wake-up.
  e->delivering++;
  napi_status status = napi_make_callback(env, e->async_context, recv, fn, 1, argv, &result);
  e->delivering--;
  if (status == napi_pending_exception) {
    // A throw from the completion callback is the program's uncaught exception, not ours to keep.
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
}

int completion_destroyed(engine_t *e) {
  if (!e->destroy_requested) return 0;
  if (e->delivering == 0 && !e->stopping) engine_shutdown(e, 1);
  return 1;
}

int completion_deliver_unless_destroyed(engine_t *e) {
  if (completion_destroyed(e)) return 1;
  completion_deliver(e);
  return completion_destroyed(e);
}

void signal_eventfd(int fd) {
  uint64_t one = 1;
  while (write(fd, &one, sizeof one) < 0 && errno == EINTR) {}
}

unsigned completion_drain_pushed(engine_t *e, int deliver, unsigned max) {
  pthread_mutex_lock(&e->done_lock);
  req_t *r = e->done_head;
  if (max == DRAIN_ALL || !r) {
    e->done_head = e->done_tail = NULL;
  } else {
    req_t *last = r;
    for (unsigned n = 1; n < max && last->next; n++) last = last->next;
    e->done_head = last->next;
    if (!e->done_head) e->done_tail = NULL;
    last->next = NULL;
  }
  pthread_mutex_unlock(&e->done_lock);
  unsigned n = 0;
  while (r) {
    if (completion_full(e) && completion_make_room(e, deliver) != ROOM_MADE) {
      // Put the rest back for the next wake-up, or for stop() to find, and unwind.
      pthread_mutex_lock(&e->done_lock);
      req_t *last = r;
      while (last->next) last = last->next;
      last->next = e->done_head;
      if (!e->done_head) e->done_tail = last;
      e->done_head = r;
      pthread_mutex_unlock(&e->done_lock);
      return n;
    }
    req_t *next = r->next;
    if (e->kind->finished) e->kind->finished(e, r);
    completion_record(e, r);
    n++;
    r = next;
  }
  return n;
}

void completion_update_ref(engine_t *e) {
  uv_handle_t *h = e->kind->handle(e);
  if (!h) return;
  if (e->inflight > 0 && !e->referenced) {
    uv_ref(h);
    e->referenced = 1;
  } else if (e->inflight == 0 && e->referenced) {
    uv_unref(h);
    e->referenced = 0;
  }
}

// Worker threads' completions, in rounds that ramp up as a kernel queue's do (see ramp_budget):
// JS starts new work after each round, which the threads take while the next is delivered. Handed
// over all at once, the threads wait for JS to finish with all of them, then JS waits for the
// threads (readFile of small files on the pool: both sides a third idle). At most a turn's
// budget, then the rest after the loop's other work.
static void on_async(uv_async_t *a) {
  engine_t *e = a->data;
  if (e->stopping) return;
  uint64_t start = uv_hrtime();
  for (unsigned max = RAMP_FIRST; completion_drain_pushed(e, 1, max) > 0; max = ramp_budget(max)) {
    if (completion_deliver_unless_destroyed(e)) return;
    if (uv_hrtime() - start >= TURN_BUDGET_NS) {
      uv_async_send(&e->async);
      break;
    }
  }
  completion_update_ref(e);
}

void completion_init(engine_t *e) {
  pthread_mutex_init(&e->done_lock, NULL);
  uv_async_init(e->loop, &e->async, on_async);
  e->async.data = e;
  uv_unref((uv_handle_t *)&e->async);
}

int completion_deliver_for_a_turn(engine_t *e, unsigned (*reap)(engine_t *e, unsigned max), int event_fd) {
  uint64_t start = uv_hrtime();
  for (unsigned max = RAMP_FIRST; reap(e, max) > 0; max = ramp_budget(max)) {
    if (completion_deliver_unless_destroyed(e)) return 1;
    if (uv_hrtime() - start >= TURN_BUDGET_NS) {
      signal_eventfd(event_fd);  // the rest after the loop's other work
      break;
    }
  }
  return 0;
}
