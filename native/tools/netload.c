// netload: the one load generator for the socket benchmarks, the same for every server engine.
// C with epoll on one thread, so that it costs far less per request than the servers it drives.
//
//   netload rr PORT CONNECTIONS SIZE SECONDS [HOST]      request-response: each connection sends
//                                                        SIZE bytes, waits for SIZE back, again
//   netload stream PORT CONNECTIONS SIZE SECONDS [HOST]  each connection writes SIZE-byte chunks
//                                                        as fast as the server reads them
//
// Prints one JSON line: {"mode","connections","size","seconds","requests","bytes",
// "latency_us":{"p50","p99","max"} (rr), "cpu_s"}: its own CPU, reported apart from the server's.
// Loopback only (127.0.0.1 by default, or ::1); every run ends after SECONDS.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  int fd;
  size_t sent, got;
  double started;
} conn_t;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: netload rr|stream PORT CONNECTIONS SIZE SECONDS [HOST]\n");
    return 2;
  }
  int rr = strcmp(argv[1], "rr") == 0;
  int port = atoi(argv[2]), nconn = atoi(argv[3]);
  size_t size = (size_t)atol(argv[4]);
  double seconds = atof(argv[5]);
  const char *host = argc > 6 ? argv[6] : "127.0.0.1";
  if (nconn <= 0 || size == 0 || seconds <= 0) return 2;
  struct sockaddr_storage ss = {0};
  socklen_t len;
  if (strchr(host, ':')) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) return 2;
    len = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1) return 2;
    len = sizeof *a;
  }
  char *out = malloc(size), *in = malloc(size > 65536 ? size : 65536);
  memset(out, 'x', size);
  conn_t *conns = calloc((size_t)nconn, sizeof *conns);
  size_t cap = 1 << 20, nlat = 0;
  double *lat = malloc(cap * sizeof *lat);
  int ep = epoll_create1(0);
  for (int i = 0; i < nconn; i++) {
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    int one = 1;
    if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) < 0) {
      perror("netload: connect");
      return 1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conns[i].fd = fd;
    struct epoll_event ev = { .events = rr ? EPOLLIN : EPOLLOUT, .data.u32 = (uint32_t)i };
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    if (rr) {
      conns[i].started = now();
      if (write(fd, out, size) != (ssize_t)size) return 1;  // a first request each (small: fits the socket)
    }
  }
  unsigned long long requests = 0, bytes = 0;
  double start = now(), end = start + seconds;
  struct epoll_event evs[256];
  while (now() < end) {
    int n = epoll_wait(ep, evs, 256, 100);
    for (int k = 0; k < n; k++) {
      conn_t *c = &conns[evs[k].data.u32];
      if (rr) {
        ssize_t r = read(c->fd, in, size - c->got);
        if (r <= 0) {
          fprintf(stderr, "netload: the server closed a connection\n");
          return 1;
        }
        c->got += (size_t)r;
        bytes += (size_t)r;
        if (c->got < size) continue;
        c->got = 0;
        double t = now();
        if (nlat < cap) lat[nlat++] = (t - c->started) * 1e6;
        requests++;
        c->started = t;
        if (write(c->fd, out, size) != (ssize_t)size) return 1;
      } else {
        ssize_t w = write(c->fd, out, size);
        if (w > 0) bytes += (size_t)w, requests++;
      }
    }
  }
  double elapsed = now() - start;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  qsort(lat, nlat, sizeof *lat, cmp);
  printf("{\"mode\":\"%s\",\"connections\":%d,\"size\":%zu,\"seconds\":%.3f,\"requests\":%llu,\"bytes\":%llu", argv[1], nconn, size, elapsed, requests, bytes);
  if (rr && nlat) printf(",\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f}", lat[nlat / 2], lat[nlat * 99 / 100], lat[nlat - 1]);
  printf(",\"cpu_s\":%.3f}\n", cpu);
  return 0;
}
