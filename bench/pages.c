/* What the page faults of a fresh 80 MB result cost, without R: maps
 * 80 MB (as malloc does for a large R vector), faults it in by writing
 * one byte per 4 KiB page (or with madvise(MADV_POPULATE_WRITE)), with or
 * without madvise(MADV_HUGEPAGE), over 1 or 2 threads, ten times, and
 * prints each time in ms. With "keep" the mappings are kept (every round
 * gets memory the process has not used: a session keeping its results);
 * without, each is unmapped before the next (the memory is reused at
 * once). See src/rust/core/src/memory.rs for the numbers on the benchmark
 * VM and what fwdprop does with them.
 *   cc -O2 -pthread -o /tmp/pages bench/pages.c
 *   /tmp/pages THREADS MODE KEEP
 *   MODE: 0 touch, 1 populate, 2 huge + touch, 3 huge + populate
 *   e.g. for t in 1 2; do for m in 0 1 2 3; do for k in 0 1; do
 *          echo "threads $t mode $m keep $k: $(/tmp/pages $t $m $k)"; done; done; done
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

typedef struct {
  char *a;
  size_t n;
  int mode;
} job;

static void *fault_in(void *arg) {
  job *j = arg;
  if (j->mode & 2) madvise(j->a, j->n, MADV_HUGEPAGE);
  if (j->mode & 1) {
    madvise(j->a, j->n, MADV_POPULATE_WRITE);
  } else {
    for (size_t i = 0; i < j->n; i += 4096) j->a[i] = 1;
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s THREADS MODE KEEP\n", argv[0]);
    return 2;
  }
  int threads = atoi(argv[1]), mode = atoi(argv[2]), keep = atoi(argv[3]);
  if (threads < 1 || threads > 8) threads = 1;
  const size_t huge = 2u << 20, n = 80u << 20;
  for (int r = 0; r < 10; r++) {
    /* 2 MiB-aligned, as the interior of a large R vector is advised */
    char *p = mmap(NULL, n + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 1;
    char *a = (char *)(((size_t)p + huge - 1) & ~(huge - 1));
    double t0 = now_ms();
    pthread_t th[8];
    job jobs[8];
    size_t part = n / threads;
    for (int t = 0; t < threads; t++) {
      jobs[t] = (job){a + t * part, part, mode};
      if (t > 0) pthread_create(&th[t], NULL, fault_in, &jobs[t]);
    }
    fault_in(&jobs[0]);
    for (int t = 1; t < threads; t++) pthread_join(th[t], NULL);
    printf("%.1f ", now_ms() - t0);
    fflush(stdout);
    if (!keep) munmap(p, n + huge);
  }
  printf("\n");
  return 0;
}
