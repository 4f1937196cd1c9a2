/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "gasync-thread.h"
#include "gasync-error.h"
#include "gasync-future-private.h"

/*
 * One GThreadPool for the whole process, created on first use and never
 * freed.  A job owns a reference on its future and on its cancellable (the
 * future's, linked both ways), and the data with its destroy notify.
 */

typedef struct
{
  GasyncFuture     *future;
  GCancellable     *cancellable;
  GasyncThreadFunc  func;
  gpointer          data;
  GDestroyNotify    destroy;
} Job;

static void
job_settle (Job      *job,
            gboolean  success,
            GValue   *result,
            GError   *error)
{
  GasyncFuture *future = job->future;

  if (success)
    {
      if (error != NULL)
        {
          g_critical ("A GasyncThreadFunc returned TRUE with an error set: %s",
                      error->message);
          g_error_free (error);
        }
      if (G_IS_VALUE (result))
        gasync_future_take_value (future, result);
      else
        gasync_future_resolve_void (future);
      return;
    }

  if (G_IS_VALUE (result))
    g_value_unset (result);
  if (error == NULL)
    {
      g_critical ("A GasyncThreadFunc returned FALSE without setting an error");
      error = g_error_new_literal (GASYNC_ERROR, GASYNC_ERROR_FAILED,
                                   "The work failed without saying why");
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    gasync_future_settle (future, GASYNC_FUTURE_STATE_CANCELLED, NULL, error);
  else
    gasync_future_take_error (future, error);
}

static void
job_run (gpointer data,
         gpointer pool_data)
{
  Job *job = data;
  GValue result = G_VALUE_INIT;
  GError *error = NULL;
  gboolean ran = FALSE;
  gboolean success = FALSE;

  /* A job cancelled while it was queued never starts. */
  if (!g_cancellable_is_cancelled (job->cancellable) &&
      !gasync_future_is_done (job->future))
    {
      success = job->func (job->cancellable, job->data, &result, &error);
      ran = TRUE;
    }

  /* Before settling: once the future has resolved, nothing of the job
   * touches the data any more. */
  if (job->destroy != NULL)
    job->destroy (job->data);

  if (ran)
    job_settle (job, success, &result, error);
  else
    gasync_future_cancel (job->future);

  g_object_unref (job->cancellable);
  g_object_unref (job->future);
  g_free (job);
}

static guint
compute_max_threads (void)
{
  return CLAMP (g_get_num_processors () * 2,
                GASYNC_THREAD_POOL_MIN_THREADS,
                GASYNC_THREAD_POOL_MAX_THREADS);
}

static GThreadPool *
get_pool (void)
{
  static GThreadPool *pool;

  if (g_once_init_enter (&pool))
    {
      GError *error = NULL;
      GThreadPool *created;

      /* Shared (not exclusive) threads: idle ones go back to GLib's global
       * pool and are reused by every non-exclusive GThreadPool. */
      created = g_thread_pool_new (job_run, NULL, (int) compute_max_threads (),
                                   FALSE, &error);
      if (created == NULL)
        g_error ("Cannot create gasync's worker pool: %s", error->message);
      g_once_init_leave (&pool, created);
    }

  return pool;
}

/**
 * gasync_thread_pool_get_max_threads:
 *
 * Gets the number of worker threads [func@run_in_thread] runs work on at
 * most: twice the number of processors, between
 * `GASYNC_THREAD_POOL_MIN_THREADS` and `GASYNC_THREAD_POOL_MAX_THREADS`.
 * Further work waits in a queue, first come first served.
 *
 * Returns: the size of the worker pool
 */
guint
gasync_thread_pool_get_max_threads (void)
{
  return (guint) g_thread_pool_get_max_threads (get_pool ());
}

/**
 * gasync_run_in_thread:
 * @func: (scope notified) (closure user_data) (destroy destroy): the
 *   blocking work
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data once @func has returned, or once
 *   it is known that it will never run
 *
 * Runs blocking work on a worker thread and returns a future of its
 * outcome, like asyncio's `to_thread()`. Awaiting the future suspends only
 * the awaiting coroutine: the main loop goes on while the work runs.
 *
 * The work runs on a bounded pool shared by the whole process
 * ([func@thread_pool_get_max_threads] threads); further work waits in a
 * first-come, first-served queue. Work that waits for other work run the
 * same way can therefore deadlock once the pool is full: split it with
 * futures instead.
 *
 * The future belongs to the thread-default main context of the caller:
 * @func's outcome is delivered there (its signals and done callbacks run
 * there), even though the future is settled from the worker thread.
 *
 * ## Cancellation
 *
 * Cancelling the future settles it as cancelled at once, like any plain
 * future, and cancels the `GCancellable` passed to @func (the future's own,
 * [method@Future.get_cancellable]). A thread cannot be stopped from outside:
 * @func keeps running until it notices the cancellable or finishes, its
 * outcome is then dropped, and its worker thread stays busy until then.
 * Work cancelled before a worker picked it up never starts.
 *
 * @destroy is called on the worker thread, after @func has returned and
 * before the future settles (or, after a cancellation, whenever @func
 * returns).
 *
 * ## Bindings
 *
 * @func runs on a worker thread. In Python, PyGObject takes the GIL to
 * call it, so it runs concurrently with the main thread only while it is
 * in code that releases the GIL (blocking I/O, `time.sleep()`, most GLib
 * calls); it returns a `(success, value)` pair and raises `GLib.Error` to
 * fail. It must not touch objects of the main thread, such as widgets.
 * GJS cannot run JavaScript on another thread: it refuses to call @func
 * (with a critical warning) and the future is rejected, so JavaScript code
 * should use GIO's asynchronous calls or a subprocess instead.
 *
 * Returns: (transfer full): a new future of @func's outcome
 */
GasyncFuture *
gasync_run_in_thread (GasyncThreadFunc func,
                      gpointer         user_data,
                      GDestroyNotify   destroy)
{
  GasyncFuture *future;
  Job *job;

  gasync_return_rejected_if_fail (func != NULL);

  future = gasync_future_new ();

  job = g_new0 (Job, 1);
  job->future = g_object_ref (future);
  job->cancellable = g_object_ref (gasync_future_get_cancellable (future));
  job->func = func;
  job->data = user_data;
  job->destroy = destroy;

  g_thread_pool_push (get_pool (), job, NULL);

  return future;
}
