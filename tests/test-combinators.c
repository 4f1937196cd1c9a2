/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gasync/gasync.h>

#include "gasync-test-util.h"

static GasyncFuture *
pending (void)
{
  return gasync_future_new ();
}

static int
int_at (GPtrArray *array,
        guint      index)
{
  g_autoptr(GError) error = NULL;
  int value = gasync_future_get_int (g_ptr_array_index (array, index), &error);

  g_assert_no_error (error);
  return value;
}

/* --- all --------------------------------------------------------------- */

static void
test_all_order (Fixture       *fixture,
                gconstpointer  data)
{
  GasyncFuture *a = pending (), *b = pending (), *c = pending ();
  g_autoptr(GasyncFuture) all = gasync_all (g_object_ref (a), g_object_ref (b), g_object_ref (c), NULL);
  g_autoptr(GPtrArray) results = NULL;
  g_autoptr(GError) error = NULL;

  /* Settled out of order: results keep the order given. */
  gasync_future_resolve_int (c, 3);
  gasync_future_resolve_int (a, 1);
  drain (fixture->context);
  g_assert_false (gasync_future_is_done (all));
  g_assert_cmpfloat_with_epsilon (gasync_future_get_progress (all), 2.0 / 3.0, 1e-9);
  gasync_future_resolve_int (b, 2);
  run_until_done (fixture->context, all);

  results = gasync_future_dup_boxed (all, G_TYPE_PTR_ARRAY, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (results->len, ==, 3);
  g_assert_cmpint (int_at (results, 0), ==, 1);
  g_assert_cmpint (int_at (results, 1), ==, 2);
  g_assert_cmpint (int_at (results, 2), ==, 3);
  g_assert_cmpfloat (gasync_future_get_progress (all), ==, 1.0);
  /* Shared, not copied: a gather of n futures adds no n references. */
  g_assert_true (results == gasync_combinator_get_children (GASYNC_COMBINATOR (all)));

  g_clear_pointer (&results, g_ptr_array_unref);
  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&all));
  g_assert_finalize_object (a);
  g_assert_finalize_object (b);
  g_assert_finalize_object (c);
}

static void
test_all_first_failure (Fixture       *fixture,
                        gconstpointer  data)
{
  GasyncFuture *a = pending (), *b = pending (), *c = pending ();
  GasyncFuture *children[] = { a, b, c };
  g_autoptr(GasyncFuture) all = gasync_allv (children, 3);
  g_autoptr(GError) error = NULL;

  gasync_future_resolve_int (a, 1);
  gasync_future_reject_literal (b, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "missing");
  run_until_done (fixture->context, all);

  g_assert_cmpint (gasync_future_get_state (all), ==, GASYNC_FUTURE_STATE_REJECTED);
  g_assert_false (gasync_future_propagate_error (all, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  /* The child that no longer matters was cancelled. */
  g_assert_true (gasync_future_is_cancelled (c));
  g_assert_true (gasync_future_is_done (a));

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&all));
  g_assert_finalize_object (a);
  /* Read through the combinator: no "never retrieved" warning. */
  g_assert_finalize_object (b);
  g_assert_finalize_object (c);
}

static void
test_all_cancel (Fixture       *fixture,
                 gconstpointer  data)
{
  GasyncFuture *a = pending (), *b = pending ();
  g_autoptr(GasyncFuture) all = gasync_all (g_object_ref (a), g_object_ref (b), NULL);

  gasync_future_resolve_int (a, 1);
  drain (fixture->context);
  g_assert_true (gasync_future_cancel (all));
  g_assert_true (gasync_future_is_cancelled (all));
  g_assert_true (gasync_future_is_cancelled (b));
  g_assert_cmpint (gasync_future_get_state (a), ==, GASYNC_FUTURE_STATE_RESOLVED);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&all));
  g_assert_finalize_object (a);
  g_assert_finalize_object (b);
}

static void
test_empty (Fixture       *fixture,
            gconstpointer  data)
{
  g_autoptr(GasyncFuture) all = gasync_all (NULL, NULL);
  g_autoptr(GasyncFuture) settled = gasync_all_settledv (NULL, 0);
  g_autoptr(GasyncFuture) any = gasync_any (NULL, NULL);
  g_autoptr(GasyncFuture) race = gasync_race (NULL, NULL);
  g_autoptr(GasyncFuture) wait = gasync_wait (GASYNC_WAIT_ALL_COMPLETED, NULL, NULL);
  g_autoptr(GPtrArray) results = NULL;
  g_autoptr(GError) error = NULL;

  results = gasync_future_dup_boxed (all, G_TYPE_PTR_ARRAY, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (results->len, ==, 0);
  g_assert_true (results == gasync_combinator_get_children (GASYNC_COMBINATOR (all)));
  g_clear_pointer (&results, g_ptr_array_unref);
  results = gasync_future_dup_boxed (settled, G_TYPE_PTR_ARRAY, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (results->len, ==, 0);
  g_clear_pointer (&results, g_ptr_array_unref);
  results = gasync_future_dup_boxed (wait, G_TYPE_PTR_ARRAY, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (results->len, ==, 0);

  g_assert_false (gasync_future_propagate_error (any, &error));
  g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_false (gasync_future_propagate_error (race, &error));
  g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_FAILED);
}

/* --- all_settled, any, race --------------------------------------------- */

static void
test_all_settled (Fixture       *fixture,
                  gconstpointer  data)
{
  GasyncFuture *a = pending (), *b = pending (), *c = pending ();
  g_autoptr(GasyncFuture) settled = gasync_all_settled (g_object_ref (a), g_object_ref (b), g_object_ref (c), NULL);
  g_autoptr(GPtrArray) results = NULL;
  g_autoptr(GError) error = NULL;

  gasync_future_reject_literal (a, G_IO_ERROR, G_IO_ERROR_FAILED, "a failed");
  gasync_future_cancel (b);
  drain (fixture->context);
  g_assert_false (gasync_future_is_done (settled));
  gasync_future_resolve_int (c, 3);
  run_until_done (fixture->context, settled);

  results = gasync_future_dup_boxed (settled, G_TYPE_PTR_ARRAY, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (results->len, ==, 3);
  g_assert_true (g_ptr_array_index (results, 0) == a);
  g_assert_cmpint (gasync_future_get_state (a), ==, GASYNC_FUTURE_STATE_REJECTED);
  g_assert_true (gasync_future_is_cancelled (b));
  g_assert_cmpint (int_at (results, 2), ==, 3);
  g_assert_true (results == gasync_combinator_get_children (GASYNC_COMBINATOR (settled)));

  g_clear_pointer (&results, g_ptr_array_unref);
  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&settled));
  g_assert_finalize_object (a);
  g_assert_finalize_object (b);
  g_assert_finalize_object (c);
}

static void
test_any (Fixture       *fixture,
          gconstpointer  data)
{
  GasyncFuture *a = pending (), *b = pending (), *c = pending ();
  g_autoptr(GasyncFuture) any = gasync_any (g_object_ref (a), g_object_ref (b), g_object_ref (c), NULL);
  g_autoptr(GError) error = NULL;

  gasync_future_reject_literal (a, G_IO_ERROR, G_IO_ERROR_FAILED, "a failed");
  drain (fixture->context);
  g_assert_false (gasync_future_is_done (any));
  gasync_future_resolve_int (b, 22);
  run_until_done (fixture->context, any);
  g_assert_cmpint (gasync_future_get_int (any, &error), ==, 22);
  g_assert_no_error (error);
  g_assert_true (gasync_future_is_cancelled (c));

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&any));
  g_assert_finalize_object (a);
  g_assert_finalize_object (b);
  g_assert_finalize_object (c);
}

static void
test_any_all_failed (Fixture       *fixture,
                     gconstpointer  data)
{
  GasyncFuture *a = pending (), *b = pending ();
  g_autoptr(GasyncFuture) any = gasync_any (g_object_ref (a), g_object_ref (b), NULL);
  g_autoptr(GPtrArray) children = NULL;
  g_autoptr(GError) error = NULL;

  gasync_future_reject_literal (a, G_IO_ERROR, G_IO_ERROR_FAILED, "first reason");
  gasync_future_reject_literal (b, G_IO_ERROR, G_IO_ERROR_FAILED, "second reason");
  run_until_done (fixture->context, any);
  g_assert_false (gasync_future_propagate_error (any, &error));
  g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "first reason"));
  g_assert_nonnull (strstr (error->message, "second reason"));

  /* Every error stays reachable through the children. */
  children = g_ptr_array_ref (gasync_combinator_get_children (GASYNC_COMBINATOR (any)));
  g_assert_cmpuint (children->len, ==, 2);
  g_assert_true (g_ptr_array_index (children, 1) == b);

  g_clear_pointer (&children, g_ptr_array_unref);
  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&any));
  g_assert_finalize_object (a);
  g_assert_finalize_object (b);
}

static void
test_race (Fixture       *fixture,
           gconstpointer  data)
{
  GasyncFuture *a = pending (), *b = pending ();
  g_autoptr(GasyncFuture) race = gasync_race (g_object_ref (a), g_object_ref (b), NULL);
  g_autoptr(GasyncFuture) race2 = NULL;
  g_autoptr(GError) error = NULL;

  gasync_future_reject_literal (b, G_IO_ERROR, G_IO_ERROR_BUSY, "busy");
  run_until_done (fixture->context, race);
  g_assert_false (gasync_future_propagate_error (race, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BUSY);
  g_assert_true (gasync_future_is_cancelled (a));
  g_clear_error (&error);

  race2 = gasync_race (gasync_future_new (), gasync_future_new_resolved_string ("won"), NULL);
  run_until_done (fixture->context, race2);
  {
    g_autofree char *won = gasync_future_dup_string (race2, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (won, ==, "won");
  }

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&race));
  g_assert_finalize_object (g_steal_pointer (&race2));
  g_assert_finalize_object (a);
  g_assert_finalize_object (b);
}

/* --- wait ---------------------------------------------------------------- */

static void
test_wait_modes (Fixture       *fixture,
                 gconstpointer  data)
{
  for (GasyncWaitMode mode = GASYNC_WAIT_FIRST_COMPLETED; mode <= GASYNC_WAIT_ALL_COMPLETED; mode++)
    {
      GasyncFuture *a = pending (), *b = pending (), *c = pending ();
      g_autoptr(GasyncFuture) wait = gasync_wait (mode, g_object_ref (a), g_object_ref (b), g_object_ref (c), NULL);
      g_autoptr(GPtrArray) done = NULL;
      g_autoptr(GPtrArray) still = NULL;

      gasync_future_resolve_int (b, 2);
      drain (fixture->context);
      g_assert_cmpint (gasync_future_is_done (wait), ==, mode == GASYNC_WAIT_FIRST_COMPLETED);

      gasync_future_reject_literal (c, G_IO_ERROR, G_IO_ERROR_FAILED, "c failed");
      drain (fixture->context);
      g_assert_cmpint (gasync_future_is_done (wait), ==, mode != GASYNC_WAIT_ALL_COMPLETED);

      gasync_future_resolve_int (a, 1);
      run_until_done (fixture->context, wait);

      /* The done set is in completion order; nothing was cancelled. */
      done = gasync_future_dup_boxed (wait, G_TYPE_PTR_ARRAY, NULL);
      g_assert_true (g_ptr_array_index (done, 0) == b);
      g_assert_cmpuint (done->len, ==, mode == GASYNC_WAIT_FIRST_COMPLETED ? 1 :
                                       mode == GASYNC_WAIT_FIRST_EXCEPTION ? 2 : 3);
      if (mode == GASYNC_WAIT_ALL_COMPLETED)
        {
          g_assert_true (g_ptr_array_index (done, 1) == c);
          g_assert_true (g_ptr_array_index (done, 2) == a);
        }
      still = gasync_combinator_dup_pending (GASYNC_COMBINATOR (wait));
      g_assert_cmpuint (still->len, ==, 0);
      g_assert_cmpint (gasync_future_get_state (a), ==, GASYNC_FUTURE_STATE_RESOLVED);

      g_clear_pointer (&done, g_ptr_array_unref);
      g_clear_pointer (&still, g_ptr_array_unref);
      drain (fixture->context);
      g_assert_finalize_object (g_steal_pointer (&wait));
      g_assert_finalize_object (a);
      g_assert_finalize_object (b);
      g_assert_finalize_object (c);
    }
}

/* --- with_timeout and shield --------------------------------------------- */

static void
test_with_timeout (Fixture       *fixture,
                   gconstpointer  data)
{
  GasyncFuture *slow = pending ();
  g_autoptr(GasyncFuture) timed = gasync_with_timeout (g_object_ref (slow), 20);
  g_autoptr(GasyncFuture) fast = gasync_with_timeout (gasync_future_new_resolved_int (5), 60000);
  g_autoptr(GError) error = NULL;

  run_until_done (fixture->context, timed);
  g_assert_false (gasync_future_propagate_error (timed, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_true (gasync_future_is_cancelled (slow));
  g_clear_error (&error);

  run_until_done (fixture->context, fast);
  g_assert_cmpint (gasync_future_get_int (fast, &error), ==, 5);
  g_assert_no_error (error);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&timed));
  /* Its timer was destroyed with it: nothing holds it any more. */
  g_assert_finalize_object (g_steal_pointer (&fast));
  g_assert_finalize_object (slow);
}

static void
test_shield (Fixture       *fixture,
             gconstpointer  data)
{
  GasyncFuture *inner = pending ();
  g_autoptr(GasyncFuture) shield = gasync_shield (g_object_ref (inner));
  g_autoptr(GasyncFuture) shield2 = gasync_shield (g_object_ref (inner));
  g_autoptr(GError) error = NULL;

  g_assert_true (gasync_future_cancel (shield));
  g_assert_true (gasync_future_is_cancelled (shield));
  g_assert_false (gasync_future_is_done (inner));

  gasync_future_resolve_int (inner, 9);
  run_until_done (fixture->context, shield2);
  g_assert_cmpint (gasync_future_get_int (shield2, &error), ==, 9);
  g_assert_no_error (error);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&shield));
  g_assert_finalize_object (g_steal_pointer (&shield2));
  g_assert_finalize_object (inner);
}

/* --- then / catch / finally ---------------------------------------------- */

static GasyncFuture *
double_it (GasyncFuture *future,
           gpointer      user_data)
{
  int *calls = user_data;

  (*calls)++;
  return gasync_future_new_resolved_int (2 * gasync_future_get_int (future, NULL));
}

static GasyncFuture *
recover (GasyncFuture *future,
         gpointer      user_data)
{
  int *calls = user_data;

  (*calls)++;
  gasync_future_propagate_error (future, NULL);
  return gasync_future_new_resolved_int (-1);
}

static GasyncFuture *
note_finally (GasyncFuture *future,
              gpointer      user_data)
{
  int *calls = user_data;

  (*calls)++;
  return NULL;
}

static void
test_then_catch_finally (Fixture       *fixture,
                         gconstpointer  data)
{
  int calls = 0;
  g_autoptr(GasyncFuture) chained = NULL;
  g_autoptr(GasyncFuture) skipped = NULL;
  g_autoptr(GasyncFuture) recovered = NULL;
  g_autoptr(GasyncFuture) finished = NULL;
  g_autoptr(GError) error = NULL;

  chained = gasync_then (gasync_then (gasync_future_new_resolved_int (5), double_it, &calls, NULL),
                         double_it, &calls, NULL);
  run_until_done (fixture->context, chained);
  g_assert_cmpint (gasync_future_get_int (chained, &error), ==, 20);
  g_assert_no_error (error);
  g_assert_cmpint (calls, ==, 2);

  /* then() skips its function on failure; catch() recovers. */
  calls = 0;
  skipped = gasync_then (gasync_future_new_for_error (g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "x")),
                         double_it, &calls, NULL);
  recovered = gasync_catch (g_object_ref (skipped), recover, &calls, NULL);
  run_until_done (fixture->context, recovered);
  g_assert_cmpint (calls, ==, 1);
  g_assert_cmpint (gasync_future_get_int (recovered, &error), ==, -1);
  g_assert_no_error (error);

  /* finally() runs always and passes the outcome through. */
  calls = 0;
  finished = gasync_finally (gasync_future_new_resolved_string ("kept"), note_finally, &calls, NULL);
  run_until_done (fixture->context, finished);
  g_assert_cmpint (calls, ==, 1);
  {
    g_autofree char *kept = gasync_future_dup_string (finished, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (kept, ==, "kept");
  }

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&chained));
  g_assert_finalize_object (g_steal_pointer (&recovered));
  g_assert_finalize_object (g_steal_pointer (&skipped));
  g_assert_finalize_object (g_steal_pointer (&finished));
}

static void
test_then_cancel (Fixture       *fixture,
                  gconstpointer  data)
{
  int calls = 0;
  GasyncFuture *source = pending ();
  g_autoptr(GasyncFuture) chained = gasync_then (g_object_ref (source), double_it, &calls, NULL);

  g_assert_true (gasync_future_cancel (chained));
  g_assert_true (gasync_future_is_cancelled (source));
  drain (fixture->context);
  g_assert_cmpint (calls, ==, 0);
  g_assert_finalize_object (g_steal_pointer (&chained));
  g_assert_finalize_object (source);
}

/* --- from coroutines, and size ------------------------------------------- */

static gboolean
gather_body (gpointer   user_data,
             GValue    *result,
             GError   **error)
{
  g_autoptr(GPtrArray) results = NULL;
  int sum = 0;

  results = gasync_await_boxed (gasync_all (gasync_future_new_resolved_int (1),
                                            gasync_future_new_resolved_int (2),
                                            gasync_with_timeout (gasync_future_new_resolved_int (3), 1000),
                                            NULL),
                                G_TYPE_PTR_ARRAY, error);
  if (results == NULL)
    return FALSE;
  for (guint i = 0; i < results->len; i++)
    sum += gasync_future_get_int (g_ptr_array_index (results, i), NULL);

  g_value_init (result, G_TYPE_INT);
  g_value_set_int (result, sum);
  return TRUE;
}

static void
test_in_coroutine (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GasyncCoroutine) co = gasync_coroutine_spawn ("gather", gather_body, NULL, NULL);

  run_until_done (fixture->context, GASYNC_FUTURE (co));
  g_assert_cmpint (gasync_future_get_int (GASYNC_FUTURE (co), NULL), ==, 6);
  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&co));
}

static void
test_large (Fixture       *fixture,
            gconstpointer  data)
{
  const guint n = GPOINTER_TO_UINT (data);
  GasyncFuture **children = g_new (GasyncFuture *, n);
  g_autoptr(GasyncFuture) all = NULL;
  g_autoptr(GasyncFuture) race = NULL;
  g_autoptr(GPtrArray) results = NULL;
  gint64 start = g_get_monotonic_time ();

  for (guint i = 0; i < n; i++)
    children[i] = gasync_future_new ();
  all = gasync_allv (children, n);
  race = gasync_racev (children, n);

  /* Resolved one by one, each delivered through the scheduler. */
  for (guint i = 0; i < n; i++)
    gasync_future_resolve_int (children[i], (int) i);
  run_until_done (fixture->context, all);
  drain (fixture->context);

  results = gasync_future_dup_boxed (all, G_TYPE_PTR_ARRAY, NULL);
  g_assert_cmpuint (results->len, ==, n);
  g_assert_cmpint (int_at (results, n - 1), ==, (int) n - 1);
  g_assert_cmpint (gasync_future_get_int (race, NULL), ==, 0);
  g_test_message ("all + race over %u children: %.1f ms", n,
                  (g_get_monotonic_time () - start) / 1000.0);

  g_clear_pointer (&results, g_ptr_array_unref);
  for (guint i = 0; i < n; i++)
    g_object_unref (children[i]);
  g_free (children);
  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&all));
  g_assert_finalize_object (g_steal_pointer (&race));
}

/* Children settled from other threads, combinators on this context. */
static gpointer
settle_range (gpointer data)
{
  GPtrArray *futures = data;

  for (guint i = 0; i < futures->len; i++)
    gasync_future_resolve_int (g_ptr_array_index (futures, i), 1);
  return NULL;
}

static void
test_cross_thread (Fixture       *fixture,
                   gconstpointer  data)
{
  GPtrArray *halves[2];
  GPtrArray *everything = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GasyncFuture) all = NULL;
  GThread *threads[2];

  for (int h = 0; h < 2; h++)
    {
      halves[h] = g_ptr_array_new ();
      for (int i = 0; i < 5000; i++)
        {
          GasyncFuture *future = gasync_future_new ();

          g_ptr_array_add (halves[h], future);
          g_ptr_array_add (everything, future);
        }
    }
  all = gasync_allv ((GasyncFuture **) everything->pdata, everything->len);
  for (int h = 0; h < 2; h++)
    threads[h] = g_thread_new ("settler", settle_range, halves[h]);

  run_until_done (fixture->context, all);
  g_assert_cmpint (gasync_future_get_state (all), ==, GASYNC_FUTURE_STATE_RESOLVED);
  for (int h = 0; h < 2; h++)
    {
      g_thread_join (threads[h]);
      g_ptr_array_unref (halves[h]);
    }
  g_ptr_array_unref (everything);
  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&all));
}

/* A refused call logs the critical of g_return_val_if_fail() and returns
 * a future rejected with GASYNC_ERROR_FAILED, never NULL. */
static void
test_misuse (void)
{
  GasyncFuture *refused;
  g_autoptr(GError) error = NULL;

  g_test_expect_message ("Gasync", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  refused = gasync_with_timeout (NULL, 10);
  g_test_assert_expected_messages ();
  /* The error names the function and the failed check. */
  g_assert_false (gasync_future_propagate_error (refused, &error));
  g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==,
                   "gasync_with_timeout: assertion 'GASYNC_IS_FUTURE (future)' failed");
  g_object_unref (refused);

  g_test_expect_message ("Gasync", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  refused = gasync_allv (NULL, 2);
  g_test_assert_expected_messages ();
  assert_refused (refused, "gasync_allv");

  g_test_expect_message ("Gasync", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  refused = gasync_then (NULL, double_it, NULL, NULL);
  g_test_assert_expected_messages ();
  assert_refused (refused, "gasync_then");

  g_test_expect_message ("Gasync", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  g_assert_null (gasync_combinator_get_children (NULL));
  g_test_assert_expected_messages ();

  g_test_expect_message ("Gasync", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  refused = gasync_waitv ((GasyncWaitMode) 42, NULL, 0);
  g_test_assert_expected_messages ();
  assert_refused (refused, "gasync_waitv");

  /* The variadic form owns its futures even when it refuses the call. */
  {
    GasyncFuture *owned = gasync_future_new ();

    g_object_add_weak_pointer (G_OBJECT (owned), (gpointer *) &owned);
    g_test_expect_message ("Gasync", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
    refused = gasync_wait ((GasyncWaitMode) 42, owned, NULL);
    g_test_assert_expected_messages ();
    g_assert_null (owned);
    assert_refused (refused, "gasync_wait");
  }

  /* So does the array form refusing one that is not a future; the others
   * keep only the caller's references. */
  {
    GasyncFuture *plain = gasync_future_new ();
    GObject *object = g_object_new (G_TYPE_OBJECT, NULL);
    GasyncFuture *mixed[] = { plain, (GasyncFuture *) object };

    g_test_expect_message ("Gasync", G_LOG_LEVEL_CRITICAL,
                           "gasync_racev: assertion 'GASYNC_IS_FUTURE (futures[i])' failed");
    refused = gasync_racev (mixed, G_N_ELEMENTS (mixed));
    g_test_assert_expected_messages ();
    assert_refused (refused, "gasync_racev");
    g_assert_finalize_object (plain);
    g_assert_finalize_object (object);
  }

  /* The refused futures belong to the thread-default context, here the
   * global default one: let their deliveries run. */
  drain (g_main_context_default ());
}

/* A child the combinator took over (the variadic forms take their
 * futures) goes back to the thread's pool when the combinator lets go of
 * it last, as a future gasync awaited would. */
static void
test_children_recycled (Fixture       *fixture,
                        gconstpointer  data)
{
  GasyncFuture *child = gasync_future_new ();
  GasyncFuture *all;

  gasync_future_resolve_int (child, 7);
  all = gasync_all (child, NULL);
  drain (fixture->context);
  g_assert_true (gasync_future_is_done (all));
  g_object_unref (all);
  drain (fixture->context);

  /* A pool is last in, first out. */
  all = gasync_future_new ();
  g_assert_true (all == child);
  g_assert_cmpint (gasync_future_get_state (all), ==, GASYNC_FUTURE_STATE_PENDING);
  g_object_unref (all);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func, data) \
  g_test_add (path, Fixture, data, fixture_setup, func, fixture_teardown)

  ADD ("/Gasync/Combinator/all/order", test_all_order, NULL);
  ADD ("/Gasync/Combinator/all/first-failure", test_all_first_failure, NULL);
  ADD ("/Gasync/Combinator/all/cancel", test_all_cancel, NULL);
  ADD ("/Gasync/Combinator/empty", test_empty, NULL);
  ADD ("/Gasync/Combinator/children-recycled", test_children_recycled, NULL);
  ADD ("/Gasync/Combinator/all-settled", test_all_settled, NULL);
  ADD ("/Gasync/Combinator/any", test_any, NULL);
  ADD ("/Gasync/Combinator/any/all-failed", test_any_all_failed, NULL);
  ADD ("/Gasync/Combinator/race", test_race, NULL);
  ADD ("/Gasync/Combinator/wait/modes", test_wait_modes, NULL);
  ADD ("/Gasync/Combinator/with-timeout", test_with_timeout, NULL);
  ADD ("/Gasync/Combinator/shield", test_shield, NULL);
  ADD ("/Gasync/Combinator/then-catch-finally", test_then_catch_finally, NULL);
  ADD ("/Gasync/Combinator/then/cancel", test_then_cancel, NULL);
  ADD ("/Gasync/Combinator/in-coroutine", test_in_coroutine, NULL);
  ADD ("/Gasync/Combinator/cross-thread", test_cross_thread, NULL);
  ADD ("/Gasync/Combinator/large-100000", test_large, GUINT_TO_POINTER (100000));
  g_test_add_func ("/Gasync/Combinator/misuse", test_misuse);

  return g_test_run ();
}
