/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gasync/gasync.h>

#include "gasync-test-util.h"

typedef struct
{
  GString    *log;
  const char *name;
} LogEntry;

static void
log_done_cb (GasyncFuture *future,
             gpointer      user_data)
{
  LogEntry *entry = user_data;

  g_string_append_printf (entry->log, "%s%s;", entry->name,
                          gasync_future_is_cancelled (future) ? "-cancelled" : "");
}

/* ------------------------------------------------------------------------ */
/* Permits                                                                  */
/* ------------------------------------------------------------------------ */

static void
test_basic (Fixture       *fixture,
            gconstpointer  data)
{
  GasyncSemaphore *sem = gasync_semaphore_new (2);
  GasyncFuture *acquired;

  g_assert_cmpuint (gasync_semaphore_get_available (sem), ==, 2);
  g_assert_true (gasync_semaphore_try_acquire (sem));
  g_assert_true (gasync_semaphore_try_acquire (sem));
  g_assert_false (gasync_semaphore_try_acquire (sem));
  g_assert_cmpuint (gasync_semaphore_get_available (sem), ==, 0);

  gasync_semaphore_release (sem);
  g_assert_cmpuint (gasync_semaphore_get_available (sem), ==, 1);

  /* A free permit with nobody waiting: resolved at once. */
  acquired = gasync_semaphore_acquire (sem);
  g_assert_cmpint (gasync_future_get_state (acquired), ==, GASYNC_FUTURE_STATE_RESOLVED);
  g_assert_false (gasync_future_has_value (acquired));
  g_assert_cmpuint (gasync_semaphore_get_available (sem), ==, 0);
  g_assert_cmpuint (gasync_semaphore_get_n_waiting (sem), ==, 0);

  gasync_semaphore_release (sem);
  gasync_semaphore_release (sem);
  g_assert_cmpuint (gasync_semaphore_get_available (sem), ==, 2);

  drain (fixture->context);
  g_assert_finalize_object (acquired);
  g_assert_finalize_object (sem);
}

/* Waiters are served in order, and a try_acquire never jumps the queue. */
static void
test_fifo (Fixture       *fixture,
           gconstpointer  data)
{
  GasyncSemaphore *sem = gasync_semaphore_new (0);
  g_autoptr(GString) log = g_string_new (NULL);
  LogEntry entries[] = { { log, "a" }, { log, "b" }, { log, "c" } };
  GasyncFuture *waiters[G_N_ELEMENTS (entries)];

  for (guint i = 0; i < G_N_ELEMENTS (entries); i++)
    {
      waiters[i] = gasync_semaphore_acquire (sem);
      gasync_future_add_done_callback (waiters[i], log_done_cb, &entries[i], NULL);
    }
  g_assert_cmpuint (gasync_semaphore_get_n_waiting (sem), ==, 3);

  gasync_semaphore_release (sem);
  /* The permit went to "a", not to the semaphore. */
  g_assert_false (gasync_semaphore_try_acquire (sem));
  g_assert_cmpuint (gasync_semaphore_get_available (sem), ==, 0);
  drain (fixture->context);
  g_assert_cmpstr (log->str, ==, "a;");

  gasync_semaphore_release (sem);
  gasync_semaphore_release (sem);
  drain (fixture->context);
  g_assert_cmpstr (log->str, ==, "a;b;c;");
  g_assert_cmpuint (gasync_semaphore_get_n_waiting (sem), ==, 0);

  gasync_semaphore_release (sem);
  g_assert_cmpuint (gasync_semaphore_get_available (sem), ==, 1);

  drain (fixture->context);
  for (guint i = 0; i < G_N_ELEMENTS (waiters); i++)
    g_assert_finalize_object (waiters[i]);
  g_assert_finalize_object (sem);
}

/* ------------------------------------------------------------------------ */
/* Cancellation                                                             */
/* ------------------------------------------------------------------------ */

static void
test_cancel_waiting (Fixture       *fixture,
                     gconstpointer  data)
{
  GasyncSemaphore *sem = gasync_semaphore_new (0);
  g_autoptr(GString) log = g_string_new (NULL);
  LogEntry entries[] = { { log, "a" }, { log, "b" }, { log, "c" } };
  GasyncFuture *waiters[G_N_ELEMENTS (entries)];

  for (guint i = 0; i < G_N_ELEMENTS (entries); i++)
    {
      waiters[i] = gasync_semaphore_acquire (sem);
      gasync_future_add_done_callback (waiters[i], log_done_cb, &entries[i], NULL);
    }

  /* Out of the queue at once. */
  g_assert_true (gasync_future_cancel (waiters[1]));
  g_assert_cmpint (gasync_future_get_state (waiters[1]), ==, GASYNC_FUTURE_STATE_CANCELLED);
  g_assert_cmpuint (gasync_semaphore_get_n_waiting (sem), ==, 2);

  gasync_semaphore_release (sem);
  gasync_semaphore_release (sem);
  drain (fixture->context);
  g_assert_cmpstr (log->str, ==, "b-cancelled;a;c;");

  /* Cancelling a granted acquire changes nothing: its holder still owns
   * the permit. */
  g_assert_false (gasync_future_cancel (waiters[0]));
  g_assert_cmpuint (gasync_semaphore_get_available (sem), ==, 0);

  /* No permit was lost: both holders give theirs back. */
  gasync_semaphore_release (sem);
  gasync_semaphore_release (sem);
  g_assert_cmpuint (gasync_semaphore_get_available (sem), ==, 2);

  drain (fixture->context);
  for (guint i = 0; i < G_N_ELEMENTS (waiters); i++)
    g_assert_finalize_object (waiters[i]);
  g_assert_finalize_object (sem);
}

typedef struct
{
  GasyncSemaphore *sem;
  gint             ready;
  gint             go;
  guint            delay;
} Releaser;

/* Busy-waits @n rounds: shifts one racer against the other, so that the
 * loop below sweeps the window where both overlap. */
static void
spin (guint n)
{
  for (volatile guint i = 0; i < n; i++)
    ;
}

/* Waits for another thread to set @flag: spinning at first, to line the
 * two threads up closely, then yielding, so that a loaded machine with
 * few processors still makes progress. */
static void
wait_flag (gint *flag)
{
  for (guint i = 0; !g_atomic_int_get (flag); i++)
    if (i > 20000)
      g_thread_yield ();
}

static gpointer
release_thread (gpointer data)
{
  Releaser *releaser = data;

  /* Spin to line up with the main thread's cancel. */
  g_atomic_int_set (&releaser->ready, TRUE);
  wait_flag (&releaser->go);
  spin (releaser->delay);
  gasync_semaphore_release (releaser->sem);

  return NULL;
}

/* A permit released on one thread just as the waiting acquire is
 * cancelled on another: either the cancellation wins (the permit goes
 * back) or the acquire got it (the canceller is told so).  Never both,
 * never neither. */
static void
test_cancel_race (Fixture       *fixture,
                  gconstpointer  data)
{
  GasyncSemaphore *sem = gasync_semaphore_new (0);
  guint cancel_won = 0;
  guint grant_won = 0;

  for (guint i = 0; i < 2000; i++)
    {
      Releaser releaser = { sem, FALSE, FALSE, (i % 2) ? 0 : (i / 2) % 400 };
      GasyncFuture *waiter = gasync_semaphore_acquire (sem);
      GThread *thread = g_thread_new ("releaser", release_thread, &releaser);
      gboolean cancelled;

      wait_flag (&releaser.ready);
      g_atomic_int_set (&releaser.go, TRUE);
      spin ((i % 2) ? (i / 2) % 400 : 0);
      cancelled = gasync_future_cancel (waiter);
      g_thread_join (thread);

      if (cancelled)
        {
          cancel_won++;
          g_assert_cmpint (gasync_future_get_state (waiter), ==, GASYNC_FUTURE_STATE_CANCELLED);
          g_assert_true (gasync_semaphore_try_acquire (sem));
        }
      else
        {
          grant_won++;
          g_assert_cmpint (gasync_future_get_state (waiter), ==, GASYNC_FUTURE_STATE_RESOLVED);
        }
      g_assert_cmpuint (gasync_semaphore_get_available (sem), ==, 0);
      g_assert_cmpuint (gasync_semaphore_get_n_waiting (sem), ==, 0);

      drain (fixture->context);
      g_assert_finalize_object (waiter);
    }

  g_test_message ("cancel won %u times, the grant %u times", cancel_won, grant_won);
  g_assert_finalize_object (sem);
}

typedef struct
{
  GasyncSemaphore *sem;
  gboolean         acquired;
} Acquirer;

static gboolean
acquire_body (gpointer   user_data,
              GValue    *result,
              GError   **error)
{
  Acquirer *acquirer = user_data;

  if (!gasync_await (gasync_semaphore_acquire (acquirer->sem), error))
    return FALSE;
  acquirer->acquired = TRUE;
  return TRUE;
}

/* A coroutine cancelled while it waits for a permit leaves the queue. */
static void
test_coroutine_cancel (Fixture       *fixture,
                       gconstpointer  data)
{
  GasyncSemaphore *sem = gasync_semaphore_new (0);
  Acquirer first = { sem, FALSE };
  Acquirer second = { sem, FALSE };
  GasyncCoroutine *co1 = gasync_coroutine_spawn ("first", acquire_body, &first, NULL);
  GasyncCoroutine *co2 = gasync_coroutine_spawn ("second", acquire_body, &second, NULL);

  drain (fixture->context);
  g_assert_cmpuint (gasync_semaphore_get_n_waiting (sem), ==, 2);

  gasync_future_cancel (GASYNC_FUTURE (co1));
  ITERATE_UNTIL (fixture->context, gasync_future_is_done (GASYNC_FUTURE (co1)));
  g_assert_cmpint (gasync_future_get_state (GASYNC_FUTURE (co1)), ==, GASYNC_FUTURE_STATE_CANCELLED);
  g_assert_cmpuint (gasync_semaphore_get_n_waiting (sem), ==, 1);

  gasync_semaphore_release (sem);
  ITERATE_UNTIL (fixture->context, gasync_future_is_done (GASYNC_FUTURE (co2)));
  g_assert_false (first.acquired);
  g_assert_true (second.acquired);
  g_assert_cmpuint (gasync_semaphore_get_available (sem), ==, 0);

  drain (fixture->context);
  g_assert_finalize_object (co1);
  g_assert_finalize_object (co2);
  g_assert_finalize_object (sem);
}

/* A permit that reached a coroutine's acquire just before the coroutine
 * was cancelled: the cancellation wins over the await's outcome, so the
 * body never holds the permit, and the permit goes back. */
static void
test_coroutine_cancel_granted (Fixture       *fixture,
                               gconstpointer  data)
{
  GasyncSemaphore *sem = gasync_semaphore_new (0);
  Acquirer waiting = { sem, FALSE };
  Acquirer unstarted = { sem, FALSE };
  GasyncCoroutine *co1 = gasync_coroutine_spawn ("waiting", acquire_body, &waiting, NULL);
  GasyncCoroutine *co2;

  drain (fixture->context);
  g_assert_cmpuint (gasync_semaphore_get_n_waiting (sem), ==, 1);

  /* Granted, then cancelled before the coroutine could resume. */
  gasync_semaphore_release (sem);
  g_assert_cmpuint (gasync_semaphore_get_n_waiting (sem), ==, 0);
  gasync_future_cancel (GASYNC_FUTURE (co1));
  ITERATE_UNTIL (fixture->context, gasync_future_is_done (GASYNC_FUTURE (co1)));
  g_assert_cmpint (gasync_future_get_state (GASYNC_FUTURE (co1)), ==, GASYNC_FUTURE_STATE_CANCELLED);
  g_assert_false (waiting.acquired);
  g_assert_cmpuint (gasync_semaphore_get_available (sem), ==, 1);

  /* Cancelled before it starts: its first await, of an acquire granted at
   * once, fails, and the permit goes back too. */
  co2 = gasync_coroutine_spawn ("unstarted", acquire_body, &unstarted, NULL);
  gasync_future_cancel (GASYNC_FUTURE (co2));
  ITERATE_UNTIL (fixture->context, gasync_future_is_done (GASYNC_FUTURE (co2)));
  g_assert_false (unstarted.acquired);
  g_assert_cmpuint (gasync_semaphore_get_available (sem), ==, 1);

  drain (fixture->context);
  g_assert_finalize_object (co1);
  g_assert_finalize_object (co2);
  g_assert_finalize_object (sem);
}

/* ------------------------------------------------------------------------ */
/* A bounded pool of coroutines                                             */
/* ------------------------------------------------------------------------ */

#define POOL_SIZE   100
#define POOL_LIMIT  8

typedef struct
{
  GasyncSemaphore *sem;
  int              active;
  int              max_active;
  guint            finished;
} Pool;

typedef struct
{
  Pool  *pool;
  guint  index;
} Worker;

static gboolean
digest_func (GCancellable  *cancellable,
             gpointer       user_data,
             GValue        *result,
             GError       **error)
{
  Worker *worker = user_data;
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA1);

  for (guint i = 0; i < 4096; i++)
    g_checksum_update (checksum, (const guchar *) &worker->index, sizeof worker->index);

  g_value_init (result, G_TYPE_STRING);
  g_value_set_string (result, g_checksum_get_string (checksum));
  return TRUE;
}

static gboolean
pool_body (gpointer   user_data,
           GValue    *result,
           GError   **error)
{
  Worker *worker = user_data;
  Pool *pool = worker->pool;
  g_autofree char *digest = NULL;

  if (!gasync_await (gasync_semaphore_acquire (pool->sem), error))
    return FALSE;

  pool->active++;
  pool->max_active = MAX (pool->max_active, pool->active);

  /* Hold the permit across real waits: a hash on a worker thread, and a
   * turn for every other coroutine. */
  digest = gasync_await_string (gasync_run_in_thread (digest_func, worker, NULL), error);
  if (digest == NULL || !gasync_yield (error))
    {
      pool->active--;
      gasync_semaphore_release (pool->sem);
      return FALSE;
    }
  g_assert_cmpuint (strlen (digest), ==, 40);

  pool->active--;
  gasync_semaphore_release (pool->sem);
  pool->finished++;
  return TRUE;
}

static void
test_pool (Fixture       *fixture,
           gconstpointer  data)
{
  Pool pool = { gasync_semaphore_new (POOL_LIMIT), 0, 0, 0 };
  Worker workers[POOL_SIZE];
  GasyncCoroutine *cos[POOL_SIZE];

  for (guint i = 0; i < POOL_SIZE; i++)
    {
      workers[i] = (Worker) { &pool, i };
      cos[i] = gasync_coroutine_spawn ("pooled", pool_body, &workers[i], NULL);
    }

  ITERATE_UNTIL (fixture->context, pool.finished == POOL_SIZE);
  g_assert_cmpint (pool.max_active, ==, POOL_LIMIT);
  g_assert_cmpint (pool.active, ==, 0);
  g_assert_cmpuint (gasync_semaphore_get_available (pool.sem), ==, POOL_LIMIT);

  drain (fixture->context);
  for (guint i = 0; i < POOL_SIZE; i++)
    {
      g_assert_cmpint (gasync_future_get_state (GASYNC_FUTURE (cos[i])), ==, GASYNC_FUTURE_STATE_RESOLVED);
      g_assert_finalize_object (cos[i]);
    }
  g_assert_finalize_object (pool.sem);
}

/* Not a semaphore: a critical, and a future rejected with
 * GASYNC_ERROR_FAILED rather than NULL. */
static void
test_misuse (Fixture       *fixture,
             gconstpointer  data)
{
  GObject *object = g_object_new (G_TYPE_OBJECT, NULL);
  GasyncFuture *refused;

  g_test_expect_message ("Gasync", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  refused = gasync_semaphore_acquire (NULL);
  g_test_assert_expected_messages ();
  assert_refused (refused, "gasync_semaphore_acquire");

  g_test_expect_message ("Gasync", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  refused = gasync_semaphore_acquire ((GasyncSemaphore *) object);
  g_test_assert_expected_messages ();
  assert_refused (refused, "gasync_semaphore_acquire");

  drain (fixture->context);
  g_assert_finalize_object (object);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("/Gasync/Semaphore/basic", test_basic);
  ADD ("/Gasync/Semaphore/fifo", test_fifo);
  ADD ("/Gasync/Semaphore/cancel-waiting", test_cancel_waiting);
  ADD ("/Gasync/Semaphore/cancel-race", test_cancel_race);
  ADD ("/Gasync/Semaphore/coroutine-cancel", test_coroutine_cancel);
  ADD ("/Gasync/Semaphore/coroutine-cancel-granted", test_coroutine_cancel_granted);
  ADD ("/Gasync/Semaphore/pool", test_pool);
  ADD ("/Gasync/Semaphore/misuse", test_misuse);

  return g_test_run ();
}
