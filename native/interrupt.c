// Interrupting a thread's blocking call when its engine is cancelled: an open of a FIFO that
// waits for a writer, a read of a pipe that waits for data, can wait forever, and a closing
// engine (or a worker_thread being terminated) would wait with it. A signal whose handler does
// nothing, installed without SA_RESTART, makes such a call fail with EINTR; blocking.c then gives
// up instead of calling again. Disk I/O is not interrupted by it (the kernel finishes it first).
//
// SIGURG, because its default action is to do nothing: sent where our handler is not installed
// (the program took the signal for itself), it is not sent at all, and if it were, it would be
// ignored. The handler is installed when first needed, and only while the program has not taken
// SIGURG: most processes never get it. (A program taking SIGURG between the check and the send
// would hear one signal of ours.)
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>

#include "engine.h"

static void on_interrupt(int sig) { (void)sig; }

// Ours, installed now if SIGURG is at its default (the program may have taken it and let it go
// since: then node put the default back).
static int ours(void) {
  struct sigaction now;
  if (sigaction(SIGURG, NULL, &now) != 0 || (now.sa_flags & SA_SIGINFO)) return 0;
  if (now.sa_handler == on_interrupt) return 1;
  if (now.sa_handler != SIG_DFL) return 0;  // the program's: its handler must not hear ours
  struct sigaction sa = {.sa_handler = on_interrupt};  // no SA_RESTART: the call returns EINTR
  sigemptyset(&sa.sa_mask);
  return sigaction(SIGURG, &sa, NULL) == 0;
}

void thread_interruptible(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGURG);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);  // threads inherit their creator's mask
}

void thread_interrupt(pthread_t thread) {
  if (ours()) pthread_kill(thread, SIGURG);
}
