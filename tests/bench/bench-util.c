/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* For CPU_SET and pthread_setaffinity_np(). */
#define _GNU_SOURCE

#include "config.h"

#include "bench-util.h"

#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

void
bench_args_parse (BenchArgs   *args,
                  int         *argc,
                  char      ***argv,
                  const char  *summary)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  GOptionEntry entries[] = {
    { "bench", 0, 0, G_OPTION_ARG_STRING, &args->bench, "Measurement (B1, B2, ...)", "ID" },
    { "impl", 0, 0, G_OPTION_ARG_STRING, &args->impl, "Implementation to measure", "NAME" },
    { "variant", 0, 0, G_OPTION_ARG_STRING, &args->variant, "Variant of the measurement", "NAME" },
    { "n", 'n', 0, G_OPTION_ARG_INT64, &args->n, "Operations per repetition", "N" },
    { "reps", 0, 0, G_OPTION_ARG_INT64, &args->reps, "Repetitions timed together", "N" },
    { "warmup", 0, 0, G_OPTION_ARG_INT64, &args->warmup, "Operations of an untimed run first", "N" },
    { "duration-ms", 0, 0, G_OPTION_ARG_INT64, &args->duration_ms, "Measuring time (B7)", "MS" },
    { "in-flight", 0, 0, G_OPTION_ARG_INT64, &args->in_flight, "Outstanding operations (B6)", "N" },
    G_OPTION_ENTRY_NULL
  };

  args->n = 1000;
  args->reps = 1;
  args->warmup = 0;
  args->duration_ms = 2000;
  args->in_flight = 64;

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context, summary);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      g_printerr ("%s\n", error->message);
      exit (2);
    }
  if (args->bench == NULL || args->impl == NULL || args->n <= 0 || args->reps <= 0
      || args->warmup < 0 || args->duration_ms <= 0 || args->in_flight <= 0)
    {
      g_printerr ("--bench and --impl are required; counts must be positive\n");
      exit (2);
    }
}

void
bench_args_clear (BenchArgs *args)
{
  g_clear_pointer (&args->bench, g_free);
  g_clear_pointer (&args->impl, g_free);
  g_clear_pointer (&args->variant, g_free);
}

void
bench_unsupported (const BenchArgs *args)
{
  g_printerr ("Unsupported: --bench %s --impl %s%s%s\n", args->bench, args->impl,
              args->variant ? " --variant " : "", args->variant ? args->variant : "");
  exit (2);
}

/* In nanoseconds: g_get_monotonic_time() only has microseconds, too
 * coarse for the small-n rounds. */
static gint64
clock_ns (clockid_t id)
{
  struct timespec ts;

  clock_gettime (id, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

void
bench_clock_start (BenchClock *clock)
{
  clock->cpu_ns = clock_ns (CLOCK_PROCESS_CPUTIME_ID);
  clock->wall_ns = clock_ns (CLOCK_MONOTONIC);
}

BenchCost
bench_clock_read (const BenchClock *clock,
                  gint64            ops)
{
  BenchCost cost;

  cost.wall_ns = (double) (clock_ns (CLOCK_MONOTONIC) - clock->wall_ns) / (double) ops;
  cost.cpu_ns = (double) (clock_ns (CLOCK_PROCESS_CPUTIME_ID) - clock->cpu_ns) / (double) ops;
  return cost;
}

void
bench_cost_add (BenchCost *total,
                BenchCost  cost,
                gint64     reps)
{
  total->wall_ns += cost.wall_ns / (double) reps;
  total->cpu_ns += cost.cpu_ns / (double) reps;
}

gsize
bench_resident_bytes (void)
{
  g_autofree char *statm = NULL;
  unsigned long size = 0, resident = 0;

  if (!g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL)
      || sscanf (statm, "%lu %lu", &size, &resident) != 2)
    g_error ("Cannot read /proc/self/statm");

  return (gsize) resident * (gsize) sysconf (_SC_PAGESIZE);
}

int
bench_first_cpu (void)
{
  cpu_set_t set;

  CPU_ZERO (&set);
  if (sched_getaffinity (0, sizeof set, &set) != 0)
    return 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
    if (CPU_ISSET (cpu, &set))
      return cpu;
  return 0;
}

void
bench_pin_thread (int cpu)
{
  cpu_set_t set;
  int err;

  CPU_ZERO (&set);
  CPU_SET (cpu, &set);
  err = pthread_setaffinity_np (pthread_self (), sizeof set, &set);
  if (err != 0)
    g_error ("pthread_setaffinity_np (cpu %d): %s", cpu, g_strerror (err));
}

void
bench_run_until (const int *flag)
{
  /* Blocking iterations: every benchmark keeps something ready or expected
   * (a queued dispatch, a wake-up from a worker thread) until it is done,
   * and blocking is what an application's main loop does. */
  while (!*flag)
    g_main_context_iteration (NULL, TRUE);

  /* Then whatever the operations left queued: a settled coroutine's
   * delivery (and with it its finalization) runs after bodies queued
   * before it, and leaving it out would time only part of the work (or
   * push it into the next round).  A scheduler that used up its budget
   * sits out one iteration, so only two idle iterations in a row mean
   * that nothing is left. */
  for (int idle = 0; idle < 2;)
    idle = g_main_context_iteration (NULL, FALSE) ? 0 : idle + 1;
}

void
bench_print_result (const BenchArgs *args,
                    BenchCost        cost,
                    ...)
{
  GString *out = g_string_new (NULL);
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  const char *key;
  va_list ap;

  /* g_ascii_dtostr: JSON wants a '.' whatever the locale. */
  g_string_append_printf (out, "{\"bench\": \"%s\", \"impl\": \"%s\", \"n\": %" G_GINT64_FORMAT
                          ", \"reps\": %" G_GINT64_FORMAT, args->bench, args->impl,
                          args->n, args->reps);
  g_string_append_printf (out, ", \"ns_per_op\": %s",
                          g_ascii_dtostr (buf, sizeof buf, cost.wall_ns));
  g_string_append_printf (out, ", \"cpu_ns_per_op\": %s",
                          g_ascii_dtostr (buf, sizeof buf, cost.cpu_ns));
  va_start (ap, cost);
  while ((key = va_arg (ap, const char *)) != NULL)
    {
      double value = va_arg (ap, double);

      g_string_append_printf (out, ", \"%s\": %s", key, g_ascii_dtostr (buf, sizeof buf, value));
    }
  va_end (ap);
  g_string_append (out, "}\n");

  fputs (out->str, stdout);
  fflush (stdout);
  g_string_free (out, TRUE);
}
