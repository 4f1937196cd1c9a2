/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "gasync-semaphore.h"
#include "gasync-future-private.h"

/**
 * GasyncSemaphore:
 *
 * A `GasyncSemaphore` bounds how many coroutines do something at once,
 * like asyncio's `Semaphore`: it holds a number of permits,
 * [method@Semaphore.acquire] returns a future that resolves once the caller
 * has one, and [method@Semaphore.release] gives it back.
 *
 * ```c
 * static gboolean
 * load_one (gpointer   user_data,
 *           GValue    *result,
 *           GError   **error)
 * {
 *   LoadJob *job = user_data;
 *   g_autoptr(GBytes) bytes = NULL;
 *
 *   // At most 8 files open at once, however many coroutines run this.
 *   if (!gasync_await (gasync_semaphore_acquire (job->limit), error))
 *     return FALSE;
 *   bytes = gasync_await_boxed (my_file_load_bytes (job->file), G_TYPE_BYTES, error);
 *   gasync_semaphore_release (job->limit);
 *
 *   return bytes != NULL;
 * }
 * ```
 *
 * Waiters are served first come, first served, and a permit released
 * while others wait always goes to the longest waiting one: a fast
 * [method@Semaphore.try_acquire] never jumps the queue.
 *
 * ## Cancellation
 *
 * Cancelling a pending acquire removes it from the queue. A permit is
 * never lost to a cancellation: when one is released just as an acquire
 * is being cancelled, either the cancellation wins (then
 * [method@Future.cancel] returns `TRUE` and the permit goes to the next
 * waiter) or the acquire had already resolved (then cancel returns `FALSE`
 * and the caller holds the permit). Once an acquire has resolved, the
 * caller owns a permit and must release it, even if it no longer needs it.
 *
 * A coroutine cancelled while it waits for a permit never ends up holding
 * one: if the permit reached its acquire before the coroutine could resume
 * (its cancellation then wins over the outcome of the await), the permit
 * goes back to the semaphore.
 *
 * ## Threads
 *
 * A semaphore is internally locked: every function can be called from any
 * thread. Each acquire future belongs to the thread-default main context
 * of its caller and resolves there, so coroutines of several threads can
 * share one semaphore. A pending acquire keeps the semaphore alive.
 */

struct _GasyncSemaphore
{
  GObject  parent_instance;

  GMutex   lock;
  /* Permits nobody holds; guarded by lock. */
  guint    available;
  /* Pending acquires, oldest first: the links of GasyncSemaphoreWaiters,
   * each holding a reference on its waiter; guarded by lock. */
  GQueue   waiters;
};

G_DEFINE_FINAL_TYPE (GasyncSemaphore, gasync_semaphore, G_TYPE_OBJECT)

/*
 * An acquire: a future that can withdraw itself from the queue when it is
 * cancelled.  Private.
 */
#define GASYNC_TYPE_SEMAPHORE_WAITER (gasync_semaphore_waiter_get_type ())
G_DECLARE_FINAL_TYPE (GasyncSemaphoreWaiter, gasync_semaphore_waiter, GASYNC, SEMAPHORE_WAITER, GasyncFuture)

struct _GasyncSemaphoreWaiter
{
  GasyncFuture     parent_instance;

  /* A reference; read-only. */
  GasyncSemaphore *semaphore;
  /* In semaphore->waiters while queued is set; both guarded by the
   * semaphore's lock. */
  GList            link;
  gboolean         queued;
  /* Set once the permit of a granted, abandoned acquire went back;
   * atomic. */
  int              reclaimed;
};

G_DEFINE_FINAL_TYPE (GasyncSemaphoreWaiter, gasync_semaphore_waiter, GASYNC_TYPE_FUTURE)

static void
gasync_semaphore_waiter_request_cancel (GasyncFuture *future)
{
  GasyncSemaphoreWaiter *self = GASYNC_SEMAPHORE_WAITER (future);
  GasyncSemaphore *semaphore = self->semaphore;
  gboolean was_queued;

  g_mutex_lock (&semaphore->lock);
  was_queued = self->queued;
  if (was_queued)
    {
      g_queue_unlink (&semaphore->waiters, &self->link);
      self->queued = FALSE;
    }
  g_mutex_unlock (&semaphore->lock);

  /* Fails only if a permit got here first: then the caller holds it. */
  GASYNC_FUTURE_CLASS (gasync_semaphore_waiter_parent_class)->request_cancel (future);

  /* The queue's reference; gasync_future_cancel() holds another. */
  if (was_queued)
    g_object_unref (self);
}

/* The acquire resolved, but its consumer gave up on it without reading it
 * (a coroutine cancelled before it could resume): the permit goes back. */
static void
gasync_semaphore_waiter_reclaim (GasyncFuture *future)
{
  GasyncSemaphoreWaiter *self = GASYNC_SEMAPHORE_WAITER (future);

  if (g_atomic_int_compare_and_exchange (&self->reclaimed, FALSE, TRUE))
    gasync_semaphore_release (self->semaphore);
}

static void
gasync_semaphore_waiter_finalize (GObject *object)
{
  GasyncSemaphoreWaiter *self = GASYNC_SEMAPHORE_WAITER (object);

  g_clear_object (&self->semaphore);

  G_OBJECT_CLASS (gasync_semaphore_waiter_parent_class)->finalize (object);
}

static void
gasync_semaphore_waiter_class_init (GasyncSemaphoreWaiterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GasyncFutureClass *future_class = GASYNC_FUTURE_CLASS (klass);

  object_class->finalize = gasync_semaphore_waiter_finalize;
  future_class->request_cancel = gasync_semaphore_waiter_request_cancel;
  gasync_future_class_set_reclaim_func (future_class, gasync_semaphore_waiter_reclaim);
}

static void
gasync_semaphore_waiter_init (GasyncSemaphoreWaiter *self)
{
  self->link.data = self;
}

/* --- GasyncSemaphore -------------------------------------------------- */

static void
gasync_semaphore_finalize (GObject *object)
{
  GasyncSemaphore *self = GASYNC_SEMAPHORE (object);

  /* Every queued waiter holds a reference on the semaphore. */
  g_assert (g_queue_is_empty (&self->waiters));
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (gasync_semaphore_parent_class)->finalize (object);
}

static void
gasync_semaphore_class_init (GasyncSemaphoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = gasync_semaphore_finalize;
}

static void
gasync_semaphore_init (GasyncSemaphore *self)
{
  g_mutex_init (&self->lock);
  g_queue_init (&self->waiters);
}

/**
 * gasync_semaphore_new:
 * @permits: the number of permits available at first
 *
 * Creates a semaphore with @permits permits: at most that many holders at
 * once, if each releases only what it acquired.
 *
 * Returns: (transfer full): a new semaphore
 */
GasyncSemaphore *
gasync_semaphore_new (guint permits)
{
  GasyncSemaphore *self = g_object_new (GASYNC_TYPE_SEMAPHORE, NULL);

  self->available = permits;
  return self;
}

/**
 * gasync_semaphore_acquire:
 * @self: a semaphore
 *
 * Asks for a permit. The future resolves without a value once the caller
 * has one: at once if one is available and nobody is waiting, otherwise
 * when a permit released later reaches it, first come, first served.
 *
 * Cancelling the pending future withdraws the request; see the class
 * documentation for the guarantee that no permit is lost. Can be called
 * from any thread; the future belongs to the caller's thread-default main
 * context.
 *
 * Returns: (transfer full): a future that resolves when the caller holds a
 *   permit, which it must give back with [method@Semaphore.release]
 */
GasyncFuture *
gasync_semaphore_acquire (GasyncSemaphore *self)
{
  GasyncSemaphoreWaiter *waiter;
  gboolean granted = FALSE;

  gasync_return_rejected_if_fail (GASYNC_IS_SEMAPHORE (self));

  waiter = (GasyncSemaphoreWaiter *) g_object_new_with_properties (GASYNC_TYPE_SEMAPHORE_WAITER, 0, NULL, NULL);
  waiter->semaphore = g_object_ref (self);

  g_mutex_lock (&self->lock);
  if (self->available > 0 && g_queue_is_empty (&self->waiters))
    {
      self->available--;
      granted = TRUE;
    }
  else
    {
      g_queue_push_tail_link (&self->waiters, &waiter->link);
      waiter->queued = TRUE;
      g_object_ref (waiter);
    }
  g_mutex_unlock (&self->lock);

  if (granted)
    gasync_future_resolve_void (GASYNC_FUTURE (waiter));

  return GASYNC_FUTURE (waiter);
}

/**
 * gasync_semaphore_try_acquire:
 * @self: a semaphore
 *
 * Takes a permit if one is available and nobody is waiting for one. Can
 * be called from any thread.
 *
 * Returns: `TRUE` if the caller now holds a permit
 */
gboolean
gasync_semaphore_try_acquire (GasyncSemaphore *self)
{
  gboolean granted = FALSE;

  g_return_val_if_fail (GASYNC_IS_SEMAPHORE (self), FALSE);

  g_mutex_lock (&self->lock);
  if (self->available > 0 && g_queue_is_empty (&self->waiters))
    {
      self->available--;
      granted = TRUE;
    }
  g_mutex_unlock (&self->lock);

  return granted;
}

/**
 * gasync_semaphore_release:
 * @self: a semaphore
 *
 * Gives a permit back: to the longest waiting acquire if any (its future
 * resolves on its own main context), otherwise to the semaphore. Like
 * asyncio's `Semaphore` and unlike its `BoundedSemaphore`, releasing more
 * than was acquired raises the number of permits. Can be called from any
 * thread.
 */
void
gasync_semaphore_release (GasyncSemaphore *self)
{
  GQueue skipped = G_QUEUE_INIT;
  GasyncSemaphoreWaiter *granted = NULL;
  GList *link;

  g_return_if_fail (GASYNC_IS_SEMAPHORE (self));

  g_mutex_lock (&self->lock);
  while (granted == NULL && (link = g_queue_pop_head_link (&self->waiters)) != NULL)
    {
      GasyncSemaphoreWaiter *waiter = link->data;

      waiter->queued = FALSE;
      /* Under the lock, so that the hand-over and the waiter's
       * cancellation are ordered: a waiter being cancelled is skipped
       * (its request_cancel, under way, settles it) and the permit goes
       * on to the next one. */
      if (gasync_future_resolve_unless_cancelling (GASYNC_FUTURE (waiter), NULL))
        granted = waiter;
      else
        g_queue_push_tail_link (&skipped, link);
    }
  if (granted == NULL)
    {
      if G_UNLIKELY (self->available == G_MAXUINT)
        g_critical ("gasync_semaphore_release(): too many permits");
      else
        self->available++;
    }
  g_mutex_unlock (&self->lock);

  /* The queue's references, dropped without the lock. */
  while ((link = g_queue_pop_head_link (&skipped)) != NULL)
    g_object_unref (link->data);
  if (granted != NULL)
    g_object_unref (granted);
}

/**
 * gasync_semaphore_get_available:
 * @self: a semaphore
 *
 * Gets the number of permits nobody holds. Another thread may change it
 * right after this returns.
 *
 * Returns: the number of available permits
 */
guint
gasync_semaphore_get_available (GasyncSemaphore *self)
{
  guint available;

  g_return_val_if_fail (GASYNC_IS_SEMAPHORE (self), 0);

  g_mutex_lock (&self->lock);
  available = self->available;
  g_mutex_unlock (&self->lock);

  return available;
}

/**
 * gasync_semaphore_get_n_waiting:
 * @self: a semaphore
 *
 * Gets the number of pending acquires. Another thread may change it right
 * after this returns.
 *
 * Returns: the number of acquires waiting for a permit
 */
guint
gasync_semaphore_get_n_waiting (GasyncSemaphore *self)
{
  guint n;

  g_return_val_if_fail (GASYNC_IS_SEMAPHORE (self), 0);

  g_mutex_lock (&self->lock);
  n = g_queue_get_length (&self->waiters);
  g_mutex_unlock (&self->lock);

  return n;
}
