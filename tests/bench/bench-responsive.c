/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gasync/gasync.h>

#include "bench-util.h"

/*
 * B7, responsiveness: n coroutines yield in a loop while a 16 ms timeout at
 * priority 120 (GDK_PRIORITY_REDRAW, GTK's paint) fires and records how
 * late it ran.  A frame clock needs this timer to keep firing on time
 * however much work is queued: if the scheduler's always-ready source
 * outranked it, GLib would dispatch only the scheduler and never paint.
 *
 * The timeout is re-armed from its own callback (like asyncio's call_later
 * in the peer), so lateness is the time from the deadline it was armed with
 * to its callback.
 */

#define TICK_MS        16
#define PAINT_PRIORITY 120

typedef struct
{
  gint64   n;
  gint64   started;
  gint64   finished;
  gint64   yields;
  gboolean stop;

  GSource *timer;
  gint64   deadline_us;
  GArray  *lateness_us;
} Spin;

static gboolean
spin_body (gpointer   user_data,
           GValue    *result,
           GError   **error)
{
  Spin *spin = user_data;

  spin->started++;
  while (!spin->stop)
    {
      if (!gasync_yield (error))
        return FALSE;
      spin->yields++;
    }
  spin->finished++;
  return TRUE;
}

static gboolean tick_cb (gpointer user_data);

static void
arm (Spin *spin)
{
  g_clear_pointer (&spin->timer, g_source_unref);
  /* Read before the source computes its own expiry from the same clock,
   * so a lateness is never under-reported. */
  spin->deadline_us = g_get_monotonic_time () + TICK_MS * 1000;
  spin->timer = g_timeout_source_new (TICK_MS);
  g_source_set_priority (spin->timer, PAINT_PRIORITY);
  g_source_set_callback (spin->timer, tick_cb, spin, NULL);
  g_source_attach (spin->timer, NULL);
}

static gboolean
tick_cb (gpointer user_data)
{
  Spin *spin = user_data;
  gint64 lateness = g_get_monotonic_time () - spin->deadline_us;

  g_array_append_val (spin->lateness_us, lateness);
  arm (spin);
  return G_SOURCE_REMOVE;
}

static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

/* Nearest-rank percentile, in milliseconds. */
static double
percentile_ms (GArray *sorted,
               double  q)
{
  guint rank;

  if (sorted->len == 0)
    return -1;
  rank = (guint) (q * sorted->len + 0.999999);
  rank = CLAMP (rank, 1, sorted->len);
  return g_array_index (sorted, gint64, rank - 1) / 1000.0;
}

int
main (int    argc,
      char **argv)
{
  BenchArgs args = { 0 };
  Spin spin = { 0 };
  BenchClock clock;
  gint64 end, yields_before;

  bench_args_parse (&args, &argc, &argv, "B7: timer lateness while coroutines yield.");
  if (!g_str_equal (args.bench, "B7") || !g_str_equal (args.impl, "gasync"))
    bench_unsupported (&args);

  spin.n = args.n;
  spin.lateness_us = g_array_new (FALSE, FALSE, sizeof (gint64));

  for (gint64 i = 0; i < args.n; i++)
    g_object_unref (gasync_coroutine_spawn (NULL, spin_body, &spin, NULL));
  /* Measure the steady state, with every coroutine in its yield loop. */
  while (spin.started < args.n)
    g_main_context_iteration (NULL, TRUE);

  yields_before = spin.yields;
  bench_clock_start (&clock);
  end = g_get_monotonic_time () + args.duration_ms * 1000;
  arm (&spin);
  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  g_source_destroy (spin.timer);
  g_clear_pointer (&spin.timer, g_source_unref);

  {
    gint64 yields = MAX (1, spin.yields - yields_before);
    BenchCost cost = bench_clock_read (&clock, yields);
    guint firings = spin.lateness_us->len;

    spin.stop = TRUE;
    while (spin.finished < args.n)
      g_main_context_iteration (NULL, TRUE);

    g_array_sort (spin.lateness_us, compare_gint64);
    bench_print_result (&args, cost,
                        "p50_ms", percentile_ms (spin.lateness_us, 0.50),
                        "p99_ms", percentile_ms (spin.lateness_us, 0.99),
                        "max_ms", percentile_ms (spin.lateness_us, 1.0),
                        "firings", (double) firings,
                        "ideal_firings", (double) args.duration_ms / TICK_MS,
                        "yields", (double) yields,
                        NULL);
  }

  g_array_unref (spin.lateness_us);
  bench_args_clear (&args);
  return 0;
}
