/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What most gasync test programs share: a fixture that gives each test its
 * own main context, pushed as the thread default; a drain that knows about
 * the scheduler's budget; and waits that fail the test instead of hanging.
 */

#include <gasync/gasync.h>

#if defined(GASYNC_TEST_HAVE_VALGRIND_H) && GASYNC_TEST_HAVE_VALGRIND_H
# include <valgrind/valgrind.h>
#else
# define RUNNING_ON_VALGRIND 0
#endif

/* Generous for slow sanitizer builds (tests/meson.build passes 60 for
 * them); override with -DWATCHDOG_SECONDS=n.  Memcheck is slower still:
 * ten times as long under it. */
#ifndef WATCHDOG_SECONDS
# define WATCHDOG_SECONDS (RUNNING_ON_VALGRIND ? 100 : 10)
#endif

typedef struct
{
  GMainContext *context;
} Fixture;

/* Iterates @context until nothing is ready.  After a dispatch that used up
 * its budget the scheduler sits out exactly one iteration, so only two idle
 * iterations in a row mean nothing is left. */
static inline void
drain (GMainContext *context)
{
  guint idle = 0;

  while (idle < 2)
    idle = g_main_context_iteration (context, FALSE) ? 0 : idle + 1;
}

static inline void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  fixture->context = g_main_context_new ();
  g_main_context_push_thread_default (fixture->context);
}

static inline void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  drain (fixture->context);
  g_main_context_pop_thread_default (fixture->context);
  g_main_context_unref (fixture->context);
}

static inline gboolean
flag_cb (gpointer data)
{
  gboolean *flag = data;

  *flag = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates @ctx until @cond holds, or fails the test after
 * WATCHDOG_SECONDS.  Blocks in poll, never sleeps. */
#define ITERATE_UNTIL(ctx, cond)                                              \
  G_STMT_START {                                                              \
    gboolean iu_timed_out = FALSE;                                            \
    GSource *iu_watchdog = g_timeout_source_new_seconds (WATCHDOG_SECONDS);   \
                                                                              \
    g_source_set_callback (iu_watchdog, flag_cb, &iu_timed_out, NULL);        \
    g_source_attach (iu_watchdog, (ctx));                                     \
    while (!(cond) && !iu_timed_out)                                          \
      g_main_context_iteration ((ctx), TRUE);                                 \
    g_source_destroy (iu_watchdog);                                           \
    g_source_unref (iu_watchdog);                                             \
    g_assert_true (cond);                                                     \
  } G_STMT_END

/* Iterates @context until @future has settled, under the watchdog. */
static inline void
run_until_done (GMainContext *context,
                GasyncFuture *future)
{
  ITERATE_UNTIL (context, gasync_future_is_done (future));
}

/* Checks the future a call returned after a failed precondition (whose
 * critical the caller expected): owned by the thread-default context like
 * any new future, rejected with GASYNC_ERROR_FAILED and the text of that
 * critical, "@function: assertion '...' failed".  Reading the error counts
 * as retrieving it; then drops the future. */
static inline void
assert_refused (GasyncFuture *future,
                const char   *function)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();
  g_autofree char *pattern = g_strdup_printf ("%s: assertion '*' failed", function);

  g_assert_nonnull (future);
  g_assert_true (GASYNC_IS_FUTURE (future));
  g_assert_true (gasync_future_get_context (future) == context);
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_REJECTED);
  g_assert_false (gasync_future_propagate_error (future, &error));
  g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_FAILED);
  if (!g_pattern_match_simple (pattern, error->message))
    g_test_message ("error message: %s", error->message);
  g_assert_true (g_pattern_match_simple (pattern, error->message));
  g_object_unref (future);
}
