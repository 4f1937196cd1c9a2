/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Misuse: every public function of coroutines, awaits, combinators and
 * scopes given NULL or an object of the wrong type logs a critical and
 * returns, instead of crashing (a call that returns a future returns one
 * rejected with GASYNC_ERROR_FAILED, never NULL); and the documented
 * errors of using the API in the wrong place.
 *
 * Covered elsewhere, not repeated here: GasyncFuture's own methods
 * (test-future.c, /Gasync/Future/misuse/...); settling twice and reading a
 * pending future (/Gasync/Future/settle-once, /Gasync/Future/read/pending);
 * awaiting a pending future outside a coroutine and waiting inside one
 * (/Gasync/Coroutine/await-outside, /Gasync/Coroutine/wait-inside); a
 * stack overflow in a coroutine, reported by its name
 * (/Gasync/Coroutine/stack-overflow).
 */
#include "config.h"

#include <gasync/gasync.h>

#include "gasync-test-util.h"

#define LIBRARY_DOMAIN "Gasync"

/* Runs @call expecting exactly one critical from a failed precondition. */
#define EXPECT_CRITICAL(call)                                                  \
  G_STMT_START {                                                               \
    g_test_expect_message (LIBRARY_DOMAIN, G_LOG_LEVEL_CRITICAL,               \
                           "*assertion*failed*");                              \
    call;                                                                      \
    g_test_assert_expected_messages ();                                        \
  } G_STMT_END

/* Runs @call, a call returning a future, expecting the critical of a
 * failed precondition and a future rejected with GASYNC_ERROR_FAILED
 * whose message names @function (a glob pattern). */
#define EXPECT_REFUSED(call, function)                                         \
  G_STMT_START {                                                               \
    GasyncFuture *er_refused;                                                  \
                                                                               \
    EXPECT_CRITICAL (er_refused = (call));                                     \
    assert_refused (er_refused, (function));                                   \
  } G_STMT_END

/* What a call that skipped some arguments returned: a future the caller
 * owns, whatever its outcome. */
static void
drop_future (GasyncFuture *future)
{
  g_assert_true (GASYNC_IS_FUTURE (future));
  gasync_future_propagate_error (future, NULL);
  g_object_unref (future);
}

static gboolean
never_body (gpointer   user_data,
            GValue    *result,
            GError   **error)
{
  g_assert_not_reached ();
  return TRUE;
}

static GasyncFuture *
never_step (GasyncCoroutine *co,
            GasyncFuture    *awaited,
            gpointer         user_data)
{
  g_assert_not_reached ();
  return NULL;
}

static GasyncFuture *
never_then (GasyncFuture *future,
            gpointer      user_data)
{
  g_assert_not_reached ();
  return NULL;
}

static void
never_callback (GasyncFuture *future,
                gpointer      user_data)
{
  g_assert_not_reached ();
}

/* --- coroutines ---------------------------------------------------------- */

static void
test_coroutine_null (Fixture       *fixture,
                     gconstpointer  data)
{
  GasyncCoroutine *co;

  EXPECT_CRITICAL (co = gasync_coroutine_spawn ("no-body", NULL, NULL, NULL));
  g_assert_null (co);
  EXPECT_CRITICAL (co = gasync_coroutine_spawn_full (NULL, G_PRIORITY_DEFAULT, 0, "no-body",
                                                    NULL, NULL, NULL));
  g_assert_null (co);
  EXPECT_CRITICAL (co = gasync_coroutine_spawn_stepped (NULL, "no-step", NULL, NULL, NULL));
  g_assert_null (co);
#if GLIB_SIZEOF_SIZE_T > 4
  /* A stack size beyond what a coroutine records. */
  EXPECT_CRITICAL (co = gasync_coroutine_spawn_full (NULL, G_PRIORITY_DEFAULT,
                                                    (gsize) G_MAXUINT32 + 1, "huge",
                                                    never_body, NULL, NULL));
  g_assert_null (co);
#endif

  EXPECT_CRITICAL (g_assert_null (gasync_coroutine_dup_awaiting (NULL)));
  EXPECT_CRITICAL (g_assert_false (gasync_coroutine_is_stackful (NULL)));
  EXPECT_CRITICAL (g_assert_cmpint (gasync_coroutine_get_spawn_time (NULL), ==, 0));

  /* Nothing was spawned along the way. */
  drain (fixture->context);
  {
    g_autoptr(GPtrArray) live = gasync_coroutine_list ();
    g_assert_cmpuint (live->len, ==, 0);
  }
}

static void
test_coroutine_wrong_type (Fixture       *fixture,
                          gconstpointer  data)
{
  /* A plain future where a coroutine is expected. */
  GasyncFuture *plain = gasync_future_new ();
  GasyncCoroutine *not_co = (GasyncCoroutine *) plain;

  EXPECT_CRITICAL (g_assert_null (gasync_coroutine_dup_awaiting (not_co)));
  EXPECT_CRITICAL (g_assert_false (gasync_coroutine_is_stackful (not_co)));
  EXPECT_CRITICAL (g_assert_cmpint (gasync_coroutine_get_spawn_time (not_co), ==, 0));

  g_assert_finalize_object (plain);
}

/* --- await ---------------------------------------------------------------- */

static void
test_await_null (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_auto(GValue) value = G_VALUE_INIT;

  EXPECT_CRITICAL (g_assert_false (gasync_await (NULL, &error)));
  EXPECT_CRITICAL (g_assert_false (gasync_await_value (NULL, &value, &error)));
  EXPECT_CRITICAL (g_assert_false (gasync_await_boolean (NULL, &error)));
  EXPECT_CRITICAL (g_assert_cmpint (gasync_await_int (NULL, &error), ==, 0));
  EXPECT_CRITICAL (g_assert_cmpint (gasync_await_int64 (NULL, &error), ==, 0));
  EXPECT_CRITICAL (g_assert_cmpuint (gasync_await_uint64 (NULL, &error), ==, 0));
  EXPECT_CRITICAL (g_assert_cmpfloat (gasync_await_double (NULL, &error), ==, 0.0));
  EXPECT_CRITICAL (g_assert_null (gasync_await_string (NULL, &error)));
  EXPECT_CRITICAL (g_assert_null (gasync_await_object (NULL, &error)));
  EXPECT_CRITICAL (g_assert_null (gasync_await_boxed (NULL, G_TYPE_BYTES, &error)));
  EXPECT_CRITICAL (g_assert_null (gasync_await_pointer (NULL, &error)));
  g_assert_no_error (error);
  g_assert_false (G_IS_VALUE (&value));
}

static void
test_await_wrong_type (Fixture       *fixture,
                       gconstpointer  data)
{
  /* Not a future at all: the await does not take it. */
  GObject *object = g_object_new (G_TYPE_OBJECT, NULL);
  GasyncFuture *not_future = (GasyncFuture *) object;
  GasyncFuture *future = gasync_future_new_resolved_int (1);
  g_autoptr(GError) error = NULL;

  EXPECT_CRITICAL (g_assert_false (gasync_await (not_future, &error)));
  EXPECT_CRITICAL (g_assert_cmpint (gasync_await_int (not_future, &error), ==, 0));
  EXPECT_CRITICAL (g_assert_null (gasync_await_string (not_future, &error)));
  EXPECT_CRITICAL (g_assert_null (gasync_await_boxed (not_future, G_TYPE_BYTES, &error)));
  g_assert_no_error (error);

  /* A boxed await for a type that is not boxed, and an error location
   * already set: the future stays the caller's. */
  EXPECT_CRITICAL (g_assert_null (gasync_await_boxed (future, G_TYPE_OBJECT, &error)));
  error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "already set");
  EXPECT_CRITICAL (g_assert_false (gasync_await (future, &error)));
  EXPECT_CRITICAL (g_assert_cmpint (gasync_await_int (future, &error), ==, 0));
  EXPECT_CRITICAL (g_assert_false (gasync_yield (&error)));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);

  drain (fixture->context);
  g_assert_finalize_object (object);
  g_assert_finalize_object (future);
}

/* Typed awaits on a future of another type give the typed getters'
 * error. */
static void
test_await_type_mismatch (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (gasync_await_int (gasync_future_new_resolved_string ("seven"), &error), ==, 0);
  g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_TYPE_MISMATCH);
  g_clear_error (&error);

  g_assert_null (gasync_await_string (gasync_future_new_resolved_int (7), &error));
  g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_TYPE_MISMATCH);
  g_clear_error (&error);

  /* Resolved without a value. */
  g_assert_null (gasync_await_object (gasync_future_new_resolved (NULL), &error));
  g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_TYPE_MISMATCH);
}

/* Outside a coroutine, yielding does nothing. */
static void
test_yield_outside (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (gasync_yield (&error));
  g_assert_no_error (error);
}

/* A stepped coroutine's step runs on the thread's own stack: it cannot
 * suspend, so awaiting a pending future there fails as outside any
 * coroutine, and waiting fails as inside one. */
static GasyncFuture *
misuse_step (GasyncCoroutine *co,
             GasyncFuture    *awaited,
             gpointer         user_data)
{
  gboolean *checked = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GasyncFuture) pending = gasync_future_new ();

  g_assert_true (gasync_coroutine_get_current () == co);
  g_assert_false (gasync_await (g_object_ref (pending), &error));
  g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_NOT_IN_COROUTINE);
  g_clear_error (&error);

  g_assert_false (gasync_future_wait (pending, &error));
  g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_IN_COROUTINE);

  *checked = TRUE;
  return NULL;
}

static void
test_stepped_await_wait (Fixture       *fixture,
                         gconstpointer  data)
{
  gboolean checked = FALSE;
  GasyncCoroutine *co = gasync_coroutine_spawn_stepped (NULL, "stepped-misuse", misuse_step,
                                                        &checked, NULL);

  run_until_done (fixture->context, GASYNC_FUTURE (co));
  g_assert_true (checked);
  g_assert_cmpint (gasync_future_get_state (GASYNC_FUTURE (co)), ==, GASYNC_FUTURE_STATE_RESOLVED);
  drain (fixture->context);
  g_assert_finalize_object (co);
}

/* Bodies that break their contract are reported, and the coroutine still
 * ends. */
static gboolean
true_with_error_body (gpointer   user_data,
                      GValue    *result,
                      GError   **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "set anyway");
  return TRUE;
}

static gboolean
false_without_error_body (gpointer   user_data,
                          GValue    *result,
                          GError   **error)
{
  return FALSE;
}

static GasyncFuture *
not_a_future_step (GasyncCoroutine *co,
                   GasyncFuture    *awaited,
                   gpointer         user_data)
{
  /* Borrowed: the test still owns it. */
  return user_data;
}

static void
test_body_contract (Fixture       *fixture,
                    gconstpointer  data)
{
  GasyncCoroutine *co;
  GObject *object = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(GError) error = NULL;

  co = gasync_coroutine_spawn ("true-with-error", true_with_error_body, NULL, NULL);
  g_test_expect_message (LIBRARY_DOMAIN, G_LOG_LEVEL_CRITICAL, "*true-with-error*returned TRUE with an error set*");
  run_until_done (fixture->context, GASYNC_FUTURE (co));
  g_test_assert_expected_messages ();
  g_assert_cmpint (gasync_future_get_state (GASYNC_FUTURE (co)), ==, GASYNC_FUTURE_STATE_RESOLVED);
  drain (fixture->context);
  g_assert_finalize_object (co);

  co = gasync_coroutine_spawn ("false-without-error", false_without_error_body, NULL, NULL);
  g_test_expect_message (LIBRARY_DOMAIN, G_LOG_LEVEL_CRITICAL, "*false-without-error*without setting an error*");
  run_until_done (fixture->context, GASYNC_FUTURE (co));
  g_test_assert_expected_messages ();
  g_assert_false (gasync_future_propagate_error (GASYNC_FUTURE (co), &error));
  g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_FAILED);
  g_clear_error (&error);
  drain (fixture->context);
  g_assert_finalize_object (co);

  co = gasync_coroutine_spawn_stepped (NULL, "bad-step", not_a_future_step, object, NULL);
  g_test_expect_message (LIBRARY_DOMAIN, G_LOG_LEVEL_CRITICAL, "*bad-step*not a future*");
  run_until_done (fixture->context, GASYNC_FUTURE (co));
  g_test_assert_expected_messages ();
  g_assert_false (gasync_future_propagate_error (GASYNC_FUTURE (co), &error));
  g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_FAILED);
  drain (fixture->context);
  g_assert_finalize_object (co);
  g_assert_finalize_object (object);
}

/* --- combinators ------------------------------------------------------------ */

typedef GasyncFuture *(*ArrayCombinator) (GasyncFuture **futures, guint n_futures);

static GasyncFuture *
waitv_all (GasyncFuture **futures,
           guint          n_futures)
{
  return gasync_waitv (GASYNC_WAIT_ALL_COMPLETED, futures, n_futures);
}

static void
test_combinators_null (Fixture       *fixture,
                       gconstpointer  data)
{
  const ArrayCombinator arrays[] = {
    gasync_allv, gasync_all_settledv, gasync_anyv, gasync_racev, waitv_all,
  };
  GasyncFuture *future = gasync_future_new ();
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (arrays); i++)
    EXPECT_REFUSED (arrays[i] (NULL, 2), "gasync_*v");

  /* A refusal is a combinator too, as these calls are documented to
   * return: a caller may cast it. */
  {
    GasyncFuture *refused;

    g_test_expect_message ("Gasync", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
    refused = gasync_shield (NULL);
    g_test_assert_expected_messages ();
    g_assert_true (GASYNC_IS_COMBINATOR (refused));
    assert_refused (refused, "gasync_shield");

    g_test_expect_message ("Gasync", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
    refused = gasync_waitv ((GasyncWaitMode) 42, NULL, 0);
    g_test_assert_expected_messages ();
    g_assert_true (GASYNC_IS_COMBINATOR (refused));
    assert_refused (refused, "gasync_waitv");
  }

  EXPECT_REFUSED (gasync_with_timeout (NULL, 10), "gasync_with_timeout");
  EXPECT_REFUSED (gasync_shield (NULL), "gasync_shield");
  EXPECT_REFUSED (gasync_then (NULL, never_then, NULL, NULL), "gasync_then");
  EXPECT_REFUSED (gasync_catch (NULL, never_then, NULL, NULL), "gasync_catch");
  EXPECT_REFUSED (gasync_finally (NULL, never_then, NULL, NULL), "gasync_finally");
  /* No function: the future is not taken. */
  EXPECT_REFUSED (gasync_then (future, NULL, NULL, NULL), "gasync_then");
  EXPECT_REFUSED (gasync_catch (future, NULL, NULL, NULL), "gasync_catch");
  EXPECT_REFUSED (gasync_finally (future, NULL, NULL, NULL), "gasync_finally");

  EXPECT_CRITICAL (g_assert_null (gasync_combinator_get_children (NULL)));
  EXPECT_CRITICAL (g_assert_null (gasync_combinator_dup_done (NULL)));
  EXPECT_CRITICAL (g_assert_null (gasync_combinator_dup_pending (NULL)));

  /* Written inline, a refused call fails the await that takes its
   * future, instead of handing it NULL. */
  EXPECT_CRITICAL (g_assert_false (gasync_await (gasync_shield (NULL), &error)));
  g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_FAILED);

  drain (fixture->context);
  g_assert_finalize_object (future);
}

static void
test_combinators_wrong_type (Fixture       *fixture,
                             gconstpointer  data)
{
  const ArrayCombinator arrays[] = {
    gasync_allv, gasync_all_settledv, gasync_anyv, gasync_racev, waitv_all,
  };
  GObject *object = g_object_new (G_TYPE_OBJECT, NULL);
  GasyncFuture *not_future = (GasyncFuture *) object;
  GasyncFuture *plain = gasync_future_new ();
  GasyncFuture *mixed[2] = { plain, not_future };

  for (guint i = 0; i < G_N_ELEMENTS (arrays); i++)
    EXPECT_REFUSED (arrays[i] (mixed, G_N_ELEMENTS (mixed)), "gasync_*v");

  /* The variadic forms skip what is not a future, with a critical each,
   * and combine the rest. */
#define EXPECT_SKIPPED(call)                                                   \
  G_STMT_START {                                                               \
    g_test_expect_message (LIBRARY_DOMAIN, G_LOG_LEVEL_CRITICAL, "*not a future*"); \
    drop_future (call);                                                        \
    g_test_assert_expected_messages ();                                        \
  } G_STMT_END
  EXPECT_SKIPPED (gasync_all (not_future, NULL));
  EXPECT_SKIPPED (gasync_all_settled (not_future, NULL));
  EXPECT_SKIPPED (gasync_any (not_future, NULL));
  EXPECT_SKIPPED (gasync_race (not_future, NULL));
  EXPECT_SKIPPED (gasync_wait (GASYNC_WAIT_FIRST_COMPLETED, not_future, NULL));
#undef EXPECT_SKIPPED

  EXPECT_REFUSED (gasync_with_timeout (not_future, 10), "gasync_with_timeout");
  EXPECT_REFUSED (gasync_shield (not_future), "gasync_shield");
  EXPECT_REFUSED (gasync_then (not_future, never_then, NULL, NULL), "gasync_then");
  EXPECT_REFUSED (gasync_catch (not_future, never_then, NULL, NULL), "gasync_catch");
  EXPECT_REFUSED (gasync_finally (not_future, never_then, NULL, NULL), "gasync_finally");

  /* A plain future where a combinator is expected. */
  EXPECT_CRITICAL (g_assert_null (gasync_combinator_get_children ((GasyncCombinator *) plain)));
  EXPECT_CRITICAL (g_assert_null (gasync_combinator_dup_done ((GasyncCombinator *) plain)));
  EXPECT_CRITICAL (g_assert_null (gasync_combinator_dup_pending ((GasyncCombinator *) plain)));

  drain (fixture->context);
  g_assert_finalize_object (object);
  g_assert_finalize_object (plain);
}

static GasyncFuture *
not_a_future_then (GasyncFuture *future,
                   gpointer      user_data)
{
  /* Borrowed: the test still owns it. */
  return user_data;
}

/* A continuation returning something else than a future is reported, and
 * the chain resolves as if it had returned nothing. */
static void
test_continuation_contract (Fixture       *fixture,
                            gconstpointer  data)
{
  GObject *object = g_object_new (G_TYPE_OBJECT, NULL);
  GasyncFuture *chained = gasync_then (gasync_future_new_resolved_int (1), not_a_future_then,
                                       object, NULL);

  g_test_expect_message (LIBRARY_DOMAIN, G_LOG_LEVEL_CRITICAL, "*not a future*");
  run_until_done (fixture->context, chained);
  g_test_assert_expected_messages ();
  g_assert_cmpint (gasync_future_get_state (chained), ==, GASYNC_FUTURE_STATE_RESOLVED);
  drain (fixture->context);
  g_assert_finalize_object (chained);
  g_assert_finalize_object (object);
}

/* --- scopes --------------------------------------------------------------- */

static void
test_scope_null (Fixture       *fixture,
                 gconstpointer  data)
{
  GasyncScope *scope = gasync_scope_new ();
  GasyncFuture *future = gasync_future_new ();
  GObject *owner = g_object_new (G_TYPE_OBJECT, NULL);

  EXPECT_CRITICAL (g_assert_null (gasync_scope_new_for_owner (NULL)));
  EXPECT_CRITICAL (g_assert_null (gasync_scope_new_child (NULL)));
  EXPECT_CRITICAL (gasync_scope_add (NULL, future));
  EXPECT_CRITICAL (gasync_scope_add (scope, NULL));
  EXPECT_CRITICAL (g_assert_null (gasync_scope_spawn (NULL, "x", never_body, NULL, NULL)));
  EXPECT_CRITICAL (g_assert_null (gasync_scope_spawn (scope, "x", NULL, NULL, NULL)));
  EXPECT_CRITICAL (g_assert_null (gasync_scope_spawn_stepped (NULL, "x", never_step, NULL, NULL)));
  EXPECT_CRITICAL (g_assert_null (gasync_scope_spawn_stepped (scope, "x", NULL, NULL, NULL)));
  EXPECT_CRITICAL (gasync_scope_add_done_callback (NULL, future, never_callback, NULL, NULL));
  EXPECT_CRITICAL (gasync_scope_add_done_callback (scope, NULL, never_callback, NULL, NULL));
  EXPECT_CRITICAL (gasync_scope_add_done_callback (scope, future, NULL, NULL, NULL));
  EXPECT_CRITICAL (gasync_scope_cancel (NULL));
  EXPECT_CRITICAL (g_assert_false (gasync_scope_is_cancelled (NULL)));
  EXPECT_CRITICAL (g_assert_cmpuint (gasync_scope_get_n_pending (NULL), ==, 0));
  EXPECT_REFUSED (gasync_scope_wait (NULL), "gasync_scope_wait");
  EXPECT_CRITICAL (gasync_future_bind_owner (NULL, owner));
  EXPECT_CRITICAL (gasync_future_bind_owner (future, NULL));

  /* None of it touched the scope or the future. */
  g_assert_false (gasync_scope_is_cancelled (scope));
  g_assert_cmpuint (gasync_scope_get_n_pending (scope), ==, 0);
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_PENDING);
  drain (fixture->context);
  g_assert_finalize_object (scope);
  g_assert_finalize_object (future);
  g_assert_finalize_object (owner);
}

static void
test_scope_wrong_type (Fixture       *fixture,
                       gconstpointer  data)
{
  GasyncScope *scope = gasync_scope_new ();
  GasyncFuture *future = gasync_future_new ();
  /* A future where a scope is expected, and the other way round. */
  GasyncScope *not_scope = (GasyncScope *) future;
  GasyncFuture *not_future = (GasyncFuture *) scope;
  GObject *owner = g_object_new (G_TYPE_OBJECT, NULL);

  EXPECT_CRITICAL (g_assert_null (gasync_scope_new_child (not_scope)));
  EXPECT_CRITICAL (gasync_scope_add (not_scope, future));
  EXPECT_CRITICAL (gasync_scope_add (scope, not_future));
  EXPECT_CRITICAL (g_assert_null (gasync_scope_spawn (not_scope, "x", never_body, NULL, NULL)));
  EXPECT_CRITICAL (g_assert_null (gasync_scope_spawn_stepped (not_scope, "x", never_step, NULL, NULL)));
  EXPECT_CRITICAL (gasync_scope_add_done_callback (not_scope, future, never_callback, NULL, NULL));
  EXPECT_CRITICAL (gasync_scope_add_done_callback (scope, not_future, never_callback, NULL, NULL));
  EXPECT_CRITICAL (gasync_scope_cancel (not_scope));
  EXPECT_CRITICAL (g_assert_false (gasync_scope_is_cancelled (not_scope)));
  EXPECT_CRITICAL (g_assert_cmpuint (gasync_scope_get_n_pending (not_scope), ==, 0));
  EXPECT_REFUSED (gasync_scope_wait (not_scope), "gasync_scope_wait");
  EXPECT_CRITICAL (gasync_future_bind_owner (not_future, owner));

  g_assert_false (gasync_scope_is_cancelled (scope));
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_PENDING);
  drain (fixture->context);
  g_assert_finalize_object (scope);
  g_assert_finalize_object (future);
  g_assert_finalize_object (owner);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/Gasync/Misuse/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("coroutine/null", test_coroutine_null);
  ADD ("coroutine/wrong-type", test_coroutine_wrong_type);
  ADD ("coroutine/body-contract", test_body_contract);
  ADD ("await/null", test_await_null);
  ADD ("await/wrong-type", test_await_wrong_type);
  ADD ("await/type-mismatch", test_await_type_mismatch);
  ADD ("await/yield-outside", test_yield_outside);
  ADD ("await/stepped", test_stepped_await_wait);
  ADD ("combinators/null", test_combinators_null);
  ADD ("combinators/wrong-type", test_combinators_wrong_type);
  ADD ("combinators/continuation-contract", test_continuation_contract);
  ADD ("scope/null", test_scope_null);
  ADD ("scope/wrong-type", test_scope_wrong_type);

#undef ADD

  return g_test_run ();
}
