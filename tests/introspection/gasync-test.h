/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gasync/gasync.h>

G_BEGIN_DECLS

#define GASYNC_TEST_TYPE_RECORDER (gasync_test_recorder_get_type ())

G_DECLARE_FINAL_TYPE (GasyncTestRecorder, gasync_test_recorder, GASYNC_TEST, RECORDER, GObject)

GasyncTestRecorder  *gasync_test_recorder_new             (void);
void                 gasync_test_recorder_add             (GasyncTestRecorder *self,
                                                           const char         *event);
char               **gasync_test_recorder_dup_events      (GasyncTestRecorder *self);
guint                gasync_test_recorder_get_n_events    (GasyncTestRecorder *self);
void                 gasync_test_recorder_watch_cancellable (GasyncTestRecorder *self,
                                                             GCancellable       *cancellable);

GasyncFuture        *gasync_test_sleep                    (guint               ms);
gboolean             gasync_test_on_coroutine_stack       (void);
char                *gasync_test_describe_outcome         (GasyncFuture       *future);

GasyncCoroutine     *gasync_test_await_and_double         (GasyncFuture       *future);
GasyncCoroutine     *gasync_test_await_and_describe       (GasyncFuture       *future);
GasyncCoroutine     *gasync_test_await_recorded           (GasyncFuture       *future,
                                                           GasyncTestRecorder *recorder);
GasyncCoroutine     *gasync_test_sleep_until_cancelled    (guint               interval_ms,
                                                           GasyncTestRecorder *recorder);
GasyncCoroutine     *gasync_test_cancel_after             (GasyncFuture       *future,
                                                           guint               n_sleeps,
                                                           GasyncTestRecorder *recorder);
GasyncCoroutine     *gasync_test_sum_in_order             (GasyncFuture      **futures,
                                                           guint               n_futures);

G_END_DECLS
