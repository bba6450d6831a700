// The epoll socket engine: nonblocking TCP sockets watched by one epoll instance, level-triggered,
// which the event loop watches through a uv_poll_t on the epoll fd. Everything runs on the loop
// thread: when epoll says a socket is ready, it is accepted from, read from (into one slab, copied
// out into a Buffer per read) or its queued writes go on; what happened goes to JS in one call per
// wake-up, as (event, socket, a, b) records plus the bytes read. A write is tried at once; what
// the kernel does not take waits for EPOLLOUT, pointing into buffers JS keeps until its WRITE
// event. Level-triggered: a socket with more to read than one wake-up's budget is simply reported
// again, so one busy connection cannot hold the loop.
//
// Sockets are numbered by this engine (their index in a table), not by fd, so that a socket closed
// and a new one given the same fd are never confused by events already on their way to JS.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "addon.h"

// Events JS receives, four doubles each: (type, socket, a, b). Same numbers in src/net/native.ts.
enum { EV_ACCEPT = 1, EV_DATA, EV_EOF, EV_ERROR, EV_WRITE, EV_CONNECT };
// Options for setOption(): same numbers in src/net/native.ts.
enum { OPT_NODELAY = 1, OPT_KEEPALIVE };

#define SLAB 65536          // one read's most (node reads 64 KiB at a time too)
#define READS_PER_SOCKET 4  // per wake-up; level-triggered epoll reports the rest next time
#define EPOLL_BATCH 128

typedef struct wq {
  struct wq *next;
  double req;         // JS's number for this write
  struct iovec *iov;  // into JS buffers, referenced by JS until the WRITE event
  int iovcnt, at;     // iov[at] is the first not fully written
  size_t done;
} wq_t;

typedef struct sock {
  int fd;             // -1: the slot is free
  int listening, connecting, reading, in_epoll, refed;
  uint32_t interest;
  wq_t *writes, *last;
} sock_t;

typedef struct net {
  napi_env env;
  uv_poll_t poll;
  int epfd, closed, delivering, refs, cooling;
  napi_ref on_events, events_ref;
  napi_async_context async_context;
  napi_async_cleanup_hook_handle cleanup;
  double *ev;         // JS's Float64Array of events
  size_t ev_cap, nev;
  napi_value bufs;    // this wake-up's Buffers, by DATA event order (valid inside a handle scope)
  uint32_t nbufs;
  sock_t *socks;
  int nsocks, cap;
  unsigned char slab[SLAB];
} net_t;

typedef struct { net_t *net; } net_box_t;

#define CHECK(call)                                                          \
  do {                                                                       \
    if ((call) != napi_ok) {                                                 \
      napi_throw_error(env, "ERR_IOENGINE_NATIVE", "N-API call failed: " #call); \
      return NULL;                                                           \
    }                                                                        \
  } while (0)

static napi_value num(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

// ---- sockets ----

// A slot closed while JS takes a wake-up's events stays unused (fd -2) until that is over: the
// events after it in the same delivery must not reach a new socket given its number.
#define SLOT_FREE -1
#define SLOT_COOLING -2

static int new_sock(net_t *n, int fd) {
  int id = 0;
  while (id < n->nsocks && n->socks[id].fd != SLOT_FREE) id++;
  if (id == n->nsocks) {
    if (n->nsocks == n->cap) {
      int cap = n->cap ? 2 * n->cap : 64;
      sock_t *grown = realloc(n->socks, cap * sizeof *grown);
      if (!grown) return -ENOMEM;
      n->socks = grown;
      n->cap = cap;
    }
    n->nsocks++;
  }
  n->socks[id] = (sock_t){ .fd = fd };
  return id;
}

static sock_t *sock_of(net_t *n, int64_t id) {
  return id >= 0 && id < n->nsocks && n->socks[id].fd >= 0 ? &n->socks[id] : NULL;
}

static void set_ref(net_t *n, sock_t *s, int ref) {
  if (s->refed == ref) return;
  s->refed = ref;
  n->refs += ref ? 1 : -1;
  if (n->refs > 0) uv_ref((uv_handle_t *)&n->poll);
  else uv_unref((uv_handle_t *)&n->poll);
}

// What epoll watches for s: reads while JS wants data (or a listener accepts), writes while some
// wait or a connect is in progress. Nothing wanted: out of epoll, so that a hung-up socket nobody
// reads from does not wake the loop again and again.
static void update(net_t *n, sock_t *s) {
  uint32_t want = (s->reading || s->listening ? EPOLLIN : 0) | (s->writes || s->connecting ? EPOLLOUT : 0);
  if (want == s->interest && s->in_epoll == (want != 0)) return;
  struct epoll_event ev = { .events = want, .data.u64 = (uint64_t)(s - n->socks) };
  if (want == 0) {
    if (s->in_epoll) epoll_ctl(n->epfd, EPOLL_CTL_DEL, s->fd, NULL);
    s->in_epoll = 0;
  } else if (epoll_ctl(n->epfd, s->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s->fd, &ev) == 0) {
    s->in_epoll = 1;
  }
  s->interest = want;
}

static void free_writes(sock_t *s) {
  while (s->writes) {
    wq_t *w = s->writes;
    s->writes = w->next;
    free(w);
  }
  s->last = NULL;
}

static void close_sock(net_t *n, sock_t *s) {
  if (s->in_epoll) epoll_ctl(n->epfd, EPOLL_CTL_DEL, s->fd, NULL);
  close(s->fd);
  free_writes(s);
  set_ref(n, s, 0);
  s->fd = n->delivering ? SLOT_COOLING : SLOT_FREE;
  n->cooling += n->delivering ? 1 : 0;
}

// ---- events to JS ----

static void emit(net_t *n, int type, int id, double a, double b) {
  double *e = &n->ev[4 * n->nev++];
  e[0] = type;
  e[1] = id;
  e[2] = a;
  e[3] = b;
}

static void deliver(net_t *n) {
  if (n->nev == 0 || n->closed) return;
  napi_env env = n->env;
  napi_value fn, recv, argv[2], result;
  napi_get_reference_value(env, n->on_events, &fn);
  napi_get_global(env, &recv);
  napi_create_uint32(env, (uint32_t)n->nev, &argv[0]);
  argv[1] = n->bufs;
  n->nev = 0;  // JS reads the events before this call returns
  n->delivering++;
  // make_callback: microtasks and nextTicks run when it returns, in this same wake-up.
  napi_status status = napi_make_callback(env, n->async_context, recv, fn, 2, argv, &result);
  n->delivering--;
  if (status == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
}

// Room for one more event. When the events are full the rest waits: epoll is level-triggered, so
// whatever is still ready is reported on the next wake-up. No JS runs while a wake-up is being
// worked through, so no socket changes under it.
static int room(net_t *n) { return n->nev + 1 < n->ev_cap; }

// ---- readiness ----

static void on_accept(net_t *n, int id) {
  for (int i = 0; i < 64 && room(n); i++) {
    sock_t *l = sock_of(n, id);
    if (!l) return;
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
      // Out of descriptors (EMFILE) or memory: the listener stops, and says why.
      l->listening = 0;
      update(n, l);
      emit(n, EV_ERROR, id, -errno, 0);
      return;
    }
    int sid = new_sock(n, fd);
    if (sid < 0) {
      close(fd);
      return;
    }
    set_ref(n, &n->socks[sid], 1);  // an open connection keeps the loop alive, as node's
    emit(n, EV_ACCEPT, id, sid, 0);
  }
}

static void on_readable(net_t *n, int id) {
  for (int i = 0; i < READS_PER_SOCKET && room(n); i++) {
    sock_t *s = sock_of(n, id);
    if (!s || !s->reading) return;
    ssize_t got = recv(s->fd, n->slab, SLAB, 0);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (got <= 0) {
      s->reading = 0;
      update(n, s);
      emit(n, got == 0 ? EV_EOF : EV_ERROR, id, got == 0 ? 0 : -errno, 0);
      return;
    }
    napi_value buf;
    if (napi_create_buffer_copy(n->env, (size_t)got, n->slab, NULL, &buf) != napi_ok) return;
    napi_set_element(n->env, n->bufs, n->nbufs++, buf);
    emit(n, EV_DATA, id, (double)got, 0);
    if (got < SLAB) return;  // the socket is empty for now
  }
}

// Writes what the kernel takes of s's queue; returns -errno on failure, else 0.
static int flush_writes(net_t *n, int id) {
  sock_t *s = sock_of(n, id);
  while (s && s->writes) {
    wq_t *w = s->writes;
    ssize_t put = writev(s->fd, w->iov + w->at, w->iovcnt - w->at);
    if (put < 0) return errno == EAGAIN || errno == EINTR ? 0 : -errno;
    w->done += (size_t)put;
    while (w->at < w->iovcnt && (size_t)put >= w->iov[w->at].iov_len) put -= (ssize_t)w->iov[w->at++].iov_len;
    if (w->at < w->iovcnt) {
      w->iov[w->at].iov_base = (char *)w->iov[w->at].iov_base + put;
      w->iov[w->at].iov_len -= (size_t)put;
      return 0;
    }
    if (!room(n)) return 0;  // written; its event comes with the next wake-up (writev of nothing)
    s->writes = w->next;
    if (!s->writes) s->last = NULL;
    emit(n, EV_WRITE, id, w->req, (double)w->done);
    free(w);
  }
  return 0;
}

static void on_writable(net_t *n, int id) {
  sock_t *s = sock_of(n, id);
  if (s->connecting) {
    if (!room(n)) return;  // still writable next wake-up
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    s->connecting = 0;
    update(n, s);
    emit(n, EV_CONNECT, id, -err, 0);
    return;
  }
  int err = flush_writes(n, id);
  if (err < 0) {
    // The queue fails whole: each write says so, the first with the error.
    while (s->writes && room(n)) {
      wq_t *w = s->writes;
      s->writes = w->next;
      emit(n, EV_WRITE, id, w->req, err);
      free(w);
    }
    if (!s->writes) s->last = NULL;
  }
  update(n, s);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  net_t *n = h->data;
  struct epoll_event ready[EPOLL_BATCH];
  int count = epoll_wait(n->epfd, ready, EPOLL_BATCH, 0);
  if (count <= 0) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(n->env, &scope) != napi_ok) return;
  napi_create_array(n->env, &n->bufs);
  n->nbufs = 0;
  for (int i = 0; i < count && !n->closed; i++) {
    int id = (int)ready[i].data.u64;
    sock_t *s = sock_of(n, id);
    if (!s) continue;  // closed by JS earlier in this wake-up
    uint32_t ev = ready[i].events;
    if (s->listening) {
      on_accept(n, id);
      continue;
    }
    if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP) && (s->connecting || s->writes)) on_writable(n, id);
    if ((s = sock_of(n, id)) && ev & (EPOLLIN | EPOLLERR | EPOLLHUP) && s->reading) on_readable(n, id);
  }
  deliver(n);
  for (int i = 0; n->cooling > 0 && !n->closed && i < n->nsocks; i++)
    if (n->socks[i].fd == SLOT_COOLING) n->socks[i].fd = SLOT_FREE, n->cooling--;
  napi_close_handle_scope(n->env, scope);
}

// ---- lifecycle ----

static void on_poll_closed(uv_handle_t *h) {
  net_t *n = h->data;
  napi_async_cleanup_hook_handle hook = n->cleanup;
  free(n->socks);
  free(n);
  napi_remove_async_cleanup_hook(hook);
}

static void shutdown_net(net_t *n, int from_js) {
  if (n->closed) return;
  n->closed = 1;
  for (int i = 0; i < n->nsocks; i++)
    if (n->socks[i].fd >= 0) close_sock(n, &n->socks[i]);
  close(n->epfd);
  if (from_js) {
    napi_delete_reference(n->env, n->on_events);
    napi_delete_reference(n->env, n->events_ref);
    napi_async_destroy(n->env, n->async_context);
  }
  uv_poll_stop(&n->poll);
  uv_close((uv_handle_t *)&n->poll, on_poll_closed);
}

static void on_env_cleanup(napi_async_cleanup_hook_handle hook, void *arg) { shutdown_net(arg, 0); }

static void on_box_finalize(napi_env env, void *data, void *hint) { free(data); }

static net_t *unbox(napi_env env, napi_value v) {
  net_box_t *box;
  if (napi_get_value_external(env, v, (void **)&box) != napi_ok || !box || !box->net || box->net->closed) return NULL;
  return box->net;
}

// netCreate(onEvents(count, buffers), events: Float64Array) -> handle, or -errno
static napi_value js_create(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *data;
  size_t len;
  if (bytes_of(env, argv[1], &data, &len) < 0 || len < 64 * 4 * sizeof(double)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "events must be a Float64Array of 64 events or more");
    return NULL;
  }
  net_t *n = calloc(1, sizeof *n);
  if (!n) return num(env, -ENOMEM);
  n->env = env;
  n->ev = (double *)data;
  n->ev_cap = len / (4 * sizeof(double));
  n->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (n->epfd < 0) {
    int err = -errno;
    free(n);
    return num(env, err);
  }
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  uv_poll_init(loop, &n->poll, n->epfd);
  n->poll.data = n;
  uv_poll_start(&n->poll, UV_READABLE, on_poll);
  uv_unref((uv_handle_t *)&n->poll);  // only sockets keep the loop alive (set_ref)
  napi_value name;
  CHECK(napi_create_string_utf8(env, "ioengine:net", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, NULL, name, &n->async_context));
  CHECK(napi_create_reference(env, argv[0], 1, &n->on_events));
  CHECK(napi_create_reference(env, argv[1], 1, &n->events_ref));
  CHECK(napi_add_async_cleanup_hook(env, on_env_cleanup, n, &n->cleanup));
  net_box_t *box = malloc(sizeof *box);
  if (!box) return num(env, -ENOMEM);
  box->net = n;
  CHECK(napi_create_external(env, box, on_box_finalize, NULL, &result));
  return result;
}

// An address from JS: family (4 or 6), numeric address, port.
static int sockaddr_of(napi_env env, napi_value fam, napi_value addr, napi_value port, struct sockaddr_storage *ss, socklen_t *len) {
  int32_t family, p;
  char text[64];
  size_t n;
  if (napi_get_value_int32(env, fam, &family) != napi_ok || napi_get_value_int32(env, port, &p) != napi_ok ||
      napi_get_value_string_utf8(env, addr, text, sizeof text, &n) != napi_ok)
    return -EINVAL;
  memset(ss, 0, sizeof *ss);
  if (family == 6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)p);
    if (inet_pton(AF_INET6, text, &a->sin6_addr) != 1) return -EINVAL;
    *len = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)p);
    if (inet_pton(AF_INET, text, &a->sin_addr) != 1) return -EINVAL;
    *len = sizeof *a;
  }
  return 0;
}

// netListen(h, family, address, port, backlog, ipv6Only) -> socket, or -errno
static napi_value js_listen(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  net_t *n = unbox(env, argv[0]);
  if (!n) return num(env, -EBADF);
  struct sockaddr_storage ss;
  socklen_t len;
  int32_t backlog;
  bool v6only;
  if (sockaddr_of(env, argv[1], argv[2], argv[3], &ss, &len) < 0 || napi_get_value_int32(env, argv[4], &backlog) != napi_ok ||
      napi_get_value_bool(env, argv[5], &v6only) != napi_ok)
    return num(env, -EINVAL);
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return num(env, -errno);
  int one = 1, v6 = v6only;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // as libuv: a port in TIME_WAIT can be taken
  if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof v6);
  if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, backlog) < 0) {
    int err = -errno;
    close(fd);
    return num(env, err);
  }
  int id = new_sock(n, fd);
  if (id < 0) {
    close(fd);
    return num(env, id);
  }
  n->socks[id].listening = 1;
  set_ref(n, &n->socks[id], 1);
  update(n, &n->socks[id]);
  return num(env, id);
}

// netConnect(h, family, address, port) -> socket (its CONNECT event follows), or -errno
static napi_value js_connect(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  net_t *n = unbox(env, argv[0]);
  if (!n) return num(env, -EBADF);
  struct sockaddr_storage ss;
  socklen_t len;
  if (sockaddr_of(env, argv[1], argv[2], argv[3], &ss, &len) < 0) return num(env, -EINVAL);
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return num(env, -errno);
  int id = new_sock(n, fd);
  if (id < 0) {
    close(fd);
    return num(env, id);
  }
  sock_t *s = &n->socks[id];
  set_ref(n, s, 1);
  if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
    int err = -errno;  // refused at once: JS reports it in a later tick, as node does
    close_sock(n, s);
    return num(env, err);
  }
  s->connecting = 1;  // also when connected at once: EPOLLOUT comes straight away
  update(n, s);
  return num(env, id);
}

static sock_t *sock_arg(napi_env env, napi_value *argv, net_t **out) {
  net_t *n = unbox(env, argv[0]);
  int64_t id;
  if (!n || napi_get_value_int64(env, argv[1], &id) != napi_ok) return NULL;
  *out = n;
  return sock_of(n, id);
}

// netRead(h, socket, on): start or stop reading.
static napi_value js_read(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  net_t *n;
  sock_t *s = sock_arg(env, argv, &n);
  bool on;
  if (!s || napi_get_value_bool(env, argv[2], &on) != napi_ok) return num(env, -EBADF);
  s->reading = on;
  update(n, s);
  return num(env, 0);
}

// netWrite(h, socket, req, buffers) -> bytes written now (all of them), QUEUED (a WRITE event
// follows; JS keeps the buffers until then), or -errno.
#define QUEUED -1e9
static napi_value js_write(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  net_t *n;
  sock_t *s = sock_arg(env, argv, &n);
  double req;
  uint32_t count;
  if (!s) return num(env, -EBADF);
  if (napi_get_value_double(env, argv[2], &req) != napi_ok || napi_get_array_length(env, argv[3], &count) != napi_ok || count == 0 || count > IOV_MAX)
    return num(env, -EINVAL);
  wq_t *w = malloc(sizeof *w + count * sizeof(struct iovec));
  if (!w) return num(env, -ENOMEM);
  *w = (wq_t){ .req = req, .iov = (struct iovec *)(w + 1), .iovcnt = (int)count };
  size_t total = 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value b;
    uint8_t *data;
    size_t len;
    if (napi_get_element(env, argv[3], i, &b) != napi_ok || bytes_of(env, b, &data, &len) < 0) {
      free(w);
      return num(env, -EINVAL);
    }
    w->iov[i] = (struct iovec){ data, len };
    total += len;
  }
  if (!s->writes) {
    // Nothing queued ahead: straight to the kernel, which usually takes it all.
    ssize_t put = writev(s->fd, w->iov, w->iovcnt);
    if (put < 0 && errno != EAGAIN && errno != EINTR) {
      int err = -errno;
      free(w);
      return num(env, err);
    }
    if (put >= 0 && (size_t)put == total) {
      free(w);
      return num(env, (double)total);
    }
    if (put > 0) {
      w->done = (size_t)put;
      while ((size_t)put >= w->iov[w->at].iov_len) put -= (ssize_t)w->iov[w->at++].iov_len;
      w->iov[w->at].iov_base = (char *)w->iov[w->at].iov_base + put;
      w->iov[w->at].iov_len -= (size_t)put;
    }
  }
  if (s->last) s->last->next = w;
  else s->writes = w;
  s->last = w;
  update(n, s);
  return num(env, QUEUED);
}

// netShutdown(h, socket) -> 0 or -errno: no more writes (FIN), after those queued (JS waits for them).
static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  net_t *n;
  sock_t *s = sock_arg(env, argv, &n);
  if (!s) return num(env, -EBADF);
  return num(env, shutdown(s->fd, SHUT_WR) < 0 ? -errno : 0);
}

// netClose(h, socket, reset): close now (queued writes are dropped; JS fails them). With reset,
// the peer gets RST, not FIN (SO_LINGER 0), as node's resetAndDestroy().
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  net_t *n;
  sock_t *s = sock_arg(env, argv, &n);
  bool reset = false;
  if (!s) return num(env, -EBADF);
  napi_get_value_bool(env, argv[2], &reset);
  if (reset) {
    struct linger l = { 1, 0 };
    setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  close_sock(n, s);
  return num(env, 0);
}

// netSetOption(h, socket, option, on, value) -> 0 or -errno
static napi_value js_set_option(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  net_t *n;
  sock_t *s = sock_arg(env, argv, &n);
  int32_t opt, value = 0;
  bool on;
  if (!s) return num(env, -EBADF);
  napi_get_value_int32(env, argv[2], &opt);
  napi_get_value_bool(env, argv[3], &on);
  napi_get_value_int32(env, argv[4], &value);
  int v = on, r;
  if (opt == OPT_NODELAY) {
    r = setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v);
  } else {
    r = setsockopt(s->fd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v);
    if (r == 0 && on && value > 0) r = setsockopt(s->fd, IPPROTO_TCP, TCP_KEEPIDLE, &value, sizeof value);
  }
  return num(env, r < 0 ? -errno : 0);
}

// netRef(h, socket, ref): whether this socket keeps the event loop alive.
static napi_value js_ref(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  net_t *n;
  sock_t *s = sock_arg(env, argv, &n);
  bool ref;
  if (!s || napi_get_value_bool(env, argv[2], &ref) != napi_ok) return num(env, -EBADF);
  set_ref(n, s, ref);
  return num(env, 0);
}

// netAddress(h, socket, peer) -> [family, address, port], or -errno
static napi_value js_address(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  net_t *n;
  sock_t *s = sock_arg(env, argv, &n);
  bool peer;
  if (!s || napi_get_value_bool(env, argv[2], &peer) != napi_ok) return num(env, -EBADF);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if ((peer ? getpeername(s->fd, (struct sockaddr *)&ss, &len) : getsockname(s->fd, (struct sockaddr *)&ss, &len)) < 0)
    return num(env, -errno);
  char text[INET6_ADDRSTRLEN];
  int port, family = ss.ss_family == AF_INET6 ? 6 : 4;
  if (family == 6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    port = ntohs(a->sin6_port);
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    port = ntohs(a->sin_port);
  }
  napi_value addr;
  CHECK(napi_create_array_with_length(env, 3, &result));
  CHECK(napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &addr));
  napi_set_element(env, result, 0, num(env, family));
  napi_set_element(env, result, 1, addr);
  napi_set_element(env, result, 2, num(env, port));
  return result;
}

// netDestroy(h): every socket closed, the engine gone once its loop handle has closed.
static napi_value js_destroy(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  net_box_t *box;
  if (napi_get_value_external(env, argv[0], (void **)&box) == napi_ok && box && box->net) {
    shutdown_net(box->net, 1);
    box->net = NULL;
  }
  return NULL;
}

int net_epoll_define(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"netCreate", NULL, js_create, NULL, NULL, NULL, napi_default, NULL},
      {"netListen", NULL, js_listen, NULL, NULL, NULL, napi_default, NULL},
      {"netConnect", NULL, js_connect, NULL, NULL, NULL, napi_default, NULL},
      {"netRead", NULL, js_read, NULL, NULL, NULL, napi_default, NULL},
      {"netWrite", NULL, js_write, NULL, NULL, NULL, napi_default, NULL},
      {"netShutdown", NULL, js_shutdown, NULL, NULL, NULL, napi_default, NULL},
      {"netClose", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"netSetOption", NULL, js_set_option, NULL, NULL, NULL, napi_default, NULL},
      {"netRef", NULL, js_ref, NULL, NULL, NULL, napi_default, NULL},
      {"netAddress", NULL, js_address, NULL, NULL, NULL, napi_default, NULL},
      {"netDestroy", NULL, js_destroy, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof *props, props) == napi_ok ? 0 : -1;
}
