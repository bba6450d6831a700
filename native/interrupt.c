// Interrupting a thread's blocking call when its engine is cancelled: an open of a FIFO that
// waits for a writer, a read of a pipe that waits for data, can wait forever, and a closing
// engine (or a worker_thread being terminated) would wait with it. A signal whose handler does
// nothing, installed without SA_RESTART, makes such a call fail with EINTR; blocking.c then gives
// up instead of calling again. Disk I/O is not interrupted by it (the kernel finishes it first).
//
// SIGURG, because its default action is to do nothing: sent where our handler is not installed
// (the program took the signal for itself, before or after us), it is not sent at all, and if it
// were, it would be ignored. The handler is installed on first use, and only if the program has
// not taken SIGURG: most processes never get it.
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>

#include "engine.h"

static void on_interrupt(int sig) { (void)sig; }

static void install(void) {
  struct sigaction old;
  if (sigaction(SIGURG, NULL, &old) != 0 || (old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) return;
  struct sigaction sa = {.sa_handler = on_interrupt};  // no SA_RESTART: the call returns EINTR
  sigemptyset(&sa.sa_mask);
  sigaction(SIGURG, &sa, NULL);
}

void thread_interruptible(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGURG);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);  // threads inherit their creator's mask
}

void thread_interrupt(pthread_t thread) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, install);
  struct sigaction now;
  if (sigaction(SIGURG, NULL, &now) == 0 && !(now.sa_flags & SA_SIGINFO) && now.sa_handler == on_interrupt)
    pthread_kill(thread, SIGURG);
}
