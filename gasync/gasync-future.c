/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "gasync-future.h"
#include "gasync-coroutine.h"
#include "gasync-enum-types.h"
#include "gasync-error.h"
#include "gasync-future-private.h"
#include "gasync-scheduler-private.h"

/**
 * GasyncFuture:
 *
 * A `GasyncFuture` holds the outcome of an operation that may not have
 * finished yet: a value, an error, or cancellation.
 *
 * A future is created `PENDING` and settles exactly once, as `RESOLVED`
 * (with a value, possibly none), `REJECTED` (with a `GError`) or `CANCELLED`.
 * Every later attempt to settle it returns `FALSE` and changes nothing, so a
 * producer racing a cancellation needs no guard of its own.
 *
 * ## Contexts and threads
 *
 * A future belongs to the thread-default [struct@GLib.MainContext] at the
 * time it is created, or to the one given to [ctor@Future.new_for_context].
 * Settling, cancelling, reading, setting the progress and adding done
 * callbacks are safe from any thread. Signals, done callbacks and the
 * notifications of `state`, `done` and `progress` are always delivered on the
 * owning context, from a dispatch of gasync's scheduler source, never
 * synchronously from inside [method@Future.resolve_value],
 * [method@Future.reject] or [method@Future.cancel]. Setting `name` and
 * `value-type` notifies synchronously and belongs to the owning thread.
 *
 * ## Example
 *
 * ```c
 * static void
 * on_done (GasyncFuture *future,
 *          gpointer      user_data)
 * {
 *   g_autoptr(GError) error = NULL;
 *   int answer = gasync_future_get_int (future, &error);
 *
 *   if (error == NULL)
 *     g_print ("answer: %d\n", answer);
 * }
 *
 * g_autoptr(GasyncFuture) future = gasync_future_new ();
 * gasync_future_add_done_callback (future, on_done, NULL, NULL);
 * gasync_future_resolve_int (future, 42);   // from any thread
 * ```
 *
 * ## Diagnostics
 *
 * A future that ends `REJECTED` and is finalized without anyone having read
 * its error logs a warning naming the future, like asyncio's "exception was
 * never retrieved".
 *
 * A plain future whose last reference gasync itself drops, and that
 * nothing else can observe any more, is kept for reuse by
 * [ctor@Future.new] instead of being finalized (see the guarantees page);
 * `GASYNC_DEBUG=no-recycle` turns that off for memory checkers.
 */

enum {
  PROP_0,
  PROP_STATE,
  PROP_DONE,
  PROP_NAME,
  PROP_PROGRESS,
  PROP_VALUE_TYPE,
  PROP_CONTEXT,
  N_PROPS,
};

enum {
  SIGNAL_DONE,
  SIGNAL_CANCELLED,
  N_SIGNALS,
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];
static guint notify_signal_id;

G_DEFINE_TYPE_WITH_PRIVATE (GasyncFuture, gasync_future, G_TYPE_OBJECT)

GasyncFuturePrivate *
gasync_future_get_priv (GasyncFuture *self)
{
  return gasync_future_get_instance_private (self);
}

#define PRIV(self) ((GasyncFuturePrivate *) gasync_future_get_instance_private (self))

static inline gulong
steal_id (gulong *id)
{
  gulong ret = *id;

  *id = 0;
  return ret;
}

static inline GasyncFutureState
load_state (GasyncFuturePrivate *priv)
{
  return (GasyncFutureState) g_atomic_int_get (&priv->state);
}

/* G_IS_VALUE() for the values gasync itself holds, which are either unset
 * (zeroed) or initialized: G_IS_VALUE() is a call that looks up the value
 * table, on every settle and read. */
static inline gboolean
value_is_set (const GValue *value)
{
  return G_VALUE_TYPE (value) != G_TYPE_INVALID;
}

/* Sets the progress; returns the one it replaced. */
static inline double
store_progress (GasyncFuturePrivate *priv,
                double               progress)
{
  guint64 bits;
  double old;

  memcpy (&bits, &progress, sizeof bits);
  bits = __atomic_exchange_n (&priv->progress_bits, bits, __ATOMIC_RELAXED);
  memcpy (&old, &bits, sizeof old);
  return old;
}

static inline double
load_progress (GasyncFuturePrivate *priv)
{
  guint64 bits = __atomic_load_n (&priv->progress_bits, __ATOMIC_RELAXED);
  double progress;

  memcpy (&progress, &bits, sizeof progress);
  return progress;
}

static void
notify_if_watched (GasyncFuture *self,
                   guint         prop_id)
{
  GParamSpec *pspec = properties[prop_id];

  /* g_signal_has_handler_pending() matches the detail exactly: handlers on
   * "notify::<name>" and those on plain "notify" (GtSignalLogger, generic
   * property watchers) need one query each. */
  if (g_signal_has_handler_pending (self, notify_signal_id,
                                    g_param_spec_get_name_quark (pspec),
                                    FALSE) ||
      g_signal_has_handler_pending (self, notify_signal_id, 0, FALSE))
    g_object_notify_by_pspec (G_OBJECT (self), pspec);
}

/* Whether any signal handler at all is connected: one lookup that lets a
 * delivery skip the per-signal and per-property queries (each takes
 * GObject's global signal lock) for the common future nobody watches. */
static inline gboolean
has_any_handler (GasyncFuture *self)
{
  return g_signal_handler_find (self, G_SIGNAL_MATCH_UNBLOCKED, 0, 0, NULL, NULL, NULL) != 0;
}

static void
cancellable_cancelled_cb (GCancellable *cancellable,
                          gpointer      user_data)
{
  gasync_future_cancel (GASYNC_FUTURE (user_data));
}

static void
gasync_future_real_request_cancel (GasyncFuture *self)
{
  gasync_future_settle (self, GASYNC_FUTURE_STATE_CANCELLED, NULL, NULL);
}

static void
free_callback (GasyncDoneCallback *node)
{
  GasyncDoneCallbackFull *full = (GasyncDoneCallbackFull *) node;

  /* Only nodes the future allocated are freed; embedded ones belong to
   * their container and never carry a destroy notify. */
  if (node->embedded)
    return;
  if (full->destroy != NULL)
    full->destroy (node->data);
  g_free (full);
}

/* Every future goes through dispose and finalize: they use plain casts, as
 * the checked ones would cost more than the rest of either function. */
static void
gasync_future_dispose (GObject *object)
{
  GasyncFuture *self = (GasyncFuture *) object;
  GasyncFuturePrivate *priv = PRIV (self);
  GasyncDoneCallback *callbacks;

  if (priv->cancellable != NULL)
    {
      g_cancellable_disconnect (priv->cancellable,
                                steal_id (&priv->cancellable_handler));
      g_clear_object (&priv->cancellable);
    }

  /* Callbacks that never ran (the future was dropped while pending) only
   * release their data.  Nobody else holds a reference when the last one
   * goes, so the common empty list needs no lock; only an explicit
   * g_object_run_dispose() can race with adders, and those go on the list
   * finalize() cleans. */
  callbacks = NULL;
  if (priv->callbacks != NULL)
    {
      g_mutex_lock (&priv->lock);
      callbacks = g_steal_pointer (&priv->callbacks);
      priv->callbacks_tail = NULL;
      g_mutex_unlock (&priv->lock);
    }

  while (callbacks != NULL)
    {
      GasyncDoneCallback *next = callbacks->next;

      free_callback (callbacks);
      callbacks = next;
    }

  ((GObjectClass *) gasync_future_parent_class)->dispose (object);
}

/*
 * A future holds a reference on its context, which keeps the context's
 * scheduler alive.  The global default context is never finalized, so the
 * futures it owns (most of them, in an application) hold none and save
 * the two atomic operations per future.  Set once, in class_init.
 */
static GMainContext *default_context;

/* The scheduler of @context (borrowed; NULL for the default), with the
 * future's reference on the context taken. */
static inline GasyncScheduler *
hold_scheduler (GMainContext *context)
{
  if (context == NULL)
    context = default_context;
  else if (context != default_context)
    g_main_context_ref (context);
  return gasync_scheduler_get_for_context (context);
}

static inline void
drop_scheduler (GasyncScheduler *scheduler)
{
  GMainContext *context = gasync_scheduler_get_context (scheduler);

  if (context != default_context)
    g_main_context_unref (context);
}

/* Drops what a settled or abandoned future holds: what finalize does, and
 * what recycling does before a future is used again. */
static void
release_contents (GasyncFuture *self)
{
  GasyncFuturePrivate *priv = PRIV (self);

  if (priv->state == GASYNC_FUTURE_STATE_REJECTED && !priv->error_retrieved)
    g_warning ("Future %s%s%s (%p) was rejected and its error was never "
               "retrieved: %s",
               priv->name ? "“" : "", priv->name ? priv->name : "",
               priv->name ? "”" : "", self, priv->error->message);

  while (priv->callbacks != NULL)
    {
      GasyncDoneCallback *node = priv->callbacks;

      priv->callbacks = node->next;
      free_callback (node);
    }

  if (priv->pointer_destroy != NULL)
    priv->pointer_destroy (g_value_get_pointer (&priv->value));
  /* Plain values own nothing: skip the value table for them. */
  switch (G_TYPE_FUNDAMENTAL (G_VALUE_TYPE (&priv->value)))
    {
    case G_TYPE_INVALID:
    case G_TYPE_BOOLEAN:
    case G_TYPE_INT:
    case G_TYPE_UINT:
    case G_TYPE_INT64:
    case G_TYPE_UINT64:
    case G_TYPE_DOUBLE:
    case G_TYPE_POINTER:
      break;
    default:
      g_value_unset (&priv->value);
      break;
    }
  g_clear_error (&priv->error);
  g_clear_pointer (&priv->name, g_free);
  if (priv->scheduler != NULL)
    drop_scheduler (g_steal_pointer (&priv->scheduler));
}

static void
gasync_future_finalize (GObject *object)
{
  GasyncFuture *self = (GasyncFuture *) object;

  release_contents (self);
  g_mutex_clear (&PRIV (self)->lock);

  ((GObjectClass *) gasync_future_parent_class)->finalize (object);
}

/*
 * Recycling.  On GLib 2.74 a GObject's construction and final unref cost
 * about 3,000 instructions, all of it in GObject itself (qdata and bit
 * locks, the notify queue, signal-handler teardown): more than gasync's
 * own work in an await round trip.  So a plain future or a finished
 * coroutine whose last reference gasync itself drops, and that nothing
 * outside gasync can still observe, goes to a per-thread pool
 * instead, and gasync_future_new() and the spawn functions take it from
 * there.
 *
 * "Nothing can observe it" is checked, not assumed: the future has no
 * qdata at all (so no weak references, GWeakRefs, toggle references,
 * bindings, closures watching it, language wrappers or user data), no
 * cancellable and no callbacks left; its signal handlers are destroyed as
 * GObject would.  No other subclass is recycled.  GASYNC_DEBUG=no-recycle
 * turns this off, so that memory checkers see every future's end.
 *
 * Size: each kind keeps up to POOL_KEEP objects for as long as the thread
 * lives.  A thread that is dispatching a scheduler's lane may keep more,
 * up to POOL_MAX, so that an application that spawns bursts of coroutines
 * (a coroutine per file of a folder, say) builds its GObjects once; that
 * scheduler then trims the surplus again once the pool has not been drawn
 * from for a while, a chunk per main-loop iteration at low priority (see
 * gasync_scheduler_pool_grew()).  Other threads never grow the pool: no
 * main loop of theirs is known to trim it.
 */
#define POOL_KEEP 128
#define POOL_MAX  (1u << 20)

typedef struct
{
  gpointer *items;
  guint     len;
  guint     size;
} PoolStack;

typedef struct
{
  PoolStack futures;
  PoolStack coroutines;
  /* Drawn from or grown since gasync_future_pool_trim() last looked. */
  gboolean  used;
} FuturePool;

static void
pool_stack_push (PoolStack *stack,
                 gpointer   object)
{
  if G_UNLIKELY (stack->len == stack->size)
    {
      stack->size = MAX (POOL_KEEP, stack->size * 2);
      stack->items = g_renew (gpointer, stack->items, stack->size);
    }
  stack->items[stack->len++] = object;
}

/* Finalizes up to @max objects beyond @keep; TRUE if some are left. */
static gboolean
pool_stack_trim (PoolStack *stack,
                 guint      keep,
                 guint     *max)
{
  while (stack->len > keep && *max > 0)
    {
      g_object_unref (stack->items[--stack->len]);
      (*max)--;
    }

  if (stack->len > keep)
    return TRUE;

  /* Back to its resting size: the array of a burst's pool is large too. */
  if (stack->size > MAX (keep, POOL_KEEP))
    {
      stack->size = MAX (keep, POOL_KEEP);
      stack->items = g_renew (gpointer, stack->items, stack->size);
    }
  return FALSE;
}

static void
future_pool_free (gpointer data)
{
  FuturePool *pool = data;
  guint all = G_MAXUINT;

  pool_stack_trim (&pool->futures, 0, &all);
  pool_stack_trim (&pool->coroutines, 0, &all);
  g_free (pool->futures.items);
  g_free (pool->coroutines.items);
  g_free (pool);
}

static GPrivate future_pool_key = G_PRIVATE_INIT (future_pool_free);
static __thread FuturePool *future_pool;
static int recycle_enabled = -1;

static gboolean
read_recycle_enabled (void)
{
  static const GDebugKey keys[] = {
    { "no-recycle", 1 },
  };
  const char *env = g_getenv ("GASYNC_DEBUG");
  gboolean enabled = env == NULL ||
                     !(g_parse_debug_string (env, keys, G_N_ELEMENTS (keys)) & 1);

  g_atomic_int_set (&recycle_enabled, enabled);
  return enabled;
}

static inline gboolean
recycling (void)
{
  int enabled = g_atomic_int_get (&recycle_enabled);

  if G_UNLIKELY (enabled < 0)
    return read_recycle_enabled ();
  return enabled;
}

/*
 * Puts @self, whose only reference the caller holds, into the calling
 * thread's pool, and takes that reference for the pool; FALSE (and nothing
 * changed) if it cannot be recycled.  "Only" is the caller's to know: the
 * reference count is 1 and, without qdata (checked here), no GWeakRef can
 * make another.
 */
static gboolean
recycle (GasyncFuture *self)
{
  GObject *object = (GObject *) self;
  GasyncFuturePrivate *priv = PRIV (self);
  FuturePool *pool = future_pool;
  PoolStack *stack;
  GType type;
  gboolean coroutine;

  type = G_OBJECT_TYPE (self);
  coroutine = type == GASYNC_TYPE_COROUTINE;
  if ((type != GASYNC_TYPE_FUTURE && !coroutine) ||
      g_atomic_pointer_get (&object->qdata) != NULL ||
      priv->cancellable != NULL ||
      priv->callbacks != NULL ||
      g_atomic_int_get (&priv->deliver) != 0 ||
      !recycling ())
    return FALSE;

  if G_UNLIKELY (pool == NULL)
    {
      pool = future_pool = g_new0 (FuturePool, 1);
      g_private_set (&future_pool_key, pool);
    }

  stack = coroutine ? &pool->coroutines : &pool->futures;
  if (stack->len >= POOL_KEEP)
    {
      GasyncScheduler *scheduler = gasync_scheduler_get_dispatching ();

      if (scheduler == NULL || stack->len >= POOL_MAX)
        return FALSE;
      pool->used = TRUE;
      gasync_scheduler_pool_grew (scheduler);
    }

  if (coroutine && !gasync_coroutine_reset ((GasyncCoroutine *) self))
    return FALSE;

  g_signal_handlers_destroy (self);
  release_contents (self);

  priv->state = GASYNC_FUTURE_STATE_PENDING;
  priv->cancel_requested = FALSE;
  priv->error_retrieved = FALSE;
  priv->done_delivered = FALSE;
  priv->last_callback_id = 0;
  memset (&priv->value, 0, sizeof priv->value);
  priv->pointer_destroy = NULL;
  priv->callbacks_tail = NULL;
  priv->cancellable_handler = 0;
  store_progress (priv, -1.0);
  priv->value_type = G_TYPE_INVALID;

  pool_stack_push (stack, self);
  return TRUE;
}

/*
 * Drops a reference gasync holds on @self, recycling the future when this
 * is the last one and nobody can tell.  Any thread: the pool is the calling
 * thread's.
 */
void
gasync_future_release (GasyncFuture *self)
{
  /* Most releases are not the last: decide that first, cheaply.  Only the
   * holder of the last reference can see 1 here. */
  if (g_atomic_int_get (&((GObject *) self)->ref_count) != 1 || !recycle (self))
    g_object_unref (self);
}

/* A recycled future, or coroutine, owned by the thread-default context as
 * a new one would be; NULL if the thread's pool has none. */
static GasyncFuture *
pool_take (gboolean coroutine)
{
  FuturePool *pool = future_pool;
  PoolStack *stack;
  GasyncFuture *self;

  if (pool == NULL)
    return NULL;
  stack = coroutine ? &pool->coroutines : &pool->futures;
  if (stack->len == 0)
    return NULL;

  self = stack->items[--stack->len];
  pool->used = TRUE;
  PRIV (self)->scheduler = hold_scheduler (g_main_context_get_thread_default ());
  return self;
}

guint
gasync_future_pool_get_size (gboolean coroutines)
{
  FuturePool *pool = future_pool;

  if (pool == NULL)
    return 0;
  return coroutines ? pool->coroutines.len : pool->futures.len;
}

gboolean
gasync_future_pool_take_used (void)
{
  FuturePool *pool = future_pool;
  gboolean used;

  if (pool == NULL)
    return FALSE;
  used = pool->used;
  pool->used = FALSE;
  return used;
}

gboolean
gasync_future_pool_trim (guint max)
{
  FuturePool *pool = future_pool;
  gboolean left;

  if (pool == NULL)
    return FALSE;

  /* Both kinds, whatever the budget left: a stack at rest resizes. */
  left = pool_stack_trim (&pool->coroutines, POOL_KEEP, &max);
  left = pool_stack_trim (&pool->futures, POOL_KEEP, &max) || left;
  return left;
}

GasyncCoroutine *
gasync_future_pool_take_coroutine (void)
{
  return (GasyncCoroutine *) pool_take (TRUE);
}

static void
gasync_future_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  GasyncFuture *self = GASYNC_FUTURE (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_enum (value, gasync_future_get_state (self));
      break;

    case PROP_DONE:
      g_value_set_boolean (value, gasync_future_is_done (self));
      break;

    case PROP_NAME:
      g_value_set_string (value, gasync_future_get_name (self));
      break;

    case PROP_PROGRESS:
      g_value_set_double (value, gasync_future_get_progress (self));
      break;

    case PROP_VALUE_TYPE:
      g_value_set_gtype (value, gasync_future_get_value_type (self));
      break;

    case PROP_CONTEXT:
      g_value_set_boxed (value, gasync_future_get_context (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gasync_future_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  GasyncFuture *self = GASYNC_FUTURE (object);

  switch (prop_id)
    {
    case PROP_NAME:
      gasync_future_set_name (self, g_value_get_string (value));
      break;

    case PROP_PROGRESS:
      gasync_future_set_progress (self, g_value_get_double (value));
      break;

    case PROP_VALUE_TYPE:
      gasync_future_set_value_type (self, g_value_get_gtype (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gasync_future_class_init (GasyncFutureClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  default_context = g_main_context_default ();

  object_class->dispose = gasync_future_dispose;
  object_class->finalize = gasync_future_finalize;
  object_class->get_property = gasync_future_get_property;
  object_class->set_property = gasync_future_set_property;

  klass->request_cancel = gasync_future_real_request_cancel;

  /**
   * GasyncFuture:state: (getter get_state)
   *
   * The state of the future. It changes once, from `PENDING` to one of the
   * settled states; the notification arrives on the future's context.
   */
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL,
                       GASYNC_TYPE_FUTURE_STATE,
                       GASYNC_FUTURE_STATE_PENDING,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GasyncFuture:done: (getter is_done)
   *
   * Whether the future has settled, in any state. Bind it to a widget, for
   * example to hide a spinner when the operation ends.
   */
  properties[PROP_DONE] =
    g_param_spec_boolean ("done", NULL, NULL,
                          FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GasyncFuture:name:
   *
   * A name for debugging and diagnostics, or `NULL`.
   */
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GasyncFuture:progress:
   *
   * How far the operation has come, from 0.0 to 1.0, or -1.0 while unknown.
   *
   * It may be set from any thread; notifications arrive on the future's
   * context, at most one per context iteration, carrying the latest value.
   */
  properties[PROP_PROGRESS] =
    g_param_spec_double ("progress", NULL, NULL,
                         -1.0, 1.0, -1.0,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GasyncFuture:value-type:
   *
   * The type of the value the future resolves with, or `G_TYPE_INVALID`
   * when undeclared. Once declared, resolving with a value of another type
   * rejects the future with `GASYNC_ERROR_TYPE_MISMATCH`.
   */
  properties[PROP_VALUE_TYPE] =
    g_param_spec_gtype ("value-type", NULL, NULL,
                        G_TYPE_NONE,
                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GasyncFuture:context:
   *
   * The main context the future belongs to: signals, done callbacks and
   * notifications are delivered there.
   */
  properties[PROP_CONTEXT] =
    g_param_spec_boxed ("context", NULL, NULL,
                        G_TYPE_MAIN_CONTEXT,
                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * GasyncFuture::done:
   * @self: the future
   *
   * Emitted once, on the future's context, after the future has settled in
   * any state. Done callbacks run right after it, in the order they were
   * added.
   */
  signals[SIGNAL_DONE] =
    g_signal_new ("done",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0,
                  NULL, NULL,
                  NULL,
                  G_TYPE_NONE, 0);

  /**
   * GasyncFuture::cancelled:
   * @self: the future
   *
   * Emitted once, on the future's context, when cancellation was requested
   * with [method@Future.cancel] (or through its cancellable) while the
   * future was pending. A plain future is then also done, as cancelled; a
   * coroutine ends when its body returns.
   */
  signals[SIGNAL_CANCELLED] =
    g_signal_new ("cancelled",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0,
                  NULL, NULL,
                  NULL,
                  G_TYPE_NONE, 0);

  notify_signal_id = g_signal_lookup ("notify", G_TYPE_OBJECT);
}

static void
gasync_future_init (GasyncFuture *self)
{
  GasyncFuturePrivate *priv = PRIV (self);

  g_mutex_init (&priv->lock);
  priv->runnable.run = gasync_future_run_delivery;
  priv->scheduler = hold_scheduler (g_main_context_get_thread_default ());
  store_progress (priv, -1.0);
}

static inline GasyncFuture *
future_new (void)
{
  GasyncFuture *self = pool_take (FALSE);

  if (self != NULL)
    return self;
  return (GasyncFuture *) g_object_new_with_properties (GASYNC_TYPE_FUTURE, 0, NULL, NULL);
}

/**
 * gasync_future_new:
 *
 * Creates a pending future owned by the thread-default main context.
 *
 * Returns: (transfer full): a new pending future
 */
GasyncFuture *
gasync_future_new (void)
{
  return future_new ();
}

/* Moves a future created a moment ago to @context; before anything else
 * can have seen it. */
void
gasync_future_set_context (GasyncFuture *self,
                           GMainContext *context)
{
  GasyncFuturePrivate *priv = PRIV (self);
  GasyncScheduler *old = priv->scheduler;

  if (context == gasync_scheduler_get_context (old))
    return;

  priv->scheduler = hold_scheduler (context);
  drop_scheduler (old);
}

/**
 * gasync_future_new_for_context:
 * @context: (nullable): the owning main context, or `NULL` for the global
 *   default context
 *
 * Creates a pending future owned by @context, like asyncio's
 * `loop.create_future()`: its signals and done callbacks are delivered when
 * @context is iterated.
 *
 * Returns: (transfer full): a new pending future
 */
GasyncFuture *
gasync_future_new_for_context (GMainContext *context)
{
  GasyncFuture *self = future_new ();

  if (context == NULL)
    context = g_main_context_default ();

  gasync_future_set_context (self, context);

  return self;
}

/**
 * gasync_future_new_resolved:
 * @value: (nullable): the value, or `NULL` for no value
 *
 * Creates a future already resolved with a copy of @value.
 *
 * Returns: (transfer full): a new resolved future
 */
GasyncFuture *
gasync_future_new_resolved (const GValue *value)
{
  GasyncFuture *self = future_new ();

  if (value != NULL)
    gasync_future_resolve_value (self, value);
  else
    gasync_future_resolve_void (self);
  return self;
}

/**
 * gasync_future_new_resolved_boolean:
 * @value: the value
 *
 * Creates a future already resolved with a boolean.
 *
 * Returns: (transfer full): a new resolved future
 */
GasyncFuture *
gasync_future_new_resolved_boolean (gboolean value)
{
  GasyncFuture *self = future_new ();

  gasync_future_resolve_boolean (self, value);
  return self;
}

/**
 * gasync_future_new_resolved_int:
 * @value: the value
 *
 * Creates a future already resolved with an integer.
 *
 * Returns: (transfer full): a new resolved future
 */
GasyncFuture *
gasync_future_new_resolved_int (int value)
{
  GasyncFuture *self = future_new ();

  gasync_future_resolve_int (self, value);
  return self;
}

/**
 * gasync_future_new_resolved_int64:
 * @value: the value
 *
 * Creates a future already resolved with a 64-bit integer.
 *
 * Returns: (transfer full): a new resolved future
 */
GasyncFuture *
gasync_future_new_resolved_int64 (gint64 value)
{
  GasyncFuture *self = future_new ();

  gasync_future_resolve_int64 (self, value);
  return self;
}

/**
 * gasync_future_new_resolved_uint64:
 * @value: the value
 *
 * Creates a future already resolved with an unsigned 64-bit integer.
 *
 * Returns: (transfer full): a new resolved future
 */
GasyncFuture *
gasync_future_new_resolved_uint64 (guint64 value)
{
  GasyncFuture *self = future_new ();

  gasync_future_resolve_uint64 (self, value);
  return self;
}

/**
 * gasync_future_new_resolved_double:
 * @value: the value
 *
 * Creates a future already resolved with a double.
 *
 * Returns: (transfer full): a new resolved future
 */
GasyncFuture *
gasync_future_new_resolved_double (double value)
{
  GasyncFuture *self = future_new ();

  gasync_future_resolve_double (self, value);
  return self;
}

/**
 * gasync_future_new_resolved_string:
 * @value: (nullable): the string, copied
 *
 * Creates a future already resolved with a string.
 *
 * Returns: (transfer full): a new resolved future
 */
GasyncFuture *
gasync_future_new_resolved_string (const char *value)
{
  GasyncFuture *self = future_new ();

  gasync_future_resolve_string (self, value);
  return self;
}

/**
 * gasync_future_new_resolved_object:
 * @value: (type GObject) (nullable): the object; the future takes a reference
 *
 * Creates a future already resolved with an object.
 *
 * Returns: (transfer full): a new resolved future
 */
GasyncFuture *
gasync_future_new_resolved_object (gpointer value)
{
  GasyncFuture *self;

  gasync_return_rejected_if_fail (value == NULL || G_IS_OBJECT (value));

  self = future_new ();
  gasync_future_resolve_object (self, value);
  return self;
}

/**
 * gasync_future_new_resolved_boxed: (skip)
 * @boxed_type: a boxed type
 * @value: (nullable): the boxed value, copied
 *
 * Creates a future already resolved with a boxed value.
 *
 * Returns: (transfer full): a new resolved future
 */
GasyncFuture *
gasync_future_new_resolved_boxed (GType         boxed_type,
                                  gconstpointer value)
{
  GasyncFuture *self;

  gasync_return_rejected_if_fail (G_TYPE_IS_BOXED (boxed_type));

  self = future_new ();
  gasync_future_resolve_boxed (self, boxed_type, value);
  return self;
}

/**
 * gasync_future_new_resolved_pointer: (skip)
 * @value: (nullable): the pointer
 * @destroy: (nullable): frees @value when the future is finalized
 *
 * Creates a future already resolved with a plain pointer.
 *
 * Returns: (transfer full): a new resolved future
 */
GasyncFuture *
gasync_future_new_resolved_pointer (gpointer       value,
                                    GDestroyNotify destroy)
{
  GasyncFuture *self = future_new ();

  gasync_future_resolve_pointer (self, value, destroy);
  return self;
}

/**
 * gasync_future_new_rejected:
 * @error: the error, copied
 *
 * Creates a future already rejected with a copy of @error.
 *
 * Returns: (transfer full): a new rejected future
 */
GasyncFuture *
gasync_future_new_rejected (const GError *error)
{
  GasyncFuture *self;

  /* NULL, not a rejected future, like gasync_future_new_for_error(). */
  g_return_val_if_fail (error != NULL, NULL);

  self = future_new ();
  gasync_future_reject (self, error);
  return self;
}

/**
 * gasync_future_new_for_error: (skip)
 * @error: (transfer full): the error
 *
 * Creates a future already rejected with @error, taking ownership of it.
 * `G_IO_ERROR_CANCELLED` gives a cancelled future.
 *
 * Returns: (transfer full): a new rejected future
 */
GasyncFuture *
gasync_future_new_for_error (GError *error)
{
  GasyncFuture *self;

  /* NULL, not a rejected future: gasync_return_rejected_if_fail() makes
   * its rejected futures here, so the primitive stays plain. */
  g_return_val_if_fail (error != NULL, NULL);

  self = future_new ();
  gasync_future_take_error (self, error);
  return self;
}

GError *
gasync_failed_check_error (const char *strfunc,
                           const char *expression)
{
  /* The text of g_return_if_fail_warning()'s critical. */
  return g_error_new (GASYNC_ERROR, GASYNC_ERROR_FAILED,
                      "%s: assertion '%s' failed", strfunc, expression);
}

GasyncFuture *
gasync_future_new_for_failed_check (const char *strfunc,
                                    const char *expression)
{
  return gasync_future_new_for_error (gasync_failed_check_error (strfunc, expression));
}

/**
 * gasync_future_new_cancelled:
 *
 * Creates a future already cancelled.
 *
 * Returns: (transfer full): a new cancelled future
 */
GasyncFuture *
gasync_future_new_cancelled (void)
{
  GasyncFuture *self = future_new ();

  gasync_future_cancel (self);
  return self;
}

/*
 * Settles the future: the one place where the state changes.  Takes the
 * contents of @value_to_steal (left unset) and @error, or frees them when
 * the future was already settled.
 */
static gboolean
settle_full (GasyncFuture      *self,
             GasyncFutureState  state,
             GValue            *value_to_steal,
             GError            *error,
             GDestroyNotify     pointer_destroy)
{
  GasyncFuturePrivate *priv = PRIV (self);

  g_mutex_lock (&priv->lock);
  if G_UNLIKELY (priv->state != GASYNC_FUTURE_STATE_PENDING)
    {
      g_mutex_unlock (&priv->lock);
      if (pointer_destroy != NULL)
        pointer_destroy (g_value_get_pointer (value_to_steal));
      if (value_to_steal != NULL && value_is_set (value_to_steal))
        g_value_unset (value_to_steal);
      g_clear_error (&error);
      return FALSE;
    }

  priv->pointer_destroy = pointer_destroy;

  if (value_to_steal != NULL && value_is_set (value_to_steal))
    {
      priv->value = *value_to_steal;
      memset (value_to_steal, 0, sizeof *value_to_steal);
    }
  if (state == GASYNC_FUTURE_STATE_CANCELLED && error == NULL)
    error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                 "Operation was cancelled");
  priv->error = error;
  g_atomic_int_set (&priv->state, state);
  g_mutex_unlock (&priv->lock);

  gasync_scheduler_push (priv->scheduler, self, GASYNC_DELIVER_DONE);

  return TRUE;
}

gboolean
gasync_future_settle (GasyncFuture      *self,
                      GasyncFutureState  state,
                      GValue            *value_to_steal,
                      GError            *error)
{
  return settle_full (self, state, value_to_steal, error, NULL);
}

/*
 * Resolves like gasync_future_settle(), except that it refuses a future
 * whose cancellation has been requested, and leaves @value_to_steal alone
 * when it refuses.  Checked under the same lock as gasync_future_cancel()
 * sets its flag, so a hand-over (a channel's item, a semaphore's permit)
 * either reaches a future nobody is cancelling, or is kept by the caller
 * for someone else: cancel() returning TRUE means nothing was handed over.
 */
gboolean
gasync_future_resolve_unless_cancelling (GasyncFuture *self,
                                         GValue       *value_to_steal)
{
  GasyncFuturePrivate *priv = PRIV (self);

  g_mutex_lock (&priv->lock);
  if (priv->state != GASYNC_FUTURE_STATE_PENDING || priv->cancel_requested)
    {
      g_mutex_unlock (&priv->lock);
      return FALSE;
    }

  if (value_to_steal != NULL && value_is_set (value_to_steal))
    {
      priv->value = *value_to_steal;
      memset (value_to_steal, 0, sizeof *value_to_steal);
    }
  g_atomic_int_set (&priv->state, GASYNC_FUTURE_STATE_RESOLVED);
  g_mutex_unlock (&priv->lock);

  gasync_scheduler_push (priv->scheduler, self, GASYNC_DELIVER_DONE);

  return TRUE;
}

static GQuark
reclaim_quark (void)
{
  static GQuark quark;

  if G_UNLIKELY (quark == 0)
    quark = g_quark_from_static_string ("gasync-future-reclaim");
  return quark;
}

void
gasync_future_class_set_reclaim_func (GasyncFutureClass       *klass,
                                      GasyncFutureReclaimFunc  func)
{
  g_type_set_qdata (G_TYPE_FROM_CLASS (klass), reclaim_quark (), (gpointer) func);
}

/*
 * A consumer gives up on @self: cancels it if it is pending; if it has
 * resolved already (a coroutine whose cancellation wins over the outcome
 * of its await), lets the producer take back what it handed over, through
 * the reclaim function of the future's type.
 */
void
gasync_future_abandon (GasyncFuture *self)
{
  GasyncFuturePrivate *priv = PRIV (self);
  GasyncFutureReclaimFunc reclaim;

  /* A rejection that comes in just before the consumer gave up, or that
   * wins the race against the cancellation below (a producer on another
   * thread settling between the request and the settle it leads to), or
   * that ends a subclass whose cancellation completes later, is dropped by
   * the cancellation, not by neglect: it must not warn that it was never
   * retrieved. */
  g_mutex_lock (&priv->lock);
  priv->error_retrieved = TRUE;
  g_mutex_unlock (&priv->lock);

  if (gasync_future_cancel (self))
    return;
  if (load_state (priv) != GASYNC_FUTURE_STATE_RESOLVED)
    return;

  reclaim = (GasyncFutureReclaimFunc) g_type_get_qdata (G_OBJECT_TYPE (self), reclaim_quark ());
  if (reclaim != NULL)
    reclaim (self);
}

static gboolean
check_value_type (GasyncFuture *self,
                  GType         type)
{
  GasyncFuturePrivate *priv = PRIV (self);
  GType declared = priv->value_type;

  if (declared == G_TYPE_INVALID || declared == G_TYPE_NONE ||
      g_type_is_a (type, declared))
    return TRUE;

  g_critical ("Future %s (%p) declares value type %s but was resolved with %s",
              priv->name ? priv->name : "", self,
              g_type_name (declared), g_type_name (type));
  gasync_future_settle (self, GASYNC_FUTURE_STATE_REJECTED, NULL,
                        g_error_new (GASYNC_ERROR, GASYNC_ERROR_TYPE_MISMATCH,
                                     "Resolved with a %s where a %s was declared",
                                     g_type_name (type), g_type_name (declared)));
  return FALSE;
}

static inline gboolean
resolve_steal (GasyncFuture *self,
               GValue       *value)
{
  if G_UNLIKELY (PRIV (self)->value_type != G_TYPE_INVALID &&
                 !check_value_type (self, G_VALUE_TYPE (value)))
    {
      g_value_unset (value);
      return FALSE;
    }

  return gasync_future_settle (self, GASYNC_FUTURE_STATE_RESOLVED, value, NULL);
}

gboolean
gasync_future_take_value (GasyncFuture *self,
                          GValue       *value)
{
  return resolve_steal (self, value);
}

/**
 * gasync_future_resolve_value:
 * @self: a future
 * @value: the value, copied
 *
 * Resolves the future with a copy of @value. Can be called from any thread.
 *
 * Returns: `TRUE` if this call settled the future, `FALSE` if it was
 *   already settled (nothing changes then)
 */
gboolean
gasync_future_resolve_value (GasyncFuture *self,
                             const GValue *value)
{
  GValue copy = G_VALUE_INIT;

  g_return_val_if_fail (GASYNC_IS_FUTURE (self), FALSE);
  g_return_val_if_fail (G_IS_VALUE (value), FALSE);

  g_value_init (&copy, G_VALUE_TYPE (value));
  g_value_copy (value, &copy);
  return resolve_steal (self, &copy);
}

/**
 * gasync_future_resolve_void:
 * @self: a future
 *
 * Resolves the future without a value. Can be called from any thread.
 *
 * Returns: `TRUE` if this call settled the future
 */
gboolean
gasync_future_resolve_void (GasyncFuture *self)
{
  g_return_val_if_fail (GASYNC_IS_FUTURE (self), FALSE);

  return gasync_future_settle (self, GASYNC_FUTURE_STATE_RESOLVED, NULL, NULL);
}

#define DEFINE_RESOLVE(name, ctype, gtype, setter)                    \
gboolean                                                              \
gasync_future_resolve_##name (GasyncFuture *self,                     \
                              ctype         value)                    \
{                                                                     \
  GValue v = G_VALUE_INIT;                                            \
                                                                      \
  g_return_val_if_fail (GASYNC_IS_FUTURE (self), FALSE);              \
                                                                      \
  g_value_init (&v, gtype);                                           \
  setter (&v, value);                                                 \
  return resolve_steal (self, &v);                                    \
}

/* The scalar types hold their value in data[0] and nothing else, as their
 * GValue tables do: filling the fields directly spares the table lookups of
 * g_value_init() and the setter, a good part of a round trip's cost. */
#define DEFINE_RESOLVE_SCALAR(name, ctype, gtype, field)              \
gboolean                                                              \
gasync_future_resolve_##name (GasyncFuture *self,                     \
                              ctype         value)                    \
{                                                                     \
  GValue v = G_VALUE_INIT;                                            \
                                                                      \
  g_return_val_if_fail (GASYNC_IS_FUTURE (self), FALSE);              \
                                                                      \
  v.g_type = gtype;                                                   \
  v.data[0].field = value;                                            \
  return resolve_steal (self, &v);                                    \
}

/**
 * gasync_future_resolve_boolean:
 * @self: a future
 * @value: the value
 *
 * Resolves the future with a boolean. Can be called from any thread.
 *
 * Returns: `TRUE` if this call settled the future
 */
DEFINE_RESOLVE_SCALAR (boolean, gboolean, G_TYPE_BOOLEAN, v_int)

/**
 * gasync_future_resolve_int:
 * @self: a future
 * @value: the value
 *
 * Resolves the future with an integer. Can be called from any thread.
 *
 * Returns: `TRUE` if this call settled the future
 */
DEFINE_RESOLVE_SCALAR (int, int, G_TYPE_INT, v_int)

/**
 * gasync_future_resolve_int64:
 * @self: a future
 * @value: the value
 *
 * Resolves the future with a 64-bit integer. Can be called from any thread.
 *
 * Returns: `TRUE` if this call settled the future
 */
DEFINE_RESOLVE_SCALAR (int64, gint64, G_TYPE_INT64, v_int64)

/**
 * gasync_future_resolve_uint64:
 * @self: a future
 * @value: the value
 *
 * Resolves the future with an unsigned 64-bit integer. Can be called from
 * any thread.
 *
 * Returns: `TRUE` if this call settled the future
 */
DEFINE_RESOLVE_SCALAR (uint64, guint64, G_TYPE_UINT64, v_uint64)

/**
 * gasync_future_resolve_double:
 * @self: a future
 * @value: the value
 *
 * Resolves the future with a double. Can be called from any thread.
 *
 * Returns: `TRUE` if this call settled the future
 */
DEFINE_RESOLVE_SCALAR (double, double, G_TYPE_DOUBLE, v_double)

/**
 * gasync_future_resolve_string:
 * @self: a future
 * @value: (nullable): the string, copied
 *
 * Resolves the future with a string. Can be called from any thread.
 *
 * Returns: `TRUE` if this call settled the future
 */
DEFINE_RESOLVE (string, const char *, G_TYPE_STRING, g_value_set_string)

/**
 * gasync_future_resolve_object:
 * @self: a future
 * @value: (type GObject) (nullable): the object; the future takes a
 *   reference
 *
 * Resolves the future with an object. Can be called from any thread.
 *
 * Returns: `TRUE` if this call settled the future
 */
gboolean
gasync_future_resolve_object (GasyncFuture *self,
                              gpointer      value)
{
  GValue v = G_VALUE_INIT;

  g_return_val_if_fail (GASYNC_IS_FUTURE (self), FALSE);
  g_return_val_if_fail (value == NULL || G_IS_OBJECT (value), FALSE);

  g_value_init (&v, value != NULL ? G_OBJECT_TYPE (value) : G_TYPE_OBJECT);
  g_value_set_object (&v, value);
  return resolve_steal (self, &v);
}

/**
 * gasync_future_resolve_boxed: (skip)
 * @self: a future
 * @boxed_type: a boxed type
 * @value: (nullable): the boxed value, copied
 *
 * Resolves the future with a copy of a boxed value. Can be called from any
 * thread.
 *
 * Returns: `TRUE` if this call settled the future
 */
gboolean
gasync_future_resolve_boxed (GasyncFuture  *self,
                             GType          boxed_type,
                             gconstpointer  value)
{
  GValue v = G_VALUE_INIT;

  g_return_val_if_fail (GASYNC_IS_FUTURE (self), FALSE);
  g_return_val_if_fail (G_TYPE_IS_BOXED (boxed_type), FALSE);

  g_value_init (&v, boxed_type);
  g_value_set_boxed (&v, value);
  return resolve_steal (self, &v);
}

/**
 * gasync_future_resolve_pointer: (skip)
 * @self: a future
 * @value: (nullable): the pointer
 * @destroy: (nullable): frees @value when the future is finalized
 *
 * Resolves the future with a plain pointer, for C code. If the future was
 * already settled, @destroy is called on @value right away, so nothing
 * leaks. Can be called from any thread.
 *
 * Returns: `TRUE` if this call settled the future
 */
gboolean
gasync_future_resolve_pointer (GasyncFuture   *self,
                               gpointer        value,
                               GDestroyNotify  destroy)
{
  GValue v = G_VALUE_INIT;

  g_return_val_if_fail (GASYNC_IS_FUTURE (self), FALSE);

  if G_UNLIKELY (PRIV (self)->value_type != G_TYPE_INVALID &&
                 !check_value_type (self, G_TYPE_POINTER))
    {
      if (destroy != NULL)
        destroy (value);
      return FALSE;
    }

  g_value_init (&v, G_TYPE_POINTER);
  g_value_set_pointer (&v, value);

  /* The destroy notify is stored under the same lock as the state, so it
   * belongs to whichever call wins the settle. */
  return settle_full (self, GASYNC_FUTURE_STATE_RESOLVED, &v, NULL, destroy);
}

/**
 * gasync_future_reject:
 * @self: a future
 * @error: the error, copied
 *
 * Rejects the future with a copy of @error. An error matching
 * `G_IO_ERROR_CANCELLED` settles it as cancelled instead. Can be called from
 * any thread.
 *
 * Returns: `TRUE` if this call settled the future
 */
gboolean
gasync_future_reject (GasyncFuture *self,
                      const GError *error)
{
  g_return_val_if_fail (GASYNC_IS_FUTURE (self), FALSE);
  g_return_val_if_fail (error != NULL, FALSE);

  return gasync_future_take_error (self, g_error_copy (error));
}

/**
 * gasync_future_take_error: (skip)
 * @self: a future
 * @error: (transfer full): the error
 *
 * Rejects the future with @error, taking ownership of it. An error matching
 * `G_IO_ERROR_CANCELLED` settles it as cancelled instead. Can be called from
 * any thread.
 *
 * Returns: `TRUE` if this call settled the future
 */
gboolean
gasync_future_take_error (GasyncFuture *self,
                          GError       *error)
{
  g_return_val_if_fail (GASYNC_IS_FUTURE (self), FALSE);
  g_return_val_if_fail (error != NULL, FALSE);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return gasync_future_settle (self, GASYNC_FUTURE_STATE_CANCELLED, NULL, error);

  return gasync_future_settle (self, GASYNC_FUTURE_STATE_REJECTED, NULL, error);
}

/**
 * gasync_future_reject_literal:
 * @self: a future
 * @domain: the error domain
 * @code: the error code
 * @message: the error message
 *
 * Rejects the future with a new error. Can be called from any thread.
 *
 * Returns: `TRUE` if this call settled the future
 */
gboolean
gasync_future_reject_literal (GasyncFuture *self,
                              GQuark        domain,
                              int           code,
                              const char   *message)
{
  g_return_val_if_fail (GASYNC_IS_FUTURE (self), FALSE);
  g_return_val_if_fail (domain != 0, FALSE);
  g_return_val_if_fail (message != NULL, FALSE);

  return gasync_future_take_error (self, g_error_new_literal (domain, code, message));
}

/**
 * gasync_future_cancel:
 * @self: a future
 *
 * Requests cancellation of the future.
 *
 * A pending future emits [signal@Future::cancelled] (on its context) and its
 * cancellable, if any, is cancelled right away. A plain future then settles
 * as cancelled; a coroutine sees `G_IO_ERROR_CANCELLED` at its current await
 * and its body decides how to end. Cancelling a settled future does nothing.
 * Can be called from any thread.
 *
 * Returns: `TRUE` if this call requested the cancellation, `FALSE` if the
 *   future was already settled or cancellation had already been requested
 */
gboolean
gasync_future_cancel (GasyncFuture *self)
{
  GasyncFuturePrivate *priv;
  g_autoptr(GCancellable) cancellable = NULL;

  g_return_val_if_fail (GASYNC_IS_FUTURE (self), FALSE);

  priv = PRIV (self);

  g_mutex_lock (&priv->lock);
  if (priv->state != GASYNC_FUTURE_STATE_PENDING || priv->cancel_requested)
    {
      g_mutex_unlock (&priv->lock);
      return FALSE;
    }
  priv->cancel_requested = TRUE;
  g_set_object (&cancellable, priv->cancellable);
  g_mutex_unlock (&priv->lock);

  /* Keep the future alive through the vfunc and the cancellable's
   * handlers, which may drop the caller's last reference. */
  g_object_ref (self);
  gasync_scheduler_push (priv->scheduler, self, GASYNC_DELIVER_CANCELLED);
  GASYNC_FUTURE_GET_CLASS (self)->request_cancel (self);
  if (cancellable != NULL)
    {
      /* The cancellable's handlers are anybody's code, Python and JS
       * included: never run them on a coroutine stack. */
      if (gasync_in_coroutine ())
        gasync_scheduler_push (priv->scheduler, self, GASYNC_DELIVER_CANCEL_CANCELLABLE);
      else
        g_cancellable_cancel (cancellable);
    }
  g_object_unref (self);

  return TRUE;
}

/**
 * gasync_future_get_state: (get-property state)
 * @self: a future
 *
 * Gets the state of the future. Can be called from any thread.
 *
 * Returns: the state
 */
GasyncFutureState
gasync_future_get_state (GasyncFuture *self)
{
  g_return_val_if_fail (GASYNC_IS_FUTURE (self), GASYNC_FUTURE_STATE_PENDING);

  return load_state (PRIV (self));
}

/**
 * gasync_future_is_done: (get-property done)
 * @self: a future
 *
 * Whether the future has settled, in any state. Can be called from any
 * thread.
 *
 * Returns: `TRUE` unless the future is pending
 */
gboolean
gasync_future_is_done (GasyncFuture *self)
{
  g_return_val_if_fail (GASYNC_IS_FUTURE (self), FALSE);

  return load_state (PRIV (self)) != GASYNC_FUTURE_STATE_PENDING;
}

/**
 * gasync_future_is_cancelled:
 * @self: a future
 *
 * Whether the future ended cancelled. Can be called from any thread.
 *
 * Returns: `TRUE` if the state is `CANCELLED`
 */
gboolean
gasync_future_is_cancelled (GasyncFuture *self)
{
  g_return_val_if_fail (GASYNC_IS_FUTURE (self), FALSE);

  return load_state (PRIV (self)) == GASYNC_FUTURE_STATE_CANCELLED;
}

/**
 * gasync_future_is_cancel_requested:
 * @self: a future
 *
 * Whether cancellation has been requested, even if the future has not
 * settled yet (a coroutine still running its clean-up). Can be called from
 * any thread.
 *
 * Returns: `TRUE` once [method@Future.cancel] took effect
 */
gboolean
gasync_future_is_cancel_requested (GasyncFuture *self)
{
  GasyncFuturePrivate *priv;
  gboolean ret;

  g_return_val_if_fail (GASYNC_IS_FUTURE (self), FALSE);

  priv = PRIV (self);
  g_mutex_lock (&priv->lock);
  ret = priv->cancel_requested;
  g_mutex_unlock (&priv->lock);

  return ret;
}

/* Called with the lock held; sets @error for anything but RESOLVED. */
static gboolean
check_resolved_locked (GasyncFuture  *self,
                       GError       **error)
{
  GasyncFuturePrivate *priv = PRIV (self);

  switch ((GasyncFutureState) priv->state)
    {
    case GASYNC_FUTURE_STATE_RESOLVED:
      return TRUE;

    case GASYNC_FUTURE_STATE_PENDING:
      g_set_error (error, GASYNC_ERROR, GASYNC_ERROR_INVALID_STATE,
                   "Future %s is still pending",
                   priv->name ? priv->name : "");
      return FALSE;

    case GASYNC_FUTURE_STATE_REJECTED:
    case GASYNC_FUTURE_STATE_CANCELLED:
    default:
      priv->error_retrieved = TRUE;
      if (error != NULL)
        *error = g_error_copy (priv->error);
      return FALSE;
    }
}

/*
 * Like check_resolved_locked(), taking the lock only when needed.  Once a
 * future is RESOLVED nothing but finalization touches its value again, and
 * the state is published (atomically) after the value, so a reader that
 * sees RESOLVED may read the value without the lock.
 */
static inline gboolean
check_resolved (GasyncFuture  *self,
                GError       **error)
{
  GasyncFuturePrivate *priv = PRIV (self);
  gboolean ret;

  if G_LIKELY (load_state (priv) == GASYNC_FUTURE_STATE_RESOLVED)
    return TRUE;

  g_mutex_lock (&priv->lock);
  ret = check_resolved_locked (self, error);
  g_mutex_unlock (&priv->lock);

  return ret;
}

/**
 * gasync_future_get_value:
 * @self: a future
 * @value: (out caller-allocates) (optional): an uninitialized `GValue` that
 *   receives a copy of the value; it stays uninitialized for a future
 *   resolved without a value
 * @error: return location for the future's error
 *
 * Reads the outcome of the future. A pending future gives
 * `GASYNC_ERROR_INVALID_STATE`, a cancelled one `G_IO_ERROR_CANCELLED`, a
 * rejected one its error. Can be called from any thread.
 *
 * Returns: `TRUE` if the future is resolved
 */
gboolean
gasync_future_get_value (GasyncFuture  *self,
                         GValue        *value,
                         GError       **error)
{
  GasyncFuturePrivate *priv;
  gboolean ret;

  g_return_val_if_fail (GASYNC_IS_FUTURE (self), FALSE);
  g_return_val_if_fail (value == NULL || !G_IS_VALUE (value), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = PRIV (self);
  ret = check_resolved (self, error);
  if (ret && value != NULL && value_is_set (&priv->value))
    {
      g_value_init (value, G_VALUE_TYPE (&priv->value));
      g_value_copy (&priv->value, value);
    }

  return ret;
}

/**
 * gasync_future_propagate_error:
 * @self: a future
 * @error: return location for the future's error
 *
 * Checks that the future resolved, whatever its value. This marks a
 * rejection as retrieved.
 *
 * Returns: `TRUE` if the future is resolved; otherwise @error is set as
 *   [method@Future.get_value] describes
 */
gboolean
gasync_future_propagate_error (GasyncFuture  *self,
                               GError       **error)
{
  g_return_val_if_fail (GASYNC_IS_FUTURE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return check_resolved (self, error);
}

/**
 * gasync_future_has_value:
 * @self: a future
 *
 * Whether the future resolved with a value, rather than without one (see
 * [method@Future.resolve_void]) or not at all. Language bindings call it
 * before [method@Future.get_value], since they cannot convert the unset
 * `GValue` of a future resolved without a value. Can be called from any
 * thread.
 *
 * Returns: `TRUE` if the future is resolved and holds a value
 */
gboolean
gasync_future_has_value (GasyncFuture *self)
{
  GasyncFuturePrivate *priv;

  g_return_val_if_fail (GASYNC_IS_FUTURE (self), FALSE);

  priv = PRIV (self);
  /* The value is set before the state is published (see check_resolved). */
  return load_state (priv) == GASYNC_FUTURE_STATE_RESOLVED && value_is_set (&priv->value);
}

/* Checks that the future resolved with a value of @type; returns the
 * stored value, which stays as it is until finalization (see
 * check_resolved), or NULL with @error set. */
static const GValue *
typed_value (GasyncFuture  *self,
             GType          type,
             GError       **error)
{
  GasyncFuturePrivate *priv = PRIV (self);

  if (!check_resolved (self, error))
    return NULL;

  /* The exact type first: g_type_is_a() is a call. */
  if G_UNLIKELY (!value_is_set (&priv->value) ||
                 (G_VALUE_TYPE (&priv->value) != type &&
                  !g_type_is_a (G_VALUE_TYPE (&priv->value), type)))
    {
      g_set_error (error, GASYNC_ERROR, GASYNC_ERROR_TYPE_MISMATCH,
                   "Future %s holds %s, not %s",
                   priv->name ? priv->name : "",
                   value_is_set (&priv->value) ? G_VALUE_TYPE_NAME (&priv->value) : "no value",
                   g_type_name (type));
      return NULL;
    }

  return &priv->value;
}

#define DEFINE_GET_FULL(storage, fname, ctype, gtype, getter, fallback) \
storage ctype                                                         \
fname (GasyncFuture  *self,                                           \
                          GError       **error)                       \
{                                                                     \
  const GValue *value;                                                \
  ctype ret;                                                          \
                                                                      \
  g_return_val_if_fail (GASYNC_IS_FUTURE (self), fallback);           \
  g_return_val_if_fail (error == NULL || *error == NULL, fallback);   \
                                                                      \
  if (!(value = typed_value (self, gtype, error)))                    \
    return fallback;                                                  \
  ret = getter (value);                                               \
  return ret;                                                         \
}
#define DEFINE_GET(name, ctype, gtype, getter, fallback) \
  DEFINE_GET_FULL (, gasync_future_get_##name, ctype, gtype, getter, fallback)

/* Readers of the scalar types' data[0], for values typed_value() has
 * checked: these fundamental types have no subtypes, so the check was for
 * the exact type, and the getters' own checks would repeat it. */
#define SCALAR_INT(v)    ((v)->data[0].v_int)
#define SCALAR_INT64(v)  ((v)->data[0].v_int64)
#define SCALAR_UINT64(v) ((v)->data[0].v_uint64)
#define SCALAR_DOUBLE(v) ((v)->data[0].v_double)

/**
 * gasync_future_get_boolean:
 * @self: a future
 * @error: return location for an error
 *
 * Reads the boolean the future resolved with. Errors as for
 * [method@Future.get_value], and `GASYNC_ERROR_TYPE_MISMATCH` when the value
 * is not a boolean.
 *
 * Returns: the value, or `FALSE` with @error set
 */
DEFINE_GET (boolean, gboolean, G_TYPE_BOOLEAN, SCALAR_INT, FALSE)

/**
 * gasync_future_get_int:
 * @self: a future
 * @error: return location for an error
 *
 * Reads the integer the future resolved with. Errors as for
 * [method@Future.get_value], and `GASYNC_ERROR_TYPE_MISMATCH` when the value
 * is not an `int`.
 *
 * Returns: the value, or 0 with @error set
 */
DEFINE_GET (int, int, G_TYPE_INT, SCALAR_INT, 0)

/**
 * gasync_future_get_int64:
 * @self: a future
 * @error: return location for an error
 *
 * Reads the 64-bit integer the future resolved with. Errors as for
 * [method@Future.get_value], and `GASYNC_ERROR_TYPE_MISMATCH` when the value
 * is not a `gint64`.
 *
 * Returns: the value, or 0 with @error set
 */
DEFINE_GET (int64, gint64, G_TYPE_INT64, SCALAR_INT64, 0)

/**
 * gasync_future_get_uint64:
 * @self: a future
 * @error: return location for an error
 *
 * Reads the unsigned 64-bit integer the future resolved with. Errors as for
 * [method@Future.get_value], and `GASYNC_ERROR_TYPE_MISMATCH` when the value
 * is not a `guint64`.
 *
 * Returns: the value, or 0 with @error set
 */
DEFINE_GET (uint64, guint64, G_TYPE_UINT64, SCALAR_UINT64, 0)

/**
 * gasync_future_get_double:
 * @self: a future
 * @error: return location for an error
 *
 * Reads the double the future resolved with. Errors as for
 * [method@Future.get_value], and `GASYNC_ERROR_TYPE_MISMATCH` when the value
 * is not a double.
 *
 * Returns: the value, or 0.0 with @error set
 */
DEFINE_GET (double, double, G_TYPE_DOUBLE, SCALAR_DOUBLE, 0.0)

/**
 * gasync_future_get_pointer: (skip)
 * @self: a future
 * @error: return location for an error
 *
 * Reads the pointer the future resolved with; it stays owned by the
 * future. Errors as for [method@Future.get_value], and
 * `GASYNC_ERROR_TYPE_MISMATCH` when the value is not a pointer.
 *
 * Returns: (transfer none) (nullable): the pointer, or `NULL` with @error set
 */
DEFINE_GET (pointer, gpointer, G_TYPE_POINTER, g_value_get_pointer, NULL)

gpointer
gasync_future_steal_pointer (GasyncFuture  *self,
                             GError       **error)
{
  const GValue *value;
  gpointer ret;

  if (!(value = typed_value (self, G_TYPE_POINTER, error)))
    return NULL;
  ret = g_value_get_pointer (value);
  /* The destroy notify, unlike the value, is written after settling. */
  g_mutex_lock (&PRIV (self)->lock);
  PRIV (self)->pointer_destroy = NULL;
  g_mutex_unlock (&PRIV (self)->lock);

  return ret;
}

/**
 * gasync_future_dup_string:
 * @self: a future
 * @error: return location for an error
 *
 * Reads a copy of the string the future resolved with. Errors as for
 * [method@Future.get_value], and `GASYNC_ERROR_TYPE_MISMATCH` when the value
 * is not a string.
 *
 * Returns: (transfer full) (nullable): the string, or `NULL`
 */
DEFINE_GET_FULL (static, dup_string_internal, char *, G_TYPE_STRING, g_value_dup_string, NULL)

char *
gasync_future_dup_string (GasyncFuture  *self,
                          GError       **error)
{
  return dup_string_internal (self, error);
}

/**
 * gasync_future_dup_object:
 * @self: a future
 * @error: return location for an error
 *
 * Reads the object the future resolved with, adding a reference. Errors as
 * for [method@Future.get_value], and `GASYNC_ERROR_TYPE_MISMATCH` when the
 * value is not an object.
 *
 * Returns: (transfer full) (type GObject) (nullable): the object, or `NULL`
 */
DEFINE_GET_FULL (static, dup_object_internal, gpointer, G_TYPE_OBJECT, g_value_dup_object, NULL)

gpointer
gasync_future_dup_object (GasyncFuture  *self,
                          GError       **error)
{
  return dup_object_internal (self, error);
}

/**
 * gasync_future_dup_boxed: (skip)
 * @self: a future
 * @boxed_type: the expected boxed type
 * @error: return location for an error
 *
 * Reads a copy of the boxed value the future resolved with. Errors as for
 * [method@Future.get_value], and `GASYNC_ERROR_TYPE_MISMATCH` when the value
 * is not a @boxed_type.
 *
 * Returns: (transfer full) (nullable): the copy, or `NULL`
 */
gpointer
gasync_future_dup_boxed (GasyncFuture  *self,
                         GType          boxed_type,
                         GError       **error)
{
  const GValue *value;
  gpointer ret;

  g_return_val_if_fail (GASYNC_IS_FUTURE (self), NULL);
  g_return_val_if_fail (G_TYPE_IS_BOXED (boxed_type), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!(value = typed_value (self, boxed_type, error)))
    return NULL;
  ret = g_value_dup_boxed (value);

  return ret;
}

/**
 * gasync_future_get_context:
 * @self: a future
 *
 * Gets the main context the future delivers its signals and callbacks on.
 *
 * Returns: (transfer none): the owning main context
 */
GMainContext *
gasync_future_get_context (GasyncFuture *self)
{
  g_return_val_if_fail (GASYNC_IS_FUTURE (self), NULL);

  return gasync_scheduler_get_context (PRIV (self)->scheduler);
}

/**
 * gasync_future_get_cancellable:
 * @self: a future
 *
 * Gets a `GCancellable` tied to the future in both directions: cancelling
 * the future cancels it, and cancelling it cancels the future. Pass it to
 * GIO calls whose outcome settles the future, so that
 * [method@Future.cancel] stops them.
 *
 * It is the one given to [method@Future.set_cancellable], or one created
 * on first use. Can be called from any thread.
 *
 * Returns: (transfer none): the cancellable
 */
GCancellable *
gasync_future_get_cancellable (GasyncFuture *self)
{
  GasyncFuturePrivate *priv;
  GCancellable *cancellable;

  g_return_val_if_fail (GASYNC_IS_FUTURE (self), NULL);

  priv = PRIV (self);
  g_mutex_lock (&priv->lock);
  cancellable = priv->cancellable;
  g_mutex_unlock (&priv->lock);

  if (cancellable == NULL)
    {
      cancellable = g_cancellable_new ();
      gasync_future_set_cancellable (self, cancellable);
      g_object_unref (cancellable);

      g_mutex_lock (&priv->lock);
      cancellable = priv->cancellable;
      g_mutex_unlock (&priv->lock);
    }

  return cancellable;
}

/**
 * gasync_future_set_cancellable:
 * @self: a future
 * @cancellable: (nullable): a cancellable, or `NULL` to unlink the current
 *   one
 *
 * Links @cancellable with the future in both directions: cancelling either
 * cancels the other. If the future's cancellation was already requested,
 * @cancellable is cancelled right away; if @cancellable is already
 * cancelled, so is the future. Can be called from any thread.
 */
void
gasync_future_set_cancellable (GasyncFuture *self,
                               GCancellable *cancellable)
{
  GasyncFuturePrivate *priv;
  GCancellable *old;
  gulong old_handler;
  gboolean cancel_it;

  g_return_if_fail (GASYNC_IS_FUTURE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  priv = PRIV (self);

  g_mutex_lock (&priv->lock);
  if (priv->cancellable == cancellable)
    {
      g_mutex_unlock (&priv->lock);
      return;
    }
  old = g_steal_pointer (&priv->cancellable);
  old_handler = steal_id (&priv->cancellable_handler);
  priv->cancellable = cancellable ? g_object_ref (cancellable) : NULL;
  cancel_it = priv->cancel_requested;
  g_mutex_unlock (&priv->lock);

  if (old != NULL)
    {
      g_cancellable_disconnect (old, old_handler);
      g_object_unref (old);
    }

  if (cancellable != NULL)
    {
      /* g_cancellable_connect() runs the handler at once, in this thread,
       * when the cancellable is already cancelled. */
      gulong handler = g_cancellable_connect (cancellable,
                                              G_CALLBACK (cancellable_cancelled_cb),
                                              self, NULL);

      g_mutex_lock (&priv->lock);
      if (priv->cancellable == cancellable)
        priv->cancellable_handler = handler;
      else
        {
          g_mutex_unlock (&priv->lock);
          g_cancellable_disconnect (cancellable, handler);
          return;
        }
      g_mutex_unlock (&priv->lock);

      if (cancel_it)
        g_cancellable_cancel (cancellable);
    }
}

/**
 * gasync_future_get_name:
 * @self: a future
 *
 * Gets the future's name, for debugging.
 *
 * Returns: (nullable): the name
 */
const char *
gasync_future_get_name (GasyncFuture *self)
{
  g_return_val_if_fail (GASYNC_IS_FUTURE (self), NULL);

  return PRIV (self)->name;
}

/**
 * gasync_future_set_name:
 * @self: a future
 * @name: (nullable): a name for debugging and diagnostics
 *
 * Names the future. Call it from the owning thread, typically right after
 * creating the future.
 */
void
gasync_future_set_name (GasyncFuture *self,
                        const char   *name)
{
  GasyncFuturePrivate *priv;
  char *old;

  g_return_if_fail (GASYNC_IS_FUTURE (self));

  priv = PRIV (self);
  if (g_strcmp0 (priv->name, name) == 0)
    return;

  g_mutex_lock (&priv->lock);
  old = priv->name;
  priv->name = g_strdup (name);
  g_mutex_unlock (&priv->lock);
  /* A running coroutine's fiber borrows the name for overflow reports:
   * point it at the new one before the old one is freed. */
  if (G_TYPE_CHECK_INSTANCE_TYPE (self, GASYNC_TYPE_COROUTINE))
    gasync_coroutine_update_fiber_name ((GasyncCoroutine *) self);
  g_free (old);

  notify_if_watched (self, PROP_NAME);
}

/**
 * gasync_future_get_progress:
 * @self: a future
 *
 * Gets the latest progress, from 0.0 to 1.0, or -1.0 while unknown. Can be
 * called from any thread.
 *
 * Returns: the progress
 */
double
gasync_future_get_progress (GasyncFuture *self)
{
  g_return_val_if_fail (GASYNC_IS_FUTURE (self), -1.0);

  return load_progress (PRIV (self));
}

/**
 * gasync_future_set_progress:
 * @self: a future
 * @progress: a value from 0.0 to 1.0, or -1.0 for unknown
 *
 * Reports how far the operation has come. Can be called from any thread and
 * as often as wanted: [property@Future:progress] is notified on the
 * future's context at most once per context iteration, with the latest
 * value.
 */
void
gasync_future_set_progress (GasyncFuture *self,
                            double        progress)
{
  g_return_if_fail (GASYNC_IS_FUTURE (self));
  g_return_if_fail (progress == -1.0 || (progress >= 0.0 && progress <= 1.0));

  gasync_future_update_progress (self, progress);
}

/* gasync_future_set_progress() without the checks, for gasync's own
 * callers (all() sets its progress once per settled child). */
void
gasync_future_update_progress (GasyncFuture *self,
                               double        progress)
{
  GasyncFuturePrivate *priv = PRIV (self);

  if (store_progress (priv, progress) != progress)
    gasync_scheduler_push (priv->scheduler, self, GASYNC_DELIVER_PROGRESS);
}

/**
 * gasync_future_get_value_type:
 * @self: a future
 *
 * Gets the declared type of the future's value.
 *
 * Returns: the declared type, or `G_TYPE_INVALID` when undeclared
 */
GType
gasync_future_get_value_type (GasyncFuture *self)
{
  g_return_val_if_fail (GASYNC_IS_FUTURE (self), G_TYPE_INVALID);

  return PRIV (self)->value_type;
}

/**
 * gasync_future_set_value_type:
 * @self: a future
 * @value_type: the type the future will resolve with, or `G_TYPE_INVALID`
 *
 * Declares what the future carries, so that bindings and combinators can
 * tell before it settles. Call it from the owning thread before the future
 * is settled.
 */
void
gasync_future_set_value_type (GasyncFuture *self,
                              GType         value_type)
{
  GasyncFuturePrivate *priv;

  g_return_if_fail (GASYNC_IS_FUTURE (self));

  priv = PRIV (self);
  if (value_type == G_TYPE_NONE)
    value_type = G_TYPE_INVALID;
  if (priv->value_type == value_type)
    return;

  priv->value_type = value_type;
  notify_if_watched (self, PROP_VALUE_TYPE);
}

static void
append_callback_locked (GasyncFuture        *self,
                        GasyncFuturePrivate *priv,
                        GasyncDoneCallback  *node)
{
  node->next = NULL;
  node->prev = priv->callbacks_tail;
  node->owner = self;
  /* Identifiers are 30 bits and never 0. */
  if (++priv->last_callback_id >= (1u << 30))
    priv->last_callback_id = 1;
  node->id = priv->last_callback_id;
  if (priv->callbacks_tail != NULL)
    priv->callbacks_tail->next = node;
  else
    priv->callbacks = node;
  priv->callbacks_tail = node;
}

static void
unlink_callback_locked (GasyncFuturePrivate *priv,
                        GasyncDoneCallback  *node)
{
  if (node->prev != NULL)
    node->prev->next = node->next;
  else
    priv->callbacks = node->next;
  if (node->next != NULL)
    node->next->prev = node->prev;
  else
    priv->callbacks_tail = node->prev;
  node->next = NULL;
  node->prev = NULL;
  node->owner = NULL;
}

/* Adds @node; if the future's done delivery already happened, queues a
 * delivery of the callback list.  Returns the node's id, read under the
 * lock: after it is dropped, a delivery on the owning thread may run and
 * free the node. */
guint
gasync_future_add_done_node (GasyncFuture       *self,
                             GasyncDoneCallback *node)
{
  GasyncFuturePrivate *priv = PRIV (self);
  gboolean deliver;
  guint id;

  g_mutex_lock (&priv->lock);
  append_callback_locked (self, priv, node);
  id = node->id;
  deliver = priv->done_delivered;
  g_mutex_unlock (&priv->lock);

  if (deliver)
    gasync_scheduler_push (priv->scheduler, self, GASYNC_DELIVER_CALLBACKS);

  return id;
}

gboolean
gasync_future_remove_done_node (GasyncFuture       *self,
                                GasyncDoneCallback *node)
{
  GasyncFuturePrivate *priv = PRIV (self);
  gboolean linked;

  g_mutex_lock (&priv->lock);
  linked = node->owner == self;
  if (linked)
    unlink_callback_locked (priv, node);
  g_mutex_unlock (&priv->lock);

  return linked;
}

/**
 * gasync_future_add_done_callback:
 * @self: a future
 * @callback: (scope notified) (closure user_data) (destroy destroy): called
 *   once the future has settled
 * @user_data: data for @callback
 * @destroy: (nullable): frees @user_data after @callback ran, or when it is
 *   removed or the future is finalized without settling
 *
 * Adds a callback that runs once the future has settled, on the future's
 * context, from a dispatch of gasync's scheduler (so never synchronously
 * from this call, even if the future is already done). Callbacks run in
 * the order they were added, right after [signal@Future::done].
 *
 * This is the cheap path for C: no closure, no signal machinery. Can be
 * called from any thread.
 *
 * Returns: an identifier for [method@Future.remove_done_callback], never 0
 */
gulong
gasync_future_add_done_callback (GasyncFuture         *self,
                                 GasyncFutureCallback  callback,
                                 gpointer              user_data,
                                 GDestroyNotify        destroy)
{
  GasyncDoneCallbackFull *full;

  g_return_val_if_fail (GASYNC_IS_FUTURE (self), 0);
  g_return_val_if_fail (callback != NULL, 0);

  /* Not g_new0(): calloc() costs more than these few stores. */
  full = g_new (GasyncDoneCallbackFull, 1);
  *full = (GasyncDoneCallbackFull) {
    .node.func = callback,
    .node.data = user_data,
    .destroy = destroy,
  };

  /* Not full->node.id afterwards: the node may already have run and been
   * freed by then. */
  return gasync_future_add_done_node (self, &full->node);
}

/**
 * gasync_future_remove_done_callback:
 * @self: a future
 * @callback_id: an identifier from [method@Future.add_done_callback]
 *
 * Removes a done callback that has not run yet; its destroy notify is
 * called. Can be called from any thread.
 *
 * Returns: `TRUE` if the callback was found and removed, `FALSE` if it
 *   already ran or is running
 */
gboolean
gasync_future_remove_done_callback (GasyncFuture *self,
                                    gulong        callback_id)
{
  GasyncFuturePrivate *priv;

  g_return_val_if_fail (GASYNC_IS_FUTURE (self), FALSE);
  g_return_val_if_fail (callback_id != 0, FALSE);

  priv = PRIV (self);
  g_mutex_lock (&priv->lock);
  for (GasyncDoneCallback *iter = priv->callbacks; iter != NULL; iter = iter->next)
    {
      if (iter->id != callback_id || iter->embedded || iter->watch_progress)
        continue;

      unlink_callback_locked (priv, iter);
      g_mutex_unlock (&priv->lock);

      free_callback (iter);
      return TRUE;
    }
  g_mutex_unlock (&priv->lock);

  return FALSE;
}

/* Runs the callbacks; with @mark_delivered, first records (under the same
 * lock as the first pop) that the done delivery happened, so that callbacks
 * added from now on queue a delivery of their own. */
static void
run_callbacks (GasyncFuture *self,
               gboolean      mark_delivered)
{
  GasyncFuturePrivate *priv = PRIV (self);

  /* One node at a time, so that a callback may remove others.  A callback
   * added while these run finds done_delivered set and queues a delivery of
   * its own, so once the list was seen empty there is no need to look
   * again. */
  for (gboolean more = TRUE; more;)
    {
      GasyncDoneCallback *node;
      GasyncFutureCallback func;
      gpointer data;
      gboolean embedded;

      g_mutex_lock (&priv->lock);
      if (mark_delivered)
        {
          priv->done_delivered = TRUE;
          mark_delivered = FALSE;
        }
      node = priv->callbacks;
      if (node == NULL)
        {
          g_mutex_unlock (&priv->lock);
          break;
        }
      unlink_callback_locked (priv, node);
      more = priv->callbacks != NULL;
      /* An embedded node belongs to its container again once unlinked: it
       * may be reused (or freed) as soon as the lock is dropped. */
      func = node->func;
      data = node->data;
      embedded = node->embedded;
      g_mutex_unlock (&priv->lock);

      func (self, data);
      if (!embedded)
        free_callback (node);
    }
}

static void
run_progress_watches (GasyncFuture *self)
{
  GasyncFuturePrivate *priv = PRIV (self);
  GasyncDoneCallback *stack_watches[16];
  g_autofree GasyncDoneCallback **heap_watches = NULL;
  GasyncDoneCallback **watches = stack_watches;
  guint n = 0;

  /* Watch nodes are only unlinked by running (on this thread, not now) or
   * by disposal (not while a delivery holds a reference), so they stay
   * valid after the lock is dropped. */
  g_mutex_lock (&priv->lock);
  for (GasyncDoneCallback *iter = priv->callbacks; iter != NULL; iter = iter->next)
    n += iter->watch_progress;
  if (n > G_N_ELEMENTS (stack_watches))
    watches = heap_watches = g_new (GasyncDoneCallback *, n);
  n = 0;
  for (GasyncDoneCallback *iter = priv->callbacks; iter != NULL; iter = iter->next)
    if (iter->watch_progress)
      watches[n++] = iter;
  g_mutex_unlock (&priv->lock);

  for (guint i = 0; i < n; i++)
    watches[i]->func (self, watches[i]->data);
}

/*
 * For a coroutine's end, on its thread: claims the delivery queue slot
 * before the outcome settles the future, so that settling queues nothing.
 * FALSE if a delivery was queued already (it will deliver the outcome
 * too); otherwise the caller must call gasync_future_deliver_held().
 */
gboolean
gasync_future_hold_delivery (GasyncFuture *self)
{
  guint old = (guint) g_atomic_int_or (&PRIV (self)->deliver, GASYNC_DELIVER_QUEUED);

  return !(old & GASYNC_DELIVER_QUEUED);
}

/*
 * Queues the delivery held since gasync_future_hold_delivery(), unless
 * nobody could ever see it: the @own_refs references gasync's caller holds
 * are all there are and nothing can make another (no qdata, so no weak
 * reference), and no done callback, cancellable or unblocked signal
 * handler waits for the future.  Such a delivery would only mark the
 * future delivered, so it is skipped, and a fire-and-forget coroutine ends
 * without a trip through the queue.
 */
void
gasync_future_deliver_held (GasyncFuture *self,
                            guint         own_refs)
{
  GObject *object = (GObject *) self;
  GasyncFuturePrivate *priv = PRIV (self);

  /* The reference count first: once nobody else holds one, nobody else
   * can add a callback or handler, so the checks after it stay true. */
  if (g_atomic_int_get (&object->ref_count) == (int) own_refs &&
      g_atomic_pointer_get (&object->qdata) == NULL &&
      priv->callbacks == NULL &&
      priv->cancellable == NULL &&
      !has_any_handler (self) &&
      g_atomic_int_compare_and_exchange (&priv->deliver,
                                         GASYNC_DELIVER_QUEUED | GASYNC_DELIVER_DONE, 0))
    {
      priv->done_delivered = TRUE;
      return;
    }

  gasync_scheduler_push_claimed (priv->scheduler, self);
}

/*
 * Delivers what was queued for the future, in a dispatch of the default lane
 * of its context, and drops the queue's reference.
 */
void
gasync_future_run_delivery (GasyncRunnable *runnable)
{
  GasyncFuturePrivate *priv = G_STRUCT_MEMBER_P (runnable, -G_STRUCT_OFFSET (GasyncFuturePrivate, runnable));
  GasyncFuture *self = G_STRUCT_MEMBER_P (priv, -GasyncFuture_private_offset);
  gboolean watched;
  guint bits;

  bits = (guint) g_atomic_int_and (&priv->deliver, 0) & ~GASYNC_DELIVER_QUEUED;

  watched = (bits & (GASYNC_DELIVER_DONE | GASYNC_DELIVER_CANCELLED | GASYNC_DELIVER_PROGRESS)) &&
            has_any_handler (self);

  if (bits & GASYNC_DELIVER_CANCEL_CANCELLABLE)
    {
      g_autoptr(GCancellable) cancellable = NULL;

      g_mutex_lock (&priv->lock);
      g_set_object (&cancellable, priv->cancellable);
      g_mutex_unlock (&priv->lock);
      if (cancellable != NULL)
        g_cancellable_cancel (cancellable);
    }

  if ((bits & GASYNC_DELIVER_CANCELLED) && watched)
    {
      if (g_signal_has_handler_pending (self, signals[SIGNAL_CANCELLED], 0, FALSE))
        g_signal_emit (self, signals[SIGNAL_CANCELLED], 0);
    }

  if (bits & GASYNC_DELIVER_PROGRESS)
    {
      guint32 serial = (guint32) gasync_scheduler_get_serial (priv->scheduler);

      /* At most one progress notification per context iteration. */
      if (priv->progress_serial == serial)
        gasync_scheduler_defer (priv->scheduler, self, GASYNC_DELIVER_PROGRESS);
      else
        {
          priv->progress_serial = serial;
          if (watched)
            notify_if_watched (self, PROP_PROGRESS);
          run_progress_watches (self);
        }
    }

  if (bits & GASYNC_DELIVER_DONE)
    {
      if (watched)
        {
          notify_if_watched (self, PROP_STATE);
          notify_if_watched (self, PROP_DONE);
          if (g_signal_has_handler_pending (self, signals[SIGNAL_DONE], 0, FALSE))
            g_signal_emit (self, signals[SIGNAL_DONE], 0);
        }
      run_callbacks (self, TRUE);
    }
  else if (bits & GASYNC_DELIVER_CALLBACKS)
    {
      gboolean delivered;

      g_mutex_lock (&priv->lock);
      delivered = priv->done_delivered;
      g_mutex_unlock (&priv->lock);

      if (delivered)
        run_callbacks (self, FALSE);
    }

  gasync_future_release (self);
}

typedef struct
{
  GTask *task;
  GCancellable *cancellable;
  gulong cancelled_handler;
  gulong done_id;
  int returned;
} WaitData;

static void
wait_data_free (gpointer data)
{
  WaitData *wait = data;

  /* Still connected only when the future goes away without settling.  If
   * the cancel handler won, it has run (and this may even be called from
   * inside it, through the task's callback), so the non-blocking
   * disconnect is the safe one; otherwise wait for a running handler. */
  if (wait->cancelled_handler != 0)
    {
      if (g_atomic_int_get (&wait->returned))
        g_signal_handler_disconnect (wait->cancellable, steal_id (&wait->cancelled_handler));
      else
        g_cancellable_disconnect (wait->cancellable, steal_id (&wait->cancelled_handler));
    }
  g_clear_object (&wait->cancellable);
  g_clear_object (&wait->task);
  g_free (wait);
}

static void
wait_done_cb (GasyncFuture *future,
              gpointer      user_data)
{
  WaitData *wait = user_data;

  if (wait->cancellable != NULL)
    g_cancellable_disconnect (wait->cancellable,
                              steal_id (&wait->cancelled_handler));

  if (g_atomic_int_compare_and_exchange (&wait->returned, FALSE, TRUE))
    g_task_return_boolean (wait->task, TRUE);
}

static void
wait_cancelled_cb (GCancellable *cancellable,
                   gpointer      user_data)
{
  WaitData *wait = user_data;

  /* The task holds the future (its source object) and the future holds
   * @wait through the done callback until it settles: keeping the task
   * after it returned would make a future that never settles immortal.
   * @wait is not touched after the task is taken out of it. */
  if (g_atomic_int_compare_and_exchange (&wait->returned, FALSE, TRUE))
    {
      GTask *task = g_atomic_pointer_exchange (&wait->task, NULL);

      g_task_return_error_if_cancelled (task);
      g_object_unref (task);
    }
}

/**
 * gasync_future_wait_async:
 * @self: a future
 * @cancellable: (nullable): cancels the wait, not the future
 * @callback: (scope async) (closure user_data): called when the future has
 *   settled
 * @user_data: data for @callback
 *
 * Waits for the future to settle, the `GAsyncResult` way, so that Vala's
 * `yield`, GJS promises and PyGObject's awaitable calls work on any future.
 *
 * @callback runs on the thread-default main context of the caller of this
 * function, in a later iteration. Cancelling @cancellable ends the wait
 * with `G_IO_ERROR_CANCELLED` and leaves the future untouched.
 */
void
gasync_future_wait_async (GasyncFuture        *self,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  WaitData *wait;

  g_return_if_fail (GASYNC_IS_FUTURE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  wait = g_new0 (WaitData, 1);
  wait->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (wait->task, gasync_future_wait_async);
  g_task_set_name (wait->task, "[gasync] wait");
  g_task_set_check_cancellable (wait->task, FALSE);

  if (cancellable != NULL)
    {
      wait->cancellable = g_object_ref (cancellable);
      wait->cancelled_handler = g_cancellable_connect (cancellable,
                                                       G_CALLBACK (wait_cancelled_cb),
                                                       wait, NULL);
    }

  gasync_future_add_done_callback (self, wait_done_cb, wait, wait_data_free);
}

/**
 * gasync_future_wait_finish:
 * @self: a future
 * @result: the result given to the callback
 * @value: (out caller-allocates) (optional): an uninitialized `GValue` for
 *   the future's value
 * @error: return location for an error
 *
 * Finishes [method@Future.wait_async] and reads the future's outcome, as
 * [method@Future.get_value] does.
 *
 * Returns: `TRUE` if the future resolved; `FALSE` with @error set if it was
 *   rejected or cancelled, or if the wait was cancelled
 */
gboolean
gasync_future_wait_finish (GasyncFuture  *self,
                           GAsyncResult  *result,
                           GValue        *value,
                           GError       **error)
{
  g_return_val_if_fail (GASYNC_IS_FUTURE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;

  return gasync_future_get_value (self, value, error);
}

typedef struct
{
  GMutex mutex;
  GCond cond;
  gboolean done;
} BlockingWait;

static void
blocking_wait_done_cb (GasyncFuture *future,
                       gpointer      user_data)
{
  BlockingWait *wait = user_data;

  g_mutex_lock (&wait->mutex);
  wait->done = TRUE;
  g_cond_signal (&wait->cond);
  g_mutex_unlock (&wait->mutex);
}

/**
 * gasync_future_wait:
 * @self: a future
 * @error: return location for the future's error
 *
 * Runs until the future has settled, like asyncio's `run_until_complete()`,
 * and reads its outcome as [method@Future.propagate_error] does.
 *
 * When the calling thread can acquire the future's main context, it
 * iterates that context (so the future's own work makes progress);
 * otherwise another thread is iterating it and this call blocks until the
 * future's done callbacks run there.
 *
 * Inside a coroutine this fails with `GASYNC_ERROR_IN_COROUTINE`: blocking
 * there would stall every coroutine of the context. Await the future
 * instead.
 *
 * Returns: `TRUE` if the future resolved
 */
gboolean
gasync_future_wait (GasyncFuture  *self,
                    GError       **error)
{
  GasyncFuturePrivate *priv;

  g_return_val_if_fail (GASYNC_IS_FUTURE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = PRIV (self);

  if (gasync_in_coroutine ())
    {
      g_set_error (error, GASYNC_ERROR, GASYNC_ERROR_IN_COROUTINE,
                   "gasync_future_wait() would block the coroutine's main "
                   "context; await the future instead");
      return FALSE;
    }

  if (load_state (priv) == GASYNC_FUTURE_STATE_PENDING)
    {
      GMainContext *context = gasync_scheduler_get_context (priv->scheduler);

      if (g_main_context_acquire (context))
        {
          while (load_state (priv) == GASYNC_FUTURE_STATE_PENDING)
            g_main_context_iteration (context, TRUE);
          g_main_context_release (context);
        }
      else
        {
          BlockingWait wait = { .done = FALSE };
          GasyncDoneCallback node = {
            .func = blocking_wait_done_cb,
            .data = &wait,
            .embedded = TRUE,
          };

          g_mutex_init (&wait.mutex);
          g_cond_init (&wait.cond);
          gasync_future_add_done_node (self, &node);

          g_mutex_lock (&wait.mutex);
          while (!wait.done)
            g_cond_wait (&wait.cond, &wait.mutex);
          g_mutex_unlock (&wait.mutex);

          g_mutex_clear (&wait.mutex);
          g_cond_clear (&wait.cond);
        }
    }

  return gasync_future_propagate_error (self, error);
}
