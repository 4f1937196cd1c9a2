/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "gasync-combinators.h"
#include "gasync-error.h"
#include "gasync-future-private.h"

/**
 * GasyncCombinator:
 *
 * A future made of other futures: the result of [func@all],
 * [func@all_settled], [func@any], [func@race], [func@wait],
 * [func@with_timeout], [func@shield], [func@then], [func@catch] and
 * [func@finally].
 *
 * Combinators never block and cost O(N) in total for N children: one done
 * callback per child, each doing constant work. They keep themselves and
 * their children alive until they settle; cancel one to let go early.
 *
 * Cancelling a combinator cancels the children that are still pending,
 * except through [func@shield]. [func@all], [func@any] and [func@race] also
 * cancel the children whose outcome no longer matters once they have
 * settled; [func@all_settled] and [func@wait] leave them alone.
 *
 * A child that ends rejected counts as read by the combinator, so it never
 * warns that its error was never retrieved.
 *
 * ```c
 * g_autoptr(GPtrArray) both = NULL;
 *
 * // Inside a coroutine: load two files at once, fail if either fails.
 * both = gasync_await_boxed (gasync_all (load (a), load (b), NULL),
 *                            G_TYPE_PTR_ARRAY, error);
 * ```
 */

typedef enum
{
  KIND_ALL,
  KIND_ALL_SETTLED,
  KIND_ANY,
  KIND_RACE,
  KIND_WAIT,
  KIND_TIMEOUT,
  KIND_SHIELD,
  KIND_THEN,
  KIND_CATCH,
  KIND_FINALLY,
} Kind;

typedef struct _Core Core;

/*
 * One per child, in an array of the core.  The done callback registered on
 * the child is embedded here rather than allocated per child: a gather of
 * 100,000 futures would otherwise make 100,000 small allocations.  Like
 * every embedded node, it belongs to the core again once it has run; a
 * child disposed with g_object_run_dispose() while the node is still
 * linked drops it, and the combinator then never hears from that child
 * (nor did it when the node was allocated: the core holds the combinator
 * until it settles).
 */
typedef struct
{
  GasyncDoneCallback  node;
  Core               *core;
  guint               index;
  /* The child's latest progress (KIND_ALL); guarded by the core's lock. */
  double              progress;
} Link;

/*
 * Shared by the combinator and the done callbacks registered on its
 * children, which may run on other threads (children of other contexts).
 * The combinator holds a reference, and the registered callbacks together
 * hold one (links_pending counts them); the core holds the combinator
 * until it settles, so a running combinator is never finalized under its
 * children's feet.
 */
struct _Core
{
  gatomicrefcount   ref_count;
  Kind              kind;
  GasyncWaitMode    mode;

  /* Read-only after creation: the children, each referenced. */
  GPtrArray        *children;
  Link             *links;

  /* Registered links that have not run yet; atomic. */
  int               links_pending;

  /* Guards everything below. */
  GMutex            lock;
  GasyncCombinator *owner;
  gboolean          finished;
  guint             n_settled;
  guint             n_failed;
  GPtrArray        *done_order;
  double            progress_sum;
  GSource          *timer;
  GasyncFuture     *next;

  /* Continuations (then / catch / finally); run at most once. */
  GasyncThenFunc    func;
  gpointer          data;
  GDestroyNotify    destroy;
};

struct _GasyncCombinator
{
  GasyncFuture  parent_instance;
  Core         *core;
};

G_DEFINE_FINAL_TYPE (GasyncCombinator, gasync_combinator, GASYNC_TYPE_FUTURE)

static Core *
core_ref (Core *core)
{
  g_atomic_ref_count_inc (&core->ref_count);
  return core;
}

static void
core_unref (Core *core)
{
  if (!g_atomic_ref_count_dec (&core->ref_count))
    return;

  g_assert (core->owner == NULL);
  g_assert (core->timer == NULL);
  if (core->destroy != NULL)
    core->destroy (core->data);
  g_clear_object (&core->next);
  g_clear_pointer (&core->done_order, g_ptr_array_unref);
  g_ptr_array_unref (core->children);
  g_free (core->links);
  g_mutex_clear (&core->lock);
  g_free (core);
}

/* A link ran for the last time. */
static void
link_done (Core *core)
{
  if (g_atomic_int_dec_and_test (&core->links_pending))
    core_unref (core);
}

/* Settles @owner like @source: same value, error or cancellation. */
static void
settle_like (GasyncFuture *owner,
             GasyncFuture *source)
{
  GValue value = G_VALUE_INIT;
  GError *error = NULL;

  if (gasync_future_get_value (source, &value, &error))
    {
      if (G_IS_VALUE (&value))
        gasync_future_take_value (owner, &value);
      else
        gasync_future_resolve_void (owner);
    }
  else
    gasync_future_take_error (owner, error);
}

static gboolean
is_failed (GasyncFuture *future)
{
  GasyncFutureState state = gasync_future_peek_state (future);

  return state == GASYNC_FUTURE_STATE_REJECTED || state == GASYNC_FUTURE_STATE_CANCELLED;
}

static void
cancel_pending_children (Core *core)
{
  for (guint i = 0; i < core->children->len; i++)
    {
      GasyncFuture *child = g_ptr_array_index (core->children, i);

      if (!gasync_future_is_done (child))
        gasync_future_cancel (child);
    }
}

/* Ends the combinator; called with the lock held, returns the owner's
 * reference (or NULL if it had already ended) with the lock released. */
static GasyncCombinator *
finish_locked (Core *core)
{
  GasyncCombinator *owner = NULL;
  GSource *timer;

  if (!core->finished)
    {
      core->finished = TRUE;
      owner = g_steal_pointer (&core->owner);
    }
  timer = g_steal_pointer (&core->timer);
  g_mutex_unlock (&core->lock);

  if (timer != NULL)
    {
      g_source_destroy (timer);
      g_source_unref (timer);
    }

  return owner;
}

/* Frees a hold on a child, the combinator's own or that of the array it
 * resolves with: when it is the last, a plain future (say, one a variadic
 * form took over) is recycled. */
static void
release_child (gpointer child)
{
  gasync_future_release (child);
}

static GPtrArray *
copy_children (GPtrArray *children)
{
  GPtrArray *copy = g_ptr_array_new_full (children->len, release_child);

  for (guint i = 0; i < children->len; i++)
    g_ptr_array_add (copy, g_object_ref (g_ptr_array_index (children, i)));
  return copy;
}

static void
resolve_with_array (GasyncFuture *owner,
                    GPtrArray    *array)
{
  GValue value = G_VALUE_INIT;

  g_value_init (&value, G_TYPE_PTR_ARRAY);
  g_value_take_boxed (&value, array);
  gasync_future_take_value (owner, &value);
}

static void
reject_all_failed (GasyncFuture *owner,
                   GPtrArray    *children)
{
  GString *message = g_string_new (NULL);

  g_string_append_printf (message, "All %u futures failed:", children->len);
  for (guint i = 0; i < children->len; i++)
    {
      g_autoptr(GError) error = NULL;

      /* Bounded: an any() of any()s would otherwise double its message at
       * each level (found by tests/fuzz). */
      if (message->len >= 1024)
        {
          g_string_append_printf (message, "; and %u more", children->len - i);
          break;
        }
      gasync_future_propagate_error (g_ptr_array_index (children, i), &error);
      g_string_append_printf (message, "%s %s", i > 0 ? ";" : "", error->message);
    }
  gasync_future_take_error (owner, g_error_new_literal (GASYNC_ERROR, GASYNC_ERROR_FAILED,
                                                        message->str));
  g_string_free (message, TRUE);
}

static void run_continuation (Core *core, GasyncFuture *child);

/* Called with the lock held, while the combinator runs (KIND_ALL).  The
 * owner's lock (and its scheduler's) nest inside the core's, never the
 * other way round: this saves a reference round trip per child. */
static void
update_progress_locked (Core   *core,
                        Link   *link,
                        double  progress)
{
  core->progress_sum += progress - link->progress;
  link->progress = progress;
  gasync_future_update_progress ((GasyncFuture *) core->owner,
                                 CLAMP (core->progress_sum / core->children->len, 0.0, 1.0));
}

static void child_settled (Link *link, GasyncFuture *child);

static void
child_done_cb (GasyncFuture *child,
               gpointer      user_data)
{
  Link *link = user_data;
  Core *core = link->core;

  /* A progress notification (only KIND_ALL's links watch progress) finds
   * the node still linked; the done callback runs once it was unlinked.
   * Both run on the child's context, one after the other.  Not
   * gasync_future_is_done(): the child may settle on another thread while
   * its progress is being delivered here, and the node must count its
   * child once. */
  if (link->node.owner != NULL)
    {
      double progress = MAX (gasync_future_get_progress (child), 0.0);

      g_mutex_lock (&core->lock);
      if (!core->finished)
        update_progress_locked (core, link, progress);
      g_mutex_unlock (&core->lock);
      return;
    }

  child_settled (link, child);
  link_done (core);
}

static void
child_settled (Link         *link,
               GasyncFuture *child)
{
  Core *core = link->core;
  GasyncCombinator *owner;
  gboolean failed;
  gboolean finish = FALSE;

  failed = is_failed (child);
  if (failed)
    gasync_future_propagate_error (child, NULL);

  /* The second stage of a continuation: the future its function returned. */
  if (link->index == 1 && core->kind >= KIND_THEN)
    {
      g_mutex_lock (&core->lock);
      owner = finish_locked (core);
      if (owner == NULL)
        return;
      if (core->kind == KIND_FINALLY && !failed)
        settle_like (GASYNC_FUTURE (owner), g_ptr_array_index (core->children, 0));
      else
        settle_like (GASYNC_FUTURE (owner), child);
      g_object_unref (owner);
      return;
    }

  if (core->kind >= KIND_THEN)
    {
      run_continuation (core, child);
      return;
    }

  g_mutex_lock (&core->lock);
  if (core->finished)
    {
      g_mutex_unlock (&core->lock);
      return;
    }

  core->n_settled++;
  core->n_failed += failed;
  if (core->done_order != NULL)
    g_ptr_array_add (core->done_order, g_object_ref (child));
  if (core->kind == KIND_ALL && !failed)
    update_progress_locked (core, link, 1.0);

  switch (core->kind)
    {
    case KIND_ALL:
      finish = failed || core->n_settled == core->children->len;
      break;

    case KIND_ALL_SETTLED:
      finish = core->n_settled == core->children->len;
      break;

    case KIND_ANY:
      finish = !failed || core->n_failed == core->children->len;
      break;

    case KIND_RACE:
    case KIND_TIMEOUT:
    case KIND_SHIELD:
      finish = TRUE;
      break;

    case KIND_WAIT:
      finish = core->n_settled == core->children->len ||
               core->mode == GASYNC_WAIT_FIRST_COMPLETED ||
               (core->mode == GASYNC_WAIT_FIRST_EXCEPTION && failed);
      break;

    case KIND_THEN:
    case KIND_CATCH:
    case KIND_FINALLY:
    default:
      g_assert_not_reached ();
    }

  if (!finish)
    {
      g_mutex_unlock (&core->lock);
      return;
    }

  owner = finish_locked (core);
  if (owner == NULL)
    return;

  switch (core->kind)
    {
    case KIND_ALL:
      if (failed)
        {
          settle_like (GASYNC_FUTURE (owner), child);
          cancel_pending_children (core);
        }
      else
        resolve_with_array (GASYNC_FUTURE (owner), g_ptr_array_ref (core->children));
      break;

    case KIND_ALL_SETTLED:
      resolve_with_array (GASYNC_FUTURE (owner), g_ptr_array_ref (core->children));
      break;

    case KIND_ANY:
      if (failed)
        reject_all_failed (GASYNC_FUTURE (owner), core->children);
      else
        {
          settle_like (GASYNC_FUTURE (owner), child);
          cancel_pending_children (core);
        }
      break;

    case KIND_RACE:
      settle_like (GASYNC_FUTURE (owner), child);
      cancel_pending_children (core);
      break;

    case KIND_TIMEOUT:
    case KIND_SHIELD:
      settle_like (GASYNC_FUTURE (owner), child);
      break;

    case KIND_WAIT:
      {
        GPtrArray *done;

        g_mutex_lock (&core->lock);
        done = copy_children (core->done_order);
        g_mutex_unlock (&core->lock);
        resolve_with_array (GASYNC_FUTURE (owner), done);
      }
      break;

    case KIND_THEN:
    case KIND_CATCH:
    case KIND_FINALLY:
    default:
      g_assert_not_reached ();
    }

  g_object_unref (owner);
}

/* Registers link @index on @child; links_pending counts it already. */
static void
watch (Core         *core,
       guint         index,
       GasyncFuture *child)
{
  gasync_future_add_done_node (child, &core->links[index].node);
}

/* The first stage of then / catch / finally settled. */
static void
run_continuation (Core         *core,
                  GasyncFuture *child)
{
  GasyncCombinator *owner;
  GasyncThenFunc func;
  GasyncFuture *next;
  gboolean call;

  switch (core->kind)
    {
    case KIND_THEN:
      call = gasync_future_get_state (child) == GASYNC_FUTURE_STATE_RESOLVED;
      break;
    case KIND_CATCH:
      call = gasync_future_get_state (child) == GASYNC_FUTURE_STATE_REJECTED;
      break;
    case KIND_FINALLY:
    default:
      call = TRUE;
      break;
    }

  g_mutex_lock (&core->lock);
  if (core->finished)
    {
      g_mutex_unlock (&core->lock);
      return;
    }
  if (!call)
    {
      owner = finish_locked (core);
      settle_like (GASYNC_FUTURE (owner), child);
      g_object_unref (owner);
      return;
    }
  func = g_steal_pointer (&core->func);
  owner = g_object_ref (core->owner);
  g_mutex_unlock (&core->lock);

  next = func (child, core->data);
  if (next != NULL && !GASYNC_IS_FUTURE (next))
    {
      g_critical ("A continuation returned something that is not a future");
      next = NULL;
    }

  if (next == NULL)
    {
      g_mutex_lock (&core->lock);
      g_clear_object (&owner);
      owner = finish_locked (core);
      if (owner != NULL)
        {
          if (core->kind == KIND_FINALLY)
            settle_like (GASYNC_FUTURE (owner), child);
          else
            gasync_future_resolve_void (GASYNC_FUTURE (owner));
          g_object_unref (owner);
        }
      return;
    }

  /* Wait for the returned future as the second stage; the combinator may
   * have been cancelled meanwhile, and then the new future is too. */
  g_mutex_lock (&core->lock);
  core->next = g_object_ref (next);
  if (core->finished)
    {
      g_mutex_unlock (&core->lock);
      gasync_future_cancel (next);
    }
  else
    {
      g_mutex_unlock (&core->lock);
      /* Called from link 0, which has not finished yet: links_pending
       * cannot have dropped to 0. */
      g_atomic_int_inc (&core->links_pending);
      watch (core, 1, next);
    }
  g_object_unref (next);
  g_object_unref (owner);
}

static gboolean
timeout_cb (gpointer user_data)
{
  Core *core = user_data;
  GasyncCombinator *owner;

  g_mutex_lock (&core->lock);
  if (core->finished)
    {
      g_mutex_unlock (&core->lock);
      return G_SOURCE_REMOVE;
    }
  owner = finish_locked (core);

  gasync_future_cancel (g_ptr_array_index (core->children, 0));
  gasync_future_take_error (GASYNC_FUTURE (owner),
                            g_error_new_literal (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                                 "The operation timed out"));
  g_object_unref (owner);
  return G_SOURCE_REMOVE;
}

static void
gasync_combinator_request_cancel (GasyncFuture *future)
{
  GasyncCombinator *self = GASYNC_COMBINATOR (future);
  Core *core = self->core;
  GasyncCombinator *owner;
  GasyncFuture *next;

  g_mutex_lock (&core->lock);
  next = core->next ? g_object_ref (core->next) : NULL;
  owner = finish_locked (core);

  if (core->kind != KIND_SHIELD)
    cancel_pending_children (core);
  if (next != NULL)
    {
      gasync_future_cancel (next);
      g_object_unref (next);
    }

  gasync_future_settle (future, GASYNC_FUTURE_STATE_CANCELLED, NULL, NULL);
  g_clear_object (&owner);
}

static void
gasync_combinator_finalize (GObject *object)
{
  GasyncCombinator *self = (GasyncCombinator *) object;

  core_unref (self->core);

  ((GObjectClass *) gasync_combinator_parent_class)->finalize (object);
}

static void
gasync_combinator_class_init (GasyncCombinatorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GasyncFutureClass *future_class = GASYNC_FUTURE_CLASS (klass);

  object_class->finalize = gasync_combinator_finalize;
  future_class->request_cancel = gasync_combinator_request_cancel;
}

static void
gasync_combinator_init (GasyncCombinator *self)
{
}

/* Takes @children (an array owning a reference to each child). */
static GasyncCombinator *
combinator_new (Kind            kind,
                GasyncWaitMode  mode,
                GPtrArray      *children)
{
  GasyncCombinator *self;
  Core *core;

  self = (GasyncCombinator *) g_object_new_with_properties (GASYNC_TYPE_COMBINATOR, 0, NULL, NULL);
  core = g_new0 (Core, 1);
  g_atomic_ref_count_init (&core->ref_count);
  g_mutex_init (&core->lock);
  core->kind = kind;
  core->mode = mode;
  core->children = children;
  core->links = g_new (Link, MAX (children->len, 2));
  for (guint i = 0; i < MAX (children->len, 2); i++)
    {
      Link *link = &core->links[i];

      link->node = (GasyncDoneCallback) {
        .func = child_done_cb,
        .data = link,
        .embedded = TRUE,
        /* Only all() aggregates its children's progress. */
        .watch_progress = kind == KIND_ALL,
      };
      link->core = core;
      link->index = i;
      link->progress = 0.0;
    }
  core->owner = g_object_ref (self);
  if (kind == KIND_WAIT)
    core->done_order = g_ptr_array_new_with_free_func (release_child);
  self->core = core;

  /* Declared up front, so bindings know to read the children instead. */
  if (kind == KIND_ALL || kind == KIND_ALL_SETTLED || kind == KIND_WAIT)
    gasync_future_set_value_type (GASYNC_FUTURE (self), G_TYPE_PTR_ARRAY);

  return self;
}

static void
start (GasyncCombinator *self)
{
  Core *core = self->core;
  guint n = core->children->len;

  if (n == 0)
    {
      GasyncCombinator *owner;

      g_mutex_lock (&core->lock);
      owner = finish_locked (core);

      switch (core->kind)
        {
        case KIND_ANY:
        case KIND_RACE:
          gasync_future_reject_literal (GASYNC_FUTURE (self), GASYNC_ERROR, GASYNC_ERROR_FAILED,
                                        "There are no futures to wait for");
          break;
        default:
          resolve_with_array (GASYNC_FUTURE (self), g_ptr_array_ref (core->children));
          break;
        }
      g_clear_object (&owner);
      return;
    }

  /* The links' shared reference, dropped when the last one has run. */
  core_ref (core);
  g_atomic_int_set (&core->links_pending, (int) n);
  for (guint i = 0; i < n; i++)
    watch (core, i, g_ptr_array_index (core->children, i));
}

static GPtrArray *
collect_valist (GasyncFuture *first,
                va_list       args)
{
  GPtrArray *children = g_ptr_array_new_with_free_func (release_child);

  for (GasyncFuture *iter = first; iter != NULL; iter = va_arg (args, GasyncFuture *))
    {
      if (!GASYNC_IS_FUTURE (iter))
        {
          g_critical ("%s: argument %u is not a future", G_STRFUNC, children->len);
          continue;
        }
      g_ptr_array_add (children, iter);
    }
  return children;
}

/* The check collect_array() makes of each future, as its critical and the
 * refusal's error message give it. */
#define ARRAY_CHECK "GASYNC_IS_FUTURE (futures[i])"

/*
 * Checks and references the futures of an array form in one pass: with
 * 100,000 of them, a pass over their memory costs more in cache misses than
 * the work done in it.  Warns like g_return_val_if_fail() on behalf of
 * @caller and returns NULL if one is not a future; @caller then returns
 * refused() for ARRAY_CHECK, as return_refused_if_fail() would.
 */
static GPtrArray *
collect_array (GasyncFuture **futures,
               guint          n_futures,
               const char    *caller)
{
  GPtrArray *children = g_ptr_array_new_full (n_futures, release_child);

  for (guint i = 0; i < n_futures; i++)
    {
      if G_UNLIKELY (!GASYNC_IS_FUTURE (futures[i]))
        {
          g_return_if_fail_warning (G_LOG_DOMAIN, caller, ARRAY_CHECK);
          g_ptr_array_unref (children);
          return NULL;
        }
      g_ptr_array_add (children, g_object_ref (futures[i]));
    }
  return children;
}

static GasyncFuture *
combine (Kind            kind,
         GasyncWaitMode  mode,
         GPtrArray      *children)
{
  GasyncCombinator *self = combinator_new (kind, mode, children);

  start (self);
  return GASYNC_FUTURE (self);
}

/*
 * The refusal of a call here on a failed precondition: a combinator, as
 * each of these calls is documented to return (callers may cast it),
 * already rejected with GASYNC_ERROR_FAILED and the message of the
 * critical, as gasync_return_rejected_if_fail() does for other calls.
 */
static GasyncFuture *
refused (const char *strfunc,
         const char *expression)
{
  GasyncCombinator *self = combinator_new (KIND_RACE, GASYNC_WAIT_ALL_COMPLETED,
                                           g_ptr_array_new_with_free_func (g_object_unref));
  GasyncCombinator *owner;

  g_mutex_lock (&self->core->lock);
  owner = finish_locked (self->core);
  gasync_future_take_error (GASYNC_FUTURE (self), gasync_failed_check_error (strfunc, expression));
  g_clear_object (&owner);
  return GASYNC_FUTURE (self);
}

/* gasync_return_rejected_if_fail(), with a combinator as the refusal. */
#define return_refused_if_fail(expr) gasync_return_if_fail_with_ (expr, #expr, refused)

#define DEFINE_VARIADIC(name, kind)                                          \
GasyncFuture *                                                               \
gasync_##name (GasyncFuture *first,                                          \
               ...)                                                          \
{                                                                            \
  GPtrArray *children;                                                       \
  va_list args;                                                              \
                                                                             \
  va_start (args, first);                                                    \
  children = collect_valist (first, args);                                   \
  va_end (args);                                                             \
                                                                             \
  return combine (kind, GASYNC_WAIT_ALL_COMPLETED, children);                \
}

#define DEFINE_ARRAY(name, kind)                                             \
GasyncFuture *                                                               \
gasync_##name##v (GasyncFuture **futures,                                    \
                  guint          n_futures)                                  \
{                                                                            \
  GPtrArray *children;                                                       \
                                                                             \
  return_refused_if_fail (n_futures == 0 || futures != NULL);                \
                                                                             \
  if (!(children = collect_array (futures, n_futures, G_STRFUNC)))           \
    return refused (G_STRFUNC, ARRAY_CHECK);                                 \
  return combine (kind, GASYNC_WAIT_ALL_COMPLETED, children);                \
}

/**
 * gasync_all: (skip)
 * @first: (transfer full) (nullable): the first future, or `NULL` for none
 * @...: more futures, each `(transfer full)`, ending with `NULL`
 *
 * Waits for all the futures, like asyncio's `gather()`: resolves with a
 * `GPtrArray` of the children (in the order given, each resolved) when all
 * have resolved. The first child to fail (rejected or cancelled) settles
 * the combinator the same way, and the other children are cancelled. With
 * no futures it resolves with an empty array.
 *
 * The array is the one [method@Combinator.get_children] returns, shared by
 * everyone who reads the value: treat it as read-only.
 *
 * The combinator's [property@Future:progress] aggregates the children's:
 * the mean of their progress, counting settled children as 1.
 *
 * Takes ownership of each future, so calls that return futures can be
 * written inline.
 *
 * Returns: (transfer full): a [class@Combinator]
 */
DEFINE_VARIADIC (all, KIND_ALL)

/**
 * gasync_allv: (rename-to gasync_all)
 * @futures: (array length=n_futures) (transfer none): the futures
 * @n_futures: the number of futures
 *
 * Like [func@all], for an array of futures. The combinator takes its own
 * references.
 *
 * Returns: (transfer full): a [class@Combinator]
 */
DEFINE_ARRAY (all, KIND_ALL)

/**
 * gasync_all_settled: (skip)
 * @first: (transfer full) (nullable): the first future, or `NULL` for none
 * @...: more futures, each `(transfer full)`, ending with `NULL`
 *
 * Waits for all the futures to settle, whatever their outcome, and resolves
 * with a `GPtrArray` of the children in the order given (the read-only
 * array [method@Combinator.get_children] returns). It never fails unless
 * it is cancelled itself.
 *
 * Returns: (transfer full): a [class@Combinator]
 */
DEFINE_VARIADIC (all_settled, KIND_ALL_SETTLED)

/**
 * gasync_all_settledv: (rename-to gasync_all_settled)
 * @futures: (array length=n_futures) (transfer none): the futures
 * @n_futures: the number of futures
 *
 * Like [func@all_settled], for an array of futures.
 *
 * Returns: (transfer full): a [class@Combinator]
 */
DEFINE_ARRAY (all_settled, KIND_ALL_SETTLED)

/**
 * gasync_any: (skip)
 * @first: (transfer full) (nullable): the first future, or `NULL` for none
 * @...: more futures, each `(transfer full)`, ending with `NULL`
 *
 * Waits for the first future to resolve, and resolves with its value; the
 * other children are cancelled. If all fail, it is rejected with
 * `GASYNC_ERROR_FAILED`, whose message lists the children's errors (about
 * the first kilobyte of them); the children themselves stay reachable with
 * [method@Combinator.get_children]. With no futures it is rejected at once.
 *
 * Returns: (transfer full): a [class@Combinator]
 */
DEFINE_VARIADIC (any, KIND_ANY)

/**
 * gasync_anyv: (rename-to gasync_any)
 * @futures: (array length=n_futures) (transfer none): the futures
 * @n_futures: the number of futures
 *
 * Like [func@any], for an array of futures.
 *
 * Returns: (transfer full): a [class@Combinator]
 */
DEFINE_ARRAY (any, KIND_ANY)

/**
 * gasync_race: (skip)
 * @first: (transfer full) (nullable): the first future, or `NULL` for none
 * @...: more futures, each `(transfer full)`, ending with `NULL`
 *
 * Settles like the first future to settle, with its value, error or
 * cancellation; the other children are cancelled. With no futures it is
 * rejected at once rather than never settling.
 *
 * Returns: (transfer full): a [class@Combinator]
 */
DEFINE_VARIADIC (race, KIND_RACE)

/**
 * gasync_racev: (rename-to gasync_race)
 * @futures: (array length=n_futures) (transfer none): the futures
 * @n_futures: the number of futures
 *
 * Like [func@race], for an array of futures.
 *
 * Returns: (transfer full): a [class@Combinator]
 */
DEFINE_ARRAY (race, KIND_RACE)

/**
 * gasync_wait: (skip)
 * @mode: when to settle
 * @first: (transfer full) (nullable): the first future, or `NULL` for none
 * @...: more futures, each `(transfer full)`, ending with `NULL`
 *
 * Waits like asyncio's `wait()`: resolves, when @mode says, with a
 * `GPtrArray` of the children that are done, in the order they settled.
 * [method@Combinator.dup_pending] tells which are still pending. It never
 * fails and never cancels the children, unless it is cancelled itself.
 *
 * Returns: (transfer full): a [class@Combinator]
 */
GasyncFuture *
gasync_wait (GasyncWaitMode  mode,
             GasyncFuture   *first,
             ...)
{
  GPtrArray *children;
  va_list args;

  /* The futures are ours whatever happens: collected first, so that a
   * refused call releases them instead of leaking them. */
  va_start (args, first);
  children = collect_valist (first, args);
  va_end (args);

  if (mode > GASYNC_WAIT_ALL_COMPLETED)
    {
      g_ptr_array_unref (children);
      return_refused_if_fail (mode <= GASYNC_WAIT_ALL_COMPLETED);
    }

  return combine (KIND_WAIT, mode, children);
}

/**
 * gasync_waitv: (rename-to gasync_wait)
 * @mode: when to settle
 * @futures: (array length=n_futures) (transfer none): the futures
 * @n_futures: the number of futures
 *
 * Like [func@wait], for an array of futures.
 *
 * Returns: (transfer full): a [class@Combinator]
 */
GasyncFuture *
gasync_waitv (GasyncWaitMode   mode,
              GasyncFuture   **futures,
              guint            n_futures)
{
  GPtrArray *children;

  return_refused_if_fail (mode <= GASYNC_WAIT_ALL_COMPLETED);
  return_refused_if_fail (n_futures == 0 || futures != NULL);

  if (!(children = collect_array (futures, n_futures, G_STRFUNC)))
    return refused (G_STRFUNC, ARRAY_CHECK);
  return combine (KIND_WAIT, mode, children);
}

static GPtrArray *
single (GasyncFuture *future)
{
  GPtrArray *children = g_ptr_array_new_full (1, release_child);

  g_ptr_array_add (children, future);
  return children;
}

/**
 * gasync_with_timeout:
 * @future: (transfer full): the future to wait for
 * @timeout_ms: the time limit in milliseconds
 *
 * Settles like @future if it settles within @timeout_ms; otherwise cancels
 * it and is rejected with `G_IO_ERROR_TIMED_OUT`, like asyncio's
 * `wait_for()`. The timer runs on the thread-default main context.
 *
 * Returns: (transfer full): a [class@Combinator]
 */
GasyncFuture *
gasync_with_timeout (GasyncFuture *future,
                     guint         timeout_ms)
{
  GasyncCombinator *self;
  GSource *timer;

  return_refused_if_fail (GASYNC_IS_FUTURE (future));

  self = combinator_new (KIND_TIMEOUT, GASYNC_WAIT_ALL_COMPLETED, single (future));

  timer = g_timeout_source_new (timeout_ms);
  g_source_set_static_name (timer, "[gasync] with_timeout");
  g_source_set_callback (timer, timeout_cb, core_ref (self->core), (GDestroyNotify) core_unref);
  self->core->timer = timer;
  g_source_attach (timer, gasync_future_get_context (GASYNC_FUTURE (self)));

  start (self);
  return GASYNC_FUTURE (self);
}

/**
 * gasync_shield:
 * @future: (transfer full): the future to protect
 *
 * Settles like @future, but cancelling the returned future does not cancel
 * @future, like asyncio's `shield()`: the shield itself ends cancelled and
 * @future goes on.
 *
 * Returns: (transfer full): a [class@Combinator]
 */
GasyncFuture *
gasync_shield (GasyncFuture *future)
{
  return_refused_if_fail (GASYNC_IS_FUTURE (future));

  return combine (KIND_SHIELD, GASYNC_WAIT_ALL_COMPLETED, single (future));
}

static GasyncFuture *
continuation (Kind            kind,
              GasyncFuture   *future,
              GasyncThenFunc  func,
              gpointer        user_data,
              GDestroyNotify  destroy)
{
  GasyncCombinator *self;

  self = combinator_new (kind, GASYNC_WAIT_ALL_COMPLETED, single (future));
  self->core->func = func;
  self->core->data = user_data;
  self->core->destroy = destroy;
  start (self);
  return GASYNC_FUTURE (self);
}

/**
 * gasync_then:
 * @future: (transfer full): the future to continue
 * @func: (scope notified) (closure user_data) (destroy destroy): called
 *   with @future once it has resolved
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data once the combinator is finalized
 *
 * Chains a continuation for callback-style code: once @future resolves,
 * @func runs (where @future's done callbacks run) and the returned future
 * settles like the future @func returns (or resolves without a value if it
 * returns `NULL`). If @future fails, @func is not called and the returned
 * future fails the same way. Cancelling the returned future cancels
 * @future, or the future @func returned.
 *
 * Returns: (transfer full): a [class@Combinator]
 */
GasyncFuture *
gasync_then (GasyncFuture   *future,
             GasyncThenFunc  func,
             gpointer        user_data,
             GDestroyNotify  destroy)
{
  return_refused_if_fail (GASYNC_IS_FUTURE (future));
  return_refused_if_fail (func != NULL);

  return continuation (KIND_THEN, future, func, user_data, destroy);
}

/**
 * gasync_catch:
 * @future: (transfer full): the future to continue
 * @func: (scope notified) (closure user_data) (destroy destroy): called
 *   with @future if it is rejected
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data once the combinator is finalized
 *
 * Like [func@then], but @func runs only if @future is rejected, and can
 * recover by returning a future (or `NULL` for a void result). A resolved
 * or cancelled @future passes through unchanged.
 *
 * Returns: (transfer full): a [class@Combinator]
 */
GasyncFuture *
gasync_catch (GasyncFuture   *future,
              GasyncThenFunc  func,
              gpointer        user_data,
              GDestroyNotify  destroy)
{
  return_refused_if_fail (GASYNC_IS_FUTURE (future));
  return_refused_if_fail (func != NULL);

  return continuation (KIND_CATCH, future, func, user_data, destroy);
}

/**
 * gasync_finally:
 * @future: (transfer full): the future to continue
 * @func: (scope notified) (closure user_data) (destroy destroy): called
 *   with @future once it has settled, in any state
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data once the combinator is finalized
 *
 * Runs @func once @future has settled, whatever its outcome, then settles
 * like @future, after the future @func returned (if any) has settled; if
 * that one fails, its failure wins.
 *
 * Returns: (transfer full): a [class@Combinator]
 */
GasyncFuture *
gasync_finally (GasyncFuture   *future,
                GasyncThenFunc  func,
                gpointer        user_data,
                GDestroyNotify  destroy)
{
  return_refused_if_fail (GASYNC_IS_FUTURE (future));
  return_refused_if_fail (func != NULL);

  return continuation (KIND_FINALLY, future, func, user_data, destroy);
}

/**
 * gasync_combinator_get_children:
 * @self: a combinator
 *
 * Gets the futures the combinator was made of, in the order given. The
 * array never changes; [func@all] and [func@all_settled] resolve with it.
 *
 * Returns: (transfer none) (element-type GasyncFuture): the children
 */
GPtrArray *
gasync_combinator_get_children (GasyncCombinator *self)
{
  g_return_val_if_fail (GASYNC_IS_COMBINATOR (self), NULL);

  return self->core->children;
}

static GPtrArray *
filter_children (GasyncCombinator *self,
                 gboolean          done)
{
  GPtrArray *children = self->core->children;
  GPtrArray *ret = g_ptr_array_new_with_free_func (release_child);

  for (guint i = 0; i < children->len; i++)
    {
      GasyncFuture *child = g_ptr_array_index (children, i);

      if (gasync_future_is_done (child) == done)
        g_ptr_array_add (ret, g_object_ref (child));
    }
  return ret;
}

/**
 * gasync_combinator_dup_done:
 * @self: a combinator
 *
 * Lists the children that have settled, in the order given.
 *
 * Returns: (transfer container) (element-type GasyncFuture): the settled
 *   children
 */
GPtrArray *
gasync_combinator_dup_done (GasyncCombinator *self)
{
  g_return_val_if_fail (GASYNC_IS_COMBINATOR (self), NULL);

  return filter_children (self, TRUE);
}

/**
 * gasync_combinator_dup_pending:
 * @self: a combinator
 *
 * Lists the children that are still pending, in the order given.
 *
 * Returns: (transfer container) (element-type GasyncFuture): the pending
 *   children
 */
GPtrArray *
gasync_combinator_dup_pending (GasyncCombinator *self)
{
  g_return_val_if_fail (GASYNC_IS_COMBINATOR (self), NULL);

  return filter_children (self, FALSE);
}
