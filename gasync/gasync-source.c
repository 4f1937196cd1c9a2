/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "gasync-source.h"
#include "gasync-future-private.h"

#ifdef G_OS_UNIX
# include <signal.h>
# include <glib-unix.h>
#endif

/*
 * Futures from GSources.
 *
 * A GasyncSourceFuture owns one attached GSource until the source fires or
 * the future is cancelled, whichever comes first; the source's callback
 * data holds a reference on the future, released when the source is
 * destroyed.  So a pending source future lives as long as its source is
 * attached, like a GTask in flight, and the cycle (future -> source ->
 * future) is broken by firing or cancelling.
 *
 * Firing and cancelling both take the source pointer with an atomic
 * exchange: the one that gets it drops the future's reference on the
 * source.  The outcome itself is decided by the future's own settle-once
 * rule, so a cancellation from another thread racing a dispatch on the
 * owning thread needs no further guard.
 */

#define GASYNC_TYPE_SOURCE_FUTURE (gasync_source_future_get_type ())
G_DECLARE_FINAL_TYPE (GasyncSourceFuture, gasync_source_future, GASYNC, SOURCE_FUTURE, GasyncFuture)

struct _GasyncSourceFuture
{
  GasyncFuture  parent_instance;

  /* The attached source, a reference, until the source fires or the
   * future is cancelled; exchanged atomically. */
  GSource      *source;
};

G_DEFINE_FINAL_TYPE (GasyncSourceFuture, gasync_source_future, GASYNC_TYPE_FUTURE)

static GSource *
steal_source (GasyncSourceFuture *self)
{
  return g_atomic_pointer_exchange (&self->source, NULL);
}

static void
gasync_source_future_request_cancel (GasyncFuture *future)
{
  GasyncSourceFuture *self = GASYNC_SOURCE_FUTURE (future);
  GSource *source;

  /* Settle first: a dispatch already running on the owning thread (when
   * the cancellation comes from another thread) then changes nothing. */
  GASYNC_FUTURE_CLASS (gasync_source_future_parent_class)->request_cancel (future);

  /* g_source_destroy() is thread-safe; on the owning thread it also
   * guarantees the callback never runs after this returns. */
  source = steal_source (self);
  if (source != NULL)
    {
      g_source_destroy (source);
      g_source_unref (source);
    }
}

static void
gasync_source_future_finalize (GObject *object)
{
  GasyncSourceFuture *self = GASYNC_SOURCE_FUTURE (object);

  /* The source holds a reference on the future until it is destroyed, so
   * a future that gets here has none left. */
  g_assert (self->source == NULL);

  G_OBJECT_CLASS (gasync_source_future_parent_class)->finalize (object);
}

static void
gasync_source_future_class_init (GasyncSourceFutureClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GasyncFutureClass *future_class = GASYNC_FUTURE_CLASS (klass);

  object_class->finalize = gasync_source_future_finalize;
  future_class->request_cancel = gasync_source_future_request_cancel;
}

static void
gasync_source_future_init (GasyncSourceFuture *self)
{
}

/* The source fired: resolves with @value (taken; NULL or unset for no
 * value).  Returns G_SOURCE_REMOVE for the source's callback. */
static gboolean
fired (GasyncSourceFuture *self,
       GValue             *value)
{
  GSource *source = steal_source (self);

  /* Loses harmlessly to a cancellation that settled first. */
  gasync_future_settle (GASYNC_FUTURE (self), GASYNC_FUTURE_STATE_RESOLVED, value, NULL);
  if (source != NULL)
    g_source_unref (source);

  return G_SOURCE_REMOVE;
}

static gboolean
void_fired_cb (gpointer user_data)
{
  return fired (user_data, NULL);
}

static GasyncSourceFuture *
source_future_new (void)
{
  return (GasyncSourceFuture *) g_object_new_with_properties (GASYNC_TYPE_SOURCE_FUTURE, 0, NULL, NULL);
}

/* Attaches @source (its callback already set) to the future's context. */
static GasyncFuture *
attach (GasyncSourceFuture *self,
        GSource            *source)
{
  /* Before attaching: the context may be iterated by another thread, and
   * the source may fire at once. */
  self->source = g_source_ref (source);
  g_source_attach (source, gasync_future_get_context (GASYNC_FUTURE (self)));

  return GASYNC_FUTURE (self);
}

/* A source with a plain GSourceFunc callback, consumed. */
static GasyncFuture *
attach_void (GSource    *source,
             const char *name)
{
  GasyncSourceFuture *self = source_future_new ();

  g_source_set_static_name (source, name);
  g_source_set_callback (source, void_fired_cb, g_object_ref (self), g_object_unref);
  attach (self, source);
  g_source_unref (source);

  return GASYNC_FUTURE (self);
}

/* --- Any source ------------------------------------------------------- */

static void
closure_marshal (GClosure     *closure,
                 GValue       *return_value,
                 guint         n_param_values,
                 const GValue *param_values,
                 gpointer      invocation_hint,
                 gpointer      marshal_data)
{
  GValue value = G_VALUE_INIT;

  if (n_param_values > 0)
    {
      const GValue *last = &param_values[n_param_values - 1];

      g_value_init (&value, G_VALUE_TYPE (last));
      g_value_copy (last, &value);
    }

  fired (closure->data, &value);

  if (return_value != NULL && G_VALUE_HOLDS_BOOLEAN (return_value))
    g_value_set_boolean (return_value, G_SOURCE_REMOVE);
}

static void
closure_finalized_cb (gpointer  data,
                      GClosure *closure)
{
  g_object_unref (data);
}

/* Whether g_source_set_closure() accepts @source: GLib's own source types
 * do, and any whose funcs provide closure_callback.  source_funcs is a
 * field of the public GSource struct; there is no accessor. */
static gboolean
supports_closure (GSource *source)
{
  const GSourceFuncs *funcs = source->source_funcs;

  return (funcs->closure_callback != NULL ||
          funcs == &g_timeout_funcs ||
          funcs == &g_idle_funcs ||
          funcs == &g_child_watch_funcs ||
          funcs == &g_io_watch_funcs
#ifdef G_OS_UNIX
          || funcs == &g_unix_signal_funcs
          || funcs == &g_unix_fd_source_funcs
#endif
          );
}

/**
 * gasync_future_new_for_source:
 * @source: an unattached source
 *
 * Creates a future that settles when @source fires, like GLib's sources
 * turned into something to await: `gasync_await (gasync_future_new_for_source
 * (source), &error)`.
 *
 * The future replaces the callback of @source, attaches @source to the
 * thread-default main context (the future's), and resolves the first time
 * the source dispatches; the source is then destroyed. The future resolves
 * with the last argument the source passes to its callback, or without a
 * value when it passes none:
 *
 * - timeouts, idles and Unix signal sources: no value;
 * - child watches: the wait status (`int`), as in [func@child_exited];
 * - Unix fd sources and `GIOChannel` watches: the `GIOCondition` that fired;
 * - GIO's sources: their last argument, such as the `GIOCondition` of a
 *   `GSocket` source or the stream of a pollable stream source.
 *
 * A source type of your own receives its callback as a plain
 * `GSourceFunc`, unless its `GSourceFuncs` provide `closure_callback`, in
 * which case the same rule applies. To resolve with something else, set a
 * callback of your own on the source and settle a future from it, or map
 * this future's value once it has resolved.
 *
 * Cancelling the future destroys the source. When [method@Future.cancel]
 * is called on the thread that iterates the future's main context, the
 * callback never runs after it returns. From another thread, a dispatch
 * already under way may still run, but the future is settled as cancelled
 * first, so that dispatch changes nothing, and `g_source_destroy()` is
 * thread-safe.
 *
 * The source holds a reference on the future until it fires or the future
 * is cancelled: a pending source future is not freed by dropping it, and
 * keeps its main context alive. Cancel it to stop waiting.
 *
 * Returns: (transfer full): a new future, owned by the thread-default main
 *   context
 */
GasyncFuture *
gasync_future_new_for_source (GSource *source)
{
  GasyncSourceFuture *self;

  gasync_return_rejected_if_fail (source != NULL);
  gasync_return_rejected_if_fail (!g_source_is_destroyed (source));
  gasync_return_rejected_if_fail (g_source_get_context (source) == NULL);

  self = source_future_new ();

  if (supports_closure (source))
    {
      GClosure *closure = g_closure_new_simple (sizeof (GClosure), g_object_ref (self));

      g_closure_set_marshal (closure, closure_marshal);
      g_closure_add_finalize_notifier (closure, self, closure_finalized_cb);
      /* Takes over the floating reference. */
      g_source_set_closure (source, closure);
    }
  else
    g_source_set_callback (source, void_fired_cb, g_object_ref (self), g_object_unref);

  return attach (self, source);
}

/* --- Timers ----------------------------------------------------------- */

/**
 * gasync_sleep:
 * @ms: the delay in milliseconds
 *
 * Creates a future that resolves without a value after @ms milliseconds,
 * like asyncio's `sleep()`: it never resolves before then, and resolves in
 * a later iteration of the thread-default main context even for 0.
 *
 * It is a timeout source at `G_PRIORITY_DEFAULT`; cancelling the future
 * destroys it (see [ctor@Future.new_for_source]).
 *
 * Returns: (transfer full): a new future
 */
GasyncFuture *
gasync_sleep (guint ms)
{
  return attach_void (g_timeout_source_new (ms), "[gasync] sleep");
}

/**
 * gasync_sleep_seconds:
 * @seconds: the delay in seconds
 *
 * Like [func@sleep], with a delay in whole seconds. The timer may fire up
 * to a second late, so that the wake-ups of many such timers across the
 * system are grouped, saving power (see `g_timeout_source_new_seconds()`).
 *
 * Returns: (transfer full): a new future
 */
GasyncFuture *
gasync_sleep_seconds (guint seconds)
{
  return attach_void (g_timeout_source_new_seconds (seconds), "[gasync] sleep");
}

static gboolean
deadline_dispatch (GSource     *source,
                   GSourceFunc  callback,
                   gpointer     user_data)
{
  return callback != NULL ? callback (user_data) : G_SOURCE_REMOVE;
}

static GSourceFuncs deadline_funcs = {
  .dispatch = deadline_dispatch,
};

/**
 * gasync_deadline:
 * @monotonic_us: the time to resolve at, on the clock of
 *   `g_get_monotonic_time()`, in microseconds
 *
 * Creates a future that resolves without a value once the monotonic clock
 * reaches @monotonic_us, in an iteration of the thread-default main
 * context. A time already past resolves in the next iteration.
 *
 * Unlike a chain of [func@sleep] calls, a deadline does not drift: every
 * step of a loop that awaits `gasync_deadline (start + i * period)` starts
 * on time, however long the previous one took.
 *
 * Returns: (transfer full): a new future
 */
GasyncFuture *
gasync_deadline (gint64 monotonic_us)
{
  GSource *source = g_source_new (&deadline_funcs, sizeof (GSource));

  g_source_set_ready_time (source, MAX (monotonic_us, 0));
  return attach_void (source, "[gasync] deadline");
}

#ifdef G_OS_UNIX

/* --- File descriptors, children, signals ------------------------------ */

static gboolean
fd_ready_cb (int           fd,
             GIOCondition  condition,
             gpointer      user_data)
{
  GValue value = G_VALUE_INIT;

  g_value_init (&value, G_TYPE_IO_CONDITION);
  g_value_set_flags (&value, condition);
  return fired (user_data, &value);
}

/**
 * gasync_fd_ready:
 * @fd: a file descriptor
 * @condition: the conditions to wait for, such as `G_IO_IN`
 *
 * Creates a future that resolves when @fd is ready for @condition, with
 * the `GIOCondition` that fired (a flags value). As with poll(),
 * `G_IO_HUP`, `G_IO_ERR` and `G_IO_NVAL` are reported even when not asked
 * for: check the value before reading.
 *
 * @fd must stay open while the future is pending; cancelling the future
 * stops watching it (see [ctor@Future.new_for_source]). The future does not
 * read or close @fd.
 *
 * Returns: (transfer full): a new future resolving with a `GIOCondition`
 */
GasyncFuture *
gasync_fd_ready (int          fd,
                 GIOCondition condition)
{
  GasyncSourceFuture *self;
  GSource *source;

  gasync_return_rejected_if_fail (fd >= 0);

  self = source_future_new ();
  gasync_future_set_value_type (GASYNC_FUTURE (self), G_TYPE_IO_CONDITION);

  source = g_unix_fd_source_new (fd, condition);
  g_source_set_static_name (source, "[gasync] fd ready");
  g_source_set_callback (source, (GSourceFunc) G_CALLBACK (fd_ready_cb),
                         g_object_ref (self), g_object_unref);
  attach (self, source);
  g_source_unref (source);

  return GASYNC_FUTURE (self);
}

static void
child_exited_cb (GPid     pid,
                 int      wait_status,
                 gpointer user_data)
{
  GValue value = G_VALUE_INIT;

  g_value_init (&value, G_TYPE_INT);
  g_value_set_int (&value, wait_status);
  fired (user_data, &value);
}

/**
 * gasync_child_exited:
 * @pid: the process id of a child process
 *
 * Creates a future that resolves when the child process @pid exits, with
 * its wait status (an `int`), like a `GChildWatchSource`. Pass the status
 * to `g_spawn_check_wait_status()` to turn an abnormal exit into a
 * `GError`, or read it with `WIFEXITED()` and `WEXITSTATUS()`:
 *
 * ```c
 * int status = gasync_await_int (gasync_child_exited (pid), error);
 * if (*error == NULL && !g_spawn_check_wait_status (status, error))
 *   return FALSE;
 * g_spawn_close_pid (pid);
 * ```
 *
 * @pid must be a child of this process, spawned with
 * `G_SPAWN_DO_NOT_REAP_CHILD`, and nothing else may reap it (no
 * `waitpid()` elsewhere, no other child watch). The future reaps the child
 * when it resolves. Cancelling the future stops watching and leaves the
 * child unreaped: it stays a zombie once it exits until something waits
 * for it.
 *
 * Returns: (transfer full): a new future resolving with an `int`
 */
GasyncFuture *
gasync_child_exited (GPid pid)
{
  GasyncSourceFuture *self;
  GSource *source;

  gasync_return_rejected_if_fail (pid > 0);

  self = source_future_new ();
  gasync_future_set_value_type (GASYNC_FUTURE (self), G_TYPE_INT);

  source = g_child_watch_source_new (pid);
  g_source_set_static_name (source, "[gasync] child exited");
  g_source_set_callback (source, (GSourceFunc) G_CALLBACK (child_exited_cb),
                         g_object_ref (self), g_object_unref);
  attach (self, source);
  g_source_unref (source);

  return GASYNC_FUTURE (self);
}

static gboolean
is_supported_signal (int signum)
{
  return (signum == SIGHUP || signum == SIGINT || signum == SIGTERM ||
          signum == SIGUSR1 || signum == SIGUSR2 || signum == SIGWINCH);
}

/**
 * gasync_unix_signal:
 * @signum: a signal number: `SIGHUP`, `SIGINT`, `SIGTERM`, `SIGUSR1`,
 *   `SIGUSR2` or `SIGWINCH`
 *
 * Creates a future that resolves without a value the next time the process
 * receives @signum, through `g_unix_signal_source_new()`: the future settles
 * in the main loop, not in a signal handler, so anything may be done then.
 *
 * It resolves once; to handle the signal again, await a new future. While
 * any such future (or other GLib signal source) for @signum is pending,
 * GLib's handler replaces the default action of the signal; once the last
 * one is gone, the default action is back (for `SIGINT`, ending the
 * process), so a signal arriving between two futures is not caught.
 * Cancelling the future stops waiting (see [ctor@Future.new_for_source]).
 *
 * Returns: (transfer full): a new future
 */
GasyncFuture *
gasync_unix_signal (int signum)
{
  gasync_return_rejected_if_fail (is_supported_signal (signum));

  return attach_void (g_unix_signal_source_new (signum), "[gasync] unix signal");
}

#endif /* G_OS_UNIX */
