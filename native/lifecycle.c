// An engine's life after create(): the JS handle (a box that outlives the engine it points to),
// and shutdown: cancel, wait for every operation, close the loop handles, free. Shutdown runs
// from JS (destroy) or from the environment's async cleanup hook, so a process exiting or a
// worker_thread terminated with operations in flight waits for them first.
#include <stdlib.h>
#include <unistd.h>

#include "addon.h"

engine_t *engine_unbox(napi_env env, napi_value v) {
  handle_box_t *box;
  if (napi_get_value_external(env, v, (void **)&box) != napi_ok || !box) return NULL;
  return box->engine;
}

void engine_file_opened(engine_t *e, int fd) {
  inline_fd_changed(e, fd, 1);
  if (e->n_open_fds == e->cap_open_fds) {
    size_t cap = e->cap_open_fds ? 2 * e->cap_open_fds : 16;
    int *grown = realloc(e->open_fds, cap * sizeof *grown);
    if (!grown) return;  // this one is not closed for JS at the end; nothing else is lost
    e->open_fds = grown;
    e->cap_open_fds = cap;
  }
  e->open_fds[e->n_open_fds++] = fd;
}

void engine_file_closing(engine_t *e, int fd) {
  inline_fd_changed(e, fd, 0);
  for (size_t i = 0; i < e->n_open_fds; i++) {
    if (e->open_fds[i] != fd) continue;
    e->open_fds[i] = e->open_fds[--e->n_open_fds];
    return;
  }
}

static void free_engine(engine_t *e) {
  while (e->free_reqs) {
    req_t *r = e->free_reqs;
    e->free_reqs = r->next;
    free(r);
  }
  pthread_mutex_destroy(&e->done_lock);
  free(e->by_id);
  free(e->open_fds);
  free(e->fd_kind);
  inline_free(e);
  napi_async_cleanup_hook_handle hook = e->cleanup;
  free(e);
  napi_remove_async_cleanup_hook(hook);
}

static void on_handle_closed(uv_handle_t *h) {
  engine_t *e = h->data;
  if (--e->open_handles == 0) free_engine(e);
}

void engine_cancel_all(engine_t *e) {
  __atomic_store_n(&e->cancelled, 1, __ATOMIC_SEQ_CST);  // before any thread is interrupted
  e->kind->cancel(e);
}

// Stop the engine: cancel, wait for every operation, then close its loop handles. Memory is
// freed when the last handle's close callback has run.
void engine_shutdown(engine_t *e, int from_js) {
  if (e->stopping) return;
  e->draining = 1;
  engine_cancel_all(e);
  e->kind->stop(e);
  e->stopping = 1;
  completion_drain_pushed(e, 0, DRAIN_ALL);
  // The environment is going with files still open (a worker terminated): nobody will close them.
  if (!from_js) for (size_t i = 0; i < e->n_open_fds; i++) close(e->open_fds[i]);
  e->n_open_fds = 0;
  if (from_js) {
    napi_delete_reference(e->env, e->on_complete);
    napi_delete_reference(e->env, e->sub_ref);
    napi_delete_reference(e->env, e->comp_ref);
    napi_async_destroy(e->env, e->async_context);
  }
  if (e->box) e->box->engine = NULL;
  e->box = NULL;
  uv_handle_t *own = e->kind->handle(e);
  e->open_handles = 1;
  uv_close((uv_handle_t *)&e->async, on_handle_closed);
  if (own && own != (uv_handle_t *)&e->async) {
    e->open_handles++;
    own->data = e;
    uv_close(own, on_handle_closed);
  }
}

void engine_on_env_cleanup(napi_async_cleanup_hook_handle hook, void *arg) { engine_shutdown(arg, 0); }

void engine_on_box_finalize(napi_env env, void *data, void *hint) {
  handle_box_t *box = data;
  if (box->engine) box->engine->box = NULL;  // the engine lives on until cleanup
  free(box);
}
