/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(GASYNC_INSIDE) && !defined(GASYNC_COMPILATION)
# error "Only <gasync/gasync.h> can be included directly."
#endif

#include "gasync-future.h"

G_BEGIN_DECLS

#define GASYNC_TYPE_COROUTINE (gasync_coroutine_get_type ())

GASYNC_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (GasyncCoroutine, gasync_coroutine, GASYNC, COROUTINE, GasyncFuture)

/**
 * GasyncCoroutineFunc:
 * @user_data: the data given at spawn time
 * @result: an uninitialized `GValue`; initialize and set it to resolve the
 *   coroutine with a value, or leave it unset for no value
 * @error: return location for an error
 *
 * The body of a stackful coroutine. It runs on its own stack and may call
 * [func@await] and its typed variants, which suspend it until a future
 * settles, without blocking the main context.
 *
 * Returns: `TRUE` to resolve the coroutine with @result; `FALSE` with @error
 *   set to reject it, or to end it cancelled if @error is
 *   `G_IO_ERROR_CANCELLED`
 */
typedef gboolean (*GasyncCoroutineFunc) (gpointer   user_data,
                                         GValue    *result,
                                         GError   **error);

/**
 * GasyncCoroutineStepFunc:
 * @coroutine: the coroutine
 * @awaited: (nullable): the future returned by the previous step, now
 *   settled, or `NULL` on the first step. When cancellation of the
 *   coroutine was requested while it waited, this is a cancelled future
 *   instead, and the future it waited for has been cancelled.
 * @user_data: the data given at spawn time
 *
 * One step of a stepped coroutine, the form language bindings run their own
 * coroutines on. It is called on the coroutine's main context, from the
 * scheduler's dispatch, on the thread's own stack.
 *
 * To finish, settle @coroutine (for example with
 * [method@Future.resolve_value] or [method@Future.reject]) and return
 * `NULL`; returning `NULL` without settling resolves it without a value.
 *
 * Returns: (transfer full) (nullable): the next future to wait for, or
 *   `NULL` when the coroutine is finished
 */
typedef GasyncFuture *(*GasyncCoroutineStepFunc) (GasyncCoroutine *coroutine,
                                                  GasyncFuture    *awaited,
                                                  gpointer         user_data);

GASYNC_AVAILABLE_IN_ALL
GasyncCoroutine *gasync_coroutine_spawn          (const char              *name,
                                                  GasyncCoroutineFunc      func,
                                                  gpointer                 user_data,
                                                  GDestroyNotify           destroy) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncCoroutine *gasync_coroutine_spawn_full     (GMainContext            *context,
                                                  int                      priority,
                                                  gsize                    stack_size,
                                                  const char              *name,
                                                  GasyncCoroutineFunc      func,
                                                  gpointer                 user_data,
                                                  GDestroyNotify           destroy) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncCoroutine *gasync_coroutine_spawn_stepped  (GMainContext            *context,
                                                  const char              *name,
                                                  GasyncCoroutineStepFunc  func,
                                                  gpointer                 user_data,
                                                  GDestroyNotify           destroy) G_GNUC_WARN_UNUSED_RESULT;

GASYNC_AVAILABLE_IN_ALL
GasyncCoroutine *gasync_coroutine_get_current    (void);
GASYNC_AVAILABLE_IN_ALL
GasyncFuture    *gasync_coroutine_dup_awaiting   (GasyncCoroutine         *self) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
gboolean         gasync_coroutine_is_stackful    (GasyncCoroutine         *self);
GASYNC_AVAILABLE_IN_ALL
gint64           gasync_coroutine_get_spawn_time (GasyncCoroutine         *self);

GASYNC_AVAILABLE_IN_ALL
void             gasync_coroutine_install_overflow_handler (void);

GASYNC_AVAILABLE_IN_ALL
GPtrArray       *gasync_coroutine_list           (void);
GASYNC_AVAILABLE_IN_ALL
char            *gasync_coroutine_describe_all   (void) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
