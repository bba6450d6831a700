// The epoll socket engine: nonblocking sockets watched by one epoll instance, level-triggered,
// which the event loop watches through a uv_poll_t on the epoll fd. When epoll says a socket is
// ready, it is accepted from, read from (into one slab, which a large read takes with it to JS) or its
// queued writes go on, all on the loop thread; a wake-up's events go to JS in one call. A write is
// tried at once; what the kernel does not take waits for EPOLLOUT. Level-triggered: a socket with
// more to read than one wake-up's share is simply reported again, so one busy connection cannot
// hold the loop, and events that do not fit this wake-up's array wait for the next.
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "net.h"

#define SLAB 65536          // one read's most (node reads 64 KiB at a time too)
#define READS_PER_SOCKET 4  // per wake-up
#define EPOLL_BATCH 128

typedef struct {
  int epfd;
  uv_poll_t poll;
  js_block_t slab;  // a large read hands it to JS (net_data_block)
} ep_t;

static ep_t *ep(net_t *n) { return n->kind_data; }

// What epoll watches for s: reads while JS wants data (or a listener accepts), writes while some
// wait or a connect is in progress. Nothing wanted: out of epoll, so that a hung-up socket nobody
// reads from does not wake the loop again and again.
static void update(net_t *n, int id) {
  sock_t *s = &n->socks[id];
  uint32_t want = (s->reading || s->listening ? EPOLLIN : 0) | (s->writes || s->connecting ? EPOLLOUT : 0);
  if (want == s->interest && s->in_epoll == (want != 0)) return;
  struct epoll_event ev = { .events = want, .data.u64 = (uint64_t)id };
  if (want == 0) {
    if (s->in_epoll) epoll_ctl(ep(n)->epfd, EPOLL_CTL_DEL, s->fd, NULL);
    s->in_epoll = 0;
  } else if (epoll_ctl(ep(n)->epfd, s->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s->fd, &ev) == 0) {
    s->in_epoll = 1;
  }
  s->interest = want;
}

static void on_accept(net_t *n, int id) {
  for (int i = 0; i < 64 && net_room(n); i++) {
    sock_t *l = net_sock(n, id);
    if (!l) return;
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      if (errno == ECONNABORTED) continue;
      net_accept_failed(n, id, l->fd, -errno);  // the listener goes on, as libuv's
      return;
    }
    int sid = net_new_sock(n, fd);
    if (sid < 0) {
      close(fd);
      return;
    }
    net_set_ref(n, &n->socks[sid], 1);  // an open connection keeps the loop alive, as node's
    net_emit(n, EV_ACCEPT, id, sid, 0);
  }
}

static void on_readable(net_t *n, int id) {
  for (int i = 0; i < READS_PER_SOCKET && net_room(n); i++) {
    sock_t *s = net_sock(n, id);
    if (!s || !s->reading) return;
    ssize_t got = recv(s->fd, ep(n)->slab.data, SLAB, 0);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (got <= 0) {
      s->reading = 0;
      update(n, id);
      net_emit(n, got == 0 ? EV_EOF : EV_ERROR, id, got == 0 ? 0 : -errno, 0);
      return;
    }
    net_data_block(n, id, &ep(n)->slab, SLAB, (size_t)got);
    if (got < SLAB) return;  // the socket is empty for now
  }
}

// Writes what the kernel takes of the socket's queue: 0, or -errno (the queue then fails whole).
static int flush_writes(net_t *n, int id) {
  sock_t *s = &n->socks[id];
  while (s->writes) {
    wq_t *w = s->writes;
    // A write done in an earlier wake-up whose event did not fit then: a send of nothing.
    ssize_t put = net_send(s->fd, w->iov + w->at, w->iovcnt - w->at);
    if (put < 0) return errno == EAGAIN || errno == EINTR ? 0 : -errno;
    if (!net_advance(w, (size_t)put)) return 0;
    if (!net_room(n)) return 0;  // written; its event comes next wake-up
    s->writes = w->next;
    if (!s->writes) s->last = NULL;
    net_emit(n, EV_WRITE, id, w->req, (double)w->done);
    free(w);
  }
  return 0;
}

static void on_writable(net_t *n, int id) {
  sock_t *s = &n->socks[id];
  if (s->connecting) {
    if (!net_room(n)) return;  // still writable next wake-up
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    s->connecting = 0;
    update(n, id);
    net_emit(n, EV_CONNECT, id, -err, 0);
    return;
  }
  int err = flush_writes(n, id);
  while (err < 0 && s->writes && net_room(n)) {
    wq_t *w = s->writes;
    s->writes = w->next;
    net_emit(n, EV_WRITE, id, w->req, err);
    free(w);
  }
  if (!s->writes) s->last = NULL;
  update(n, id);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  net_t *n = h->data;
  struct epoll_event ready[EPOLL_BATCH];
  int count = epoll_wait(ep(n)->epfd, ready, EPOLL_BATCH, 0);
  napi_handle_scope scope;
  if (count <= 0 || !net_begin(n, &scope)) return;
  for (int i = 0; i < count; i++) {
    int id = (int)ready[i].data.u64;
    sock_t *s = net_sock(n, id);
    if (!s) continue;
    uint32_t ev = ready[i].events;
    if (s->listening) {
      on_accept(n, id);
      continue;
    }
    if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP) && (s->connecting || s->writes)) on_writable(n, id);
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP) && n->socks[id].reading) on_readable(n, id);
  }
  net_end(n, scope);
}

static int ep_init(net_t *n, napi_env env) {
  ep_t *e = calloc(1, sizeof *e);
  if (!e) return -ENOMEM;
  e->epfd = epoll_create1(EPOLL_CLOEXEC);
  int slab = js_block_new(&e->slab, SLAB);
  if (e->epfd < 0 || slab < 0) {
    int err = e->epfd < 0 ? -errno : -ENOMEM;
    if (e->epfd >= 0) close(e->epfd);
    if (slab == 0) js_block_free(&e->slab);
    free(e);
    return err;
  }
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  uv_poll_init(loop, &e->poll, e->epfd);
  e->poll.data = n;
  uv_poll_start(&e->poll, UV_READABLE, on_poll);
  n->kind_data = e;
  n->watcher = (uv_handle_t *)&e->poll;
  return 0;
}

static int ep_listening(net_t *n, int id) {
  update(n, id);
  return n->socks[id].in_epoll ? 0 : -errno;
}

static int ep_connect(net_t *n, int id, const struct sockaddr *addr, socklen_t len) {
  if (connect(n->socks[id].fd, addr, len) < 0 && errno != EINPROGRESS) return -errno;
  n->socks[id].connecting = 1;  // also when connected at once: EPOLLOUT comes straight away
  update(n, id);
  return 0;
}

static int ep_read(net_t *n, int id, int on) {
  n->socks[id].reading = on;
  update(n, id);
  return 0;
}

static int ep_queued(net_t *n, int id) {
  update(n, id);  // EPOLLOUT: the queue goes on when the socket can take more
  return 0;
}

static int ep_close(net_t *n, int id) {
  sock_t *s = &n->socks[id];
  if (s->in_epoll) epoll_ctl(ep(n)->epfd, EPOLL_CTL_DEL, s->fd, NULL);
  s->in_epoll = 0;
  close(s->fd);
  net_free_writes(s);  // writev is done with them: JS may let go of the buffers now
  return 0;
}

static void on_closed(uv_handle_t *h) {
  net_t *n = h->data;
  close(ep(n)->epfd);
  js_block_free(&ep(n)->slab);
  free(n->kind_data);
  net_free(n);
}

static void ep_stop(net_t *n) {
  for (int i = 0; i < n->nsocks; i++)
    if (n->socks[i].fd >= 0) {
      close(n->socks[i].fd);
      n->socks[i].fd = SLOT_FREE;
    }
  uv_poll_stop(&ep(n)->poll);
  uv_close((uv_handle_t *)&ep(n)->poll, on_closed);  // the epoll fd is closed there, after the handle
}

const net_kind_t net_epoll_kind = {
    .name = "epoll", .init = ep_init, .listening = ep_listening, .connect = ep_connect, .read = ep_read,
    .queued = ep_queued, .close = ep_close, .stop = ep_stop,
};
