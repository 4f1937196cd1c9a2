/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "gasync-future.h"

G_BEGIN_DECLS

/*
 * GasyncScheduler: one per GMainContext, created on first use.
 *
 * It is a GSource (attached to its context, owned by it) with a FIFO queue of
 * futures that have something to deliver: signals, done callbacks, property
 * notifications, and later coroutine resumptions.  A future is in the queue at
 * most once; what it has to deliver is a set of bits (GasyncDeliver) that
 * pushes OR together, so that a burst of settles, progress updates or
 * callbacks costs one queue entry.
 *
 * Thread rules: gasync_scheduler_push() may be called from any thread; all
 * delivery happens in the dispatch of the source, on the thread iterating the
 * context, on that thread's own stack.
 */
typedef struct _GasyncScheduler GasyncScheduler;

typedef enum
{
  GASYNC_DELIVER_DONE      = 1 << 0,
  GASYNC_DELIVER_CANCELLED = 1 << 1,
  GASYNC_DELIVER_CALLBACKS = 1 << 2,
  GASYNC_DELIVER_PROGRESS  = 1 << 3,
  GASYNC_DELIVER_RESUME    = 1 << 4,
  /* Set while the future sits in a scheduler queue; never passed to push. */
  GASYNC_DELIVER_QUEUED    = 1 << 30,
} GasyncDeliver;

/* Items per dispatch, and the time budget in microseconds. */
#define GASYNC_SCHEDULER_BUDGET_ITEMS 64
#define GASYNC_SCHEDULER_BUDGET_USEC  1000

GasyncScheduler *gasync_scheduler_get_for_context (GMainContext    *context);
GMainContext    *gasync_scheduler_get_context     (GasyncScheduler *self);
void             gasync_scheduler_push            (GasyncScheduler *self,
                                                   GasyncFuture    *future,
                                                   guint            bits);
guint64          gasync_scheduler_get_serial      (GasyncScheduler *self);
void             gasync_scheduler_defer           (GasyncScheduler *self,
                                                   GasyncFuture    *future,
                                                   guint            bits);
GasyncScheduler *gasync_scheduler_get_dispatching (void);

GasyncFuture    *gasync_scheduler_get_current_coroutine (void);
void             gasync_scheduler_set_current_coroutine (GasyncFuture *coroutine);

G_END_DECLS
