/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ThreadSanitizer annotations for GLib's own synchronisation, linked into
 * the test programs of a `-Db_sanitize=thread` build only.
 *
 * Debian's GLib is not built with TSan, and on Linux GMutex, GRecMutex,
 * GRWLock and GCond are futex based: TSan intercepts pthread calls, not
 * these, so every lock gasync takes is invisible to it and every access
 * guarded by one is reported as a race.  The same holds for GObject's and
 * gatomicrefcount's reference counts (atomics inside uninstrumented code),
 * g_once_init_*() and the hand-over of work to a GThreadPool.
 *
 * Each function below interposes the GLib function of the same name (the
 * test executables export them; calls from gasync, GObject and GIO go
 * through the PLT and land here), calls the real one found with
 * dlsym(RTLD_NEXT) and tells TSan about the happens-before edge it makes:
 * a lock acquires, an unlock releases, a condition wait does both, a
 * reference drop releases and the last one acquires before finalizing.
 *
 * What this cannot reach: GLib's calls to itself inside libglib (GMainContext's
 * lock, GAsyncQueue, GSlice), which bind directly.  tsan.supp suppresses the
 * reports that stay entirely inside those, with reasons.
 */

#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include <glib-object.h>
#include <sanitizer/tsan_interface.h>

/* Looks the real function up on first use; threads may race to do it,
 * harmlessly, hence the atomics. */
#define REAL(name)                                                          \
  static __typeof__ (name) *real_##name##_ptr;                              \
  __typeof__ (name) *real_##name = g_atomic_pointer_get (&real_##name##_ptr); \
  if G_UNLIKELY (real_##name == NULL)                                       \
    {                                                                       \
      real_##name = (__typeof__ (name) *) dlsym (RTLD_NEXT, #name);         \
      if (real_##name == NULL)                                              \
        {                                                                   \
          fprintf (stderr, "tsan-glib: no %s after this module\n", #name); \
          abort ();                                                         \
        }                                                                   \
      g_atomic_pointer_set (&real_##name##_ptr, real_##name);               \
    }

/* Every function below has GLib's own prototype, from glib-object.h; the
 * parenthesised names are macros there. */

void
g_mutex_lock (GMutex *mutex)
{
  REAL (g_mutex_lock);
  real_g_mutex_lock (mutex);
  __tsan_acquire (mutex);
}

gboolean
g_mutex_trylock (GMutex *mutex)
{
  gboolean ret;

  REAL (g_mutex_trylock);
  ret = real_g_mutex_trylock (mutex);
  if (ret)
    __tsan_acquire (mutex);
  return ret;
}

void
g_mutex_unlock (GMutex *mutex)
{
  REAL (g_mutex_unlock);
  __tsan_release (mutex);
  real_g_mutex_unlock (mutex);
}

void
g_rec_mutex_lock (GRecMutex *mutex)
{
  REAL (g_rec_mutex_lock);
  real_g_rec_mutex_lock (mutex);
  __tsan_acquire (mutex);
}

gboolean
g_rec_mutex_trylock (GRecMutex *mutex)
{
  gboolean ret;

  REAL (g_rec_mutex_trylock);
  ret = real_g_rec_mutex_trylock (mutex);
  if (ret)
    __tsan_acquire (mutex);
  return ret;
}

void
g_rec_mutex_unlock (GRecMutex *mutex)
{
  REAL (g_rec_mutex_unlock);
  __tsan_release (mutex);
  real_g_rec_mutex_unlock (mutex);
}

void
g_rw_lock_writer_lock (GRWLock *lock)
{
  REAL (g_rw_lock_writer_lock);
  real_g_rw_lock_writer_lock (lock);
  __tsan_acquire (lock);
}

gboolean
g_rw_lock_writer_trylock (GRWLock *lock)
{
  gboolean ret;

  REAL (g_rw_lock_writer_trylock);
  ret = real_g_rw_lock_writer_trylock (lock);
  if (ret)
    __tsan_acquire (lock);
  return ret;
}

void
g_rw_lock_writer_unlock (GRWLock *lock)
{
  REAL (g_rw_lock_writer_unlock);
  __tsan_release (lock);
  real_g_rw_lock_writer_unlock (lock);
}

void
g_rw_lock_reader_lock (GRWLock *lock)
{
  REAL (g_rw_lock_reader_lock);
  real_g_rw_lock_reader_lock (lock);
  __tsan_acquire (lock);
}

gboolean
g_rw_lock_reader_trylock (GRWLock *lock)
{
  gboolean ret;

  REAL (g_rw_lock_reader_trylock);
  ret = real_g_rw_lock_reader_trylock (lock);
  if (ret)
    __tsan_acquire (lock);
  return ret;
}

void
g_rw_lock_reader_unlock (GRWLock *lock)
{
  REAL (g_rw_lock_reader_unlock);
  __tsan_release (lock);
  real_g_rw_lock_reader_unlock (lock);
}

void
g_cond_wait (GCond  *cond,
             GMutex *mutex)
{
  REAL (g_cond_wait);
  __tsan_release (mutex);
  real_g_cond_wait (cond, mutex);
  __tsan_acquire (mutex);
}

gboolean
g_cond_wait_until (GCond  *cond,
                   GMutex *mutex,
                   gint64  end_time)
{
  gboolean ret;

  REAL (g_cond_wait_until);
  __tsan_release (mutex);
  ret = real_g_cond_wait_until (cond, mutex, end_time);
  __tsan_acquire (mutex);
  return ret;
}

/* g_once_init_enter() is a macro whose fast path is an (instrumented)
 * atomic acquire load of @location: releasing the same address before the
 * real store pairs with it.  The slow path returns FALSE once another
 * thread has initialised the location. */
void
(g_once_init_leave) (volatile void *location,
                     gsize          result)
{
  REAL (g_once_init_leave);
  __tsan_release ((void *) location);
  real_g_once_init_leave (location, result);
}

gboolean
(g_once_init_enter) (volatile void *location)
{
  gboolean ret;

  REAL (g_once_init_enter);
  ret = real_g_once_init_enter (location);
  if (!ret)
    __tsan_acquire ((void *) location);
  return ret;
}

/* Reference counts: each drop releases; the drop that frees acquires every
 * earlier release first, as std::shared_ptr's count does. */
gboolean
(g_atomic_ref_count_dec) (gatomicrefcount *arc)
{
  gboolean ret;

  REAL (g_atomic_ref_count_dec);
  __tsan_release (arc);
  ret = real_g_atomic_ref_count_dec (arc);
  if (ret)
    __tsan_acquire (arc);
  return ret;
}

/* GObject's own flag for "has toggle references" in the qdata pointer
 * (gobject.c, OBJECT_HAS_TOGGLE_REF_FLAG). */
#define TOGGLE_REF_FLAG 0x1

void
g_object_unref (gpointer object)
{
  REAL (g_object_unref);

  if (object != NULL && G_IS_OBJECT (object))
    {
      GObject *gobject = object;

      /* Drops that are not the last are GObject's own fast path, a
       * compare-and-exchange, done here so that whether this drop is the
       * last is known for sure: a drop that finds the count at 1 (or an
       * object with toggle references) goes to the real function, after
       * acquiring every earlier release. */
      for (;;)
        {
          guint old = (guint) g_atomic_int_get ((int *) &gobject->ref_count);

          if (old <= 1 || (g_datalist_get_flags (&gobject->qdata) & TOGGLE_REF_FLAG) != 0)
            break;
          __tsan_release (object);
          if (g_atomic_int_compare_and_exchange ((int *) &gobject->ref_count, (int) old, (int) old - 1))
            return;
        }
      __tsan_release (object);
      __tsan_acquire (object);
    }

  real_g_object_unref (object);
}

/* A GMainContext's reference count is inside libglib and cannot be read
 * from here.  Its last reference often goes on another thread than the one
 * that iterated it (a worker drops a future, which holds one), and the
 * iterating thread's earlier accesses to the context and gasync's lanes on
 * it must be ordered before the finalization.  Each drop releases; each
 * also acquires what was released before it, which includes every earlier
 * drop whenever this one turns out to be the last. */
void
g_main_context_unref (GMainContext *context)
{
  REAL (g_main_context_unref);
  __tsan_release (context);
  __tsan_acquire (context);
  real_g_main_context_unref (context);
}

/* Work handed to a GThreadPool crosses threads through GAsyncQueue, inside
 * libglib: the push releases the item, and the pool's function is wrapped
 * to acquire it before it runs. */
typedef struct
{
  GFunc    func;
  gpointer user_data;
} PoolFunc;

static void
pool_func_trampoline (gpointer data,
                      gpointer user_data)
{
  PoolFunc *pool_func = user_data;

  __tsan_acquire (data);
  pool_func->func (data, pool_func->user_data);
}

GThreadPool *
g_thread_pool_new (GFunc      func,
                   gpointer   user_data,
                   gint       max_threads,
                   gboolean   exclusive,
                   GError   **error)
{
  PoolFunc *pool_func;

  REAL (g_thread_pool_new);
  /* Lives as long as the pool; pools of tests live as long as the
   * process, and TSan builds do not check for leaks. */
  pool_func = malloc (sizeof *pool_func);
  pool_func->func = func;
  pool_func->user_data = user_data;
  return real_g_thread_pool_new (pool_func_trampoline, pool_func,
                                 max_threads, exclusive, error);
}

gboolean
g_thread_pool_push (GThreadPool  *pool,
                    gpointer      data,
                    GError      **error)
{
  REAL (g_thread_pool_push);
  __tsan_release (data);
  return real_g_thread_pool_push (pool, data, error);
}

/* GAsyncQueue, used directly: its lock is inside libglib.  Pushing
 * releases the queue, popping something acquires it, as the lock would. */
void
g_async_queue_push (GAsyncQueue *queue,
                    gpointer     data)
{
  REAL (g_async_queue_push);
  __tsan_release (queue);
  real_g_async_queue_push (queue, data);
}

void
g_async_queue_push_front (GAsyncQueue *queue,
                          gpointer     item)
{
  REAL (g_async_queue_push_front);
  __tsan_release (queue);
  real_g_async_queue_push_front (queue, item);
}

gpointer
g_async_queue_pop (GAsyncQueue *queue)
{
  gpointer ret;

  REAL (g_async_queue_pop);
  ret = real_g_async_queue_pop (queue);
  __tsan_acquire (queue);
  return ret;
}

gpointer
g_async_queue_try_pop (GAsyncQueue *queue)
{
  gpointer ret;

  REAL (g_async_queue_try_pop);
  ret = real_g_async_queue_try_pop (queue);
  if (ret != NULL)
    __tsan_acquire (queue);
  return ret;
}

gpointer
g_async_queue_timeout_pop (GAsyncQueue *queue,
                           guint64      timeout)
{
  gpointer ret;

  REAL (g_async_queue_timeout_pop);
  ret = real_g_async_queue_timeout_pop (queue, timeout);
  if (ret != NULL)
    __tsan_acquire (queue);
  return ret;
}

void
g_async_queue_lock (GAsyncQueue *queue)
{
  REAL (g_async_queue_lock);
  real_g_async_queue_lock (queue);
  __tsan_acquire (queue);
}

void
g_async_queue_unlock (GAsyncQueue *queue)
{
  REAL (g_async_queue_unlock);
  __tsan_release (queue);
  real_g_async_queue_unlock (queue);
}
