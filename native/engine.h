// The engine contract on the native side, shared by every native engine.
//
// JS writes operations as records into a Float64Array (the submission array) and calls
// submit(handle, count, buffers) once per batch. Native turns each record into a req_t, hands it
// to the engine, and completions come back as (id, result) pairs in a second Float64Array (the
// completion array). A result is >= 0, or a negative errno: native never throws for I/O.
// The TS layer (src/engines/native.ts) validated every argument; native still checks every
// pointer and length against the buffer it was given, and fails the operation with -EINVAL
// rather than trust it.
#ifndef IOENGINE_ENGINE_H
#define IOENGINE_ENGINE_H

#include <limits.h>
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/uio.h>
#include <uv.h>

// The operation table, the submission record and the stat layout: src/ops.ts and src/stats.ts
// hold the same numbers, and the addon refuses to load where they differ (js_layout in addon.c).
enum {
  OP_NOP = 0,
  OP_READ = 1,
  OP_WRITE = 2,
  OP_READV = 3,
  OP_WRITEV = 4,
  OP_FSYNC = 5,
  OP_FDATASYNC = 6,
  OP_FSTAT = 7,
  OP_FTRUNCATE = 8,
  OP_OPEN = 9,
  OP_CLOSE = 10,
  // By path: path in buffer R_BUF (a second path, or stat's output, in R_BUF + 1)
  OP_STAT = 11,    // R_A: AT_SYMLINK_NOFOLLOW for lstat
  OP_UNLINK = 12,  // R_A: AT_REMOVEDIR for rmdir
  OP_RENAME = 13,
  OP_MKDIR = 14,   // R_B: mode
  // Whole files, path in R_BUF and the data in R_BUF + 1 (blocking.c): R_A open flags.
  OP_READFILE = 15,
  OP_WRITEFILE = 16,  // R_B: mode; R_POS: WRITEFILE_CUT | WRITEFILE_FLUSH
  // By path, on threads only (no ring has them): R_A access's mode, chmod's mode (R_B),
  // utimes' atime and mtime in seconds (R_A, R_B), truncate's length (R_POS, failures by step),
  // copyFile's COPYFILE_* flags (R_A, the new path in R_BUF + 1).
  OP_ACCESS = 17,
  OP_CHMOD = 18,
  OP_UTIMES = 19,
  OP_TRUNCATE = 20,
  OP_COPYFILE = 21,
  OP_READDIR = 22,  // the listing into R_BUF + 1 (blocking.c)
  OP_COUNT = 23,
};

// The whole-file operations run several calls; a failure answers -(errno + step * STEP_UNIT),
// the step being the call that failed (errno is below 4096 on Linux).
enum { STEP_OPEN, STEP_READ, STEP_WRITE, STEP_FTRUNCATE, STEP_FSYNC, STEP_CLOSE, STEP_FSTAT, STEP_UNIT = 4096 };
// copyFile's flags, node's fs.constants.COPYFILE_*.
enum { COPYFILE_EXCL = 1, COPYFILE_FICLONE = 2, COPYFILE_FICLONE_FORCE = 4 };
// writeFile: cut the file to what was written (instead of O_TRUNC up front); fsync before close.
enum { WRITEFILE_CUT = 1, WRITEFILE_FLUSH = 2 };

// Submission record layout: RECORD_SIZE doubles per operation.
enum {
  R_OP = 0,   // operation code
  R_ID = 1,   // JS id, echoed in the completion
  R_FD = 2,   // file descriptor
  R_POS = 3,  // file position (-1: current); truncate length
  R_BUF = 4,  // index of the first buffer in the buffers array
  R_NBUF = 5, // number of buffers (readv/writev)
  R_A = 6,    // read/write: offset in buffer; open: flags
  R_B = 7,    // read/write: length; open: mode
  RECORD_SIZE = 8,
};

// fstat results, written as doubles into the op's buffer (see src/stats.ts).
enum {
  ST_DEV, ST_MODE, ST_NLINK, ST_UID, ST_GID, ST_RDEV, ST_BLKSIZE, ST_INO, ST_SIZE, ST_BLOCKS,
  ST_ATIME_MS, ST_MTIME_MS, ST_CTIME_MS, ST_BIRTHTIME_MS, ST_DIO_MEM_ALIGN, ST_DIO_OFFSET_ALIGN,
  STAT_FIELDS = 18,  // two spare
};

#define INLINE_IOVS 4

typedef struct engine engine_t;

typedef struct req {
  struct req *next;
  engine_t *engine;
  int op;
  uint32_t id;
  int fd;
  int64_t pos;
  struct iovec *iov;  // iov1 or a malloc'ed array
  int iovcnt;
  int flags, mode;
  double atime, mtime;  // utimes, in seconds
  const char *path;   // open and the path operations: NUL-terminated path inside a JS buffer
  const char *path2;  // rename: the new path
  double *stat;       // fstat, stat: STAT_FIELDS doubles inside a JS buffer
  int64_t result;
  int cancel_sent;    // io_uring: a cancel for it is on its way (one is enough; more only fill the CQ)
  pthread_t thread;   // thread engine only
  struct iovec iov1[INLINE_IOVS];
  // The engine's own control block for this request (linux-aio's iocb, posix-aio's aiocb,
  // io_uring's statx result), kept here so that starting an operation allocates nothing.
  _Alignas(16) unsigned char engine_data[256];
} req_t;

typedef struct engine_kind {
  const char *name;
  size_t size;  // sizeof the engine's own struct, which starts with engine_t
  // Set up; returns 0 or -errno. options is a JS object (may be undefined).
  int (*init)(engine_t *e, napi_env env, napi_value options);
  // Start one operation; its completion comes later through completion_push/completion_record.
  void (*start)(engine_t *e, req_t *r);
  // End of a batch: hand everything started to the kernel (io_uring, linux-aio).
  void (*flush)(engine_t *e);
  // Cancel what can be cancelled; cancelled operations complete with -ECANCELED. Engines whose
  // threads run blocking calls interrupt them (e->cancelled is set: they give up). May be called
  // again while operations are still running (a thread not yet in its call when interrupted).
  void (*cancel)(engine_t *e);
  // Wait until no operation is in flight and release the engine's resources. Must not call
  // into JS: it also runs from the environment's cleanup hook.
  void (*stop)(engine_t *e);
  // Optional, loop thread: a request pushed by another thread is about to be recorded.
  void (*finished)(engine_t *e, req_t *r);
  // Optional: cancel one request, if it can still be taken back (it completes with -ECANCELED).
  void (*cancel_one)(engine_t *e, req_t *r);
  // Optional: the engine's registered buffers as one ArrayBuffer (or NULL).
  napi_value (*buffers)(engine_t *e, napi_env env);
  // Optional: can the engine itself do this operation (else JS sends it to the pool engine).
  int (*supports)(engine_t *e, int op);
  // The libuv handle that keeps the loop alive while work is in flight.
  uv_handle_t *(*handle)(engine_t *e);
} engine_kind_t;

typedef struct handle_box handle_box_t;

struct engine {
  const engine_kind_t *kind;
  napi_env env;
  uv_loop_t *loop;
  handle_box_t *box;                // the JS handle pointing at this engine
  napi_ref on_complete, sub_ref, comp_ref;
  napi_async_context async_context;
  napi_async_cleanup_hook_handle cleanup;
  double *sub;                      // submission records
  size_t sub_cap;                   // records
  double *comp;                     // completion pairs (id, result)
  size_t comp_cap, ncomp;           // pairs
  uint32_t inflight;                // started, not yet recorded (main thread only)
  int referenced;                   // is the loop handle ref'ed
  int stopping;
  int in_js_call;                   // inside submit(): completions go back as its result
  int delivering;                   // inside completion_deliver(): JS is running
  int destroy_requested;            // JS asked to destroy the engine while delivering
  int draining;                     // shutting down: nobody will hear of completions
  int cancelled;                    // cancel-all ran: an interrupted blocking call gives up (atomic)
  int open_handles;                 // loop handles still to close once stopping

  // Completions pushed by other threads, drained on the loop thread (uv_async_t).
  uv_async_t async;
  pthread_mutex_t done_lock;
  req_t *done_head, *done_tail;

  req_t *free_reqs;                 // main thread only
  req_t **by_id;                    // requests in flight, by JS id (for cancelling one)
  size_t by_id_cap;

  // Files this engine opened and JS has not closed (loop thread only): closed by the environment's
  // cleanup, as node closes its own FileHandles, when a worker ends with files open.
  int *open_fds;
  size_t n_open_fds, cap_open_fds;

  // Page-cache work on the loop thread (inline.c, the `inline` option: auto's choice).
  int inline_io;
  uint64_t inline_paused_until;     // uv_hrtime(): a write waited for the device
  uint64_t inline_pause_ns;         // the last pause's length (it doubles while writes keep waiting)
  uint8_t *fd_kind;                 // by fd: is it ours, and may its work run inline
  size_t fd_cap;
  unsigned long inline_aio;         // aio_context_t: the inline writes of a batch go in one io_submit
  int inline_aio_failed;            // io_setup failed: each inline write is its own pwrite
  int inline_group;                 // inline writes per io_submit now (doubling up to INLINE_WRITES while they are fast)
};

// completions.c
void completion_init(engine_t *e);
req_t *req_alloc(engine_t *e);
void req_free(engine_t *e, req_t *r);
// From any thread: hand a finished request to the loop thread.
void completion_push(engine_t *e, req_t *r);
// Loop thread: record a finished request in the completion array (there must be room) and
// release it.
void completion_record(engine_t *e, req_t *r);
// Loop thread: record one result of a request that completes again later (a multishot
// operation); the request stays in flight.
void completion_note(engine_t *e, const req_t *r);
int completion_full(engine_t *e);
// The completion array is full: make room. Stopping (!deliver), the pairs are dropped (nobody
// will hear of them); inside submit() they go back with the call, so ROOM_LATER: the caller keeps
// the rest for the next wake-up; otherwise they are delivered to JS, and ROOM_GONE says JS
// destroyed the engine meanwhile (the caller returns at once).
typedef enum { ROOM_MADE, ROOM_LATER, ROOM_GONE } room_t;
room_t completion_make_room(engine_t *e, int deliver);
// Loop thread, outside any JS call: deliver what was recorded to JS in one call.
void completion_deliver(engine_t *e);
// Loop thread: move what other threads pushed (the first max, or DRAIN_ALL) into the completion
// array, delivering to JS whenever it fills up when deliver is set; returns how many it moved.
#define DRAIN_ALL UINT_MAX
unsigned completion_drain_pushed(engine_t *e, int deliver, unsigned max);
// Ref the loop handle while work is in flight, unref it when idle.
void completion_update_ref(engine_t *e);
// After a delivery: true when JS asked meanwhile to destroy the engine. Callers stop touching the
// engine's resources and return; the outermost one (delivering == 0) has then shut it down.
int completion_destroyed(engine_t *e);
// Deliver what was recorded, unless JS asked to destroy the engine; true when it did (before or
// during the delivery): then the caller returns at once.
int completion_deliver_unless_destroyed(engine_t *e);
// Make an eventfd readable (a wake-up for the loop that polls it).
void signal_eventfd(int fd);

// Ramping up after a wake-up (io_uring, linux-aio). A device that completes its whole queue at
// once (virtio here: one interrupt per drained queue) is idle until new requests arrive. Handing
// JS every completion and then submitting everything they started keeps it idle for the whole
// turnaround; handing over RAMP_FIRST, submitting what they start, then twice as many each
// round feeds it after a few microseconds. A wake-up delivers RAMP_FIRST, then doubles; a submit
// reaps at most RAMP_GROWTH times what it submitted (never fewer than RAMP_FIRST).
enum { RAMP_FIRST = 4, RAMP_GROWTH = 2 };
static inline unsigned ramp_budget(unsigned submitted) {
  return submitted * RAMP_GROWTH > RAMP_FIRST ? submitted * RAMP_GROWTH : RAMP_FIRST;
}

// How long one wake-up may deliver completions before the loop gets to run again (timers,
// sockets): the completions a kernel queue completes inline (cached reads) would otherwise keep
// one turn of the loop going for as long as JS starts new ones. src/engines/native.ts bounds the
// inline rounds of submit() the same way (TURN_BUDGET_MS).
#define TURN_BUDGET_NS 500000u
// Loop thread, a wake-up of a kernel queue: reap (RAMP_FIRST, then as ramp_budget grows it) and
// deliver while reaping finds completions, for at most TURN_BUDGET_NS; then event_fd is signalled
// so that the loop comes back for the rest after its other work. True when JS destroyed the
// engine meanwhile (the caller returns at once).
int completion_deliver_for_a_turn(engine_t *e, unsigned (*reap)(engine_t *e, unsigned max), int event_fd);

// lifecycle.c: cancel, wait for everything in flight, release; from_js: also drop the JS
// references (else, the environment is going: also close the files still open).
void engine_shutdown(engine_t *e, int from_js);
// lifecycle.c: a file the engine opened, and one JS is closing (the open files of engine_shutdown).
void engine_file_opened(engine_t *e, int fd);
void engine_file_closing(engine_t *e, int fd);

// inline.c: one submit call's inline writes: its clock, the files whose operations went the
// engine's way (inline writes never overtake them), and the writes taken, not yet written.
enum { INLINE_TURN_FDS = 16, INLINE_WRITES = 32 };
typedef struct {
  uint64_t started, now;
  int fds[INLINE_TURN_FDS], nfds, full;
  req_t *writes[INLINE_WRITES];
  int nwrites;
  size_t bytes;
} inline_turn_t;
// Loop thread, in submit(): take r if it is a buffered write auto lets run inline (it is written,
// and recorded, before submit() returns; 1 is returned), else 0: start it the engine's way.
int inline_write(engine_t *e, req_t *r, inline_turn_t *t);
// Loop thread, at the end of submit(): write what inline_write took.
void inline_turn_end(engine_t *e, inline_turn_t *t);
// Loop thread: a read the page cache holds, all of it, now: the bytes read, or a negative errno
// (-EAGAIN: it would wait, or is not for here): then the engine's way.
int64_t inline_read(engine_t *e, int fd, void *buffer, size_t length, int64_t position);
// Loop thread: a buffered write alone, now, where inline_write would take it: the bytes written,
// -EAGAIN (not for here, or not now: then the engine's way), or the write's negative errno.
int64_t inline_write_now(engine_t *e, int fd, const void *buffer, size_t length, int64_t position);
// A file this engine opened (opened) or is closing: what inline_write knows of it is forgotten.
void inline_fd_changed(engine_t *e, int fd, int opened);
// An operation of the batch goes the engine's way: the writes taken before it are written first,
// and later writes to its file in the batch follow it.
void inline_went_elsewhere(engine_t *e, inline_turn_t *t, const req_t *r);
// The engine is freed: its AIO context goes.
void inline_free(engine_t *e);

// records.c: a whole-number option of a JS options object, or dflt.
uint32_t option_u32(napi_env env, napi_value options, const char *name, uint32_t dflt);
// records.c: a JS options object's boolean (false when absent or of another type).
int option_bool(napi_env env, napi_value options, const char *name);

// blocking.c: run one request with blocking syscalls on the calling thread.
void blocking_run(req_t *r);
// blocking.c: was the engine of the request this thread runs cancelled (then a call that
// failed with EINTR is not made again: interrupt.c).
int blocking_given_up(void);
// interrupt.c: make the calling thread's blocking calls interruptible by thread_interrupt.
void thread_interruptible(void);
// interrupt.c: interrupt a thread's blocking call (EINTR), for an engine being cancelled.
void thread_interrupt(pthread_t thread);
// How long a stopping engine waits for an interrupted thread before interrupting it again.
#define INTERRUPT_AGAIN_NS 20000000L
// lifecycle.c: cancel everything that can be, and from now on give up blocking calls interrupted.
void engine_cancel_all(engine_t *e);
// blocking.c: a thread's body (pthread_create's start routine): run the request, hand it back.
void *blocking_thread(void *req);
// readdir.c: a directory's entries, sorted, into the request's buffer (OP_READDIR).
int64_t read_dir(req_t *r);
// blocking.c: statx results as the STAT_FIELDS doubles of src/stats.ts (fstat of every engine).
struct statx;
void stat_fill(double *out, const struct statx *st);
#define STAT_MASK (STATX_BASIC_STATS | STATX_BTIME | STATX_DIOALIGN)

extern const engine_kind_t thread_kind, pool_kind, uring_kind, linux_aio_kind, posix_aio_kind;

// A flag for supports(): the operation at the current file position (-1), e.g. OP_WRITE | AT_CURRENT_POSITION.
enum { AT_CURRENT_POSITION = 64 };

#endif
