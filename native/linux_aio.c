// The `linux-aio` engine: kernel AIO over the raw syscalls io_setup/io_submit/io_getevents/
// io_destroy and <linux/aio_abi.h> (no libaio). Every operation started in one turn of the loop
// goes in one io_submit; completions signal an eventfd (IOCB_FLAG_RESFD) watched by the loop.
// Truly asynchronous only with O_DIRECT: on buffered files io_submit does the I/O itself, so the
// completions are ready when it returns and are delivered at once.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/aio_abi.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "aio_syscalls.h"
#include "engine.h"

_Static_assert(sizeof(struct iocb) <= sizeof(((req_t *)0)->engine_data), "iocb fits in req_t");

typedef struct {
  engine_t base;
  aio_context_t ctx;
  unsigned nr_events;
  int event_fd;
  struct iocb **batch;  // started in this batch, not yet submitted
  unsigned nbatch, batch_cap;
  uv_poll_t poll;
} aio_engine_t;

static void on_poll(uv_poll_t *h, int status, int events);

static int aio_init(engine_t *e, napi_env env, napi_value options) {
  aio_engine_t *a = (aio_engine_t *)e;
  a->nr_events = option_u32(env, options, "entries", 256);
  a->batch_cap = (unsigned)e->sub_cap;
  a->batch = calloc(a->batch_cap, sizeof *a->batch);
  if (!a->batch) return -ENOMEM;
  if (sys_io_setup(a->nr_events, &a->ctx) < 0) {
    int err = -errno;
    free(a->batch);
    return err;
  }
  a->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (a->event_fd < 0) {
    int err = -errno;
    sys_io_destroy(a->ctx);
    free(a->batch);
    return err;
  }
  uv_poll_init(e->loop, &a->poll, a->event_fd);
  a->poll.data = a;
  uv_poll_start(&a->poll, UV_READABLE, on_poll);
  uv_unref((uv_handle_t *)&a->poll);  // ref'ed only while operations are in flight
  return 0;
}

// Linux AIO has no "current file position", no open/close/stat/truncate: those go to the pool.
static int aio_supports(engine_t *e, int op) {
  switch (op) {
    case OP_READ: case OP_WRITE: case OP_READV: case OP_WRITEV: case OP_FSYNC: case OP_FDATASYNC: case OP_NOP:
      return 1;
    default:
      return 0;
  }
}

// What io_submit refuses with EINVAL (IOCB_CMD_FSYNC on a filesystem without it, a directory)
// runs with the blocking call on a thread of its own, as the pool would.
static void run_elsewhere(engine_t *e, req_t *r) {
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int err = pthread_create(&t, &attr, blocking_thread, r);
  pthread_attr_destroy(&attr);
  if (err) {
    r->result = -err;
    completion_push(e, r);
  }
}

static void aio_start(engine_t *e, req_t *r) {
  aio_engine_t *a = (aio_engine_t *)e;
  struct iocb *cb = (struct iocb *)r->engine_data;
  memset(cb, 0, sizeof *cb);
  cb->aio_data = (uint64_t)(uintptr_t)r;
  cb->aio_fildes = (uint32_t)r->fd;
  cb->aio_flags = IOCB_FLAG_RESFD;
  cb->aio_resfd = (uint32_t)a->event_fd;
  switch (r->op) {
    case OP_READ:
    case OP_WRITE:
      cb->aio_lio_opcode = r->op == OP_READ ? IOCB_CMD_PREAD : IOCB_CMD_PWRITE;
      cb->aio_buf = (uint64_t)(uintptr_t)r->iov[0].iov_base;
      cb->aio_nbytes = r->iov[0].iov_len;
      cb->aio_offset = r->pos;
      break;
    case OP_READV:
    case OP_WRITEV:
      cb->aio_lio_opcode = r->op == OP_READV ? IOCB_CMD_PREADV : IOCB_CMD_PWRITEV;
      cb->aio_buf = (uint64_t)(uintptr_t)r->iov;
      cb->aio_nbytes = (uint64_t)r->iovcnt;
      cb->aio_offset = r->pos;
      break;
    case OP_FSYNC:
    case OP_FDATASYNC:
      cb->aio_lio_opcode = r->op == OP_FSYNC ? IOCB_CMD_FSYNC : IOCB_CMD_FDSYNC;
      break;
    default:
      cb->aio_lio_opcode = IOCB_CMD_NOOP;
  }
  a->batch[a->nbatch++] = cb;  // room: a batch holds at most sub_cap records
}

static void push_events(engine_t *e, const struct io_event *events, long n) {
  for (long i = 0; i < n; i++) {
    req_t *r = (req_t *)(uintptr_t)events[i].data;
    r->result = events[i].res;
    completion_push(e, r);
  }
}

// Reap up to max ready events into the completion array; never waits. Returns how many.
static unsigned reap(aio_engine_t *a, int deliver, unsigned max) {
  engine_t *e = &a->base;
  struct io_event events[64];
  struct timespec zero = {0, 0};
  unsigned got = 0;
  while (got < max) {
    long want = max - got < 64 ? (long)(max - got) : 64;
    long n = sys_io_getevents(a->ctx, 0, want, events, &zero);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return got;
    got += (unsigned)n;
    for (long i = 0; i < n; i++) {
      // Inside submit() with a full array, or JS closed the engine while it was delivering: the
      // rest of this batch goes through the list (the async wake-up, or stop()).
      if (completion_full(e) && completion_make_room(e, deliver) != ROOM_MADE) {
        push_events(e, events + i, n - i);
        return got;
      }
      req_t *r = (req_t *)(uintptr_t)events[i].data;
      r->result = events[i].res;
      completion_record(e, r);
    }
  }
  return got;
}

static void aio_flush(engine_t *e) {
  aio_engine_t *a = (aio_engine_t *)e;
  unsigned done = 0;
  while (done < a->nbatch) {
    long n = sys_io_submit(a->ctx, a->nbatch - done, a->batch + done);
    if (n > 0) {
      done += (unsigned)n;
      continue;
    }
    int err = n < 0 ? errno : EAGAIN;
    if (err == EINTR) continue;
    // The first iocb was refused. EINVAL: AIO cannot do it for this file (fsync on some
    // filesystems, directories, ...): the blocking call on a thread does it, or gives the error
    // node:fs would. Any other error is that operation's result.
    struct iocb *cb = a->batch[done++];
    req_t *r = (req_t *)(uintptr_t)cb->aio_data;
    if (err == EINVAL) {
      run_elsewhere(e, r);
    } else {
      r->result = -err;
      completion_push(e, r);
    }
  }
  a->nbatch = 0;
  // Buffered I/O was done inside io_submit: deliver it now. Device I/O completed earlier waits
  // its turn (see ramp_budget): when the budget runs out, the eventfd brings the rest.
  unsigned budget = ramp_budget(done);
  if (reap(a, 1, budget) == budget) signal_eventfd(a->event_fd);
}

static unsigned reap_delivering(engine_t *e, unsigned max) { return reap((aio_engine_t *)e, 1, max); }

static void on_poll(uv_poll_t *h, int status, int events) {
  aio_engine_t *a = h->data;
  uint64_t count;
  if (a->base.stopping) return;
  while (read(a->event_fd, &count, sizeof count) < 0 && errno == EINTR) {}
  if (completion_deliver_for_a_turn(&a->base, reap_delivering, a->event_fd)) return;
  completion_drain_pushed(&a->base, 1, DRAIN_ALL);
  if (completion_deliver_unless_destroyed(&a->base)) return;
  completion_update_ref(&a->base);
}

static void aio_cancel_one(engine_t *e, req_t *r) {
  aio_engine_t *a = (aio_engine_t *)e;
  struct io_event ev;
  // Most files cannot cancel (EINVAL); a cancelled one still completes through the eventfd.
  sys_io_cancel(a->ctx, (struct iocb *)r->engine_data, &ev);
}

static void aio_cancel(engine_t *e) {}  // in-flight AIO on files cannot be taken back

static void aio_stop(engine_t *e) {
  aio_engine_t *a = (aio_engine_t *)e;
  uv_poll_stop(&a->poll);
  struct io_event events[64];
  // Wait for every operation the kernel holds before the buffers may go.
  while (e->inflight > 0) {
    unsigned before = e->inflight;
    reap(a, 0, UINT_MAX);
    completion_drain_pushed(e, 0, DRAIN_ALL);
    if (e->inflight == before) {
      struct timespec ms = {0, 1000000};
      long n = sys_io_getevents(a->ctx, 1, 64, events, &ms);
      for (long i = 0; i < n; i++) {
        req_t *r = (req_t *)(uintptr_t)events[i].data;
        r->result = events[i].res;
        if (completion_full(e)) completion_make_room(e, 0);
        completion_record(e, r);
      }
    }
  }
  e->ncomp = 0;
  sys_io_destroy(a->ctx);
  close(a->event_fd);
  free(a->batch);
}

static uv_handle_t *aio_handle(engine_t *e) { return (uv_handle_t *)&((aio_engine_t *)e)->poll; }

const engine_kind_t linux_aio_kind = {
    .name = "linux-aio",
    .size = sizeof(aio_engine_t),
    .init = aio_init,
    .start = aio_start,
    .flush = aio_flush,
    .cancel = aio_cancel,
    .cancel_one = aio_cancel_one,
    .stop = aio_stop,
    .supports = aio_supports,
    .handle = aio_handle,
};
