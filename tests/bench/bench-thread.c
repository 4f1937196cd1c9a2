/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gasync/gasync.h>

#include "bench-util.h"

/*
 * B6, cross-thread: a worker thread completes operations the main thread
 * waits for.  The worker takes requests from a GAsyncQueue in every
 * implementation, so they differ only in how the completion gets back:
 *
 * - gasyncqueue, the floor: the worker pushes a token back on a second
 *   queue, and the main thread blocks popping it (no main loop at all);
 * - gasync: a coroutine creates a future, hands it over and awaits it; the
 *   worker resolves it, which wakes the main context;
 * - gtask: the worker calls g_task_return_int() on a GTask, which completes
 *   through an idle source on the task's context (the path of any GTask
 *   returned from another thread, g_task_run_in_thread() included, minus
 *   GLib's thread pool).
 *
 * Variant "latency": one operation at a time, both threads pinned to the
 * same CPU, so each round trip includes two thread switches on that core;
 * a round trip is the unit.  Variant "throughput": --in-flight operations
 * outstanding at once, threads free to use every CPU.
 */

/* Ends the worker's loop. */
static int stop_marker;
#define STOP ((gpointer) &stop_marker)

typedef struct
{
  GAsyncQueue *requests;
  GAsyncQueue *replies;  /* floor only */
  int          cpu;      /* -1: not pinned */
  char        *impl;
} Worker;

static gpointer
worker_main (gpointer data)
{
  Worker *worker = data;
  gboolean is_floor = g_str_equal (worker->impl, "gasyncqueue");
  gboolean is_gtask = g_str_equal (worker->impl, "gtask");

  if (worker->cpu >= 0)
    bench_pin_thread (worker->cpu);

  for (;;)
    {
      gpointer item = g_async_queue_pop (worker->requests);

      if (item == STOP)
        break;
      if (is_floor)
        g_async_queue_push (worker->replies, item);
      else if (is_gtask)
        {
          g_task_return_int (item, 1);
          g_object_unref (item);
        }
      else
        {
          gasync_future_resolve_int (item, 1);
          g_object_unref (item);
        }
    }

  return NULL;
}

/* --- floor ------------------------------------------------------------- */

static void
run_floor (Worker *worker,
           gint64  n,
           gint64  in_flight)
{
  gint64 sent = 0;

  for (; sent < in_flight && sent < n; sent++)
    g_async_queue_push (worker->requests, GINT_TO_POINTER (1));
  for (gint64 received = 0; received < n; received++)
    {
      (void) g_async_queue_pop (worker->replies);
      if (sent < n)
        {
          g_async_queue_push (worker->requests, GINT_TO_POINTER (1));
          sent++;
        }
    }
}

/* --- gasync ------------------------------------------------------------ */

typedef struct
{
  Worker *worker;
  gint64  per_coroutine;
  gint64  running;
  int     done;
} Client;

static gboolean
client_body (gpointer   user_data,
             GValue    *result,
             GError   **error)
{
  Client *client = user_data;

  for (gint64 i = 0; i < client->per_coroutine; i++)
    {
      GasyncFuture *future = gasync_future_new ();

      g_async_queue_push (client->worker->requests, g_object_ref (future));
      if (gasync_await_int (future, error) != 1)
        return FALSE;
    }

  if (--client->running == 0)
    client->done = TRUE;
  return TRUE;
}

static void
run_gasync (Worker *worker,
            gint64  n,
            gint64  in_flight)
{
  Client client = { worker, n / in_flight, in_flight, FALSE };

  for (gint64 i = 0; i < in_flight; i++)
    g_object_unref (gasync_coroutine_spawn (NULL, client_body, &client, NULL));
  bench_run_until (&client.done);
}

/* --- gtask ------------------------------------------------------------- */

typedef struct
{
  Worker *worker;
  gint64  to_send;
  gint64  to_receive;
  int     done;
} Tasks;

static void gtask_send (Tasks *tasks);

static void
gtask_done_cb (GObject      *source_object,
               GAsyncResult *result,
               gpointer      user_data)
{
  Tasks *tasks = user_data;

  if (g_task_propagate_int (G_TASK (result), NULL) != 1)
    g_error ("GTask returned the wrong value");
  if (--tasks->to_receive == 0)
    tasks->done = TRUE;
  else if (tasks->to_send > 0)
    gtask_send (tasks);
}

static void
gtask_send (Tasks *tasks)
{
  tasks->to_send--;
  g_async_queue_push (tasks->worker->requests, g_task_new (NULL, NULL, gtask_done_cb, tasks));
}

static void
run_gtask (Worker *worker,
           gint64  n,
           gint64  in_flight)
{
  Tasks tasks = { worker, n, n, FALSE };

  for (gint64 i = 0; i < in_flight && tasks.to_send > 0; i++)
    gtask_send (&tasks);
  bench_run_until (&tasks.done);
}

static BenchCost
run_round (const BenchArgs *args,
           Worker          *worker,
           gint64           n,
           gint64           in_flight)
{
  GThread *thread = g_thread_new ("bench-worker", worker_main, worker);
  BenchClock clock;
  BenchCost cost;

  bench_clock_start (&clock);

  if (g_str_equal (args->impl, "gasyncqueue"))
    run_floor (worker, n, in_flight);
  else if (g_str_equal (args->impl, "gasync"))
    run_gasync (worker, n, in_flight);
  else
    run_gtask (worker, n, in_flight);

  cost = bench_clock_read (&clock, n);
  g_async_queue_push (worker->requests, STOP);
  g_thread_join (thread);

  return cost;
}

int
main (int    argc,
      char **argv)
{
  BenchArgs args = { 0 };
  Worker worker = { NULL, NULL, -1, NULL };
  gint64 in_flight, n;
  BenchCost cost = { 0, 0 };

  bench_args_parse (&args, &argc, &argv, "B6: cross-thread latency and throughput.");

  if (!g_str_equal (args.bench, "B6")
      || args.variant == NULL
      || !(g_str_equal (args.variant, "latency") || g_str_equal (args.variant, "throughput"))
      || !(g_str_equal (args.impl, "gasyncqueue") || g_str_equal (args.impl, "gasync")
           || g_str_equal (args.impl, "gtask")))
    bench_unsupported (&args);

  if (g_str_equal (args.variant, "latency"))
    {
      in_flight = 1;
      /* Pin before the worker exists; it pins itself to the same CPU. */
      worker.cpu = bench_first_cpu ();
      bench_pin_thread (worker.cpu);
    }
  else
    in_flight = args.in_flight;

  /* Whole coroutines' worth of operations, so every one is counted. */
  n = MAX (in_flight, args.n / in_flight * in_flight);
  args.n = n;

  worker.requests = g_async_queue_new ();
  worker.replies = g_async_queue_new ();
  worker.impl = args.impl;

  if (args.warmup > 0)
    run_round (&args, &worker, MAX (in_flight, args.warmup / in_flight * in_flight), in_flight);
  for (gint64 r = 0; r < args.reps; r++)
    bench_cost_add (&cost, run_round (&args, &worker, n, in_flight), args.reps);

  bench_print_result (&args, cost,
                      "in_flight", (double) in_flight,
                      "pinned_cpu", (double) worker.cpu,
                      NULL);

  g_async_queue_unref (worker.requests);
  g_async_queue_unref (worker.replies);
  bench_args_clear (&args);
  return 0;
}
