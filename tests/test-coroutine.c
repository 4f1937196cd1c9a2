/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gasync/gasync.h>

#include "gasync-fiber-private.h"
#include "gasync-future-private.h"
#include "gasync-test-util.h"

#include <stdio.h>
#include <unistd.h>

/* --- await on settled and pending futures ----------------------------- */

static gboolean
add_body (gpointer   user_data,
          GValue    *result,
          GError   **error)
{
  GasyncFuture *pending = user_data;
  int a, b;

  a = gasync_await_int (gasync_future_new_resolved_int (40), error);
  if (*error != NULL)
    return FALSE;

  b = gasync_await_int (g_object_ref (pending), error);
  if (*error != NULL)
    return FALSE;

  g_value_init (result, G_TYPE_INT);
  g_value_set_int (result, a + b);
  return TRUE;
}

static gboolean
resolve_two (gpointer data)
{
  gasync_future_resolve_int (data, 2);
  return G_SOURCE_REMOVE;
}

static void
test_await_basic (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(GasyncFuture) pending = gasync_future_new ();
  g_autoptr(GasyncCoroutine) co = NULL;
  g_autoptr(GError) error = NULL;
  GSource *source;

  co = gasync_coroutine_spawn ("add", add_body, pending, NULL);
  g_assert_true (GASYNC_IS_FUTURE (co));
  /* Spawning never runs the body synchronously. */
  g_assert_cmpint (gasync_future_get_state (GASYNC_FUTURE (co)), ==, GASYNC_FUTURE_STATE_PENDING);
  g_assert_cmpstr (gasync_future_get_name (GASYNC_FUTURE (co)), ==, "add");

  drain (fixture->context);
  g_assert_false (gasync_future_is_done (GASYNC_FUTURE (co)));
  {
    g_autoptr(GasyncFuture) awaiting = gasync_coroutine_dup_awaiting (co);
    g_assert_true (awaiting == pending);
  }

  source = g_timeout_source_new (1);
  g_source_set_callback (source, resolve_two, pending, NULL);
  g_source_attach (source, fixture->context);
  g_source_unref (source);

  run_until_done (fixture->context, GASYNC_FUTURE (co));
  g_assert_cmpint (gasync_future_get_int (GASYNC_FUTURE (co), &error), ==, 42);
  g_assert_no_error (error);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&co));
}

static gboolean
fail_body (gpointer   user_data,
           GValue    *result,
           GError   **error)
{
  return gasync_await (gasync_future_new_for_error (g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "nope")),
                       error);
}

static gboolean
cancel_self_body (gpointer   user_data,
                  GValue    *result,
                  GError   **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "gave up");
  return FALSE;
}

static void
test_outcomes (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(GasyncCoroutine) failing = gasync_coroutine_spawn ("fail", fail_body, NULL, NULL);
  g_autoptr(GasyncCoroutine) cancelling = gasync_coroutine_spawn ("cancel", cancel_self_body, NULL, NULL);
  g_autoptr(GError) error = NULL;

  run_until_done (fixture->context, GASYNC_FUTURE (failing));
  run_until_done (fixture->context, GASYNC_FUTURE (cancelling));

  g_assert_cmpint (gasync_future_get_state (GASYNC_FUTURE (failing)), ==, GASYNC_FUTURE_STATE_REJECTED);
  g_assert_false (gasync_future_propagate_error (GASYNC_FUTURE (failing), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_cmpint (gasync_future_get_state (GASYNC_FUTURE (cancelling)), ==, GASYNC_FUTURE_STATE_CANCELLED);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&failing));
  g_assert_finalize_object (g_steal_pointer (&cancelling));
}

/* --- await outside a coroutine ----------------------------------------- */

static void
test_await_outside (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  GasyncFuture *pending = gasync_future_new ();
  GasyncFuture *watch = g_object_ref (pending);

  /* A settled future is fine anywhere. */
  g_assert_cmpint (gasync_await_int (gasync_future_new_resolved_int (7), &error), ==, 7);
  g_assert_no_error (error);

  /* A pending one fails fast instead of spinning a nested loop. */
  g_assert_false (gasync_await (pending, &error));
  g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_NOT_IN_COROUTINE);
  g_assert_null (gasync_coroutine_get_current ());

  /* The await took ownership of the future and dropped it. */
  g_assert_finalize_object (watch);
}

/* --- gasync_future_wait inside a coroutine ------------------------------ */

static gboolean
wait_inside_body (gpointer   user_data,
                  GValue    *result,
                  GError   **error)
{
  g_autoptr(GasyncFuture) pending = gasync_future_new ();
  g_autoptr(GError) local_error = NULL;
  gboolean *checked = user_data;

  g_assert_nonnull (gasync_coroutine_get_current ());
  g_assert_false (gasync_future_wait (pending, &local_error));
  g_assert_error (local_error, GASYNC_ERROR, GASYNC_ERROR_IN_COROUTINE);
  *checked = TRUE;
  return TRUE;
}

static void
test_wait_inside (Fixture       *fixture,
                  gconstpointer  data)
{
  gboolean checked = FALSE;
  g_autoptr(GasyncCoroutine) co = gasync_coroutine_spawn ("wait-inside", wait_inside_body, &checked, NULL);
  g_autoptr(GError) error = NULL;

  /* From outside, waiting on the coroutine runs the context until done. */
  g_assert_true (gasync_future_wait (GASYNC_FUTURE (co), &error));
  g_assert_no_error (error);
  g_assert_true (checked);
  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&co));
}

/* --- chains of nested awaits ------------------------------------------- */

typedef struct
{
  int depth;
  int *cleanups;
} ChainLink;

static gboolean chain_body (gpointer user_data, GValue *result, GError **error);

static gboolean
chain_body (gpointer   user_data,
            GValue    *result,
            GError   **error)
{
  ChainLink *link = user_data;
  int value;

  if (link->depth == 0)
    {
      value = 0;
    }
  else
    {
      ChainLink *child = g_new0 (ChainLink, 1);

      child->depth = link->depth - 1;
      child->cleanups = link->cleanups;
      value = gasync_await_int (GASYNC_FUTURE (gasync_coroutine_spawn ("chain", chain_body, child, g_free)),
                                error);
      if (*error != NULL)
        return FALSE;
    }

  g_value_init (result, G_TYPE_INT);
  g_value_set_int (result, value + 1);
  return TRUE;
}

/* Tens of thousands of coroutines: ThreadSanitizer keeps a thread state
 * per live fiber and runs out of memory long before that, and Memcheck
 * takes minutes.  The small variants and tests/stress cover the same code
 * under both. */
static gboolean
skip_if_too_heavy (int n)
{
  if (n < 1000 || (!GASYNC_TSAN && !RUNNING_ON_VALGRIND))
    return FALSE;

  g_test_skip ("Too many coroutines for ThreadSanitizer or Valgrind");
  return TRUE;
}

static void
test_chain (Fixture       *fixture,
            gconstpointer  data)
{
  ChainLink root = { .depth = GPOINTER_TO_INT (data) };
  g_autoptr(GasyncCoroutine) co = NULL;
  g_autoptr(GError) error = NULL;

  if (skip_if_too_heavy (root.depth))
    return;

  co = gasync_coroutine_spawn ("chain-root", chain_body, &root, NULL);
  run_until_done (fixture->context, GASYNC_FUTURE (co));
  g_assert_cmpint (gasync_future_get_int (GASYNC_FUTURE (co), &error), ==, root.depth + 1);
  g_assert_no_error (error);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&co));
}

/* --- many coroutines spawned and completed ------------------------------ */

static int completed;

static gboolean
count_body (gpointer   user_data,
            GValue    *result,
            GError   **error)
{
  completed++;
  return TRUE;
}

static void
test_many (Fixture       *fixture,
           gconstpointer  data)
{
  const int n = 100000;
  GasyncCoroutine *last = NULL;

  if (skip_if_too_heavy (n))
    return;

  completed = 0;
  for (int i = 0; i < n; i++)
    {
      GasyncCoroutine *co = gasync_coroutine_spawn (NULL, count_body, NULL, NULL);

      if (i == n - 1)
        last = co;
      else
        g_object_unref (co);
    }

  run_until_done (fixture->context, GASYNC_FUTURE (last));
  g_assert_cmpint (completed, ==, n);
  drain (fixture->context);
  g_assert_finalize_object (last);

  {
    g_autoptr(GPtrArray) live = gasync_coroutine_list ();
    g_assert_cmpuint (live->len, ==, 0);
  }
}

/* --- ping-pong --------------------------------------------------------- */

typedef struct
{
  GasyncFuture *to_ping;
  GasyncFuture *to_pong;
  int rounds;
  int hops;
} PingPong;

static gboolean
ping_body (gpointer   user_data,
           GValue    *result,
           GError   **error)
{
  PingPong *pp = user_data;

  for (int i = 0; i < pp->rounds; i++)
    {
      GasyncFuture *mine = gasync_future_new ();

      pp->to_ping = g_object_ref (mine);
      gasync_future_resolve_int (pp->to_pong, i);
      g_clear_object (&pp->to_pong);
      if (gasync_await_int (mine, error) != i || *error != NULL)
        return FALSE;
      pp->hops++;
    }
  return TRUE;
}

static gboolean
pong_body (gpointer   user_data,
           GValue    *result,
           GError   **error)
{
  PingPong *pp = user_data;

  for (int i = 0; i < pp->rounds; i++)
    {
      GasyncFuture *mine = pp->to_pong;
      int got;

      g_object_ref (mine);
      got = gasync_await_int (mine, error);
      if (*error != NULL || got != i)
        return FALSE;
      pp->hops++;
      /* Hand the next future back before resolving the one ping awaits. */
      {
        GasyncFuture *ping = g_steal_pointer (&pp->to_ping);

        pp->to_pong = gasync_future_new ();
        gasync_future_resolve_int (ping, i);
        g_object_unref (ping);
      }
    }
  return TRUE;
}

static void
test_ping_pong (Fixture       *fixture,
                gconstpointer  data)
{
  PingPong pp = { .rounds = 10000 };
  g_autoptr(GasyncCoroutine) pong = NULL;
  g_autoptr(GasyncCoroutine) ping = NULL;
  g_autoptr(GError) error = NULL;
  guint iterations = 0;

  pp.to_pong = gasync_future_new ();
  pong = gasync_coroutine_spawn ("pong", pong_body, &pp, NULL);
  ping = gasync_coroutine_spawn ("ping", ping_body, &pp, NULL);

  while (!gasync_future_is_done (GASYNC_FUTURE (ping)) || !gasync_future_is_done (GASYNC_FUTURE (pong)))
    {
      g_main_context_iteration (fixture->context, FALSE);
      iterations++;
    }

  g_assert_true (gasync_future_propagate_error (GASYNC_FUTURE (ping), &error));
  g_assert_no_error (error);
  g_assert_true (gasync_future_propagate_error (GASYNC_FUTURE (pong), &error));
  g_assert_no_error (error);
  g_assert_cmpint (pp.hops, ==, 2 * pp.rounds);
  /* Hops within one dispatch do not each cost a main-loop iteration. */
  g_test_message ("%d hops in %u iterations", pp.hops, iterations);
  g_assert_cmpuint (iterations, <, (guint) pp.hops / 4);

  g_clear_object (&pp.to_pong);
  g_clear_object (&pp.to_ping);
  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&ping));
  g_assert_finalize_object (g_steal_pointer (&pong));
}

/* --- yield fairness ----------------------------------------------------- */

static gboolean stop_yielding;

static gboolean
yield_body (gpointer   user_data,
            GValue    *result,
            GError   **error)
{
  guint64 *count = user_data;

  while (!stop_yielding)
    {
      if (!gasync_yield (error))
        return FALSE;
      (*count)++;
    }
  return TRUE;
}

static gboolean
paint_tick (gpointer user_data)
{
  guint *ticks = user_data;

  (*ticks)++;
  return G_SOURCE_CONTINUE;
}

static void
test_yield_fairness (Fixture       *fixture,
                     gconstpointer  data)
{
  GPtrArray *yielders = g_ptr_array_new_with_free_func (g_object_unref);
  guint64 yields = 0;
  guint ticks = 0;
  GSource *paint;

  stop_yielding = FALSE;
  for (int i = 0; i < 1000; i++)
    g_ptr_array_add (yielders, gasync_coroutine_spawn ("yielder", yield_body, &yields, NULL));

  /* GTK paints at priority 120; a 5 ms timer there must keep firing. */
  paint = g_timeout_source_new (5);
  g_source_set_priority (paint, 120);
  g_source_set_callback (paint, paint_tick, &ticks, NULL);
  g_source_attach (paint, fixture->context);

  /* Both must make progress: were the paint source starved, the ticks
   * would stop and the watchdog fail the test; no clock is read, so a
   * loaded machine or Valgrind only makes it slower.  (B7 measures how
   * late the ticks are.) */
  ITERATE_UNTIL (fixture->context, ticks >= 20 && yields > 20000);

  g_test_message ("%" G_GUINT64_FORMAT " yields, %u ticks", yields, ticks);
  g_assert_cmpuint (yields, >, 20000);
  g_assert_cmpuint (ticks, >=, 20);

  g_source_destroy (paint);
  g_source_unref (paint);

  stop_yielding = TRUE;
  for (guint i = 0; i < yielders->len; i++)
    run_until_done (fixture->context, g_ptr_array_index (yielders, i));
  g_ptr_array_unref (yielders);
}

/* --- cancellation at every await of a chain ------------------------------ */

typedef struct
{
  int steps;
  int cancel_at;
  int reached;
  gboolean cleaned_up;
  GasyncFuture *current;
} CancelChain;

static gboolean
cancel_chain_body (gpointer   user_data,
                   GValue    *result,
                   GError   **error)
{
  CancelChain *chain = user_data;
  gboolean ok = TRUE;

  for (int i = 0; i < chain->steps && ok; i++)
    {
      GasyncFuture *step = gasync_future_new ();

      g_set_object (&chain->current, step);
      chain->reached = i;
      ok = gasync_await (step, error);
    }

  /* Clean-up code after a failed await always runs. */
  g_clear_object (&chain->current);
  chain->cleaned_up = TRUE;
  return ok;
}

static void
test_cancel_chain (Fixture       *fixture,
                   gconstpointer  data)
{
  const int steps = 8;

  for (int cancel_at = 0; cancel_at < steps; cancel_at++)
    {
      CancelChain chain = { .steps = steps, .cancel_at = cancel_at };
      g_autoptr(GasyncCoroutine) co = gasync_coroutine_spawn ("cancel-chain", cancel_chain_body, &chain, NULL);
      GasyncFuture *awaited = NULL;
      g_autoptr(GError) error = NULL;

      drain (fixture->context);
      for (int i = 0; i < cancel_at; i++)
        {
          g_assert_nonnull (chain.current);
          gasync_future_resolve_void (chain.current);
          drain (fixture->context);
        }
      g_assert_cmpint (chain.reached, ==, cancel_at);
      awaited = g_object_ref (chain.current);

      g_assert_true (gasync_future_cancel (GASYNC_FUTURE (co)));
      g_assert_true (g_cancellable_is_cancelled (gasync_future_get_cancellable (GASYNC_FUTURE (co))));
      run_until_done (fixture->context, GASYNC_FUTURE (co));

      g_assert_true (chain.cleaned_up);
      g_assert_true (gasync_future_is_cancelled (awaited));
      g_assert_cmpint (gasync_future_get_state (GASYNC_FUTURE (co)), ==, GASYNC_FUTURE_STATE_CANCELLED);
      g_assert_false (gasync_future_propagate_error (GASYNC_FUTURE (co), &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

      drain (fixture->context);
      g_assert_finalize_object (awaited);
      g_assert_finalize_object (g_steal_pointer (&co));
    }
}

/* Cancelled while running: the next await fails at once. */
static gboolean
cancel_while_running_body (gpointer   user_data,
                           GValue    *result,
                           GError   **error)
{
  GasyncCoroutine *self = gasync_coroutine_get_current ();
  gboolean *saw = user_data;

  gasync_future_cancel (GASYNC_FUTURE (self));
  /* The next await fails with the cancellation, even of a settled future;
   * the one after that works again: the cancellation is delivered once. */
  *saw = !gasync_await (gasync_future_new_resolved_int (1), error) &&
         g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (error);
  if (!gasync_await (gasync_future_new_resolved_int (2), error))
    return FALSE;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled");
  return FALSE;
}

static void
test_cancel_while_running (Fixture       *fixture,
                           gconstpointer  data)
{
  gboolean saw = FALSE;
  g_autoptr(GasyncCoroutine) co = gasync_coroutine_spawn ("self-cancel", cancel_while_running_body, &saw, NULL);

  run_until_done (fixture->context, GASYNC_FUTURE (co));
  g_assert_true (saw);
  g_assert_true (gasync_future_is_cancelled (GASYNC_FUTURE (co)));
  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&co));
}

/* Cancelled before it started: even an await of a settled future fails. */
static gboolean
settled_await_body (gpointer   user_data,
                    GValue    *result,
                    GError   **error)
{
  int *reached = user_data;

  if (!gasync_await (gasync_future_new_resolved_int (1), error))
    return FALSE;
  (*reached)++;
  return TRUE;
}

static void
test_cancel_before_start (Fixture       *fixture,
                          gconstpointer  data)
{
  int reached = 0;
  g_autoptr(GasyncCoroutine) co = gasync_coroutine_spawn ("early", settled_await_body, &reached, NULL);

  g_assert_true (gasync_future_cancel (GASYNC_FUTURE (co)));
  run_until_done (fixture->context, GASYNC_FUTURE (co));
  g_assert_cmpint (reached, ==, 0);
  g_assert_true (gasync_future_is_cancelled (GASYNC_FUTURE (co)));
  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&co));
}

/* --- settled from other threads ------------------------------------------ */

#define N_THREAD_FUTURES 2000

typedef struct
{
  GAsyncQueue *queue;
  int woken;
} CrossThread;

static gpointer
settler_thread (gpointer data)
{
  CrossThread *ct = data;

  for (int i = 0; i < N_THREAD_FUTURES; i++)
    {
      GasyncFuture *future = g_async_queue_pop (ct->queue);

      gasync_future_resolve_int (future, i);
      g_object_unref (future);
    }
  return NULL;
}

static gboolean
cross_thread_body (gpointer   user_data,
                   GValue    *result,
                   GError   **error)
{
  CrossThread *ct = user_data;

  for (int i = 0; i < N_THREAD_FUTURES; i++)
    {
      GasyncFuture *future = gasync_future_new ();

      g_async_queue_push (ct->queue, g_object_ref (future));
      if (gasync_await_int (future, error) != i || *error != NULL)
        return FALSE;
      ct->woken++;
    }
  return TRUE;
}

static void
test_cross_thread (Fixture       *fixture,
                   gconstpointer  data)
{
  CrossThread ct = { .queue = g_async_queue_new () };
  g_autoptr(GasyncCoroutine) co = gasync_coroutine_spawn ("cross-thread", cross_thread_body, &ct, NULL);
  GThread *thread = g_thread_new ("settler", settler_thread, &ct);
  g_autoptr(GError) error = NULL;

  /* Blocking iterations: only the settler's wake-ups can make progress. */
  while (!gasync_future_is_done (GASYNC_FUTURE (co)))
    g_main_context_iteration (fixture->context, TRUE);

  g_thread_join (thread);
  g_assert_true (gasync_future_propagate_error (GASYNC_FUTURE (co), &error));
  g_assert_no_error (error);
  g_assert_cmpint (ct.woken, ==, N_THREAD_FUTURES);
  g_async_queue_unref (ct.queue);
  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&co));
}

/* Spawned from another thread onto this context. */
static gpointer
spawner_thread (gpointer data)
{
  return gasync_coroutine_spawn_full (data, G_PRIORITY_DEFAULT, 0, "from-thread",
                                      count_body, NULL, NULL);
}

static void
test_spawn_from_thread (Fixture       *fixture,
                        gconstpointer  data)
{
  GThread *thread = g_thread_new ("spawner", spawner_thread, fixture->context);
  g_autoptr(GasyncCoroutine) co = g_thread_join (thread);

  g_assert_true (gasync_future_get_context (GASYNC_FUTURE (co)) == fixture->context);
  while (!gasync_future_is_done (GASYNC_FUTURE (co)))
    g_main_context_iteration (fixture->context, TRUE);
  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&co));
}

/* --- stepped coroutines ---------------------------------------------- */

typedef struct
{
  int step;
  GasyncFuture *pending;
  gboolean saw_cancel;
} Stepper;

static GasyncFuture *
stepper_step (GasyncCoroutine *coroutine,
              GasyncFuture    *awaited,
              gpointer         user_data)
{
  Stepper *s = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_true (gasync_coroutine_get_current () == coroutine);

  switch (s->step++)
    {
    case 0:
      g_assert_null (awaited);
      return gasync_future_new_resolved_int (5);

    case 1:
      /* Cancelled before it started: the first await after the request
       * fails, even though its future was already settled. */
      if (gasync_future_is_cancelled (awaited))
        {
          s->saw_cancel = TRUE;
          gasync_future_reject_literal (GASYNC_FUTURE (coroutine), G_IO_ERROR, G_IO_ERROR_CANCELLED, "stop");
          return NULL;
        }
      g_assert_cmpint (gasync_future_get_int (awaited, &error), ==, 5);
      g_assert_no_error (error);
      s->pending = gasync_future_new ();
      return g_object_ref (s->pending);

    case 2:
      if (gasync_future_is_cancelled (awaited))
        {
          s->saw_cancel = TRUE;
          gasync_future_reject_literal (GASYNC_FUTURE (coroutine), G_IO_ERROR, G_IO_ERROR_CANCELLED, "stop");
          return NULL;
        }
      gasync_future_resolve_int (GASYNC_FUTURE (coroutine), gasync_future_get_int (awaited, NULL) * 2);
      return NULL;

    default:
      g_assert_not_reached ();
    }
}

static void
test_stepped (Fixture       *fixture,
              gconstpointer  data)
{
  Stepper s = { 0 };
  g_autoptr(GasyncCoroutine) co = gasync_coroutine_spawn_stepped (NULL, "stepper", stepper_step, &s, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_false (gasync_coroutine_is_stackful (co));
  drain (fixture->context);
  g_assert_cmpint (s.step, ==, 2);
  gasync_future_resolve_int (s.pending, 21);
  run_until_done (fixture->context, GASYNC_FUTURE (co));
  g_assert_cmpint (gasync_future_get_int (GASYNC_FUTURE (co), &error), ==, 42);
  g_assert_no_error (error);
  g_clear_object (&s.pending);
  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&co));

  /* Cancelled while waiting: the step sees a cancelled future at once. */
  s = (Stepper) { 0 };
  co = gasync_coroutine_spawn_stepped (NULL, "stepper", stepper_step, &s, NULL);
  drain (fixture->context);
  g_assert_true (gasync_future_cancel (GASYNC_FUTURE (co)));
  run_until_done (fixture->context, GASYNC_FUTURE (co));
  g_assert_true (s.saw_cancel);
  g_assert_true (gasync_future_is_cancelled (s.pending));
  g_assert_true (gasync_future_is_cancelled (GASYNC_FUTURE (co)));
  g_clear_object (&s.pending);
  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&co));

  /* Cancelled before its first step: delivered at its first await, even of
   * a settled future, not lost until some future settles. */
  s = (Stepper) { 0 };
  co = gasync_coroutine_spawn_stepped (NULL, "stepper", stepper_step, &s, NULL);
  g_assert_true (gasync_future_cancel (GASYNC_FUTURE (co)));
  run_until_done (fixture->context, GASYNC_FUTURE (co));
  g_assert_true (s.saw_cancel);
  g_assert_cmpint (s.step, ==, 2);
  g_assert_null (s.pending);
  g_assert_true (gasync_future_is_cancelled (GASYNC_FUTURE (co)));
  g_clear_object (&s.pending);
  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&co));
}

/* --- diagnostics -------------------------------------------------------- */

static gboolean
park_body (gpointer   user_data,
           GValue    *result,
           GError   **error)
{
  return gasync_await (g_object_ref (user_data), error);
}

static void
test_describe (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(GasyncFuture) gate = gasync_future_new ();
  g_autoptr(GasyncCoroutine) co = gasync_coroutine_spawn ("parked-reader", park_body, gate, NULL);
  g_autofree char *text = NULL;

  gasync_future_set_name (gate, "the-gate");
  drain (fixture->context);
  text = gasync_coroutine_describe_all ();
  g_test_message ("%s", text);
  g_assert_nonnull (strstr (text, "parked-reader"));
  g_assert_nonnull (strstr (text, "awaiting GasyncFuture the-gate"));

  gasync_future_resolve_void (gate);
  run_until_done (fixture->context, GASYNC_FUTURE (co));
  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&co));
}

/* Under an exe wrapper (the AArch64 cross build runs tests through
 * qemu-aarch64, and says so in MESON_EXE_WRAPPER) the test binary cannot be
 * re-run as a subprocess: qemu-user hangs in fork() of a dynamically linked
 * guest.  Subprocess tests are skipped there. */
static gboolean
skip_if_wrapped (void)
{
  const char *wrapper = g_getenv ("MESON_EXE_WRAPPER");

  if (wrapper == NULL || *wrapper == '\0' || g_test_subprocess ())
    return FALSE;

  g_test_skip ("Subprocesses cannot run under an exe wrapper");
  return TRUE;
}

/* --- a million suspended coroutines ------------------------------------ */

static gsize
resident_bytes (void)
{
  g_autofree char *statm = NULL;
  unsigned long size = 0, resident = 0;

  g_assert_true (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL));
  g_assert_cmpint (sscanf (statm, "%lu %lu", &size, &resident), ==, 2);
  return (gsize) resident * (gsize) sysconf (_SC_PAGESIZE);
}

static int parked;
static int finalized;

static gboolean
parked_body (gpointer   user_data,
             GValue    *result,
             GError   **error)
{
  parked++;
  return gasync_await (g_object_ref (user_data), error);
}

static void
count_finalized (gpointer  data,
                 GObject  *where_the_object_was)
{
  finalized++;
}

static void
test_million_subprocess (Fixture       *fixture,
                         gconstpointer  data)
{
  const int n = GPOINTER_TO_INT (data);
  g_autoptr(GasyncFuture) gate = gasync_future_new ();
  GPtrArray *all = g_ptr_array_new_full (n, NULL);
  gsize before, after;
  gint64 start, spawned, cancelled;
  g_autofree char *maps = NULL;
  guint max_map_count = 0;

  g_file_get_contents ("/proc/sys/vm/max_map_count", &maps, NULL, NULL);
  max_map_count = maps ? (guint) g_ascii_strtoull (maps, NULL, 10) : 0;

  parked = finalized = 0;
  /* The test's own bookkeeping is not the coroutines' cost: touch it now. */
  g_ptr_array_set_size (all, n);
  g_ptr_array_set_size (all, 0);
  drain (fixture->context);
  before = resident_bytes ();
  start = g_get_monotonic_time ();

  for (int i = 0; i < n; i++)
    g_ptr_array_add (all, gasync_coroutine_spawn (NULL, parked_body, gate, NULL));
  while (parked < n)
    g_main_context_iteration (fixture->context, FALSE);
  spawned = g_get_monotonic_time ();

  after = resident_bytes ();
  g_test_message ("%d coroutines suspended at once (vm.max_map_count = %u): "
                  "%.0f resident bytes each, %.0f ns each to spawn and park",
                  n, max_map_count, (double) (after - before) / n,
                  (double) (spawned - start) * 1000.0 / n);
  g_print ("resident-per-coroutine %.0f\n", (double) (after - before) / n);
  /* The target is 4.5 KiB per suspended coroutine, stack included.  The
   * sanitizers' redzones and larger frames are not what users run. */
#if !GASYNC_ASAN && !GASYNC_TSAN
  g_assert_cmpfloat ((double) (after - before) / n, <=, 4.5 * 1024);
#endif

  for (guint i = 0; i < all->len; i++)
    g_object_weak_ref (g_ptr_array_index (all, i), count_finalized, NULL);

  for (guint i = 0; i < all->len; i++)
    gasync_future_cancel (g_ptr_array_index (all, i));
  for (guint i = 0; i < all->len; i++)
    {
      GasyncFuture *co = g_ptr_array_index (all, i);

      while (!gasync_future_is_done (co))
        g_main_context_iteration (fixture->context, FALSE);
      g_assert_true (gasync_future_is_cancelled (co));
    }
  cancelled = g_get_monotonic_time ();
  g_test_message ("cancelled all in %.2f s", (cancelled - spawned) / 1e6);

  /* The gate lost every waiter: none fire when it settles later. */
  gasync_future_resolve_void (gate);
  drain (fixture->context);

  g_ptr_array_set_free_func (all, g_object_unref);
  g_ptr_array_unref (all);
  drain (fixture->context);
  g_assert_cmpint (finalized, ==, n);
  {
    g_autoptr(GPtrArray) live = gasync_coroutine_list ();
    g_assert_cmpuint (live->len, ==, 0);
  }
}

/* Measured in a fresh process: memory freed by earlier tests would be
 * reused and hide the real cost. */
static void
test_million (Fixture       *fixture,
              gconstpointer  data)
{
  g_autofree char *path = g_strdup_printf ("/Gasync/Coroutine/suspended-%d/subprocess",
                                           GPOINTER_TO_INT (data));

  /* Valgrind does not follow the subprocess, which runs natively. */
  if (skip_if_wrapped () || (GASYNC_TSAN && skip_if_too_heavy (GPOINTER_TO_INT (data))))
    return;

  g_test_trap_subprocess (path, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*resident-per-coroutine*");
}

/* --- stack overflow ---------------------------------------------------- */

G_GNUC_NO_INLINE static int
recurse (volatile char *prev,
         int            depth)
{
  volatile char frame[1024];

  frame[0] = (char) depth;
  frame[1023] = prev ? prev[0] : 0;
  /* The bound is far beyond any stack; it only keeps the compiler from
   * treating the recursion as infinite. */
  if (depth > 1000000000)
    return 0;
  return recurse (frame, depth + 1) + frame[0];
}

static gboolean
overflow_body (gpointer   user_data,
               GValue    *result,
               GError   **error)
{
  recurse (NULL, 0);
  return TRUE;
}

static void
stack_overflow_child (gboolean from_environment)
{
  GMainContext *context = g_main_context_new ();
  GasyncCoroutine *co;

  g_main_context_push_thread_default (context);
  if (from_environment)
    g_setenv ("GASYNC_DEBUG", "overflow", TRUE);
  else
    gasync_coroutine_install_overflow_handler ();
  co = gasync_coroutine_spawn ("runaway-recursion", overflow_body, NULL, NULL);
  run_until_done (context, GASYNC_FUTURE (co));
}

static void
test_stack_overflow (gconstpointer data)
{
  gboolean from_environment = GPOINTER_TO_INT (data);

  if (skip_if_wrapped ())
    return;

  if (g_test_subprocess ())
    {
      stack_overflow_child (from_environment);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*stack overflow in coroutine 'runaway-recursion'*");
}

static gboolean
recycled_body (gpointer   user_data,
               GValue    *result,
               GError   **error)
{
  guint *runs = user_data;

  g_assert_false (gasync_future_is_done (GASYNC_FUTURE (gasync_coroutine_get_current ())));
  (*runs)++;
  if (!gasync_yield (error))
    return FALSE;
  g_value_init (result, G_TYPE_INT);
  g_value_set_int (result, (int) *runs);
  return TRUE;
}

static void
count_destroy (gpointer data)
{
  (*(guint *) data) += 100;
}

static gboolean
await_spawned_body (gpointer   user_data,
                    GValue    *result,
                    GError   **error)
{
  guint *runs = user_data;
  GasyncCoroutine *first, *second;
  int value;

  /* Whether or not the next spawn reuses the first coroutine (its delivery
   * may still hold it while this body runs), it starts afresh. */
  first = gasync_coroutine_spawn ("inner-1", recycled_body, runs, NULL);
  value = gasync_await_int (GASYNC_FUTURE (first), error);
  if (value == 0)
    return FALSE;
  second = gasync_coroutine_spawn ("inner-2", recycled_body, runs, NULL);
  g_assert_cmpstr (gasync_future_get_name (GASYNC_FUTURE (second)), ==, "inner-2");
  g_assert_cmpint (gasync_future_get_state (GASYNC_FUTURE (second)), ==,
                   GASYNC_FUTURE_STATE_PENDING);
  value = gasync_await_int (GASYNC_FUTURE (second), error);
  if (value == 0)
    return FALSE;

  g_value_init (result, G_TYPE_INT);
  g_value_set_int (result, value);
  return TRUE;
}

/* A finished coroutine whose last reference gasync drops is reused by the
 * next spawn, with nothing of its earlier run left: name, state, data,
 * stack, place among the live coroutines. */
static void
test_recycle (Fixture       *fixture,
              gconstpointer  data)
{
  GasyncCoroutine *co, *again;
  guint runs = 0;

  /* Fire and forget: the coroutine's own reference is the last. */
  co = gasync_coroutine_spawn ("first", recycled_body, &runs, count_destroy);
  g_object_unref (co);
  drain (fixture->context);
  g_assert_cmpuint (runs, ==, 101);  /* ran once; its data released once */

  again = gasync_coroutine_spawn ("second", recycled_body, &runs, NULL);
  g_assert_true (again == co);
  g_assert_cmpstr (gasync_future_get_name (GASYNC_FUTURE (again)), ==, "second");
  g_assert_cmpint (gasync_future_get_state (GASYNC_FUTURE (again)), ==,
                   GASYNC_FUTURE_STATE_PENDING);
  {
    g_autoptr(GPtrArray) live = gasync_coroutine_list ();
    g_assert_cmpuint (live->len, ==, 1);
    g_assert_true (g_ptr_array_index (live, 0) == again);
  }
  run_until_done (fixture->context, GASYNC_FUTURE (again));
  g_assert_cmpint (gasync_future_get_int (GASYNC_FUTURE (again), NULL), ==, 102);
  g_assert_cmpuint (runs, ==, 102);
  g_object_unref (again);
  drain (fixture->context);

  co = gasync_coroutine_spawn ("outer", await_spawned_body, &runs, NULL);
  run_until_done (fixture->context, GASYNC_FUTURE (co));
  g_assert_cmpint (gasync_future_get_int (GASYNC_FUTURE (co), NULL), ==, 104);
  drain (fixture->context);
  g_assert_finalize_object (co);
  {
    g_autoptr(GPtrArray) live = gasync_coroutine_list ();
    g_assert_cmpuint (live->len, ==, 0);
  }
}

static gboolean
stubborn_body (gpointer   user_data,
               GValue    *result,
               GError   **error)
{
  GasyncFuture *gate = user_data;
  GError *local_error = NULL;

  /* Cancelled at this await, the body fails with an error of its own
   * rather than G_IO_ERROR_CANCELLED: the coroutine ends REJECTED after
   * its consumer gave up on it. */
  if (gasync_await (g_object_ref (gate), &local_error))
    return TRUE;
  g_clear_error (&local_error);
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cleanup failed");
  return FALSE;
}

static gboolean
abandoning_body (gpointer   user_data,
                 GValue    *result,
                 GError   **error)
{
  GasyncCoroutine **inner = user_data;

  return gasync_await (GASYNC_FUTURE (g_object_ref (*inner)), error);
}

/* A future its consumer abandoned (the awaiting coroutine was cancelled)
 * that ends rejected afterwards was not neglected: no "never retrieved"
 * warning when it is finalized.  (Warnings are fatal in tests.) */
static void
test_abandoned_rejection (Fixture       *fixture,
                          gconstpointer  data)
{
  GasyncFuture *gate = gasync_future_new ();
  GasyncCoroutine *inner, *outer;

  inner = gasync_coroutine_spawn ("stubborn", stubborn_body, gate, NULL);
  outer = gasync_coroutine_spawn ("abandoning", abandoning_body, &inner, NULL);
  drain (fixture->context);
  g_assert_true (gasync_future_cancel (GASYNC_FUTURE (outer)));
  run_until_done (fixture->context, GASYNC_FUTURE (outer));
  run_until_done (fixture->context, GASYNC_FUTURE (inner));

  g_assert_true (gasync_future_is_cancelled (GASYNC_FUTURE (outer)));
  g_assert_cmpint (gasync_future_get_state (GASYNC_FUTURE (inner)), ==,
                   GASYNC_FUTURE_STATE_REJECTED);
  drain (fixture->context);
  g_assert_finalize_object (outer);
  g_assert_finalize_object (inner);
  g_assert_finalize_object (gate);
}

#define N_GATED 1000

typedef struct
{
  GasyncFuture *gate;
  int           ran;
} Gated;

static gboolean
gated_body (gpointer   user_data,
            GValue    *result,
            GError   **error)
{
  Gated *gated = user_data;

  if (!gasync_await (g_object_ref (gated->gate), error))
    return FALSE;
  gated->ran++;
  return TRUE;
}

/* The delivery of a future a thousand coroutines await wakes the first
 * inline and queues the others, so the steps a dispatch runs stay within
 * its budget: a burst of wake-ups cannot hold the main loop. */
static void
test_inline_wake_budget (Fixture       *fixture,
                         gconstpointer  data)
{
  Gated gated = { gasync_future_new (), 0 };
  GPtrArray *coroutines = g_ptr_array_new_with_free_func (g_object_unref);
  int iterations = 0, max_per_iteration = 0;

  for (int i = 0; i < N_GATED; i++)
    g_ptr_array_add (coroutines, gasync_coroutine_spawn ("gated", gated_body, &gated, NULL));
  drain (fixture->context);
  g_assert_cmpint (gated.ran, ==, 0);

  gasync_future_resolve_void (gated.gate);
  while (gated.ran < N_GATED && iterations < 10 * N_GATED)
    {
      int before = gated.ran;

      g_main_context_iteration (fixture->context, FALSE);
      iterations++;
      max_per_iteration = MAX (max_per_iteration, gated.ran - before);
    }

  g_assert_cmpint (gated.ran, ==, N_GATED);
  /* 64 items per dispatch; the delivery, one of them, ran one step. */
  g_assert_cmpint (max_per_iteration, <=, 64);
  g_assert_cmpint (iterations, >=, N_GATED / 64);

  drain (fixture->context);
  g_ptr_array_unref (coroutines);
  g_assert_finalize_object (gated.gate);
}

static gboolean
burst_body (gpointer   user_data,
            GValue    *result,
            GError   **error)
{
  (*(guint *) user_data)++;
  return TRUE;
}

#define N_BURST 3000

/* A burst of coroutines bigger than the pool's resting size (128) is kept
 * whole when it ends in a dispatch, so that the next burst makes no new
 * GObjects; once the pool has gone unused for 2 s, the context finalizes
 * the surplus a chunk (1024) per iteration until 128 are left. */
static void
test_recycle_burst (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(GHashTable) first = g_hash_table_new (NULL, NULL);
  gint64 deadline;
  guint runs = 0;
  guint size, max_drop = 0, trim_iterations = 0;

  for (int i = 0; i < N_BURST; i++)
    {
      GasyncCoroutine *co = gasync_coroutine_spawn ("burst", burst_body, &runs, NULL);

      g_hash_table_add (first, co);
      g_object_unref (co);
    }
  drain (fixture->context);
  g_assert_cmpuint (runs, ==, N_BURST);
  /* All finished and pooled (the pool may have held some before). */
  g_assert_cmpuint (gasync_future_pool_get_size (TRUE), >=, N_BURST);

  /* Pooled objects are never freed, so an address from the first burst
   * is that object, handed out again. */
  for (int i = 0; i < N_BURST; i++)
    {
      GasyncCoroutine *co = gasync_coroutine_spawn ("again", burst_body, &runs, NULL);

      g_assert_true (g_hash_table_contains (first, co));
      g_assert_cmpstr (gasync_future_get_name (GASYNC_FUTURE (co)), ==, "again");
      g_object_unref (co);
    }
  drain (fixture->context);
  g_assert_cmpuint (runs, ==, 2 * N_BURST);
  g_assert_cmpuint (gasync_future_pool_get_size (TRUE), >=, N_BURST);

  /* Left alone, the surplus goes, in chunks. */
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  size = gasync_future_pool_get_size (TRUE);
  while (size > 128 && g_get_monotonic_time () < deadline)
    {
      guint now;

      g_main_context_iteration (fixture->context, TRUE);
      now = gasync_future_pool_get_size (TRUE);
      if (now < size)
        trim_iterations++;
      max_drop = MAX (max_drop, size - now);
      size = now;
    }
  g_assert_cmpuint (size, ==, 128);
  g_assert_cmpuint (max_drop, <=, 1024);
  g_assert_cmpuint (trim_iterations, >=, (N_BURST - 128 + 1023) / 1024);
}

static void
count_done_cb (GasyncFuture *future,
               gpointer      data)
{
  (*(guint *) data)++;
}

static void
count_notify_cb (GObject    *object,
                 GParamSpec *pspec,
                 gpointer    data)
{
  (*(guint *) data)++;
}

/* A coroutine whose every outside reference is gone ends without a trip
 * through the queue only when nothing could see its delivery: a handler
 * or a done callback left on it still hears of its end, once. */
static void
test_fire_and_forget_watched (Fixture       *fixture,
                              gconstpointer  data)
{
  guint runs = 0, done = 0, notified = 0, called = 0;
  GasyncCoroutine *co;

  co = gasync_coroutine_spawn ("signal", burst_body, &runs, NULL);
  g_signal_connect (co, "done", G_CALLBACK (count_done_cb), &done);
  g_signal_connect (co, "notify::state", G_CALLBACK (count_notify_cb), &notified);
  g_object_unref (co);

  co = gasync_coroutine_spawn ("callback", burst_body, &runs, NULL);
  gasync_future_add_done_callback (GASYNC_FUTURE (co), count_done_cb, &called, NULL);
  g_object_unref (co);

  /* A blocked handler hears nothing, and does not outlive the coroutine:
   * if it survived into a recycled life, the next coroutine's end would
   * reach it once unblocked. */
  co = gasync_coroutine_spawn ("blocked", burst_body, &runs, NULL);
  g_signal_handler_block (co, g_signal_connect (co, "done", G_CALLBACK (count_done_cb), &done));
  g_object_unref (co);

  drain (fixture->context);
  g_assert_cmpuint (runs, ==, 3);
  g_assert_cmpuint (done, ==, 1);
  g_assert_cmpuint (notified, ==, 1);
  g_assert_cmpuint (called, ==, 1);

  for (int i = 0; i < 200; i++)
    {
      co = gasync_coroutine_spawn ("plain", burst_body, &runs, NULL);
      g_assert_false (g_signal_handler_find (co, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL, &done));
      g_object_unref (co);
    }
  drain (fixture->context);
  g_assert_cmpuint (runs, ==, 203);
  g_assert_cmpuint (done, ==, 1);
}

/* A thread that dispatches no scheduler keeps no more than the resting
 * size: nothing would trim it. */
static gpointer
release_on_worker (gpointer data)
{
  GPtrArray *futures = data;

  for (guint i = 0; i < futures->len; i++)
    gasync_future_release (g_ptr_array_index (futures, i));
  return GUINT_TO_POINTER (gasync_future_pool_get_size (FALSE));
}

static void
test_recycle_worker (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(GPtrArray) futures = g_ptr_array_new ();
  guint kept;

  for (int i = 0; i < 1000; i++)
    g_ptr_array_add (futures, gasync_future_new ());
  kept = GPOINTER_TO_UINT (g_thread_join (g_thread_new ("release", release_on_worker, futures)));
  g_assert_cmpuint (kept, ==, 128);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func, data) \
  g_test_add (path, Fixture, data, fixture_setup, func, fixture_teardown)

  ADD ("/Gasync/Coroutine/await-basic", test_await_basic, NULL);
  ADD ("/Gasync/Coroutine/recycle", test_recycle, NULL);
  ADD ("/Gasync/Coroutine/recycle-burst", test_recycle_burst, NULL);
  ADD ("/Gasync/Coroutine/recycle-worker", test_recycle_worker, NULL);
  ADD ("/Gasync/Coroutine/fire-and-forget-watched", test_fire_and_forget_watched, NULL);
  ADD ("/Gasync/Coroutine/abandoned-rejection", test_abandoned_rejection, NULL);
  ADD ("/Gasync/Coroutine/inline-wake-budget", test_inline_wake_budget, NULL);
  ADD ("/Gasync/Coroutine/outcomes", test_outcomes, NULL);
  ADD ("/Gasync/Coroutine/await-outside", test_await_outside, NULL);
  ADD ("/Gasync/Coroutine/wait-inside", test_wait_inside, NULL);
  ADD ("/Gasync/Coroutine/chain-10", test_chain, GINT_TO_POINTER (10));
  ADD ("/Gasync/Coroutine/chain-10000", test_chain, GINT_TO_POINTER (10000));
  ADD ("/Gasync/Coroutine/many", test_many, NULL);
  ADD ("/Gasync/Coroutine/ping-pong", test_ping_pong, NULL);
  ADD ("/Gasync/Coroutine/yield-fairness", test_yield_fairness, NULL);
  ADD ("/Gasync/Coroutine/cancel-chain", test_cancel_chain, NULL);
  ADD ("/Gasync/Coroutine/cancel-while-running", test_cancel_while_running, NULL);
  ADD ("/Gasync/Coroutine/cancel-before-start", test_cancel_before_start, NULL);
  ADD ("/Gasync/Coroutine/cross-thread", test_cross_thread, NULL);
  ADD ("/Gasync/Coroutine/spawn-from-thread", test_spawn_from_thread, NULL);
  ADD ("/Gasync/Coroutine/stepped", test_stepped, NULL);
  ADD ("/Gasync/Coroutine/describe", test_describe, NULL);
  ADD ("/Gasync/Coroutine/suspended-100000", test_million, GINT_TO_POINTER (100000));
  ADD ("/Gasync/Coroutine/suspended-100000/subprocess", test_million_subprocess, GINT_TO_POINTER (100000));
  /* Subprocess paths only run when asked for by the parent test. */
  ADD ("/Gasync/Coroutine/suspended-1000000/subprocess", test_million_subprocess,
       GINT_TO_POINTER (1000000));
  if (g_test_slow ())
    ADD ("/Gasync/Coroutine/suspended-1000000", test_million, GINT_TO_POINTER (1000000));
  g_test_add_data_func ("/Gasync/Coroutine/stack-overflow", GINT_TO_POINTER (FALSE), test_stack_overflow);
  g_test_add_data_func ("/Gasync/Coroutine/stack-overflow-env", GINT_TO_POINTER (TRUE), test_stack_overflow);

  return g_test_run ();
}
