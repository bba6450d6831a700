// The socket engines' shared part (net.c): the N-API surface, the table of sockets, the events
// JS receives, and what every engine does with plain syscalls (socket, bind, listen, shutdown,
// setsockopt, addresses). Each engine (net_epoll.c, net_uring.c, net_thread.c) brings how
// sockets wait: readiness, completions, or threads blocked in the calls.
#ifndef IOENGINE_NET_H
#define IOENGINE_NET_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/socket.h>
#include <sys/uio.h>

#include "addon.h"
#include "owned_buffer.h"

// Events JS receives, four doubles each: (type, socket, a, b). Same numbers in src/net/native.ts.
// EV_POOLED: a DATA event whose bytes are in the arena, (POOLED, socket, length, offset); EV_ARENA:
// the Buffer that later POOLED events are in (socket -1).
enum { EV_ACCEPT = 1, EV_DATA, EV_EOF, EV_ERROR, EV_WRITE, EV_CONNECT, EV_RELEASED, EV_POOLED, EV_ARENA };
// Options for setOption(): same numbers in src/net/native.ts. OPT_POOLED: the socket's small
// reads are copied into the arena, a Buffer shared by many reads and never written twice, not
// into a Buffer each (an allocation and an ArrayBuffer of its own per read).
enum { OPT_NODELAY = 1, OPT_KEEPALIVE, OPT_ZEROCOPY, OPT_POOLED };
#define ARENA_SIZE 65536
#define ARENA_PIECE_MAX 8192  // larger reads get a Buffer of their own
// A write of this many bytes or more on a zero-copy socket is not offered to the socket at once
// (a copy): it goes to the engine, which sends it without copying.
#define NET_ZEROCOPY_MIN 16384

#define SLOT_FREE -1     // fd of a free slot
#define SLOT_CLOSED -2   // closed by JS; the slot waits (for the kernel, or the end of a delivery)

typedef struct wq {
  struct wq *next;
  double req;         // JS's number for this write
  struct iovec *iov;  // into JS buffers, referenced by JS until the WRITE event (or RELEASED)
  int iovcnt, at;     // iov[at] is the first not fully written
  size_t done;
} wq_t;

typedef struct sock {
  int fd;
  int listening, connecting, reading, refed;
  wq_t *writes, *last;
  // epoll
  int in_epoll;
  uint32_t interest;
  // io_uring: requests the kernel holds for this socket, and what is armed. send_busy: a write
  // is being sent (io_uring), or writes are queued on a thread (thread: how many); later writes
  // queue behind. inflight (thread): the slot waits for the connection's threads.
  int inflight, recv_armed, send_busy, accept_armed;
  // io_uring: the writes (from the first) the send in flight carries; where its SQE is in the
  // ring (taken back while not yet handed to the kernel); the header and pieces it shares when
  // it carries several (malloc'ed; freed at its completion, or with the engine)
  int send_span, send_pieces, send_batched;  // send_batched: made for writes of this wake-up, not a rest sent again
  size_t send_bytes;
  unsigned send_at;
  void *gather;
  // zero-copy sends (io_uring: SENDMSG_ZC): on; and the sent count or error of the send whose
  // notification (the kernel let go of the buffers) has not come yet
  int zerocopy, zc_result;
  int pooled;  // OPT_POOLED
  struct sockaddr_storage *peer;  // connect's address (malloc'ed: the table moves), until its completion
} sock_t;

typedef struct net net_t;

typedef struct net_kind {
  const char *name;
  // Set up: the loop watcher included. Returns 0 or -errno.
  int (*init)(net_t *n, napi_env env);
  // A listener is ready (bound, listening): start accepting. 0 or -errno.
  int (*listening)(net_t *n, int id);
  // connect(2) the nonblocking socket to addr, later EV_CONNECT; or -errno now.
  int (*connect)(net_t *n, int id, const struct sockaddr *addr, socklen_t len);
  // Start or stop reading: 0, or -errno when it cannot start.
  int (*read)(net_t *n, int id, int on);
  // A write the socket did not take at once was queued last: send it when the socket can take
  // more. 0; 1: it goes with the requests of this wake-up, behind nothing that waits for the
  // peer (an engine with flush); or -errno: it cannot be (then it is taken off the queue, freed, and JS told).
  int (*queued)(net_t *n, int id);
  // The socket is being closed: 1 while the kernel still holds requests of it (EV_RELEASED then).
  int (*close)(net_t *n, int id);
  // Everything given back; the loop watcher closed, then net_free(n).
  void (*stop)(net_t *n);
  // Zero-copy sends on (1) or off (0) for the socket (id -1: can it): 0, or -EOPNOTSUPP
  // (optional: none without it).
  int (*zerocopy)(net_t *n, int id, int on);
  // How this engine works here, where that depends on the kernel (optional).
  const char *(*describe)(net_t *n);
  // Optional: the engine batches sends. Writes made while JS takes a wake-up's events are then
  // queued, not offered to the socket at once, and go to the kernel with the wake-up's other
  // requests, in one call. flush hands over now what JS asked for so far, when the end of a
  // wake-up will not come (the process exits from a handler, or dies of its exception: JS calls
  // netFlush on 'exit'): what node:net would have written is written.
  void (*flush)(net_t *n);
} net_kind_t;

#define QUEUED -1e9
// netWrite's answer for a write queued with the requests a wake-up hands the kernel as it ends,
// behind nothing that waits for the peer (an engine with flush): JS may count it as taken.
#define BATCHED -2e9
// What such a send may carry for the write to be answered BATCHED (more is answered QUEUED).
#define NET_BATCHED_MAX 65536
// netWrite's answer for such a write that was copied (the writer asked for it; small ones only):
// its buffers are free at once, as those of a write the socket took at once.
#define TAKEN -3e9
// The most a write may carry to be copied for that (the copy costs less than a syscall).
#define NET_COPY_MAX 16384

struct net {
  const net_kind_t *kind;
  napi_env env;
  int closed, delivering, refs, closing_slots;
  int reserve_fd;        // kept open, given up to shed a connection when out of descriptors
  napi_ref on_events, events_ref;
  napi_async_context async_context;
  napi_async_cleanup_hook_handle cleanup;
  uv_handle_t *watcher;  // the kind's loop handle: ref'ed while a socket is
  double *ev;            // JS's Float64Array of events
  size_t ev_cap, nev;
  napi_value bufs;       // this delivery's Buffers, by DATA (and ARENA) event order (inside a handle scope)
  uint32_t nbufs;
  // The arena (OPT_POOLED): its Buffer, referenced until a new one takes its place, and its bytes,
  // of which the first arena_used are JS's. arena_checked: not detached, this delivery.
  napi_ref arena_ref;
  unsigned char *arena;
  size_t arena_used;
  int arena_checked;
  sock_t *socks;
  int nsocks, cap;
  void *kind_data;
};

int net_new_sock(net_t *n, int fd);
// writev, without SIGPIPE for a peer that has gone (node ignores it; an embedder may not), and
// never waiting.
ssize_t net_send(int fd, struct iovec *iov, int count);
// Moves w past put bytes written; returns 1 when all of it is.
int net_advance(wq_t *w, size_t put);
sock_t *net_sock(net_t *n, int64_t id);  // an open socket, or NULL
void net_set_ref(net_t *n, sock_t *s, int ref);
void net_free_writes(sock_t *s);
// The slot of a closed socket is free again (after the kernel let go of it).
void net_release(net_t *n, int id);
// accept() failed with err. Out of descriptors (EMFILE, ENFILE): the waiting connections are
// accepted and closed with the fd kept for this, silently (libuv's way), so the listener does not
// spin. Anything else: JS hears err (the server's 'error').
void net_accept_failed(net_t *n, int id, int listen_fd, int err);
int net_room(net_t *n);
void net_emit(net_t *n, int type, int id, double a, double b);
// Begin, then end, a wake-up's work: events gathered in between go to JS in one call at the end.
int net_begin(net_t *n, napi_handle_scope *scope);
void net_end(net_t *n, napi_handle_scope scope);
// Bytes read for socket id: a Buffer (a copy) for its DATA event, or for a pooled socket a copy
// into the arena (a POOLED event).
void net_data(net_t *n, int id, const void *bytes, size_t len);
// Bytes read into *block (owned_buffer.h, block_size bytes): a read of HANDOVER_MIN bytes or more
// becomes the Buffer itself, no copy, and *block a new block; a smaller one is copied, so that a
// short message does not pin a whole block (and so is a large one when no new block can be had).
#define HANDOVER_MIN 32768
void net_data_block(net_t *n, int id, js_block_t *block, size_t block_size, size_t len);
// Called by the kind's stop() once its loop handle has closed.
void net_free(net_t *n);

extern const net_kind_t net_epoll_kind, net_uring_kind, net_thread_kind;

#endif
