/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "gasync-future-private.h"
#include "gasync-scheduler-private.h"

/*
 * The scheduler is a GSource whose dispatch drains a queue of futures in
 * rounds.  A round takes everything queued before it began; what a round
 * queues (a coroutine resumed by a callback, a callback added by a callback)
 * runs in the next round of the same dispatch, so ping-pong style work never
 * pays a poll() per hop.  A dispatch stops after GASYNC_SCHEDULER_BUDGET_ITEMS
 * items or GASYNC_SCHEDULER_BUDGET_USEC, whichever comes first; if work is
 * left, the source reports itself un-ready for exactly one iteration so that
 * lower-priority sources (GTK layout and paint, idles) get their turn.
 *
 * Wake-ups: a push from any thread that appends to an empty queue while the
 * owning thread may be blocked in poll() (the `polling` flag, set in prepare
 * and cleared in check, both under the lock) wakes the context.  A push from
 * the thread that is iterating the context never needs one: the source is
 * prepared again before that thread can block.
 */

struct _GasyncScheduler
{
  GSource       source;

  /* Not a reference: the context owns the source. */
  GMainContext *context;

  /* Guards head, tail and polling. */
  GMutex        lock;
  GasyncFuture *head;
  GasyncFuture *tail;
  gboolean      polling;

  /* Only touched by the thread dispatching the source. */
  gboolean      skip_iteration;
  guint64       serial;
  GPtrArray    *deferred;
};

static GMutex      schedulers_lock;
static GHashTable *schedulers;
static int         schedulers_generation;

static __thread GMainContext    *cached_context;
static __thread GasyncScheduler *cached_scheduler;
static __thread int              cached_generation;
static __thread GasyncScheduler *dispatching;

static GasyncResumeFunc resume_func;

void
gasync_scheduler_set_resume_func (GasyncResumeFunc func)
{
  resume_func = func;
}

static inline gboolean
has_work (GasyncScheduler *self)
{
  return self->head != NULL;
}

static gboolean
gasync_scheduler_prepare (GSource *source,
                          int     *timeout)
{
  GasyncScheduler *self = (GasyncScheduler *) source;
  gboolean ready;

  *timeout = -1;

  if (self->skip_iteration)
    {
      /* Work is waiting: do not block in poll(), just let others run. */
      *timeout = 0;
      return FALSE;
    }

  g_mutex_lock (&self->lock);
  ready = has_work (self);
  self->polling = !ready;
  g_mutex_unlock (&self->lock);

  return ready;
}

static gboolean
gasync_scheduler_check (GSource *source)
{
  GasyncScheduler *self = (GasyncScheduler *) source;
  gboolean ready;

  if (self->skip_iteration)
    {
      self->skip_iteration = FALSE;
      return FALSE;
    }

  g_mutex_lock (&self->lock);
  self->polling = FALSE;
  ready = has_work (self);
  g_mutex_unlock (&self->lock);

  return ready;
}

static void
flush_deferred (GasyncScheduler *self)
{
  for (guint i = 0; i < self->deferred->len; i += 2)
    {
      GasyncFuture *future = g_ptr_array_index (self->deferred, i);
      guint bits = GPOINTER_TO_UINT (g_ptr_array_index (self->deferred, i + 1));

      gasync_scheduler_push (self, future, bits);
      g_object_unref (future);
    }
  g_ptr_array_set_size (self->deferred, 0);
}

static gboolean
gasync_scheduler_dispatch (GSource     *source,
                           GSourceFunc  callback,
                           gpointer     user_data)
{
  GasyncScheduler *self = (GasyncScheduler *) source;
  GasyncScheduler *previous = dispatching;
  gint64 deadline = g_get_monotonic_time () + GASYNC_SCHEDULER_BUDGET_USEC;
  guint budget = GASYNC_SCHEDULER_BUDGET_ITEMS;

  dispatching = self;
  self->serial++;

  while (budget > 0)
    {
      GasyncFuture *round;

      g_mutex_lock (&self->lock);
      round = g_steal_pointer (&self->head);
      self->tail = NULL;
      g_mutex_unlock (&self->lock);

      if (round == NULL)
        break;

      while (round != NULL)
        {
          GasyncFuture *future = round;
          GasyncFuturePrivate *priv = gasync_future_get_priv (future);
          guint bits;

          if (budget == 0 ||
              ((budget & 7) == 0 && g_get_monotonic_time () >= deadline))
            {
              GasyncFuture *last = round;
              GasyncFuturePrivate *last_priv;

              /* Out of budget: the rest of this round goes back to the
               * front of the queue, still marked as queued, in order. */
              while ((last_priv = gasync_future_get_priv (last))->queue_next != NULL)
                last = last_priv->queue_next;

              g_mutex_lock (&self->lock);
              last_priv->queue_next = self->head;
              if (self->head == NULL)
                self->tail = last;
              self->head = round;
              g_mutex_unlock (&self->lock);

              budget = 0;
              break;
            }

          round = priv->queue_next;
          priv->queue_next = NULL;
          bits = g_atomic_int_and (&priv->deliver, 0);
          bits &= ~GASYNC_DELIVER_QUEUED;
          budget--;

          if (bits & GASYNC_DELIVER_RESUME)
            {
              g_assert (resume_func != NULL);
              resume_func (future);
              bits &= ~GASYNC_DELIVER_RESUME;
            }
          if (bits != 0)
            gasync_future_deliver (future, bits);

          /* The queue's reference. */
          g_object_unref (future);
        }
    }

  if (budget == 0)
    {
      g_mutex_lock (&self->lock);
      self->skip_iteration = has_work (self);
      g_mutex_unlock (&self->lock);
    }

  if (self->deferred->len > 0)
    flush_deferred (self);

  dispatching = previous;

  return G_SOURCE_CONTINUE;
}

static void
gasync_scheduler_finalize (GSource *source)
{
  GasyncScheduler *self = (GasyncScheduler *) source;

  g_mutex_lock (&schedulers_lock);
  if (schedulers != NULL &&
      g_hash_table_lookup (schedulers, self->context) == self)
    g_hash_table_remove (schedulers, self->context);
  schedulers_generation++;
  g_mutex_unlock (&schedulers_lock);

  /* Every queued future holds a reference on the context, so a context
   * (and with it this source) cannot be finalized with work queued. */
  g_assert (self->head == NULL);

  g_ptr_array_unref (self->deferred);
  g_mutex_clear (&self->lock);
}

static GSourceFuncs scheduler_funcs = {
  .prepare = gasync_scheduler_prepare,
  .check = gasync_scheduler_check,
  .dispatch = gasync_scheduler_dispatch,
  .finalize = gasync_scheduler_finalize,
};

static GasyncScheduler *
scheduler_new (GMainContext *context)
{
  GasyncScheduler *self;

  self = (GasyncScheduler *) g_source_new (&scheduler_funcs, sizeof *self);
  g_source_set_static_name ((GSource *) self, "[gasync] scheduler");
  g_source_set_priority ((GSource *) self, G_PRIORITY_DEFAULT);
  g_source_set_can_recurse ((GSource *) self, TRUE);
  g_mutex_init (&self->lock);
  self->context = context;
  self->deferred = g_ptr_array_new ();

  return self;
}

/*
 * Returns the scheduler of @context, creating and attaching it on first use.
 * The result is valid for as long as the caller holds a reference on
 * @context.
 */
GasyncScheduler *
gasync_scheduler_get_for_context (GMainContext *context)
{
  GasyncScheduler *self;
  gboolean created = FALSE;

  if (context == NULL)
    context = g_main_context_default ();

  if (cached_context == context &&
      cached_generation == g_atomic_int_get (&schedulers_generation))
    return cached_scheduler;

  g_mutex_lock (&schedulers_lock);
  if (schedulers == NULL)
    schedulers = g_hash_table_new (NULL, NULL);
  self = g_hash_table_lookup (schedulers, context);
  if (self == NULL)
    {
      self = scheduler_new (context);
      g_hash_table_insert (schedulers, context, self);
      created = TRUE;
    }
  cached_context = context;
  cached_scheduler = self;
  cached_generation = schedulers_generation;
  g_mutex_unlock (&schedulers_lock);

  /* Attached outside schedulers_lock: the context's own lock is taken
   * by g_source_attach(), and finalize takes schedulers_lock. */
  if (created)
    {
      g_source_attach ((GSource *) self, context);
      g_source_unref ((GSource *) self);
    }

  return self;
}

GMainContext *
gasync_scheduler_get_context (GasyncScheduler *self)
{
  return self->context;
}

guint64
gasync_scheduler_get_serial (GasyncScheduler *self)
{
  return self->serial;
}

GasyncScheduler *
gasync_scheduler_get_dispatching (void)
{
  return dispatching;
}

/*
 * Queues @future for delivery of @bits.  The queue holds a reference until
 * the dispatch has delivered.  Safe from any thread.
 */
void
gasync_scheduler_push (GasyncScheduler *self,
                       GasyncFuture    *future,
                       guint            bits)
{
  GasyncFuturePrivate *priv = gasync_future_get_priv (future);
  gboolean wakeup = FALSE;
  guint old;

  old = g_atomic_int_or (&priv->deliver, bits | GASYNC_DELIVER_QUEUED);
  if (old & GASYNC_DELIVER_QUEUED)
    return;

  g_object_ref (future);

  g_mutex_lock (&self->lock);
  if (self->tail != NULL)
    gasync_future_get_priv (self->tail)->queue_next = future;
  else
    {
      self->head = future;
      wakeup = self->polling;
    }
  self->tail = future;
  g_mutex_unlock (&self->lock);

  if (wakeup)
    g_main_context_wakeup (self->context);
}

/*
 * Queues @future for the next dispatch rather than a later round of the
 * current one.  Only from the dispatching thread.
 */
void
gasync_scheduler_defer (GasyncScheduler *self,
                        GasyncFuture    *future,
                        guint            bits)
{
  g_assert (dispatching == self);

  g_ptr_array_add (self->deferred, g_object_ref (future));
  g_ptr_array_add (self->deferred, GUINT_TO_POINTER (bits));
}

/* The coroutine running on this thread, if any (set by the coroutine
 * module around each switch into a coroutine). */
static __thread GasyncFuture *current_coroutine;

GasyncFuture *
gasync_scheduler_get_current_coroutine (void)
{
  return current_coroutine;
}

void
gasync_scheduler_set_current_coroutine (GasyncFuture *coroutine)
{
  current_coroutine = coroutine;
}

gboolean
gasync_in_coroutine (void)
{
  return current_coroutine != NULL;
}
