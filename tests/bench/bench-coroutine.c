/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gasync/gasync.h>

#include "bench-util.h"

/*
 * B2, spawn to completion: n coroutines whose bodies return at once, all
 * spawned before any runs, then the main context runs until all are done.
 *
 * B3, ping-pong: two coroutines take turns; each creates a future for its
 * next wake-up, resolves the one the other awaits, and awaits its own.  One
 * round trip is two futures, two resolves and two suspensions.
 *
 * B8 runs both at n = 1e3 ... 1e6 to see whether the cost per operation
 * stays flat as the number of live coroutines (B2) or of operations (B3)
 * grows.
 *
 * gobject-floor constructs and finalizes only the GObjects the gasync
 * runs ask for, and does nothing else: for B2 one per coroutine, all alive
 * before the first is dropped; for B3 two per round trip (a future per
 * hop), one at a time.  It shows what GObject alone costs of an operation
 * that makes its objects anew, next to the targets; gasync recycles the
 * futures and coroutines it drops last, so it can come in under this.
 */

/* --- B2 ---------------------------------------------------------------- */

typedef struct
{
  gint64 n;
  gint64 finished;
  int    done;
} Spawn;

static gboolean
trivial_body (gpointer   user_data,
              GValue    *result,
              GError   **error)
{
  Spawn *spawn = user_data;

  /* Bodies run in spawn order: the last one to run is the last spawned,
   * and the loop stops after the dispatch in which it ended. */
  if (++spawn->finished == spawn->n)
    spawn->done = TRUE;
  return TRUE;
}

static BenchCost
run_spawn (gint64 n)
{
  Spawn spawn = { n, 0, FALSE };
  BenchClock clock;

  bench_clock_start (&clock);

  for (gint64 i = 0; i < n; i++)
    {
      /* A running coroutine keeps itself alive: nobody waits for these
       * futures, as with fire-and-forget asyncio tasks. */
      g_object_unref (gasync_coroutine_spawn (NULL, trivial_body, &spawn, NULL));
    }
  bench_run_until (&spawn.done);

  return bench_clock_read (&clock, n);
}

static BenchCost
run_spawn_floor (gint64 n)
{
  return bench_floor_all_at_once (n, n);
}

/* --- B3 ---------------------------------------------------------------- */

typedef struct
{
  gint64        n;
  /* The future each side awaits; the other side resolves and drops it. */
  GasyncFuture *to_a;
  GasyncFuture *to_b;
  int           done;
} PingPong;

static void
wake (GasyncFuture **slot)
{
  GasyncFuture *future = g_steal_pointer (slot);

  g_assert_nonnull (future);
  gasync_future_resolve_int (future, 1);
  g_object_unref (future);
}

static gboolean
ping_body (gpointer   user_data,
           GValue    *result,
           GError   **error)
{
  PingPong *pp = user_data;

  for (gint64 i = 0; i < pp->n; i++)
    {
      GasyncFuture *mine = gasync_future_new ();

      pp->to_a = g_object_ref (mine);
      wake (&pp->to_b);
      if (gasync_await_int (mine, error) != 1)
        return FALSE;
    }

  pp->done = TRUE;
  return TRUE;
}

static gboolean
pong_body (gpointer   user_data,
           GValue    *result,
           GError   **error)
{
  PingPong *pp = user_data;

  for (gint64 i = 0; i < pp->n; i++)
    {
      GasyncFuture *mine = gasync_future_new ();

      /* Set before waking ping, which resolves it next. */
      pp->to_b = g_object_ref (mine);
      if (pp->to_a != NULL)
        wake (&pp->to_a);
      if (gasync_await_int (mine, error) != 1)
        return FALSE;
    }

  wake (&pp->to_a);
  return TRUE;
}

static BenchCost
run_ping_pong (gint64 n)
{
  PingPong pp = { n, NULL, NULL, FALSE };
  BenchClock clock;

  bench_clock_start (&clock);

  /* Pong first: coroutines start in spawn order, and ping needs the
   * future pong awaits. */
  g_object_unref (gasync_coroutine_spawn (NULL, pong_body, &pp, NULL));
  g_object_unref (gasync_coroutine_spawn (NULL, ping_body, &pp, NULL));
  bench_run_until (&pp.done);

  return bench_clock_read (&clock, n);
}

static BenchCost
run_ping_pong_floor (gint64 n)
{
  return bench_floor_one_at_a_time (n, 2);
}

int
main (int    argc,
      char **argv)
{
  BenchArgs args = { 0 };
  BenchCost (*run) (gint64) = NULL;
  BenchCost cost = { 0, 0 };

  bench_args_parse (&args, &argc, &argv, "B2 spawn to completion, B3 ping-pong.");

  if (g_str_equal (args.impl, "gasync"))
    {
      if (g_str_equal (args.bench, "B2"))
        run = run_spawn;
      else if (g_str_equal (args.bench, "B3"))
        run = run_ping_pong;
      else
        bench_unsupported (&args);
    }
  else if (g_str_equal (args.impl, "gobject-floor"))
    {
      if (g_str_equal (args.bench, "B2"))
        run = run_spawn_floor;
      else if (g_str_equal (args.bench, "B3"))
        run = run_ping_pong_floor;
      else
        bench_unsupported (&args);
    }
  else
    bench_unsupported (&args);

  if (args.warmup > 0)
    run (args.warmup);
  for (gint64 r = 0; r < args.reps; r++)
    bench_cost_add (&cost, run (args.n), args.reps);

  bench_print_result (&args, cost, NULL);
  bench_args_clear (&args);
  return 0;
}
