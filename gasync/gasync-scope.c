/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "gasync-scope.h"
#include "gasync-error.h"
#include "gasync-future-private.h"

/**
 * GasyncScope:
 *
 * A `GasyncScope` owns the futures and coroutines started through it, like
 * asyncio's `TaskGroup`: structured concurrency for GLib code.
 *
 * - [method@Scope.cancel] cancels everything in the scope, and everything
 *   added to it afterwards.
 * - [method@Scope.wait] is a future that settles once everything in the
 *   scope has ended. The first member to be rejected cancels its siblings,
 *   and the wait is then rejected with that error.
 * - Scopes nest: [method@Scope.new_child] makes a scope that is cancelled
 *   with its parent.
 * - [ctor@Scope.new_for_owner] ties the scope to an object such as a window
 *   or a view model, through a weak reference: when the owner is disposed,
 *   the scope is cancelled, and no callback registered through the scope
 *   with [method@Scope.add_done_callback] runs afterwards. This removes the
 *   classic desktop bug of a callback touching a widget that is already
 *   gone.
 *
 * ```c
 * // In a window's constructor: everything the window starts ends with it.
 * self->scope = gasync_scope_new_for_owner (G_OBJECT (self));
 * gasync_scope_spawn (self->scope, "load", load_body, self, NULL);
 * gasync_scope_add_done_callback (self->scope, future, show_result, self, NULL);
 * ```
 *
 * A coroutine cancelled because its scope was sees `G_IO_ERROR_CANCELLED` at
 * its current await; its body must then return without touching the owner.
 *
 * Adding, cancelling and waiting are safe from any thread. The owner must be
 * disposed on the thread that iterates the main context of the futures whose
 * callbacks were registered through the scope, which is the normal case for
 * widgets.
 */

struct _GasyncScope
{
  GObject       parent_instance;

  /* Guards everything below. */
  GMutex        lock;
  GHashTable   *members;
  GPtrArray    *children;
  GasyncFuture *wait;
  GError       *first_error;
  gboolean      failed;
  GObject      *owner;
  /* Read without the lock by callback wrappers; written under it. */
  int           cancelled;
};

G_DEFINE_FINAL_TYPE (GasyncScope, gasync_scope, G_TYPE_OBJECT)

static void owner_disposed_cb (gpointer data, GObject *where_the_object_was);

static void
gasync_scope_dispose (GObject *object)
{
  GasyncScope *self = GASYNC_SCOPE (object);

  if (self->owner != NULL)
    {
      g_object_weak_unref (self->owner, owner_disposed_cb, self);
      self->owner = NULL;
    }
  g_clear_pointer (&self->children, g_ptr_array_unref);

  G_OBJECT_CLASS (gasync_scope_parent_class)->dispose (object);
}

static void
gasync_scope_finalize (GObject *object)
{
  GasyncScope *self = GASYNC_SCOPE (object);

  g_hash_table_unref (self->members);
  g_clear_object (&self->wait);
  g_clear_error (&self->first_error);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (gasync_scope_parent_class)->finalize (object);
}

static void
gasync_scope_class_init (GasyncScopeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = gasync_scope_dispose;
  object_class->finalize = gasync_scope_finalize;
}

static void
gasync_scope_init (GasyncScope *self)
{
  g_mutex_init (&self->lock);
  self->members = g_hash_table_new_full (NULL, NULL, g_object_unref, NULL);
  self->children = g_ptr_array_new_with_free_func (g_object_unref);
}

/**
 * gasync_scope_new:
 *
 * Creates an empty scope.
 *
 * Returns: (transfer full): a new scope
 */
GasyncScope *
gasync_scope_new (void)
{
  return g_object_new (GASYNC_TYPE_SCOPE, NULL);
}

static void
owner_disposed_cb (gpointer  data,
                   GObject  *where_the_object_was)
{
  GasyncScope *self = data;

  g_mutex_lock (&self->lock);
  self->owner = NULL;
  g_mutex_unlock (&self->lock);

  gasync_scope_cancel (self);
}

/**
 * gasync_scope_new_for_owner:
 * @owner: the object whose lifetime bounds the scope
 *
 * Creates a scope that is cancelled when @owner is disposed. The scope holds
 * only a weak reference to @owner; the caller typically keeps the scope in
 * @owner's instance and releases it in @owner's dispose.
 *
 * Returns: (transfer full): a new scope
 */
GasyncScope *
gasync_scope_new_for_owner (GObject *owner)
{
  GasyncScope *self;

  g_return_val_if_fail (G_IS_OBJECT (owner), NULL);

  self = gasync_scope_new ();
  self->owner = owner;
  g_object_weak_ref (owner, owner_disposed_cb, self);

  return self;
}

/**
 * gasync_scope_new_child:
 * @parent: the parent scope
 *
 * Creates a scope that is cancelled when @parent is (and at once if @parent
 * already was). @parent keeps a reference to it.
 *
 * Returns: (transfer full): a new scope
 */
GasyncScope *
gasync_scope_new_child (GasyncScope *parent)
{
  GasyncScope *self;
  gboolean cancelled;

  g_return_val_if_fail (GASYNC_IS_SCOPE (parent), NULL);

  self = gasync_scope_new ();

  g_mutex_lock (&parent->lock);
  cancelled = parent->cancelled;
  if (parent->children != NULL)
    g_ptr_array_add (parent->children, g_object_ref (self));
  g_mutex_unlock (&parent->lock);

  if (cancelled)
    gasync_scope_cancel (self);

  return self;
}

/* Settles the wait future if everything has ended.  Called without the
 * lock. */
static void
maybe_settle_wait (GasyncScope *self)
{
  GasyncFuture *wait = NULL;
  GError *error = NULL;

  g_mutex_lock (&self->lock);
  if (self->wait != NULL && g_hash_table_size (self->members) == 0 &&
      !gasync_future_is_done (self->wait))
    {
      wait = g_object_ref (self->wait);
      if (self->first_error != NULL)
        error = g_error_copy (self->first_error);
    }
  g_mutex_unlock (&self->lock);

  if (wait == NULL)
    return;

  if (error != NULL)
    gasync_future_take_error (wait, error);
  else
    gasync_future_resolve_void (wait);
  g_object_unref (wait);
}

static GPtrArray *
snapshot_members_locked (GasyncScope *self)
{
  GPtrArray *members = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, self->members);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (members, g_object_ref (key));
  return members;
}

static void
cancel_all (GPtrArray *futures)
{
  for (guint i = 0; i < futures->len; i++)
    gasync_future_cancel (g_ptr_array_index (futures, i));
}

static void
member_done_cb (GasyncFuture *future,
                gpointer      user_data)
{
  GasyncScope *self = user_data;
  g_autoptr(GPtrArray) siblings = NULL;
  g_autoptr(GError) error = NULL;

  /* A rejection is the scope's to report: read it, so the member never
   * warns that its error was lost. */
  if (gasync_future_get_state (future) == GASYNC_FUTURE_STATE_REJECTED)
    gasync_future_propagate_error (future, &error);

  g_mutex_lock (&self->lock);
  g_hash_table_remove (self->members, future);
  if (error != NULL && self->first_error == NULL)
    {
      self->first_error = g_steal_pointer (&error);
      self->failed = TRUE;
      siblings = snapshot_members_locked (self);
    }
  g_mutex_unlock (&self->lock);

  if (siblings != NULL)
    cancel_all (siblings);

  maybe_settle_wait (self);
}

/**
 * gasync_scope_add:
 * @self: a scope
 * @future: a future; the scope takes its own reference
 *
 * Makes @future a member of the scope: cancelling the scope cancels it, and
 * [method@Scope.wait] waits for it. If the scope was already cancelled, or a
 * member already failed, @future is cancelled at once. Can be called from
 * any thread.
 */
void
gasync_scope_add (GasyncScope  *self,
                  GasyncFuture *future)
{
  gboolean cancel;

  g_return_if_fail (GASYNC_IS_SCOPE (self));
  g_return_if_fail (GASYNC_IS_FUTURE (future));

  g_mutex_lock (&self->lock);
  cancel = self->cancelled || self->failed;
  if (!g_hash_table_add (self->members, g_object_ref (future)))
    {
      g_mutex_unlock (&self->lock);
      return;
    }
  g_mutex_unlock (&self->lock);

  gasync_future_add_done_callback (future, member_done_cb, g_object_ref (self), g_object_unref);

  if (cancel)
    gasync_future_cancel (future);
}

/**
 * gasync_scope_spawn: (skip)
 * @self: a scope
 * @name: (nullable): a name for diagnostics
 * @func: the coroutine's body
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data
 *
 * Spawns a stackful coroutine on the thread-default main context, as
 * [func@Coroutine.spawn] does, and adds it to the scope.
 *
 * Returns: (transfer none): the coroutine, owned by the scope until it ends
 */
GasyncCoroutine *
gasync_scope_spawn (GasyncScope         *self,
                    const char          *name,
                    GasyncCoroutineFunc  func,
                    gpointer             user_data,
                    GDestroyNotify       destroy)
{
  g_autoptr(GasyncCoroutine) co = NULL;

  g_return_val_if_fail (GASYNC_IS_SCOPE (self), NULL);
  g_return_val_if_fail (func != NULL, NULL);

  co = gasync_coroutine_spawn (name, func, user_data, destroy);
  gasync_scope_add (self, GASYNC_FUTURE (co));
  return co;
}

/**
 * gasync_scope_spawn_stepped:
 * @self: a scope
 * @name: (nullable): a name for diagnostics
 * @func: (scope notified) (closure user_data) (destroy destroy): the step
 *   function
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data
 *
 * Spawns a stepped coroutine on the thread-default main context, as
 * [func@Coroutine.spawn_stepped] does, and adds it to the scope.
 *
 * Returns: (transfer none): the coroutine, owned by the scope until it ends
 */
GasyncCoroutine *
gasync_scope_spawn_stepped (GasyncScope             *self,
                            const char              *name,
                            GasyncCoroutineStepFunc  func,
                            gpointer                 user_data,
                            GDestroyNotify           destroy)
{
  g_autoptr(GasyncCoroutine) co = NULL;

  g_return_val_if_fail (GASYNC_IS_SCOPE (self), NULL);
  g_return_val_if_fail (func != NULL, NULL);

  co = gasync_coroutine_spawn_stepped (NULL, name, func, user_data, destroy);
  gasync_scope_add (self, GASYNC_FUTURE (co));
  return co;
}

typedef struct
{
  GasyncScope          *scope;
  GasyncFutureCallback  callback;
  gpointer              user_data;
  GDestroyNotify        destroy;
} ScopedCallback;

static void
scoped_callback_cb (GasyncFuture *future,
                    gpointer      data)
{
  ScopedCallback *scoped = data;

  /* Checked right before the call, on the thread that disposes owners:
   * once the scope is cancelled, nothing registered through it runs. */
  if (!g_atomic_int_get (&scoped->scope->cancelled))
    scoped->callback (future, scoped->user_data);
}

static void
scoped_callback_free (gpointer data)
{
  ScopedCallback *scoped = data;

  if (scoped->destroy != NULL)
    scoped->destroy (scoped->user_data);
  g_object_unref (scoped->scope);
  g_free (scoped);
}

/**
 * gasync_scope_add_done_callback:
 * @self: a scope
 * @future: the future to watch
 * @callback: (scope notified) (closure user_data) (destroy destroy): called
 *   once @future has settled, unless the scope was cancelled by then
 * @user_data: data for @callback
 * @destroy: (nullable): frees @user_data, whether @callback ran or not
 *
 * Like [method@Future.add_done_callback], but @callback never runs once the
 * scope is cancelled, in particular once the scope's owner is disposed:
 * the safe way to update a widget when a future settles. @future is not made
 * a member of the scope; add it too if cancelling the scope should cancel
 * it.
 */
void
gasync_scope_add_done_callback (GasyncScope          *self,
                                GasyncFuture         *future,
                                GasyncFutureCallback  callback,
                                gpointer              user_data,
                                GDestroyNotify        destroy)
{
  ScopedCallback *scoped;

  g_return_if_fail (GASYNC_IS_SCOPE (self));
  g_return_if_fail (GASYNC_IS_FUTURE (future));
  g_return_if_fail (callback != NULL);

  scoped = g_new0 (ScopedCallback, 1);
  scoped->scope = g_object_ref (self);
  scoped->callback = callback;
  scoped->user_data = user_data;
  scoped->destroy = destroy;
  gasync_future_add_done_callback (future, scoped_callback_cb, scoped, scoped_callback_free);
}

/**
 * gasync_scope_cancel:
 * @self: a scope
 *
 * Cancels every member of the scope and of its child scopes, and every
 * future added later. Callbacks registered with
 * [method@Scope.add_done_callback] no longer run. Can be called from any
 * thread, any number of times.
 */
void
gasync_scope_cancel (GasyncScope *self)
{
  g_autoptr(GPtrArray) members = NULL;
  g_autoptr(GPtrArray) children = NULL;

  g_return_if_fail (GASYNC_IS_SCOPE (self));

  g_mutex_lock (&self->lock);
  g_atomic_int_set (&self->cancelled, TRUE);
  members = snapshot_members_locked (self);
  if (self->children != NULL)
    children = g_ptr_array_copy (self->children, (GCopyFunc) (void (*) (void)) g_object_ref, NULL);
  g_mutex_unlock (&self->lock);

  cancel_all (members);
  if (children != NULL)
    {
      g_ptr_array_set_free_func (children, g_object_unref);
      for (guint i = 0; i < children->len; i++)
        gasync_scope_cancel (g_ptr_array_index (children, i));
    }
}

/**
 * gasync_scope_is_cancelled:
 * @self: a scope
 *
 * Whether the scope was cancelled, directly, through its parent or by the
 * disposal of its owner.
 *
 * Returns: `TRUE` once the scope is cancelled
 */
gboolean
gasync_scope_is_cancelled (GasyncScope *self)
{
  g_return_val_if_fail (GASYNC_IS_SCOPE (self), FALSE);

  return g_atomic_int_get (&self->cancelled);
}

/**
 * gasync_scope_get_n_pending:
 * @self: a scope
 *
 * Counts the members that have not ended yet, or whose end has not been
 * delivered on their context yet.
 *
 * Returns: the number of pending members
 */
guint
gasync_scope_get_n_pending (GasyncScope *self)
{
  guint ret;

  g_return_val_if_fail (GASYNC_IS_SCOPE (self), 0);

  g_mutex_lock (&self->lock);
  ret = g_hash_table_size (self->members);
  g_mutex_unlock (&self->lock);

  return ret;
}

static void
wait_done_cb (GasyncFuture *wait,
              gpointer      user_data)
{
  GasyncScope *self = user_data;

  /* Cancelling the wait, like leaving a TaskGroup by cancellation, cancels
   * what is in the scope. */
  if (gasync_future_is_cancelled (wait))
    gasync_scope_cancel (self);
}

/**
 * gasync_scope_wait:
 * @self: a scope
 *
 * Gets a future that settles once every member has ended (at once if there
 * is none): resolved without a value, or rejected with the error of the
 * first member that was rejected. Members cancelled by the scope do not
 * count as failures. Cancelling the returned future cancels the scope.
 * Every call returns the same future.
 *
 * Returns: (transfer full): the scope's wait future
 */
GasyncFuture *
gasync_scope_wait (GasyncScope *self)
{
  GasyncFuture *wait;
  gboolean created = FALSE;

  gasync_return_rejected_if_fail (GASYNC_IS_SCOPE (self));

  g_mutex_lock (&self->lock);
  if (self->wait == NULL)
    {
      self->wait = gasync_future_new ();
      gasync_future_set_name (self->wait, "[gasync] scope wait");
      created = TRUE;
    }
  wait = g_object_ref (self->wait);
  g_mutex_unlock (&self->lock);

  if (created)
    gasync_future_add_done_callback (wait, wait_done_cb, g_object_ref (self), g_object_unref);

  maybe_settle_wait (self);
  return wait;
}

typedef struct
{
  gatomicrefcount  ref_count;
  GasyncFuture    *future;
  GObject         *owner;
} Binding;

static void
binding_unref (gpointer data)
{
  Binding *binding = data;

  if (!g_atomic_ref_count_dec (&binding->ref_count))
    return;

  g_object_unref (binding->future);
  g_free (binding);
}

static void
binding_owner_gone_cb (gpointer  data,
                       GObject  *where_the_object_was)
{
  Binding *binding = data;

  binding->owner = NULL;
  gasync_future_cancel (binding->future);
  binding_unref (binding);
}

static void
binding_future_done_cb (GasyncFuture *future,
                        gpointer      data)
{
  Binding *binding = data;

  if (binding->owner != NULL)
    {
      g_object_weak_unref (binding->owner, binding_owner_gone_cb, binding);
      binding->owner = NULL;
      binding_unref (binding);
    }
}

/**
 * gasync_future_bind_owner:
 * @future: a future
 * @owner: the object whose lifetime bounds @future
 *
 * Cancels @future when @owner is disposed, through a weak reference, so an
 * operation started for a widget or a view model ends with it. The binding
 * goes away by itself once @future settles. Call it on the thread that
 * iterates @future's main context, which must be the thread that disposes
 * @owner. For several futures, and for callbacks that must not run once
 * @owner is gone, use a scope from [ctor@Scope.new_for_owner].
 */
void
gasync_future_bind_owner (GasyncFuture *future,
                          GObject      *owner)
{
  Binding *binding;

  g_return_if_fail (GASYNC_IS_FUTURE (future));
  g_return_if_fail (G_IS_OBJECT (owner));

  binding = g_new0 (Binding, 1);
  /* One reference for the weak reference, one for the done callback. */
  g_atomic_ref_count_init (&binding->ref_count);
  g_atomic_ref_count_inc (&binding->ref_count);
  binding->future = g_object_ref (future);
  binding->owner = owner;
  g_object_weak_ref (owner, binding_owner_gone_cb, binding);
  gasync_future_add_done_callback (future, binding_future_done_cb, binding, binding_unref);
}
