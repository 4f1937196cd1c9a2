/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "gasync-channel.h"
#include "gasync-error.h"
#include "gasync-future-private.h"

/**
 * GasyncChannel:
 *
 * A `GasyncChannel` is a bounded, closable queue of values between
 * producer and consumer coroutines, like Go's channels or an asyncio
 * `Queue` that can be closed.
 *
 * [method@Channel.send] returns a future that resolves once the channel has
 * accepted the value: at once while there is room, otherwise when a
 * receiver makes room. [method@Channel.receive] returns a future that
 * resolves with the next value, waiting while the channel is empty. Values
 * come out in the order they were sent, and waiting senders and receivers
 * are each served first come, first served.
 *
 * ```c
 * static gboolean
 * consume (gpointer   user_data,
 *          GValue    *result,
 *          GError   **error)
 * {
 *   GasyncChannel *channel = user_data;
 *
 *   for (;;)
 *     {
 *       g_auto(GValue) value = G_VALUE_INIT;
 *       g_autoptr(GError) local_error = NULL;
 *
 *       if (!gasync_await_value (gasync_channel_receive (channel), &value, &local_error))
 *         {
 *           // Closed and drained: the producer is done.
 *           if (g_error_matches (local_error, GASYNC_ERROR, GASYNC_ERROR_CLOSED))
 *             return TRUE;
 *           g_propagate_error (error, g_steal_pointer (&local_error));
 *           return FALSE;
 *         }
 *       handle (g_value_get_string (&value));
 *     }
 * }
 * ```
 *
 * A capacity of 0 makes a rendezvous channel: a send is accepted only when
 * a receiver takes the value.
 *
 * ## Closing
 *
 * [method@Channel.close] ends the stream. Pending and later sends are
 * rejected with `GASYNC_ERROR_CLOSED` (their values are dropped); values
 * already accepted can still be received, and once they are drained,
 * pending and later receives are rejected with `GASYNC_ERROR_CLOSED`.
 *
 * ## Cancellation
 *
 * Cancelling a pending send withdraws its value; cancelling a pending
 * receive withdraws the request. No value is ever lost or duplicated: a
 * value that reaches a receive just as it is being cancelled either goes
 * on to the next receiver (the cancellation won, [method@Future.cancel]
 * returned `TRUE`), or the receive had already resolved with it (cancel
 * returned `FALSE`). Likewise a send is either withdrawn or accepted,
 * never both.
 *
 * A coroutine cancelled while it waits in a receive never loses a value:
 * if one reached its receive before the coroutine could resume (its
 * cancellation then wins over the outcome of the await), the value goes
 * back to the front of the channel for the next receiver. A send accepted
 * that way stays sent.
 *
 * ## Threads
 *
 * A channel is internally locked: every function can be called from any
 * thread. Each future belongs to the thread-default main context of its
 * caller and settles there, so a channel can carry values between threads.
 * A pending send or receive keeps the channel alive.
 */

struct _GasyncChannel
{
  GObject   parent_instance;

  /* Read-only after construction. */
  guint     capacity;

  GMutex    lock;
  /* The rest is guarded by lock.  Either values are buffered (and senders
   * may wait, when full), or receivers wait (and nothing is buffered):
   * never both waiting senders and waiting receivers. */
  gboolean  closed;
  /* GValue *, oldest first. */
  GQueue    items;
  /* Links of pending GasyncChannelWaiters, oldest first, each holding a
   * reference on its waiter. */
  GQueue    senders;
  GQueue    receivers;
};

enum {
  PROP_0,
  PROP_CAPACITY,
  N_PROPS,
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (GasyncChannel, gasync_channel, G_TYPE_OBJECT)

/*
 * A send or a receive: a future that can withdraw itself from its queue
 * when it is cancelled.  Private.
 */
#define GASYNC_TYPE_CHANNEL_WAITER (gasync_channel_waiter_get_type ())
G_DECLARE_FINAL_TYPE (GasyncChannelWaiter, gasync_channel_waiter, GASYNC, CHANNEL_WAITER, GasyncFuture)

struct _GasyncChannelWaiter
{
  GasyncFuture   parent_instance;

  /* A reference; read-only, as is sending. */
  GasyncChannel *channel;
  gboolean       sending;

  /* In the channel's senders or receivers while queued is set; guarded by
   * the channel's lock. */
  GList          link;
  gboolean       queued;
  /* A sender's value until it is handed over; guarded by the channel's
   * lock while queued. */
  GValue        *value;
  /* Set once the value of a resolved, abandoned receive went back;
   * atomic. */
  int            reclaimed;
};

G_DEFINE_FINAL_TYPE (GasyncChannelWaiter, gasync_channel_waiter, GASYNC_TYPE_FUTURE)

static void
free_item (GValue *item)
{
  if (item == NULL)
    return;
  if (G_IS_VALUE (item))
    g_value_unset (item);
  g_free (item);
}

static void
gasync_channel_waiter_request_cancel (GasyncFuture *future)
{
  GasyncChannelWaiter *self = GASYNC_CHANNEL_WAITER (future);
  GasyncChannel *channel = self->channel;
  gboolean was_queued;

  g_mutex_lock (&channel->lock);
  was_queued = self->queued;
  if (was_queued)
    {
      g_queue_unlink (self->sending ? &channel->senders : &channel->receivers, &self->link);
      self->queued = FALSE;
    }
  g_mutex_unlock (&channel->lock);

  /* Fails only if the waiter was served first: then its outcome stands. */
  GASYNC_FUTURE_CLASS (gasync_channel_waiter_parent_class)->request_cancel (future);

  /* The queue's reference; gasync_future_cancel() holds another. */
  if (was_queued)
    g_object_unref (self);
}

static void gasync_channel_waiter_reclaim (GasyncFuture *future);

static void
gasync_channel_waiter_finalize (GObject *object)
{
  GasyncChannelWaiter *self = GASYNC_CHANNEL_WAITER (object);

  g_clear_pointer (&self->value, free_item);
  g_clear_object (&self->channel);

  G_OBJECT_CLASS (gasync_channel_waiter_parent_class)->finalize (object);
}

static void
gasync_channel_waiter_class_init (GasyncChannelWaiterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GasyncFutureClass *future_class = GASYNC_FUTURE_CLASS (klass);

  object_class->finalize = gasync_channel_waiter_finalize;
  future_class->request_cancel = gasync_channel_waiter_request_cancel;
  gasync_future_class_set_reclaim_func (future_class, gasync_channel_waiter_reclaim);
}

static void
gasync_channel_waiter_init (GasyncChannelWaiter *self)
{
  self->link.data = self;
}

static GasyncChannelWaiter *
waiter_new (GasyncChannel *channel,
            gboolean       sending)
{
  GasyncChannelWaiter *self;

  self = (GasyncChannelWaiter *) g_object_new_with_properties (GASYNC_TYPE_CHANNEL_WAITER, 0, NULL, NULL);
  self->channel = g_object_ref (channel);
  self->sending = sending;

  return self;
}

static void
enqueue (GQueue              *queue,
         GasyncChannelWaiter *waiter)
{
  g_queue_push_tail_link (queue, &waiter->link);
  waiter->queued = TRUE;
  g_object_ref (waiter);
}

/* Pops the oldest waiter of @queue onto @done, whose references the caller
 * drops once unlocked.  Called with the lock held. */
static GasyncChannelWaiter *
pop_waiter (GQueue *queue,
            GQueue *done)
{
  GList *link = g_queue_pop_head_link (queue);
  GasyncChannelWaiter *waiter;

  if (link == NULL)
    return NULL;

  waiter = link->data;
  waiter->queued = FALSE;
  g_queue_push_tail_link (done, link);

  return waiter;
}

static void
drop_waiters (GQueue *done)
{
  GList *link;

  while ((link = g_queue_pop_head_link (done)) != NULL)
    g_object_unref (link->data);
}

/*
 * The hand-overs.  Each settles the other side under the channel's lock
 * and only if nobody is cancelling it, so that the transfer of a value and
 * the cancellation of its sender or receiver are ordered: a waiter being
 * cancelled is skipped (its request_cancel, under way, settles it).
 */

/* Gives @item to the oldest waiting receiver; TRUE if one took it (its
 * contents are then gone). */
static gboolean
hand_to_receiver (GasyncChannel *self,
                  GValue        *item,
                  GQueue        *done)
{
  GasyncChannelWaiter *receiver;

  while ((receiver = pop_waiter (&self->receivers, done)) != NULL)
    {
      if (gasync_future_resolve_unless_cancelling (GASYNC_FUTURE (receiver), item))
        return TRUE;
    }

  return FALSE;
}

/* Accepts the value of the oldest waiting sender and returns it, or NULL
 * if no sender waits. */
static GValue *
take_from_sender (GasyncChannel *self,
                  GQueue        *done)
{
  GasyncChannelWaiter *sender;

  while ((sender = pop_waiter (&self->senders, done)) != NULL)
    {
      if (gasync_future_resolve_unless_cancelling (GASYNC_FUTURE (sender), NULL))
        return g_steal_pointer (&sender->value);
    }

  return NULL;
}

/* A receive resolved, but its consumer gave up on it without reading it
 * (a coroutine cancelled before it could resume): the value goes back to
 * the front of the channel, or to the oldest waiting receiver.  For a
 * moment the channel may then hold one value more than its capacity.  An
 * accepted send stays sent: its value may be out already. */
static void
gasync_channel_waiter_reclaim (GasyncFuture *future)
{
  GasyncChannelWaiter *self = GASYNC_CHANNEL_WAITER (future);
  GasyncChannel *channel = self->channel;
  GQueue done = G_QUEUE_INIT;
  GValue *item;

  if (self->sending ||
      !g_atomic_int_compare_and_exchange (&self->reclaimed, FALSE, TRUE))
    return;

  item = g_new0 (GValue, 1);
  if (!gasync_future_get_value (future, item, NULL))
    {
      free_item (item);
      return;
    }

  g_mutex_lock (&channel->lock);
  if (!hand_to_receiver (channel, item, &done))
    g_queue_push_head (&channel->items, g_steal_pointer (&item));
  g_mutex_unlock (&channel->lock);

  free_item (item);
  drop_waiters (&done);
}

static GError *
closed_error (void)
{
  return g_error_new_literal (GASYNC_ERROR, GASYNC_ERROR_CLOSED, "The channel is closed");
}

/* --- GasyncChannel ---------------------------------------------------- */

static void
gasync_channel_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  GasyncChannel *self = GASYNC_CHANNEL (object);

  switch (prop_id)
    {
    case PROP_CAPACITY:
      g_value_set_uint (value, self->capacity);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gasync_channel_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  GasyncChannel *self = GASYNC_CHANNEL (object);

  switch (prop_id)
    {
    case PROP_CAPACITY:
      self->capacity = g_value_get_uint (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gasync_channel_finalize (GObject *object)
{
  GasyncChannel *self = GASYNC_CHANNEL (object);

  /* Every queued waiter holds a reference on the channel. */
  g_assert (g_queue_is_empty (&self->senders));
  g_assert (g_queue_is_empty (&self->receivers));

  g_queue_clear_full (&self->items, (GDestroyNotify) free_item);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (gasync_channel_parent_class)->finalize (object);
}

static void
gasync_channel_class_init (GasyncChannelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = gasync_channel_get_property;
  object_class->set_property = gasync_channel_set_property;
  object_class->finalize = gasync_channel_finalize;

  /**
   * GasyncChannel:capacity: (getter get_capacity)
   *
   * The number of values the channel holds before a send has to wait; 0
   * makes a rendezvous channel.
   */
  properties[PROP_CAPACITY] =
    g_param_spec_uint ("capacity", NULL, NULL,
                       0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
gasync_channel_init (GasyncChannel *self)
{
  g_mutex_init (&self->lock);
  g_queue_init (&self->items);
  g_queue_init (&self->senders);
  g_queue_init (&self->receivers);
}

/**
 * gasync_channel_new:
 * @capacity: the number of values the channel holds before a send has to
 *   wait, or 0 for a rendezvous channel
 *
 * Creates an open, empty channel.
 *
 * Returns: (transfer full): a new channel
 */
GasyncChannel *
gasync_channel_new (guint capacity)
{
  return g_object_new (GASYNC_TYPE_CHANNEL, "capacity", capacity, NULL);
}

/**
 * gasync_channel_get_capacity: (get-property capacity)
 * @self: a channel
 *
 * Gets the number of values the channel holds before a send has to wait.
 *
 * Returns: the capacity
 */
guint
gasync_channel_get_capacity (GasyncChannel *self)
{
  g_return_val_if_fail (GASYNC_IS_CHANNEL (self), 0);

  return self->capacity;
}

/**
 * gasync_channel_get_length:
 * @self: a channel
 *
 * Gets the number of values the channel holds, not counting those of
 * senders still waiting. Another thread may change it right after this
 * returns.
 *
 * Returns: the number of buffered values
 */
guint
gasync_channel_get_length (GasyncChannel *self)
{
  guint length;

  g_return_val_if_fail (GASYNC_IS_CHANNEL (self), 0);

  g_mutex_lock (&self->lock);
  length = g_queue_get_length (&self->items);
  g_mutex_unlock (&self->lock);

  return length;
}

/**
 * gasync_channel_is_closed:
 * @self: a channel
 *
 * Gets whether [method@Channel.close] was called. A closed channel may
 * still hold values to receive.
 *
 * Returns: `TRUE` if the channel is closed
 */
gboolean
gasync_channel_is_closed (GasyncChannel *self)
{
  gboolean closed;

  g_return_val_if_fail (GASYNC_IS_CHANNEL (self), FALSE);

  g_mutex_lock (&self->lock);
  closed = self->closed;
  g_mutex_unlock (&self->lock);

  return closed;
}

/**
 * gasync_channel_send:
 * @self: a channel
 * @value: the value to send, copied
 *
 * Sends a copy of @value. The future resolves without a value once the
 * channel has accepted it: at once when a receiver waits or there is room,
 * otherwise when a receive makes room. It is rejected with
 * `GASYNC_ERROR_CLOSED` if the channel is closed before that.
 *
 * Cancelling the pending future withdraws the value. Can be called from
 * any thread; the future belongs to the caller's thread-default main
 * context.
 *
 * Returns: (transfer full): a future that resolves when the value is
 *   accepted
 */
GasyncFuture *
gasync_channel_send (GasyncChannel *self,
                     const GValue  *value)
{
  GasyncChannelWaiter *waiter;
  GQueue done = G_QUEUE_INIT;
  GValue *item;
  gboolean closed = FALSE;
  gboolean accepted = FALSE;

  gasync_return_rejected_if_fail (GASYNC_IS_CHANNEL (self));
  gasync_return_rejected_if_fail (G_IS_VALUE (value));

  item = g_new0 (GValue, 1);
  g_value_init (item, G_VALUE_TYPE (value));
  g_value_copy (value, item);
  waiter = waiter_new (self, TRUE);

  g_mutex_lock (&self->lock);
  if (self->closed)
    closed = TRUE;
  else if (hand_to_receiver (self, item, &done))
    accepted = TRUE;
  else if (g_queue_get_length (&self->items) < self->capacity)
    {
      g_queue_push_tail (&self->items, g_steal_pointer (&item));
      accepted = TRUE;
    }
  else
    {
      waiter->value = g_steal_pointer (&item);
      enqueue (&self->senders, waiter);
    }
  g_mutex_unlock (&self->lock);

  if (closed)
    gasync_future_take_error (GASYNC_FUTURE (waiter), closed_error ());
  else if (accepted)
    gasync_future_resolve_void (GASYNC_FUTURE (waiter));

  /* Unset if a receiver took its contents; values may run finalizers, so
   * only now, without the lock. */
  free_item (item);
  drop_waiters (&done);

  return GASYNC_FUTURE (waiter);
}

/**
 * gasync_channel_receive:
 * @self: a channel
 *
 * Receives the next value. The future resolves with it: at once if the
 * channel holds one (or, for a rendezvous channel, a sender waits),
 * otherwise when one is sent. Once the channel is closed and drained, it
 * is rejected with `GASYNC_ERROR_CLOSED`.
 *
 * Cancelling the pending future withdraws the request; a value sent at
 * that moment goes to the next receiver. Can be called from any thread;
 * the future belongs to the caller's thread-default main context.
 *
 * Returns: (transfer full): a future that resolves with the next value
 */
GasyncFuture *
gasync_channel_receive (GasyncChannel *self)
{
  GasyncChannelWaiter *waiter;
  GQueue done = G_QUEUE_INIT;
  GValue *item;
  gboolean closed = FALSE;

  gasync_return_rejected_if_fail (GASYNC_IS_CHANNEL (self));

  waiter = waiter_new (self, FALSE);

  g_mutex_lock (&self->lock);
  item = g_queue_pop_head (&self->items);
  if (item != NULL)
    {
      /* A slot is free (unless a reclaimed value overfilled the channel):
       * accept the oldest waiting sender's value. */
      if (g_queue_get_length (&self->items) < self->capacity)
        {
          GValue *accepted = take_from_sender (self, &done);

          if (accepted != NULL)
            g_queue_push_tail (&self->items, accepted);
        }
    }
  else
    item = take_from_sender (self, &done);

  if (item == NULL)
    {
      if (self->closed)
        closed = TRUE;
      else
        enqueue (&self->receivers, waiter);
    }
  g_mutex_unlock (&self->lock);

  if (item != NULL)
    gasync_future_settle (GASYNC_FUTURE (waiter), GASYNC_FUTURE_STATE_RESOLVED, item, NULL);
  else if (closed)
    gasync_future_take_error (GASYNC_FUTURE (waiter), closed_error ());

  free_item (item);
  drop_waiters (&done);

  return GASYNC_FUTURE (waiter);
}

/**
 * gasync_channel_close:
 * @self: a channel
 *
 * Closes the channel: pending and later sends are rejected with
 * `GASYNC_ERROR_CLOSED`, and so are pending receives (there are only any
 * when the channel is empty) and, once the values it holds are drained,
 * later ones. Closing a closed channel does nothing. Can be called from
 * any thread.
 */
void
gasync_channel_close (GasyncChannel *self)
{
  GQueue done = G_QUEUE_INIT;
  GList *link;

  g_return_if_fail (GASYNC_IS_CHANNEL (self));

  g_mutex_lock (&self->lock);
  if (!self->closed)
    {
      self->closed = TRUE;
      while (pop_waiter (&self->senders, &done) != NULL)
        ;
      while (pop_waiter (&self->receivers, &done) != NULL)
        ;
    }
  g_mutex_unlock (&self->lock);

  /* No longer queued: only a racing cancellation can settle them now. */
  for (link = done.head; link != NULL; link = link->next)
    gasync_future_take_error (link->data, closed_error ());

  drop_waiters (&done);
}
