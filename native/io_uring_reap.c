// The io_uring engine's completion side: CQEs reaped into the completion array, ramping up after
// a wake-up, and the eventfd muted while completions are reaped inline.
#define _GNU_SOURCE
#include <limits.h>
#include <sys/stat.h>

#include "io_uring.h"

// Reap up to max ready CQEs into the completion array (delivering to JS when it fills, if
// deliver); returns how many were reaped. Re-entrant: delivering runs JS, which may submit and
// reap again, so the head is published before every delivery and read again after it.
unsigned uring_reap(uring_t *u, int deliver, unsigned max) {
  engine_t *e = &u->base;
  unsigned n = 0;
  for (;;) {
    unsigned head = *u->cq_head;
    unsigned tail = load_acquire(u->cq_tail);  // CQEs before tail are fully written
    while (head != tail && !completion_full(e) && n < max) {
      struct io_uring_cqe *cqe = &u->cqes[head & *u->cq_mask];
      req_t *r = (req_t *)(uintptr_t)cqe->user_data;
      head++;
      if (!r) continue;  // a cancel request's own completion
      r->result = cqe->res;
      if (r->op == OP_OPEN) uring_file_opened(u, (int)r->result);
      if (r->op == OP_STAT && r->result >= 0) stat_fill(r->stat, (const struct statx *)r->engine_data);
      if (r->op == OP_READ || r->op == OP_READV) uring_moved_position(r);
      // A multishot request (IORING_CQE_F_MORE) completes again: it stays until its last CQE.
      if (cqe->flags & IORING_CQE_F_MORE) completion_note(e, r);
      else completion_record(e, r);
      n++;
    }
    store_release(u->cq_head, head);  // done reading these CQEs: the kernel may overwrite them
    // Full: inside submit() the rest waits for the eventfd; JS may have closed the engine: then
    // the ring is touched no more.
    if (completion_full(e)) {
      if (completion_make_room(e, deliver) != ROOM_MADE) return n;
      continue;
    }
    // Enough for now: the rest (parked overflow included) waits its turn, see ramp_budget. Before
    // the overflow check: with the ring still full, flushing the overflow moves nothing and the
    // flag stays set.
    if (n >= max) break;
    // With IORING_FEAT_NODROP a full CQ parks completions in the kernel; entering flushes them.
    if (load_acquire(u->sq_flags) & IORING_SQ_CQ_OVERFLOW) {
      uring_submit_pending(u, 0, IORING_ENTER_GETEVENTS);
      continue;
    }
    if (head == tail) break;
  }
  return n;
}

// Completions reaped inline need no wake-up: the eventfd is muted (IORING_CQ_EVENTFD_DISABLED)
// around io_uring_enter and the reap that follows, which saves the kernel's eventfd signal and
// the loop's extra epoll round per batch. A CQE posted meanwhile from another CPU may go unseen by
// the last reap (the kernel publishes the tail, then reads the flag, with no full barrier between),
// so whenever operations are still in flight afterwards, we signal the eventfd ourselves.
void uring_mute_eventfd(uring_t *u, int mute) {
  if (!u->cq_flags || u->sqpoll) return;  // SQPOLL completes nothing inline
  unsigned flags = *u->cq_flags;
  flags = mute ? flags | IORING_CQ_EVENTFD_DISABLED : flags & ~IORING_CQ_EVENTFD_DISABLED;
  __atomic_store_n(u->cq_flags, flags, __ATOMIC_SEQ_CST);
}

static unsigned reap_delivering(engine_t *e, unsigned max) { return uring_reap((uring_t *)e, 1, max); }

void uring_on_poll(uv_poll_t *h, int status, int events) {
  uring_t *u = h->data;
  uint64_t count;
  // Clear the eventfd before reaping: a CQE posted after this read signals it again.
  while (read(u->event_fd, &count, sizeof count) < 0 && errno == EINTR) {}
  if (u->base.stopping) return;
  if (u->to_submit) {  // left over from a refused io_uring_enter: its last chance
    int r = uring_submit_pending(u, 0, 0);
    if (r < 0) uring_fail_unsubmitted(u, r);
  }
  if (completion_deliver_for_a_turn(&u->base, reap_delivering, u->event_fd)) return;
  if (completion_destroyed(&u->base)) return;
  completion_update_ref(&u->base);
}
