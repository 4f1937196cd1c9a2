/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "gasync-future.h"

G_BEGIN_DECLS

/*
 * GasyncScheduler: one per GMainContext, created on first use.
 *
 * A scheduler owns one or more lanes.  A lane is a GSource at one priority,
 * attached to the scheduler's context, with a FIFO queue of runnables: small
 * intrusive records embedded in the objects that have work to do (a future
 * with signals, done callbacks or notifications to deliver; a coroutine to
 * resume).  The default lane runs at G_PRIORITY_DEFAULT and carries every
 * future delivery; coroutines spawned with another priority resume in a lane
 * of that priority; explicit yields go to the backlog lane at
 * G_PRIORITY_DEFAULT_IDLE, so that a coroutine that yields in a loop never
 * starves GTK's layout (priority 1... 110) and paint (120).
 *
 * Thread rules: pushing is safe from any thread; runnables only run in a
 * dispatch of their lane, on the thread iterating the context, on that
 * thread's own stack (never on a coroutine stack: lanes are not ready while
 * the calling code runs inside a coroutine).
 */
typedef struct _GasyncScheduler GasyncScheduler;
typedef struct _GasyncLane      GasyncLane;
typedef struct _GasyncRunnable  GasyncRunnable;

typedef void (*GasyncRunFunc) (GasyncRunnable *runnable);

struct _GasyncRunnable
{
  /* Guarded by the lane's lock while queued. */
  GasyncRunnable *next;
  /* Runs in the lane's dispatch; it owns whatever reference the pusher
   * took for the queue and must release it. */
  GasyncRunFunc   run;
};

typedef enum
{
  GASYNC_DELIVER_DONE      = 1 << 0,
  GASYNC_DELIVER_CANCELLED = 1 << 1,
  GASYNC_DELIVER_CALLBACKS = 1 << 2,
  GASYNC_DELIVER_PROGRESS  = 1 << 3,
  /* Cancel the future's GCancellable: deferred here when the cancellation
   * was requested on a coroutine stack, where its handlers (binding code
   * among them) must not run. */
  GASYNC_DELIVER_CANCEL_CANCELLABLE = 1 << 4,
  /* Set while the future sits in a lane's queue; never passed to push. */
  GASYNC_DELIVER_QUEUED    = 1 << 30,
} GasyncDeliver;

/* Items per dispatch, and the time budget in microseconds. */
#define GASYNC_SCHEDULER_BUDGET_ITEMS 64
#define GASYNC_SCHEDULER_BUDGET_USEC  1000

GasyncScheduler *gasync_scheduler_get_for_context   (GMainContext    *context);
GMainContext    *gasync_scheduler_get_context       (GasyncScheduler *self);
GasyncLane      *gasync_scheduler_get_default_lane  (GasyncScheduler *self);
GasyncLane      *gasync_scheduler_get_lane          (GasyncScheduler *self,
                                                     int              priority);
GasyncLane      *gasync_scheduler_get_backlog_lane  (GasyncScheduler *self);
guint64          gasync_scheduler_get_serial        (GasyncScheduler *self);
gpointer         gasync_scheduler_get_stack_pool    (GasyncScheduler *self);
void             gasync_scheduler_stack_released    (GasyncScheduler *self);
/* The scheduler whose lane the calling thread is dispatching, or NULL. */
GasyncScheduler *gasync_scheduler_get_dispatching   (void);
/* From that thread: its recycling pool grew past the resting size. */
void             gasync_scheduler_pool_grew         (GasyncScheduler *self);

/* Queues delivery of @bits for @future in the default lane (any thread). */
void             gasync_scheduler_push              (GasyncScheduler *self,
                                                     GasyncFuture    *future,
                                                     guint            bits);
/* Queues @future, whose QUEUED bit the caller already set (any thread). */
void             gasync_scheduler_push_claimed      (GasyncScheduler *self,
                                                     GasyncFuture    *future);
/* Queues it for the next dispatch rather than a later round of the current
 * one; only from the dispatching thread. */
void             gasync_scheduler_defer             (GasyncScheduler *self,
                                                     GasyncFuture    *future,
                                                     guint            bits);

GasyncScheduler *gasync_lane_get_scheduler          (GasyncLane      *lane);
/* Appends @runnable (any thread).  The caller has taken a reference that
 * the runnable's run function releases. */
void             gasync_lane_push                   (GasyncLane      *lane,
                                                     GasyncRunnable  *runnable);
/* Whether the runnable that @lane's dispatch is running on this thread may
 * run one further step inline rather than queue it, as when a delivery
 * wakes a coroutine of the same lane: TRUE at most once per runnable, so a
 * dispatch's budget still bounds what runs before the main loop gets its
 * turn.  Consumes the allowance. */
gboolean         gasync_lane_take_inline            (GasyncLane      *lane);

/* The coroutine running on this thread, if any. */
GasyncFuture    *gasync_scheduler_get_current_coroutine (void);
void             gasync_scheduler_set_current_coroutine (GasyncFuture *coroutine);

G_END_DECLS
