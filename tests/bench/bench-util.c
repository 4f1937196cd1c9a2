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

/* --- gobject-floor ----------------------------------------------------- */

/* About the size of GasyncFuturePrivate (which the floor does not include:
 * it is private to the library): a lock, a GValue, pointers, counters. */
typedef struct
{
  GMutex   lock;
  GValue   value;
  gpointer pointers[12];
  guint    counters[6];
  double   progress;
} BenchFloorObjectPrivate;

struct _BenchFloorObject
{
  GObject parent_instance;
};

G_DEFINE_FINAL_TYPE_WITH_PRIVATE (BenchFloorObject, bench_floor_object, G_TYPE_OBJECT)

enum
{
  FLOOR_PROP_0,
  FLOOR_PROP_NAME,
  FLOOR_PROP_PROGRESS,
  FLOOR_PROP_DONE,
  FLOOR_N_PROPS
};

static GParamSpec *floor_properties[FLOOR_N_PROPS];

static void
bench_floor_object_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  BenchFloorObjectPrivate *priv =
    bench_floor_object_get_instance_private (BENCH_FLOOR_OBJECT (object));

  switch (prop_id)
    {
    case FLOOR_PROP_NAME:
      g_value_set_string (value, NULL);
      break;
    case FLOOR_PROP_PROGRESS:
      g_value_set_double (value, priv->progress);
      break;
    case FLOOR_PROP_DONE:
      g_value_set_boolean (value, FALSE);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
    }
}

static void
bench_floor_object_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  BenchFloorObjectPrivate *priv =
    bench_floor_object_get_instance_private (BENCH_FLOOR_OBJECT (object));

  switch (prop_id)
    {
    case FLOOR_PROP_NAME:
      break;
    case FLOOR_PROP_PROGRESS:
      priv->progress = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
    }
}

static void
bench_floor_object_class_init (BenchFloorObjectClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = bench_floor_object_get_property;
  object_class->set_property = bench_floor_object_set_property;

  /* Flags as GasyncFuture's properties have them. */
  floor_properties[FLOOR_PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  floor_properties[FLOOR_PROP_PROGRESS] =
    g_param_spec_double ("progress", NULL, NULL, -1.0, 1.0, -1.0,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  floor_properties[FLOOR_PROP_DONE] =
    g_param_spec_boolean ("done", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, FLOOR_N_PROPS, floor_properties);
}

static void
bench_floor_object_init (BenchFloorObject *self)
{
}

BenchCost
bench_floor_one_at_a_time (gint64 n,
                           gint64 per_op)
{
  BenchClock clock;

  /* The class is made before the clock starts, as gasync's is by the
   * time a measurement runs. */
  g_type_ensure (BENCH_TYPE_FLOOR_OBJECT);

  bench_clock_start (&clock);
  for (gint64 i = 0; i < n * per_op; i++)
    g_object_unref (g_object_new (BENCH_TYPE_FLOOR_OBJECT, NULL));

  return bench_clock_read (&clock, n);
}

BenchCost
bench_floor_all_at_once (gint64 n,
                         gint64 ops)
{
  g_autofree GObject **objects = g_new (GObject *, n);
  BenchClock clock;
  BenchCost cost;

  g_type_ensure (BENCH_TYPE_FLOOR_OBJECT);

  bench_clock_start (&clock);
  for (gint64 i = 0; i < n; i++)
    objects[i] = g_object_new (BENCH_TYPE_FLOOR_OBJECT, NULL);
  for (gint64 i = 0; i < n; i++)
    g_object_unref (objects[i]);
  cost = bench_clock_read (&clock, ops);

  return cost;
}
