/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gasync/gasync.h>

#include "bench-util.h"

#include <time.h>

/*
 * B5, gather: one coroutine creates n pending futures, awaits
 * gasync_allv() of them, and a sibling coroutine resolves them one by one,
 * in order, each with its index.  The gathering coroutine then reads every
 * value from the array of children it got back (as asyncio.gather hands
 * back the values) and lets go of it all.
 *
 * Timed end to end, for one gather of n futures: creating the futures, the
 * combinator and its n done callbacks, the n resolutions and deliveries,
 * reading the results, and tearing everything down again.  The peers in
 * bench_peers.py do the same with asyncio.gather().  The figure is the
 * total per gather; ns_per_op is that divided by n.  gather_ms is the part
 * from creating the combinator to having read the results and released
 * the combinator: without creating and finalizing the futures themselves,
 * which is B1's business.
 *
 * gobject-floor constructs the n child futures' worth of GObjects, all
 * alive at once as gasync's are, then finalizes them, and does nothing
 * else: what GObject alone costs of a gather, next to the target.  It has
 * no gather part, so it prints no gather_ms.
 */

typedef struct
{
  gint64         n;
  /* Owned by the gatherer; the resolver only resolves them. */
  GasyncFuture **futures;
  gint64         sum;
  gint64         gather_ns;
  int            done;
} Gather;

static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

static gboolean
resolver_body (gpointer   user_data,
               GValue    *result,
               GError   **error)
{
  Gather *gather = user_data;

  for (gint64 i = 0; i < gather->n; i++)
    gasync_future_resolve_int (gather->futures[i], (int) i);
  return TRUE;
}

static gboolean
gather_body (gpointer   user_data,
             GValue    *result,
             GError   **error)
{
  Gather *gather = user_data;
  GasyncFuture *all;
  GPtrArray *children;
  gint64 start;

  gather->futures = g_new (GasyncFuture *, gather->n);
  for (gint64 i = 0; i < gather->n; i++)
    gather->futures[i] = gasync_future_new ();

  start = now_ns ();
  all = gasync_allv (gather->futures, (guint) gather->n);

  /* The resolver starts once this coroutine is suspended on the gather. */
  g_object_unref (gasync_coroutine_spawn (NULL, resolver_body, gather, NULL));

  children = gasync_await_boxed (all, G_TYPE_PTR_ARRAY, error);
  if (children == NULL)
    return FALSE;

  g_assert_cmpuint (children->len, ==, gather->n);
  gather->sum = 0;
  for (guint i = 0; i < children->len; i++)
    gather->sum += gasync_future_get_int (g_ptr_array_index (children, i), NULL);
  g_ptr_array_unref (children);
  gather->gather_ns = now_ns () - start;

  for (gint64 i = 0; i < gather->n; i++)
    g_object_unref (gather->futures[i]);
  g_clear_pointer (&gather->futures, g_free);

  gather->done = TRUE;
  return TRUE;
}

static BenchCost
run_gather (gint64  n,
            gint64 *gather_ns)
{
  Gather gather = { n, NULL, 0, 0, FALSE };
  BenchClock clock;

  bench_clock_start (&clock);
  g_object_unref (gasync_coroutine_spawn (NULL, gather_body, &gather, NULL));
  bench_run_until (&gather.done);

  /* 0 + 1 + ... + (n - 1): every value arrived, each in its place. */
  g_assert_cmpint (gather.sum, ==, n * (n - 1) / 2);
  *gather_ns = gather.gather_ns;

  /* Per gather rather than per operation: the issue states B5 in total
   * time. */
  return bench_clock_read (&clock, 1);
}

int
main (int    argc,
      char **argv)
{
  BenchArgs args = { 0 };
  BenchCost cost = { 0, 0 };
  double gather_ms = 0;
  gint64 gather_ns;

  bench_args_parse (&args, &argc, &argv, "B5: gather of n pending futures resolved one by one.");

  if (!g_str_equal (args.bench, "B5"))
    bench_unsupported (&args);

  if (g_str_equal (args.impl, "gobject-floor"))
    {
      if (args.warmup > 0)
        bench_floor_all_at_once (args.warmup, 1);
      /* Per gather, as below. */
      for (gint64 r = 0; r < args.reps; r++)
        bench_cost_add (&cost, bench_floor_all_at_once (args.n, 1), args.reps);

      bench_print_result (&args, (BenchCost) { cost.wall_ns / (double) args.n,
                                               cost.cpu_ns / (double) args.n },
                          "total_ms", cost.wall_ns / 1e6,
                          "cpu_total_ms", cost.cpu_ns / 1e6,
                          NULL);
      bench_args_clear (&args);
      return 0;
    }

  if (!g_str_equal (args.impl, "gasync"))
    bench_unsupported (&args);
  if (args.n > G_MAXINT)
    {
      g_printerr ("--n is limited to %d\n", G_MAXINT);
      return 2;
    }

  if (args.warmup > 0)
    run_gather (args.warmup, &gather_ns);
  for (gint64 r = 0; r < args.reps; r++)
    {
      bench_cost_add (&cost, run_gather (args.n, &gather_ns), args.reps);
      gather_ms += (double) gather_ns / 1e6 / (double) args.reps;
    }

  bench_print_result (&args, (BenchCost) { cost.wall_ns / (double) args.n,
                                           cost.cpu_ns / (double) args.n },
                      "total_ms", cost.wall_ns / 1e6,
                      "cpu_total_ms", cost.cpu_ns / 1e6,
                      "gather_ms", gather_ms,
                      NULL);
  bench_args_clear (&args);
  return 0;
}
