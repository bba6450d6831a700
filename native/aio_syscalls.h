// Kernel AIO's syscalls, raw (no libaio): the linux-aio engine, and auto's buffered writes run
// inline several to one io_submit (inline.c).
#ifndef IOENGINE_AIO_SYSCALLS_H
#define IOENGINE_AIO_SYSCALLS_H

#include <linux/aio_abi.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static inline long sys_io_setup(unsigned nr, aio_context_t *ctx) { return syscall(__NR_io_setup, nr, ctx); }
static inline long sys_io_destroy(aio_context_t ctx) { return syscall(__NR_io_destroy, ctx); }
static inline long sys_io_submit(aio_context_t ctx, long n, struct iocb **iocbs) { return syscall(__NR_io_submit, ctx, n, iocbs); }
static inline long sys_io_cancel(aio_context_t ctx, struct iocb *iocb, struct io_event *result) {
  return syscall(__NR_io_cancel, ctx, iocb, result);
}
static inline long sys_io_getevents(aio_context_t ctx, long min, long max, struct io_event *ev, struct timespec *timeout) {
  return syscall(__NR_io_getevents, ctx, min, max, ev, timeout);
}

#endif
