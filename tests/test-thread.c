/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gasync/gasync.h>

#include "gasync-test-util.h"

#define LIBRARY_DOMAIN "Gasync"

/*
 * A one-shot event between threads, with a watchdog: for what happens on
 * worker threads after the future has settled, when nothing wakes the
 * main context any more.
 */
typedef struct
{
  GMutex   mutex;
  GCond    cond;
  gboolean set;
} Event;

static void
event_init (Event *event)
{
  g_mutex_init (&event->mutex);
  g_cond_init (&event->cond);
  event->set = FALSE;
}

static void
event_clear (Event *event)
{
  g_mutex_clear (&event->mutex);
  g_cond_clear (&event->cond);
}

static void
event_set (Event *event)
{
  g_mutex_lock (&event->mutex);
  event->set = TRUE;
  g_cond_broadcast (&event->cond);
  g_mutex_unlock (&event->mutex);
}

static void
event_wait (Event *event)
{
  gint64 deadline = g_get_monotonic_time () + WATCHDOG_SECONDS * G_USEC_PER_SEC;

  g_mutex_lock (&event->mutex);
  while (!event->set)
    if (!g_cond_wait_until (&event->cond, &event->mutex, deadline))
      g_error ("Timed out waiting for a worker thread");
  g_mutex_unlock (&event->mutex);
}

/* A worker drops its reference on the future right after settling it, so
 * the test may see the future settled (and delivered) a moment before:
 * waits for that, then checks the future is finalized with the last
 * reference. */
static void
assert_finalize_future (GMainContext *context,
                        GasyncFuture *future)
{
  gint64 deadline = g_get_monotonic_time () + WATCHDOG_SECONDS * G_USEC_PER_SEC;

  drain (context);
  while (g_atomic_int_get (&G_OBJECT (future)->ref_count) > 1)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("Timed out waiting for a worker to drop its reference");
      g_thread_yield ();
    }
  g_assert_finalize_object (future);
}

static void
count_cb (GasyncFuture *future,
          gpointer      user_data)
{
  (*(int *) user_data)++;
}

/* Blocks until @cancellable is cancelled, in poll(), not by sleeping. */
static void
wait_for_cancellation (GCancellable *cancellable)
{
  GPollFD pollfd;

  g_assert_true (g_cancellable_make_pollfd (cancellable, &pollfd));
  while (!g_cancellable_is_cancelled (cancellable))
    g_poll (&pollfd, 1, -1);
  g_cancellable_release_fd (cancellable);
}

/* ------------------------------------------------------------------------ */
/* Outcomes                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct
{
  GThread *main_thread;
  GThread *ran_on;
  int      destroyed;
  gboolean destroyed_before_done;
  GThread *done_on;
} Job;

static gboolean
answer_func (GCancellable  *cancellable,
             gpointer       user_data,
             GValue        *result,
             GError       **error)
{
  Job *job = user_data;

  job->ran_on = g_thread_self ();
  g_assert_true (G_IS_CANCELLABLE (cancellable));
  g_assert_false (G_IS_VALUE (result));

  g_value_init (result, G_TYPE_INT);
  g_value_set_int (result, 42);
  return TRUE;
}

static void
job_destroy (gpointer user_data)
{
  Job *job = user_data;

  g_atomic_int_inc (&job->destroyed);
}

static void
job_done_cb (GasyncFuture *future,
             gpointer      user_data)
{
  Job *job = user_data;

  job->destroyed_before_done = g_atomic_int_get (&job->destroyed) == 1;
  job->done_on = g_thread_self ();
}

static void
test_value (Fixture       *fixture,
            gconstpointer  data)
{
  Job job = { .main_thread = g_thread_self () };
  g_autoptr(GError) error = NULL;
  GasyncFuture *future;

  future = gasync_run_in_thread (answer_func, &job, job_destroy);
  gasync_future_add_done_callback (future, job_done_cb, &job, NULL);
  g_assert_true (gasync_future_get_context (future) == fixture->context);

  ITERATE_UNTIL (fixture->context, job.done_on != NULL);
  g_assert_cmpint (gasync_future_get_int (future, &error), ==, 42);
  g_assert_no_error (error);

  /* Run on a worker; delivered on the caller's context; the data was
   * released before the future settled. */
  g_assert_true (job.ran_on != job.main_thread);
  g_assert_true (job.done_on == job.main_thread);
  g_assert_true (job.destroyed_before_done);
  g_assert_cmpint (job.destroyed, ==, 1);

  assert_finalize_future (fixture->context, future);
}

static gboolean
void_func (GCancellable  *cancellable,
           gpointer       user_data,
           GValue        *result,
           GError       **error)
{
  return TRUE;
}

static gboolean
fail_func (GCancellable  *cancellable,
           gpointer       user_data,
           GValue        *result,
           GError       **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "not there");
  return FALSE;
}

static gboolean
cancelled_func (GCancellable  *cancellable,
                gpointer       user_data,
                GValue        *result,
                GError       **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "gave up");
  return FALSE;
}

static void
test_outcomes (Fixture       *fixture,
               gconstpointer  data)
{
  GasyncFuture *void_future = gasync_run_in_thread (void_func, NULL, NULL);
  GasyncFuture *failed = gasync_run_in_thread (fail_func, NULL, NULL);
  GasyncFuture *cancelled = gasync_run_in_thread (cancelled_func, NULL, NULL);
  g_autoptr(GError) error = NULL;

  ITERATE_UNTIL (fixture->context,
                 gasync_future_is_done (void_future) &&
                 gasync_future_is_done (failed) &&
                 gasync_future_is_done (cancelled));

  g_assert_cmpint (gasync_future_get_state (void_future), ==, GASYNC_FUTURE_STATE_RESOLVED);
  g_assert_false (gasync_future_has_value (void_future));

  g_assert_false (gasync_future_propagate_error (failed, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Returning G_IO_ERROR_CANCELLED ends the future cancelled. */
  g_assert_cmpint (gasync_future_get_state (cancelled), ==, GASYNC_FUTURE_STATE_CANCELLED);

  assert_finalize_future (fixture->context, void_future);
  assert_finalize_future (fixture->context, failed);
  assert_finalize_future (fixture->context, cancelled);
}

/* ------------------------------------------------------------------------ */
/* Cancellation                                                             */
/* ------------------------------------------------------------------------ */

typedef struct
{
  Event    started;
  Event    destroyed;
  gboolean saw_cancellation;
} Blocker;

static gboolean
block_until_cancelled_func (GCancellable  *cancellable,
                            gpointer       user_data,
                            GValue        *result,
                            GError       **error)
{
  Blocker *blocker = user_data;

  event_set (&blocker->started);
  wait_for_cancellation (cancellable);
  blocker->saw_cancellation = TRUE;

  /* Dropped: the future is settled already. */
  g_value_init (result, G_TYPE_STRING);
  g_value_set_static_string (result, "too late");
  return TRUE;
}

static void
blocker_destroy (gpointer user_data)
{
  Blocker *blocker = user_data;

  event_set (&blocker->destroyed);
}

/* Cancelling a running job settles the future at once and cancels the
 * cancellable the work polls; the work's late outcome is dropped. */
static void
test_cancel_running (Fixture       *fixture,
                     gconstpointer  data)
{
  Blocker blocker = { 0, };
  GasyncFuture *future;
  int done = 0;

  event_init (&blocker.started);
  event_init (&blocker.destroyed);

  future = gasync_run_in_thread (block_until_cancelled_func, &blocker, blocker_destroy);
  gasync_future_add_done_callback (future, count_cb, &done, NULL);
  event_wait (&blocker.started);

  g_assert_true (gasync_future_cancel (future));
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_CANCELLED);
  g_assert_true (g_cancellable_is_cancelled (gasync_future_get_cancellable (future)));

  event_wait (&blocker.destroyed);
  g_assert_true (blocker.saw_cancellation);

  drain (fixture->context);
  g_assert_cmpint (done, ==, 1);
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_CANCELLED);
  assert_finalize_future (fixture->context, future);

  event_clear (&blocker.started);
  event_clear (&blocker.destroyed);
}

/* A count that worker threads raise and the test thread waits for. */
typedef struct
{
  GMutex mutex;
  GCond  cond;
  guint  value;
} Counter;

static void
counter_inc (Counter *counter)
{
  g_mutex_lock (&counter->mutex);
  counter->value++;
  g_cond_broadcast (&counter->cond);
  g_mutex_unlock (&counter->mutex);
}

static void
counter_wait (Counter *counter,
              guint    value)
{
  gint64 deadline = g_get_monotonic_time () + WATCHDOG_SECONDS * G_USEC_PER_SEC;

  g_mutex_lock (&counter->mutex);
  while (counter->value < value)
    if (!g_cond_wait_until (&counter->cond, &counter->mutex, deadline))
      g_error ("Timed out waiting for worker threads");
  g_mutex_unlock (&counter->mutex);
}

typedef struct
{
  Event   gate;
  Counter started;
} Gate;

static gboolean
gated_func (GCancellable  *cancellable,
            gpointer       user_data,
            GValue        *result,
            GError       **error)
{
  Gate *gate = user_data;

  counter_inc (&gate->started);
  event_wait (&gate->gate);
  return TRUE;
}

typedef struct
{
  int   runs;
  Event destroyed;
} Queued;

static gboolean
queued_func (GCancellable  *cancellable,
             gpointer       user_data,
             GValue        *result,
             GError       **error)
{
  Queued *queued = user_data;

  g_atomic_int_inc (&queued->runs);
  return TRUE;
}

static void
queued_destroy (gpointer user_data)
{
  Queued *queued = user_data;

  event_set (&queued->destroyed);
}

/* Work cancelled while it waits for a worker never starts, and its data is
 * still released. */
static void
test_cancel_queued (Fixture       *fixture,
                    gconstpointer  data)
{
  guint max = gasync_thread_pool_get_max_threads ();
  GasyncFuture **busy = g_new0 (GasyncFuture *, max);
  Gate gate = { 0, };
  Queued queued = { 0, };
  GasyncFuture *future;

  g_assert_cmpuint (max, >=, GASYNC_THREAD_POOL_MIN_THREADS);
  g_assert_cmpuint (max, <=, GASYNC_THREAD_POOL_MAX_THREADS);

  event_init (&gate.gate);
  g_mutex_init (&gate.started.mutex);
  g_cond_init (&gate.started.cond);
  event_init (&queued.destroyed);

  /* Occupy every worker: the pool is bounded, so the next job waits. */
  for (guint i = 0; i < max; i++)
    busy[i] = gasync_run_in_thread (gated_func, &gate, NULL);
  counter_wait (&gate.started, max);

  future = gasync_run_in_thread (queued_func, &queued, queued_destroy);
  g_assert_true (gasync_future_cancel (future));
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_CANCELLED);

  event_set (&gate.gate);
  event_wait (&queued.destroyed);
  g_assert_cmpint (g_atomic_int_get (&queued.runs), ==, 0);

  for (guint i = 0; i < max; i++)
    {
      ITERATE_UNTIL (fixture->context, gasync_future_is_done (busy[i]));
      g_assert_cmpint (gasync_future_get_state (busy[i]), ==, GASYNC_FUTURE_STATE_RESOLVED);
    }
  g_assert_cmpuint (gate.started.value, ==, max);

  for (guint i = 0; i < max; i++)
    assert_finalize_future (fixture->context, busy[i]);
  g_free (busy);
  assert_finalize_future (fixture->context, future);

  event_clear (&gate.gate);
  g_mutex_clear (&gate.started.mutex);
  g_cond_clear (&gate.started.cond);
  event_clear (&queued.destroyed);
}

/* ------------------------------------------------------------------------ */
/* Coroutines and the main loop                                             */
/* ------------------------------------------------------------------------ */

/* Work that blocks its thread until the main loop has ticked often
 * enough: it can only return "ticked" if the loop kept running while the
 * work (and the coroutine awaiting it) was blocked.  No timing is
 * involved, so a slow machine or Valgrind cannot make it fail; a blocked
 * loop gives up after WATCHDOG_SECONDS. */
typedef struct
{
  GMutex mutex;
  GCond  cond;
  int    ticks;
} Ticks;

#define TICKS_WANTED 5

static gboolean
block_until_ticked_func (GCancellable  *cancellable,
                         gpointer       user_data,
                         GValue        *result,
                         GError       **error)
{
  Ticks *ticks = user_data;
  gint64 deadline = g_get_monotonic_time () + WATCHDOG_SECONDS * G_TIME_SPAN_SECOND;
  gboolean ticked = TRUE;

  g_mutex_lock (&ticks->mutex);
  while (ticks->ticks < TICKS_WANTED && ticked)
    ticked = g_cond_wait_until (&ticks->cond, &ticks->mutex, deadline);
  ticked = ticks->ticks >= TICKS_WANTED;
  g_mutex_unlock (&ticks->mutex);

  g_value_init (result, G_TYPE_STRING);
  g_value_set_static_string (result, ticked ? "ticked" : "loop blocked");
  return TRUE;
}

static gboolean
await_thread_body (gpointer   user_data,
                   GValue    *result,
                   GError   **error)
{
  g_autofree char *text = NULL;

  text = gasync_await_string (gasync_run_in_thread (block_until_ticked_func,
                                                    user_data, NULL),
                              error);
  if (text == NULL)
    return FALSE;

  g_value_init (result, G_TYPE_STRING);
  g_value_take_string (result, g_steal_pointer (&text));
  return TRUE;
}

static gboolean
tick_cb (gpointer data)
{
  Ticks *ticks = data;

  g_mutex_lock (&ticks->mutex);
  ticks->ticks++;
  g_cond_signal (&ticks->cond);
  g_mutex_unlock (&ticks->mutex);
  return G_SOURCE_CONTINUE;
}

/* A coroutine awaiting blocking work does not block its main loop: a
 * 10 ms timeout at GTK's paint priority keeps firing meanwhile. */
static void
test_main_loop_responsive (Fixture       *fixture,
                           gconstpointer  data)
{
  Ticks ticks = { 0 };
  GasyncCoroutine *co;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  GSource *ticker;

  g_mutex_init (&ticks.mutex);
  g_cond_init (&ticks.cond);
  co = gasync_coroutine_spawn ("await-thread", await_thread_body, &ticks, NULL);

  ticker = g_timeout_source_new (10);
  g_source_set_priority (ticker, 120);
  g_source_set_callback (ticker, tick_cb, &ticks, NULL);
  g_source_attach (ticker, fixture->context);

  ITERATE_UNTIL (fixture->context, gasync_future_is_done (GASYNC_FUTURE (co)));
  g_source_destroy (ticker);
  g_source_unref (ticker);

  text = gasync_future_dup_string (GASYNC_FUTURE (co), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, "ticked");

  drain (fixture->context);
  g_assert_finalize_object (co);
  g_cond_clear (&ticks.cond);
  g_mutex_clear (&ticks.mutex);
}

typedef struct
{
  Blocker       blocker;
  GCancellable *cancellable;  /* the job's, once it runs */
} CoBlock;

static gboolean
co_block_func (GCancellable  *cancellable,
               gpointer       user_data,
               GValue        *result,
               GError       **error)
{
  CoBlock *co_block = user_data;

  co_block->cancellable = g_object_ref (cancellable);
  return block_until_cancelled_func (cancellable, &co_block->blocker, result, error);
}

static void
co_block_destroy (gpointer user_data)
{
  CoBlock *co_block = user_data;

  blocker_destroy (&co_block->blocker);
}

static gboolean
co_block_body (gpointer   user_data,
               GValue    *result,
               GError   **error)
{
  CoBlock *co_block = user_data;

  return gasync_await (gasync_run_in_thread (co_block_func, co_block, co_block_destroy), error);
}

/* Cancelling a coroutine that awaits thread work cancels the work's
 * cancellable, and the coroutine ends without waiting for the thread. */
static void
test_coroutine_cancel (Fixture       *fixture,
                       gconstpointer  data)
{
  CoBlock co_block = { 0, };
  GasyncCoroutine *co;

  event_init (&co_block.blocker.started);
  event_init (&co_block.blocker.destroyed);

  co = gasync_coroutine_spawn ("await-blocked", co_block_body, &co_block, NULL);
  /* Runs the body up to its await; then the work is under way. */
  drain (fixture->context);
  event_wait (&co_block.blocker.started);

  gasync_future_cancel (GASYNC_FUTURE (co));
  ITERATE_UNTIL (fixture->context, gasync_future_is_done (GASYNC_FUTURE (co)));
  g_assert_cmpint (gasync_future_get_state (GASYNC_FUTURE (co)), ==, GASYNC_FUTURE_STATE_CANCELLED);

  /* The work saw the cancellation and returned. */
  event_wait (&co_block.blocker.destroyed);
  g_assert_true (co_block.blocker.saw_cancellation);
  g_assert_true (g_cancellable_is_cancelled (co_block.cancellable));
  g_clear_object (&co_block.cancellable);

  drain (fixture->context);
  g_assert_finalize_object (co);

  event_clear (&co_block.blocker.started);
  event_clear (&co_block.blocker.destroyed);
}

/* ------------------------------------------------------------------------ */
/* Many jobs                                                                */
/* ------------------------------------------------------------------------ */

typedef struct
{
  int running;
  int max_running;
} Concurrency;

typedef struct
{
  Concurrency *concurrency;
  guint        seed;
} HashJob;

static gboolean
hash_func (GCancellable  *cancellable,
           gpointer       user_data,
           GValue        *result,
           GError       **error)
{
  HashJob *job = user_data;
  int running = g_atomic_int_add (&job->concurrency->running, 1) + 1;
  int max = g_atomic_int_get (&job->concurrency->max_running);
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);

  while (running > max &&
         !g_atomic_int_compare_and_exchange (&job->concurrency->max_running, max, running))
    max = g_atomic_int_get (&job->concurrency->max_running);

  for (guint i = 0; i < 1000; i++)
    {
      guint word = job->seed * 1000 + i;

      g_checksum_update (checksum, (const guchar *) &word, sizeof word);
    }

  g_value_init (result, G_TYPE_STRING);
  g_value_set_string (result, g_checksum_get_string (checksum));

  g_atomic_int_add (&job->concurrency->running, -1);
  return TRUE;
}

static char *
expected_hash (guint seed)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);

  for (guint i = 0; i < 1000; i++)
    {
      guint word = seed * 1000 + i;

      g_checksum_update (checksum, (const guchar *) &word, sizeof word);
    }

  return g_strdup (g_checksum_get_string (checksum));
}

/* Many jobs at once: each result reaches its own future, and no more run
 * at once than the pool has threads. */
static void
test_many (Fixture       *fixture,
           gconstpointer  data)
{
  enum { N = 500 };
  Concurrency concurrency = { 0, };
  HashJob jobs[N];
  GasyncFuture *futures[N];

  for (guint i = 0; i < N; i++)
    {
      jobs[i] = (HashJob) { &concurrency, i };
      futures[i] = gasync_run_in_thread (hash_func, &jobs[i], NULL);
    }

  for (guint i = 0; i < N; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *hash = NULL;
      g_autofree char *expected = expected_hash (i);

      ITERATE_UNTIL (fixture->context, gasync_future_is_done (futures[i]));
      hash = gasync_future_dup_string (futures[i], &error);
      g_assert_no_error (error);
      g_assert_cmpstr (hash, ==, expected);
    }

  g_assert_cmpint (concurrency.max_running, >=, 1);
  g_assert_cmpint (concurrency.max_running, <=, (int) gasync_thread_pool_get_max_threads ());

  for (guint i = 0; i < N; i++)
    assert_finalize_future (fixture->context, futures[i]);
}

/* No function: a critical, and a future rejected with GASYNC_ERROR_FAILED
 * rather than NULL. */
static void
test_misuse (Fixture       *fixture,
             gconstpointer  data)
{
  GasyncFuture *refused;

  g_test_expect_message (LIBRARY_DOMAIN, G_LOG_LEVEL_CRITICAL, "*assertion*func != NULL*failed*");
  refused = gasync_run_in_thread (NULL, NULL, NULL);
  g_test_assert_expected_messages ();
  assert_refused (refused, "gasync_run_in_thread");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("/Gasync/Thread/value", test_value);
  ADD ("/Gasync/Thread/outcomes", test_outcomes);
  ADD ("/Gasync/Thread/cancel-running", test_cancel_running);
  ADD ("/Gasync/Thread/cancel-queued", test_cancel_queued);
  ADD ("/Gasync/Thread/main-loop-responsive", test_main_loop_responsive);
  ADD ("/Gasync/Thread/coroutine-cancel", test_coroutine_cancel);
  ADD ("/Gasync/Thread/many", test_many);
  ADD ("/Gasync/Thread/misuse", test_misuse);

  return g_test_run ();
}
