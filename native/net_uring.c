// The io_uring socket engine: completions, not readiness. A listener has one multishot accept
// armed; a reading socket one multishot receive (before Linux 6.0: a receive armed again as each
// completes) that takes its buffers from a ring of buffers the engine provides
// (IORING_REGISTER_PBUF_RING, Linux 5.19): a small read is copied out into a Buffer and its
// buffer given straight back, a large one becomes the Buffer and a new one takes its place. A
// write made while JS takes a wake-up's events is queued for one SENDMSG on the ring, with the
// socket's other writes of that wake-up (an echo server's replies go out together); any other is
// offered to the socket at once (net.c), and what that leaves is one SENDMSG (its rest sent again
// after a short send). connect is on the ring too. The ring is the file engine's
// (io_uring_setup.c: set up, probed, torn down the same way), watched by the loop through its
// eventfd. Requests made while JS takes a wake-up's events go to
// the kernel in one io_uring_enter when it returns.
//
// A socket closed with requests in flight: they are cancelled and its fd closed at once; its slot
// (and the buffers of a send, which JS keeps) waits until the last one has completed (RELEASED).
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "io_uring.h"
#include "net.h"

#define BUF_COUNT 256     // provided receive buffers (a power of two)
#define BUF_SIZE 65536
#define BUF_GROUP 7
// Completions taken per wake-up, then the loop's other work (timers, other handles) has its turn:
// 64 measured best here (1 KiB request-response, 100 connections: 64 gave 460-550k requests in 5 s
// with a 1 ms timer's p99 lateness 1.4-1.8 ms; 16: 360-510k, p99 0.3-0.6 ms; all of them at once,
// up to 200: 440k, p99 8-9 ms).
#define REAP_MAX 64
#define STOP_WAIT_MS 2000  // what stop() waits for the kernel to let go, at most
// Writes one SENDMSG carries at most: each completes with an event, and a wake-up's events must
// fit JS's array (reap() keeps room for this many per completion).
#define SPAN_MAX 16

enum { U_ACCEPT = 1, U_RECV, U_SEND, U_CONNECT };
#define TAG(id, op) (((uint64_t)(id) << 3) | (op))

typedef struct {
  uring_t u;                   // engine_t first: uring_init's
  struct io_uring_buf_ring *br;
  size_t br_size;
  js_block_t blocks[BUF_COUNT];  // a large read hands its block to JS (net_data_block)
  unsigned short br_tail;
  int inflight;                // every request of every socket
  int leak;                    // the kernel still held requests when the engine stopped
  int multishot_recv;          // Linux 6.0: one receive armed for many; else one per read
} ur_t;

static ur_t *ur(net_t *n) { return n->kind_data; }

static void give_buffer(ur_t *r, unsigned bid) {
  struct io_uring_buf *b = &r->br->bufs[r->br_tail & (BUF_COUNT - 1)];
  b->addr = (uint64_t)(uintptr_t)r->blocks[bid].data;
  b->len = BUF_SIZE;
  b->bid = (unsigned short)bid;
  r->br_tail++;
  store_release(&r->br->tail, r->br_tail);  // the kernel may take it from here
}

static struct io_uring_sqe *sqe_for(net_t *n, int id, int op) {
  struct io_uring_sqe *sqe = uring_get_sqe(&ur(n)->u);
  if (!sqe) return NULL;
  sqe->user_data = TAG(id, op);
  if (id >= 0) n->socks[id].inflight++;
  ur(n)->inflight++;
  return sqe;
}

// Hands the SQEs written so far to the kernel, unless a wake-up is under way (it does at its end).
static void submit(net_t *n, int now) {
  uring_t *u = &ur(n)->u;
  if (!now && n->delivering) return;
  store_release(u->sq_tail, u->sq_local_tail);
  if (u->to_submit) uring_submit_pending(u, 0, 0);
}

// The arm_ and send_ functions return 0, or -EBUSY when the submission queue stays full.
static int arm_accept(net_t *n, int id) {
  struct io_uring_sqe *sqe = sqe_for(n, id, U_ACCEPT);
  if (!sqe) return -EBUSY;
  sqe->opcode = IORING_OP_ACCEPT;
  sqe->fd = n->socks[id].fd;
  sqe->ioprio = IORING_ACCEPT_MULTISHOT;
  sqe->accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
  n->socks[id].accept_armed = 1;
  return 0;
}

static int arm_recv(net_t *n, int id) {
  struct io_uring_sqe *sqe = sqe_for(n, id, U_RECV);
  if (!sqe) return -EBUSY;
  sqe->opcode = IORING_OP_RECV;
  sqe->fd = n->socks[id].fd;
  sqe->ioprio = ur(n)->multishot_recv ? IORING_RECV_MULTISHOT : 0;  // single-shot: armed again at each completion (on_recv)
  sqe->flags = IOSQE_BUFFER_SELECT;
  sqe->buf_group = BUF_GROUP;
  n->socks[id].recv_armed = 1;
  return 0;
}

// 0, or -EBUSY: the submission queue stayed full (the kernel took none of it).
static int cancel(net_t *n, int id, int op) {
  struct io_uring_sqe *sqe = uring_get_sqe(&ur(n)->u);
  if (!sqe) return -EBUSY;
  sqe->opcode = IORING_OP_ASYNC_CANCEL;
  sqe->user_data = CANCEL_TAG;
  if (op) {
    sqe->addr = TAG(id, op);
  } else {
    sqe->fd = n->socks[id].fd;
    sqe->cancel_flags = IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL;
  }
  return 0;
}

// What is left of a write to send.
static size_t unsent(const wq_t *w) {
  size_t left = 0;
  for (int i = w->at; i < w->iovcnt; i++) left += w->iov[i].iov_len;
  return left;
}

// Points the socket's send at what is left of its writes, from the first: as many as one SENDMSG
// carries (SPAN_MAX, IOV_MAX pieces; a zero-copy socket's one at a time). One write's message
// header lives with it (heap), where the kernel reads it; several share a gathered one. -ENOMEM
// when a send that carries several cannot gather more: it is left as it was, carrying them all.
static int point(sock_t *s, struct io_uring_sqe *sqe) {
  wq_t *w = s->writes;
  int pieces = w->iovcnt - w->at, span = 1;
  for (wq_t *p = w->next; !s->zerocopy && p && span < SPAN_MAX && pieces + p->iovcnt - p->at <= IOV_MAX; p = p->next) {
    pieces += p->iovcnt - p->at;
    span++;
  }
  struct msghdr *msg = span > 1 ? malloc(sizeof *msg + (size_t)pieces * sizeof(struct iovec)) : NULL;
  if (span > 1 && !msg && s->gather) return -ENOMEM;
  free(s->gather);
  s->gather = msg;
  if (msg) {
    struct iovec *iov = (struct iovec *)(msg + 1);
    int k = 0;
    for (wq_t *p = w; k < pieces; p = p->next)
      for (int i = p->at; i < p->iovcnt; i++) iov[k++] = p->iov[i];
    memset(msg, 0, sizeof *msg);
    msg->msg_iov = iov;
    msg->msg_iovlen = (size_t)pieces;
  } else {  // one write (or no memory to gather several: the first goes alone)
    span = 1;
    msg = (struct msghdr *)(w->iov + w->iovcnt);
    memset(msg, 0, sizeof *msg);
    msg->msg_iov = w->iov + w->at;
    msg->msg_iovlen = (size_t)(w->iovcnt - w->at);
  }
  s->send_span = span;
  s->send_pieces = (int)msg->msg_iovlen;
  s->send_bytes = 0;
  for (size_t i = 0; i < msg->msg_iovlen; i++) s->send_bytes += msg->msg_iov[i].iov_len;
  sqe->addr = (uint64_t)(uintptr_t)msg;
  return 0;
}

// The socket's writes go out, from the first, in one SENDMSG.
static int send_head(net_t *n, int id) {
  sock_t *s = &n->socks[id];
  struct io_uring_sqe *sqe = sqe_for(n, id, U_SEND);
  if (!sqe) return -EBUSY;
  s->send_at = ur(n)->u.sq_local_tail - 1;
  sqe->opcode = s->zerocopy ? IORING_OP_SENDMSG_ZC : IORING_OP_SENDMSG;
  sqe->fd = s->fd;
  sqe->msg_flags = MSG_NOSIGNAL;
  point(s, sqe);
  s->send_busy = 1;
  s->send_batched = 0;
  return 0;
}

// The socket's send is still ours: its SQE written in this wake-up, not yet handed to the kernel
// (between the tail the kernel sees and ours; the index is checked, not compared, as it wraps).
static struct io_uring_sqe *send_not_handed(net_t *n, int id) {
  uring_t *u = &ur(n)->u;
  unsigned handed = *u->sq_tail, at = n->socks[id].send_at;
  if (at - handed >= u->sq_local_tail - handed) return NULL;
  struct io_uring_sqe *sqe = &u->sqes[at & *u->sq_mask];
  return sqe->user_data == TAG(id, U_SEND) ? sqe : NULL;
}

// The last write the socket's send carries.
static wq_t *span_end(sock_t *s) {
  wq_t *w = s->writes;
  for (int k = 1; k < s->send_span && w; k++) w = w->next;
  return w;
}

// The write just queued would join the socket's send: right behind the writes it carries, and
// within its limits.
static int joins(sock_t *s) {
  wq_t *w = span_end(s);
  return w && w->next == s->last && s->send_span < SPAN_MAX && s->send_pieces + s->last->iovcnt - s->last->at <= IOV_MAX;
}

// The socket's first write fails with err; the ones behind it go on.
static void fail_head(net_t *n, int id, int err) {
  sock_t *s = &n->socks[id];
  wq_t *w = s->writes;
  s->writes = w->next;
  if (!s->writes) s->last = NULL;
  net_emit(n, EV_WRITE, id, w->req, err);
  free(w);
}

// ---- completions ----

static void on_recv(net_t *n, int id, sock_t *s, struct io_uring_cqe *cqe) {
  ur_t *r = ur(n);
  int more = (cqe->flags & IORING_CQE_F_MORE) != 0;
  if (cqe->flags & IORING_CQE_F_BUFFER) {
    unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    if (s && cqe->res > 0) net_data_block(n, id, &r->blocks[bid], BUF_SIZE, (size_t)cqe->res);
    give_buffer(r, bid);
  }
  if (more) return;
  if (!s) return;
  s->recv_armed = 0;
  if (cqe->res == 0) {
    s->reading = 0;
    net_emit(n, EV_EOF, id, 0, 0);
  } else if (cqe->res < 0 && cqe->res != -ECANCELED && cqe->res != -ENOBUFS) {
    s->reading = 0;
    net_emit(n, EV_ERROR, id, cqe->res, 0);
  } else if (s->reading && arm_recv(n, id) < 0) {  // out of buffers for a moment: on again
    s->reading = 0;
    net_emit(n, EV_ERROR, id, -EBUSY, 0);
  }
}

static void on_send(net_t *n, int id, sock_t *s, struct io_uring_cqe *cqe) {
  sock_t *slot = &n->socks[id];
  // A zero-copy send completes twice: its result (F_MORE: a notification follows), then the
  // notification that the kernel let go of the buffers. The write is done only then.
  int res = cqe->res;
  if (!(cqe->flags & IORING_CQE_F_NOTIF) && (cqe->flags & IORING_CQE_F_MORE)) {
    slot->zc_result = res;
    return;
  }
  if (cqe->flags & IORING_CQE_F_NOTIF) res = slot->zc_result;
  slot->send_busy = 0;
  free(slot->gather);
  slot->gather = NULL;
  // The writes it carried are done, in order, as far as it got (or all failed with res); the rest
  // of one sent short goes again, with those behind it.
  size_t put = res > 0 ? (size_t)res : 0;
  for (int k = slot->send_span; k > 0 && slot->writes; k--) {
    wq_t *w = slot->writes;
    size_t left = unsent(w);
    if (s && res >= 0 && put < left) {
      net_advance(w, put);
      break;
    }
    if (res >= 0) {
      net_advance(w, left);
      put -= left;
    }
    slot->writes = w->next;
    if (!slot->writes) slot->last = NULL;
    if (s) net_emit(n, EV_WRITE, id, w->req, res < 0 ? res : (double)w->done);
    free(w);
  }
  slot->send_span = 0;
  while (s && slot->writes && send_head(n, id) < 0 && net_room(n)) fail_head(n, id, -EBUSY);
}

static void on_accept(net_t *n, int id, sock_t *s, struct io_uring_cqe *cqe) {
  if (!(cqe->flags & IORING_CQE_F_MORE) && s) s->accept_armed = 0;
  if (cqe->res < 0) {
    if (s && cqe->res != -ECANCELED) {
      net_accept_failed(n, id, s->fd, cqe->res);  // the listener goes on, as libuv's
      if (!s->accept_armed && arm_accept(n, id) < 0) net_emit(n, EV_ERROR, id, -EBUSY, 0);
    }
    return;
  }
  int fd = cqe->res;
  int sid = s ? net_new_sock(n, fd) : -1;
  if (sid < 0) {
    close(fd);
    return;
  }
  net_set_ref(n, &n->socks[sid], 1);
  net_emit(n, EV_ACCEPT, id, sid, 0);
  s = &n->socks[id];  // the table may have moved
  if (!s->accept_armed && s->listening) arm_accept(n, id);
}

static void on_connect(net_t *n, int id, sock_t *s, struct io_uring_cqe *cqe) {
  free(n->socks[id].peer);
  n->socks[id].peer = NULL;
  if (!s) return;
  s->connecting = 0;
  net_emit(n, EV_CONNECT, id, cqe->res, 0);
}

// Takes what completed; returns how many. Events that do not fit this delivery wait in the ring.
static unsigned reap(net_t *n) {
  uring_t *u = &ur(n)->u;
  unsigned head = *u->cq_head, tail = load_acquire(u->cq_tail), seen = 0;
  while (head != tail && n->nev + 2 + SPAN_MAX < n->ev_cap && seen < REAP_MAX) {
    struct io_uring_cqe *cqe = &u->cqes[head & *u->cq_mask];
    head++;
    seen++;
    if (cqe->user_data == CANCEL_TAG) continue;
    int id = (int)(cqe->user_data >> 3), op = (int)(cqe->user_data & 7);
    sock_t *s = net_sock(n, id);  // NULL: closed by JS; its requests are only counted down
    if (op == U_RECV) on_recv(n, id, s, cqe);
    else if (op == U_SEND) on_send(n, id, s, cqe);
    else if (op == U_ACCEPT) on_accept(n, id, s, cqe);
    else if (op == U_CONNECT) on_connect(n, id, s, cqe);
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
      ur(n)->inflight--;
      if (--n->socks[id].inflight == 0 && n->socks[id].fd == SLOT_CLOSED) net_release(n, id);
    }
  }
  store_release(u->cq_head, head);
  return seen;
}

static void on_poll(uv_poll_t *h, int status, int events) {
  net_t *n = h->data;
  uring_t *u = &ur(n)->u;
  uint64_t count;
  while (read(u->event_fd, &count, sizeof count) < 0 && errno == EINTR) {}
  // With DEFER_TASKRUN the kernel's finished work becomes CQEs here, when we ask for events.
  store_release(u->sq_tail, u->sq_local_tail);
  uring_submit_pending(u, 0, IORING_ENTER_GETEVENTS);
  napi_handle_scope scope;
  if (!net_begin(n, &scope)) return;
  reap(n);
  net_end(n, scope);
  if (n->closed) return;
  submit(n, 1);  // what JS asked for meanwhile, in one io_uring_enter
  // With IORING_FEAT_NODROP a full CQ parks completions in the kernel; entering flushes them.
  if (load_acquire(u->sq_flags) & IORING_SQ_CQ_OVERFLOW) uring_submit_pending(u, 0, IORING_ENTER_GETEVENTS);
  // More waits: completions, or (TASKRUN_FLAG) task work the kernel set aside for our next entry.
  if (load_acquire(u->cq_tail) != *u->cq_head || (load_acquire(u->sq_flags) & IORING_SQ_TASKRUN)) {
    uint64_t one = 1;
    (void)!write(u->event_fd, &one, sizeof one);  // more waits: another wake-up, after the loop's other work
  }
}

// ---- the kind ----

static void on_init_failed(uv_handle_t *h) { free(h->data); }

static int ur_init(net_t *n, napi_env env) {
  ur_t *r = calloc(1, sizeof *r);
  if (!r) return -ENOMEM;
  napi_get_uv_event_loop(env, &r->u.base.loop);
  r->u.base.env = env;
  napi_value options, yes;
  napi_create_object(env, &options);
  napi_get_boolean(env, true, &yes);
  napi_set_named_property(env, options, "deferTaskrun", yes);
  int err = uring_init(&r->u.base, env, options);
  if (err < 0) {
    free(r);
    return err;
  }
  uring_t *u = &r->u;
  // Multishot receive (IORING_RECV_MULTISHOT) came in Linux 6.0, and the probe cannot tell
  // flags: the release says. Before, each receive is armed again as it completes.
  // IOENGINE_NET_RECV=single asks for that here too (to test it on a newer kernel).
  struct utsname un;
  int major = 0, minor = 0;
  if (uname(&un) == 0) sscanf(un.release, "%d.%d", &major, &minor);
  const char *mode = getenv("IOENGINE_NET_RECV");
  r->multishot_recv = major >= 6 && !(mode && !strcmp(mode, "single"));
  if (!u->supported[IORING_OP_SENDMSG] || !u->supported[IORING_OP_ACCEPT] || !u->supported[IORING_OP_RECV] || !u->supported[IORING_OP_CONNECT]) {
    err = -EOPNOTSUPP;
    goto fail;
  }
  // The receive buffers, and the ring through which they are given to the kernel (Linux 5.19).
  r->br_size = BUF_COUNT * sizeof(struct io_uring_buf);
  r->br = mmap(NULL, r->br_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int blocks = 1;
  for (unsigned i = 0; i < BUF_COUNT; i++) blocks &= js_block_new(&r->blocks[i], BUF_SIZE) == 0;
  if (r->br == MAP_FAILED || !blocks) {
    err = -ENOMEM;
    goto fail;
  }
  struct io_uring_buf_reg reg = { .ring_addr = (uint64_t)(uintptr_t)r->br, .ring_entries = BUF_COUNT, .bgid = BUF_GROUP };
  if ((err = sys_register(u->ring_fd, IORING_REGISTER_PBUF_RING, &reg, 1)) < 0) goto fail;
  for (unsigned i = 0; i < BUF_COUNT; i++) give_buffer(r, i);
  uv_poll_stop(&u->poll);
  u->poll.data = n;
  uv_poll_start(&u->poll, UV_READABLE, on_poll);
  n->kind_data = r;
  n->watcher = (uv_handle_t *)&u->poll;
  return 0;
fail:
  if (r->br && r->br != MAP_FAILED) munmap(r->br, r->br_size);
  for (unsigned i = 0; i < BUF_COUNT; i++) js_block_free(&r->blocks[i]);
  uv_poll_stop(&u->poll);
  uring_release_ring(u);
  u->poll.data = r;
  uv_close((uv_handle_t *)&u->poll, on_init_failed);  // r goes with its handle
  return err;
}

static int ur_listening(net_t *n, int id) {
  int err = arm_accept(n, id);
  submit(n, 0);
  return err;
}

static int ur_connect(net_t *n, int id, const struct sockaddr *addr, socklen_t len) {
  sock_t *s = &n->socks[id];
  if (!(s->peer = malloc(sizeof *s->peer))) return -ENOMEM;
  memcpy(s->peer, addr, len);
  struct io_uring_sqe *sqe = sqe_for(n, id, U_CONNECT);
  if (!sqe) {
    free(s->peer);
    s->peer = NULL;
    return -EBUSY;
  }
  sqe->opcode = IORING_OP_CONNECT;
  sqe->fd = s->fd;
  sqe->addr = (uint64_t)(uintptr_t)s->peer;
  sqe->off = len;
  s->connecting = 1;
  submit(n, 0);
  return 0;
}

static int ur_read(net_t *n, int id, int on) {
  sock_t *s = &n->socks[id];
  int err = 0;
  s->reading = on;
  if (on && !s->recv_armed) err = arm_recv(n, id);
  else if (!on && s->recv_armed) cancel(n, id, U_RECV);  // data already on its way still comes
  submit(n, 0);
  if (err < 0) s->reading = 0;
  return err;
}

static int ur_queued(net_t *n, int id) {
  sock_t *s = &n->socks[id];
  if (s->send_busy) {
    // Behind a send in flight it follows that one; but a send not yet handed to the kernel (made
    // in this wake-up) takes it along: several writes in one handler go in one SENDMSG.
    struct io_uring_sqe *sqe = !s->zerocopy && joins(s) ? send_not_handed(n, id) : NULL;
    // (No memory to gather it too: it waits its turn, and those the send carries stay in it.)
    if (!sqe || point(s, sqe) < 0) return 0;
    return s->send_batched && span_end(s) == s->last;  // (no memory to gather two: the first goes alone)
  }
  if (send_head(n, id) < 0) {
    // No room on the ring: the write just queued (the last) is taken off and JS told; any
    // before it (left by a send that could not go on) stay for the next completion or write.
    wq_t *w = s->last, **at = &s->writes;
    while (*at != w) at = &(*at)->next;
    *at = NULL;
    s->last = NULL;
    for (wq_t *p = s->writes; p; p = p->next) s->last = p;
    free(w);
    return -EBUSY;
  }
  s->send_batched = n->delivering > 0;  // handed over as this wake-up ends
  submit(n, 0);
  // Taken only if the send carries it: writes a send could not take along (left when the ring
  // had no room) may fill the span ahead of it.
  return s->send_batched && span_end(s) == s->last;
}

static int ur_close(net_t *n, int id) {
  sock_t *s = &n->socks[id];
  if (s->inflight > 0) {
    // No room for the cancel: the socket shut for reading ends its receive and accept at least
    // (nothing goes to the peer); a send in flight ends when the peer reads or goes.
    if (cancel(n, id, 0) < 0) shutdown(s->fd, SHUT_RD);
    // The cancel must reach the kernel before the fd goes, and its work run now (DEFER_TASKRUN
    // would leave it for the next wake-up, the requests holding the socket open meanwhile).
    store_release(ur(n)->u.sq_tail, ur(n)->u.sq_local_tail);
    uring_submit_pending(&ur(n)->u, 0, IORING_ENTER_GETEVENTS);
  }
  // A listener stops taking connections now, whatever still holds its file.
  if (s->listening) shutdown(s->fd, SHUT_RDWR);
  close(s->fd);
  // A send in flight keeps the writes it carries until its completion (the kernel reads their
  // buffers, which JS keeps until RELEASED); the writes behind them are dropped.
  wq_t *sending = s->send_busy ? s->writes : NULL, *last = sending ? span_end(s) : NULL;
  if (sending) {
    s->writes = last->next;
    last->next = NULL;
  }
  net_free_writes(s);
  s->writes = sending;
  s->last = last;
  return s->inflight > 0;
}

static void on_closed(uv_handle_t *h) {
  net_t *n = h->data;
  ur_t *r = ur(n);
  if (r->leak) {
    napi_remove_async_cleanup_hook(n->cleanup);
    return;
  }
  uring_release_ring(&r->u);
  munmap(r->br, r->br_size);
  for (unsigned i = 0; i < BUF_COUNT; i++) js_block_free(&r->blocks[i]);
  free(r);
  net_free(n);
}

static void ur_stop(net_t *n) {
  ur_t *r = ur(n);
  uring_t *u = &r->u;
  uv_poll_stop(&u->poll);
  // Everything the kernel holds is cancelled (that SQE and those JS wrote meanwhile go in first,
  // while their fds are still this engine's), then the fds are closed.
  struct io_uring_sqe *sqe = uring_get_sqe(u);
  if (sqe) {
    sqe->opcode = IORING_OP_ASYNC_CANCEL;
    sqe->user_data = CANCEL_TAG;
    sqe->cancel_flags = IORING_ASYNC_CANCEL_ANY;
  }
  store_release(u->sq_tail, u->sq_local_tail);
  int err = uring_submit_pending(u, 0, IORING_ENTER_GETEVENTS);
  for (int i = 0; i < n->nsocks; i++) {
    sock_t *s = &n->socks[i];
    if (s->fd < 0) continue;
    // A zero-copy send's notification waits for the peer's ACK of everything it sent, which an
    // orphaned socket may wait minutes for: reset such sockets, so the kernel lets go at once.
    if (s->zerocopy && s->send_busy) setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &(struct linger){ 1, 0 }, sizeof(struct linger));
    close(s->fd);
    s->fd = SLOT_CLOSED;
  }
  // Every request the kernel holds must end before its buffers and the ring go away. No JS now.
  // At most STOP_WAIT_MS (a zero-copy send of a socket JS closed earlier may still wait for its
  // peer): then what the kernel holds is left to it, never freed under it (leak).
  uint64_t until = uv_hrtime() + STOP_WAIT_MS * 1000000ull;
  while (err >= 0 && r->inflight > 0 && uv_hrtime() < until) {
    err = uring_submit_pending(u, 0, IORING_ENTER_GETEVENTS);
    if (*u->cq_head == load_acquire(u->cq_tail)) nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
    unsigned head = *u->cq_head, tail = load_acquire(u->cq_tail);
    for (; head != tail; head++) {
      struct io_uring_cqe *cqe = &u->cqes[head & *u->cq_mask];
      if (cqe->user_data == CANCEL_TAG) continue;
      if ((cqe->user_data & 7) == U_ACCEPT && cqe->res >= 0) close(cqe->res);
      if (!(cqe->flags & IORING_CQE_F_MORE)) r->inflight--;
    }
    store_release(u->cq_head, head);
  }
  // The ring refuses to wait (it should not): its memory, and what the kernel may still read
  // or write, is left as it is rather than freed under it.
  r->leak = r->inflight > 0;
  u->poll.data = n;
  uv_close((uv_handle_t *)&u->poll, on_closed);
}

static int ur_zerocopy(net_t *n, int id, int on) {
  if (on && !ur(n)->u.supported[IORING_OP_SENDMSG_ZC]) return -EOPNOTSUPP;  // Linux 6.1
  if (id >= 0) n->socks[id].zerocopy = on;  // a send in flight goes on as it started
  return 0;
}

static void ur_flush(net_t *n) { submit(n, 1); }

static const char *ur_describe(net_t *n) {
  return ur(n)->multishot_recv ? "multishot receive" : "single-shot receive (multishot needs Linux 6.0)";
}

const net_kind_t net_uring_kind = {
    .name = "io_uring", .init = ur_init, .listening = ur_listening, .connect = ur_connect, .read = ur_read,
    .queued = ur_queued, .close = ur_close, .stop = ur_stop, .zerocopy = ur_zerocopy, .describe = ur_describe,
    // Sends batched (flush): a sendmsg each cost a syscall (1.1 µs on a guest here); one
    // io_uring_enter sends them all.
    .flush = ur_flush,
};
