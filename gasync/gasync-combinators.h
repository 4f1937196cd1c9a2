/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(GASYNC_INSIDE) && !defined(GASYNC_COMPILATION)
# error "Only <gasync/gasync.h> can be included directly."
#endif

#include "gasync-future.h"

G_BEGIN_DECLS

/**
 * GasyncWaitMode:
 * @GASYNC_WAIT_FIRST_COMPLETED: settle as soon as any future has settled
 * @GASYNC_WAIT_FIRST_EXCEPTION: settle as soon as any future fails (is
 *   rejected or cancelled), or when all have settled
 * @GASYNC_WAIT_ALL_COMPLETED: settle when every future has settled
 *
 * When [func@wait] settles, like the `return_when` argument of asyncio's
 * `wait()`.
 */
typedef enum
{
  GASYNC_WAIT_FIRST_COMPLETED,
  GASYNC_WAIT_FIRST_EXCEPTION,
  GASYNC_WAIT_ALL_COMPLETED,
} GasyncWaitMode;

#define GASYNC_TYPE_COMBINATOR (gasync_combinator_get_type ())

GASYNC_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (GasyncCombinator, gasync_combinator, GASYNC, COMBINATOR, GasyncFuture)

/**
 * GasyncThenFunc:
 * @future: the settled future the continuation was attached to
 * @user_data: the data given with the continuation
 *
 * A continuation for [func@then], [func@catch] and [func@finally]. It runs
 * on the context of the future [func@then] returned, from the scheduler's
 * dispatch.
 *
 * Returns: (transfer full) (nullable): a future whose outcome becomes the
 *   outcome of the future [func@then] returned, or `NULL` for a void
 *   result
 */
typedef GasyncFuture *(*GasyncThenFunc) (GasyncFuture *future,
                                         gpointer      user_data);

GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_all                      (GasyncFuture        *first,
                                               ...) G_GNUC_NULL_TERMINATED G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_allv                     (GasyncFuture       **futures,
                                               guint                n_futures) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_all_settled              (GasyncFuture        *first,
                                               ...) G_GNUC_NULL_TERMINATED G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_all_settledv             (GasyncFuture       **futures,
                                               guint                n_futures) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_any                      (GasyncFuture        *first,
                                               ...) G_GNUC_NULL_TERMINATED G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_anyv                     (GasyncFuture       **futures,
                                               guint                n_futures) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_race                     (GasyncFuture        *first,
                                               ...) G_GNUC_NULL_TERMINATED G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_racev                    (GasyncFuture       **futures,
                                               guint                n_futures) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_wait                     (GasyncWaitMode       mode,
                                               GasyncFuture        *first,
                                               ...) G_GNUC_NULL_TERMINATED G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_waitv                    (GasyncWaitMode       mode,
                                               GasyncFuture       **futures,
                                               guint                n_futures) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_with_timeout             (GasyncFuture        *future,
                                               guint                timeout_ms) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_shield                   (GasyncFuture        *future) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_then                     (GasyncFuture        *future,
                                               GasyncThenFunc       func,
                                               gpointer             user_data,
                                               GDestroyNotify       destroy) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_catch                    (GasyncFuture        *future,
                                               GasyncThenFunc       func,
                                               gpointer             user_data,
                                               GDestroyNotify       destroy) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_finally                  (GasyncFuture        *future,
                                               GasyncThenFunc       func,
                                               gpointer             user_data,
                                               GDestroyNotify       destroy) G_GNUC_WARN_UNUSED_RESULT;

GASYNC_AVAILABLE_IN_ALL
GPtrArray    *gasync_combinator_get_children  (GasyncCombinator    *self);
GASYNC_AVAILABLE_IN_ALL
GPtrArray    *gasync_combinator_dup_done      (GasyncCombinator    *self) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GPtrArray    *gasync_combinator_dup_pending   (GasyncCombinator    *self) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
