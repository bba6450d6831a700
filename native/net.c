// The socket engines' N-API surface and what they share (see net.h). Sockets are numbered by
// their slot in a table, not by fd: a slot closed by JS is not given to a new socket until the
// kernel has let go of it and the events of the delivery under way are all handed out, so an event
// never reaches a socket that merely inherited a number.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net.h"

static napi_value num(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

// ---- the table ----

int net_new_sock(net_t *n, int fd) {
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

sock_t *net_sock(net_t *n, int64_t id) {
  return id >= 0 && id < n->nsocks && n->socks[id].fd >= 0 ? &n->socks[id] : NULL;
}

void net_set_ref(net_t *n, sock_t *s, int ref) {
  if (s->refed == ref) return;
  s->refed = ref;
  n->refs += ref ? 1 : -1;
  if (n->closed) return;
  if (n->refs > 0) uv_ref(n->watcher);
  else uv_unref(n->watcher);
}

void net_free_writes(sock_t *s) {
  while (s->writes) {
    wq_t *w = s->writes;
    s->writes = w->next;
    free(w);
  }
  s->last = NULL;
}

void net_release(net_t *n, int id) {
  if (net_room(n)) net_emit(n, EV_RELEASED, id, 0, 0);  // JS lets go of the socket's buffers
}

void net_accept_failed(net_t *n, int id, int listen_fd, int err) {
  if ((err == -EMFILE || err == -ENFILE) && n->reserve_fd >= 0) {
    // As libuv: with the spare fd given up, the waiting connections are taken and closed, and
    // nothing is reported (node:net's server says nothing either).
    close(n->reserve_fd);
    for (int fd; (fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0;) close(fd);
    n->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return;
  }
  if (net_room(n)) net_emit(n, EV_ERROR, id, err, 0);  // the server's 'error' (accept ENOMEM), as node's
}

// Closed slots whose kernel requests are all done are free again (not while a delivery is under way).
static void sweep(net_t *n) {
  for (int i = 0; n->closing_slots > 0 && i < n->nsocks; i++) {
    sock_t *s = &n->socks[i];
    if (s->fd == SLOT_CLOSED && s->inflight == 0) {
      s->fd = SLOT_FREE;
      n->closing_slots--;
    }
  }
}

// ---- events to JS ----

int net_room(net_t *n) { return n->nev + 1 < n->ev_cap; }

void net_emit(net_t *n, int type, int id, double a, double b) {
  double *e = &n->ev[4 * n->nev++];
  e[0] = type;
  e[1] = id;
  e[2] = a;
  e[3] = b;
}

// Room in the arena for len more bytes: the arena now, or a new one (an ARENA event first).
static int arena_room(net_t *n, size_t len) {
  napi_env env = n->env;
  napi_value buf, ab;
  if (n->arena && !n->arena_checked) {
    // Detached (transferred away, though JS marks it untransferable): not ours to write into.
    bool detached = true;
    if (napi_get_reference_value(env, n->arena_ref, &buf) == napi_ok && buf &&
        napi_get_typedarray_info(env, buf, NULL, NULL, NULL, &ab, NULL) == napi_ok)
      napi_is_detached_arraybuffer(env, ab, &detached);
    if (detached) n->arena = NULL;
    n->arena_checked = 1;
  }
  if (n->arena && n->arena_used + len <= ARENA_SIZE) return 1;
  void *data;
  if (n->nev + 2 >= n->ev_cap || napi_create_buffer(env, ARENA_SIZE, &data, &buf) != napi_ok) return 0;
  if (n->arena_ref) napi_delete_reference(env, n->arena_ref);
  n->arena = NULL;
  if (napi_create_reference(env, buf, 1, &n->arena_ref) != napi_ok) {
    n->arena_ref = NULL;
    return 0;
  }
  n->arena = data;
  n->arena_used = 0;
  napi_set_element(env, n->bufs, n->nbufs++, buf);
  net_emit(n, EV_ARENA, -1, 0, 0);
  return 1;
}

void net_data(net_t *n, int id, const void *bytes, size_t len) {
  napi_value buf;
  sock_t *s = net_sock(n, id);
  if (s && s->pooled && len <= ARENA_PIECE_MAX && arena_room(n, len)) {
    memcpy(n->arena + n->arena_used, bytes, len);
    net_emit(n, EV_POOLED, id, (double)len, (double)n->arena_used);
    n->arena_used += len;
    return;
  }
  if (napi_create_buffer_copy(n->env, len, bytes, NULL, &buf) != napi_ok) {
    // No Buffer for the bytes: the connection fails (read ENOMEM) rather than go on without them.
    net_emit(n, EV_ERROR, id, -ENOMEM, 0);
    return;
  }
  napi_set_element(n->env, n->bufs, n->nbufs++, buf);
  net_emit(n, EV_DATA, id, (double)len, 0);
}

void net_data_block(net_t *n, int id, js_block_t *block, size_t block_size, size_t len) {
  js_block_t fresh;
  napi_value buf;
  // The block's successor first: without one, the bytes are copied and the block stays.
  if (len < HANDOVER_MIN || js_block_new(&fresh, block_size) < 0) {
    net_data(n, id, block->data, len);
    return;
  }
  buf = js_block_buffer(n->env, block, len);
  *block = fresh;
  if (!buf) return;  // only while JS is torn down (a worker terminated): nobody to hand them to
  napi_set_element(n->env, n->bufs, n->nbufs++, buf);
  net_emit(n, EV_DATA, id, (double)len, 0);
}

int net_begin(net_t *n, napi_handle_scope *scope) {
  if (n->closed || napi_open_handle_scope(n->env, scope) != napi_ok) return 0;
  napi_create_array(n->env, &n->bufs);
  n->nbufs = 0;
  n->arena_checked = 0;
  n->delivering++;
  return 1;
}

void net_end(net_t *n, napi_handle_scope scope) {
  napi_env env = n->env;
  if (n->nev > 0 && !n->closed) {
    napi_value fn, recv, argv[2], result;
    napi_get_reference_value(env, n->on_events, &fn);
    napi_get_global(env, &recv);
    napi_create_uint32(env, (uint32_t)n->nev, &argv[0]);
    argv[1] = n->bufs;
    n->nev = 0;  // JS reads the events before this call returns
    // make_callback: microtasks and nextTicks run when it returns, in this same wake-up.
    napi_status status = napi_make_callback(env, n->async_context, recv, fn, 2, argv, &result);
    // JS may not have seen this delivery's ARENA event: the next pooled read starts a new arena.
    if (status != napi_ok) n->arena = NULL;
    if (status == napi_pending_exception) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
  }
  n->delivering--;
  if (!n->closed && n->delivering == 0) sweep(n);
  napi_close_handle_scope(env, scope);
}

// ---- lifecycle ----

void net_free(net_t *n) {
  napi_async_cleanup_hook_handle hook = n->cleanup;
  if (n->reserve_fd >= 0) close(n->reserve_fd);
  for (int i = 0; i < n->nsocks; i++) {
    net_free_writes(&n->socks[i]);
    free(n->socks[i].gather);
    free(n->socks[i].peer);
  }
  free(n->socks);
  free(n);
  napi_remove_async_cleanup_hook(hook);
}

static void shutdown_net(net_t *n, int from_js) {
  if (n->closed) return;
  n->closed = 1;
  if (from_js) {
    napi_delete_reference(n->env, n->on_events);
    napi_delete_reference(n->env, n->events_ref);
    if (n->arena_ref) napi_delete_reference(n->env, n->arena_ref);
    napi_async_destroy(n->env, n->async_context);
  }
  n->kind->stop(n);  // closes every socket; waits for the kernel; then net_free
}

static void on_env_cleanup(napi_async_cleanup_hook_handle hook, void *arg) { shutdown_net(arg, 0); }

typedef struct { net_t *net; } net_box_t;

static void on_box_finalize(napi_env env, void *data, void *hint) { free(data); }

static net_t *unbox(napi_env env, napi_value v) {
  net_box_t *box;
  if (napi_get_value_external(env, v, (void **)&box) != napi_ok || !box || !box->net || box->net->closed) return NULL;
  return box->net;
}

// The call's first n arguments into argv, and the engine the first one names (NULL: closed).
static net_t *call_net(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  return unbox(env, argv[0]);
}

// The same, and the open socket the second argument names (NULL: none).
static sock_t *call_sock(napi_env env, napi_callback_info info, size_t n, napi_value *argv, net_t **net, int64_t *id) {
  net_t *e = call_net(env, info, n, argv);
  if (!e || napi_get_value_int64(env, argv[1], id) != napi_ok) return NULL;
  *net = e;
  return net_sock(e, *id);
}

// netCreate(kind, onEvents(count, buffers), events: Float64Array) -> handle, or -errno
static napi_value js_create(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[16];
  size_t len;
  CHECK(napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len));
  const net_kind_t *kind = !strcmp(name, "epoll") ? &net_epoll_kind : !strcmp(name, "io_uring") ? &net_uring_kind
                         : !strcmp(name, "thread") ? &net_thread_kind : NULL;
  uint8_t *data;
  if (!kind) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "unknown socket engine");
    return NULL;
  }
  if (bytes_of(env, argv[2], &data, &len) < 0 || len < 64 * 4 * sizeof(double)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "events must be a Float64Array of 64 events or more");
    return NULL;
  }
  net_t *n = calloc(1, sizeof *n);
  if (!n) return num(env, -ENOMEM);
  n->kind = kind;
  n->env = env;
  n->ev = (double *)data;
  n->ev_cap = len / (4 * sizeof(double));
  n->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int err = kind->init(n, env);
  if (err < 0) {
    if (n->reserve_fd >= 0) close(n->reserve_fd);
    free(n);
    return num(env, err);
  }
  uv_unref(n->watcher);  // only sockets keep the loop alive (net_set_ref)
  napi_value resource;
  CHECK(napi_create_string_utf8(env, "ioengine:net", NAPI_AUTO_LENGTH, &resource));
  CHECK(napi_async_init(env, NULL, resource, &n->async_context));
  CHECK(napi_create_reference(env, argv[1], 1, &n->on_events));
  CHECK(napi_create_reference(env, argv[2], 1, &n->events_ref));
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
  napi_value argv[6];
  net_t *n = call_net(env, info, 6, argv);
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
  int id = net_new_sock(n, fd);
  if (id < 0) {
    close(fd);
    return num(env, id);
  }
  n->socks[id].listening = 1;
  int err = n->kind->listening(n, id);
  if (err < 0) {
    n->kind->close(n, id);
    n->socks[id].fd = SLOT_FREE;
    return num(env, err);
  }
  net_set_ref(n, &n->socks[id], 1);
  return num(env, id);
}

// netConnect(h, family, address, port) -> socket (its CONNECT event follows), or -errno
static napi_value js_connect(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  net_t *n = call_net(env, info, 4, argv);
  if (!n) return num(env, -EBADF);
  struct sockaddr_storage ss;
  socklen_t len;
  if (sockaddr_of(env, argv[1], argv[2], argv[3], &ss, &len) < 0) return num(env, -EINVAL);
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return num(env, -errno);
  int id = net_new_sock(n, fd);
  if (id < 0) {
    close(fd);
    return num(env, id);
  }
  net_set_ref(n, &n->socks[id], 1);
  int err = n->kind->connect(n, id, (struct sockaddr *)&ss, len);
  if (err < 0) {
    // Refused at once: JS reports it in a later tick, as node does. Nothing of it is in flight.
    n->kind->close(n, id);
    net_set_ref(n, &n->socks[id], 0);
    n->socks[id].fd = SLOT_FREE;
    return num(env, err);
  }
  return num(env, id);
}

// netRead(h, socket, on): start or stop reading.
static napi_value js_read(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  net_t *n;
  int64_t id;
  sock_t *s = call_sock(env, info, 3, argv, &n, &id);
  bool on;
  if (!s || napi_get_value_bool(env, argv[2], &on) != napi_ok) return num(env, -EBADF);
  return num(env, n->kind->read(n, (int)id, on));
}

ssize_t net_send(int fd, struct iovec *iov, int count) {
  struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)count };
  return sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
}

int net_advance(wq_t *w, size_t put) {
  w->done += put;
  while (w->at < w->iovcnt && put >= w->iov[w->at].iov_len) put -= w->iov[w->at++].iov_len;
  if (w->at == w->iovcnt) return 1;
  w->iov[w->at].iov_base = (char *)w->iov[w->at].iov_base + put;
  w->iov[w->at].iov_len -= put;
  return 0;
}

#define STACK_IOVS 64

// netWrite(h, socket, req, buffers, copy) -> bytes written now (all of them), QUEUED or BATCHED (a WRITE
// event follows; JS keeps the buffers until then), TAKEN (copy asked for: a small write of a wake-up,
// copied; a WRITE event follows, the buffers are free now), or -errno. buffers: an array of them, or one
// (a socket's usual write: no array to make in JS, nor to read here). With nothing queued ahead, the write is
// offered to the socket at once, which usually takes it all: nothing is allocated then. What it
// does not take is queued, and the engine sends it when the socket can take more.
static napi_value js_write(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  net_t *n;
  int64_t id;
  sock_t *s = call_sock(env, info, 5, argv, &n, &id);
  double req;
  uint32_t count;
  bool copy = false;
  if (!s) return num(env, -EBADF);
  napi_get_value_bool(env, argv[4], &copy);  // not a boolean (left out): false
  if (napi_get_value_double(env, argv[2], &req) != napi_ok) return num(env, -EINVAL);
  struct iovec stack[STACK_IOVS], *iov = stack;
  double result = -EINVAL;
  uint8_t *data;
  size_t len;
  if (bytes_of(env, argv[3], &data, &len) == 0) {
    count = 1;
    stack[0] = (struct iovec){ data, len };
  } else {
    if (napi_get_array_length(env, argv[3], &count) != napi_ok || count == 0 || count > IOV_MAX) return num(env, -EINVAL);
    if (count > STACK_IOVS && !(iov = malloc(count * sizeof *iov))) return num(env, -ENOMEM);
    for (uint32_t i = 0; i < count; i++) {
      napi_value b;
      if (napi_get_element(env, argv[3], i, &b) != napi_ok || bytes_of(env, b, &data, &len) < 0) goto done;
      iov[i] = (struct iovec){ data, len };
    }
  }
  wq_t now = { .req = req, .iov = iov, .iovcnt = (int)count };
  size_t total = 0;
  for (uint32_t i = 0; s->zerocopy && i < count; i++) total += iov[i].iov_len;
  // Nothing queued ahead of it, nor being sent; not one to send without a copy; and not one the
  // engine sends with the requests of the wake-up it is delivering (an engine that batches sends).
  int later = n->delivering && n->kind->flush && !s->zerocopy;
offer:
  if (!s->writes && !s->send_busy && !(s->zerocopy && total >= NET_ZEROCOPY_MIN) && !later) {
    ssize_t put = net_send(s->fd, iov, (int)count);
    if (put < 0 && errno != EAGAIN && errno != EINTR) {
      result = -errno;
      goto done;
    }
    if (put >= 0 && net_advance(&now, (size_t)put)) {
      result = (double)now.done;
      goto done;
    }
  }
  // The rest, queued: its iovecs, and room behind them for a message header (io_uring's SENDMSG
  // reads it there). A small write of a wake-up, when asked, is copied behind that header: one
  // iovec then, and the writer's buffers are free at once.
  size_t bytes = 0;
  for (uint32_t i = 0; copy && later && i < count; i++) bytes += iov[i].iov_len;
  int copied = copy && later && bytes <= NET_COPY_MAX;
  int left = copied ? 1 : now.iovcnt - now.at;
  wq_t *w = malloc(sizeof *w + (size_t)left * sizeof(struct iovec) + sizeof(struct msghdr) + (copied ? bytes : 0));
  if (!w) {
    result = -ENOMEM;
    goto done;
  }
  *w = (wq_t){ .req = req, .iov = (struct iovec *)(w + 1), .iovcnt = left, .done = now.done };
  if (copied) {
    // All of it: a write of the wake-up was not offered to the socket (now.at is 0).
    uint8_t *to = (uint8_t *)((struct msghdr *)(w->iov + 1) + 1);
    w->iov[0] = (struct iovec){ to, bytes };
    for (uint32_t i = 0; i < count; to += iov[i].iov_len, i++)
      if (iov[i].iov_len) memcpy(to, iov[i].iov_base, iov[i].iov_len);  // (an empty view's base may be NULL)
  } else {
    memcpy(w->iov, iov + now.at, (size_t)left * sizeof *iov);
  }
  if (s->last) s->last->next = w;
  else s->writes = w;
  s->last = w;
  int err = n->kind->queued(n, (int)id);
  if (err == 1 && !later) s->send_batched = 0;  // the rest of a write the socket refused: nothing joins it as taken
  // No room on the ring, even after handing it what it had (it took the write back): offered
  // to the socket at once after all, as any other write.
  if (err == -EBUSY && later && !s->writes && !s->send_busy) {
    later = 0;
    goto offer;
  }
  // A write of this wake-up that nothing waiting for the peer holds back: JS may count it as taken.
  result = err < 0 ? err : err == 1 && later && s->send_bytes <= NET_BATCHED_MAX ? (copied ? TAKEN : BATCHED) : QUEUED;
done:
  if (iov != stack) free(iov);
  return num(env, result);
}

// netShutdown(h, socket) -> 0 or -errno: no more writes (FIN); JS calls it once its writes are done.
static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  net_t *n;
  int64_t id;
  sock_t *s = call_sock(env, info, 2, argv, &n, &id);
  if (!s) return num(env, -EBADF);
  return num(env, shutdown(s->fd, SHUT_WR) < 0 ? -errno : 0);
}

// netClose(h, socket, reset) -> 1 while the kernel still holds the socket's requests (JS keeps
// its buffers until the RELEASED event), else 0. Writes not done fail in JS. With reset, the peer
// gets RST, not FIN (SO_LINGER 0), as node's resetAndDestroy().
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  net_t *n;
  int64_t id;
  sock_t *s = call_sock(env, info, 3, argv, &n, &id);
  bool reset = false;
  if (!s) return num(env, 0);
  napi_get_value_bool(env, argv[2], &reset);
  if (reset) {
    struct linger l = { 1, 0 };
    setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  net_set_ref(n, s, 0);
  int held = n->kind->close(n, (int)id);  // closes the fd
  s = &n->socks[id];
  s->fd = SLOT_CLOSED;
  if (!held && n->delivering == 0) s->fd = SLOT_FREE;
  else n->closing_slots++;
  return num(env, held);
}

// netSetOption(h, socket, option, on, value) -> 0 or -errno
static napi_value js_set_option(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  net_t *n;
  int64_t id;
  sock_t *s = call_sock(env, info, 5, argv, &n, &id);
  int32_t opt = 0, value = 0;
  bool on = false;
  if (!s) return num(env, -EBADF);
  napi_get_value_int32(env, argv[2], &opt);
  napi_get_value_bool(env, argv[3], &on);
  napi_get_value_int32(env, argv[4], &value);
  int v = on, r;
  if (opt == OPT_POOLED) {
    s->pooled = on;
    return num(env, 0);
  }
  if (opt == OPT_ZEROCOPY) {
    r = n->kind->zerocopy ? n->kind->zerocopy(n, (int)id, on) : -EOPNOTSUPP;
    return num(env, r);
  }
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
  napi_value argv[3];
  net_t *n;
  int64_t id;
  sock_t *s = call_sock(env, info, 3, argv, &n, &id);
  bool ref;
  if (!s || napi_get_value_bool(env, argv[2], &ref) != napi_ok) return num(env, -EBADF);
  net_set_ref(n, s, ref);
  return num(env, 0);
}

// netAddress(h, socket, peer) -> [family, address, port], or -errno
static napi_value js_address(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  net_t *n;
  int64_t id;
  sock_t *s = call_sock(env, info, 3, argv, &n, &id);
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

// netDestroy(h): every socket closed; the engine goes once the kernel has let go of everything.
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

// netZeroCopy(h) -> whether the engine can send without copying here
static napi_value js_zero_copy(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  net_t *n = call_net(env, info, 1, argv);
  CHECK(napi_get_boolean(env, n && n->kind->zerocopy && n->kind->zerocopy(n, -1, 1) == 0, &result));
  return result;
}

// netFlush(h): what JS asked for goes to the kernel now (the process is exiting).
static napi_value js_flush(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  net_t *n = call_net(env, info, 1, argv);
  if (n && !n->closed && n->kind->flush) n->kind->flush(n);
  return NULL;
}

// netDescribe(h) -> how the engine works here (where the kernel decides), or undefined
static napi_value js_describe(napi_env env, napi_callback_info info) {
  napi_value argv[1], result = NULL;
  net_t *n = call_net(env, info, 1, argv);
  const char *text = n && n->kind->describe ? n->kind->describe(n) : NULL;
  if (text) napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &result);
  return result;
}

int net_define(napi_env env, napi_value exports) {
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
      {"netDescribe", NULL, js_describe, NULL, NULL, NULL, napi_default, NULL},
      {"netFlush", NULL, js_flush, NULL, NULL, NULL, napi_default, NULL},
      {"netZeroCopy", NULL, js_zero_copy, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof *props, props) == napi_ok ? 0 : -1;
}
