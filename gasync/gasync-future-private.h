/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "gasync-future.h"
#include "gasync-scheduler-private.h"

G_BEGIN_DECLS

typedef struct _GasyncDoneCallback GasyncDoneCallback;

struct _GasyncDoneCallback
{
  GasyncDoneCallback   *next;
  GasyncFutureCallback  func;
  gpointer              data;
  GDestroyNotify        destroy;
  gulong                id;
  /* Embedded nodes (owned by their container, such as an awaiting
   * coroutine) are unlinked but never freed by the future. */
  guint                 embedded : 1;
};

typedef struct
{
  /* Guards the outcome, the flags, the callback list, the cancellable and
   * the progress value.  Never held while user code runs. */
  GMutex              lock;

  /* Read-only after construction. */
  GMainContext       *context;
  GasyncScheduler    *scheduler;

  /* Queue entry in the default lane, for deliveries. */
  GasyncRunnable      runnable;
  /* GasyncDeliver bits waiting for dispatch; atomic. */
  guint               deliver;

  /* Written under lock, read atomically. */
  int                 state;

  guint               cancel_requested : 1;
  guint               error_retrieved : 1;
  guint               done_delivered : 1;
  guint               cancellable_external : 1;

  GValue              value;
  GDestroyNotify      pointer_destroy;
  GError             *error;

  GasyncDoneCallback *callbacks;
  GasyncDoneCallback *callbacks_tail;
  gulong              last_callback_id;

  GCancellable       *cancellable;
  gulong              cancellable_handler;

  char               *name;
  double              progress;
  guint64             progress_serial;
  GType               value_type;
} GasyncFuturePrivate;

GasyncFuturePrivate *gasync_future_get_priv (GasyncFuture *self);

/* The run function of a future's delivery runnable. */
void     gasync_future_run_delivery     (GasyncRunnable     *runnable);
/* Adds an embedded callback node; runs like any done callback. */
void     gasync_future_add_done_node    (GasyncFuture       *self,
                                         GasyncDoneCallback *node);
gboolean gasync_future_remove_done_node (GasyncFuture       *self,
                                         GasyncDoneCallback *node);
/* Settles without checking value-type; takes @error. */
gboolean gasync_future_settle           (GasyncFuture       *self,
                                         GasyncFutureState   state,
                                         GValue             *value_to_steal,
                                         GError             *error);

/* Resolves with the contents of @value (left unset), checking value-type. */
gboolean gasync_future_take_value       (GasyncFuture       *self,
                                         GValue             *value);
/* Reads a pointer resolved with resolve_pointer() and takes ownership of
 * it away from the future: its destroy notify will not be called. */
gpointer gasync_future_steal_pointer    (GasyncFuture       *self,
                                         GError            **error);

/* TRUE when the calling code runs on a coroutine stack. */
gboolean gasync_in_coroutine (void);

G_END_DECLS
