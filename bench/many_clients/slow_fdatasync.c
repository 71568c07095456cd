// LD_PRELOAD shim for benchmarks: every fdatasync takes SLOW_FDATASYNC_US microseconds longer
// (default 10000), like a network volume. Not used by tests.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

int fdatasync(int fd) {
  static int (*real)(int) = 0;
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  const int r = real(fd);
  const char* us = getenv("SLOW_FDATASYNC_US");
  usleep(us ? (useconds_t)atoi(us) : 10000);
  return r;
}
