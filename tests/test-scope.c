/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gasync/gasync.h>

#include "gasync-test-util.h"

#ifdef HAVE_GTK
# include <gtk/gtk.h>
#endif

/* --- a body that parks until cancelled or released --------------------- */

typedef struct
{
  GasyncFuture *gate;
  int started;
  int cancelled;
  int finished;
  /* Set by the owner's disposal; a body that touched it afterwards would
   * be the bug the scope exists to prevent. */
  gboolean owner_gone;
  int touched_after_gone;
} Parked;

static gboolean
parked_body (gpointer   user_data,
             GValue    *result,
             GError   **error)
{
  Parked *parked = user_data;
  gboolean ok;

  parked->started++;
  ok = gasync_await (g_object_ref (parked->gate), error);
  if (!ok)
    {
      if (g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        parked->cancelled++;
      return FALSE;
    }

  if (parked->owner_gone)
    parked->touched_after_gone++;
  parked->finished++;
  return TRUE;
}

static gboolean
failing_body (gpointer   user_data,
              GValue    *result,
              GError   **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "denied");
  return FALSE;
}

static void
test_wait_all (Fixture       *fixture,
               gconstpointer  data)
{
  Parked parked = { .gate = gasync_future_new () };
  g_autoptr(GasyncScope) scope = gasync_scope_new ();
  g_autoptr(GasyncFuture) wait = NULL;
  g_autoptr(GError) error = NULL;

  for (int i = 0; i < 10; i++)
    gasync_scope_spawn (scope, "parked", parked_body, &parked, NULL);
  wait = gasync_scope_wait (scope);
  drain (fixture->context);
  g_assert_cmpint (parked.started, ==, 10);
  g_assert_cmpuint (gasync_scope_get_n_pending (scope), ==, 10);
  g_assert_false (gasync_future_is_done (wait));

  gasync_future_resolve_void (parked.gate);
  run_until_done (fixture->context, wait);
  g_assert_true (gasync_future_propagate_error (wait, &error));
  g_assert_no_error (error);
  g_assert_cmpint (parked.finished, ==, 10);
  g_assert_cmpuint (gasync_scope_get_n_pending (scope), ==, 0);

  g_clear_object (&parked.gate);
  g_clear_object (&wait);
  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&scope));
}

static void
test_first_failure (Fixture       *fixture,
                    gconstpointer  data)
{
  Parked parked = { .gate = gasync_future_new () };
  g_autoptr(GasyncScope) scope = gasync_scope_new ();
  g_autoptr(GasyncFuture) wait = NULL;
  g_autoptr(GError) error = NULL;

  for (int i = 0; i < 5; i++)
    gasync_scope_spawn (scope, "parked", parked_body, &parked, NULL);
  gasync_scope_spawn (scope, "failing", failing_body, NULL, NULL);
  /* Taken once there are members: a wait on an empty scope is done. */
  wait = gasync_scope_wait (scope);
  run_until_done (fixture->context, wait);

  /* The failure cancelled the siblings, and the wait reports it. */
  g_assert_cmpint (parked.cancelled, ==, 5);
  g_assert_false (gasync_future_propagate_error (wait, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_false (gasync_scope_is_cancelled (scope));

  g_clear_object (&parked.gate);
  g_clear_object (&wait);
  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&scope));
}

static void
test_cancel_and_nest (Fixture       *fixture,
                      gconstpointer  data)
{
  Parked parked = { .gate = gasync_future_new () };
  g_autoptr(GasyncScope) parent = gasync_scope_new ();
  g_autoptr(GasyncScope) child = gasync_scope_new_child (parent);
  g_autoptr(GasyncFuture) plain = gasync_future_new ();
  g_autoptr(GasyncFuture) late = gasync_future_new ();
  g_autoptr(GasyncFuture) wait = NULL;

  gasync_scope_spawn (parent, "parked", parked_body, &parked, NULL);
  gasync_scope_spawn (child, "parked", parked_body, &parked, NULL);
  gasync_scope_add (child, plain);
  drain (fixture->context);

  gasync_scope_cancel (parent);
  g_assert_true (gasync_scope_is_cancelled (child));
  g_assert_true (gasync_future_is_cancelled (plain));
  wait = gasync_scope_wait (parent);
  run_until_done (fixture->context, wait);
  drain (fixture->context);
  g_assert_cmpint (parked.cancelled, ==, 2);

  /* Anything added afterwards is cancelled at once. */
  gasync_scope_add (child, late);
  g_assert_true (gasync_future_is_cancelled (late));

  g_clear_object (&parked.gate);
  g_clear_object (&wait);
  drain (fixture->context);
  /* The parent holds its children. */
  g_assert_finalize_object (g_steal_pointer (&parent));
  g_assert_finalize_object (g_steal_pointer (&child));
}

static void
test_cancel_wait (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(GasyncScope) scope = gasync_scope_new ();
  g_autoptr(GasyncFuture) member = gasync_future_new ();
  g_autoptr(GasyncFuture) wait = NULL;

  gasync_scope_add (scope, member);
  wait = gasync_scope_wait (scope);
  gasync_future_cancel (wait);
  drain (fixture->context);
  g_assert_true (gasync_scope_is_cancelled (scope));
  g_assert_true (gasync_future_is_cancelled (member));

  g_clear_object (&wait);
  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&scope));
}

/* --- owners ------------------------------------------------------------- */

static void
never_cb (GasyncFuture *future,
          gpointer      user_data)
{
  int *calls = user_data;

  (*calls)++;
}

static void
owner_test (GMainContext *context,
            GObject      *owner)
{
  Parked parked = { .gate = gasync_future_new () };
  GasyncScope *scope = gasync_scope_new_for_owner (owner);
  GasyncFuture *watched = gasync_future_new ();
  GasyncFuture *bound = gasync_future_new ();
  GPtrArray *coroutines = g_ptr_array_new_with_free_func (g_object_unref);
  int callback_calls = 0;

  for (int i = 0; i < 100; i++)
    g_ptr_array_add (coroutines,
                     g_object_ref (gasync_scope_spawn (scope, "bound", parked_body, &parked, NULL)));
  gasync_scope_add_done_callback (scope, watched, never_cb, &callback_calls, NULL);
  gasync_future_bind_owner (bound, owner);
  drain (context);
  g_assert_cmpint (parked.started, ==, 100);

  /* The owner goes away while all 100 are mid-await. */
  parked.owner_gone = TRUE;
  g_object_run_dispose (owner);
  g_object_unref (owner);

  g_assert_true (gasync_scope_is_cancelled (scope));
  g_assert_true (gasync_future_is_cancelled (bound));
  /* The watched future settles later: its scoped callback must not run. */
  gasync_future_resolve_void (watched);
  gasync_future_resolve_void (parked.gate);
  drain (context);

  for (guint i = 0; i < coroutines->len; i++)
    g_assert_true (gasync_future_is_cancelled (g_ptr_array_index (coroutines, i)));
  g_assert_cmpint (parked.cancelled, ==, 100);
  g_assert_cmpint (parked.touched_after_gone, ==, 0);
  g_assert_cmpint (callback_calls, ==, 0);

  g_ptr_array_unref (coroutines);
  g_clear_object (&parked.gate);
  drain (context);
  g_assert_finalize_object (watched);
  g_assert_finalize_object (bound);
  g_assert_finalize_object (scope);
}

static void
test_owner_gobject (Fixture       *fixture,
                    gconstpointer  data)
{
  owner_test (fixture->context, g_object_new (G_TYPE_OBJECT, NULL));
}

static void
test_bind_owner_settled_first (Fixture       *fixture,
                               gconstpointer  data)
{
  GObject *owner = g_object_new (G_TYPE_OBJECT, NULL);
  GasyncFuture *future = gasync_future_new ();

  gasync_future_bind_owner (future, owner);
  gasync_future_resolve_int (future, 1);
  drain (fixture->context);
  /* The binding went away with the settle: disposing the owner now does
   * nothing to the future, and nothing leaks. */
  g_assert_finalize_object (owner);
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_RESOLVED);
  g_assert_finalize_object (future);
}

#ifdef HAVE_GTK
static void
test_owner_gtk_window (void)
{
  GtkWidget *window;

  if (!gtk_init_check ())
    {
      g_test_skip ("No display (run under xvfb-run)");
      return;
    }

  window = gtk_window_new ();
  gtk_window_set_child (GTK_WINDOW (window), gtk_spinner_new ());
  gtk_window_present (GTK_WINDOW (window));
  /* owner_test() disposes it, as closing the window would. */
  owner_test (g_main_context_default (), g_object_ref (G_OBJECT (window)));
  gtk_window_destroy (GTK_WINDOW (window));
}
#endif

static void
test_misuse (void)
{
  g_test_expect_message ("Gasync", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  gasync_scope_add (NULL, NULL);
  g_test_assert_expected_messages ();

  g_test_expect_message ("Gasync", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  g_assert_null (gasync_scope_new_for_owner (NULL));
  g_test_assert_expected_messages ();

  g_test_expect_message ("Gasync", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  gasync_future_bind_owner (NULL, NULL);
  g_test_assert_expected_messages ();

  /* A call that returns a future returns a rejected one, never NULL; it
   * belongs to the thread-default context, here the global default. */
  {
    GasyncFuture *refused;

    g_test_expect_message ("Gasync", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
    refused = gasync_scope_wait (NULL);
    g_test_assert_expected_messages ();
    assert_refused (refused, "gasync_scope_wait");
    drain (g_main_context_default ());
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("/Gasync/Scope/wait-all", test_wait_all);
  ADD ("/Gasync/Scope/first-failure", test_first_failure);
  ADD ("/Gasync/Scope/cancel-and-nest", test_cancel_and_nest);
  ADD ("/Gasync/Scope/cancel-wait", test_cancel_wait);
  ADD ("/Gasync/Scope/owner/gobject", test_owner_gobject);
  ADD ("/Gasync/Scope/bind-owner/settled-first", test_bind_owner_settled_first);
#ifdef HAVE_GTK
  g_test_add_func ("/Gasync/Scope/owner/gtk-window", test_owner_gtk_window);
#endif
  g_test_add_func ("/Gasync/Scope/misuse", test_misuse);

  return g_test_run ();
}
