/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gasync/gasync.h>

#include "bench-util.h"

/*
 * B4, memory: n coroutines suspended at once on one pending future; the
 * growth of the resident set divided by n, stacks and bookkeeping included.
 * Only meaningful in a fresh process, where no freed memory is waiting to
 * be reused, so there is no warm-up and one measurement per process.
 */

typedef struct
{
  GasyncFuture *gate;
  gint64        parked;
  gint64        finished;
} Park;

static gboolean
parked_body (gpointer   user_data,
             GValue    *result,
             GError   **error)
{
  Park *park = user_data;
  gboolean ret;

  park->parked++;
  ret = gasync_await (g_object_ref (park->gate), error);
  park->finished++;
  return ret;
}

int
main (int    argc,
      char **argv)
{
  BenchArgs args = { 0 };
  Park park = { NULL, 0, 0 };
  gsize before, after;
  BenchClock clock;
  BenchCost cost;

  bench_args_parse (&args, &argc, &argv, "B4: resident bytes per suspended coroutine.");
  if (!g_str_equal (args.bench, "B4") || !g_str_equal (args.impl, "gasync"))
    bench_unsupported (&args);

  /* Create the gate (and with it the scheduler) before the first reading:
   * they are paid once, not per coroutine. */
  park.gate = gasync_future_new ();
  while (g_main_context_iteration (NULL, FALSE))
    ;
  before = bench_resident_bytes ();
  bench_clock_start (&clock);

  for (gint64 i = 0; i < args.n; i++)
    g_object_unref (gasync_coroutine_spawn (NULL, parked_body, &park, NULL));
  while (park.parked < args.n)
    g_main_context_iteration (NULL, TRUE);

  cost = bench_clock_read (&clock, args.n);
  after = bench_resident_bytes ();

  /* Let them all finish, so the wake-up path gets exercised too. */
  gasync_future_resolve_void (park.gate);
  while (park.finished < args.n)
    g_main_context_iteration (NULL, TRUE);
  g_clear_object (&park.gate);

  bench_print_result (&args, cost,
                      "bytes_per_op", (double) (after - before) / (double) args.n,
                      NULL);
  bench_args_clear (&args);
  return 0;
}
