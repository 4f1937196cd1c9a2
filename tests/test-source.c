/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gasync/gasync.h>

#include "gasync-test-util.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib-unix.h>

#define LIBRARY_DOMAIN "Gasync"

/* Iterates @ctx for @ms milliseconds of real time: the subject of the
 * tests that check nothing happens during a delay. */
static void
iterate_for (GMainContext *context,
             guint         ms)
{
  gboolean elapsed = FALSE;
  GSource *timer = g_timeout_source_new (ms);

  g_source_set_callback (timer, flag_cb, &elapsed, NULL);
  g_source_attach (timer, context);
  while (!elapsed)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (timer);
  g_source_unref (timer);
}

static void
count_cb (GasyncFuture *future,
          gpointer      user_data)
{
  (*(int *) user_data)++;
}

/* ------------------------------------------------------------------------ */
/* Timers                                                                   */
/* ------------------------------------------------------------------------ */

static void
test_sleep (Fixture       *fixture,
            gconstpointer  data)
{
  gint64 start = g_get_monotonic_time ();
  GasyncFuture *future = gasync_sleep (30);
  g_autoptr(GError) error = NULL;
  int done = 0;

  gasync_future_add_done_callback (future, count_cb, &done, NULL);
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_PENDING);
  g_assert_true (gasync_future_get_context (future) == fixture->context);

  ITERATE_UNTIL (fixture->context, done == 1);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 30 * 1000);
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_RESOLVED);
  g_assert_false (gasync_future_has_value (future));
  g_assert_true (gasync_future_propagate_error (future, &error));
  g_assert_no_error (error);

  drain (fixture->context);
  g_assert_finalize_object (future);
}

static void
test_sleep_zero (Fixture       *fixture,
                 gconstpointer  data)
{
  GasyncFuture *future = gasync_sleep (0);

  /* Never synchronously, even for no delay. */
  g_assert_false (gasync_future_is_done (future));
  ITERATE_UNTIL (fixture->context, gasync_future_is_done (future));
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_RESOLVED);

  drain (fixture->context);
  g_assert_finalize_object (future);
}

/* Cancelling destroys the timer: nothing resolves it later, and the
 * source drops its reference on the future at once. */
static void
test_sleep_cancel (Fixture       *fixture,
                   gconstpointer  data)
{
  GasyncFuture *future = gasync_sleep (20);
  GasyncFuture *seconds = gasync_sleep_seconds (1);
  int done = 0;

  gasync_future_add_done_callback (future, count_cb, &done, NULL);
  g_assert_true (gasync_future_cancel (future));
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_CANCELLED);
  g_assert_true (gasync_future_cancel (seconds));

  /* Well past the delay. */
  iterate_for (fixture->context, 60);
  g_assert_cmpint (done, ==, 1);
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_CANCELLED);

  drain (fixture->context);
  g_assert_finalize_object (future);
  g_assert_finalize_object (seconds);
}

static void
test_deadline (Fixture       *fixture,
               gconstpointer  data)
{
  gint64 deadline = g_get_monotonic_time () + 25 * 1000;
  GasyncFuture *future = gasync_deadline (deadline);
  GasyncFuture *past = gasync_deadline (g_get_monotonic_time () - G_USEC_PER_SEC);
  GasyncFuture *cancelled = gasync_deadline (deadline);
  GasyncFuture *never_cancelled = gasync_deadline (G_MAXINT64);

  /* Not synchronously, even for a time already past. */
  g_assert_false (gasync_future_is_done (past));
  g_assert_true (gasync_future_cancel (cancelled));
  g_assert_true (gasync_future_cancel (never_cancelled));

  ITERATE_UNTIL (fixture->context, gasync_future_is_done (past));
  ITERATE_UNTIL (fixture->context, gasync_future_is_done (future));
  g_assert_cmpint (g_get_monotonic_time (), >=, deadline);
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_RESOLVED);
  g_assert_cmpint (gasync_future_get_state (past), ==, GASYNC_FUTURE_STATE_RESOLVED);
  g_assert_cmpint (gasync_future_get_state (cancelled), ==, GASYNC_FUTURE_STATE_CANCELLED);

  drain (fixture->context);
  g_assert_finalize_object (future);
  g_assert_finalize_object (past);
  g_assert_finalize_object (cancelled);
  g_assert_finalize_object (never_cancelled);
}

/* ------------------------------------------------------------------------ */
/* Awaiting from coroutines                                                 */
/* ------------------------------------------------------------------------ */

typedef struct
{
  int          steps;
  GasyncFuture *long_sleep;  /* a weak pointer */
} SleeperData;

static gboolean
sleeper_body (gpointer   user_data,
              GValue    *result,
              GError   **error)
{
  SleeperData *sleeper = user_data;
  GasyncFuture *long_sleep;

  for (int i = 0; i < 3; i++)
    {
      if (!gasync_await (gasync_sleep (1), error))
        return FALSE;
      sleeper->steps++;
    }

  /* An hour: only cancellation ends this. */
  long_sleep = gasync_sleep (3600 * 1000);
  sleeper->long_sleep = long_sleep;
  g_object_add_weak_pointer (G_OBJECT (long_sleep), (gpointer *) &sleeper->long_sleep);
  return gasync_await (long_sleep, error);
}

static void
test_await_cancel (Fixture       *fixture,
                   gconstpointer  data)
{
  SleeperData sleeper = { 0, };
  GasyncCoroutine *co = gasync_coroutine_spawn ("sleeper", sleeper_body, &sleeper, NULL);

  ITERATE_UNTIL (fixture->context, sleeper.long_sleep != NULL);
  g_assert_cmpint (sleeper.steps, ==, 3);

  /* The coroutine cancels the sleep it awaits, which destroys the timer
   * and so frees the sleep's future. */
  gasync_future_cancel (GASYNC_FUTURE (co));
  ITERATE_UNTIL (fixture->context, gasync_future_is_done (GASYNC_FUTURE (co)));
  g_assert_cmpint (gasync_future_get_state (GASYNC_FUTURE (co)), ==, GASYNC_FUTURE_STATE_CANCELLED);
  drain (fixture->context);
  g_assert_null (sleeper.long_sleep);

  g_assert_finalize_object (co);
}

/* ------------------------------------------------------------------------ */
/* Any source                                                               */
/* ------------------------------------------------------------------------ */

static gboolean
custom_dispatch (GSource     *source,
                 GSourceFunc  callback,
                 gpointer     user_data)
{
  return callback (user_data);
}

static GSourceFuncs custom_funcs = {
  .dispatch = custom_dispatch,
};

static void
test_for_source (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(GSource) idle = g_idle_source_new ();
  g_autoptr(GSource) custom = g_source_new (&custom_funcs, sizeof (GSource));
  GasyncFuture *idle_future;
  GasyncFuture *custom_future;

  idle_future = gasync_future_new_for_source (idle);
  g_assert_true (g_source_get_context (idle) == fixture->context);

  g_source_set_ready_time (custom, 0);
  custom_future = gasync_future_new_for_source (custom);

  ITERATE_UNTIL (fixture->context, gasync_future_is_done (idle_future));
  ITERATE_UNTIL (fixture->context, gasync_future_is_done (custom_future));

  /* Both pass nothing to their callback: no value.  Each fired once and
   * was destroyed. */
  g_assert_cmpint (gasync_future_get_state (idle_future), ==, GASYNC_FUTURE_STATE_RESOLVED);
  g_assert_false (gasync_future_has_value (idle_future));
  g_assert_true (g_source_is_destroyed (idle));
  g_assert_cmpint (gasync_future_get_state (custom_future), ==, GASYNC_FUTURE_STATE_RESOLVED);
  g_assert_false (gasync_future_has_value (custom_future));
  g_assert_true (g_source_is_destroyed (custom));

  drain (fixture->context);
  g_assert_finalize_object (idle_future);
  g_assert_finalize_object (custom_future);
}

/* Cancelling on the owning thread destroys the source before returning:
 * its callback never runs. */
static void
test_for_source_cancel (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(GSource) idle = g_idle_source_new ();
  GasyncFuture *future = gasync_future_new_for_source (idle);
  int done = 0;

  gasync_future_add_done_callback (future, count_cb, &done, NULL);
  g_assert_true (gasync_future_cancel (future));
  g_assert_true (g_source_is_destroyed (idle));
  g_assert_false (gasync_future_cancel (future));

  drain (fixture->context);
  g_assert_cmpint (done, ==, 1);
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_CANCELLED);
  g_assert_finalize_object (future);
}

static void
test_for_source_invalid (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(GSource) attached = g_idle_source_new ();
  g_autoptr(GError) error = NULL;
  GasyncFuture *future;
  GasyncFuture *refused;

  g_source_attach (attached, fixture->context);

  g_test_expect_message (LIBRARY_DOMAIN, G_LOG_LEVEL_CRITICAL, "*g_source_get_context*");
  future = gasync_future_new_for_source (attached);
  g_test_assert_expected_messages ();

  /* A rejected future, never NULL, naming the failed check. */
  g_assert_false (gasync_future_propagate_error (future, &error));
  g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==,
                   "gasync_future_new_for_source: "
                   "assertion 'g_source_get_context (source) == NULL' failed");
  g_source_destroy (attached);

  /* Destroyed, or none at all. */
  g_test_expect_message (LIBRARY_DOMAIN, G_LOG_LEVEL_CRITICAL, "*!g_source_is_destroyed*");
  refused = gasync_future_new_for_source (attached);
  g_test_assert_expected_messages ();
  assert_refused (refused, "gasync_future_new_for_source");

  g_test_expect_message (LIBRARY_DOMAIN, G_LOG_LEVEL_CRITICAL, "*source != NULL*");
  refused = gasync_future_new_for_source (NULL);
  g_test_assert_expected_messages ();
  assert_refused (refused, "gasync_future_new_for_source");

  drain (fixture->context);
  g_assert_finalize_object (future);
}

typedef struct
{
  GasyncFuture **futures;
  guint          n;
} CancelAll;

static gpointer
cancel_all_thread (gpointer data)
{
  CancelAll *all = data;

  for (guint i = 0; i < all->n; i++)
    gasync_future_cancel (all->futures[i]);

  return NULL;
}

/* Cancelling from another thread races the dispatch on the owning thread:
 * each future ends either resolved or cancelled, exactly once, and none is
 * leaked. */
static void
test_cancel_other_thread (Fixture       *fixture,
                          gconstpointer  data)
{
  enum { N = 2000 };
  GasyncFuture *futures[N];
  CancelAll all = { futures, N };
  GThread *thread;
  int done = 0;

  for (guint i = 0; i < N; i++)
    {
      futures[i] = gasync_sleep (0);
      gasync_future_add_done_callback (futures[i], count_cb, &done, NULL);
    }

  thread = g_thread_new ("canceller", cancel_all_thread, &all);
  ITERATE_UNTIL (fixture->context, done == N);
  g_thread_join (thread);

  drain (fixture->context);
  g_assert_cmpint (done, ==, N);
  for (guint i = 0; i < N; i++)
    {
      GasyncFutureState state = gasync_future_get_state (futures[i]);

      g_assert_true (state == GASYNC_FUTURE_STATE_RESOLVED ||
                     state == GASYNC_FUTURE_STATE_CANCELLED);
      g_assert_finalize_object (futures[i]);
    }
}

/* ------------------------------------------------------------------------ */
/* File descriptors                                                         */
/* ------------------------------------------------------------------------ */

static void
test_fd_ready (Fixture       *fixture,
               gconstpointer  data)
{
  int fds[2];
  g_autoptr(GError) error = NULL;
  g_auto(GValue) value = G_VALUE_INIT;
  GasyncFuture *future;
  GasyncFuture *cancelled;

  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  g_assert_no_error (error);

  future = gasync_fd_ready (fds[0], G_IO_IN);
  cancelled = gasync_fd_ready (fds[0], G_IO_IN);
  g_assert_true (gasync_future_get_value_type (future) == G_TYPE_IO_CONDITION);

  /* Nothing to read yet. */
  drain (fixture->context);
  g_assert_false (gasync_future_is_done (future));

  g_assert_true (gasync_future_cancel (cancelled));
  g_assert_cmpint (write (fds[1], "x", 1), ==, 1);

  ITERATE_UNTIL (fixture->context, gasync_future_is_done (future));
  g_assert_true (gasync_future_get_value (future, &value, &error));
  g_assert_no_error (error);
  g_assert_true (G_VALUE_HOLDS (&value, G_TYPE_IO_CONDITION));
  g_assert_cmphex (g_value_get_flags (&value) & G_IO_IN, ==, G_IO_IN);
  g_assert_cmpint (gasync_future_get_state (cancelled), ==, GASYNC_FUTURE_STATE_CANCELLED);

  drain (fixture->context);
  g_assert_finalize_object (future);
  g_assert_finalize_object (cancelled);
  close (fds[0]);
  close (fds[1]);
}

/* The closing of the other end is reported as G_IO_HUP, even if only
 * G_IO_IN was asked for. */
static void
test_fd_hup (Fixture       *fixture,
             gconstpointer  data)
{
  int fds[2];
  g_autoptr(GError) error = NULL;
  g_auto(GValue) value = G_VALUE_INIT;
  g_autoptr(GSource) source = NULL;
  GasyncFuture *future;
  GasyncFuture *generic;

  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  g_assert_no_error (error);

  future = gasync_fd_ready (fds[0], G_IO_IN);
  /* The same through the generic path: a Unix fd source resolves with its
   * condition too. */
  source = g_unix_fd_source_new (fds[0], G_IO_IN);
  generic = gasync_future_new_for_source (source);

  close (fds[1]);
  ITERATE_UNTIL (fixture->context, gasync_future_is_done (future) && gasync_future_is_done (generic));

  g_assert_true (gasync_future_get_value (future, &value, &error));
  g_assert_no_error (error);
  g_assert_cmphex (g_value_get_flags (&value) & G_IO_HUP, ==, G_IO_HUP);
  g_value_unset (&value);

  g_assert_true (gasync_future_get_value (generic, &value, &error));
  g_assert_no_error (error);
  g_assert_true (G_VALUE_HOLDS (&value, G_TYPE_IO_CONDITION));
  g_assert_cmphex (g_value_get_flags (&value) & G_IO_HUP, ==, G_IO_HUP);

  drain (fixture->context);
  g_assert_finalize_object (future);
  g_assert_finalize_object (generic);
  close (fds[0]);
}

/* ------------------------------------------------------------------------ */
/* Child processes                                                          */
/* ------------------------------------------------------------------------ */

static GPid
spawn_shell (const char *script,
             int        *stdin_fd)
{
  const char *argv[] = { "/bin/sh", "-c", script, NULL };
  g_autoptr(GError) error = NULL;
  GPid pid = 0;

  g_spawn_async_with_pipes (NULL, (char **) argv, NULL,
                            G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid,
                            stdin_fd, NULL, NULL, &error);
  g_assert_no_error (error);

  return pid;
}

static void
test_child_exited (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  GasyncFuture *future;
  GasyncFuture *generic;
  g_autoptr(GSource) source = NULL;
  GPid pid;
  GPid pid2;
  int status;

  pid = spawn_shell ("exit 3", NULL);
  future = gasync_child_exited (pid);
  g_assert_true (gasync_future_get_value_type (future) == G_TYPE_INT);

  /* The generic path: a child watch resolves with the status too. */
  pid2 = spawn_shell ("exit 0", NULL);
  source = g_child_watch_source_new (pid2);
  generic = gasync_future_new_for_source (source);

  ITERATE_UNTIL (fixture->context, gasync_future_is_done (future) && gasync_future_is_done (generic));

  status = gasync_future_get_int (future, &error);
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 3);
  g_assert_false (g_spawn_check_wait_status (status, &error));
  g_assert_error (error, G_SPAWN_EXIT_ERROR, 3);
  g_clear_error (&error);

  status = gasync_future_get_int (generic, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, &error));
  g_assert_no_error (error);

  g_spawn_close_pid (pid);
  g_spawn_close_pid (pid2);
  drain (fixture->context);
  g_assert_finalize_object (future);
  g_assert_finalize_object (generic);
}

/* Cancelling stops watching and leaves the child to reap. */
static void
test_child_cancel (Fixture       *fixture,
                   gconstpointer  data)
{
  int stdin_fd = -1;
  GasyncFuture *future;
  GPid pid;
  int status = 0;

  /* Exits once its stdin is closed. */
  pid = spawn_shell ("read line; exit 5", &stdin_fd);
  future = gasync_child_exited (pid);
  drain (fixture->context);
  g_assert_false (gasync_future_is_done (future));

  g_assert_true (gasync_future_cancel (future));
  close (stdin_fd);

  /* Nobody reaped it: waitpid() still can. */
  while (waitpid (pid, &status, 0) < 0)
    g_assert_cmpint (errno, ==, EINTR);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 5);

  drain (fixture->context);
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_CANCELLED);
  g_assert_finalize_object (future);
}

/* ------------------------------------------------------------------------ */
/* Signals                                                                  */
/* ------------------------------------------------------------------------ */

static void
test_unix_signal (Fixture       *fixture,
                  gconstpointer  data)
{
  GasyncFuture *future = gasync_unix_signal (SIGUSR1);
  GasyncFuture *cancelled = gasync_unix_signal (SIGUSR1);
  GasyncFuture *other = gasync_unix_signal (SIGUSR2);

  drain (fixture->context);
  g_assert_false (gasync_future_is_done (future));

  /* @future still holds GLib's handler for SIGUSR1, so the signal is
   * caught; the cancelled one is no longer watching. */
  g_assert_true (gasync_future_cancel (cancelled));
  g_assert_true (gasync_future_cancel (other));
  g_assert_cmpint (kill (getpid (), SIGUSR1), ==, 0);

  ITERATE_UNTIL (fixture->context, gasync_future_is_done (future));
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_RESOLVED);
  g_assert_false (gasync_future_has_value (future));
  g_assert_cmpint (gasync_future_get_state (cancelled), ==, GASYNC_FUTURE_STATE_CANCELLED);
  g_assert_cmpint (gasync_future_get_state (other), ==, GASYNC_FUTURE_STATE_CANCELLED);

  drain (fixture->context);
  g_assert_finalize_object (future);
  g_assert_finalize_object (cancelled);
  g_assert_finalize_object (other);
}

static void
test_unix_signal_invalid (Fixture       *fixture,
                          gconstpointer  data)
{
  GasyncFuture *future;

  g_test_expect_message (LIBRARY_DOMAIN, G_LOG_LEVEL_CRITICAL, "*is_supported_signal*");
  future = gasync_unix_signal (SIGKILL);
  g_test_assert_expected_messages ();

  assert_refused (future, "gasync_unix_signal");

  /* The other Unix sources, given what cannot be watched. */
  g_test_expect_message (LIBRARY_DOMAIN, G_LOG_LEVEL_CRITICAL, "*fd >= 0*");
  future = gasync_fd_ready (-1, G_IO_IN);
  g_test_assert_expected_messages ();
  assert_refused (future, "gasync_fd_ready");

  g_test_expect_message (LIBRARY_DOMAIN, G_LOG_LEVEL_CRITICAL, "*pid > 0*");
  future = gasync_child_exited (0);
  g_test_assert_expected_messages ();
  assert_refused (future, "gasync_child_exited");

  drain (fixture->context);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("/Gasync/Source/sleep", test_sleep);
  ADD ("/Gasync/Source/sleep-zero", test_sleep_zero);
  ADD ("/Gasync/Source/sleep-cancel", test_sleep_cancel);
  ADD ("/Gasync/Source/deadline", test_deadline);
  ADD ("/Gasync/Source/await-cancel", test_await_cancel);
  ADD ("/Gasync/Source/for-source", test_for_source);
  ADD ("/Gasync/Source/for-source-cancel", test_for_source_cancel);
  ADD ("/Gasync/Source/for-source-invalid", test_for_source_invalid);
  ADD ("/Gasync/Source/cancel-other-thread", test_cancel_other_thread);
  ADD ("/Gasync/Source/fd-ready", test_fd_ready);
  ADD ("/Gasync/Source/fd-hup", test_fd_hup);
  ADD ("/Gasync/Source/child-exited", test_child_exited);
  ADD ("/Gasync/Source/child-cancel", test_child_cancel);
  ADD ("/Gasync/Source/unix-signal", test_unix_signal);
  ADD ("/Gasync/Source/unix-signal-invalid", test_unix_signal_invalid);

  return g_test_run ();
}
