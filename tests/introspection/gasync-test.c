/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libgasynctest: a test-only introspectable library (namespace GasyncTest)
 * whose functions spawn stackful C coroutines that await futures handed in
 * from Python or JavaScript.  Never installed.
 */
#define _GNU_SOURCE /* pthread_getattr_np() */
#include "config.h"

#include "gasync-test.h"

#include <pthread.h>

/**
 * GasyncTestRecorder:
 *
 * An append-only list of strings, in which the C coroutines of this library
 * write what happened to them, for the tests to read back.
 */
struct _GasyncTestRecorder
{
  GObject    parent_instance;

  GMutex     lock;
  GPtrArray *events;  /* guarded by lock */
};

G_DEFINE_FINAL_TYPE (GasyncTestRecorder, gasync_test_recorder, G_TYPE_OBJECT)

static void
gasync_test_recorder_finalize (GObject *object)
{
  GasyncTestRecorder *self = GASYNC_TEST_RECORDER (object);

  g_clear_pointer (&self->events, g_ptr_array_unref);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (gasync_test_recorder_parent_class)->finalize (object);
}

static void
gasync_test_recorder_class_init (GasyncTestRecorderClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = gasync_test_recorder_finalize;
}

static void
gasync_test_recorder_init (GasyncTestRecorder *self)
{
  g_mutex_init (&self->lock);
  self->events = g_ptr_array_new_with_free_func (g_free);
}

/**
 * gasync_test_recorder_new:
 *
 * Creates an empty recorder.
 *
 * Returns: (transfer full): a new recorder
 */
GasyncTestRecorder *
gasync_test_recorder_new (void)
{
  return g_object_new (GASYNC_TEST_TYPE_RECORDER, NULL);
}

/**
 * gasync_test_recorder_add:
 * @self: a recorder
 * @event: the event to append
 *
 * Appends @event.
 */
void
gasync_test_recorder_add (GasyncTestRecorder *self,
                          const char         *event)
{
  g_return_if_fail (GASYNC_TEST_IS_RECORDER (self));
  g_return_if_fail (event != NULL);

  g_mutex_lock (&self->lock);
  g_ptr_array_add (self->events, g_strdup (event));
  g_mutex_unlock (&self->lock);
}

/**
 * gasync_test_recorder_dup_events:
 * @self: a recorder
 *
 * Gets the events recorded so far, oldest first.
 *
 * Returns: (transfer full) (array zero-terminated=1): the events
 */
char **
gasync_test_recorder_dup_events (GasyncTestRecorder *self)
{
  GStrvBuilder *builder;
  char **events;

  g_return_val_if_fail (GASYNC_TEST_IS_RECORDER (self), NULL);

  builder = g_strv_builder_new ();
  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->events->len; i++)
    g_strv_builder_add (builder, g_ptr_array_index (self->events, i));
  g_mutex_unlock (&self->lock);
  events = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);

  return events;
}

/**
 * gasync_test_recorder_get_n_events:
 * @self: a recorder
 *
 * Gets the number of events recorded so far.
 *
 * Returns: the number of events
 */
guint
gasync_test_recorder_get_n_events (GasyncTestRecorder *self)
{
  guint n;

  g_return_val_if_fail (GASYNC_TEST_IS_RECORDER (self), 0);

  g_mutex_lock (&self->lock);
  n = self->events->len;
  g_mutex_unlock (&self->lock);

  return n;
}

static void
cancellable_cancelled_cb (GCancellable *cancellable,
                          gpointer      data)
{
  gasync_test_recorder_add (GASYNC_TEST_RECORDER (data),
                            gasync_test_on_coroutine_stack ()
                            ? "cancellable:on-coroutine-stack"
                            : "cancellable:off-coroutine-stack");
}

/**
 * gasync_test_recorder_watch_cancellable:
 * @self: a recorder
 * @cancellable: a cancellable
 *
 * Records `cancellable:off-coroutine-stack` when @cancellable is cancelled,
 * or `cancellable:on-coroutine-stack` if its handlers run on the stack of a
 * stackful coroutine, where a handler written in Python or JavaScript must
 * never run. The handler stays connected as long as @cancellable lives.
 */
void
gasync_test_recorder_watch_cancellable (GasyncTestRecorder *self,
                                        GCancellable       *cancellable)
{
  g_return_if_fail (GASYNC_TEST_IS_RECORDER (self));
  g_return_if_fail (G_IS_CANCELLABLE (cancellable));

  g_cancellable_connect (cancellable, G_CALLBACK (cancellable_cancelled_cb),
                         g_object_ref (self), g_object_unref);
}

static void
record_take (GasyncTestRecorder *recorder,
             char               *event)
{
  if (recorder != NULL)
    gasync_test_recorder_add (recorder, event);
  g_free (event);
}

/* --- helpers ------------------------------------------------------------ */

/* `start`, or `start-off-coroutine-stack` if the stack check fails where it
 * must succeed: a test of gasync_test_on_coroutine_stack() itself. */
static void
record_start (GasyncTestRecorder *recorder)
{
  gasync_test_recorder_add (recorder, gasync_test_on_coroutine_stack ()
                                      ? "start" : "start-off-coroutine-stack");
}

static gboolean
sleep_fire_cb (gpointer data)
{
  gasync_future_resolve_void (GASYNC_FUTURE (data));
  return G_SOURCE_REMOVE;
}

static void
sleep_done_cb (GasyncFuture *future,
               gpointer      data)
{
  g_source_destroy (data);
}

/**
 * gasync_test_sleep:
 * @ms: the delay, in milliseconds
 *
 * Creates a future that resolves without a value after @ms milliseconds,
 * from a timeout on the thread-default main context. Cancelling it removes
 * the timeout.
 *
 * Returns: (transfer full): a new future
 */
GasyncFuture *
gasync_test_sleep (guint ms)
{
  GasyncFuture *future = gasync_future_new ();
  GSource *source = g_timeout_source_new (ms);

  gasync_future_set_name (future, "gasync-test-sleep");
  g_source_set_callback (source, sleep_fire_cb, g_object_ref (future), g_object_unref);
  g_source_attach (source, gasync_future_get_context (future));
  /* The source holds the future until it fires; the done callback removes
   * it when the future is cancelled first. */
  gasync_future_add_done_callback (future, sleep_done_cb,
                                   source, (GDestroyNotify) g_source_unref);

  return future;
}

/**
 * gasync_test_on_coroutine_stack:
 *
 * Tells whether the caller runs on the stack of a stackful coroutine rather
 * than on its thread's own stack. Python and JavaScript code must never see
 * `TRUE` here.
 *
 * Returns: `TRUE` on a coroutine stack
 */
gboolean
gasync_test_on_coroutine_stack (void)
{
  GasyncCoroutine *current = gasync_coroutine_get_current ();
  guintptr frame = (guintptr) __builtin_frame_address (0);
  pthread_attr_t attr;
  void *stack = NULL;
  size_t size = 0;

  if (current != NULL && gasync_coroutine_is_stackful (current))
    return TRUE;

  if (pthread_getattr_np (pthread_self (), &attr) != 0)
    return FALSE;
  pthread_attr_getstack (&attr, &stack, &size);
  pthread_attr_destroy (&attr);

  return frame < (guintptr) stack || frame >= (guintptr) stack + size;
}

static char *
describe_value (const GValue *value)
{
  GType type = G_VALUE_TYPE (value);
  g_autofree char *contents = NULL;

  if (G_VALUE_HOLDS_STRING (value))
    contents = g_strdup (g_value_get_string (value));
  else if (G_VALUE_HOLDS_OBJECT (value))
    contents = g_strdup (g_value_get_object (value) != NULL
                         ? G_OBJECT_TYPE_NAME (g_value_get_object (value))
                         : "NULL");
  else
    contents = g_strdup_value_contents (value);

  return g_strdup_printf ("resolved:%s:%s", g_type_name (type), contents);
}

static char *
describe_error (const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return g_strdup_printf ("cancelled:%s", error->message);

  return g_strdup_printf ("rejected:%s:%d:%s",
                          g_quark_to_string (error->domain), error->code,
                          error->message);
}

/**
 * gasync_test_describe_outcome:
 * @future: a future
 *
 * Describes the outcome of @future as the coroutines of this library record
 * it: `pending`, `resolved` (no value), `resolved:TYPE:CONTENTS`,
 * `rejected:DOMAIN:CODE:MESSAGE` or `cancelled:MESSAGE`.
 *
 * Returns: (transfer full): the description
 */
char *
gasync_test_describe_outcome (GasyncFuture *future)
{
  g_auto(GValue) value = G_VALUE_INIT;
  g_autoptr(GError) error = NULL;

  g_return_val_if_fail (GASYNC_IS_FUTURE (future), NULL);

  if (!gasync_future_is_done (future))
    return g_strdup ("pending");
  if (!gasync_future_get_value (future, &value, &error))
    return describe_error (error);
  if (!G_IS_VALUE (&value))
    return g_strdup ("resolved");
  return describe_value (&value);
}

/* --- coroutines ---------------------------------------------------------- */

typedef struct
{
  GasyncFuture       *future;
  GasyncTestRecorder *recorder;
  guint               count;
} Job;

static Job *
job_new (GasyncFuture       *future,
         GasyncTestRecorder *recorder,
         guint               count)
{
  Job *job = g_new0 (Job, 1);

  job->future = future != NULL ? g_object_ref (future) : NULL;
  job->recorder = recorder != NULL ? g_object_ref (recorder) : NULL;
  job->count = count;

  return job;
}

static void
job_free (gpointer data)
{
  Job *job = data;

  g_clear_object (&job->future);
  g_clear_object (&job->recorder);
  g_free (job);
}

static gboolean
await_and_double_body (gpointer   data,
                       GValue    *result,
                       GError   **error)
{
  Job *job = data;
  GError *local_error = NULL;
  int value;

  value = gasync_await_int (g_object_ref (job->future), &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }

  g_value_init (result, G_TYPE_INT);
  g_value_set_int (result, 2 * value);
  return TRUE;
}

/**
 * gasync_test_await_and_double:
 * @future: a future that resolves with an `int`
 *
 * Spawns a stackful coroutine on the thread-default main context that
 * awaits @future and resolves with twice its value, or ends as @future
 * did if it failed.
 *
 * Returns: (transfer full): the coroutine
 */
GasyncCoroutine *
gasync_test_await_and_double (GasyncFuture *future)
{
  g_return_val_if_fail (GASYNC_IS_FUTURE (future), NULL);

  return gasync_coroutine_spawn ("await-and-double", await_and_double_body,
                                 job_new (future, NULL, 0), job_free);
}

static gboolean
await_and_describe_body (gpointer   data,
                         GValue    *result,
                         GError   **error)
{
  Job *job = data;
  g_auto(GValue) value = G_VALUE_INIT;
  g_autoptr(GError) local_error = NULL;
  char *description;

  if (!gasync_await_value (g_object_ref (job->future), &value, &local_error))
    description = describe_error (local_error);
  else if (!G_IS_VALUE (&value))
    description = g_strdup ("resolved");
  else
    description = describe_value (&value);

  g_value_init (result, G_TYPE_STRING);
  g_value_take_string (result, description);
  return TRUE;
}

/**
 * gasync_test_await_and_describe:
 * @future: a future
 *
 * Spawns a stackful coroutine that awaits @future and resolves with a
 * description of its outcome as seen from C (see
 * [func@describe_outcome]), whatever that outcome is.
 *
 * Returns: (transfer full): the coroutine
 */
GasyncCoroutine *
gasync_test_await_and_describe (GasyncFuture *future)
{
  g_return_val_if_fail (GASYNC_IS_FUTURE (future), NULL);

  return gasync_coroutine_spawn ("await-and-describe", await_and_describe_body,
                                 job_new (future, NULL, 0), job_free);
}

static gboolean
await_recorded_body (gpointer   data,
                     GValue    *result,
                     GError   **error)
{
  Job *job = data;
  g_auto(GValue) value = G_VALUE_INIT;
  GError *local_error = NULL;
  g_autofree char *awaited = NULL;

  record_start (job->recorder);
  if (!gasync_await_value (g_object_ref (job->future), &value, &local_error))
    {
      record_take (job->recorder, describe_error (local_error));
      awaited = gasync_test_describe_outcome (job->future);
      record_take (job->recorder, g_strconcat ("awaited:", awaited, NULL));
      g_propagate_error (error, local_error);
      return FALSE;
    }

  record_take (job->recorder, G_IS_VALUE (&value) ? describe_value (&value)
                                                 : g_strdup ("resolved"));
  if (G_IS_VALUE (&value))
    {
      g_value_init (result, G_VALUE_TYPE (&value));
      g_value_copy (&value, result);
    }
  return TRUE;
}

/**
 * gasync_test_await_recorded:
 * @future: a future
 * @recorder: where to record what happened
 *
 * Spawns a stackful coroutine that records `start`, awaits @future, and
 * records what its await gave (see [func@describe_outcome]). On failure it
 * also records `awaited:` followed by the outcome of @future itself, then
 * ends with the await's error: `G_IO_ERROR_CANCELLED` ends it cancelled.
 * Otherwise it resolves with @future's value.
 *
 * Returns: (transfer full): the coroutine
 */
GasyncCoroutine *
gasync_test_await_recorded (GasyncFuture       *future,
                            GasyncTestRecorder *recorder)
{
  g_return_val_if_fail (GASYNC_IS_FUTURE (future), NULL);
  g_return_val_if_fail (GASYNC_TEST_IS_RECORDER (recorder), NULL);

  return gasync_coroutine_spawn ("await-recorded", await_recorded_body,
                                 job_new (future, recorder, 0), job_free);
}

static gboolean
sleep_until_cancelled_body (gpointer   data,
                            GValue    *result,
                            GError   **error)
{
  Job *job = data;
  GError *local_error = NULL;
  guint slept = 0;

  record_start (job->recorder);
  while (gasync_await (gasync_test_sleep (job->count), &local_error))
    slept++;

  record_take (job->recorder, g_strdup_printf ("slept:%u", slept));
  record_take (job->recorder, describe_error (local_error));
  g_propagate_error (error, local_error);
  return FALSE;
}

/**
 * gasync_test_sleep_until_cancelled:
 * @interval_ms: how long each sleep lasts
 * @recorder: where to record what happened
 *
 * Spawns a stackful coroutine that records `start`, then sleeps in a loop
 * until an await fails, then records `slept:N` (the number of sleeps
 * completed) and the error (see [func@describe_outcome]) and ends with
 * that error.
 *
 * Returns: (transfer full): the coroutine
 */
GasyncCoroutine *
gasync_test_sleep_until_cancelled (guint               interval_ms,
                                   GasyncTestRecorder *recorder)
{
  g_return_val_if_fail (GASYNC_TEST_IS_RECORDER (recorder), NULL);

  return gasync_coroutine_spawn ("sleep-until-cancelled", sleep_until_cancelled_body,
                                 job_new (NULL, recorder, interval_ms), job_free);
}

static gboolean
cancel_after_body (gpointer   data,
                   GValue    *result,
                   GError   **error)
{
  Job *job = data;
  g_auto(GValue) value = G_VALUE_INIT;
  g_autoptr(GError) local_error = NULL;
  char *description;

  for (guint i = 0; i < job->count; i++)
    if (!gasync_await (gasync_test_sleep (1), error))
      return FALSE;

  record_take (job->recorder,
               g_strdup_printf ("cancel:%s", gasync_future_cancel (job->future) ? "TRUE" : "FALSE"));

  if (!gasync_await_value (g_object_ref (job->future), &value, &local_error))
    {
      /* Our own cancellation ends us; the future's is what we report. */
      if (gasync_future_is_cancel_requested (GASYNC_FUTURE (gasync_coroutine_get_current ())))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      description = describe_error (local_error);
    }
  else if (!G_IS_VALUE (&value))
    description = g_strdup ("resolved");
  else
    description = describe_value (&value);

  record_take (job->recorder, g_strdup (description));
  g_value_init (result, G_TYPE_STRING);
  g_value_take_string (result, description);
  return TRUE;
}

/**
 * gasync_test_cancel_after:
 * @future: the future to cancel
 * @n_sleeps: how many 1 ms sleeps to await first
 * @recorder: where to record what happened
 *
 * Spawns a stackful coroutine that sleeps @n_sleeps times, cancels @future
 * from its own stack (recording `cancel:TRUE` or `cancel:FALSE`, what
 * [method@Gasync.Future.cancel] returned), awaits @future, and resolves
 * with the description of its outcome (see [func@describe_outcome]), which
 * it also records.
 *
 * Returns: (transfer full): the coroutine
 */
GasyncCoroutine *
gasync_test_cancel_after (GasyncFuture       *future,
                          guint               n_sleeps,
                          GasyncTestRecorder *recorder)
{
  g_return_val_if_fail (GASYNC_IS_FUTURE (future), NULL);
  g_return_val_if_fail (GASYNC_TEST_IS_RECORDER (recorder), NULL);

  return gasync_coroutine_spawn ("cancel-after", cancel_after_body,
                                 job_new (future, recorder, n_sleeps), job_free);
}

typedef struct
{
  GPtrArray *futures;
} SumJob;

static void
sum_job_free (gpointer data)
{
  SumJob *job = data;

  g_ptr_array_unref (job->futures);
  g_free (job);
}

static gboolean
sum_in_order_body (gpointer   data,
                   GValue    *result,
                   GError   **error)
{
  SumJob *job = data;
  gint64 sum = 0;

  for (guint i = 0; i < job->futures->len; i++)
    {
      GError *local_error = NULL;
      gint64 value;

      value = gasync_await_int (g_object_ref (g_ptr_array_index (job->futures, i)), &local_error);
      if (local_error != NULL)
        {
          g_propagate_error (error, local_error);
          return FALSE;
        }
      sum += value;
    }

  g_value_init (result, G_TYPE_INT64);
  g_value_set_int64 (result, sum);
  return TRUE;
}

/**
 * gasync_test_sum_in_order:
 * @futures: (array length=n_futures): futures that resolve with an `int`
 * @n_futures: the length of @futures
 *
 * Spawns a stackful coroutine that awaits @futures one after the other and
 * resolves with the sum of their values, as a `gint64`; the first failure
 * ends it the same way.
 *
 * Returns: (transfer full): the coroutine
 */
GasyncCoroutine *
gasync_test_sum_in_order (GasyncFuture **futures,
                          guint          n_futures)
{
  SumJob *job;

  g_return_val_if_fail (futures != NULL || n_futures == 0, NULL);

  job = g_new0 (SumJob, 1);
  job->futures = g_ptr_array_new_full (n_futures, g_object_unref);
  for (guint i = 0; i < n_futures; i++)
    g_ptr_array_add (job->futures, g_object_ref (futures[i]));

  return gasync_coroutine_spawn ("sum-in-order", sum_in_order_body, job, sum_job_free);
}
