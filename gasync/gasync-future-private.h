/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "gasync-future.h"
#include "gasync-coroutine.h"
#include "gasync-scheduler-private.h"

G_BEGIN_DECLS

typedef struct _GasyncDoneCallback GasyncDoneCallback;

/*
 * A done callback.  Nodes added with gasync_future_add_done_callback() are
 * GasyncDoneCallbackFull, allocated and freed by the future; embedded nodes
 * (an awaiting coroutine's wake-up, a blocking wait) belong to their
 * container, which keeps them small: a suspended coroutine's size matters.
 */
struct _GasyncDoneCallback
{
  /* Links in the future's list, guarded by its lock; owner is the future
   * while the node is linked, NULL otherwise, so removal is O(1). */
  GasyncDoneCallback   *next;
  GasyncDoneCallback   *prev;
  GasyncFuture         *owner;
  GasyncFutureCallback  func;
  gpointer              data;
  guint                 id : 30;
  guint                 embedded : 1;
  /* Also called, with the future still pending, each time its progress
   * notification is delivered.  Such nodes are internal (combinators):
   * never removed by id, only by running or by the future's disposal, so
   * a delivery may call them after dropping the lock. */
  guint                 watch_progress : 1;
};

typedef struct
{
  GasyncDoneCallback node;
  GDestroyNotify     destroy;
} GasyncDoneCallbackFull;

typedef struct
{
  /* Guards the outcome, the flags, the callback list and the cancellable.
   * Never held while user code runs. */
  GMutex              lock;

  /* Read-only after construction.  The future holds a reference on the
   * scheduler's context, which keeps the scheduler alive, unless that is
   * the global default context (see hold_scheduler()). */
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

  /* The scheduler serial of the last progress notification; only touched
   * by the dispatching thread.  Wraps harmlessly. */
  guint32             progress_serial;
  guint32             last_callback_id;

  GValue              value;
  GDestroyNotify      pointer_destroy;
  GError             *error;

  GasyncDoneCallback *callbacks;
  GasyncDoneCallback *callbacks_tail;

  GCancellable       *cancellable;
  gulong              cancellable_handler;

  char               *name;
  /* The progress, a double's bits; atomic, outside the lock, since all()
   * sets its own for each child that settles. */
  guint64             progress_bits;
  GType               value_type;
} GasyncFuturePrivate;

GasyncFuturePrivate *gasync_future_get_priv (GasyncFuture *self);

/* gasync_future_get_state() without the type check, for gasync's own hot
 * paths, on futures already known to be futures.  Any thread. */
static inline GasyncFutureState
gasync_future_peek_state (GasyncFuture *self)
{
  return (GasyncFutureState) g_atomic_int_get (&gasync_future_get_priv (self)->state);
}

/* The run function of a future's delivery runnable. */
void     gasync_future_run_delivery     (GasyncRunnable     *runnable);
/* Adds an embedded callback node; runs like any done callback.  Returns
 * its id, read under the lock: once added, the node may run (and a
 * non-embedded one be freed) on the owning thread before this returns. */
guint    gasync_future_add_done_node    (GasyncFuture       *self,
                                         GasyncDoneCallback *node);
gboolean gasync_future_remove_done_node (GasyncFuture       *self,
                                         GasyncDoneCallback *node);
/* Settles without checking value-type; takes @error. */
gboolean gasync_future_settle           (GasyncFuture       *self,
                                         GasyncFutureState   state,
                                         GValue             *value_to_steal,
                                         GError             *error);

/* Resolves with the contents of @value_to_steal (may be NULL or unset for
 * no value) unless the future is settled or its cancellation has been
 * requested; on refusal @value_to_steal is left untouched.  No value-type
 * check. */
gboolean gasync_future_resolve_unless_cancelling (GasyncFuture *self,
                                                  GValue       *value_to_steal);

/* Keeps a coroutine's fiber name in step with its future name. */
void     gasync_coroutine_update_fiber_name (GasyncCoroutine *self);

/*
 * Hand-overs a consumer can give back.  A future whose value hands
 * something over (a channel's item, a semaphore's permit) registers, for
 * its type, a function that takes it back.  gasync_future_abandon() is
 * what a consumer calls instead of gasync_future_cancel() when it gives up
 * on a future it will not read, such as a coroutine whose cancellation
 * wins over the outcome of its await: a pending future is cancelled; a
 * resolved one is reclaimed.  Any thread.
 */
typedef void (*GasyncFutureReclaimFunc) (GasyncFuture *self);

void     gasync_future_class_set_reclaim_func (GasyncFutureClass       *klass,
                                               GasyncFutureReclaimFunc  func);
void     gasync_future_abandon                (GasyncFuture            *self);

/* gasync_future_set_progress() without the argument checks. */
void     gasync_future_update_progress  (GasyncFuture       *self,
                                         double              progress);

/* Moves a just-created future to @context. */
void     gasync_future_set_context      (GasyncFuture       *self,
                                         GMainContext       *context);
/* Resolves with the contents of @value (left unset), checking value-type. */
gboolean gasync_future_take_value       (GasyncFuture       *self,
                                         GValue             *value);
/* Reads a pointer resolved with resolve_pointer() and takes ownership of
 * it away from the future: its destroy notify will not be called. */
gpointer gasync_future_steal_pointer    (GasyncFuture       *self,
                                         GError            **error);

/* Drops a reference gasync holds, like g_object_unref(); a plain future
 * nobody else can observe any more is kept for reuse by
 * gasync_future_new().  Any thread. */
void     gasync_future_release         (GasyncFuture       *self);
/* A recycled coroutine owned by the thread-default context, or NULL. */
GasyncCoroutine *gasync_future_pool_take_coroutine (void);
/* How many coroutines (or plain futures) the calling thread's recycling
 * pool holds (for tests). */
guint    gasync_future_pool_get_size    (gboolean            coroutines);
/* Whether the calling thread's recycling pool was drawn from or grew since
 * the last call. */
gboolean gasync_future_pool_take_used   (void);
/* Finalizes up to @max of what the calling thread's pool holds beyond its
 * resting size; TRUE if some is left. */
gboolean gasync_future_pool_trim        (guint               max);
/* For gasync_future_release(): readies a coroutine whose last reference
 * goes for reuse; FALSE if it cannot be (it has not finished). */
gboolean gasync_coroutine_reset         (GasyncCoroutine    *self);

gboolean gasync_future_hold_delivery    (GasyncFuture       *self);
void     gasync_future_deliver_held     (GasyncFuture       *self,
                                         guint               own_refs);

/* TRUE when the calling code runs on a coroutine stack. */
gboolean gasync_in_coroutine (void);

/* The error of a failed precondition of @strfunc: GASYNC_ERROR_FAILED with
 * the message g_return_if_fail_warning() logs. */
GError       *gasync_failed_check_error         (const char *strfunc,
                                                  const char *expression) G_GNUC_WARN_UNUSED_RESULT;
/* The outcome of a failed precondition of @strfunc: a new future owned by
 * the thread-default main context, rejected with GASYNC_ERROR_FAILED and
 * the message g_return_if_fail_warning() logs.  Logs nothing itself. */
GasyncFuture *gasync_future_new_for_failed_check (const char *strfunc,
                                                  const char *expression) G_GNUC_WARN_UNUSED_RESULT;

/*
 * g_return_val_if_fail() for the public calls that return a future.  The
 * style rule is that those never return NULL: callers write them inline,
 * as in gasync_await (gasync_file_delete (file, ...), &error), and hand
 * the result on to combinators that take ownership, so a NULL would turn
 * one programmer error into a cascade of criticals or a crash far from
 * its cause, and bindings could not trust their non-nullable return.  On
 * a failed @expr this logs exactly the critical g_return_val_if_fail()
 * logs (so tests expecting "*assertion*failed*" still match), then
 * returns a future already rejected with GASYNC_ERROR_FAILED whose message
 * names the function and @expr.  The error is not marked as read: a caller
 * that drops it unread gets the usual warning.
 *
 * Release whatever the call owns (its (transfer full) arguments) before
 * the check.  Not for statics, and not for gasync_future_new_rejected()
 * and gasync_future_new_for_error(): the rejected future comes from the
 * latter, so both keep returning NULL when given no error.  Unlike
 * g_return_val_if_fail(), G_DISABLE_CHECKS does not compile it out: a
 * call that released what it owns before the check relies on returning.
 */
#define gasync_return_rejected_if_fail(expr) \
  gasync_return_if_fail_with_ (expr, #expr, gasync_future_new_for_failed_check)

/* The check with another refusal: @refuse (strfunc, @text) returns the
 * rejected future (a combinator's own kind, say).  @text is #expr, taken by
 * the caller's own macro before @expr is macro-expanded. */
#define gasync_return_if_fail_with_(expr, text, refuse)                      \
  G_STMT_START {                                                             \
    if (G_LIKELY (expr))                                                     \
      { }                                                                    \
    else                                                                     \
      {                                                                      \
        g_return_if_fail_warning (G_LOG_DOMAIN, G_STRFUNC, text);            \
        return refuse (G_STRFUNC, text);                                     \
      }                                                                      \
  } G_STMT_END

G_END_DECLS
