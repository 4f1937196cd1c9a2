/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(GASYNC_INSIDE) && !defined(GASYNC_COMPILATION)
# error "Only <gasync/gasync.h> can be included directly."
#endif

#include <gio/gio.h>

#include "gasync-version-macros.h"

G_BEGIN_DECLS

/**
 * GasyncFutureState:
 * @GASYNC_FUTURE_STATE_PENDING: the future has no outcome yet
 * @GASYNC_FUTURE_STATE_RESOLVED: the future holds a value (possibly none)
 * @GASYNC_FUTURE_STATE_REJECTED: the future holds an error
 * @GASYNC_FUTURE_STATE_CANCELLED: the future was cancelled; reading it gives
 *   `G_IO_ERROR_CANCELLED`
 *
 * The states of a [class@Future]. A future leaves `PENDING` once and never
 * changes state again.
 */
typedef enum
{
  GASYNC_FUTURE_STATE_PENDING,
  GASYNC_FUTURE_STATE_RESOLVED,
  GASYNC_FUTURE_STATE_REJECTED,
  GASYNC_FUTURE_STATE_CANCELLED,
} GasyncFutureState;

#define GASYNC_TYPE_FUTURE (gasync_future_get_type ())

GASYNC_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (GasyncFuture, gasync_future, GASYNC, FUTURE, GObject)

/**
 * GasyncFutureClass:
 * @parent_class: the parent class
 * @request_cancel: acts on a cancellation request of a pending future;
 *   called at most once, from the thread that called [method@Future.cancel],
 *   with no lock held. The default settles the future as cancelled; a
 *   coroutine instead makes its current await fail and lets its body decide
 *   how to end.
 *
 * The class of [class@Future]. Subclasses exist so that coroutines and
 * language bindings can specialise cancellation.
 */
struct _GasyncFutureClass
{
  GObjectClass parent_class;

  void (*request_cancel) (GasyncFuture *self);
};

/**
 * GasyncFutureCallback:
 * @future: the settled future
 * @user_data: the data given when the callback was added
 *
 * A done callback added with [method@Future.add_done_callback]. It runs on
 * the future's main context, from a dispatch of gasync's scheduler source.
 */
typedef void (*GasyncFutureCallback) (GasyncFuture *future,
                                      gpointer      user_data);

GASYNC_AVAILABLE_IN_ALL
GasyncFuture      *gasync_future_new                  (void) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture      *gasync_future_new_for_context      (GMainContext        *context) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture      *gasync_future_new_resolved         (const GValue        *value) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture      *gasync_future_new_resolved_boolean (gboolean             value) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture      *gasync_future_new_resolved_int     (int                  value) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture      *gasync_future_new_resolved_int64   (gint64               value) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture      *gasync_future_new_resolved_uint64  (guint64              value) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture      *gasync_future_new_resolved_double  (double               value) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture      *gasync_future_new_resolved_string  (const char          *value) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture      *gasync_future_new_resolved_object  (gpointer             value) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture      *gasync_future_new_resolved_boxed   (GType                boxed_type,
                                                       gconstpointer        value) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture      *gasync_future_new_resolved_pointer (gpointer             value,
                                                       GDestroyNotify       destroy) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture      *gasync_future_new_rejected         (const GError        *error) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture      *gasync_future_new_for_error        (GError              *error) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture      *gasync_future_new_cancelled        (void) G_GNUC_WARN_UNUSED_RESULT;

GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_resolve_value        (GasyncFuture        *self,
                                                       const GValue        *value);
GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_resolve_void         (GasyncFuture        *self);
GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_resolve_boolean      (GasyncFuture        *self,
                                                       gboolean             value);
GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_resolve_int          (GasyncFuture        *self,
                                                       int                  value);
GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_resolve_int64        (GasyncFuture        *self,
                                                       gint64               value);
GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_resolve_uint64       (GasyncFuture        *self,
                                                       guint64              value);
GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_resolve_double       (GasyncFuture        *self,
                                                       double               value);
GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_resolve_string       (GasyncFuture        *self,
                                                       const char          *value);
GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_resolve_object       (GasyncFuture        *self,
                                                       gpointer             value);
GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_resolve_boxed        (GasyncFuture        *self,
                                                       GType                boxed_type,
                                                       gconstpointer        value);
GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_resolve_pointer      (GasyncFuture        *self,
                                                       gpointer             value,
                                                       GDestroyNotify       destroy);
GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_reject               (GasyncFuture        *self,
                                                       const GError        *error);
GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_take_error           (GasyncFuture        *self,
                                                       GError              *error);
GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_reject_literal       (GasyncFuture        *self,
                                                       GQuark               domain,
                                                       int                  code,
                                                       const char          *message);
GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_cancel               (GasyncFuture        *self);

GASYNC_AVAILABLE_IN_ALL
GasyncFutureState  gasync_future_get_state            (GasyncFuture        *self);
GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_is_done              (GasyncFuture        *self);
GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_is_cancelled         (GasyncFuture        *self);
GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_is_cancel_requested  (GasyncFuture        *self);
GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_get_value            (GasyncFuture        *self,
                                                       GValue              *value,
                                                       GError             **error);
GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_get_boolean          (GasyncFuture        *self,
                                                       GError             **error);
GASYNC_AVAILABLE_IN_ALL
int                gasync_future_get_int              (GasyncFuture        *self,
                                                       GError             **error);
GASYNC_AVAILABLE_IN_ALL
gint64             gasync_future_get_int64            (GasyncFuture        *self,
                                                       GError             **error);
GASYNC_AVAILABLE_IN_ALL
guint64            gasync_future_get_uint64           (GasyncFuture        *self,
                                                       GError             **error);
GASYNC_AVAILABLE_IN_ALL
double             gasync_future_get_double           (GasyncFuture        *self,
                                                       GError             **error);
GASYNC_AVAILABLE_IN_ALL
char              *gasync_future_dup_string           (GasyncFuture        *self,
                                                       GError             **error) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
gpointer           gasync_future_dup_object           (GasyncFuture        *self,
                                                       GError             **error) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
gpointer           gasync_future_dup_boxed            (GasyncFuture        *self,
                                                       GType                boxed_type,
                                                       GError             **error) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
gpointer           gasync_future_get_pointer          (GasyncFuture        *self,
                                                       GError             **error);
GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_propagate_error      (GasyncFuture        *self,
                                                       GError             **error);
GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_has_value            (GasyncFuture        *self);

GASYNC_AVAILABLE_IN_ALL
GMainContext      *gasync_future_get_context          (GasyncFuture        *self);
GASYNC_AVAILABLE_IN_ALL
GCancellable      *gasync_future_get_cancellable      (GasyncFuture        *self);
GASYNC_AVAILABLE_IN_ALL
void               gasync_future_set_cancellable      (GasyncFuture        *self,
                                                       GCancellable        *cancellable);
GASYNC_AVAILABLE_IN_ALL
const char        *gasync_future_get_name             (GasyncFuture        *self);
GASYNC_AVAILABLE_IN_ALL
void               gasync_future_set_name             (GasyncFuture        *self,
                                                       const char          *name);
GASYNC_AVAILABLE_IN_ALL
double             gasync_future_get_progress         (GasyncFuture        *self);
GASYNC_AVAILABLE_IN_ALL
void               gasync_future_set_progress         (GasyncFuture        *self,
                                                       double               progress);
GASYNC_AVAILABLE_IN_ALL
GType              gasync_future_get_value_type       (GasyncFuture        *self);
GASYNC_AVAILABLE_IN_ALL
void               gasync_future_set_value_type       (GasyncFuture        *self,
                                                       GType                value_type);

GASYNC_AVAILABLE_IN_ALL
gulong             gasync_future_add_done_callback    (GasyncFuture        *self,
                                                       GasyncFutureCallback callback,
                                                       gpointer             user_data,
                                                       GDestroyNotify       destroy);
GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_remove_done_callback (GasyncFuture        *self,
                                                       gulong               callback_id);

GASYNC_AVAILABLE_IN_ALL
void               gasync_future_wait_async           (GasyncFuture        *self,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_wait_finish          (GasyncFuture        *self,
                                                       GAsyncResult        *result,
                                                       GValue              *value,
                                                       GError             **error);
GASYNC_AVAILABLE_IN_ALL
gboolean           gasync_future_wait                 (GasyncFuture        *self,
                                                       GError             **error);

G_END_DECLS
