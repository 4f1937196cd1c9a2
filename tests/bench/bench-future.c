/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gasync/gasync.h>

#include "bench-util.h"

/*
 * B1, future round trip: create a future, add a done callback, resolve it,
 * and get the callback from a dispatch of the main context.  Each callback
 * starts the next round trip, as callback-style application code does, so
 * every operation costs one trip through the main loop; the peers (GTask
 * here, asyncio and uvloop in bench_peers.py) run the same chain.
 *
 * gobject-floor constructs and finalizes one GObject per round trip (the
 * future) and does nothing else: what GObject alone costs of a round trip
 * that makes a new future, next to the target.  gasync recycles futures
 * it drops last, so it can come in under this.
 */

typedef struct
{
  gint64 remaining;
  int    done;
} Chain;

static void gasync_step (Chain *chain);

static void
gasync_done_cb (GasyncFuture *future,
                gpointer      user_data)
{
  Chain *chain = user_data;

  /* Read the outcome, as a real consumer would. */
  (void) gasync_future_get_pointer (future, NULL);
  gasync_step (chain);
}

static void
gasync_step (Chain *chain)
{
  GasyncFuture *future;

  if (chain->remaining-- == 0)
    {
      chain->done = TRUE;
      return;
    }

  future = gasync_future_new ();
  gasync_future_add_done_callback (future, gasync_done_cb, chain, NULL);
  gasync_future_resolve_pointer (future, chain, NULL);
  /* The pending delivery holds its own reference. */
  g_object_unref (future);
}

static void gtask_step (Chain *chain);

static void
gtask_done_cb (GObject      *source_object,
               GAsyncResult *result,
               gpointer      user_data)
{
  Chain *chain = user_data;

  (void) g_task_propagate_pointer (G_TASK (result), NULL);
  gtask_step (chain);
}

static void
gtask_step (Chain *chain)
{
  GTask *task;

  if (chain->remaining-- == 0)
    {
      chain->done = TRUE;
      return;
    }

  /* Returned in the iteration that created it, so GTask completes it from
   * an idle source in a later one: a trip through the main loop, as for
   * gasync. */
  task = g_task_new (NULL, NULL, gtask_done_cb, chain);
  g_task_return_pointer (task, chain, NULL);
  g_object_unref (task);
}

static BenchCost
run_chain (void (*step) (Chain *),
           gint64 n)
{
  Chain chain = { n, FALSE };
  BenchClock clock;

  bench_clock_start (&clock);
  step (&chain);
  bench_run_until (&chain.done);

  return bench_clock_read (&clock, n);
}

int
main (int    argc,
      char **argv)
{
  BenchArgs args = { 0 };
  void (*step) (Chain *) = NULL;
  BenchCost cost = { 0, 0 };

  bench_args_parse (&args, &argc, &argv, "B1: future round trip through the main context.");

  if (g_str_equal (args.bench, "B1") && g_str_equal (args.impl, "gobject-floor"))
    {
      if (args.warmup > 0)
        bench_floor_one_at_a_time (args.warmup, 1);
      for (gint64 r = 0; r < args.reps; r++)
        bench_cost_add (&cost, bench_floor_one_at_a_time (args.n, 1), args.reps);

      bench_print_result (&args, cost, NULL);
      bench_args_clear (&args);
      return 0;
    }

  if (g_str_equal (args.bench, "B1") && g_str_equal (args.impl, "gasync"))
    step = gasync_step;
  else if (g_str_equal (args.bench, "B1") && g_str_equal (args.impl, "gtask"))
    step = gtask_step;
  else
    bench_unsupported (&args);

  if (args.warmup > 0)
    run_chain (step, args.warmup);
  for (gint64 r = 0; r < args.reps; r++)
    bench_cost_add (&cost, run_chain (step, args.n), args.reps);

  bench_print_result (&args, cost, NULL);
  bench_args_clear (&args);
  return 0;
}
