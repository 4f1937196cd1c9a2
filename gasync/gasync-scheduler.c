/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "gasync-future-private.h"
#include "gasync-scheduler-private.h"
#include "gasync-stack-private.h"

/*
 * A lane's dispatch drains its queue in rounds.  A round takes everything
 * queued before it began; what a round queues (a coroutine woken by a done
 * callback, a callback added by a callback) runs in the next round of the
 * same dispatch, so ping-pong style work never pays a poll() per hop.  A
 * dispatch stops after GASYNC_SCHEDULER_BUDGET_ITEMS items or
 * GASYNC_SCHEDULER_BUDGET_USEC, whichever comes first; if work is left, the
 * lane reports itself un-ready for exactly one iteration so that sources of
 * lower priority (GTK layout and paint, idles) get their turn.
 *
 * Wake-ups: a push from any thread that appends to an empty queue while the
 * iterating thread may be blocked in poll() (the `polling` flag, set in
 * prepare and cleared in check, both under the lock) wakes the context.  A
 * push from the thread iterating the context never needs one: the lane is
 * prepared again before that thread can block.
 *
 * Local queue: while a thread dispatches the lane, what that same thread
 * pushes (a delivery queued by a done callback, a coroutine woken by
 * another) goes to a second queue that only it touches, without the lock;
 * each round takes the shared queue first, then the local one, which keeps
 * every thread's pushes in order.  Whatever the outermost dispatch leaves
 * there goes back to the shared queue before it returns, so outside a
 * dispatch the local queue is always empty.
 */

struct _GasyncLane
{
  GSource          source;
  GasyncScheduler *scheduler;

  /* Guards head, tail and polling.  head is also peeked at without the
   * lock (relaxed atomics): a hint, confirmed under the lock. */
  GMutex           lock;
  GasyncRunnable  *head;
  GasyncRunnable  *tail;
  gboolean         polling;

  /* Only touched by the thread dispatching the lane. */
  gboolean         skip_iteration;
  /* The dispatching thread's token (thread_token) while a dispatch runs,
   * NULL otherwise; only that thread writes it, and any thread may read it
   * (relaxed) to tell whether it is that thread. */
  gpointer         dispatching;
  /* Pushed by the dispatching thread during the dispatch; no lock. */
  GasyncRunnable  *local_head;
  GasyncRunnable  *local_tail;
};

struct _GasyncScheduler
{
  /* Not a reference: the context owns the lanes, the lanes own this. */
  GMainContext    *context;
  gatomicrefcount  ref_count;

  /* Read-only once created. */
  GasyncLane      *default_lane;

  /* Guards lanes (every lane but the default one, sorted by priority). */
  GMutex           lock;
  GPtrArray       *lanes;
  GasyncLane      *backlog_lane;

  /* Only touched by the thread iterating the context. */
  guint64          serial;
  GPtrArray       *deferred;
  GasyncStackPool *stacks;
  /* Pending trim of the stack pool, and whether stacks were handed out
   * since it was scheduled. */
  GSource         *trim_source;
  gboolean         stacks_busy;
  /* Pending trim of the recycling pool of the thread iterating the
   * context (see gasync_scheduler_pool_grew()). */
  GSource         *pool_trim_source;
};

/* Free stacks are given back to the kernel after this long without any
 * stack being handed out; a recycling pool's surplus likewise. */
#define GASYNC_SCHEDULER_TRIM_DELAY_MS 2000
/* Objects a pool trim finalizes per main-loop iteration: about a
 * millisecond's worth. */
#define GASYNC_SCHEDULER_POOL_TRIM_CHUNK 1024

static GMutex      schedulers_lock;
static GHashTable *schedulers;
static int         schedulers_generation;

static __thread GMainContext    *cached_context;
static __thread GasyncScheduler *cached_scheduler;
static __thread int              cached_generation;

/* The coroutine whose stack the thread is running on, if any. */
static __thread GasyncFuture    *current_coroutine;

/* Its address identifies the thread in GasyncLane.dispatching. */
static __thread char             thread_token;
/* The lane whose dispatch may run one step inline for the runnable running
 * now on this thread (see gasync_lane_take_inline()), or NULL. */
static __thread GasyncLane      *inline_lane;
/* The scheduler whose lane this thread is dispatching (the innermost, when
 * dispatches nest), or NULL. */
static __thread GasyncScheduler *dispatching_scheduler;

static inline gboolean
lane_dispatching_here (GasyncLane *self)
{
  return __atomic_load_n (&self->dispatching, __ATOMIC_RELAXED) == (gpointer) &thread_token;
}

static void
scheduler_unref (GasyncScheduler *self)
{
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;

  g_assert (self->deferred->len == 0);
  g_ptr_array_unref (self->deferred);
  g_clear_pointer (&self->lanes, g_ptr_array_unref);
  if (self->trim_source != NULL)
    {
      g_source_destroy (self->trim_source);
      g_clear_pointer (&self->trim_source, g_source_unref);
    }
  if (self->pool_trim_source != NULL)
    {
      g_source_destroy (self->pool_trim_source);
      g_clear_pointer (&self->pool_trim_source, g_source_unref);
    }
  g_clear_pointer (&self->stacks, gasync_stack_pool_free);
  g_mutex_clear (&self->lock);
  g_free (self);
}

static gboolean
gasync_lane_prepare (GSource *source,
                     int     *timeout)
{
  GasyncLane *self = (GasyncLane *) source;
  gboolean ready;

  *timeout = -1;

  /* A nested iteration from a coroutine stack must never run runnables:
   * they may reach binding code, which needs the thread's own stack. */
  if G_UNLIKELY (current_coroutine != NULL)
    return FALSE;

  if (self->skip_iteration)
    {
      /* Work is waiting: do not block in poll(), just let others run. */
      *timeout = 0;
      return FALSE;
    }

  /* A nested iteration from inside a dispatch (gasync_future_wait() in a
   * done callback) must see what the outer dispatch queued locally. */
  if (lane_dispatching_here (self) && self->local_head != NULL)
    return TRUE;

  g_mutex_lock (&self->lock);
  ready = self->head != NULL;
  self->polling = !ready;
  g_mutex_unlock (&self->lock);

  return ready;
}

static gboolean
gasync_lane_check (GSource *source)
{
  GasyncLane *self = (GasyncLane *) source;
  gboolean ready;

  if G_UNLIKELY (current_coroutine != NULL)
    return FALSE;

  if (self->skip_iteration)
    {
      self->skip_iteration = FALSE;
      return FALSE;
    }

  g_mutex_lock (&self->lock);
  self->polling = FALSE;
  ready = self->head != NULL;
  g_mutex_unlock (&self->lock);

  return ready || (lane_dispatching_here (self) && self->local_head != NULL);
}

static void
flush_deferred (GasyncScheduler *self)
{
  for (guint i = 0; i < self->deferred->len; i += 2)
    {
      GasyncFuture *future = g_ptr_array_index (self->deferred, i);
      guint bits = GPOINTER_TO_UINT (g_ptr_array_index (self->deferred, i + 1));

      gasync_scheduler_push (self, future, bits);
      gasync_future_release (future);
    }
  g_ptr_array_set_size (self->deferred, 0);
}

static gboolean
gasync_lane_dispatch (GSource     *source,
                      GSourceFunc  callback,
                      gpointer     user_data)
{
  GasyncLane *self = (GasyncLane *) source;
  GasyncScheduler *scheduler = self->scheduler;
  GasyncScheduler *outer_scheduler = dispatching_scheduler;
  gint64 deadline = g_get_monotonic_time () + GASYNC_SCHEDULER_BUDGET_USEC;
  guint budget = GASYNC_SCHEDULER_BUDGET_ITEMS;
  /* Non-NULL in a dispatch nested in another of this lane, on this thread. */
  gpointer outer = __atomic_load_n (&self->dispatching, __ATOMIC_RELAXED);

  if (self == scheduler->default_lane)
    scheduler->serial++;

  __atomic_store_n (&self->dispatching, (gpointer) &thread_token, __ATOMIC_RELAXED);
  dispatching_scheduler = scheduler;

  while (budget > 0)
    {
      GasyncRunnable *round = NULL;
      GasyncRunnable *round_tail = NULL;

      /* The shared queue first (other threads' pushes, and this thread's
       * from before the dispatch), then this thread's local pushes. */
      if (__atomic_load_n (&self->head, __ATOMIC_RELAXED) != NULL)
        {
          g_mutex_lock (&self->lock);
          round = self->head;
          round_tail = self->tail;
          __atomic_store_n (&self->head, NULL, __ATOMIC_RELAXED);
          self->tail = NULL;
          g_mutex_unlock (&self->lock);
        }
      if (self->local_head != NULL)
        {
          if (round == NULL)
            round = self->local_head;
          else
            round_tail->next = self->local_head;
          round_tail = self->local_tail;
          self->local_head = self->local_tail = NULL;
        }

      if (round == NULL)
        break;

      while (round != NULL)
        {
          GasyncRunnable *runnable = round;

          if (budget == 0 ||
              ((budget & 7) == 0 && g_get_monotonic_time () >= deadline))
            {
              /* Out of budget: the rest of this round goes back to the
               * front, in order, ahead of what the round queued. */
              round_tail->next = self->local_head;
              if (self->local_head == NULL)
                self->local_tail = round_tail;
              self->local_head = round;

              budget = 0;
              break;
            }

          round = runnable->next;
          runnable->next = NULL;
          budget--;
          inline_lane = self;
          runnable->run (runnable);
          inline_lane = NULL;
        }
    }

  /* Pushed after the last round, these wait for the next dispatch. */
  if (self == scheduler->default_lane && scheduler->deferred->len > 0)
    flush_deferred (scheduler);

  __atomic_store_n (&self->dispatching, outer, __ATOMIC_RELAXED);
  dispatching_scheduler = outer_scheduler;

  /* The outermost dispatch hands what is left of the local queue back to
   * the shared one, ahead of what other threads pushed meanwhile (as if
   * this thread had pushed it there first). */
  if (outer == NULL && self->local_head != NULL)
    {
      g_mutex_lock (&self->lock);
      self->local_tail->next = self->head;
      if (self->head == NULL)
        self->tail = self->local_tail;
      __atomic_store_n (&self->head, self->local_head, __ATOMIC_RELAXED);
      self->local_head = self->local_tail = NULL;
      if (budget == 0)
        self->skip_iteration = TRUE;
      g_mutex_unlock (&self->lock);
    }
  else if (budget == 0)
    {
      g_mutex_lock (&self->lock);
      self->skip_iteration = self->head != NULL || self->local_head != NULL;
      g_mutex_unlock (&self->lock);
    }

  return G_SOURCE_CONTINUE;
}

static void
gasync_lane_finalize (GSource *source)
{
  GasyncLane *self = (GasyncLane *) source;
  GasyncScheduler *scheduler = self->scheduler;

  if (self == scheduler->default_lane)
    {
      g_mutex_lock (&schedulers_lock);
      if (schedulers != NULL &&
          g_hash_table_lookup (schedulers, scheduler->context) == scheduler)
        g_hash_table_remove (schedulers, scheduler->context);
      g_atomic_int_inc (&schedulers_generation);
      g_mutex_unlock (&schedulers_lock);
    }

  /* Everything queued holds a reference on the context, so a context (and
   * with it its lanes) cannot be finalized with work queued. */
  g_assert (self->head == NULL);
  g_assert (self->local_head == NULL);

  g_mutex_clear (&self->lock);
  scheduler_unref (scheduler);
}

static GSourceFuncs lane_funcs = {
  .prepare = gasync_lane_prepare,
  .check = gasync_lane_check,
  .dispatch = gasync_lane_dispatch,
  .finalize = gasync_lane_finalize,
};

static GasyncLane *
lane_new (GasyncScheduler *scheduler,
          int              priority,
          const char      *name)
{
  GasyncLane *self;

  self = (GasyncLane *) g_source_new (&lane_funcs, sizeof *self);
  g_source_set_static_name ((GSource *) self, name);
  g_source_set_priority ((GSource *) self, priority);
  /* A dispatch may iterate the context again (gasync_future_wait() from a
   * done callback): the lane must keep serving that nested loop. */
  g_source_set_can_recurse ((GSource *) self, TRUE);
  g_mutex_init (&self->lock);
  g_atomic_ref_count_inc (&scheduler->ref_count);
  self->scheduler = scheduler;

  return self;
}

static void
lane_attach (GasyncLane *lane)
{
  g_source_attach ((GSource *) lane, lane->scheduler->context);
  g_source_unref ((GSource *) lane);
}

/*
 * Returns the scheduler of @context, creating it on first use.  The result
 * is valid for as long as the caller holds a reference on @context.
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
      self = g_new0 (GasyncScheduler, 1);
      self->context = context;
      /* The creator's reference is handed to the default lane below. */
      g_atomic_ref_count_init (&self->ref_count);
      g_mutex_init (&self->lock);
      self->lanes = g_ptr_array_new ();
      self->deferred = g_ptr_array_new ();
      self->default_lane = lane_new (self, G_PRIORITY_DEFAULT, "[gasync] scheduler");
      g_hash_table_insert (schedulers, context, self);
      created = TRUE;
    }
  cached_context = context;
  cached_scheduler = self;
  cached_generation = g_atomic_int_get (&schedulers_generation);
  g_mutex_unlock (&schedulers_lock);

  /* Attached outside schedulers_lock: g_source_attach() takes the context's
   * lock, and lane finalization takes schedulers_lock. */
  if (created)
    {
      lane_attach (self->default_lane);
      /* lane_new() took a reference for the lane; drop the creator's. */
      scheduler_unref (self);
    }

  return self;
}

GMainContext *
gasync_scheduler_get_context (GasyncScheduler *self)
{
  return self->context;
}

GasyncLane *
gasync_scheduler_get_default_lane (GasyncScheduler *self)
{
  return self->default_lane;
}

/*
 * Returns the lane of @priority, creating it on first use.  Any thread.
 */
GasyncLane *
gasync_scheduler_get_lane (GasyncScheduler *self,
                           int              priority)
{
  GasyncLane *lane = NULL;

  if (priority == G_PRIORITY_DEFAULT)
    return self->default_lane;

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->lanes->len; i++)
    {
      GasyncLane *iter = g_ptr_array_index (self->lanes, i);

      if (g_source_get_priority ((GSource *) iter) == priority)
        {
          lane = iter;
          break;
        }
    }
  if (lane == NULL)
    {
      lane = lane_new (self, priority, "[gasync] scheduler lane");
      g_ptr_array_add (self->lanes, lane);
      /* The context owns the lane once attached; keep it alive for the
       * array, which lives as long as the scheduler, which the lane keeps
       * alive in turn: the array holds no reference, the context does. */
      g_mutex_unlock (&self->lock);
      lane_attach (lane);
      return lane;
    }
  g_mutex_unlock (&self->lock);

  return lane;
}

GasyncLane *
gasync_scheduler_get_backlog_lane (GasyncScheduler *self)
{
  GasyncLane *lane;

  g_mutex_lock (&self->lock);
  lane = self->backlog_lane;
  g_mutex_unlock (&self->lock);

  if G_UNLIKELY (lane == NULL)
    {
      lane = gasync_scheduler_get_lane (self, G_PRIORITY_DEFAULT_IDLE);
      g_mutex_lock (&self->lock);
      self->backlog_lane = lane;
      g_mutex_unlock (&self->lock);
    }

  return lane;
}

guint64
gasync_scheduler_get_serial (GasyncScheduler *self)
{
  return self->serial;
}

/* The stack pool of the thread iterating the context. */
gpointer
gasync_scheduler_get_stack_pool (GasyncScheduler *self)
{
  if G_UNLIKELY (self->stacks == NULL)
    self->stacks = gasync_stack_pool_new ();

  self->stacks_busy = TRUE;
  return self->stacks;
}

static gboolean
trim_cb (gpointer user_data)
{
  GasyncScheduler *self = user_data;

  /* Stacks were handed out since the last look: not idle yet. */
  if (self->stacks_busy)
    {
      self->stacks_busy = FALSE;
      return G_SOURCE_CONTINUE;
    }

  gasync_stack_pool_trim (self->stacks);
  g_clear_pointer (&self->trim_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

/*
 * Called after a stack went back to the pool: once no stack has been handed
 * out for a while, the free ones are returned to the kernel.  At most one
 * timer is pending, so this costs nothing per coroutine.
 */
void
gasync_scheduler_stack_released (GasyncScheduler *self)
{
  if (self->trim_source != NULL)
    return;

  self->stacks_busy = FALSE;
  self->trim_source = g_timeout_source_new (GASYNC_SCHEDULER_TRIM_DELAY_MS);
  g_source_set_static_name (self->trim_source, "[gasync] stack trim");
  g_source_set_priority (self->trim_source, G_PRIORITY_LOW);
  g_source_set_callback (self->trim_source, trim_cb, self, NULL);
  g_source_attach (self->trim_source, self->context);
}

typedef struct
{
  GSource          source;
  GasyncScheduler *scheduler;
} PoolTrimSource;

/* Waits until the pool has gone a whole delay without being drawn from,
 * then trims a chunk per iteration until only the resting size is left. */
static gboolean
pool_trim_dispatch (GSource     *source,
                    GSourceFunc  callback,
                    gpointer     user_data)
{
  GasyncScheduler *self = ((PoolTrimSource *) source)->scheduler;

  if (gasync_future_pool_take_used ())
    g_source_set_ready_time (source, g_get_monotonic_time () +
                                     GASYNC_SCHEDULER_TRIM_DELAY_MS * 1000);
  else if (gasync_future_pool_trim (GASYNC_SCHEDULER_POOL_TRIM_CHUNK))
    g_source_set_ready_time (source, 0);
  else
    {
      g_clear_pointer (&self->pool_trim_source, g_source_unref);
      return G_SOURCE_REMOVE;
    }

  return G_SOURCE_CONTINUE;
}

static GSourceFuncs pool_trim_funcs = {
  .dispatch = pool_trim_dispatch,
};

GasyncScheduler *
gasync_scheduler_get_dispatching (void)
{
  return dispatching_scheduler;
}

/*
 * Called by the thread dispatching @self's lane when its recycling pool grew
 * beyond the resting size: at most one trim is pending per scheduler, so
 * this costs nothing per object.  The trim runs on whichever thread then
 * iterates the context and trims that thread's pool, which is this one's
 * unless the context changed hands, in which case the surplus stays until
 * this thread ends or grows its pool again under another scheduler.
 */
void
gasync_scheduler_pool_grew (GasyncScheduler *self)
{
  GSource *source;

  if G_LIKELY (self->pool_trim_source != NULL)
    return;

  source = g_source_new (&pool_trim_funcs, sizeof (PoolTrimSource));
  ((PoolTrimSource *) source)->scheduler = self;
  g_source_set_static_name (source, "[gasync] pool trim");
  g_source_set_priority (source, G_PRIORITY_LOW);
  g_source_set_ready_time (source, g_get_monotonic_time () +
                                   GASYNC_SCHEDULER_TRIM_DELAY_MS * 1000);
  self->pool_trim_source = source;
  g_source_attach (source, self->context);
}

GasyncScheduler *
gasync_lane_get_scheduler (GasyncLane *lane)
{
  return lane->scheduler;
}

void
gasync_lane_push (GasyncLane     *self,
                  GasyncRunnable *runnable)
{
  gboolean wakeup = FALSE;

  runnable->next = NULL;

  if (lane_dispatching_here (self))
    {
      /* This thread runs the lane's dispatch right now: no lock, and no
       * wake-up, since the next round or iteration sees it. */
      if (self->local_tail != NULL)
        self->local_tail->next = runnable;
      else
        self->local_head = runnable;
      self->local_tail = runnable;
      return;
    }

  g_mutex_lock (&self->lock);
  if (self->tail != NULL)
    self->tail->next = runnable;
  else
    {
      __atomic_store_n (&self->head, runnable, __ATOMIC_RELAXED);
      wakeup = self->polling;
    }
  self->tail = runnable;
  g_mutex_unlock (&self->lock);

  if (wakeup)
    g_main_context_wakeup (self->scheduler->context);
}

gboolean
gasync_lane_take_inline (GasyncLane *lane)
{
  if (inline_lane != lane)
    return FALSE;

  inline_lane = NULL;
  return TRUE;
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
  guint old;

  old = (guint) g_atomic_int_or (&priv->deliver, bits | GASYNC_DELIVER_QUEUED);
  if (old & GASYNC_DELIVER_QUEUED)
    return;

  g_object_ref (future);
  gasync_lane_push (self->default_lane, &priv->runnable);
}

/*
 * Queues @future, whose GASYNC_DELIVER_QUEUED bit the caller set itself
 * (gasync_future_hold_delivery()), for delivery of the bits it gathered.
 */
void
gasync_scheduler_push_claimed (GasyncScheduler *self,
                               GasyncFuture    *future)
{
  g_object_ref (future);
  gasync_lane_push (self->default_lane, &gasync_future_get_priv (future)->runnable);
}

void
gasync_scheduler_defer (GasyncScheduler *self,
                        GasyncFuture    *future,
                        guint            bits)
{
  g_ptr_array_add (self->deferred, g_object_ref (future));
  g_ptr_array_add (self->deferred, GUINT_TO_POINTER (bits));
}

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
