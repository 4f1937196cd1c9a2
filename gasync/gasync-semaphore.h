/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(GASYNC_INSIDE) && !defined(GASYNC_COMPILATION)
# error "Only <gasync/gasync.h> can be included directly."
#endif

#include <glib-object.h>

#include "gasync-future.h"

G_BEGIN_DECLS

#define GASYNC_TYPE_SEMAPHORE (gasync_semaphore_get_type ())

GASYNC_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (GasyncSemaphore, gasync_semaphore, GASYNC, SEMAPHORE, GObject)

GASYNC_AVAILABLE_IN_ALL
GasyncSemaphore *gasync_semaphore_new           (guint            permits) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture    *gasync_semaphore_acquire       (GasyncSemaphore *self) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
gboolean         gasync_semaphore_try_acquire   (GasyncSemaphore *self);
GASYNC_AVAILABLE_IN_ALL
void             gasync_semaphore_release       (GasyncSemaphore *self);
GASYNC_AVAILABLE_IN_ALL
guint            gasync_semaphore_get_available (GasyncSemaphore *self);
GASYNC_AVAILABLE_IN_ALL
guint            gasync_semaphore_get_n_waiting (GasyncSemaphore *self);

G_END_DECLS
