// The thread socket engine: the classic design, blocking sockets and threads that wait in them.
// A connection's reader thread waits in recv(), a listener's thread in poll() and accept(), a
// connect in connect() on a thread of its own, and a connection's writer thread (started when
// the socket first does not take a write at once: net.c offers every write at once) in
// sendmsg(). The loop never waits: threads tell it what happened through one queue of messages,
// which a uv_async_t turns into the events JS receives.
//
// Threads never touch the socket table (it moves as it grows): what a connection's threads share
// with the loop is its conn_t, under the conn_t's lock. A connection closed by JS is shut down
// for reading (which wakes recv, accept and a connect), a blocked send wakes within SEND_WAKE_MS
// (SO_SNDTIMEO); its fd is closed, and its slot and buffers released, once all its threads are gone.
//
// Bounded: while THREADS_MAX threads run, listeners stop accepting (the kernel's backlog holds
// the connections that wait), as a thread-per-connection server does. Connections already open
// still start their readers and writers; past what the system allows, that read or write fails. A reader hands the loop at
// most UNREAD_MAX reads not yet delivered (it reads into the blocks the loop gives it back, from
// V8's allocator: a large read is handed to JS as the Buffer itself), so a program that does not
// keep up is not flooded.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

#define THREADS_MAX 8192
#define STACK_SIZE (128 * 1024)
#define BLOCK 65536         // one recv's most, as node's reads
#define UNREAD_MAX 2
#define SEND_WAKE_MS 50
#define ACCEPT_WAKE_MS 200  // a listener's or a connect's poll() looks at `closing` at least this often
#define STOP_WAIT_S 5       // how long stop() waits for the threads before it leaves them be

enum { M_ACCEPT = 1, M_ACCEPT_FAILED, M_DATA, M_EOF, M_ERROR, M_WRITE, M_CONNECT, M_EXIT };

typedef struct tq tq_t;

typedef struct conn {
  tq_t *t;
  int id, fd;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int closing;         // JS closed it: its threads leave (atomic: read without the lock)
  int reading;         // JS wants data
  int failing;         // a listener's: a failure told to the loop, not yet dealt with
  js_block_t spare[UNREAD_MAX];  // receive blocks the loop gave the reader (V8's memory: made on the loop)
  int spares;
  int reader, writer;  // started
  int threads;         // started and not yet heard leaving (the loop's count)
  wq_t *writes, *last; // the writer's queue
  struct sockaddr_storage peer;  // connect's address
  socklen_t peer_len;
} conn_t;

typedef struct msg {
  struct msg *next;
  int type;
  conn_t *c;
  int fd;       // M_ACCEPT
  double a, b;  // an errno, a length, a write's (req, result)
  js_block_t block;  // M_DATA, and the block of a reader's EOF or error (given back)
} msg_t;

struct tq {
  uv_async_t async;
  pthread_mutex_t lock;
  pthread_cond_t cond;  // running fell (a listener waiting for room; stop())
  msg_t *head, *tail;
  int running;          // threads alive
  int stopped;          // the async handle is closing: nobody signals it
  conn_t **conns;       // by socket id
  int cap;
};

static tq_t *tq(net_t *n) { return n->kind_data; }

static int closing(conn_t *c) { return __atomic_load_n(&c->closing, __ATOMIC_ACQUIRE); }

// ---- threads to the loop ----

static void post(tq_t *t, msg_t *m) {
  m->next = NULL;
  pthread_mutex_lock(&t->lock);
  if (t->tail) t->tail->next = m;
  else t->head = m;
  t->tail = m;
  if (!t->stopped) uv_async_send(&t->async);
  pthread_mutex_unlock(&t->lock);
}

// A message of no more than its type and two numbers. Out of memory, it is tried again every
// millisecond (JS waits for each of these: a write's end, a connect, a failure); a thread's
// leaving is preallocated (thread_main).
static void tell(conn_t *c, int type, double a, double b) {
  msg_t *m;
  while (!(m = malloc(sizeof *m))) usleep(1000);
  *m = (msg_t){ .type = type, .c = c, .a = a, .b = b };
  post(c->t, m);
}

// ---- the threads ----

static void *acceptor(conn_t *c) {
  tq_t *t = c->t;
  while (!closing(c)) {
    pthread_mutex_lock(&t->lock);
    while (t->running >= THREADS_MAX && !closing(c)) pthread_cond_wait(&t->cond, &t->lock);
    pthread_mutex_unlock(&t->lock);
    struct pollfd p = { .fd = c->fd, .events = POLLIN };
    if (poll(&p, 1, ACCEPT_WAKE_MS) <= 0 || closing(c)) continue;
    int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);  // blocking, as the connection's threads want it
    int err = errno;
    if (fd >= 0) {
      msg_t *m = malloc(sizeof *m);
      if (!m) {
        close(fd);
        continue;
      }
      *m = (msg_t){ .type = M_ACCEPT, .c = c, .fd = fd };
      post(t, m);
      continue;
    }
    if (err == EAGAIN || err == EINTR || err == ECONNABORTED) continue;
    // The loop deals with it (out of descriptors: it sheds the waiting connections); until then
    // this thread waits, so as not to spin on the same failure.
    pthread_mutex_lock(&c->lock);
    c->failing = 1;
    pthread_mutex_unlock(&c->lock);
    tell(c, M_ACCEPT_FAILED, -err, 0);
    pthread_mutex_lock(&c->lock);
    while (c->failing && !c->closing) pthread_cond_wait(&c->cond, &c->lock);
    pthread_mutex_unlock(&c->lock);
  }
  return NULL;
}

static void *reader(conn_t *c) {
  for (;;) {
    pthread_mutex_lock(&c->lock);
    while (!c->closing && (!c->reading || c->spares == 0)) pthread_cond_wait(&c->cond, &c->lock);
    int leave = c->closing;
    js_block_t block = leave ? (js_block_t){ 0 } : c->spare[--c->spares];
    pthread_mutex_unlock(&c->lock);
    if (leave) break;
    msg_t *m;
    while (!(m = malloc(sizeof *m))) usleep(1000);
    ssize_t got;
    do got = recv(c->fd, block.data, BLOCK, 0);
    while (got < 0 && errno == EINTR);
    int type = got > 0 ? M_DATA : got == 0 ? M_EOF : M_ERROR;
    *m = (msg_t){ .type = type, .c = c, .a = got > 0 ? (double)got : got == 0 ? 0 : -errno, .block = block };
    post(c->t, m);  // the block goes to the loop either way: only it may free V8's memory
    if (type != M_DATA) break;
  }
  return NULL;
}

static void *writer(conn_t *c) {
  pthread_mutex_lock(&c->lock);
  while (!c->closing) {
    wq_t *w = c->writes;
    if (!w) {
      pthread_cond_wait(&c->cond, &c->lock);
      continue;
    }
    pthread_mutex_unlock(&c->lock);
    struct msghdr msg = { .msg_iov = w->iov + w->at, .msg_iovlen = (size_t)(w->iovcnt - w->at) };
    ssize_t put = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
    int err = put < 0 ? errno : 0;
    pthread_mutex_lock(&c->lock);
    if (put < 0 && (err == EINTR || err == EAGAIN)) continue;  // EAGAIN: SO_SNDTIMEO, a look at `closing`
    if (put >= 0 && !net_advance(w, (size_t)put)) continue;
    // This write is done, or every queued one fails with err.
    do {
      wq_t *done = c->writes;
      c->writes = done->next;
      if (!c->writes) c->last = NULL;
      tell(c, M_WRITE, done->req, err ? -err : (double)done->done);
      free(done);
    } while (err && c->writes);
  }
  pthread_mutex_unlock(&c->lock);
  return NULL;
}

static void *connector(conn_t *c) {
  int err = 0;
  // connect() gives up after SO_SNDTIMEO (EINPROGRESS), or a signal interrupts it (EINTR): the
  // connect goes on, and is waited for as a nonblocking one is, looking at `closing` meanwhile
  // (a close before connect() began does not end the attempt: shutdown() had nothing to end).
  if (connect(c->fd, (struct sockaddr *)&c->peer, c->peer_len) < 0) err = errno == EINTR ? EINPROGRESS : errno;
  if (err == EINPROGRESS) {
    struct pollfd p = { .fd = c->fd, .events = POLLOUT };
    while (!closing(c) && poll(&p, 1, ACCEPT_WAKE_MS) <= 0) {}
    socklen_t len = sizeof err;
    if (closing(c)) err = ECANCELED;
    else getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  }
  tell(c, M_CONNECT, -err, 0);
  return NULL;
}

typedef struct {
  conn_t *c;
  void *(*run)(conn_t *);
  msg_t *exit;  // its leaving, told even when memory runs out
} start_t;

static void *thread_main(void *arg) {
  start_t s = *(start_t *)arg;
  free(arg);
  s.run(s.c);
  tq_t *t = s.c->t;
  *s.exit = (msg_t){ .type = M_EXIT, .c = s.c };
  // Its leaving told and the count lowered at once, under the queue's lock: from here on neither
  // the conn_t nor the queue is this thread's to touch.
  pthread_mutex_lock(&t->lock);
  if (t->tail) t->tail->next = s.exit;
  else t->head = s.exit;
  t->tail = s.exit;
  t->running--;
  pthread_cond_broadcast(&t->cond);
  if (!t->stopped) uv_async_send(&t->async);
  pthread_mutex_unlock(&t->lock);
  return NULL;
}

// Starts run(c) on a thread of its own (on the loop thread): 0 or -errno.
static int start(conn_t *c, void *(*run)(conn_t *)) {
  start_t *s = malloc(sizeof *s);
  msg_t *exit = malloc(sizeof *exit);
  if (!s || !exit) {
    free(s);
    free(exit);
    return -ENOMEM;
  }
  *s = (start_t){ c, run, exit };
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, STACK_SIZE);
  pthread_t th;
  tq_t *t = c->t;
  pthread_mutex_lock(&t->lock);
  t->running++;
  pthread_mutex_unlock(&t->lock);
  int err = pthread_create(&th, &attr, thread_main, s);
  pthread_attr_destroy(&attr);
  if (err) {
    pthread_mutex_lock(&t->lock);
    t->running--;
    pthread_mutex_unlock(&t->lock);
    free(s);
    free(exit);
    return -err;
  }
  c->threads++;
  return 0;
}

// ---- connections (on the loop thread) ----

static conn_t *conn_new(net_t *n, int id) {
  tq_t *t = tq(n);
  if (id >= t->cap) {
    int cap = t->cap ? t->cap : 64;
    while (cap <= id) cap *= 2;
    conn_t **grown = realloc(t->conns, cap * sizeof *grown);
    if (!grown) return NULL;
    memset(grown + t->cap, 0, (cap - t->cap) * sizeof *grown);
    t->conns = grown;
    t->cap = cap;
  }
  conn_t *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->t = t;
  c->id = id;
  c->fd = n->socks[id].fd;
  pthread_mutex_init(&c->lock, NULL);
  pthread_cond_init(&c->cond, NULL);
  t->conns[id] = c;
  n->socks[id].inflight = 1;  // its slot waits for the conn_t to go (sweep(), net.c)
  return c;
}

static conn_t *conn_of(net_t *n, int id) { return id < tq(n)->cap ? tq(n)->conns[id] : NULL; }

static void conn_free(tq_t *t, conn_t *c) {
  close(c->fd);
  while (c->spares > 0) js_block_free(&c->spare[--c->spares]);
  while (c->writes) {
    wq_t *w = c->writes;
    c->writes = w->next;
    free(w);
  }
  pthread_mutex_destroy(&c->lock);
  pthread_cond_destroy(&c->cond);
  if (t->conns[c->id] == c) t->conns[c->id] = NULL;
  free(c);
}

// Every thread of a closed connection is gone: its fd closed, its slot and buffers released.
static void conn_gone(net_t *n, conn_t *c) {
  int id = c->id;
  conn_free(tq(n), c);
  n->socks[id].inflight = 0;
  net_release(n, id);
}

static void set_closing(conn_t *c) {
  pthread_mutex_lock(&c->lock);
  __atomic_store_n(&c->closing, 1, __ATOMIC_RELEASE);
  pthread_cond_broadcast(&c->cond);
  pthread_mutex_unlock(&c->lock);
  pthread_mutex_lock(&c->t->lock);  // a listener waiting for room (THREADS_MAX) wakes too
  pthread_cond_broadcast(&c->t->cond);
  pthread_mutex_unlock(&c->t->lock);
  shutdown(c->fd, SHUT_RD);  // wakes recv (0), a blocked connect and a listener's poll; nothing goes to the peer
}

// A blocking socket whose writes give up after SEND_WAKE_MS, so that a closing writer notices.
static int make_blocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) return -errno;
  struct timeval wake = { .tv_sec = 0, .tv_usec = SEND_WAKE_MS * 1000 };
  return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wake, sizeof wake) < 0 ? -errno : 0;
}

// ---- messages to events (the loop) ----

// One message; 0 when there is no room left for its events in this delivery.
static int handle(net_t *n, msg_t *m) {
  conn_t *c = m->c;
  int id = c->id;
  if (!net_room(n)) return 0;
  if (m->type == M_EXIT) {
    if (--c->threads == 0 && c->closing) conn_gone(n, c);
    return 1;
  }
  if (c->closing) {  // JS closed it meanwhile: nobody to tell
    if (m->type == M_ACCEPT) close(m->fd);
    js_block_free(&m->block);
    return 1;
  }
  switch (m->type) {
    case M_ACCEPT: {
      int sid = net_new_sock(n, m->fd);
      conn_t *a = sid >= 0 ? conn_new(n, sid) : NULL;
      if (!a || make_blocking(m->fd) < 0) {
        if (a) conn_free(tq(n), a);
        else close(m->fd);
        if (sid >= 0) n->socks[sid] = (sock_t){ .fd = SLOT_FREE };
        break;
      }
      net_set_ref(n, &n->socks[sid], 1);  // an open connection keeps the loop alive, as node's
      net_emit(n, EV_ACCEPT, id, sid, 0);
      break;
    }
    case M_ACCEPT_FAILED:
      net_accept_failed(n, id, c->fd, (int)m->a);
      pthread_mutex_lock(&c->lock);
      c->failing = 0;
      pthread_cond_broadcast(&c->cond);
      pthread_mutex_unlock(&c->lock);
      break;
    case M_DATA:
      net_data_block(n, id, &m->block, BLOCK, (size_t)m->a);  // large: handed over, a new block in its place
      break;
    case M_EOF:
      net_emit(n, EV_EOF, id, 0, 0);
      break;
    case M_ERROR:
      net_emit(n, EV_ERROR, id, m->a, 0);
      break;
    case M_WRITE:
      n->socks[id].send_busy--;
      net_emit(n, EV_WRITE, id, m->a, m->b);
      break;
    case M_CONNECT:
      net_emit(n, EV_CONNECT, id, m->a, 0);
      break;
  }
  // The reader's block (the one it read into, or the new one in its place) goes back to it.
  if (m->block.store) {
    pthread_mutex_lock(&c->lock);
    if (c->spares < UNREAD_MAX) {
      c->spare[c->spares++] = m->block;
      m->block = (js_block_t){ 0 };
      pthread_cond_broadcast(&c->cond);
    }
    pthread_mutex_unlock(&c->lock);
    js_block_free(&m->block);
  }
  return 1;
}

// Puts messages m (a list) back at the head of the queue, ahead of what came meanwhile; again:
// and signal the loop to come back for them.
static void put_back(tq_t *t, msg_t *m, int again) {
  pthread_mutex_lock(&t->lock);
  msg_t *last = m;
  while (last->next) last = last->next;
  last->next = t->head;
  if (!t->head) t->tail = last;
  t->head = m;
  if (again && !t->stopped) uv_async_send(&t->async);
  pthread_mutex_unlock(&t->lock);
}

static void on_async(uv_async_t *h) {
  net_t *n = h->data;
  tq_t *t = tq(n);
  pthread_mutex_lock(&t->lock);
  msg_t *m = t->head;
  t->head = t->tail = NULL;
  pthread_mutex_unlock(&t->lock);
  napi_handle_scope scope;
  if (!m) return;
  if (!net_begin(n, &scope)) return put_back(t, m, 0);  // closed meanwhile: stop() and on_closed() free them
  while (m) {
    msg_t *next = m->next;
    if (!handle(n, m)) break;
    free(m);
    m = next;
  }
  if (m) put_back(t, m, 1);  // no room for the rest: the next wake-up
  net_end(n, scope);
}

// ---- the kind ----

static int th_init(net_t *n, napi_env env) {
  tq_t *t = calloc(1, sizeof *t);
  if (!t) return -ENOMEM;
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  if (uv_async_init(loop, &t->async, on_async) < 0) {
    free(t);
    return -ENOMEM;
  }
  pthread_mutex_init(&t->lock, NULL);
  pthread_cond_init(&t->cond, NULL);
  t->async.data = n;
  n->kind_data = t;
  n->watcher = (uv_handle_t *)&t->async;
  return 0;
}

static int th_listening(net_t *n, int id) {
  conn_t *c = conn_new(n, id);
  if (!c) return -ENOMEM;
  return start(c, acceptor);  // the listener stays nonblocking: accept() after poll() never waits
}

static int th_connect(net_t *n, int id, const struct sockaddr *addr, socklen_t len) {
  conn_t *c = conn_new(n, id);
  if (!c) return -ENOMEM;
  memcpy(&c->peer, addr, len);
  c->peer_len = len;
  int err = make_blocking(c->fd);
  return err < 0 ? err : start(c, connector);
}

static int th_read(net_t *n, int id, int on) {
  conn_t *c = conn_of(n, id);
  if (!c) return -EBADF;
  pthread_mutex_lock(&c->lock);
  c->reading = on;
  pthread_cond_broadcast(&c->cond);
  pthread_mutex_unlock(&c->lock);
  if (!on || c->reader) return 0;
  // Its receive blocks, from V8's allocator (here, on the loop): handed over as the Buffers themselves.
  while (c->spares < UNREAD_MAX) {
    if (js_block_new(&c->spare[c->spares], BLOCK) < 0) return -ENOMEM;
    c->spares++;
  }
  int err = start(c, reader);
  if (err == 0) c->reader = 1;
  return err;
}

// The write net.c queued (s->writes) goes to the connection's writer; s->send_busy counts the
// writes not yet reported, so that later ones queue behind them (net.c's js_write).
static int th_queued(net_t *n, int id) {
  sock_t *s = &n->socks[id];
  conn_t *c = conn_of(n, id);
  int err = c ? 0 : -EBADF;
  if (c && !c->writer && (err = start(c, writer)) == 0) c->writer = 1;
  if (err < 0) {
    net_free_writes(s);
    return err;
  }
  pthread_mutex_lock(&c->lock);
  while (s->writes) {
    wq_t *w = s->writes;
    s->writes = w->next;
    w->next = NULL;
    if (c->last) c->last->next = w;
    else c->writes = w;
    c->last = w;
    s->send_busy++;
  }
  s->last = NULL;
  pthread_cond_broadcast(&c->cond);
  pthread_mutex_unlock(&c->lock);
  return 0;
}

static int th_close(net_t *n, int id) {
  conn_t *c = conn_of(n, id);
  if (!c) {
    close(n->socks[id].fd);
    return 0;
  }
  set_closing(c);
  if (c->threads > 0) return 1;  // conn_gone() when the last has left
  conn_free(tq(n), c);
  n->socks[id].inflight = 0;
  return 0;
}

static void on_closed(uv_handle_t *h) {
  net_t *n = h->data;
  tq_t *t = tq(n);
  pthread_mutex_lock(&t->lock);
  int left = t->running;  // threads that did not leave in time keep what they use: all of it, leaked
  pthread_mutex_unlock(&t->lock);
  for (msg_t *m = t->head, *next; m; m = next) {
    next = m->next;
    if (m->type == M_ACCEPT) close(m->fd);
    js_block_free(&m->block);
    free(m);
  }
  t->head = t->tail = NULL;
  if (!left) {
    for (int i = 0; i < t->cap; i++)
      if (t->conns[i]) conn_free(t, t->conns[i]);
    free(t->conns);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cond);
    free(t);
  }
  net_free(n);
}

static void th_stop(net_t *n) {
  tq_t *t = tq(n);
  for (int i = 0; i < n->nsocks; i++) {
    conn_t *c = conn_of(n, i);
    if (c) set_closing(c);
    else if (n->socks[i].fd >= 0) close(n->socks[i].fd);
    n->socks[i].fd = SLOT_FREE;
  }
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += STOP_WAIT_S;
  pthread_mutex_lock(&t->lock);
  while (t->running > 0 && pthread_cond_timedwait(&t->cond, &t->lock, &until) != ETIMEDOUT) {}
  t->stopped = 1;
  pthread_mutex_unlock(&t->lock);
  uv_close((uv_handle_t *)&t->async, on_closed);
}

const net_kind_t net_thread_kind = {
    .name = "thread", .init = th_init, .listening = th_listening, .connect = th_connect, .read = th_read,
    .queued = th_queued, .close = th_close, .stop = th_stop,
};
