/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>

#include <gasync/gasync.h>
#include <libglib-testing/signal-logger.h>

/* Private API: scheduler budget constants and the future's private data. */
#include "gasync-future-private.h"
#include "gasync-test-util.h"
#include "gasync-scheduler-private.h"

#define LIBRARY_DOMAIN "Gasync"

static void
increment (gpointer data)
{
  (*(int *) data)++;
}

static void
count_cb (GasyncFuture *future,
          gpointer      user_data)
{
  (*(int *) user_data)++;
}

/* An ordered log of events, compared with assert_log(). */
static void
log_event (GPtrArray  *log,
           const char *event)
{
  g_ptr_array_add (log, g_strdup (event));
}

static void
assert_log (GPtrArray  *log,
            const char *first,
            ...)
{
  g_autoptr(GString) expected = g_string_new (NULL);
  g_autoptr(GString) actual = g_string_new (NULL);
  va_list args;

  va_start (args, first);
  for (const char *e = first; e != NULL; e = va_arg (args, const char *))
    g_string_append_printf (expected, "%s;", e);
  va_end (args);

  for (guint i = 0; i < log->len; i++)
    g_string_append_printf (actual, "%s;", (const char *) g_ptr_array_index (log, i));

  g_assert_cmpstr (actual->str, ==, expected->str);
  g_ptr_array_set_size (log, 0);
}

static void
log_signal_cb (GasyncFuture *future,
               gpointer      user_data)
{
  log_event (user_data, "signal");
}

typedef struct
{
  GPtrArray  *log;
  const char *name;
  int         destroyed;
} LogCallback;

static void
log_callback_cb (GasyncFuture *future,
                 gpointer      user_data)
{
  LogCallback *cb = user_data;

  log_event (cb->log, cb->name);
}

static void
log_callback_destroy (gpointer user_data)
{
  LogCallback *cb = user_data;

  cb->destroyed++;
}

static GError *
new_test_error (void)
{
  return g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "test error");
}

/* ------------------------------------------------------------------------ */
/* States and settling once                                                 */
/* ------------------------------------------------------------------------ */

static void
test_states (Fixture       *fixture,
             gconstpointer  data)
{
  GasyncFuture *future;
  GasyncFutureState state;
  gboolean done;
  g_autoptr(GError) error = NULL;

  future = gasync_future_new ();
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_PENDING);
  g_assert_false (gasync_future_is_done (future));
  g_assert_false (gasync_future_is_cancelled (future));
  g_assert_false (gasync_future_is_cancel_requested (future));
  g_object_get (future, "state", &state, "done", &done, NULL);
  g_assert_cmpint (state, ==, GASYNC_FUTURE_STATE_PENDING);
  g_assert_false (done);

  g_assert_true (gasync_future_resolve_int (future, 1));
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_RESOLVED);
  g_assert_true (gasync_future_is_done (future));
  g_assert_false (gasync_future_is_cancelled (future));
  g_object_get (future, "state", &state, "done", &done, NULL);
  g_assert_cmpint (state, ==, GASYNC_FUTURE_STATE_RESOLVED);
  g_assert_true (done);
  drain (fixture->context);
  g_assert_finalize_object (future);

  future = gasync_future_new ();
  g_assert_true (gasync_future_take_error (future, new_test_error ()));
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_REJECTED);
  g_assert_true (gasync_future_is_done (future));
  g_assert_false (gasync_future_is_cancelled (future));
  g_assert_false (gasync_future_propagate_error (future, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  drain (fixture->context);
  g_assert_finalize_object (future);

  future = gasync_future_new ();
  g_assert_true (gasync_future_cancel (future));
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_CANCELLED);
  g_assert_true (gasync_future_is_done (future));
  g_assert_true (gasync_future_is_cancelled (future));
  g_assert_true (gasync_future_is_cancel_requested (future));
  drain (fixture->context);
  g_assert_finalize_object (future);
}

static void
assert_later_settles_fail (GasyncFuture *future)
{
  g_autoptr(GObject) object = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(GBytes) bytes = g_bytes_new_static ("x", 1);
  g_autoptr(GError) error = new_test_error ();
  g_auto(GValue) value = G_VALUE_INIT;
  int losing_pointer = 0;

  g_value_init (&value, G_TYPE_INT);
  g_value_set_int (&value, 99);

  g_assert_false (gasync_future_resolve_value (future, &value));
  g_assert_false (gasync_future_resolve_void (future));
  g_assert_false (gasync_future_resolve_boolean (future, TRUE));
  g_assert_false (gasync_future_resolve_int (future, 99));
  g_assert_false (gasync_future_resolve_int64 (future, 99));
  g_assert_false (gasync_future_resolve_uint64 (future, 99));
  g_assert_false (gasync_future_resolve_double (future, 99.0));
  g_assert_false (gasync_future_resolve_string (future, "99"));
  g_assert_false (gasync_future_resolve_object (future, object));
  g_assert_false (gasync_future_resolve_boxed (future, G_TYPE_BYTES, bytes));
  /* The losing pointer is freed at once. */
  g_assert_false (gasync_future_resolve_pointer (future, &losing_pointer, increment));
  g_assert_cmpint (losing_pointer, ==, 1);
  g_assert_false (gasync_future_reject (future, error));
  g_assert_false (gasync_future_take_error (future, new_test_error ()));
  g_assert_false (gasync_future_reject_literal (future, G_IO_ERROR, G_IO_ERROR_FAILED, "99"));
  g_assert_false (gasync_future_cancel (future));

  /* Nobody kept a reference to the losing object or boxed value. */
  g_assert_cmpint (object->ref_count, ==, 1);
}

static void
test_settle_once (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(GtSignalLogger) logger = gt_signal_logger_new ();
  GasyncFuture *future;
  g_autoptr(GError) error = NULL;
  int pointer_destroyed = 0;

  /* Resolved first. */
  future = gasync_future_new ();
  gt_signal_logger_connect (logger, future, "done");
  gt_signal_logger_connect (logger, future, "cancelled");
  g_assert_true (gasync_future_resolve_int (future, 1));
  assert_later_settles_fail (future);
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_RESOLVED);
  g_assert_false (gasync_future_is_cancel_requested (future));
  g_assert_cmpint (gasync_future_get_int (future, &error), ==, 1);
  g_assert_no_error (error);
  drain (fixture->context);
  gt_signal_logger_assert_emission_pop (logger, future, "done", NULL);
  gt_signal_logger_assert_no_emissions (logger);
  g_clear_pointer (&logger, gt_signal_logger_free);
  drain (fixture->context);
  g_assert_finalize_object (future);

  /* Rejected first: the error stays the first one. */
  future = gasync_future_new ();
  g_assert_true (gasync_future_reject_literal (future, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "first"));
  assert_later_settles_fail (future);
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_REJECTED);
  g_assert_false (gasync_future_propagate_error (future, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "first");
  g_clear_error (&error);
  drain (fixture->context);
  g_assert_finalize_object (future);

  /* Cancelled first. */
  future = gasync_future_new ();
  g_assert_true (gasync_future_cancel (future));
  assert_later_settles_fail (future);
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_CANCELLED);
  drain (fixture->context);
  g_assert_finalize_object (future);

  /* The winning pointer is freed with the future, the losing one at once. */
  future = gasync_future_new ();
  g_assert_true (gasync_future_resolve_pointer (future, &pointer_destroyed, increment));
  assert_later_settles_fail (future);
  g_assert_cmpint (pointer_destroyed, ==, 0);
  g_assert_true (gasync_future_get_pointer (future, &error) == &pointer_destroyed);
  g_assert_no_error (error);
  drain (fixture->context);
  g_assert_finalize_object (future);
  g_assert_cmpint (pointer_destroyed, ==, 1);
}

/* ------------------------------------------------------------------------ */
/* Owner context                                                            */
/* ------------------------------------------------------------------------ */

static void
test_context_thread_default (Fixture       *fixture,
                             gconstpointer  data)
{
  GasyncFuture *future;
  GMainContext *other = g_main_context_new ();
  GMainContext *prop = NULL;

  future = gasync_future_new ();
  g_assert_true (gasync_future_get_context (future) == fixture->context);
  g_object_get (future, "context", &prop, NULL);
  g_assert_true (prop == fixture->context);
  g_main_context_unref (prop);
  drain (fixture->context);
  g_assert_finalize_object (future);

  g_main_context_push_thread_default (other);
  future = gasync_future_new ();
  g_main_context_pop_thread_default (other);
  g_assert_true (gasync_future_get_context (future) == other);
  drain (fixture->context);
  g_assert_finalize_object (future);

  /* Explicit context, whatever the thread default. */
  future = gasync_future_new_for_context (other);
  g_assert_true (gasync_future_get_context (future) == other);
  drain (fixture->context);
  g_assert_finalize_object (future);

  /* NULL means the global default context. */
  future = gasync_future_new_for_context (NULL);
  g_assert_true (gasync_future_get_context (future) == g_main_context_default ());
  drain (fixture->context);
  g_assert_finalize_object (future);

  g_main_context_unref (other);
}

/* A future keeps its context alive: the caller may drop its own reference
 * at once (futures of the global default context, which lives as long as
 * the process, hold none; see hold_scheduler()). */
static void
test_context_reference (Fixture       *fixture,
                        gconstpointer  data)
{
  GMainContext *other = g_main_context_new ();
  GasyncFuture *future = gasync_future_new_for_context (other);
  GasyncFuture *pushed;
  int callbacks = 0;

  g_main_context_unref (other);
  gasync_future_add_done_callback (future, count_cb, &callbacks, NULL);
  g_assert_true (gasync_future_resolve_int (future, 1));
  drain (gasync_future_get_context (future));
  g_assert_cmpint (callbacks, ==, 1);

  /* The same for a future of a thread-default context. */
  g_main_context_push_thread_default (other = g_main_context_new ());
  pushed = gasync_future_new ();
  g_main_context_pop_thread_default (other);
  g_main_context_unref (other);
  g_assert_true (gasync_future_get_context (pushed) == other);
  g_assert_true (gasync_future_resolve_int (pushed, 2));
  drain (other);

  g_assert_finalize_object (future);
  g_assert_finalize_object (pushed);
}

static void
test_context_delivery (Fixture       *fixture,
                       gconstpointer  data)
{
  GMainContext *other = g_main_context_new ();
  GasyncFuture *mine, *theirs;
  int mine_signals = 0, mine_callbacks = 0;
  int theirs_signals = 0, theirs_callbacks = 0;

  mine = gasync_future_new ();
  theirs = gasync_future_new_for_context (other);
  g_signal_connect_swapped (mine, "done", G_CALLBACK (increment), &mine_signals);
  g_signal_connect_swapped (theirs, "done", G_CALLBACK (increment), &theirs_signals);
  gasync_future_add_done_callback (mine, count_cb, &mine_callbacks, NULL);
  gasync_future_add_done_callback (theirs, count_cb, &theirs_callbacks, NULL);

  g_assert_true (gasync_future_resolve_int (mine, 1));
  g_assert_true (gasync_future_resolve_int (theirs, 2));
  g_assert_cmpint (mine_signals + mine_callbacks + theirs_signals + theirs_callbacks, ==, 0);

  /* Iterating other contexts delivers nothing of @mine. */
  drain (other);
  for (int i = 0; i < 5; i++)
    g_main_context_iteration (g_main_context_default (), FALSE);
  g_assert_cmpint (mine_signals, ==, 0);
  g_assert_cmpint (mine_callbacks, ==, 0);
  g_assert_cmpint (theirs_signals, ==, 1);
  g_assert_cmpint (theirs_callbacks, ==, 1);

  drain (fixture->context);
  g_assert_cmpint (mine_signals, ==, 1);
  g_assert_cmpint (mine_callbacks, ==, 1);
  g_assert_cmpint (theirs_signals, ==, 1);
  g_assert_cmpint (theirs_callbacks, ==, 1);

  g_assert_finalize_object (mine);
  g_assert_finalize_object (theirs);
  g_main_context_unref (other);
}

/* ------------------------------------------------------------------------ */
/* Typed values                                                             */
/* ------------------------------------------------------------------------ */

static void
assert_held_type (GasyncFuture *future,
                  GType         type)
{
  g_auto(GValue) value = G_VALUE_INIT;
  g_autoptr(GError) error = NULL;

  g_assert_true (gasync_future_get_value (future, &value, &error));
  g_assert_no_error (error);
  g_assert_true (G_VALUE_TYPE (&value) == type);
  g_assert_true (gasync_future_has_value (future));
}

static void
assert_mismatch (GasyncFuture *future,
                 GType         held)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *str = NULL;
  g_autoptr(GObject) object = NULL;
  gpointer boxed;

  if (held != G_TYPE_BOOLEAN)
    {
      g_assert_false (gasync_future_get_boolean (future, &error));
      g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_TYPE_MISMATCH);
      g_clear_error (&error);
    }
  if (held != G_TYPE_INT)
    {
      g_assert_cmpint (gasync_future_get_int (future, &error), ==, 0);
      g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_TYPE_MISMATCH);
      g_clear_error (&error);
    }
  if (held != G_TYPE_INT64)
    {
      g_assert_cmpint (gasync_future_get_int64 (future, &error), ==, 0);
      g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_TYPE_MISMATCH);
      g_clear_error (&error);
    }
  if (held != G_TYPE_UINT64)
    {
      g_assert_cmpuint (gasync_future_get_uint64 (future, &error), ==, 0);
      g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_TYPE_MISMATCH);
      g_clear_error (&error);
    }
  if (held != G_TYPE_DOUBLE)
    {
      g_assert_cmpfloat (gasync_future_get_double (future, &error), ==, 0.0);
      g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_TYPE_MISMATCH);
      g_clear_error (&error);
    }
  if (held != G_TYPE_STRING)
    {
      str = gasync_future_dup_string (future, &error);
      g_assert_null (str);
      g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_TYPE_MISMATCH);
      g_clear_error (&error);
    }
  if (!g_type_is_a (held, G_TYPE_OBJECT))
    {
      object = gasync_future_dup_object (future, &error);
      g_assert_null (object);
      g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_TYPE_MISMATCH);
      g_clear_error (&error);
    }
  if (held != G_TYPE_BYTES)
    {
      boxed = gasync_future_dup_boxed (future, G_TYPE_BYTES, &error);
      g_assert_null (boxed);
      g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_TYPE_MISMATCH);
      g_clear_error (&error);
    }
  if (held != G_TYPE_POINTER)
    {
      g_assert_null (gasync_future_get_pointer (future, &error));
      g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_TYPE_MISMATCH);
      g_clear_error (&error);
    }

  /* A mismatch is not a rejection: the future stays resolved. */
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_RESOLVED);
  g_assert_true (gasync_future_propagate_error (future, &error));
  g_assert_no_error (error);
}

static void
test_typed_scalars (Fixture       *fixture,
                    gconstpointer  data)
{
  GasyncFuture *future;
  g_autoptr(GError) error = NULL;

  future = gasync_future_new ();
  g_assert_true (gasync_future_resolve_boolean (future, TRUE));
  g_assert_true (gasync_future_get_boolean (future, &error));
  g_assert_no_error (error);
  assert_held_type (future, G_TYPE_BOOLEAN);
  assert_mismatch (future, G_TYPE_BOOLEAN);
  drain (fixture->context);
  g_assert_finalize_object (future);

  future = gasync_future_new ();
  g_assert_true (gasync_future_resolve_int (future, G_MININT));
  g_assert_cmpint (gasync_future_get_int (future, &error), ==, G_MININT);
  g_assert_no_error (error);
  assert_held_type (future, G_TYPE_INT);
  assert_mismatch (future, G_TYPE_INT);
  drain (fixture->context);
  g_assert_finalize_object (future);

  future = gasync_future_new ();
  g_assert_true (gasync_future_resolve_int64 (future, G_MININT64));
  g_assert_cmpint (gasync_future_get_int64 (future, &error), ==, G_MININT64);
  g_assert_no_error (error);
  assert_held_type (future, G_TYPE_INT64);
  assert_mismatch (future, G_TYPE_INT64);
  drain (fixture->context);
  g_assert_finalize_object (future);

  future = gasync_future_new ();
  g_assert_true (gasync_future_resolve_uint64 (future, G_MAXUINT64));
  g_assert_cmpuint (gasync_future_get_uint64 (future, &error), ==, G_MAXUINT64);
  g_assert_no_error (error);
  assert_held_type (future, G_TYPE_UINT64);
  assert_mismatch (future, G_TYPE_UINT64);
  drain (fixture->context);
  g_assert_finalize_object (future);

  future = gasync_future_new ();
  g_assert_true (gasync_future_resolve_double (future, -1.5e300));
  g_assert_cmpfloat (gasync_future_get_double (future, &error), ==, -1.5e300);
  g_assert_no_error (error);
  assert_held_type (future, G_TYPE_DOUBLE);
  assert_mismatch (future, G_TYPE_DOUBLE);
  drain (fixture->context);
  g_assert_finalize_object (future);
}

static void
test_typed_string (Fixture       *fixture,
                   gconstpointer  data)
{
  GasyncFuture *future;
  g_autoptr(GError) error = NULL;
  char buffer[] = "hello";
  char *first, *second;

  future = gasync_future_new ();
  g_assert_true (gasync_future_resolve_string (future, buffer));
  /* The future keeps its own copy. */
  buffer[0] = 'J';
  first = gasync_future_dup_string (future, &error);
  g_assert_no_error (error);
  second = gasync_future_dup_string (future, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (first, ==, "hello");
  g_assert_cmpstr (second, ==, "hello");
  g_assert_true (first != second);
  g_free (first);
  g_free (second);
  assert_held_type (future, G_TYPE_STRING);
  assert_mismatch (future, G_TYPE_STRING);
  drain (fixture->context);
  g_assert_finalize_object (future);

  future = gasync_future_new ();
  g_assert_true (gasync_future_resolve_string (future, NULL));
  first = gasync_future_dup_string (future, &error);
  g_assert_no_error (error);
  g_assert_null (first);
  drain (fixture->context);
  g_assert_finalize_object (future);
}

static void
test_typed_object (Fixture       *fixture,
                   gconstpointer  data)
{
  GasyncFuture *future;
  g_autoptr(GError) error = NULL;
  GCancellable *object = g_cancellable_new ();
  GCancellable *weak = object;
  GObject *dup;

  g_object_add_weak_pointer (G_OBJECT (object), (gpointer *) &weak);

  future = gasync_future_new ();
  g_assert_true (gasync_future_resolve_object (future, object));
  /* The future took a reference. */
  g_object_unref (object);
  g_assert_nonnull (weak);

  dup = gasync_future_dup_object (future, &error);
  g_assert_no_error (error);
  g_assert_true (dup == G_OBJECT (weak));
  g_assert_cmpint (dup->ref_count, ==, 2);
  g_object_unref (dup);
  assert_held_type (future, G_TYPE_CANCELLABLE);
  assert_mismatch (future, G_TYPE_CANCELLABLE);

  /* ...and drops it when finalized. */
  drain (fixture->context);
  g_assert_finalize_object (future);
  g_assert_null (weak);

  future = gasync_future_new ();
  g_assert_true (gasync_future_resolve_object (future, NULL));
  dup = gasync_future_dup_object (future, &error);
  g_assert_no_error (error);
  g_assert_null (dup);
  drain (fixture->context);
  g_assert_finalize_object (future);
}

static void
test_typed_boxed (Fixture       *fixture,
                  gconstpointer  data)
{
  GasyncFuture *future;
  g_autoptr(GError) error = NULL;
  GBytes *bytes = g_bytes_new ("abc", 3);
  GBytes *dup_bytes;
  g_autoptr(GDateTime) date = g_date_time_new_utc (2024, 2, 29, 12, 0, 0);
  GDateTime *dup_date;

  future = gasync_future_new ();
  g_assert_true (gasync_future_resolve_boxed (future, G_TYPE_BYTES, bytes));
  g_bytes_unref (bytes);
  dup_bytes = gasync_future_dup_boxed (future, G_TYPE_BYTES, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (dup_bytes, NULL), g_bytes_get_size (dup_bytes), "abc", 3);
  g_bytes_unref (dup_bytes);
  g_assert_null (gasync_future_dup_boxed (future, G_TYPE_DATE_TIME, &error));
  g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_TYPE_MISMATCH);
  g_clear_error (&error);
  assert_held_type (future, G_TYPE_BYTES);
  assert_mismatch (future, G_TYPE_BYTES);
  drain (fixture->context);
  g_assert_finalize_object (future);

  future = gasync_future_new_resolved_boxed (G_TYPE_DATE_TIME, date);
  dup_date = gasync_future_dup_boxed (future, G_TYPE_DATE_TIME, &error);
  g_assert_no_error (error);
  g_assert_true (g_date_time_equal (dup_date, date));
  g_date_time_unref (dup_date);
  assert_held_type (future, G_TYPE_DATE_TIME);
  drain (fixture->context);
  g_assert_finalize_object (future);

  future = gasync_future_new ();
  g_assert_true (gasync_future_resolve_boxed (future, G_TYPE_BYTES, NULL));
  g_assert_null (gasync_future_dup_boxed (future, G_TYPE_BYTES, &error));
  g_assert_no_error (error);
  drain (fixture->context);
  g_assert_finalize_object (future);
}

static void
test_typed_pointer (Fixture       *fixture,
                    gconstpointer  data)
{
  GasyncFuture *future;
  g_autoptr(GError) error = NULL;
  int destroyed = 0;

  future = gasync_future_new ();
  g_assert_true (gasync_future_resolve_pointer (future, &destroyed, increment));
  g_assert_true (gasync_future_get_pointer (future, &error) == &destroyed);
  g_assert_no_error (error);
  assert_held_type (future, G_TYPE_POINTER);
  assert_mismatch (future, G_TYPE_POINTER);
  g_assert_cmpint (destroyed, ==, 0);
  drain (fixture->context);
  g_assert_finalize_object (future);
  g_assert_cmpint (destroyed, ==, 1);

  /* Without a destroy notify. */
  future = gasync_future_new_resolved_pointer (&destroyed, NULL);
  g_assert_true (gasync_future_get_pointer (future, &error) == &destroyed);
  g_assert_no_error (error);
  drain (fixture->context);
  g_assert_finalize_object (future);
  g_assert_cmpint (destroyed, ==, 1);

  future = gasync_future_new_resolved_pointer (&destroyed, increment);
  drain (fixture->context);
  g_assert_finalize_object (future);
  g_assert_cmpint (destroyed, ==, 2);
}

static void
test_typed_value (Fixture       *fixture,
                  gconstpointer  data)
{
  GasyncFuture *future;
  g_autoptr(GError) error = NULL;
  g_auto(GValue) in = G_VALUE_INIT;
  g_auto(GValue) out = G_VALUE_INIT;
  const char *strv[] = { "a", "b", NULL };

  g_value_init (&in, G_TYPE_STRV);
  g_value_set_boxed (&in, strv);

  future = gasync_future_new ();
  g_assert_true (gasync_future_resolve_value (future, &in));
  /* A copy was taken. */
  g_value_reset (&in);
  g_assert_true (gasync_future_get_value (future, &out, &error));
  g_assert_no_error (error);
  g_assert_true (G_VALUE_HOLDS (&out, G_TYPE_STRV));
  g_assert_cmpstrv (g_value_get_boxed (&out), strv);
  drain (fixture->context);
  g_assert_finalize_object (future);

  /* new_resolved() with a value, and without one. */
  g_value_unset (&in);
  g_value_init (&in, GASYNC_TYPE_FUTURE_STATE);
  g_value_set_enum (&in, GASYNC_FUTURE_STATE_REJECTED);
  future = gasync_future_new_resolved (&in);
  assert_held_type (future, GASYNC_TYPE_FUTURE_STATE);
  drain (fixture->context);
  g_assert_finalize_object (future);
}

static void
assert_void (GasyncFuture *future)
{
  g_auto(GValue) value = G_VALUE_INIT;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_RESOLVED);
  g_assert_true (gasync_future_get_value (future, &value, &error));
  g_assert_no_error (error);
  g_assert_false (G_IS_VALUE (&value));
  g_assert_false (gasync_future_has_value (future));
  /* NULL out value is allowed. */
  g_assert_true (gasync_future_get_value (future, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (gasync_future_propagate_error (future, &error));
  g_assert_no_error (error);
  assert_mismatch (future, G_TYPE_NONE);
}

static void
test_typed_void (Fixture       *fixture,
                 gconstpointer  data)
{
  GasyncFuture *future;

  future = gasync_future_new ();
  g_assert_true (gasync_future_resolve_void (future));
  assert_void (future);
  drain (fixture->context);
  g_assert_finalize_object (future);

  future = gasync_future_new_resolved (NULL);
  assert_void (future);
  drain (fixture->context);
  g_assert_finalize_object (future);
}

static void
test_constructors (Fixture       *fixture,
                   gconstpointer  data)
{
  GasyncFuture *futures[12];
  int callbacks = 0;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) rejected_with = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_EXISTS, "exists");
  g_autoptr(GObject) object = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(GBytes) bytes = g_bytes_new_static ("x", 1);
  g_autofree char *str = NULL;
  g_autoptr(GObject) dup = NULL;
  guint n = 0;

  futures[n++] = gasync_future_new_resolved_boolean (TRUE);
  futures[n++] = gasync_future_new_resolved_int (-7);
  futures[n++] = gasync_future_new_resolved_int64 (G_MAXINT64);
  futures[n++] = gasync_future_new_resolved_uint64 (G_MAXUINT64);
  futures[n++] = gasync_future_new_resolved_double (0.5);
  futures[n++] = gasync_future_new_resolved_string ("str");
  futures[n++] = gasync_future_new_resolved_object (object);
  futures[n++] = gasync_future_new_resolved_boxed (G_TYPE_BYTES, bytes);
  futures[n++] = gasync_future_new_rejected (rejected_with);
  futures[n++] = gasync_future_new_for_error (new_test_error ());
  futures[n++] = gasync_future_new_for_error (g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "stop"));
  futures[n++] = gasync_future_new_cancelled ();
  g_assert_cmpuint (n, ==, G_N_ELEMENTS (futures));

  for (guint i = 0; i < n; i++)
    {
      g_assert_true (gasync_future_is_done (futures[i]));
      g_assert_true (gasync_future_get_context (futures[i]) == fixture->context);
      gasync_future_add_done_callback (futures[i], count_cb, &callbacks, NULL);
    }
  /* Already settled, yet nothing runs synchronously. */
  g_assert_cmpint (callbacks, ==, 0);

  g_assert_true (gasync_future_get_boolean (futures[0], &error));
  g_assert_cmpint (gasync_future_get_int (futures[1], &error), ==, -7);
  g_assert_cmpint (gasync_future_get_int64 (futures[2], &error), ==, G_MAXINT64);
  g_assert_cmpuint (gasync_future_get_uint64 (futures[3], &error), ==, G_MAXUINT64);
  g_assert_cmpfloat (gasync_future_get_double (futures[4], &error), ==, 0.5);
  str = gasync_future_dup_string (futures[5], &error);
  g_assert_cmpstr (str, ==, "str");
  dup = gasync_future_dup_object (futures[6], &error);
  g_assert_true (dup == object);
  assert_held_type (futures[7], G_TYPE_BYTES);
  g_assert_no_error (error);

  /* new_rejected() copies: the caller's error is untouched. */
  g_assert_cmpint (gasync_future_get_state (futures[8]), ==, GASYNC_FUTURE_STATE_REJECTED);
  g_assert_false (gasync_future_propagate_error (futures[8], &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_assert_true (error != rejected_with);
  g_assert_cmpstr (rejected_with->message, ==, "exists");
  g_clear_error (&error);

  g_assert_cmpint (gasync_future_get_state (futures[9]), ==, GASYNC_FUTURE_STATE_REJECTED);
  g_assert_false (gasync_future_propagate_error (futures[9], &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* new_for_error() with G_IO_ERROR_CANCELLED gives a cancelled future. */
  g_assert_cmpint (gasync_future_get_state (futures[10]), ==, GASYNC_FUTURE_STATE_CANCELLED);
  g_assert_false (gasync_future_propagate_error (futures[10], &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  g_assert_cmpint (gasync_future_get_state (futures[11]), ==, GASYNC_FUTURE_STATE_CANCELLED);
  g_assert_true (gasync_future_is_cancel_requested (futures[11]));

  drain (fixture->context);
  g_assert_cmpint (callbacks, ==, n);

  for (guint i = 0; i < n; i++)
    g_assert_finalize_object (futures[i]);
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */
/* ------------------------------------------------------------------------ */

static void
assert_all_readers_fail (GasyncFuture *future,
                         GQuark        domain,
                         int           code)
{
  g_auto(GValue) value = G_VALUE_INIT;
  g_autoptr(GError) error = NULL;
  gpointer p;

#define CHECK(expr)                                  \
  G_STMT_START {                                     \
    expr;                                            \
    g_assert_error (error, domain, code);            \
    g_clear_error (&error);                          \
  } G_STMT_END

  CHECK (g_assert_false (gasync_future_get_value (future, &value, &error)));
  g_assert_false (G_IS_VALUE (&value));
  CHECK (g_assert_false (gasync_future_propagate_error (future, &error)));
  CHECK (g_assert_false (gasync_future_get_boolean (future, &error)));
  CHECK (g_assert_cmpint (gasync_future_get_int (future, &error), ==, 0));
  CHECK (g_assert_cmpint (gasync_future_get_int64 (future, &error), ==, 0));
  CHECK (g_assert_cmpuint (gasync_future_get_uint64 (future, &error), ==, 0));
  CHECK (g_assert_cmpfloat (gasync_future_get_double (future, &error), ==, 0.0));
  CHECK (p = gasync_future_dup_string (future, &error); g_assert_null (p));
  CHECK (p = gasync_future_dup_object (future, &error); g_assert_null (p));
  CHECK (p = gasync_future_dup_boxed (future, G_TYPE_BYTES, &error); g_assert_null (p));
  CHECK (g_assert_null (gasync_future_get_pointer (future, &error)));
#undef CHECK
}

static void
test_read_pending (Fixture       *fixture,
                   gconstpointer  data)
{
  GasyncFuture *future = gasync_future_new ();

  assert_all_readers_fail (future, GASYNC_ERROR, GASYNC_ERROR_INVALID_STATE);
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_PENDING);
  drain (fixture->context);
  g_assert_finalize_object (future);
}

static void
test_read_cancelled (Fixture       *fixture,
                     gconstpointer  data)
{
  GasyncFuture *future = gasync_future_new ();

  g_assert_true (gasync_future_cancel (future));
  assert_all_readers_fail (future, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  drain (fixture->context);
  g_assert_finalize_object (future);
}

static void
test_read_rejected (Fixture       *fixture,
                    gconstpointer  data)
{
  GasyncFuture *future = gasync_future_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (gasync_future_reject_literal (future, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "nope"));
  assert_all_readers_fail (future, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_false (gasync_future_propagate_error (future, &error));
  g_assert_cmpstr (error->message, ==, "nope");
  drain (fixture->context);
  g_assert_finalize_object (future);
}

static void
test_reject_cancelled_error (Fixture       *fixture,
                             gconstpointer  data)
{
  GasyncFuture *future;
  g_autoptr(GError) cancelled = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "gone");
  int done = 0;

  /* reject() with a cancellation error settles as CANCELLED, never warns. */
  future = gasync_future_new ();
  g_signal_connect_swapped (future, "done", G_CALLBACK (increment), &done);
  g_assert_true (gasync_future_reject (future, cancelled));
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_CANCELLED);
  g_assert_true (gasync_future_is_cancelled (future));
  drain (fixture->context);
  g_assert_cmpint (done, ==, 1);
  drain (fixture->context);
  g_assert_finalize_object (future);

  future = gasync_future_new ();
  g_assert_true (gasync_future_take_error (future, g_error_copy (cancelled)));
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_CANCELLED);
  drain (fixture->context);
  g_assert_finalize_object (future);

  future = gasync_future_new ();
  g_assert_true (gasync_future_reject_literal (future, G_IO_ERROR, G_IO_ERROR_CANCELLED, "x"));
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_CANCELLED);
  drain (fixture->context);
  g_assert_finalize_object (future);
}

/* ------------------------------------------------------------------------ */
/* value-type                                                               */
/* ------------------------------------------------------------------------ */

static void
test_value_type (Fixture       *fixture,
                 gconstpointer  data)
{
  GasyncFuture *future;
  g_autoptr(GError) error = NULL;
  GType type = G_TYPE_INVALID;
  int destroyed = 0;
  int notified = 0;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();

  future = gasync_future_new ();
  g_assert_true (gasync_future_get_value_type (future) == G_TYPE_INVALID);
  g_signal_connect_swapped (future, "notify::value-type", G_CALLBACK (increment), &notified);
  gasync_future_set_value_type (future, G_TYPE_INT);
  g_assert_cmpint (notified, ==, 1);
  gasync_future_set_value_type (future, G_TYPE_INT);
  g_assert_cmpint (notified, ==, 1);
  g_object_get (future, "value-type", &type, NULL);
  g_assert_true (type == G_TYPE_INT);

  /* The wrong type: a critical, and the future rejects. */
  g_test_expect_message (LIBRARY_DOMAIN, G_LOG_LEVEL_CRITICAL, "*declares value type gint*gchararray*");
  g_assert_false (gasync_future_resolve_string (future, "not an int"));
  g_test_assert_expected_messages ();
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_REJECTED);
  g_assert_cmpint (gasync_future_get_int (future, &error), ==, 0);
  g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_TYPE_MISMATCH);
  g_clear_error (&error);
  drain (fixture->context);
  g_assert_finalize_object (future);

  /* The right type, set through the property. */
  future = g_object_new (GASYNC_TYPE_FUTURE, "value-type", G_TYPE_INT, NULL);
  g_assert_true (gasync_future_get_value_type (future) == G_TYPE_INT);
  g_assert_true (gasync_future_resolve_int (future, 3));
  g_assert_cmpint (gasync_future_get_int (future, &error), ==, 3);
  g_assert_no_error (error);
  drain (fixture->context);
  g_assert_finalize_object (future);

  /* A subtype is fine. */
  future = gasync_future_new ();
  gasync_future_set_value_type (future, G_TYPE_OBJECT);
  g_assert_true (gasync_future_resolve_object (future, cancellable));
  drain (fixture->context);
  g_assert_finalize_object (future);

  /* A pointer against a declared type: critical, destroy called. */
  future = gasync_future_new ();
  gasync_future_set_value_type (future, G_TYPE_STRING);
  g_test_expect_message (LIBRARY_DOMAIN, G_LOG_LEVEL_CRITICAL, "*declares value type*gpointer*");
  g_assert_false (gasync_future_resolve_pointer (future, &destroyed, increment));
  g_test_assert_expected_messages ();
  g_assert_cmpint (destroyed, ==, 1);
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_REJECTED);
  g_assert_false (gasync_future_propagate_error (future, &error));
  g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_TYPE_MISMATCH);
  g_clear_error (&error);
  drain (fixture->context);
  g_assert_finalize_object (future);

  /* G_TYPE_NONE means undeclared. */
  future = gasync_future_new ();
  gasync_future_set_value_type (future, G_TYPE_NONE);
  g_assert_true (gasync_future_get_value_type (future) == G_TYPE_INVALID);
  g_assert_true (gasync_future_resolve_double (future, 1.0));
  drain (fixture->context);
  g_assert_finalize_object (future);
}

/* ------------------------------------------------------------------------ */
/* Cancellation                                                             */
/* ------------------------------------------------------------------------ */

static void
test_cancel_signals (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(GtSignalLogger) logger = gt_signal_logger_new ();
  GasyncFuture *future = gasync_future_new ();

  gt_signal_logger_connect (logger, future, "cancelled");
  gt_signal_logger_connect (logger, future, "done");

  g_assert_true (gasync_future_cancel (future));
  g_assert_false (gasync_future_cancel (future));
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_CANCELLED);

  /* Nothing synchronous: both arrive on the next iteration, in order. */
  gt_signal_logger_assert_no_emissions (logger);
  g_assert_true (g_main_context_iteration (fixture->context, FALSE));
  gt_signal_logger_assert_emission_pop (logger, future, "cancelled", NULL);
  gt_signal_logger_assert_emission_pop (logger, future, "done", NULL);
  gt_signal_logger_assert_no_emissions (logger);

  g_assert_false (gasync_future_cancel (future));
  drain (fixture->context);
  gt_signal_logger_assert_no_emissions (logger);

  g_clear_pointer (&logger, gt_signal_logger_free);
  drain (fixture->context);
  g_assert_finalize_object (future);
}

static void
test_cancel_settled (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(GtSignalLogger) logger = gt_signal_logger_new ();
  GasyncFuture *future = gasync_future_new ();
  GCancellable *cancellable = gasync_future_get_cancellable (future);
  g_autoptr(GError) error = NULL;

  gt_signal_logger_connect (logger, future, "cancelled");
  gt_signal_logger_connect (logger, future, "done");

  g_assert_true (gasync_future_resolve_int (future, 5));
  g_assert_false (gasync_future_cancel (future));
  g_assert_false (gasync_future_is_cancel_requested (future));
  g_assert_false (g_cancellable_is_cancelled (cancellable));
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_RESOLVED);
  g_assert_cmpint (gasync_future_get_int (future, &error), ==, 5);
  g_assert_no_error (error);

  drain (fixture->context);
  gt_signal_logger_assert_emission_pop (logger, future, "done", NULL);
  gt_signal_logger_assert_no_emissions (logger);

  g_clear_pointer (&logger, gt_signal_logger_free);
  drain (fixture->context);
  g_assert_finalize_object (future);
}

static void
test_cancellable_from_future (Fixture       *fixture,
                              gconstpointer  data)
{
  GasyncFuture *future = gasync_future_new ();
  GCancellable *cancellable = gasync_future_get_cancellable (future);

  g_assert_true (G_IS_CANCELLABLE (cancellable));
  g_assert_true (gasync_future_get_cancellable (future) == cancellable);
  g_assert_false (g_cancellable_is_cancelled (cancellable));

  /* Cancelling the future cancels the cancellable right away. */
  g_assert_true (gasync_future_cancel (future));
  g_assert_true (g_cancellable_is_cancelled (cancellable));

  drain (fixture->context);
  g_assert_finalize_object (future);
}

static void
test_cancellable_to_future (Fixture       *fixture,
                            gconstpointer  data)
{
  g_autoptr(GtSignalLogger) logger = gt_signal_logger_new ();
  GasyncFuture *future = gasync_future_new ();
  GCancellable *cancellable = gasync_future_get_cancellable (future);

  gt_signal_logger_connect (logger, future, "cancelled");
  gt_signal_logger_connect (logger, future, "done");

  g_cancellable_cancel (cancellable);
  g_assert_true (gasync_future_is_cancel_requested (future));
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_CANCELLED);
  g_assert_false (gasync_future_cancel (future));
  gt_signal_logger_assert_no_emissions (logger);

  drain (fixture->context);
  gt_signal_logger_assert_emission_pop (logger, future, "cancelled", NULL);
  gt_signal_logger_assert_emission_pop (logger, future, "done", NULL);
  gt_signal_logger_assert_no_emissions (logger);

  g_clear_pointer (&logger, gt_signal_logger_free);
  drain (fixture->context);
  g_assert_finalize_object (future);
}

static void
test_cancellable_set (Fixture       *fixture,
                      gconstpointer  data)
{
  GasyncFuture *future;
  GCancellable *cancellable;
  GCancellable *other;

  /* An external cancellable, linked both ways. */
  future = gasync_future_new ();
  cancellable = g_cancellable_new ();
  gasync_future_set_cancellable (future, cancellable);
  g_assert_true (gasync_future_get_cancellable (future) == cancellable);
  g_cancellable_cancel (cancellable);
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_CANCELLED);
  drain (fixture->context);
  g_assert_finalize_object (future);
  g_assert_finalize_object (cancellable);

  /* An already-cancelled cancellable cancels the future at once. */
  future = gasync_future_new ();
  cancellable = g_cancellable_new ();
  g_cancellable_cancel (cancellable);
  gasync_future_set_cancellable (future, cancellable);
  g_assert_true (gasync_future_is_cancel_requested (future));
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_CANCELLED);
  drain (fixture->context);
  g_assert_finalize_object (future);
  g_assert_finalize_object (cancellable);

  /* Linked after cancel(): the cancellable is cancelled at once. */
  future = gasync_future_new ();
  g_assert_true (gasync_future_cancel (future));
  cancellable = g_cancellable_new ();
  gasync_future_set_cancellable (future, cancellable);
  g_assert_true (g_cancellable_is_cancelled (cancellable));
  drain (fixture->context);
  g_assert_finalize_object (future);
  g_assert_finalize_object (cancellable);

  /* NULL unlinks: neither side affects the other any more. */
  future = gasync_future_new ();
  cancellable = g_cancellable_new ();
  gasync_future_set_cancellable (future, cancellable);
  gasync_future_set_cancellable (future, NULL);
  g_cancellable_cancel (cancellable);
  g_assert_false (gasync_future_is_cancel_requested (future));
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_PENDING);
  other = gasync_future_get_cancellable (future);
  g_assert_true (other != cancellable);
  g_assert_true (gasync_future_cancel (future));
  g_assert_true (g_cancellable_is_cancelled (other));
  drain (fixture->context);
  g_assert_finalize_object (future);
  g_assert_finalize_object (cancellable);

  /* Replacing a cancellable unlinks the old one. */
  future = gasync_future_new ();
  cancellable = g_cancellable_new ();
  other = g_cancellable_new ();
  gasync_future_set_cancellable (future, cancellable);
  gasync_future_set_cancellable (future, other);
  g_cancellable_cancel (cancellable);
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_PENDING);
  g_assert_true (gasync_future_cancel (future));
  g_assert_true (g_cancellable_is_cancelled (other));
  drain (fixture->context);
  g_assert_finalize_object (future);
  g_assert_finalize_object (cancellable);
  g_assert_finalize_object (other);

  /* A cancellable that outlives its future is disconnected. */
  future = gasync_future_new ();
  cancellable = g_cancellable_new ();
  gasync_future_set_cancellable (future, cancellable);
  drain (fixture->context);
  g_assert_finalize_object (future);
  g_cancellable_cancel (cancellable);
  g_assert_finalize_object (cancellable);
}

static gpointer
cancel_cancellable_thread (gpointer data)
{
  g_cancellable_cancel (data);
  return NULL;
}

static void
record_thread_cb (GasyncFuture *future,
                  gpointer      user_data)
{
  GThread **thread = user_data;

  *thread = g_thread_self ();
}

static void
test_cancellable_other_thread (Fixture       *fixture,
                               gconstpointer  data)
{
  GasyncFuture *future = gasync_future_new ();
  GThread *signal_thread = NULL;
  GThread *thread;

  g_signal_connect (future, "cancelled", G_CALLBACK (record_thread_cb), &signal_thread);

  thread = g_thread_new ("cancel", cancel_cancellable_thread,
                         gasync_future_get_cancellable (future));
  g_thread_join (thread);
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_CANCELLED);
  g_assert_null (signal_thread);

  ITERATE_UNTIL (fixture->context, signal_thread != NULL);
  g_assert_true (signal_thread == g_thread_self ());
  drain (fixture->context);
  g_assert_finalize_object (future);
}

/* ------------------------------------------------------------------------ */
/* Properties                                                               */
/* ------------------------------------------------------------------------ */

static void
test_notify_plain (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GtSignalLogger) logger = gt_signal_logger_new ();
  GasyncFuture *future = gasync_future_new ();

  /* A handler of plain "notify" (all properties) sees every change. */
  gt_signal_logger_connect (logger, future, "notify");
  gt_signal_logger_connect (logger, future, "done");

  gasync_future_set_name (future, "plain");
  gt_signal_logger_assert_notify_emission_pop (logger, future, "name");
  gt_signal_logger_assert_no_emissions (logger);

  gasync_future_set_progress (future, 0.5);
  gt_signal_logger_assert_no_emissions (logger);
  g_assert_true (gasync_future_resolve_void (future));
  gt_signal_logger_assert_no_emissions (logger);

  g_assert_true (g_main_context_iteration (fixture->context, FALSE));
  gt_signal_logger_assert_notify_emission_pop (logger, future, "progress");
  gt_signal_logger_assert_notify_emission_pop (logger, future, "state");
  gt_signal_logger_assert_notify_emission_pop (logger, future, "done");
  gt_signal_logger_assert_emission_pop (logger, future, "done", NULL);
  gt_signal_logger_assert_no_emissions (logger);

  drain (fixture->context);
  gt_signal_logger_assert_no_emissions (logger);

  g_clear_pointer (&logger, gt_signal_logger_free);
  drain (fixture->context);
  g_assert_finalize_object (future);
}

static void
test_notify_detailed (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(GtSignalLogger) logger = gt_signal_logger_new ();
  GasyncFuture *future = gasync_future_new ();
  GMainContext *other = g_main_context_new ();

  gt_signal_logger_connect (logger, future, "notify::state");
  gt_signal_logger_connect (logger, future, "notify::done");
  gt_signal_logger_connect (logger, future, "cancelled");
  gt_signal_logger_connect (logger, future, "done");

  g_assert_true (gasync_future_cancel (future));
  gt_signal_logger_assert_no_emissions (logger);
  /* Only the owner context delivers. */
  drain (other);
  gt_signal_logger_assert_no_emissions (logger);

  g_assert_true (g_main_context_iteration (fixture->context, FALSE));
  gt_signal_logger_assert_emission_pop (logger, future, "cancelled", NULL);
  gt_signal_logger_assert_notify_emission_pop (logger, future, "state");
  gt_signal_logger_assert_notify_emission_pop (logger, future, "done");
  gt_signal_logger_assert_emission_pop (logger, future, "done", NULL);
  gt_signal_logger_assert_no_emissions (logger);

  g_clear_pointer (&logger, gt_signal_logger_free);
  drain (fixture->context);
  g_assert_finalize_object (future);
  g_main_context_unref (other);
}

static void
test_property_name (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(GtSignalLogger) logger = gt_signal_logger_new ();
  GasyncFuture *future = gasync_future_new ();
  g_autofree char *name = NULL;

  g_assert_null (gasync_future_get_name (future));
  gt_signal_logger_connect (logger, future, "notify::name");

  /* Name notifies synchronously, and only on change. */
  gasync_future_set_name (future, "download");
  gt_signal_logger_assert_notify_emission_pop (logger, future, "name");
  gasync_future_set_name (future, "download");
  gt_signal_logger_assert_no_emissions (logger);
  g_assert_cmpstr (gasync_future_get_name (future), ==, "download");

  g_object_set (future, "name", "upload", NULL);
  gt_signal_logger_assert_notify_emission_pop (logger, future, "name");
  g_object_get (future, "name", &name, NULL);
  g_assert_cmpstr (name, ==, "upload");

  gasync_future_set_name (future, NULL);
  gt_signal_logger_assert_notify_emission_pop (logger, future, "name");
  g_assert_null (gasync_future_get_name (future));
  gt_signal_logger_assert_no_emissions (logger);

  g_clear_pointer (&logger, gt_signal_logger_free);
  drain (fixture->context);
  g_assert_finalize_object (future);
}

static void
test_property_progress (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(GtSignalLogger) logger = gt_signal_logger_new ();
  GasyncFuture *future = gasync_future_new ();
  double progress = 0.0;

  g_assert_cmpfloat (gasync_future_get_progress (future), ==, -1.0);
  gt_signal_logger_connect (logger, future, "notify::progress");

  /* Several updates in a row: one notification, the latest value. */
  gasync_future_set_progress (future, 0.1);
  gasync_future_set_progress (future, 0.2);
  gasync_future_set_progress (future, 0.3);
  g_assert_cmpfloat (gasync_future_get_progress (future), ==, 0.3);
  gt_signal_logger_assert_no_emissions (logger);
  drain (fixture->context);
  gt_signal_logger_assert_notify_emission_pop (logger, future, "progress");
  gt_signal_logger_assert_no_emissions (logger);

  /* Setting the same value again notifies nothing. */
  gasync_future_set_progress (future, 0.3);
  drain (fixture->context);
  gt_signal_logger_assert_no_emissions (logger);

  g_object_set (future, "progress", 1.0, NULL);
  g_object_get (future, "progress", &progress, NULL);
  g_assert_cmpfloat (progress, ==, 1.0);
  gasync_future_set_progress (future, -1.0);
  g_assert_cmpfloat (gasync_future_get_progress (future), ==, -1.0);
  drain (fixture->context);
  gt_signal_logger_assert_notify_emission_pop (logger, future, "progress");
  gt_signal_logger_assert_no_emissions (logger);

  /* Out of range: a critical, and nothing changes. */
  g_test_expect_message (LIBRARY_DOMAIN, G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  gasync_future_set_progress (future, 1.5);
  g_test_assert_expected_messages ();
  g_assert_cmpfloat (gasync_future_get_progress (future), ==, -1.0);
  drain (fixture->context);
  gt_signal_logger_assert_no_emissions (logger);

  g_clear_pointer (&logger, gt_signal_logger_free);
  drain (fixture->context);
  g_assert_finalize_object (future);
}

typedef struct
{
  GasyncFuture *future;
  GThread      *owner;
  int           finished;       /* atomic */
  int           in_iteration;   /* notifications in the current iteration */
  int           max_in_iteration;
  int           total;
  double        last;
  gboolean      wrong_thread;
} ProgressTest;

static gpointer
progress_thread (gpointer data)
{
  ProgressTest *test = data;

  for (int i = 1; i <= 1000; i++)
    gasync_future_set_progress (test->future, i / 1000.0);
  g_atomic_int_set (&test->finished, TRUE);
  g_main_context_wakeup (gasync_future_get_context (test->future));

  return NULL;
}

static void
progress_notify_cb (GObject    *object,
                    GParamSpec *pspec,
                    gpointer    user_data)
{
  ProgressTest *test = user_data;

  if (g_thread_self () != test->owner)
    test->wrong_thread = TRUE;
  test->in_iteration++;
  test->total++;
  test->last = gasync_future_get_progress (GASYNC_FUTURE (object));
}

static void
test_property_progress_thread (Fixture       *fixture,
                               gconstpointer  data)
{
  ProgressTest test = { .owner = g_thread_self (), .last = -1.0 };
  GThread *thread;
  gboolean timed_out = FALSE;
  GSource *watchdog;

  test.future = gasync_future_new ();
  g_signal_connect (test.future, "notify::progress", G_CALLBACK (progress_notify_cb), &test);

  watchdog = g_timeout_source_new_seconds (WATCHDOG_SECONDS);
  g_source_set_callback (watchdog, flag_cb, &timed_out, NULL);
  g_source_attach (watchdog, fixture->context);

  thread = g_thread_new ("progress", progress_thread, &test);
  while (!(g_atomic_int_get (&test.finished) && test.last == 1.0) && !timed_out)
    {
      test.in_iteration = 0;
      g_main_context_iteration (fixture->context, TRUE);
      test.max_in_iteration = MAX (test.max_in_iteration, test.in_iteration);
    }
  g_thread_join (thread);
  g_source_destroy (watchdog);
  g_source_unref (watchdog);

  g_assert_false (timed_out);
  g_assert_false (test.wrong_thread);
  g_assert_cmpint (test.max_in_iteration, ==, 1);
  g_assert_cmpint (test.total, >=, 1);
  g_assert_cmpint (test.total, <=, 1000);
  g_assert_cmpfloat (test.last, ==, 1.0);
  g_test_message ("%d notifications for 1000 updates", test.total);

  /* What is left (a notification deferred while the handler already read
   * the final value) still comes one per iteration, with the final value. */
  for (guint idle = 0; idle < 2;)
    {
      test.in_iteration = 0;
      idle = g_main_context_iteration (fixture->context, FALSE) ? 0 : idle + 1;
      g_assert_cmpint (test.in_iteration, <=, 1);
    }
  g_assert_cmpfloat (test.last, ==, 1.0);
  g_assert_false (test.wrong_thread);

  g_assert_finalize_object (test.future);
}

/* ------------------------------------------------------------------------ */
/* Done signal and callbacks                                                */
/* ------------------------------------------------------------------------ */

static void
test_done_order (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(GPtrArray) log = g_ptr_array_new_with_free_func (g_free);
  LogCallback a = { log, "a", 0 }, b = { log, "b", 0 }, c = { log, "c", 0 };
  GasyncFuture *future = gasync_future_new ();
  gulong ids[3];

  /* Callbacks added before the signal handler: the signal still runs
   * first, then the callbacks in the order they were added. */
  ids[0] = gasync_future_add_done_callback (future, log_callback_cb, &a, log_callback_destroy);
  ids[1] = gasync_future_add_done_callback (future, log_callback_cb, &b, log_callback_destroy);
  g_signal_connect (future, "done", G_CALLBACK (log_signal_cb), log);
  ids[2] = gasync_future_add_done_callback (future, log_callback_cb, &c, log_callback_destroy);
  g_assert_cmpuint (ids[0], !=, 0);
  g_assert_cmpuint (ids[0], !=, ids[1]);
  g_assert_cmpuint (ids[1], !=, ids[2]);

  g_assert_true (gasync_future_resolve_void (future));
  assert_log (log, NULL);
  g_assert_true (g_main_context_iteration (fixture->context, FALSE));
  assert_log (log, "signal", "a", "b", "c", NULL);
  g_assert_cmpint (a.destroyed + b.destroyed + c.destroyed, ==, 3);

  /* Once ran, a callback cannot be removed. */
  g_assert_false (gasync_future_remove_done_callback (future, ids[0]));
  g_assert_false (gasync_future_remove_done_callback (future, ids[2]));
  g_assert_cmpint (a.destroyed + b.destroyed + c.destroyed, ==, 3);

  drain (fixture->context);
  assert_log (log, NULL);
  drain (fixture->context);
  g_assert_finalize_object (future);
}

static void
test_done_already_done (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(GPtrArray) log = g_ptr_array_new_with_free_func (g_free);
  LogCallback a = { log, "a", 0 }, b = { log, "b", 0 };
  GasyncFuture *future = gasync_future_new_resolved_int (3);

  /* Done but not yet delivered: the signal is not synchronous either. */
  g_signal_connect (future, "done", G_CALLBACK (log_signal_cb), log);
  gasync_future_add_done_callback (future, log_callback_cb, &a, NULL);
  assert_log (log, NULL);
  drain (fixture->context);
  assert_log (log, "signal", "a", NULL);

  /* Added after delivery: runs on a later dispatch, not from this call;
   * the signal is not emitted again. */
  gasync_future_add_done_callback (future, log_callback_cb, &b, log_callback_destroy);
  assert_log (log, NULL);
  g_assert_cmpint (b.destroyed, ==, 0);
  g_assert_true (g_main_context_iteration (fixture->context, FALSE));
  assert_log (log, "b", NULL);
  g_assert_cmpint (b.destroyed, ==, 1);

  drain (fixture->context);
  assert_log (log, NULL);
  drain (fixture->context);
  g_assert_finalize_object (future);
}

static void
test_done_remove (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(GPtrArray) log = g_ptr_array_new_with_free_func (g_free);
  LogCallback a = { log, "a", 0 }, b = { log, "b", 0 }, c = { log, "c", 0 };
  GasyncFuture *future = gasync_future_new ();
  gulong id_a, id_b, id_c;

  id_a = gasync_future_add_done_callback (future, log_callback_cb, &a, log_callback_destroy);
  id_b = gasync_future_add_done_callback (future, log_callback_cb, &b, log_callback_destroy);
  id_c = gasync_future_add_done_callback (future, log_callback_cb, &c, log_callback_destroy);

  /* Removed while pending: destroyed at once, never runs. */
  g_assert_true (gasync_future_remove_done_callback (future, id_b));
  g_assert_cmpint (b.destroyed, ==, 1);
  g_assert_false (gasync_future_remove_done_callback (future, id_b));
  g_assert_cmpint (b.destroyed, ==, 1);

  /* Removed after settling but before the dispatch. */
  g_assert_true (gasync_future_resolve_void (future));
  g_assert_true (gasync_future_remove_done_callback (future, id_c));
  g_assert_cmpint (c.destroyed, ==, 1);

  drain (fixture->context);
  assert_log (log, "a", NULL);
  g_assert_cmpint (a.destroyed, ==, 1);
  g_assert_false (gasync_future_remove_done_callback (future, id_a));
  g_assert_cmpint (a.destroyed + b.destroyed + c.destroyed, ==, 3);

  /* An id that never existed. */
  g_assert_false (gasync_future_remove_done_callback (future, 12345));

  drain (fixture->context);
  g_assert_finalize_object (future);
}

typedef struct
{
  GPtrArray *log;
  LogCallback inner;
  gboolean inner_ran_during_add;
} NestedTest;

static void
outer_cb (GasyncFuture *future,
          gpointer      user_data)
{
  NestedTest *test = user_data;

  log_event (test->log, "outer");
  gasync_future_add_done_callback (future, log_callback_cb, &test->inner, log_callback_destroy);
  /* Not run from inside add_done_callback(). */
  test->inner_ran_during_add = test->log->len != 1;
}

static void
test_done_nested_add (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(GPtrArray) log = g_ptr_array_new_with_free_func (g_free);
  NestedTest test = { log, { log, "inner", 0 }, FALSE };
  LogCallback after = { log, "after", 0 };
  GasyncFuture *future = gasync_future_new ();

  gasync_future_add_done_callback (future, outer_cb, &test, NULL);
  gasync_future_add_done_callback (future, log_callback_cb, &after, NULL);
  g_assert_true (gasync_future_resolve_void (future));

  drain (fixture->context);
  g_assert_false (test.inner_ran_during_add);
  /* The new callback runs once, after those already registered. */
  assert_log (log, "outer", "after", "inner", NULL);
  g_assert_cmpint (test.inner.destroyed, ==, 1);

  drain (fixture->context);
  g_assert_finalize_object (future);
}

static void
unref_cb (GasyncFuture *future,
          gpointer      user_data)
{
  log_event (user_data, "unref");
  g_object_unref (future);
}

static void
check_alive_cb (GasyncFuture *future,
                gpointer      user_data)
{
  g_assert_true (GASYNC_IS_FUTURE (future));
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_RESOLVED);
  log_event (user_data, "alive");
}

static void
test_done_drop_last_ref (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(GPtrArray) log = g_ptr_array_new_with_free_func (g_free);
  GasyncFuture *future = gasync_future_new ();
  GasyncFuture *weak = future;

  g_object_add_weak_pointer (G_OBJECT (future), (gpointer *) &weak);
  gasync_future_add_done_callback (future, unref_cb, log, NULL);
  gasync_future_add_done_callback (future, check_alive_cb, log, NULL);
  g_assert_true (gasync_future_resolve_int (future, 1));

  /* The callback drops the only reference we had. */
  ITERATE_UNTIL (fixture->context, weak == NULL);
  assert_log (log, "unref", "alive", NULL);
}

static void
test_done_finalize_pending (Fixture       *fixture,
                            gconstpointer  data)
{
  g_autoptr(GPtrArray) log = g_ptr_array_new_with_free_func (g_free);
  LogCallback a = { log, "a", 0 }, b = { log, "b", 0 };
  GasyncFuture *future = gasync_future_new ();

  gasync_future_add_done_callback (future, log_callback_cb, &a, log_callback_destroy);
  gasync_future_add_done_callback (future, log_callback_cb, &b, log_callback_destroy);
  g_signal_connect (future, "done", G_CALLBACK (log_signal_cb), log);

  drain (fixture->context);
  g_assert_finalize_object (future);
  g_assert_cmpint (a.destroyed, ==, 1);
  g_assert_cmpint (b.destroyed, ==, 1);
  drain (fixture->context);
  assert_log (log, NULL);
}

/* ------------------------------------------------------------------------ */
/* wait_async() / wait_finish() / wait()                                    */
/* ------------------------------------------------------------------------ */

typedef struct
{
  GAsyncResult *result;
  GThread      *thread;
} WaitResult;

static void
wait_ready_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  WaitResult *wait = user_data;

  wait->result = g_object_ref (result);
  wait->thread = g_thread_self ();
}

static void
test_wait_async_value (Fixture       *fixture,
                       gconstpointer  data)
{
  GasyncFuture *future = gasync_future_new ();
  WaitResult wait = { NULL, NULL };
  g_auto(GValue) value = G_VALUE_INIT;
  g_autoptr(GError) error = NULL;

  gasync_future_wait_async (future, NULL, wait_ready_cb, &wait);
  drain (fixture->context);
  g_assert_null (wait.result);

  g_assert_true (gasync_future_resolve_int (future, 77));
  g_assert_null (wait.result);
  ITERATE_UNTIL (fixture->context, wait.result != NULL);
  g_assert_true (wait.thread == g_thread_self ());
  g_assert_true (g_async_result_get_source_object (wait.result) == G_OBJECT (future));
  g_object_unref (future); /* the reference get_source_object() added */

  g_assert_true (gasync_future_wait_finish (future, wait.result, &value, &error));
  g_assert_no_error (error);
  g_assert_true (G_VALUE_HOLDS_INT (&value));
  g_assert_cmpint (g_value_get_int (&value), ==, 77);
  g_clear_object (&wait.result);

  /* Waiting on an already-done future still completes asynchronously. */
  gasync_future_wait_async (future, NULL, wait_ready_cb, &wait);
  g_assert_null (wait.result);
  ITERATE_UNTIL (fixture->context, wait.result != NULL);
  g_assert_true (gasync_future_wait_finish (future, wait.result, NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&wait.result);

  drain (fixture->context);
  g_assert_finalize_object (future);
}

static void
test_wait_async_error (Fixture       *fixture,
                       gconstpointer  data)
{
  GasyncFuture *future = gasync_future_new ();
  WaitResult wait = { NULL, NULL };
  g_auto(GValue) value = G_VALUE_INIT;
  g_autoptr(GError) error = NULL;

  gasync_future_wait_async (future, NULL, wait_ready_cb, &wait);
  g_assert_true (gasync_future_take_error (future, new_test_error ()));
  ITERATE_UNTIL (fixture->context, wait.result != NULL);
  g_assert_false (gasync_future_wait_finish (future, wait.result, &value, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_false (G_IS_VALUE (&value));
  g_clear_error (&error);
  g_clear_object (&wait.result);
  drain (fixture->context);
  /* wait_finish() retrieved the error: no warning. */
  drain (fixture->context);
  g_assert_finalize_object (future);

  future = gasync_future_new ();
  gasync_future_wait_async (future, NULL, wait_ready_cb, &wait);
  g_assert_true (gasync_future_cancel (future));
  ITERATE_UNTIL (fixture->context, wait.result != NULL);
  g_assert_false (gasync_future_wait_finish (future, wait.result, &value, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&wait.result);
  drain (fixture->context);
  g_assert_finalize_object (future);
}

static void
test_wait_async_cancellable (Fixture       *fixture,
                             gconstpointer  data)
{
  GasyncFuture *future = gasync_future_new ();
  GCancellable *cancellable = g_cancellable_new ();
  WaitResult wait = { NULL, NULL };
  g_autoptr(GError) error = NULL;
  int done = 0;

  gasync_future_add_done_callback (future, count_cb, &done, NULL);
  gasync_future_wait_async (future, cancellable, wait_ready_cb, &wait);
  g_cancellable_cancel (cancellable);
  ITERATE_UNTIL (fixture->context, wait.result != NULL);

  /* The wait ended; the future did not. */
  g_assert_false (gasync_future_wait_finish (future, wait.result, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&wait.result);
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_PENDING);
  g_assert_false (gasync_future_is_cancel_requested (future));

  /* Settling later does not complete the wait a second time. */
  g_assert_true (gasync_future_resolve_int (future, 1));
  drain (fixture->context);
  g_assert_cmpint (done, ==, 1);
  g_assert_null (wait.result);

  drain (fixture->context);
  g_assert_finalize_object (future);
  g_assert_finalize_object (cancellable);

  /* A cancellable cancelled before the call. */
  future = gasync_future_new ();
  cancellable = g_cancellable_new ();
  g_cancellable_cancel (cancellable);
  gasync_future_wait_async (future, cancellable, wait_ready_cb, &wait);
  ITERATE_UNTIL (fixture->context, wait.result != NULL);
  g_assert_false (gasync_future_wait_finish (future, wait.result, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_object (&wait.result);
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_PENDING);
  drain (fixture->context);
  g_assert_finalize_object (future);
  g_assert_finalize_object (cancellable);
}

typedef struct
{
  GasyncFuture *future;
  GCancellable *cancellable;
  GError       *error;
  gboolean      called;
} DropTest;

static void
wait_drop_future_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  DropTest *test = user_data;

  g_assert_false (gasync_future_wait_finish (test->future, result, NULL, &test->error));
  test->called = TRUE;
  /* Our last reference; the task still holds one while it runs. */
  g_clear_object (&test->future);
}

static gboolean
cancel_in_dispatch_cb (gpointer data)
{
  DropTest *test = data;

  g_cancellable_cancel (test->cancellable);
  return G_SOURCE_REMOVE;
}

static void
test_wait_async_cancel_drops_future (Fixture       *fixture,
                                     gconstpointer  data)
{
  DropTest test = { NULL };
  GasyncFuture *weak;
  GSource *source;

  test.future = weak = gasync_future_new ();
  g_object_add_weak_pointer (G_OBJECT (weak), (gpointer *) &weak);
  test.cancellable = g_cancellable_new ();
  gasync_future_wait_async (test.future, test.cancellable, wait_drop_future_cb, &test);
  drain (fixture->context);
  g_assert_false (test.called);

  /* Cancelled from a dispatch of the task's context.  The future is never
   * settled: once the wait's callback dropped our reference, only the
   * task held it, and it must go away with the task. */
  source = g_idle_source_new ();
  g_source_set_callback (source, cancel_in_dispatch_cb, &test, NULL);
  g_source_attach (source, fixture->context);
  g_source_unref (source);
  ITERATE_UNTIL (fixture->context, test.called && weak == NULL);
  g_assert_error (test.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&test.error);

  /* The wait's handler is gone with the future: cancelling again touches
   * nothing freed. */
  g_cancellable_reset (test.cancellable);
  g_cancellable_cancel (test.cancellable);
  g_assert_finalize_object (test.cancellable);
}

static gboolean
resolve_later_cb (gpointer data)
{
  gasync_future_resolve_string (data, "later");
  return G_SOURCE_REMOVE;
}

static gboolean
reject_later_cb (gpointer data)
{
  gasync_future_take_error (data, new_test_error ());
  return G_SOURCE_REMOVE;
}

static void
test_wait_iterate (Fixture       *fixture,
                   gconstpointer  data)
{
  GasyncFuture *future;
  GSource *source;
  g_autoptr(GError) error = NULL;
  g_autofree char *str = NULL;

  /* The caller can acquire the owning context: wait() iterates it. */
  future = gasync_future_new ();
  source = g_timeout_source_new (1);
  g_source_set_callback (source, resolve_later_cb, future, NULL);
  g_source_attach (source, fixture->context);
  g_assert_true (gasync_future_wait (future, &error));
  g_assert_no_error (error);
  str = gasync_future_dup_string (future, &error);
  g_assert_cmpstr (str, ==, "later");
  g_source_unref (source);
  drain (fixture->context);
  g_assert_finalize_object (future);

  future = gasync_future_new ();
  source = g_timeout_source_new (1);
  g_source_set_callback (source, reject_later_cb, future, NULL);
  g_source_attach (source, fixture->context);
  g_assert_false (gasync_future_wait (future, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_source_unref (source);
  drain (fixture->context);
  /* wait() retrieved the error. */
  drain (fixture->context);
  g_assert_finalize_object (future);

  /* Already settled: returns at once. */
  future = gasync_future_new_resolved_int (1);
  g_assert_true (gasync_future_wait (future, &error));
  g_assert_no_error (error);
  drain (fixture->context);
  g_assert_finalize_object (future);
}

typedef struct
{
  GMainContext *context;
  GasyncFuture *future;
  GThread      *thread;
  GMutex        mutex;
  GCond         cond;
  gboolean      ready;
  int           stop;        /* atomic */
  GThread      *settled_on;
  guint         polls;
} OwnerThread;

static gboolean
settle_when_waited_cb (gpointer data)
{
  OwnerThread *owner = data;
  GasyncFuturePrivate *priv = gasync_future_get_priv (owner->future);
  gboolean waited;

  /* Settle only once the waiter has registered its wake-up node, so that
   * the blocking path is the one under test. */
  g_mutex_lock (&priv->lock);
  waited = priv->callbacks != NULL;
  g_mutex_unlock (&priv->lock);

  if (waited)
    {
      owner->settled_on = g_thread_self ();
      gasync_future_resolve_int (owner->future, 2024);
      return G_SOURCE_REMOVE;
    }
  if (++owner->polls > WATCHDOG_SECONDS * 1000)
    {
      gasync_future_reject_literal (owner->future, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                    "watchdog: the waiter never registered");
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gpointer
owner_thread_func (gpointer data)
{
  OwnerThread *owner = data;

  g_main_context_push_thread_default (owner->context);
  /* Hold the context for the whole run so the waiter cannot take it. */
  g_assert_true (g_main_context_acquire (owner->context));

  g_mutex_lock (&owner->mutex);
  owner->ready = TRUE;
  g_cond_signal (&owner->cond);
  g_mutex_unlock (&owner->mutex);

  while (!g_atomic_int_get (&owner->stop))
    g_main_context_iteration (owner->context, TRUE);

  g_main_context_release (owner->context);
  g_main_context_pop_thread_default (owner->context);

  return NULL;
}

static void
test_wait_blocking (Fixture       *fixture,
                    gconstpointer  data)
{
  OwnerThread owner = { NULL };
  GSource *source;
  g_autoptr(GError) error = NULL;

  owner.context = g_main_context_new ();
  owner.future = gasync_future_new_for_context (owner.context);
  g_mutex_init (&owner.mutex);
  g_cond_init (&owner.cond);

  owner.thread = g_thread_new ("owner", owner_thread_func, &owner);
  g_mutex_lock (&owner.mutex);
  while (!owner.ready)
    g_cond_wait (&owner.cond, &owner.mutex);
  g_mutex_unlock (&owner.mutex);

  g_assert_false (g_main_context_acquire (owner.context));

  source = g_timeout_source_new (1);
  g_source_set_callback (source, settle_when_waited_cb, &owner, NULL);
  g_source_attach (source, owner.context);

  g_assert_true (gasync_future_wait (owner.future, &error));
  g_assert_no_error (error);
  g_assert_cmpint (gasync_future_get_int (owner.future, &error), ==, 2024);
  g_assert_true (owner.settled_on == owner.thread);

  g_atomic_int_set (&owner.stop, TRUE);
  g_main_context_wakeup (owner.context);
  g_thread_join (owner.thread);

  g_source_destroy (source);
  g_source_unref (source);
  g_assert_finalize_object (owner.future);
  g_mutex_clear (&owner.mutex);
  g_cond_clear (&owner.cond);
  g_main_context_unref (owner.context);
}

/* ------------------------------------------------------------------------ */
/* Diagnostics                                                              */
/* ------------------------------------------------------------------------ */

static void
test_never_retrieved (Fixture       *fixture,
                      gconstpointer  data)
{
  GasyncFuture *future;
  int done = 0;

  future = gasync_future_new ();
  g_assert_true (gasync_future_take_error (future, new_test_error ()));
  drain (fixture->context);
  g_test_expect_message (LIBRARY_DOMAIN, G_LOG_LEVEL_WARNING, "*never retrieved*");
  g_assert_finalize_object (future);
  g_test_assert_expected_messages ();

  /* The warning names the future and carries the message. */
  future = gasync_future_new_for_error (new_test_error ());
  gasync_future_set_name (future, "fetch-avatar");
  drain (fixture->context);
  g_test_expect_message (LIBRARY_DOMAIN, G_LOG_LEVEL_WARNING,
                         "*fetch-avatar*never retrieved*test error*");
  drain (fixture->context);
  g_assert_finalize_object (future);
  g_test_assert_expected_messages ();

  /* Watching the done signal is not reading the error. */
  future = gasync_future_new_for_error (new_test_error ());
  g_signal_connect_swapped (future, "done", G_CALLBACK (increment), &done);
  drain (fixture->context);
  g_assert_cmpint (done, ==, 1);
  g_test_expect_message (LIBRARY_DOMAIN, G_LOG_LEVEL_WARNING, "*never retrieved*");
  g_assert_finalize_object (future);
  g_test_assert_expected_messages ();
}

static void
test_retrieved_no_warning (Fixture       *fixture,
                           gconstpointer  data)
{
  GasyncFuture *future;
  g_auto(GValue) value = G_VALUE_INIT;
  g_autoptr(GError) error = NULL;

  future = gasync_future_new_for_error (new_test_error ());
  g_assert_false (gasync_future_get_value (future, &value, &error));
  g_clear_error (&error);
  drain (fixture->context);
  g_assert_finalize_object (future);

  future = gasync_future_new_for_error (new_test_error ());
  g_assert_false (gasync_future_propagate_error (future, &error));
  g_clear_error (&error);
  drain (fixture->context);
  g_assert_finalize_object (future);

  /* Reading with a NULL error location still counts as reading. */
  future = gasync_future_new_for_error (new_test_error ());
  g_assert_false (gasync_future_propagate_error (future, NULL));
  drain (fixture->context);
  g_assert_finalize_object (future);

  /* Cancelled futures never warn. */
  future = gasync_future_new_cancelled ();
  drain (fixture->context);
  g_assert_finalize_object (future);

  future = gasync_future_new ();
  g_assert_true (gasync_future_cancel (future));
  drain (fixture->context);
  g_assert_finalize_object (future);

  future = gasync_future_new_for_error (g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "c"));
  drain (fixture->context);
  g_assert_finalize_object (future);
}

/* ------------------------------------------------------------------------ */
/* Threads                                                                  */
/* ------------------------------------------------------------------------ */

#define N_THREAD_FUTURES 20000
#define N_SETTLE_THREADS 4

typedef struct _ThreadTest ThreadTest;

typedef struct
{
  ThreadTest *test;
  guint       index;
  int         calls;
} ThreadSlot;

struct _ThreadTest
{
  GasyncFuture **futures;
  ThreadSlot    *slots;
  GThread       *owner;
  guint          thread_index_base;
  int            delivered;        /* owner thread only */
  int            wrong_thread;     /* owner thread only */
  int            resolve_won;      /* atomic */
  int            cancel_won;       /* atomic */
  int            start;            /* atomic */
};

typedef struct
{
  ThreadTest *test;
  guint       id;
} ThreadArg;

static void
thread_done_cb (GasyncFuture *future,
                gpointer      user_data)
{
  ThreadSlot *slot = user_data;

  if (g_thread_self () != slot->test->owner)
    slot->test->wrong_thread++;
  slot->calls++;
  slot->test->delivered++;
}

static gpointer
settle_thread (gpointer data)
{
  ThreadArg *arg = data;
  ThreadTest *test = arg->test;
  int resolved = 0, cancelled = 0;

  while (!g_atomic_int_get (&test->start))
    ; /* spin: start all threads together */

  for (guint i = 0; i < N_THREAD_FUTURES; i++)
    {
      GasyncFuture *future = test->futures[i];

      /* Every future is resolved by one thread, cancelled by another, and
       * half of them get their callback from a third one, all racing. */
      if ((i + 2) % N_SETTLE_THREADS == arg->id && (i & 1))
        gasync_future_add_done_callback (future, thread_done_cb, &test->slots[i], NULL);
      if (i % N_SETTLE_THREADS == arg->id && gasync_future_resolve_int (future, (int) i))
        resolved++;
      if ((i + 1) % N_SETTLE_THREADS == arg->id && gasync_future_cancel (future))
        cancelled++;
      if ((i + 3) % N_SETTLE_THREADS == arg->id)
        gasync_future_set_progress (future, 0.5);
    }

  g_atomic_int_add (&test->resolve_won, resolved);
  g_atomic_int_add (&test->cancel_won, cancelled);

  return NULL;
}

static void
test_threads_settle_cancel (Fixture       *fixture,
                            gconstpointer  data)
{
  ThreadTest test = { NULL };
  GThread *threads[N_SETTLE_THREADS];
  ThreadArg args[N_SETTLE_THREADS];
  int n_resolved = 0, n_cancelled = 0;
  gboolean timed_out = FALSE;
  GSource *watchdog;

  test.owner = g_thread_self ();
  test.futures = g_new0 (GasyncFuture *, N_THREAD_FUTURES);
  test.slots = g_new0 (ThreadSlot, N_THREAD_FUTURES);

  for (guint i = 0; i < N_THREAD_FUTURES; i++)
    {
      test.futures[i] = gasync_future_new ();
      test.slots[i].test = &test;
      test.slots[i].index = i;
      if (!(i & 1))
        gasync_future_add_done_callback (test.futures[i], thread_done_cb, &test.slots[i], NULL);
    }

  for (guint t = 0; t < N_SETTLE_THREADS; t++)
    {
      args[t].test = &test;
      args[t].id = t;
      threads[t] = g_thread_new ("settle", settle_thread, &args[t]);
    }
  g_atomic_int_set (&test.start, TRUE);

  /* The owner thread keeps delivering while the others settle. */
  watchdog = g_timeout_source_new_seconds (WATCHDOG_SECONDS);
  g_source_set_callback (watchdog, flag_cb, &timed_out, NULL);
  g_source_attach (watchdog, fixture->context);
  while (test.delivered < N_THREAD_FUTURES && !timed_out)
    g_main_context_iteration (fixture->context, TRUE);
  g_source_destroy (watchdog);
  g_source_unref (watchdog);
  if (timed_out)
    g_test_message ("watchdog: %d of %d callbacks delivered",
                    test.delivered, N_THREAD_FUTURES);
  g_assert_false (timed_out);

  for (guint t = 0; t < N_SETTLE_THREADS; t++)
    g_thread_join (threads[t]);
  drain (fixture->context);

  g_assert_cmpint (test.wrong_thread, ==, 0);
  g_assert_cmpint (test.delivered, ==, N_THREAD_FUTURES);
  for (guint i = 0; i < N_THREAD_FUTURES; i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_cmpint (test.slots[i].calls, ==, 1);
      switch (gasync_future_get_state (test.futures[i]))
        {
        case GASYNC_FUTURE_STATE_RESOLVED:
          g_assert_cmpint (gasync_future_get_int (test.futures[i], &error), ==, (int) i);
          g_assert_no_error (error);
          n_resolved++;
          break;
        case GASYNC_FUTURE_STATE_CANCELLED:
          g_assert_true (gasync_future_is_cancel_requested (test.futures[i]));
          n_cancelled++;
          break;
        default:
          g_assert_not_reached ();
        }
    }

  /* Each future settled exactly once, by whoever won. */
  g_assert_cmpint (n_resolved, ==, test.resolve_won);
  g_assert_cmpint (n_resolved + n_cancelled, ==, N_THREAD_FUTURES);
  g_assert_cmpint (n_cancelled, <=, test.cancel_won);
  g_test_message ("%d resolved, %d cancelled", n_resolved, n_cancelled);

  for (guint i = 0; i < N_THREAD_FUTURES; i++)
    g_assert_finalize_object (test.futures[i]);
  g_free (test.futures);
  g_free (test.slots);
}

/* ------------------------------------------------------------------------ */
/* Scheduler budget                                                         */
/* ------------------------------------------------------------------------ */

#define N_BURST 10000

typedef struct
{
  int      delivered;
  gboolean out_of_order;
  gboolean idle_ran;
  int      delivered_at_idle;
} BurstTest;

typedef struct
{
  BurstTest *test;
  int        index;
} BurstSlot;

static void
burst_cb (GasyncFuture *future,
          gpointer      user_data)
{
  BurstSlot *slot = user_data;

  if (slot->index != slot->test->delivered)
    slot->test->out_of_order = TRUE;
  slot->test->delivered++;
}

static gboolean
burst_idle_cb (gpointer data)
{
  BurstTest *test = data;

  test->idle_ran = TRUE;
  test->delivered_at_idle = test->delivered;
  return G_SOURCE_REMOVE;
}

static void
test_scheduler_budget (Fixture       *fixture,
                       gconstpointer  data)
{
  BurstTest test = { 0 };
  GasyncFuture **futures = g_new0 (GasyncFuture *, N_BURST);
  BurstSlot *slots = g_new0 (BurstSlot, N_BURST);
  GSource *idle;
  int iterations = 0, max_per_iteration = 0;
  gboolean timed_out = FALSE;
  GSource *watchdog;

  for (int i = 0; i < N_BURST; i++)
    {
      futures[i] = gasync_future_new ();
      slots[i].test = &test;
      slots[i].index = i;
      gasync_future_add_done_callback (futures[i], burst_cb, &slots[i], NULL);
    }
  for (int i = 0; i < N_BURST; i++)
    gasync_future_resolve_void (futures[i]);

  idle = g_idle_source_new ();
  g_source_set_priority (idle, G_PRIORITY_DEFAULT_IDLE);
  g_source_set_callback (idle, burst_idle_cb, &test, NULL);
  g_source_attach (idle, fixture->context);

  watchdog = g_timeout_source_new_seconds (WATCHDOG_SECONDS);
  g_source_set_callback (watchdog, flag_cb, &timed_out, NULL);
  g_source_attach (watchdog, fixture->context);

  while (test.delivered < N_BURST && !timed_out)
    {
      int before = test.delivered;

      g_main_context_iteration (fixture->context, TRUE);
      iterations++;
      max_per_iteration = MAX (max_per_iteration, test.delivered - before);
    }
  g_source_destroy (watchdog);
  g_source_unref (watchdog);

  g_assert_false (timed_out);
  g_assert_cmpint (test.delivered, ==, N_BURST);
  g_assert_false (test.out_of_order);
  /* Delivered in many dispatches, each within the budget... */
  g_assert_cmpint (max_per_iteration, <=, GASYNC_SCHEDULER_BUDGET_ITEMS);
  g_assert_cmpint (iterations, >=, N_BURST / GASYNC_SCHEDULER_BUDGET_ITEMS);
  /* ...and a lower-priority idle got its turn in between. */
  g_assert_true (test.idle_ran);
  g_assert_cmpint (test.delivered_at_idle, >, 0);
  g_assert_cmpint (test.delivered_at_idle, <, N_BURST);
  g_test_message ("%d iterations, idle ran after %d deliveries",
                  iterations, test.delivered_at_idle);

  g_source_destroy (idle);
  g_source_unref (idle);
  drain (fixture->context);
  for (int i = 0; i < N_BURST; i++)
    g_assert_finalize_object (futures[i]);
  g_free (futures);
  g_free (slots);
}

/* ------------------------------------------------------------------------ */
/* Misuse                                                                   */
/* ------------------------------------------------------------------------ */

static void
noop_cb (GasyncFuture *future,
         gpointer      user_data)
{
}

static void
noop_ready_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
}

#define EXPECT_CRITICAL(stmt)                                                  \
  G_STMT_START {                                                               \
    g_test_expect_message (LIBRARY_DOMAIN, G_LOG_LEVEL_CRITICAL,               \
                           "*assertion*failed*");                              \
    stmt;                                                                      \
    g_test_assert_expected_messages ();                                        \
  } G_STMT_END

/* Every public method with an invalid instance @self: each logs one
 * critical, returns its fallback, and touches nothing. */
static void
call_every_method (GasyncFuture *self)
{
  g_auto(GValue) value = G_VALUE_INIT;
  g_auto(GValue) out = G_VALUE_INIT;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) rejection = new_test_error ();
  g_autoptr(GBytes) bytes = g_bytes_new_static ("x", 1);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GObject) object = g_object_new (G_TYPE_OBJECT, NULL);
  int destroyed = 0;

  g_value_init (&value, G_TYPE_INT);

  EXPECT_CRITICAL (g_assert_false (gasync_future_resolve_value (self, &value)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_resolve_void (self)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_resolve_boolean (self, TRUE)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_resolve_int (self, 1)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_resolve_int64 (self, 1)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_resolve_uint64 (self, 1)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_resolve_double (self, 1.0)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_resolve_string (self, "s")));
  EXPECT_CRITICAL (g_assert_false (gasync_future_resolve_object (self, object)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_resolve_boxed (self, G_TYPE_BYTES, bytes)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_resolve_pointer (self, &destroyed, NULL)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_reject (self, rejection)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_take_error (self, NULL)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_reject_literal (self, G_IO_ERROR, 0, "m")));
  EXPECT_CRITICAL (g_assert_false (gasync_future_cancel (self)));
  EXPECT_CRITICAL (g_assert_cmpint (gasync_future_get_state (self), ==, GASYNC_FUTURE_STATE_PENDING));
  EXPECT_CRITICAL (g_assert_false (gasync_future_is_done (self)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_is_cancelled (self)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_is_cancel_requested (self)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_get_value (self, &out, &error)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_get_boolean (self, &error)));
  EXPECT_CRITICAL (g_assert_cmpint (gasync_future_get_int (self, &error), ==, 0));
  EXPECT_CRITICAL (g_assert_cmpint (gasync_future_get_int64 (self, &error), ==, 0));
  EXPECT_CRITICAL (g_assert_cmpuint (gasync_future_get_uint64 (self, &error), ==, 0));
  EXPECT_CRITICAL (g_assert_cmpfloat (gasync_future_get_double (self, &error), ==, 0.0));
  EXPECT_CRITICAL (g_assert_null (gasync_future_dup_string (self, &error)));
  EXPECT_CRITICAL (g_assert_null (gasync_future_dup_object (self, &error)));
  EXPECT_CRITICAL (g_assert_null (gasync_future_dup_boxed (self, G_TYPE_BYTES, &error)));
  EXPECT_CRITICAL (g_assert_null (gasync_future_get_pointer (self, &error)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_propagate_error (self, &error)));
  EXPECT_CRITICAL (g_assert_null (gasync_future_get_context (self)));
  EXPECT_CRITICAL (g_assert_null (gasync_future_get_cancellable (self)));
  EXPECT_CRITICAL (gasync_future_set_cancellable (self, cancellable));
  EXPECT_CRITICAL (g_assert_null (gasync_future_get_name (self)));
  EXPECT_CRITICAL (gasync_future_set_name (self, "n"));
  EXPECT_CRITICAL (g_assert_cmpfloat (gasync_future_get_progress (self), ==, -1.0));
  EXPECT_CRITICAL (gasync_future_set_progress (self, 0.5));
  EXPECT_CRITICAL (g_assert_true (gasync_future_get_value_type (self) == G_TYPE_INVALID));
  EXPECT_CRITICAL (gasync_future_set_value_type (self, G_TYPE_INT));
  EXPECT_CRITICAL (g_assert_cmpuint (gasync_future_add_done_callback (self, noop_cb, NULL, NULL), ==, 0));
  EXPECT_CRITICAL (g_assert_false (gasync_future_remove_done_callback (self, 1)));
  EXPECT_CRITICAL (gasync_future_wait_async (self, NULL, noop_ready_cb, NULL));
  EXPECT_CRITICAL (g_assert_false (gasync_future_wait_finish (self, NULL, NULL, &error)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_wait (self, &error)));

  g_assert_no_error (error);
  g_assert_false (G_IS_VALUE (&out));
  g_assert_cmpint (destroyed, ==, 0);
  g_assert_false (g_cancellable_is_cancelled (cancellable));
  g_assert_cmpint (object->ref_count, ==, 1);
}

static void
test_misuse_null (Fixture       *fixture,
                  gconstpointer  data)
{
  call_every_method (NULL);
}

static void
test_misuse_wrong_instance (Fixture       *fixture,
                            gconstpointer  data)
{
  GObject *object = g_object_new (G_TYPE_OBJECT, NULL);

  call_every_method ((GasyncFuture *) object);
  g_assert_finalize_object (object);
}

static void
test_misuse_arguments (Fixture       *fixture,
                       gconstpointer  data)
{
  GasyncFuture *future = gasync_future_new ();
  GasyncFuture *refused;
  g_auto(GValue) unset = G_VALUE_INIT;
  g_auto(GValue) set = G_VALUE_INIT;
  g_autoptr(GError) error = new_test_error ();
  /* A type instance that is not a GObject. */
  g_autoptr(GParamSpec) pspec = g_param_spec_ref_sink (g_param_spec_int ("i", NULL, NULL, 0, 1, 0, G_PARAM_READWRITE));
  int i = 1;

  EXPECT_CRITICAL (gasync_future_set_progress (future, 2.0));
  EXPECT_CRITICAL (gasync_future_set_progress (future, -0.5));
  EXPECT_CRITICAL (gasync_future_set_progress (future, NAN));
  g_assert_cmpfloat (gasync_future_get_progress (future), ==, -1.0);

  EXPECT_CRITICAL (g_assert_false (gasync_future_reject (future, NULL)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_take_error (future, NULL)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_reject_literal (future, 0, 1, "m")));
  EXPECT_CRITICAL (g_assert_false (gasync_future_reject_literal (future, G_IO_ERROR, 1, NULL)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_resolve_boxed (future, G_TYPE_INT, &i)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_resolve_boxed (future, G_TYPE_OBJECT, NULL)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_resolve_value (future, NULL)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_resolve_value (future, &unset)));
  EXPECT_CRITICAL (g_assert_false (gasync_future_resolve_object (future, pspec)));
  EXPECT_CRITICAL (g_assert_cmpuint (gasync_future_add_done_callback (future, NULL, NULL, NULL), ==, 0));
  EXPECT_CRITICAL (g_assert_false (gasync_future_remove_done_callback (future, 0)));
  EXPECT_CRITICAL (gasync_future_set_cancellable (future, (GCancellable *) future));

  /* None of that settled it. */
  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_PENDING);
  g_assert_true (gasync_future_resolve_int (future, 1));

  /* Reading into an initialized GValue, or over a set error. */
  g_value_init (&set, G_TYPE_INT);
  EXPECT_CRITICAL (g_assert_false (gasync_future_get_value (future, &set, NULL)));
  EXPECT_CRITICAL (g_assert_cmpint (gasync_future_get_int (future, &error), ==, 0));
  EXPECT_CRITICAL (g_assert_null (gasync_future_dup_boxed (future, G_TYPE_INT, NULL)));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);

  /* Constructors: those of rejected futures, given no error, return NULL;
   * the others return a future rejected with GASYNC_ERROR_FAILED. */
  EXPECT_CRITICAL (g_assert_null (gasync_future_new_rejected (NULL)));
  EXPECT_CRITICAL (g_assert_null (gasync_future_new_for_error (NULL)));
  EXPECT_CRITICAL (refused = gasync_future_new_resolved_boxed (G_TYPE_INT, &i));
  assert_refused (refused, "gasync_future_new_resolved_boxed");
  EXPECT_CRITICAL (refused = gasync_future_new_resolved_object (pspec));
  assert_refused (refused, "gasync_future_new_resolved_object");

  drain (fixture->context);
  g_assert_finalize_object (future);
}

/* A future whose last reference gasync drops (here its delivery's) goes to
 * the thread's pool when nothing can observe it, and comes back from
 * gasync_future_new() as new: nothing of its earlier life shows. */
static void
test_recycle_reset (Fixture       *fixture,
                    gconstpointer  data)
{
  GasyncFuture *future = gasync_future_new ();
  GasyncFuture *again;
  GMainContext *other = g_main_context_new ();
  g_autoptr(GError) error = NULL;
  GValue value = G_VALUE_INIT;

  gasync_future_set_name (future, "first life");
  gasync_future_set_progress (future, 0.5);
  gasync_future_set_value_type (future, G_TYPE_STRING);
  gasync_future_resolve_string (future, "gone");
  g_object_unref (future);
  drain (fixture->context);

  /* A pool is last in, first out. */
  again = gasync_future_new ();
  g_assert_true (again == future);
  g_assert_cmpint (gasync_future_get_state (again), ==, GASYNC_FUTURE_STATE_PENDING);
  g_assert_false (gasync_future_is_done (again));
  g_assert_false (gasync_future_is_cancel_requested (again));
  g_assert_null (gasync_future_get_name (again));
  g_assert_cmpfloat (gasync_future_get_progress (again), ==, -1.0);
  g_assert_true (gasync_future_get_value_type (again) == G_TYPE_INVALID);
  g_assert_true (gasync_future_get_context (again) == fixture->context);
  g_assert_false (gasync_future_get_value (again, &value, &error));
  g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_INVALID_STATE);

  /* It takes the thread-default context of its new life. */
  gasync_future_resolve_int (again, 7);
  g_object_unref (again);
  drain (fixture->context);
  g_main_context_push_thread_default (other);
  again = gasync_future_new ();
  g_assert_true (again == future);
  g_assert_true (gasync_future_get_context (again) == other);
  g_main_context_pop_thread_default (other);
  g_object_unref (again);
  g_main_context_unref (other);
}

static void
recycle_cancelled_cb (GasyncFuture *future,
                      gpointer      data)
{
  (*(guint *) data)++;
}

static void
recycle_notify_cb (GObject    *object,
                   GParamSpec *pspec,
                   gpointer    data)
{
  (*(guint *) data)++;
}

static void
recycle_destroy_cb (gpointer  data,
                    GClosure *closure)
{
  (*(guint *) data)++;
}

/* Signal handlers go with the life they were connected in, blocked ones
 * too, as they do when GObject finalizes. */
static void
test_recycle_handlers (Fixture       *fixture,
                       gconstpointer  data)
{
  GasyncFuture *future = gasync_future_new ();
  GasyncFuture *again;
  guint calls = 0, destroyed = 0;
  gulong id;

  g_signal_connect_data (future, "cancelled", G_CALLBACK (recycle_cancelled_cb), &calls,
                         recycle_destroy_cb, 0);
  id = g_signal_connect_data (future, "notify", G_CALLBACK (recycle_notify_cb), &calls,
                              recycle_destroy_cb, 0);
  g_signal_handler_block (future, id);
  g_signal_handlers_disconnect_by_data (future, &calls);
  g_assert_cmpuint (calls, ==, 2);  /* the destroy notifies */
  calls = 0;

  id = g_signal_connect_data (future, "cancelled", G_CALLBACK (recycle_cancelled_cb), &calls,
                              recycle_destroy_cb, 0);
  g_signal_connect_data (future, "notify", G_CALLBACK (recycle_notify_cb), &destroyed,
                         recycle_destroy_cb, 0);
  g_signal_handler_block (future, id);
  gasync_future_resolve_void (future);
  g_object_unref (future);
  drain (fixture->context);
  /* Delivery notified `state` and `done` once each (2), then recycling
   * destroyed both handlers (1 + 1). */
  g_assert_cmpuint (destroyed, ==, 3);
  g_assert_cmpuint (calls, ==, 1);

  again = gasync_future_new ();
  g_assert_true (again == future);
  g_assert_true (gasync_future_cancel (again));
  drain (fixture->context);
  g_assert_cmpuint (calls, ==, 1);
  g_assert_cmpuint (destroyed, ==, 3);
  g_object_unref (again);
}

static void
weak_notify_cb (gpointer  data,
                GObject  *where_the_object_was)
{
  (*(guint *) data)++;
}

/* What can still observe a future keeps it out of the pool: it is
 * finalized as any GObject. */
static void
test_recycle_observed (Fixture       *fixture,
                       gconstpointer  data)
{
  GasyncFuture *future = gasync_future_new ();
  GasyncFuture *other;
  guint finalized = 0;
  GWeakRef weak;

  g_object_weak_ref (G_OBJECT (future), weak_notify_cb, &finalized);
  gasync_future_resolve_void (future);
  g_object_unref (future);
  drain (fixture->context);
  g_assert_cmpuint (finalized, ==, 1);

  other = gasync_future_new ();
  g_weak_ref_init (&weak, other);
  gasync_future_resolve_void (other);
  g_object_unref (other);
  drain (fixture->context);
  g_assert_null (g_weak_ref_get (&weak));
  g_weak_ref_clear (&weak);

  other = gasync_future_new ();
  g_object_set_data (G_OBJECT (other), "user-data", &finalized);
  g_object_weak_ref (G_OBJECT (other), weak_notify_cb, &finalized);
  gasync_future_resolve_void (other);
  g_object_unref (other);
  drain (fixture->context);
  g_assert_cmpuint (finalized, ==, 2);
}

/* A rejection nobody read is reported when the future's life ends, in
 * the pool as in finalize. */
static void
test_recycle_never_retrieved (Fixture       *fixture,
                              gconstpointer  data)
{
  GasyncFuture *future = gasync_future_new ();

  gasync_future_set_name (future, "recycled");
  gasync_future_reject_literal (future, G_IO_ERROR, G_IO_ERROR_FAILED, "lost");
  g_object_unref (future);
  g_test_expect_message (LIBRARY_DOMAIN, G_LOG_LEVEL_WARNING,
                         "*“recycled”*never retrieved: lost*");
  drain (fixture->context);
  g_test_assert_expected_messages ();
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/Gasync/Future/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("states", test_states);
  ADD ("settle-once", test_settle_once);
  ADD ("context/thread-default", test_context_thread_default);
  ADD ("context/delivery", test_context_delivery);
  ADD ("context/reference", test_context_reference);
  ADD ("typed/scalars", test_typed_scalars);
  ADD ("typed/string", test_typed_string);
  ADD ("typed/object", test_typed_object);
  ADD ("typed/boxed", test_typed_boxed);
  ADD ("typed/pointer", test_typed_pointer);
  ADD ("typed/value", test_typed_value);
  ADD ("typed/void", test_typed_void);
  ADD ("constructors", test_constructors);
  ADD ("read/pending", test_read_pending);
  ADD ("read/cancelled", test_read_cancelled);
  ADD ("read/rejected", test_read_rejected);
  ADD ("read/reject-cancelled-error", test_reject_cancelled_error);
  ADD ("value-type", test_value_type);
  ADD ("cancel/signals", test_cancel_signals);
  ADD ("cancel/settled", test_cancel_settled);
  ADD ("cancellable/from-future", test_cancellable_from_future);
  ADD ("cancellable/to-future", test_cancellable_to_future);
  ADD ("cancellable/set", test_cancellable_set);
  ADD ("cancellable/other-thread", test_cancellable_other_thread);
  ADD ("notify/plain", test_notify_plain);
  ADD ("notify/detailed", test_notify_detailed);
  ADD ("property/name", test_property_name);
  ADD ("property/progress", test_property_progress);
  ADD ("property/progress-thread", test_property_progress_thread);
  ADD ("done/order", test_done_order);
  ADD ("done/already-done", test_done_already_done);
  ADD ("done/remove", test_done_remove);
  ADD ("done/nested-add", test_done_nested_add);
  ADD ("done/drop-last-ref", test_done_drop_last_ref);
  ADD ("done/finalize-pending", test_done_finalize_pending);
  ADD ("wait-async/value", test_wait_async_value);
  ADD ("wait-async/error", test_wait_async_error);
  ADD ("wait-async/cancellable", test_wait_async_cancellable);
  ADD ("wait-async/cancel-drops-future", test_wait_async_cancel_drops_future);
  ADD ("wait/iterate", test_wait_iterate);
  ADD ("wait/blocking", test_wait_blocking);
  ADD ("diagnostics/never-retrieved", test_never_retrieved);
  ADD ("diagnostics/retrieved", test_retrieved_no_warning);
  ADD ("threads/settle-cancel", test_threads_settle_cancel);
  ADD ("scheduler/budget", test_scheduler_budget);
  ADD ("recycle/reset", test_recycle_reset);
  ADD ("recycle/handlers", test_recycle_handlers);
  ADD ("recycle/observed", test_recycle_observed);
  ADD ("recycle/never-retrieved", test_recycle_never_retrieved);
  ADD ("misuse/null", test_misuse_null);
  ADD ("misuse/wrong-instance", test_misuse_wrong_instance);
  ADD ("misuse/arguments", test_misuse_arguments);

#undef ADD

  return g_test_run ();
}
