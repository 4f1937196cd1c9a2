/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(GASYNC_INSIDE) && !defined(GASYNC_COMPILATION)
# error "Only <gasync/gasync.h> can be included directly."
#endif

#include <gio/gio.h>

#include "gasync-future.h"

G_BEGIN_DECLS

/**
 * GasyncThreadFunc:
 * @cancellable: cancelled when the future is cancelled; poll it with
 *   `g_cancellable_is_cancelled()` or pass it to blocking GIO calls
 * @user_data: the data given to [func@run_in_thread]
 * @result: (out caller-allocates): an uninitialized `GValue`; initialize
 *   and set it to resolve the future with a value, or leave it unset for no
 *   value
 * @error: return location for an error
 *
 * Blocking work run on one of gasync's worker threads by
 * [func@run_in_thread]. It must not touch objects that belong to the main
 * thread, such as widgets.
 *
 * Returns: `TRUE` to resolve the future with @result; `FALSE` with @error
 *   set to reject it (`G_IO_ERROR_CANCELLED` ends it cancelled)
 */
typedef gboolean (*GasyncThreadFunc) (GCancellable  *cancellable,
                                      gpointer       user_data,
                                      GValue        *result,
                                      GError       **error);

/**
 * GASYNC_THREAD_POOL_MIN_THREADS:
 *
 * The least number of worker threads [func@run_in_thread] may use at once:
 * the pool's size is twice the number of processors, but never less than
 * this.
 */
#define GASYNC_THREAD_POOL_MIN_THREADS 4

/**
 * GASYNC_THREAD_POOL_MAX_THREADS:
 *
 * The most worker threads [func@run_in_thread] uses at once, however many
 * processors there are.
 */
#define GASYNC_THREAD_POOL_MAX_THREADS 64

GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_run_in_thread           (GasyncThreadFunc  func,
                                              gpointer          user_data,
                                              GDestroyNotify    destroy) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
guint         gasync_thread_pool_get_max_threads (void);

G_END_DECLS
