/* SPDX-License-Identifier: MIT */
/*
 * DESIGN: `cfutures bench`, finding the best pool size for a workload.
 *
 * For each pool size and each repeat: a fresh pool is made and warmed (one
 * task per worker, so thread or process start-up is not timed), N tasks
 * are submitted at once, and the run is timed from the first submit until
 * every future is done. Each future's cf_future_times give its latency
 * (queued -> finished); getrusage gives the CPU the run used (the process's
 * own threads, plus reaped children for process pools and commands).
 * Figures are medians over the repeats, with min and max of throughput.
 * Speedup and efficiency are against the smallest size measured (one
 * worker unless --workers leaves 1 out). The recommended size is the
 * knee: the smallest size whose throughput is within 5% of the best.
 *
 * No lock is taken in this file: tasks share nothing but read-only
 * parameters, and results are read from futures once they are done.
 */
#include "executor.h"

#include <cfutures.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#if defined(EX_HAVE_PROCESS_POOL)
#include <cfutures/process_pool.h>
#endif

enum { W_CPU, W_SLEEP, W_NOOP, W_MIXED, W_CMD };
static const char *const workload_names[] = {"cpu", "sleep", "noop", "mixed",
                                             "command"};

/* The knee: sizes within this fraction of the best throughput tie. */
#define KNEE_TOLERANCE 0.05

static uint64_t spins_per_ms = 1;
static char **cmd_argv;
static int cmd_argc;

typedef struct size_stats {
  int workers;
  double thr_med, thr_min, thr_max; /* tasks per second */
  double wall_med;                  /* seconds */
  double lat_p50, lat_p99;          /* seconds */
  double cpu_util;                  /* (user + sys) / wall / workers */
  double speedup, efficiency;
  size_t failed;
} size_stats;

/* ---- Workloads -----------------------------------------------------------*/

static uint64_t spin(uint64_t n) {
  uint64_t x = 88172645463325252ull;
  for (uint64_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}

static void sleep_ms(double ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(fmod(ms, 1000.0) * 1e6)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

static double thread_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Spins per millisecond of this thread's CPU time, not of wall time: on a
 * loaded machine wall time would count the time other programs ran, and
 * the "1 ms" task would shrink. */
static void calibrate(void) {
  uint64_t n = 1000;
  for (;;) {
    double t0 = thread_cpu();
    uint64_t x = spin(n);
    double el = thread_cpu() - t0;
    if (x == 42) /* keeps the loop from being optimised away */
      fputc('\0', stderr);
    if (el >= 0.02) {
      spins_per_ms = (uint64_t)((double)n / (el * 1000.0));
      if (spins_per_ms == 0)
        spins_per_ms = 1;
      return;
    }
    n *= 2;
  }
}

static int run_workload(int kind, size_t index) {
  switch (kind) {
  case W_CPU:
    return spin(spins_per_ms) == 42 ? 1 : 0;
  case W_SLEEP:
    sleep_ms(1.0);
    return 0;
  case W_MIXED:
    sleep_ms(0.5);
    return spin(spins_per_ms / 2) == 42 ? 1 : 0;
  case W_CMD: {
    char **argv = calloc((size_t)cmd_argc + 1, sizeof *argv);
    if (argv == NULL)
      return CF_ENOMEM;
    char num[32];
    snprintf(num, sizeof num, "%zu", index + 1);
    int rc = 0;
    for (int i = 0; i < cmd_argc && rc == 0; i++) {
      ex_buf b = {0};
      for (const char *p = cmd_argv[i]; *p; p++) {
        if (p[0] == '{' && p[1] == '}') {
          rc |= ex_buf_puts(&b, num);
          p++;
        } else {
          rc |= ex_buf_append(&b, p, 1);
        }
      }
      rc |= ex_buf_append(&b, "", 0);
      argv[i] = b.data;
    }
    ex_proc p;
    if (rc == 0)
      rc = ex_spawn_wait(argv, 0, -1.0, NULL, &p);
    if (rc == 0 && (p.exitval != 0 || p.signo != 0))
      rc = CF_ETASK;
    for (int i = 0; i < cmd_argc; i++)
      free(argv[i]);
    free(argv);
    return rc < 0 ? rc : rc ? CF_ETASK : 0;
  }
  default:
    return 0;
  }
}

static int thread_task(void *arg, void **result) {
  size_t packed = (size_t)(uintptr_t)arg;
  *result = NULL;
  return run_workload((int)(packed & 7), packed >> 3);
}

#if defined(EX_HAVE_PROCESS_POOL)
/* In a worker process: the workload kind and the calibration travel in the
 * request, since the worker's copy of our globals dates from pool start. */
static int process_task(const void *in, size_t len, cf_buffer *out) {
  uint64_t msg[3];
  if (len != sizeof msg)
    return CF_EINVAL;
  memcpy(msg, in, sizeof msg);
  spins_per_ms = msg[1];
  return run_workload((int)msg[0], (size_t)msg[2]);
}
#endif

/* ---- Measuring -----------------------------------------------------------*/

typedef struct bench_cfg {
  int kind; /* W_* */
  int process;
  size_t ntasks;
  int repeat;
} bench_cfg;

static double rusage_cpu(void) {
  struct rusage self, kids;
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &kids);
  double t = 0;
  const struct rusage *r[2] = {&self, &kids};
  for (int i = 0; i < 2; i++)
    t += (double)r[i]->ru_utime.tv_sec + (double)r[i]->ru_utime.tv_usec / 1e6 +
         (double)r[i]->ru_stime.tv_sec + (double)r[i]->ru_stime.tv_usec / 1e6;
  return t;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double percentile(double *sorted, size_t n, double p) {
  size_t k = (size_t)ceil(p * (double)n);
  return sorted[k == 0 ? 0 : k - 1];
}

static int submit_one(cf_executor *ex, const bench_cfg *c, int kind,
                      size_t index, cf_future **f) {
#if defined(EX_HAVE_PROCESS_POOL)
  if (c->process) {
    uint64_t msg[3] = {(uint64_t)kind, spins_per_ms, index};
    return cf_submit_bytes(ex, process_task, msg, sizeof msg, f);
  }
#else
  (void)c;
#endif
  return cf_submit(ex, thread_task,
                   (void *)(uintptr_t)(index << 3 | (size_t)kind), f);
}

static int pool_new(const bench_cfg *c, int workers, cf_executor **ex) {
#if defined(EX_HAVE_PROCESS_POOL)
  if (c->process) {
    cf_process_pool_options po;
    cf_process_pool_options_init(&po);
    po.max_workers = workers;
    return cf_process_pool_new(&po, ex);
  }
#endif
  cf_thread_pool_options to;
  cf_thread_pool_options_init(&to);
  to.max_workers = workers;
  to.thread_name_prefix = "bench";
  return cf_thread_pool_new(&to, ex);
}

/* One timed run at one size: throughput, wall, latencies, CPU. */
static int measure_once(const bench_cfg *c, int workers, double *thr,
                        double *wall, double *p50, double *p99, double *util,
                        size_t *failed) {
  cf_future **fs = calloc(c->ntasks + (size_t)workers, sizeof *fs);
  double *lat = calloc(c->ntasks ? c->ntasks : 1, sizeof *lat);
  if (fs == NULL || lat == NULL) {
    free(fs);
    free(lat);
    return CF_ENOMEM;
  }
  double cpu0 = rusage_cpu();
  cf_executor *ex;
  int rc = pool_new(c, workers, &ex);
  if (rc != 0) {
    free(fs);
    free(lat);
    return rc;
  }
  /* Warm-up: every worker exists before timing (a thread pool starts its
   * workers lazily; a process pool forks them in the background). */
  if (!c->process)
    rc = ex_pool_prestart(ex, workers);
  for (int i = 0; i < workers && rc == 0 && c->process; i++)
    rc = submit_one(ex, c, W_NOOP, 0, &fs[i]);
  for (int i = 0; i < workers && fs[i] != NULL; i++) {
    cf_future_error(fs[i], -1);
    cf_future_release(fs[i]);
    fs[i] = NULL;
  }
  double t0 = ex_mono();
  size_t n = 0;
  for (; n < c->ntasks && rc == 0; n++)
    rc = submit_one(ex, c, c->kind, n, &fs[n]);
  if (rc != 0)
    n--;
  size_t nf = 0;
  for (size_t i = 0; i < n; i++) {
    if (cf_future_error(fs[i], -1) != 0)
      nf++;
  }
  double t1 = ex_mono();
  for (size_t i = 0; i < n; i++) {
    cf_future_times t;
    cf_future_times_get(fs[i], &t);
    lat[i] = t.finished_ns > t.queued_ns
                 ? (double)(t.finished_ns - t.queued_ns) / 1e9
                 : 0;
    cf_future_release(fs[i]);
  }
  cf_executor_free(ex);
  double cpu1 = rusage_cpu();
  qsort(lat, n ? n : 1, sizeof *lat, cmp_double);
  *wall = t1 - t0;
  *thr = *wall > 0 ? (double)n / *wall : 0;
  *p50 = n ? percentile(lat, n, 0.50) : 0;
  *p99 = n ? percentile(lat, n, 0.99) : 0;
  *util = *wall > 0 ? (cpu1 - cpu0) / *wall / workers : 0;
  *failed = nf;
  free(fs);
  free(lat);
  return rc;
}

static int measure_size(const bench_cfg *c, int workers, size_stats *s) {
  int r = c->repeat;
  double *v = calloc((size_t)r * 6, sizeof *v);
  if (v == NULL)
    return CF_ENOMEM;
  double *thr = v, *wall = v + r, *p50 = v + 2 * r, *p99 = v + 3 * r,
         *util = v + 4 * r;
  memset(s, 0, sizeof *s);
  s->workers = workers;
  for (int i = 0; i < r; i++) {
    size_t failed;
    int rc = measure_once(c, workers, &thr[i], &wall[i], &p50[i], &p99[i],
                          &util[i], &failed);
    if (rc != 0) {
      free(v);
      return rc;
    }
    s->failed += failed;
  }
  s->thr_med = median(thr, (size_t)r);
  s->thr_min = thr[0];
  s->thr_max = thr[r - 1];
  s->wall_med = median(wall, (size_t)r);
  s->lat_p50 = median(p50, (size_t)r);
  s->lat_p99 = median(p99, (size_t)r);
  s->cpu_util = median(util, (size_t)r);
  free(v);
  return 0;
}

/* ---- Reporting -----------------------------------------------------------*/

static size_t pick_knee(const size_stats *s, size_t n, size_t *best) {
  size_t b = 0;
  for (size_t i = 1; i < n; i++)
    if (s[i].thr_med > s[b].thr_med)
      b = i;
  *best = b;
  size_t k = b;
  for (size_t i = 0; i < n; i++)
    if (s[i].thr_med >= (1.0 - KNEE_TOLERANCE) * s[b].thr_med &&
        s[i].workers < s[k].workers)
      k = i;
  return k;
}

static void reason(const size_stats *s, size_t n, size_t knee, size_t best,
                   char *buf, size_t len) {
  int w = s[knee].workers;
  const char *wn = w == 1 ? "worker" : "workers";
  const char *give = w == 1 ? "gives" : "give",
             *reach = w == 1 ? "reaches" : "reach";
  int used;
  if (knee == best)
    used = snprintf(buf, len,
                    "%d %s %s the highest throughput (%.0f tasks/s); no "
                    "smaller size comes within %.0f%% of it",
                    w, wn, give, s[knee].thr_med, KNEE_TOLERANCE * 100);
  else
    used = snprintf(buf, len,
                    "%d %s %s %.0f tasks/s, within %.0f%% of the best "
                    "(%.0f tasks/s at %d workers): more workers add less "
                    "than %.0f%%",
                    w, wn, reach, s[knee].thr_med, KNEE_TOLERANCE * 100,
                    s[best].thr_med, s[best].workers, KNEE_TOLERANCE * 100);
  if (n > 1 && knee == n - 1 && used > 0 && (size_t)used < len)
    snprintf(buf + used, len - (size_t)used,
             "; it is the largest size measured, so a larger pool may do "
             "better still");
}

static void print_table(const bench_cfg *c, const size_stats *s, size_t n,
                        int ncpu) {
  printf("workload %s on a %s pool: %zu tasks x %d repeats, %d CPUs\n\n",
         workload_names[c->kind], c->process ? "process" : "thread", c->ntasks,
         c->repeat, ncpu);
  printf("%7s %11s %23s %9s %7s %6s %10s %10s %5s\n", "workers", "tasks/s",
         "(min - max)", "wall ms", "speedup", "effic", "p50 lat ms",
         "p99 lat ms", "cpu%");
  for (size_t i = 0; i < n; i++)
    printf("%7d %11.0f %11.0f - %-9.0f %9.1f %7.2f %6.2f %10.2f %10.2f %5.0f"
           "%s\n",
           s[i].workers, s[i].thr_med, s[i].thr_min, s[i].thr_max,
           s[i].wall_med * 1e3, s[i].speedup, s[i].efficiency,
           s[i].lat_p50 * 1e3, s[i].lat_p99 * 1e3, s[i].cpu_util * 100,
           s[i].failed ? "  (tasks failed)" : "");
}

static void print_csv(const size_stats *s, size_t n) {
  puts("workers,throughput,throughput_min,throughput_max,wall_s,speedup,"
       "efficiency,latency_p50_s,latency_p99_s,cpu_util,failed");
  for (size_t i = 0; i < n; i++)
    printf("%d,%.3f,%.3f,%.3f,%.6f,%.4f,%.4f,%.6f,%.6f,%.4f,%zu\n",
           s[i].workers, s[i].thr_med, s[i].thr_min, s[i].thr_max,
           s[i].wall_med, s[i].speedup, s[i].efficiency, s[i].lat_p50,
           s[i].lat_p99, s[i].cpu_util, s[i].failed);
}

static void print_json(const bench_cfg *c, const size_stats *s, size_t n,
                       int ncpu, size_t knee, const char *why) {
  printf("{\"workload\": \"%s\", \"kind\": \"%s\", \"tasks\": %zu, "
         "\"repeat\": %d, \"cpus\": %d,\n \"results\": [\n",
         workload_names[c->kind], c->process ? "process" : "thread", c->ntasks,
         c->repeat, ncpu);
  for (size_t i = 0; i < n; i++)
    printf("  {\"workers\": %d, \"throughput\": %.3f, \"throughput_min\": "
           "%.3f, \"throughput_max\": %.3f, \"wall_s\": %.6f, \"speedup\": "
           "%.4f, \"efficiency\": %.4f, \"latency_p50_s\": %.6f, "
           "\"latency_p99_s\": %.6f, \"cpu_util\": %.4f, \"failed\": %zu}%s\n",
           s[i].workers, s[i].thr_med, s[i].thr_min, s[i].thr_max,
           s[i].wall_med, s[i].speedup, s[i].efficiency, s[i].lat_p50,
           s[i].lat_p99, s[i].cpu_util, s[i].failed, i + 1 < n ? "," : "");
  printf(" ],\n \"best\": {\"workers\": %d, \"reason\": \"%s\"}}\n",
         s[knee].workers, why);
}

/* Round up to 1, 2 or 5 times a power of ten, for axis ticks. */
static double nice_ceil(double v) {
  if (v <= 0)
    return 1;
  double p = pow(10, floor(log10(v)));
  double m = v / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

static int write_svg(const char *path, const bench_cfg *c, const size_stats *s,
                     size_t n, size_t knee) {
  FILE *f = fopen(path, "we");
  if (f == NULL)
    return -errno;
  const double W = 720, H = 440, L = 80, R = 80, T = 50, B = 60;
  const double pw = W - L - R, ph = H - T - B;
  int xmin = s[0].workers, xmax = s[0].workers;
  double tmax = 0, emax = 1.0;
  for (size_t i = 0; i < n; i++) {
    xmin = s[i].workers < xmin ? s[i].workers : xmin;
    xmax = s[i].workers > xmax ? s[i].workers : xmax;
    tmax = s[i].thr_med > tmax ? s[i].thr_med : tmax;
    emax = s[i].efficiency > emax ? s[i].efficiency : emax;
  }
  tmax = nice_ceil(tmax * 1.05);
  emax = ceil(emax * 5) / 5;
  double span = xmax > xmin ? (double)(xmax - xmin) : 1;
#define XP(w) (L + ((double)(w)-xmin) / span * pw)
#define YT(v) (T + ph - (v) / tmax * ph)
#define YE(v) (T + ph - (v) / emax * ph)
  fprintf(f,
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
          "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
          "font-family=\"sans-serif\" font-size=\"12\">\n"
          "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
          "<text x=\"%.0f\" y=\"25\" text-anchor=\"middle\" "
          "font-size=\"15\">cfutures bench: %s workload, %s pool, %zu "
          "tasks</text>\n",
          W, H, W, H, W / 2, workload_names[c->kind],
          c->process ? "process" : "thread", c->ntasks);
  /* Axes and grid. */
  fprintf(f,
          "<g stroke=\"black\" fill=\"none\">\n"
          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n"
          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n"
          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n</g>\n",
          L, T + ph, L + pw, T + ph, L, T, L, T + ph, L + pw, T, L + pw,
          T + ph);
  for (int i = 0; i <= 5; i++) {
    double y = T + ph - ph * i / 5.0;
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"#ddd\"/>\n"
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
            "fill=\"#1f5fbf\">%.0f</text>\n"
            "<text x=\"%.1f\" y=\"%.1f\" fill=\"#c0392b\">%.2f</text>\n",
            L, y, L + pw, y, L - 6, y + 4, tmax * i / 5.0, L + pw + 6, y + 4,
            emax * i / 5.0);
  }
  for (size_t i = 0; i < n; i++)
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>\n",
            XP(s[i].workers), T + ph + 18, s[i].workers);
  fprintf(f,
          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">pool size "
          "(workers)</text>\n"
          "<text transform=\"translate(20 %.1f) rotate(-90)\" "
          "text-anchor=\"middle\" fill=\"#1f5fbf\">throughput "
          "(tasks/s)</text>\n"
          "<text transform=\"translate(%.1f %.1f) rotate(90)\" "
          "text-anchor=\"middle\" fill=\"#c0392b\">efficiency "
          "(speedup / workers)</text>\n",
          L + pw / 2, H - 15, T + ph / 2, W - 20, T + ph / 2);
  /* The recommended size. */
  fprintf(f,
          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
          "stroke=\"#2a2\" stroke-dasharray=\"5,4\"/>\n"
          "<text x=\"%.1f\" y=\"%.1f\" fill=\"#2a2\" "
          "text-anchor=\"%s\">best: %d</text>\n",
          XP(s[knee].workers), T, XP(s[knee].workers), T + ph,
          XP(s[knee].workers) + (XP(s[knee].workers) > L + pw * 0.8 ? -4 : 4),
          T + ph - 8, XP(s[knee].workers) > L + pw * 0.8 ? "end" : "start",
          s[knee].workers);
  /* The two lines, with a dot per measured size. */
  const char *colour[2] = {"#1f5fbf", "#c0392b"};
  for (int line = 0; line < 2; line++) {
    fprintf(f,
            "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
            "points=\"",
            colour[line]);
    for (size_t i = 0; i < n; i++)
      fprintf(f, "%s%.1f,%.1f", i ? " " : "", XP(s[i].workers),
              line == 0 ? YT(s[i].thr_med) : YE(s[i].efficiency));
    fputs("\"/>\n", f);
    for (size_t i = 0; i < n; i++)
      fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
              XP(s[i].workers),
              line == 0 ? YT(s[i].thr_med) : YE(s[i].efficiency), colour[line]);
  }
  fprintf(f,
          "<g font-size=\"12\">\n"
          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
          "stroke=\"%s\" stroke-width=\"2\"/>\n"
          "<text x=\"%.1f\" y=\"%.1f\">throughput</text>\n"
          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
          "stroke=\"%s\" stroke-width=\"2\"/>\n"
          "<text x=\"%.1f\" y=\"%.1f\">efficiency</text>\n</g>\n</svg>\n",
          L, T - 12, L + 20, T - 12, colour[0], L + 25, T - 8, L + 120, T - 12,
          L + 140, T - 12, colour[1], L + 145, T - 8);
#undef XP
#undef YT
#undef YE
  return fclose(f) == 0 ? 0 : -errno;
}

/* ---- Options -------------------------------------------------------------*/

static int usage_error(const char *msg, const char *what) {
  fputs("cfutures bench: ", stderr);
  fprintf(stderr, msg, what);
  fputs("\nusage: cfutures bench [--kind thread|process] [--workers "
        "1,2,4|auto] [--repeat R]\n"
        "                      [--tasks N] [--csv|--json] [--plot FILE.svg] "
        "[cpu|sleep|noop|mixed | -- CMD {}]\n",
        stderr);
  return EX_STATUS_USAGE;
}

static void help(void) {
  fputs(
      "usage: cfutures bench [OPTIONS] [WORKLOAD | -- CMD [ARGS...]]\n"
      "Runs a workload on pools of several sizes and names the best size.\n\n"
      "Workloads: cpu (arithmetic, ~1 ms a task; the default), sleep\n"
      "(blocking, 1 ms), noop, mixed (0.5 ms of each), or -- CMD ARGS: a\n"
      "command run per task ({} becomes the task number).\n\n"
      "Options:\n"
      "  --kind thread|process  the pool to measure (default thread)\n"
      "  --workers 1,2,4|auto   pool sizes (auto: 1 .. 2 x CPUs)\n"
      "  --repeat R             runs per size; medians are reported (3)\n"
      "  --tasks N              tasks per run (default 200, 100 for "
      "commands)\n"
      "  --csv | --json         machine-readable output instead of the table\n"
      "  --plot FILE.svg        draw throughput and efficiency against size\n\n"
      "Speedup and efficiency are against the smallest size. The best size\n"
      "is the smallest whose throughput is within 5% of the highest.\n",
      stdout);
}

static int parse_sizes(const char *s, int ncpu, int **out, size_t *n) {
  int *v = NULL;
  size_t k = 0;
  if (strcmp(s, "auto") == 0) {
    int top = 2 * ncpu;
    v = calloc((size_t)top + 2, sizeof *v);
    if (v == NULL)
      return -1;
    if (top <= 16) {
      for (int i = 1; i <= top; i++)
        v[k++] = i;
    } else {
      for (int i = 1; i < top; i *= 2)
        v[k++] = i;
      if (ncpu & (ncpu - 1))
        v[k++] = ncpu;
      v[k++] = top;
    }
  } else {
    char *copy = strdup(s);
    v = calloc(strlen(s) + 1, sizeof *v);
    if (copy == NULL || v == NULL) {
      free(copy);
      free(v);
      return -1;
    }
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
      long w;
      if (ex_parse_long(t, 1, 4096, &w) != 0) {
        free(copy);
        free(v);
        return -1;
      }
      v[k++] = (int)w;
    }
    free(copy);
    if (k == 0) {
      free(v);
      return -1;
    }
  }
  /* Sorted, without duplicates. */
  for (size_t i = 1; i < k; i++)
    for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
      int t = v[j];
      v[j] = v[j - 1];
      v[j - 1] = t;
    }
  size_t m = 0;
  for (size_t i = 0; i < k; i++)
    if (m == 0 || v[m - 1] != v[i])
      v[m++] = v[i];
  *out = v;
  *n = m;
  return 0;
}

int ex_bench_main(int argc, char **argv) {
  bench_cfg c = {.kind = W_CPU, .ntasks = 0, .repeat = 3};
  const char *sizes = "auto", *plot = NULL;
  int csv = 0, json = 0, i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    const char *eq = strchr(a, '=');
    char name[32];
    size_t nl = eq && a[0] == '-' ? (size_t)(eq - a) : strlen(a);
    if (nl >= sizeof name)
      nl = sizeof name - 1;
    memcpy(name, a, nl);
    name[nl] = '\0';
    int attached = eq != NULL && a[0] == '-';
    if (attached)
      v = eq + 1;
#define TAKE()                                                                 \
  do {                                                                         \
    if (v == NULL)                                                             \
      return usage_error("%s wants a value", name);                            \
    if (!attached)                                                             \
      i++;                                                                     \
  } while (0)
    if (strcmp(a, "--") == 0) {
      i++;
      c.kind = W_CMD;
      break;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      help();
      return 0;
    } else if (strcmp(name, "--kind") == 0) {
      TAKE();
      if (strcmp(v, "thread") == 0)
        c.process = 0;
      else if (strcmp(v, "process") == 0)
        c.process = 1;
      else
        return usage_error("--kind is thread or process, not '%s'", v);
    } else if (strcmp(name, "--workers") == 0) {
      TAKE();
      sizes = v;
    } else if (strcmp(name, "--repeat") == 0) {
      TAKE();
      long r;
      if (ex_parse_long(v, 1, 1000, &r) != 0)
        return usage_error("--repeat wants a count from 1 to 1000, not '%s'",
                           v);
      c.repeat = (int)r;
    } else if (strcmp(name, "--tasks") == 0) {
      TAKE();
      long t;
      if (ex_parse_long(v, 1, 100000000, &t) != 0)
        return usage_error("--tasks wants a count >= 1, not '%s'", v);
      c.ntasks = (size_t)t;
    } else if (strcmp(name, "--plot") == 0) {
      TAKE();
      plot = v;
    } else if (strcmp(a, "--csv") == 0) {
      csv = 1;
    } else if (strcmp(a, "--json") == 0) {
      json = 1;
    } else if (a[0] == '-') {
      return usage_error("unknown option '%s'", a);
    } else {
      int k = 0;
      while (k < W_CMD && strcmp(a, workload_names[k]) != 0)
        k++;
      if (k == W_CMD)
        return usage_error("unknown workload '%s' (cpu, sleep, noop, mixed, "
                           "or -- CMD)",
                           a);
      c.kind = k;
    }
#undef TAKE
  }
  if (c.kind == W_CMD) {
    cmd_argv = argv + i;
    cmd_argc = argc - i;
    if (cmd_argc == 0)
      return usage_error("no command after --%s", "");
    if (c.process)
      return usage_error("%s", "a command workload runs on a thread pool "
                               "(each task is a process already)");
  }
  if (csv && json)
    return usage_error("%s", "--csv and --json exclude each other");
#if !defined(EX_HAVE_PROCESS_POOL)
  if (c.process)
    return usage_error("%s", "--kind process is not available: this build "
                             "of cfutures has no process pool");
#endif
  if (c.ntasks == 0)
    c.ntasks = c.kind == W_CMD ? 100 : 200;
  int ncpu = cf_cpu_count();
  int *ws;
  size_t nw;
  if (parse_sizes(sizes, ncpu, &ws, &nw) != 0)
    return usage_error("--workers wants sizes like 1,2,4 or auto, not '%s'",
                       sizes);
  if (c.kind == W_CMD) {
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    int rc = ex_spawn_init(&mask);
    if (rc != 0) {
      fprintf(stderr, "cfutures bench: /dev/null: %s\n", strerror(-rc));
      return 1;
    }
  }
  if (c.kind == W_CPU || c.kind == W_MIXED)
    calibrate();
  size_stats *st = calloc(nw, sizeof *st);
  if (st == NULL)
    return 1;
  for (size_t k = 0; k < nw; k++) {
    int rc = measure_size(&c, ws[k], &st[k]);
    if (rc != 0) {
      fprintf(stderr, "cfutures bench: %d workers: %s\n", ws[k],
              cf_strerror(rc));
      return 1;
    }
  }
  for (size_t k = 0; k < nw; k++) {
    st[k].speedup = st[0].thr_med > 0 ? st[k].thr_med / st[0].thr_med : 0;
    st[k].efficiency = st[k].speedup * st[0].workers / st[k].workers;
  }
  size_t best, knee = pick_knee(st, nw, &best);
  char why[512];
  reason(st, nw, knee, best, why, sizeof why);
  size_t failed = 0;
  for (size_t k = 0; k < nw; k++)
    failed += st[k].failed;
  if (csv) {
    print_csv(st, nw);
  } else if (json) {
    print_json(&c, st, nw, ncpu, knee, why);
  } else {
    print_table(&c, st, nw, ncpu);
    if (st[0].workers != 1)
      printf("\nspeedup and efficiency are against %d workers\n",
             st[0].workers);
    printf("\nbest pool size: %d (%s)\n", st[knee].workers, why);
  }
  if (plot != NULL) {
    int rc = write_svg(plot, &c, st, nw, knee);
    if (rc != 0) {
      fprintf(stderr, "cfutures bench: %s: %s\n", plot, strerror(-rc));
      return 1;
    }
  }
  if (failed > 0)
    fprintf(stderr, "cfutures bench: %zu tasks failed\n", failed);
  free(st);
  free(ws);
  return fflush(stdout) == 0 && failed == 0 ? 0 : 1;
}
