/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "gasync-coroutine.h"
#include "gasync-await.h"
#include "gasync-error.h"
#include "gasync-fiber-private.h"
#include "gasync-future-private.h"
#include "gasync-scheduler-private.h"
#include "gasync-stack-private.h"

/**
 * GasyncCoroutine:
 *
 * A `GasyncCoroutine` is a future whose outcome is the outcome of a body
 * that runs on the future's main context, like an asyncio Task.
 *
 * A **stackful** coroutine, for C, runs a [callback@CoroutineFunc] on a
 * stack of its own. Inside it, [func@await] suspends the body until a
 * future settles, while the main loop goes on with everything else, so the
 * code reads top to bottom:
 *
 * ```c
 * static gboolean
 * load_title (gpointer   user_data,
 *             GValue    *result,
 *             GError   **error)
 * {
 *   GFile *file = user_data;
 *   g_autoptr(GBytes) bytes = NULL;
 *
 *   bytes = gasync_await_boxed (my_load_bytes (file), G_TYPE_BYTES, error);
 *   if (bytes == NULL)
 *     return FALSE;
 *
 *   g_value_init (result, G_TYPE_STRING);
 *   g_value_take_string (result, extract_title (bytes));
 *   return TRUE;
 * }
 *
 * g_autoptr(GasyncCoroutine) co =
 *   gasync_coroutine_spawn ("load-title", load_title, file, NULL);
 * ```
 *
 * A **stepped** coroutine runs a [callback@CoroutineStepFunc] once per
 * awaited future instead, on the thread's own stack: Python and JavaScript
 * coroutines run this way, and share the scheduler, names, cancellation and
 * diagnostics of C ones.
 *
 * ## Scheduling
 *
 * Coroutines run only on the thread that iterates their main context, from
 * a dispatch of gasync's scheduler source, and never migrate. Spawning is
 * allowed from any thread. Ready coroutines run in FIFO order, within a
 * budget per dispatch (64 steps or 1 ms) after which the main loop gets to
 * run other sources for one iteration; a coroutine woken by the delivery
 * of the future it awaits runs in that delivery's turn. [func@yield] puts
 * the coroutine at the back of a low-priority backlog
 * (`G_PRIORITY_DEFAULT_IDLE`), so a coroutine that yields in a loop never
 * delays GTK's drawing.
 *
 * ## Cancellation
 *
 * [method@Future.cancel] on a coroutine makes its current await, or its
 * next one if it is running, fail with `G_IO_ERROR_CANCELLED`, and cancels
 * the future it awaited. The body decides how to end: returning that error
 * ends the coroutine `CANCELLED`. The coroutine's cancellable
 * ([method@Future.get_cancellable]) is cancelled at once, so GIO calls made
 * with it stop too.
 *
 * ## Rules for stackful bodies
 *
 * Never hold a `GMutex` across an await; `errno` is not preserved across an
 * await; do not change the signal mask. Code running on a coroutine stack
 * must not call into Python or JavaScript: signals and callbacks of gasync
 * objects are always emitted from the scheduler's dispatch on the thread's
 * own stack, and a main-context iteration started from a coroutine does not
 * run gasync's scheduler.
 */

struct _GasyncCoroutine
{
  GasyncFuture             parent_instance;

  /* Read-only after spawn.  The body is a GasyncCoroutineFunc, or a
   * GasyncCoroutineStepFunc when stepped is set. */
  GasyncLane              *lane;
  gpointer                 body;
  gpointer                 data;
  GDestroyNotify           destroy;
  gint64                   spawn_time;

  /* Queue entry for resumption; resume_queued (atomic) keeps it in at most
   * one lane queue at a time. */
  GasyncRunnable           resume;
  int                      resume_queued;

  /* Set from any thread by a cancellation request; atomic. */
  int                      cancel_pending;

  /* The rest belongs to the thread running the coroutine. */
  GasyncStack             *stack;
  GasyncFiber              fiber;
  /* The future a suspended await waits for (a reference), or NULL.  Also
   * read by wake_cb on other threads, atomically, to ignore stale wakes. */
  GasyncFuture            *awaiting;
  GasyncDoneCallback       wake;
  /* Links in the list of live coroutines, guarded by live_lock. */
  GasyncCoroutine         *live_prev;
  GasyncCoroutine         *live_next;
  /* Usable stack bytes asked for at spawn (0 for the default). */
  guint32                  stack_size;
  guint                    stepped : 1;
  guint                    started : 1;
  guint                    finished : 1;
  guint                    yielded : 1;
  guint                    cancel_delivered : 1;
  /* The body's end holds the done delivery for finish() to queue, or to
   * drop when nobody could see it (see gasync_future_hold_delivery()). */
  guint                    delivery_held : 1;
};

G_DEFINE_FINAL_TYPE (GasyncCoroutine, gasync_coroutine, GASYNC_TYPE_FUTURE)

/* Every coroutine that has been spawned and has not finished, for
 * diagnostics; guarded by live_lock. */
static GMutex live_lock;
static GasyncCoroutine *live_head;
static GasyncCoroutine *live_tail;

/* The fiber of the thread's own stack, and the fiber running now. */
static __thread GasyncFiber  thread_fiber;
static __thread gboolean     thread_fiber_ready;
static __thread GasyncFiber *current_fiber;
/* The fiber that switched into the running coroutine, where it returns when
 * it suspends.  Kept per thread rather than per coroutine (every byte of a
 * suspended coroutine counts); switch_in() saves and restores it, so nested
 * resumptions unwind in order. */
static __thread GasyncFiber *resumer;

static void resume_run (GasyncRunnable *runnable);
static void resume_step (GasyncCoroutine *self,
                         guint            lent_refs);

static inline GasyncCoroutine *
current_coroutine (void)
{
  return (GasyncCoroutine *) gasync_scheduler_get_current_coroutine ();
}

static void
queue_resume (GasyncCoroutine *self,
              GasyncLane      *lane)
{
  if (!g_atomic_int_compare_and_exchange (&self->resume_queued, FALSE, TRUE))
    return;

  g_object_ref (self);
  gasync_lane_push (lane, &self->resume);
}

static void
gasync_coroutine_request_cancel (GasyncFuture *future)
{
  GasyncCoroutine *self = GASYNC_COROUTINE (future);

  /* The body runs on its own thread: only flag the request and make sure
   * the coroutine gets a turn to notice it. */
  g_atomic_int_set (&self->cancel_pending, TRUE);
  queue_resume (self, self->lane);
}

static void
gasync_coroutine_finalize (GObject *object)
{
  /* Plain casts on the paths every coroutine takes: the checked ones cost
   * more than the work around them. */
  GasyncCoroutine *self = (GasyncCoroutine *) object;

  /* A coroutine keeps itself alive while it runs, so only a finished or
   * never-started one gets here. */
  g_assert (self->stack == NULL);
  g_assert (self->awaiting == NULL);

  if (self->destroy != NULL)
    self->destroy (self->data);

  ((GObjectClass *) gasync_coroutine_parent_class)->finalize (object);
}

gboolean
gasync_coroutine_reset (GasyncCoroutine *self)
{
  if (!self->finished || self->stack != NULL || self->awaiting != NULL ||
      g_atomic_int_get (&self->resume_queued))
    return FALSE;

  /* finish() released the data already. */
  g_assert (self->destroy == NULL);

  self->lane = NULL;
  self->body = NULL;
  self->data = NULL;
  self->spawn_time = 0;
  self->cancel_pending = FALSE;
  memset (&self->fiber, 0, sizeof self->fiber);
  memset (&self->wake, 0, sizeof self->wake);
  self->live_prev = self->live_next = NULL;
  self->stack_size = 0;
  self->stepped = FALSE;
  self->started = FALSE;
  self->finished = FALSE;
  self->yielded = FALSE;
  self->cancel_delivered = FALSE;
  self->delivery_held = FALSE;
  return TRUE;
}

static void
gasync_coroutine_class_init (GasyncCoroutineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GasyncFutureClass *future_class = GASYNC_FUTURE_CLASS (klass);

  object_class->finalize = gasync_coroutine_finalize;
  future_class->request_cancel = gasync_coroutine_request_cancel;
}

static void
gasync_coroutine_init (GasyncCoroutine *self)
{
  self->resume.run = resume_run;
}

/* Whether @future's done callbacks, the wake-up among them, run on another
 * context than the coroutine: maybe on another thread, at any time. */
static inline gboolean
wakes_from_elsewhere (GasyncCoroutine *self,
                      GasyncFuture    *future)
{
  return gasync_future_get_priv (future)->scheduler != gasync_lane_get_scheduler (self->lane);
}

/* Links the wake-up node into @future's callbacks.  From another context
 * it holds a reference on the coroutine, dropped by wake_cb() or when the
 * node is taken back: the coroutine may otherwise be cancelled, end and be
 * finalized on its own thread between the moment the other thread takes
 * the node and the moment wake_cb() reads it. */
static void
add_wake (GasyncCoroutine *self,
          GasyncFuture    *future)
{
  if (wakes_from_elsewhere (self, future))
    g_object_ref (self);
  gasync_future_add_done_node (future, &self->wake);
}

static void
remove_wake (GasyncCoroutine *self,
             GasyncFuture    *future)
{
  if (gasync_future_remove_done_node (future, &self->wake) &&
      wakes_from_elsewhere (self, future))
    g_object_unref (self);
}

static void
wake_cb (GasyncFuture *future,
         gpointer      user_data)
{
  GasyncCoroutine *self = user_data;
  gboolean elsewhere = wakes_from_elsewhere (self, future);

  /* A wake for a future the coroutine no longer waits for (it was
   * cancelled out of that await) is stale. */
  if (g_atomic_pointer_get (&self->awaiting) != future)
    {
      if (elsewhere)
        g_object_unref (self);
      return;
    }

  if (elsewhere)
    {
      queue_resume (self, self->lane);
      g_object_unref (self);
    }
  else if (current_coroutine () == NULL &&
           !g_atomic_int_get (&self->resume_queued) &&
           gasync_lane_take_inline (self->lane))
    {
      /* The delivery of its future, dispatched by the coroutine's own lane
       * on its thread, runs the coroutine's next step itself, as asyncio's
       * task wake-up does, instead of queuing a resumption for a later
       * turn: one trip through the queue per await instead of two.  The
       * coroutine holds itself until its body ends, and nothing here uses
       * it afterwards. */
      resume_step (self, 0);
    }
  else
    queue_resume (self, self->lane);
}

void
gasync_coroutine_update_fiber_name (GasyncCoroutine *self)
{
  if (self->stack != NULL)
    self->fiber.name = gasync_future_get_name (GASYNC_FUTURE (self));
}

static GasyncCoroutine *
coroutine_new (GMainContext *context,
               int           priority,
               const char   *name)
{
  GasyncCoroutine *self;
  GasyncScheduler *scheduler;

  self = gasync_future_pool_take_coroutine ();
  if (self == NULL)
    self = (GasyncCoroutine *) g_object_new_with_properties (GASYNC_TYPE_COROUTINE, 0, NULL, NULL);
  if (context != NULL)
    gasync_future_set_context (GASYNC_FUTURE (self), context);

  scheduler = gasync_future_get_priv ((GasyncFuture *) self)->scheduler;
  self->lane = gasync_scheduler_get_lane (scheduler, priority);
  self->spawn_time = g_get_monotonic_time ();
  self->wake.func = wake_cb;
  self->wake.data = self;
  self->wake.embedded = TRUE;

  if (name != NULL)
    gasync_future_set_name (GASYNC_FUTURE (self), name);

  return self;
}

static void
start (GasyncCoroutine *self)
{
  /* The coroutine's own reference while it runs, dropped when it ends. */
  g_object_ref (self);

  g_mutex_lock (&live_lock);
  self->live_prev = live_tail;
  if (live_tail != NULL)
    live_tail->live_next = self;
  else
    live_head = self;
  live_tail = self;
  g_mutex_unlock (&live_lock);

  queue_resume (self, self->lane);
}

/**
 * gasync_coroutine_spawn: (skip)
 * @name: (nullable): a name for diagnostics
 * @func: the body
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data when the coroutine is finalized
 *
 * Starts a stackful coroutine on the thread-default main context, at the
 * default priority, with the default stack size (256 KiB, of which only the
 * pages the body touches cost memory). The body starts in a later dispatch
 * of the context, never inside this call. Can be called from any thread.
 *
 * Returns: (transfer full): the coroutine, a future of the body's outcome
 */
GasyncCoroutine *
gasync_coroutine_spawn (const char          *name,
                        GasyncCoroutineFunc  func,
                        gpointer             user_data,
                        GDestroyNotify       destroy)
{
  return gasync_coroutine_spawn_full (NULL, G_PRIORITY_DEFAULT, 0, name,
                                      func, user_data, destroy);
}

/**
 * gasync_coroutine_spawn_full: (skip)
 * @context: (nullable): the main context to run on, or `NULL` for the
 *   thread-default one
 * @priority: the priority of the scheduler lane the coroutine resumes in,
 *   such as `G_PRIORITY_DEFAULT`
 * @stack_size: usable stack bytes, or 0 for the default (256 KiB)
 * @name: (nullable): a name for diagnostics
 * @func: the body
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data when the coroutine is finalized
 *
 * Starts a stackful coroutine, like [func@Coroutine.spawn] with the main
 * context, priority and stack size given. Can be called from any thread.
 *
 * Returns: (transfer full): the coroutine
 */
GasyncCoroutine *
gasync_coroutine_spawn_full (GMainContext        *context,
                             int                  priority,
                             gsize                stack_size,
                             const char          *name,
                             GasyncCoroutineFunc  func,
                             gpointer             user_data,
                             GDestroyNotify       destroy)
{
  GasyncCoroutine *self;

  g_return_val_if_fail (func != NULL, NULL);
  g_return_val_if_fail (stack_size <= G_MAXUINT32, NULL);

  self = coroutine_new (context, priority, name);
  self->body = func;
  self->data = user_data;
  self->destroy = destroy;
  self->stack_size = (guint32) stack_size;
  start (self);

  return self;
}

/**
 * gasync_coroutine_spawn_stepped:
 * @context: (nullable): the main context to run on, or `NULL` for the
 *   thread-default one
 * @name: (nullable): a name for diagnostics
 * @func: (scope notified) (closure user_data) (destroy destroy): the step
 *   function
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data when the coroutine is finalized
 *
 * Starts a stepped coroutine: @func is called in a later dispatch with no
 * awaited future, then again each time the future it returned settles,
 * until it returns `NULL`. This is how language bindings run their own
 * coroutines on gasync's scheduler. Can be called from any thread.
 *
 * Returns: (transfer full): the coroutine
 */
GasyncCoroutine *
gasync_coroutine_spawn_stepped (GMainContext            *context,
                                const char              *name,
                                GasyncCoroutineStepFunc  func,
                                gpointer                 user_data,
                                GDestroyNotify           destroy)
{
  GasyncCoroutine *self;

  g_return_val_if_fail (func != NULL, NULL);

  self = coroutine_new (context, G_PRIORITY_DEFAULT, name);
  self->body = func;
  self->stepped = TRUE;
  self->data = user_data;
  self->destroy = destroy;
  start (self);

  return self;
}

static void
finish (GasyncCoroutine *self,
        guint            lent_refs)
{
  self->finished = TRUE;

  g_mutex_lock (&live_lock);
  if (self->live_prev != NULL)
    self->live_prev->live_next = self->live_next;
  else
    live_head = self->live_next;
  if (self->live_next != NULL)
    self->live_next->live_prev = self->live_prev;
  else
    live_tail = self->live_prev;
  self->live_prev = self->live_next = NULL;
  g_mutex_unlock (&live_lock);

  /* The data may belong to a binding: it is released here, on the thread's
   * own stack, rather than at finalization, wherever that happens. */
  if (self->destroy != NULL)
    {
      GDestroyNotify destroy = g_steal_pointer (&self->destroy);

      destroy (g_steal_pointer (&self->data));
    }

  if (self->delivery_held)
    {
      self->delivery_held = FALSE;
      gasync_future_deliver_held ((GasyncFuture *) self, 1 + lent_refs);
    }

  gasync_future_release ((GasyncFuture *) self);
}

static void
body_entry (gpointer data)
{
  GasyncCoroutine *self = data;
  GValue result = G_VALUE_INIT;
  GError *error = NULL;

  GasyncCoroutineFunc func = self->body;
  gboolean ok = func (self->data, &result, &error);

  /* A coroutine that nobody holds or watches any more needs no delivery;
   * finish() decides, once it is off the live list and its data is
   * released. */
  self->delivery_held = gasync_future_hold_delivery ((GasyncFuture *) self);

  if (ok)
    {
      if (error != NULL)
        {
          g_critical ("Coroutine %s returned TRUE with an error set: %s",
                      gasync_future_get_name (GASYNC_FUTURE (self)), error->message);
          g_clear_error (&error);
        }
      /* Not G_IS_VALUE(), a call: the body either left it alone or
       * initialized it. */
      if (G_VALUE_TYPE (&result) != G_TYPE_INVALID)
        gasync_future_take_value ((GasyncFuture *) self, &result);
      else
        gasync_future_settle ((GasyncFuture *) self, GASYNC_FUTURE_STATE_RESOLVED, NULL, NULL);
    }
  else
    {
      if (error == NULL)
        {
          g_critical ("Coroutine %s returned FALSE without setting an error",
                      gasync_future_get_name (GASYNC_FUTURE (self)));
          error = g_error_new_literal (GASYNC_ERROR, GASYNC_ERROR_FAILED,
                                       "The coroutine failed without saying why");
        }
      if (G_VALUE_TYPE (&result) != G_TYPE_INVALID)
        g_value_unset (&result);
      gasync_future_take_error (GASYNC_FUTURE (self), error);
    }

  self->finished = TRUE;
  gasync_fiber_switch_final (&self->fiber, resumer);
}

/**
 * gasync_coroutine_install_overflow_handler: (skip)
 *
 * Installs, once per process, a `SIGSEGV` handler running on an alternate
 * signal stack that reports a coroutine stack overflow by name
 * (`gasync: stack overflow in coroutine 'NAME'`) before aborting; faults
 * elsewhere go on to the previous handler. Call it early in `main()`:
 * threads get their alternate stack when they first run a coroutine after
 * it. Setting `GASYNC_DEBUG=overflow` in the environment does the same
 * without code.
 *
 * Stacks beyond the kernel's mapping budget have no guard page (see the
 * coroutines overview); their overflow is caught by a canary when the
 * coroutine ends, or at every switch with `GASYNC_DEBUG=checks`.
 */
void
gasync_coroutine_install_overflow_handler (void)
{
  gasync_fiber_install_overflow_handler ();
}

static void
apply_debug_flags (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      static const GDebugKey keys[] = {
        { "overflow", 1 },
      };
      const char *env = g_getenv ("GASYNC_DEBUG");

      /* "checks" is read by the fiber layer itself. */
      if (env != NULL &&
          (g_parse_debug_string (env, keys, G_N_ELEMENTS (keys)) & 1))
        gasync_fiber_install_overflow_handler ();
      g_once_init_leave (&done, 1);
    }
}

static inline GasyncFiber *
get_current_fiber (void)
{
  if G_UNLIKELY (!thread_fiber_ready)
    {
      apply_debug_flags ();
      gasync_fiber_init_thread (&thread_fiber);
      thread_fiber_ready = TRUE;
      current_fiber = &thread_fiber;
    }

  return current_fiber;
}

/* Runs the stackful body until it suspends or ends.  Only from a dispatch,
 * on the thread's own stack or (nested iteration) another coroutine's. */
static void
switch_in (GasyncCoroutine *self,
           guint            lent_refs)
{
  GasyncFuture *previous = gasync_scheduler_get_current_coroutine ();
  GasyncFiber *caller = get_current_fiber ();
  GasyncFiber *previous_resumer = resumer;

  if G_UNLIKELY (!self->started)
    {
      GasyncScheduler *scheduler = gasync_lane_get_scheduler (self->lane);

      self->started = TRUE;
      self->stack = gasync_stack_pool_acquire (gasync_scheduler_get_stack_pool (scheduler),
                                               self->stack_size);
      gasync_fiber_init (&self->fiber, self->stack, body_entry, self);
      self->fiber.name = gasync_future_get_priv ((GasyncFuture *) self)->name;
    }

  resumer = caller;
  current_fiber = &self->fiber;
  gasync_scheduler_set_current_coroutine ((GasyncFuture *) self);

  gasync_fiber_switch (caller, &self->fiber);

  gasync_scheduler_set_current_coroutine (previous);
  current_fiber = caller;
  resumer = previous_resumer;

  if (self->finished)
    {
      GasyncScheduler *scheduler = gasync_lane_get_scheduler (self->lane);

      gasync_fiber_clear (&self->fiber);
      gasync_stack_pool_release (gasync_scheduler_get_stack_pool (scheduler),
                                 g_steal_pointer (&self->stack));
      gasync_scheduler_stack_released (scheduler);
      finish (self, lent_refs);
    }
}

/* Suspends the running coroutine until resume_run() switches back in. */
static void
suspend (GasyncCoroutine *self)
{
  gasync_fiber_switch (&self->fiber, resumer);
}

static gboolean
take_cancel (GasyncCoroutine *self)
{
  if (self->cancel_delivered || !g_atomic_int_get (&self->cancel_pending))
    return FALSE;

  self->cancel_delivered = TRUE;
  return TRUE;
}

static void
step_run (GasyncCoroutine *self)
{
  GasyncFuture *awaited = NULL;
  GasyncFuture *next;

  if (self->awaiting != NULL)
    {
      /* A pending cancellation wins over the awaited outcome, settled
       * before the step returned or not, as in await_internal(). */
      if (take_cancel (self))
        {
          GasyncFuture *abandoned = g_steal_pointer (&self->awaiting);

          g_atomic_pointer_set (&self->awaiting, NULL);
          remove_wake (self, abandoned);
          /* Cancels it, or gives back a value it handed over (a channel's
           * item, a semaphore's permit) that the body will never see. */
          gasync_future_abandon (abandoned);
          g_object_unref (abandoned);
          awaited = gasync_future_new_cancelled ();
        }
      else if (gasync_future_peek_state (self->awaiting) != GASYNC_FUTURE_STATE_PENDING)
        {
          /* As in await_internal(): the node may still be linked when a
           * stale resumption found the future settled before delivery. */
          remove_wake (self, self->awaiting);
          awaited = g_steal_pointer (&self->awaiting);
        }
      else
        return; /* a stale wake */
    }
  else if (self->started && take_cancel (self))
    awaited = gasync_future_new_cancelled ();
  else if (self->started && !self->yielded)
    return;

  self->started = TRUE;
  self->yielded = FALSE;

  {
    GasyncFuture *previous = gasync_scheduler_get_current_coroutine ();

    gasync_scheduler_set_current_coroutine ((GasyncFuture *) self);
    next = ((GasyncCoroutineStepFunc) self->body) (self, awaited, self->data);
    gasync_scheduler_set_current_coroutine (previous);
    g_clear_object (&awaited);
  }

  if (next == NULL)
    {
      /* A step that returned without settling resolves without a value. */
      gasync_future_resolve_void (GASYNC_FUTURE (self));
      finish (self, 0);
      return;
    }

  if (!GASYNC_IS_FUTURE (next))
    {
      g_critical ("Step of coroutine %s returned something that is not a future",
                  gasync_future_get_name (GASYNC_FUTURE (self)));
      gasync_future_reject_literal (GASYNC_FUTURE (self), GASYNC_ERROR, GASYNC_ERROR_FAILED,
                                    "A coroutine step returned an invalid future");
      finish (self, 0);
      return;
    }

  if (gasync_future_peek_state (next) != GASYNC_FUTURE_STATE_PENDING)
    {
      /* Run the next step in a later round, not recursively, so a body that
       * only awaits settled futures still lets the others run. */
      g_atomic_pointer_set (&self->awaiting, next);
      queue_resume (self, self->lane);
      return;
    }

  g_atomic_pointer_set (&self->awaiting, next);
  add_wake (self, next);

  /* A cancellation requested before this step, while the resumption it
   * queued was already pending (before the first step, say), queued
   * nothing: deliver it now rather than once @next settles. */
  if (g_atomic_int_get (&self->cancel_pending) && !self->cancel_delivered)
    queue_resume (self, self->lane);
}

/* Runs the next step of an unfinished coroutine, if it has one to run. */
static void
resume_step (GasyncCoroutine *self,
             guint            lent_refs)
{
  if (self->stepped)
    step_run (self);
  else if (!self->started || self->yielded ||
           (self->awaiting != NULL &&
            (gasync_future_peek_state (self->awaiting) != GASYNC_FUTURE_STATE_PENDING ||
             (g_atomic_int_get (&self->cancel_pending) && !self->cancel_delivered))))
    switch_in (self, lent_refs);
  /* Anything else is a stale wake or a cancellation the running body will
   * see at its next await. */
}

static void
resume_run (GasyncRunnable *runnable)
{
  GasyncCoroutine *self = G_STRUCT_MEMBER_P (runnable, -G_STRUCT_OFFSET (GasyncCoroutine, resume));

  g_atomic_int_set (&self->resume_queued, FALSE);

  /* The queue's reference is lent to the step. */
  if (!self->finished)
    resume_step (self, 1);

  gasync_future_release ((GasyncFuture *) self);
}

/*
 * Waits for @future (owned) on the current coroutine; on return the
 * reference has been handed back through @out_future, settled, or the await
 * failed with an error and the reference was dropped.
 */
static GasyncFuture *
await_internal (GasyncFuture  *future,
                GError       **error)
{
  GasyncCoroutine *self = current_coroutine ();

  /* A settled future returns at once, without a switch, unless a
   * cancellation is waiting to be delivered: that fails the first await
   * after it was requested, settled future or not, as in asyncio. */
  if G_LIKELY (gasync_future_peek_state (future) != GASYNC_FUTURE_STATE_PENDING)
    {
      if G_LIKELY (self == NULL || self->stepped || !take_cancel (self))
        return future;
      goto cancelled;
    }

  if (self == NULL || self->stepped)
    {
      g_set_error (error, GASYNC_ERROR, GASYNC_ERROR_NOT_IN_COROUTINE,
                   "Cannot await the pending future %s outside a coroutine",
                   gasync_future_get_name (future) ? gasync_future_get_name (future) : "");
      g_object_unref (future);
      return NULL;
    }

  if (!take_cancel (self))
    {
      g_atomic_pointer_set (&self->awaiting, future);
      add_wake (self, future);
      suspend (self);
      g_atomic_pointer_set (&self->awaiting, NULL);

      /* A cancellation requested before the coroutine got to run again
       * wins over the future's outcome, as in asyncio: the body learns it
       * was cancelled rather than going on as if it had not been. */
      if (!take_cancel (self))
        {
          /* A resumption queued earlier (by a cancellation that a previous
           * await already consumed) may have found the future settled
           * before its delivery ran: the wake-up node can still be in the
           * future's list, and must be out of it before it is reused. */
          remove_wake (self, future);
          return future;
        }

      /* If the node was already taken by a running delivery, wake_cb sees
       * that awaiting changed and does nothing. */
      remove_wake (self, future);
    }

cancelled:
  /* Cancels it, or gives back a value it handed over (a channel's item, a
   * semaphore's permit) that the body will never see. */
  gasync_future_abandon (future);
  gasync_future_release (future);
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                       "The coroutine was cancelled");
  return NULL;
}

/**
 * gasync_await: (skip)
 * @future: (transfer full): the future to wait for
 * @error: return location for the future's error
 *
 * Suspends the current coroutine until @future settles, then reads its
 * outcome as [method@Future.propagate_error] does. Takes ownership of
 * @future, so a call that returns a new future can be awaited inline.
 *
 * A settled @future returns at once, without suspending, even outside a
 * coroutine. Outside a coroutine, a pending one fails with
 * `GASYNC_ERROR_NOT_IN_COROUTINE`: gasync never runs a nested main loop.
 * If the coroutine is cancelled, this fails with `G_IO_ERROR_CANCELLED`
 * and @future is cancelled.
 *
 * Returns: `TRUE` if @future resolved
 */
gboolean
gasync_await (GasyncFuture  *future,
              GError       **error)
{
  gboolean ret;

  g_return_val_if_fail (GASYNC_IS_FUTURE (future), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!(future = await_internal (future, error)))
    return FALSE;

  ret = gasync_future_propagate_error (future, error);
  gasync_future_release (future);
  return ret;
}

/**
 * gasync_await_value: (skip)
 * @future: (transfer full): the future to wait for
 * @value: (out caller-allocates) (optional): an uninitialized `GValue` for
 *   the future's value
 * @error: return location for an error
 *
 * Like [func@await], and copies the value the future resolved with.
 *
 * Returns: `TRUE` if @future resolved
 */
gboolean
gasync_await_value (GasyncFuture  *future,
                    GValue        *value,
                    GError       **error)
{
  gboolean ret;

  g_return_val_if_fail (GASYNC_IS_FUTURE (future), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!(future = await_internal (future, error)))
    return FALSE;

  ret = gasync_future_get_value (future, value, error);
  gasync_future_release (future);
  return ret;
}

#define DEFINE_AWAIT(name, ctype, getter, fallback)                 \
ctype                                                               \
gasync_await_##name (GasyncFuture  *future,                         \
                     GError       **error)                          \
{                                                                   \
  ctype ret;                                                        \
                                                                    \
  g_return_val_if_fail (GASYNC_IS_FUTURE (future), fallback);       \
  g_return_val_if_fail (error == NULL || *error == NULL, fallback); \
                                                                    \
  if (!(future = await_internal (future, error)))                   \
    return fallback;                                                \
                                                                    \
  ret = getter (future, error);                                     \
  gasync_future_release (future);                                   \
  return ret;                                                       \
}

/**
 * gasync_await_boolean: (skip)
 * @future: (transfer full): the future to wait for
 * @error: return location for an error
 *
 * Like [func@await], and reads the boolean the future resolved with, as
 * [method@Future.get_boolean] does.
 *
 * Returns: the value, or `FALSE` with @error set
 */
DEFINE_AWAIT (boolean, gboolean, gasync_future_get_boolean, FALSE)

/**
 * gasync_await_int: (skip)
 * @future: (transfer full): the future to wait for
 * @error: return location for an error
 *
 * Like [func@await], and reads the integer the future resolved with.
 *
 * Returns: the value, or 0 with @error set
 */
DEFINE_AWAIT (int, int, gasync_future_get_int, 0)

/**
 * gasync_await_int64: (skip)
 * @future: (transfer full): the future to wait for
 * @error: return location for an error
 *
 * Like [func@await], and reads the 64-bit integer the future resolved with.
 *
 * Returns: the value, or 0 with @error set
 */
DEFINE_AWAIT (int64, gint64, gasync_future_get_int64, 0)

/**
 * gasync_await_uint64: (skip)
 * @future: (transfer full): the future to wait for
 * @error: return location for an error
 *
 * Like [func@await], and reads the unsigned 64-bit integer the future
 * resolved with.
 *
 * Returns: the value, or 0 with @error set
 */
DEFINE_AWAIT (uint64, guint64, gasync_future_get_uint64, 0)

/**
 * gasync_await_double: (skip)
 * @future: (transfer full): the future to wait for
 * @error: return location for an error
 *
 * Like [func@await], and reads the double the future resolved with.
 *
 * Returns: the value, or 0.0 with @error set
 */
DEFINE_AWAIT (double, double, gasync_future_get_double, 0.0)

/**
 * gasync_await_string: (skip)
 * @future: (transfer full): the future to wait for
 * @error: return location for an error
 *
 * Like [func@await], and copies the string the future resolved with.
 *
 * Returns: (transfer full) (nullable): the string, or `NULL`
 */
DEFINE_AWAIT (string, char *, gasync_future_dup_string, NULL)

/**
 * gasync_await_object: (skip)
 * @future: (transfer full): the future to wait for
 * @error: return location for an error
 *
 * Like [func@await], and returns a reference to the object the future
 * resolved with.
 *
 * Returns: (transfer full) (type GObject) (nullable): the object, or `NULL`
 */
DEFINE_AWAIT (object, gpointer, gasync_future_dup_object, NULL)

/**
 * gasync_await_pointer: (skip)
 * @future: (transfer full): the future to wait for
 * @error: return location for an error
 *
 * Like [func@await], and takes the pointer the future resolved with from
 * [method@Future.resolve_pointer]: its destroy notify is not called, the
 * caller owns the pointer now.
 *
 * Returns: (transfer full) (nullable): the pointer, or `NULL`
 */
DEFINE_AWAIT (pointer, gpointer, gasync_future_steal_pointer, NULL)

/**
 * gasync_await_boxed: (skip)
 * @future: (transfer full): the future to wait for
 * @boxed_type: the expected boxed type
 * @error: return location for an error
 *
 * Like [func@await], and copies the boxed value the future resolved with.
 *
 * Returns: (transfer full) (nullable): the copy, or `NULL`
 */
gpointer
gasync_await_boxed (GasyncFuture  *future,
                    GType          boxed_type,
                    GError       **error)
{
  gpointer ret;

  g_return_val_if_fail (GASYNC_IS_FUTURE (future), NULL);
  g_return_val_if_fail (G_TYPE_IS_BOXED (boxed_type), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!(future = await_internal (future, error)))
    return NULL;

  ret = gasync_future_dup_boxed (future, boxed_type, error);
  gasync_future_release (future);
  return ret;
}

/**
 * gasync_yield: (skip)
 * @error: return location for an error
 *
 * Lets every other ready coroutine, and the main loop's other sources, run
 * before the current coroutine goes on. The coroutine waits in a backlog
 * at `G_PRIORITY_DEFAULT_IDLE`, so a loop that yields never delays
 * higher-priority work such as GTK's drawing.
 *
 * Outside a coroutine this does nothing and returns `TRUE`.
 *
 * Returns: `TRUE`, or `FALSE` with `G_IO_ERROR_CANCELLED` if the coroutine
 *   was cancelled
 */
gboolean
gasync_yield (GError **error)
{
  GasyncCoroutine *self = current_coroutine ();

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self == NULL || self->stepped)
    return TRUE;

  if (!take_cancel (self))
    {
      GasyncScheduler *scheduler = gasync_lane_get_scheduler (self->lane);

      self->yielded = TRUE;
      queue_resume (self, gasync_scheduler_get_backlog_lane (scheduler));
      suspend (self);
      self->yielded = FALSE;

      if (!take_cancel (self))
        return TRUE;
    }

  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                       "The coroutine was cancelled");
  return FALSE;
}

/**
 * gasync_coroutine_get_current:
 *
 * Gets the coroutine whose body is running on this thread: a stackful
 * coroutine's body, or a stepped coroutine's step function.
 *
 * Returns: (transfer none) (nullable): the coroutine, or `NULL`
 */
GasyncCoroutine *
gasync_coroutine_get_current (void)
{
  return current_coroutine ();
}

/**
 * gasync_coroutine_dup_awaiting:
 * @self: a coroutine
 *
 * Gets the future the coroutine is suspended on, for diagnostics. Call it
 * from the thread running the coroutine.
 *
 * Returns: (transfer full) (nullable): the awaited future, or `NULL`
 */
GasyncFuture *
gasync_coroutine_dup_awaiting (GasyncCoroutine *self)
{
  GasyncFuture *awaiting;

  g_return_val_if_fail (GASYNC_IS_COROUTINE (self), NULL);

  awaiting = g_atomic_pointer_get (&self->awaiting);
  return awaiting ? g_object_ref (awaiting) : NULL;
}

/**
 * gasync_coroutine_is_stackful:
 * @self: a coroutine
 *
 * Whether the coroutine runs a stackful C body rather than steps.
 *
 * Returns: `TRUE` for a stackful coroutine
 */
gboolean
gasync_coroutine_is_stackful (GasyncCoroutine *self)
{
  g_return_val_if_fail (GASYNC_IS_COROUTINE (self), FALSE);

  return !self->stepped;
}

/**
 * gasync_coroutine_get_spawn_time:
 * @self: a coroutine
 *
 * Gets when the coroutine was spawned, on the `g_get_monotonic_time()`
 * clock.
 *
 * Returns: the spawn time in microseconds
 */
gint64
gasync_coroutine_get_spawn_time (GasyncCoroutine *self)
{
  g_return_val_if_fail (GASYNC_IS_COROUTINE (self), 0);

  return self->spawn_time;
}

/**
 * gasync_coroutine_list:
 *
 * Lists the coroutines of the process that have been spawned and have not
 * finished, oldest first, for debuggers and logs.
 *
 * Returns: (transfer container) (element-type GasyncCoroutine): the live
 *   coroutines, each with a reference held by the array
 */
GPtrArray *
gasync_coroutine_list (void)
{
  GPtrArray *ret = g_ptr_array_new_with_free_func (g_object_unref);

  g_mutex_lock (&live_lock);
  for (GasyncCoroutine *iter = live_head; iter != NULL; iter = iter->live_next)
    g_ptr_array_add (ret, g_object_ref (iter));
  g_mutex_unlock (&live_lock);

  return ret;
}

static const char *
describe_state (GasyncCoroutine *self)
{
  if (self->finished)
    return "finished";
  if (current_coroutine () == self)
    return "running";
  if (!self->started)
    return "starting";
  if (self->yielded)
    return "yielded";
  if (g_atomic_pointer_get (&self->awaiting) != NULL)
    return "awaiting";
  return "ready";
}

/**
 * gasync_coroutine_describe_all:
 *
 * Describes every live coroutine on one line each: name, state, the future
 * it awaits and its age. Handy from a debugger (`call
 * gasync_coroutine_describe_all()`) or a log. Reads other threads'
 * coroutines without stopping them, so their state may be a moment old.
 *
 * Returns: (transfer full): the description
 */
char *
gasync_coroutine_describe_all (void)
{
  g_autoptr(GPtrArray) list = gasync_coroutine_list ();
  GString *str = g_string_new (NULL);
  gint64 now = g_get_monotonic_time ();

  g_string_append_printf (str, "%u live coroutine%s\n", list->len, list->len == 1 ? "" : "s");
  for (guint i = 0; i < list->len; i++)
    {
      GasyncCoroutine *co = g_ptr_array_index (list, i);
      GasyncFuture *awaiting = g_atomic_pointer_get (&co->awaiting);
      const char *name = gasync_future_get_name (GASYNC_FUTURE (co));

      g_string_append_printf (str, "  %s (%p) %s %s, %.3f s old",
                              name ? name : "(unnamed)", co,
                              co->stepped ? "stepped" : "stackful",
                              describe_state (co),
                              (now - co->spawn_time) / 1e6);
      if (awaiting != NULL)
        {
          const char *awaited_name = gasync_future_get_name (awaiting);

          g_string_append_printf (str, ", awaiting %s %s (%p)",
                                  G_OBJECT_TYPE_NAME (awaiting),
                                  awaited_name ? awaited_name : "(unnamed)",
                                  awaiting);
        }
      g_string_append_c (str, '\n');
    }

  return g_string_free (str, FALSE);
}
