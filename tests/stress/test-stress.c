/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Stress: threads and coroutines hammering the same futures, scopes,
 * combinators and semaphore at once, with random cancellation.
 *
 * Every test counts each completion and checks that it happened exactly
 * once, checks every outcome against what the other threads did, and ends
 * with every object finalized (weak references count them).  A watchdog
 * thread per test aborts with a description of where it stood if the test
 * stops making progress: a deadlock or a lost wake-up.
 *
 * GASYNC_STRESS_SCALE (a factor, default 1) scales every count.  The
 * defaults are smaller under AddressSanitizer, ThreadSanitizer and
 * Valgrind, which are five to fifty times slower.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <gasync/gasync.h>

#include "gasync-stack-private.h"
#include "gasync-test-util.h"

#define N_PRODUCERS 3
#define STRESS_DOMAIN (g_quark_from_static_string ("gasync-stress"))

static double
scale (void)
{
  const char *env = g_getenv ("GASYNC_STRESS_SCALE");

  if (env != NULL)
    return g_ascii_strtod (env, NULL);
  if (RUNNING_ON_VALGRIND)
    return 0.05;
  if (GASYNC_TSAN)
    return 0.05;
  /* Each coroutine costs ASan a megabyte stack and its poisoning: under
   * the same rate of random cancellations, many more coroutines die per
   * future. */
  if (GASYNC_ASAN)
    return 0.2;
  return 1.0;
}

static guint
scaled (guint n)
{
  return MAX (1, (guint) (n * scale ()));
}

/* --- watchdog ----------------------------------------------------------- */

typedef char *(*DescribeFunc) (void);

typedef struct
{
  GMutex        lock;
  GCond         cond;
  gboolean      stopped;
  const char   *name;
  guint         seconds;
  DescribeFunc  describe;
  GThread      *thread;
} Watchdog;

static gpointer
watchdog_thread (gpointer data)
{
  Watchdog *watchdog = data;
  gint64 deadline = g_get_monotonic_time () + watchdog->seconds * G_USEC_PER_SEC;

  g_mutex_lock (&watchdog->lock);
  while (!watchdog->stopped)
    if (!g_cond_wait_until (&watchdog->cond, &watchdog->lock, deadline))
      break;

  if (!watchdog->stopped)
    {
      char *where = watchdog->describe ();

      /* Not g_error(): that would wait for locks the stuck test may hold. */
      fprintf (stderr, "\nstress watchdog: %s still running after %u s "
               "(a deadlock or a lost wake-up): %s\n",
               watchdog->name, watchdog->seconds, where);
      fflush (stderr);
      abort ();
    }
  g_mutex_unlock (&watchdog->lock);

  return NULL;
}

static Watchdog *
watchdog_start (const char   *name,
                guint         seconds,
                DescribeFunc  describe)
{
  Watchdog *watchdog = g_new0 (Watchdog, 1);

  g_mutex_init (&watchdog->lock);
  g_cond_init (&watchdog->cond);
  watchdog->name = name;
  /* The allowance grows with the slowness of the tool, not the scale. */
  watchdog->seconds = seconds * (RUNNING_ON_VALGRIND ? 20 : GASYNC_TSAN || GASYNC_ASAN ? 5 : 1);
  watchdog->describe = describe;
  watchdog->thread = g_thread_new ("watchdog", watchdog_thread, watchdog);

  return watchdog;
}

static void
watchdog_stop (Watchdog *watchdog)
{
  g_mutex_lock (&watchdog->lock);
  watchdog->stopped = TRUE;
  g_cond_signal (&watchdog->cond);
  g_mutex_unlock (&watchdog->lock);

  g_thread_join (watchdog->thread);
  g_mutex_clear (&watchdog->lock);
  g_cond_clear (&watchdog->cond);
  g_free (watchdog);
}

/* --- producers: threads that settle the futures handed to them --------- */

typedef struct _Job Job;

/* Settles job->future; runs on a producer thread. */
typedef void (*JobFunc) (Job   *job,
                         GRand *rand);

struct _Job
{
  JobFunc       func;
  /* A reference, dropped by the producer after func. */
  GasyncFuture *future;
  guint         id;
  guint         requeued;
  gpointer      data;
};

typedef struct
{
  GAsyncQueue *queue;
  GThread     *threads[N_PRODUCERS];
  guint32      seed;
  int          stopping;
  int          n_started;
} Producers;

static Job stop_job;

static gpointer
producer_thread (gpointer data)
{
  Producers *producers = data;
  guint index = (guint) g_atomic_int_add (&producers->n_started, 1);
  GRand *rand = g_rand_new_with_seed (producers->seed + index);

  for (;;)
    {
      Job *job = g_async_queue_pop (producers->queue);

      if (job == &stop_job)
        break;

      /* Hold some jobs back a little, so that settling overlaps with the
       * awaits, the cancellations and the other producers. */
      if (job->requeued < 3 && !g_atomic_int_get (&producers->stopping) &&
          g_rand_int_range (rand, 0, 4) == 0)
        {
          job->requeued++;
          g_async_queue_push (producers->queue, job);
          continue;
        }

      job->func (job, rand);
      g_object_unref (job->future);
      g_free (job);
    }

  g_rand_free (rand);
  return NULL;
}

static void
producers_start (Producers *producers)
{
  producers->queue = g_async_queue_new ();
  producers->seed = g_test_rand_int ();
  producers->stopping = FALSE;
  producers->n_started = 0;
  for (guint i = 0; i < N_PRODUCERS; i++)
    producers->threads[i] = g_thread_new ("producer", producer_thread, producers);
}

static void
producers_push (Producers    *producers,
                JobFunc       func,
                GasyncFuture *future,
                guint         id,
                gpointer      data)
{
  Job *job = g_new0 (Job, 1);

  job->func = func;
  job->future = g_object_ref (future);
  job->id = id;
  job->data = data;
  g_async_queue_push (producers->queue, job);
}

/* Stops the threads, then runs what they left (jobs held back behind the
 * stop markers) on this thread. */
static void
producers_stop (Producers *producers)
{
  GRand *rand = g_rand_new_with_seed (producers->seed);
  Job *job;

  g_atomic_int_set (&producers->stopping, TRUE);
  for (guint i = 0; i < N_PRODUCERS; i++)
    g_async_queue_push (producers->queue, &stop_job);
  for (guint i = 0; i < N_PRODUCERS; i++)
    g_thread_join (producers->threads[i]);

  while ((job = g_async_queue_try_pop (producers->queue)) != NULL)
    {
      job->func (job, rand);
      g_object_unref (job->future);
      g_free (job);
    }

  g_async_queue_unref (producers->queue);
  g_rand_free (rand);
}

/* --- a second context, iterated by a thread of its own ------------------ */

typedef struct
{
  GMainContext *context;
  GThread      *thread;
  int           stop;
} Delivery;

static gpointer
delivery_thread (gpointer data)
{
  Delivery *delivery = data;

  g_main_context_push_thread_default (delivery->context);
  while (!g_atomic_int_get (&delivery->stop))
    g_main_context_iteration (delivery->context, TRUE);
  /* Everything settled before the stop is delivered before the thread
   * ends. */
  drain (delivery->context);
  g_main_context_pop_thread_default (delivery->context);

  return NULL;
}

static void
delivery_start (Delivery *delivery)
{
  delivery->context = g_main_context_new ();
  delivery->stop = FALSE;
  delivery->thread = g_thread_new ("delivery", delivery_thread, delivery);
}

static void
delivery_stop (Delivery *delivery)
{
  g_atomic_int_set (&delivery->stop, TRUE);
  g_main_context_wakeup (delivery->context);
  g_thread_join (delivery->thread);
  g_main_context_unref (delivery->context);
}

/* --- finalization counting ---------------------------------------------- */

static void
count_finalized_cb (gpointer  data,
                    GObject  *where_the_object_was)
{
  g_atomic_int_inc ((int *) data);
}

static void
watch_finalize (gpointer  object,
                int      *counter)
{
  g_object_weak_ref (G_OBJECT (object), count_finalized_cb, counter);
}

/* Settles @future at random, as a producer would: resolved with @id,
 * rejected, or cancelled.  Returns the state this call settled it in, or
 * PENDING if it was already settled (it must then refuse a second time). */
static GasyncFutureState
settle_randomly (GasyncFuture *future,
                 guint         id,
                 GRand        *rand,
                 int           resolve_percent,
                 int           reject_percent)
{
  int roll = g_rand_int_range (rand, 0, 100);
  GasyncFutureState state;
  gboolean settled;

  if (roll < resolve_percent)
    {
      state = GASYNC_FUTURE_STATE_RESOLVED;
      settled = gasync_future_resolve_int (future, (int) id);
    }
  else if (roll < resolve_percent + reject_percent)
    {
      state = GASYNC_FUTURE_STATE_REJECTED;
      settled = gasync_future_reject_literal (future, STRESS_DOMAIN, (int) id, "rejected on purpose");
    }
  else
    {
      state = GASYNC_FUTURE_STATE_CANCELLED;
      settled = gasync_future_cancel (future);
    }

  /* Settled one way or another (unless a cancellation requested by
   * another thread is still on its way): every further attempt is refused
   * and changes nothing. */
  if (g_rand_int_range (rand, 0, 8) == 0 &&
      gasync_future_get_state (future) != GASYNC_FUTURE_STATE_PENDING)
    {
      GasyncFutureState before = gasync_future_get_state (future);

      g_assert_false (gasync_future_resolve_int (future, -1));
      g_assert_false (gasync_future_reject_literal (future, STRESS_DOMAIN, 0, "late"));
      g_assert_false (gasync_future_cancel (future));
      g_assert_cmpint (gasync_future_get_state (future), ==, before);
    }

  return settled ? state : GASYNC_FUTURE_STATE_PENDING;
}

/* ========================================================================
 * 1. A million futures awaited by coroutines, settled and cancelled by
 *    producer threads, while another thread cancels coroutines at random.
 *    A quarter of the futures belong to a second context, whose thread
 *    delivers their wake-ups.
 * ======================================================================== */

typedef enum
{
  AWAITED_NONE,
  AWAITED_RESOLVED,
  AWAITED_REJECTED,
  AWAITED_CANCELLED,
  /* The coroutine itself was cancelled at this await. */
  AWAITED_COROUTINE_CANCELLED,
  N_AWAITED,
} Awaited;

#define N_AWAITERS 64

typedef struct
{
  guint          n;
  int            next_id;
  Producers      producers;
  Delivery       delivery;

  /* Per future id.  done_calls and settled_by are written atomically from
   * any thread; final_state by the done callback on the future's context;
   * awaited by the coroutines, on the main thread.  All read once the
   * threads are joined. */
  int           *done_calls;
  int           *final_state;
  int           *settled_by;
  guint8        *awaited;
  int            n_done;
  int            futures_finalized;

  /* Coroutines: counted on the main thread, except the live list (under
   * lock) that the canceller picks from. */
  GMutex         lock;
  GPtrArray     *live;
  guint          spawned;
  guint          ended;
  guint          ended_cancelled;
  guint          awaited_counts[N_AWAITED];
  int            coroutines_finalized;
  int            cancel_requests;
  GThread       *canceller;
  int            stop_canceller;
} FutureStress;

static FutureStress *fs;

static char *
describe_futures (void)
{
  return g_strdup_printf ("%d of %u futures handed out, %d done callbacks run, "
                          "%u coroutines spawned, %u ended",
                          g_atomic_int_get (&fs->next_id), fs->n,
                          g_atomic_int_get (&fs->n_done), fs->spawned, fs->ended);
}

static void
future_done_cb (GasyncFuture *future,
                gpointer      user_data)
{
  guint id = GPOINTER_TO_UINT (user_data);

  g_atomic_int_inc (&fs->done_calls[id]);
  fs->final_state[id] = gasync_future_get_state (future);
  /* A rejection nobody awaited any more (its coroutine was cancelled
   * first) is read here, so that it never warns. */
  gasync_future_propagate_error (future, NULL);
  g_atomic_int_inc (&fs->n_done);
}

static void
settle_future_job (Job   *job,
                   GRand *rand)
{
  GasyncFutureState state = settle_randomly (job->future, job->id, rand, 50, 25);

  if (state != GASYNC_FUTURE_STATE_PENDING)
    g_atomic_int_set (&fs->settled_by[job->id], state);
}

static gboolean
awaiter_body (gpointer   user_data,
              GValue    *result,
              GError   **error)
{
  GasyncCoroutine *self = gasync_coroutine_get_current ();

  for (;;)
    {
      guint id = (guint) g_atomic_int_add (&fs->next_id, 1);
      GasyncFuture *future;
      GError *local_error = NULL;
      Awaited awaited;
      int value;

      if (id >= fs->n)
        return TRUE;

      future = (id % 4 == 3) ? gasync_future_new_for_context (fs->delivery.context)
                             : gasync_future_new ();
      watch_finalize (future, &fs->futures_finalized);
      gasync_future_add_done_callback (future, future_done_cb, GUINT_TO_POINTER (id), NULL);
      producers_push (&fs->producers, settle_future_job, future, id, NULL);

      value = gasync_await_int (future, &local_error);

      if (local_error == NULL)
        {
          g_assert_cmpint (value, ==, (int) id);
          awaited = AWAITED_RESOLVED;
        }
      else if (g_error_matches (local_error, STRESS_DOMAIN, (int) id))
        awaited = AWAITED_REJECTED;
      else
        {
          g_assert_error (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
          awaited = gasync_future_is_cancel_requested (GASYNC_FUTURE (self))
                      ? AWAITED_COROUTINE_CANCELLED : AWAITED_CANCELLED;
        }

      /* Each future is awaited once. */
      g_assert_cmpint (fs->awaited[id], ==, AWAITED_NONE);
      fs->awaited[id] = awaited;

      if (awaited == AWAITED_COROUTINE_CANCELLED)
        {
          g_propagate_error (error, local_error);
          return FALSE;
        }
      g_clear_error (&local_error);
    }
}

static void spawn_awaiter (void);

static void
awaiter_done_cb (GasyncFuture *future,
                 gpointer      user_data)
{
  gboolean removed;

  g_mutex_lock (&fs->lock);
  removed = g_ptr_array_remove_fast (fs->live, future);
  g_mutex_unlock (&fs->lock);
  g_assert_true (removed);

  fs->ended++;
  if (gasync_future_is_cancelled (future))
    fs->ended_cancelled++;
  else
    g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_RESOLVED);

  /* Keep N_AWAITERS at work while futures are left. */
  if ((guint) g_atomic_int_get (&fs->next_id) < fs->n)
    spawn_awaiter ();
}

static void
spawn_awaiter (void)
{
  GasyncCoroutine *co = gasync_coroutine_spawn ("awaiter", awaiter_body, NULL, NULL);

  watch_finalize (co, &fs->coroutines_finalized);
  gasync_future_add_done_callback (GASYNC_FUTURE (co), awaiter_done_cb, NULL, NULL);
  fs->spawned++;

  g_mutex_lock (&fs->lock);
  /* The list's reference is dropped when the coroutine ends. */
  g_ptr_array_add (fs->live, co);
  g_mutex_unlock (&fs->lock);
}

static gpointer
coroutine_canceller_thread (gpointer data)
{
  GRand *rand = g_rand_new_with_seed (GPOINTER_TO_UINT (data));

  while (!g_atomic_int_get (&fs->stop_canceller))
    {
      GasyncFuture *victim = NULL;
      int target = g_atomic_int_get (&fs->next_id) + g_rand_int_range (rand, 1, 64);

      /* One cancellation per 32 futures on average, whatever the speed of
       * the build (sanitizers) or the machine. */
      while (g_atomic_int_get (&fs->next_id) < target && !g_atomic_int_get (&fs->stop_canceller))
        g_usleep (20);

      g_mutex_lock (&fs->lock);
      if (fs->live->len > 0)
        victim = g_object_ref (g_ptr_array_index (fs->live, g_rand_int_range (rand, 0, fs->live->len)));
      g_mutex_unlock (&fs->lock);

      if (victim != NULL)
        {
          if (gasync_future_cancel (victim))
            g_atomic_int_inc (&fs->cancel_requests);
          g_object_unref (victim);
        }
    }

  g_rand_free (rand);
  return NULL;
}

static void
test_futures (Fixture       *fixture,
              gconstpointer  data)
{
  Watchdog *watchdog;
  guint settled_by_producers = 0;
  gint64 start;
  double elapsed;

  fs = g_new0 (FutureStress, 1);
  fs->n = scaled (1000000);
  fs->done_calls = g_new0 (int, fs->n);
  fs->final_state = g_new0 (int, fs->n);
  fs->settled_by = g_new0 (int, fs->n);
  fs->awaited = g_new0 (guint8, fs->n);
  g_mutex_init (&fs->lock);
  /* The awaiters' references; the done callback drops each one. */
  fs->live = g_ptr_array_new_with_free_func (g_object_unref);

  watchdog = watchdog_start ("futures", 60, describe_futures);
  start = g_get_monotonic_time ();

  delivery_start (&fs->delivery);
  producers_start (&fs->producers);
  fs->canceller = g_thread_new ("canceller", coroutine_canceller_thread,
                                GUINT_TO_POINTER (g_test_rand_int ()));

  for (guint i = 0; i < N_AWAITERS; i++)
    spawn_awaiter ();

  /* Every wake-up that matters (a coroutine resumed, one ending) is
   * delivered here, so blocking iterations always make progress. */
  while ((guint) g_atomic_int_get (&fs->next_id) < fs->n || fs->ended < fs->spawned)
    g_main_context_iteration (fixture->context, TRUE);

  g_atomic_int_set (&fs->stop_canceller, TRUE);
  g_thread_join (fs->canceller);
  producers_stop (&fs->producers);
  delivery_stop (&fs->delivery);
  drain (fixture->context);

  elapsed = (g_get_monotonic_time () - start) / 1e6;

  /* Every future: delivered once, awaited once, and ended the way the one
   * who settled it said. */
  for (guint id = 0; id < fs->n; id++)
    {
      Awaited awaited = fs->awaited[id];
      int state = fs->final_state[id];

      if (fs->done_calls[id] != 1)
        g_error ("future %u: done callback ran %d times", id, fs->done_calls[id]);
      g_assert_cmpint (awaited, !=, AWAITED_NONE);
      fs->awaited_counts[awaited]++;

      if (fs->settled_by[id] != 0)
        {
          settled_by_producers++;
          g_assert_cmpint (state, ==, fs->settled_by[id]);
        }
      else
        {
          /* Nobody but the cancelled awaiter settled it. */
          g_assert_cmpint (awaited, ==, AWAITED_COROUTINE_CANCELLED);
          g_assert_cmpint (state, ==, GASYNC_FUTURE_STATE_CANCELLED);
        }

      switch (awaited)
        {
        case AWAITED_RESOLVED:
          g_assert_cmpint (state, ==, GASYNC_FUTURE_STATE_RESOLVED);
          break;
        case AWAITED_REJECTED:
          g_assert_cmpint (state, ==, GASYNC_FUTURE_STATE_REJECTED);
          break;
        case AWAITED_CANCELLED:
          g_assert_cmpint (state, ==, GASYNC_FUTURE_STATE_CANCELLED);
          break;
        case AWAITED_COROUTINE_CANCELLED:
        case AWAITED_NONE:
        case N_AWAITED:
        default:
          break;
        }
    }

  g_test_message ("%u futures in %.2f s: awaited %u resolved, %u rejected, %u cancelled, "
                  "%u abandoned by a cancelled coroutine; %u settled by producers, %u by the "
                  "cancellation; %u coroutines, %d cancellation requests, %u ended cancelled",
                  fs->n, elapsed, fs->awaited_counts[AWAITED_RESOLVED],
                  fs->awaited_counts[AWAITED_REJECTED], fs->awaited_counts[AWAITED_CANCELLED],
                  fs->awaited_counts[AWAITED_COROUTINE_CANCELLED], settled_by_producers,
                  fs->n - settled_by_producers, fs->spawned, fs->cancel_requests,
                  fs->ended_cancelled);
  g_assert_cmpuint (fs->awaited_counts[AWAITED_RESOLVED] + fs->awaited_counts[AWAITED_REJECTED] +
                    fs->awaited_counts[AWAITED_CANCELLED] +
                    fs->awaited_counts[AWAITED_COROUTINE_CANCELLED], ==, fs->n);
  /* Each coroutine cancelled at an await reported it exactly there. */
  g_assert_cmpuint (fs->awaited_counts[AWAITED_COROUTINE_CANCELLED], <=, fs->ended_cancelled);
  g_assert_cmpint (g_atomic_int_get (&fs->n_done), ==, (int) fs->n);
  g_assert_cmpuint (fs->ended, ==, fs->spawned);
  g_assert_cmpuint (fs->live->len, ==, 0);

  g_assert_cmpint (g_atomic_int_get (&fs->futures_finalized), ==, (int) fs->n);
  g_assert_cmpint (g_atomic_int_get (&fs->coroutines_finalized), ==, (int) fs->spawned);
  {
    g_autoptr(GPtrArray) live = gasync_coroutine_list ();
    g_assert_cmpuint (live->len, ==, 0);
  }

  watchdog_stop (watchdog);
  g_ptr_array_unref (fs->live);
  g_mutex_clear (&fs->lock);
  g_free (fs->done_calls);
  g_free (fs->final_state);
  g_free (fs->settled_by);
  g_free (fs->awaited);
  g_clear_pointer (&fs, g_free);
}

/* ========================================================================
 * 2. Scopes cancelled, from another thread or by their owner's disposal,
 *    while their coroutines are mid-await.
 * ======================================================================== */

#define SCOPES_PER_BATCH 50

typedef struct _ScopeEntry ScopeEntry;

struct _ScopeEntry
{
  GasyncScope  *scope;
  /* The entry whose scope is the parent, for child scopes. */
  ScopeEntry   *parent;
  /* A reference until disposed (on the main thread); NULL for children. */
  GObject      *owner;
  gboolean      owner_disposed;
  /* Never settled: what awaits it only ends by being cancelled. */
  GasyncFuture *gate;
  GasyncFuture *wait;
  GPtrArray    *members;
  guint         n_rejected;
  gboolean      wait_done;
  /* Set by the canceller thread. */
  int           cancelled_by_thread;
};

typedef struct
{
  Producers   producers;
  GMutex      lock;
  /* The batch the canceller works on, and whether it is cancelling one of
   * its scopes right now; guarded by lock. */
  GPtrArray  *batch;
  gboolean    cancelling;
  GThread    *canceller;
  int         stop_canceller;

  guint       n_batches;
  guint       batch_index;
  guint       members_spawned;
  guint       members_ended;
  guint       waits_done;
  guint       scoped_registered;
  guint       scoped_ran;
  int         scoped_released;
  guint       owners_disposed;
  int         thread_cancels;
  guint       n_rejected;
  guint       n_cancelled;
  guint       created;
  int         finalized;
} ScopeStress;

static ScopeStress *ss;

static char *
describe_scopes (void)
{
  return g_strdup_printf ("batch %u of %u: %u members spawned, %u ended, %u waits done",
                          ss->batch_index, ss->n_batches, ss->members_spawned,
                          ss->members_ended, ss->waits_done);
}

static gpointer
watched (gpointer object)
{
  watch_finalize (object, &ss->finalized);
  ss->created++;
  return object;
}

static gboolean
owner_gone (ScopeEntry *entry)
{
  for (; entry != NULL; entry = entry->parent)
    if (entry->owner_disposed)
      return TRUE;
  return FALSE;
}

static void
scoped_cb (GasyncFuture *future,
           gpointer      user_data)
{
  ScopeEntry *entry = user_data;

  /* Never after the owner of the scope (or of an ancestor) is gone. */
  if (owner_gone (entry))
    g_error ("a callback registered through a scope ran after its owner was disposed");
  ss->scoped_ran++;
}

static void
scoped_release (gpointer data)
{
  g_atomic_int_inc (&ss->scoped_released);
}

static void
settle_scope_job (Job   *job,
                  GRand *rand)
{
  settle_randomly (job->future, job->id, rand, 85, 5);
}

static gboolean
member_body (gpointer   user_data,
             GValue    *result,
             GError   **error)
{
  ScopeEntry *entry = user_data;
  GasyncFuture *work = watched (gasync_future_new ());

  gasync_scope_add_done_callback (entry->scope, work, scoped_cb, entry, scoped_release);
  ss->scoped_registered++;
  producers_push (&ss->producers, settle_scope_job, work, ss->created, NULL);

  if (!gasync_await (work, error))
    return FALSE;

  /* Only the scope's cancellation gets past this. */
  return gasync_await (g_object_ref (entry->gate), error);
}

static void
member_done_cb (GasyncFuture *member,
                gpointer      user_data)
{
  ScopeEntry *entry = user_data;
  GasyncFutureState state = gasync_future_get_state (member);

  /* Counted exactly once. */
  g_assert_null (g_object_get_data (G_OBJECT (member), "stress-ended"));
  g_object_set_data (G_OBJECT (member), "stress-ended", GINT_TO_POINTER (1));
  ss->members_ended++;

  /* The gate never opens: a member ends cancelled, or rejected by its
   * first await. */
  if (state == GASYNC_FUTURE_STATE_REJECTED)
    {
      entry->n_rejected++;
      ss->n_rejected++;
    }
  else
    {
      g_assert_cmpint (state, ==, GASYNC_FUTURE_STATE_CANCELLED);
      ss->n_cancelled++;
    }
}

static void
scope_wait_done_cb (GasyncFuture *wait,
                    gpointer      user_data)
{
  ScopeEntry *entry = user_data;

  g_assert_false (entry->wait_done);
  entry->wait_done = TRUE;
  ss->waits_done++;
}

static gpointer
scope_canceller_thread (gpointer data)
{
  GRand *rand = g_rand_new_with_seed (GPOINTER_TO_UINT (data));

  while (!g_atomic_int_get (&ss->stop_canceller))
    {
      GasyncScope *scope = NULL;

      g_mutex_lock (&ss->lock);
      if (ss->batch != NULL && ss->batch->len > 0)
        {
          ScopeEntry *entry = g_ptr_array_index (ss->batch, g_rand_int_range (rand, 0, ss->batch->len));

          if (g_atomic_int_compare_and_exchange (&entry->cancelled_by_thread, FALSE, TRUE))
            {
              scope = g_object_ref (entry->scope);
              ss->cancelling = TRUE;
            }
        }
      g_mutex_unlock (&ss->lock);

      if (scope != NULL)
        {
          gasync_scope_cancel (scope);
          g_atomic_int_inc (&ss->thread_cancels);
          g_object_unref (scope);
          g_mutex_lock (&ss->lock);
          ss->cancelling = FALSE;
          g_mutex_unlock (&ss->lock);
        }
      g_usleep (g_rand_int_range (rand, 5, 100));
    }

  g_rand_free (rand);
  return NULL;
}

static void
dispose_owner (ScopeEntry *entry,
               GPtrArray  *batch)
{
  entry->owner_disposed = TRUE;
  g_clear_object (&entry->owner);
  ss->owners_disposed++;

  /* Synchronously: the scope, and every scope below it, is cancelled. */
  g_assert_true (gasync_scope_is_cancelled (entry->scope));
  for (guint i = 0; i < batch->len; i++)
    {
      ScopeEntry *other = g_ptr_array_index (batch, i);

      if (owner_gone (other))
        g_assert_true (gasync_scope_is_cancelled (other->scope));
    }
}

static void
run_scope_batch (GMainContext *context,
                 GRand        *rand)
{
  GPtrArray *batch = g_ptr_array_new ();
  guint spawned_before = ss->members_spawned;
  guint ended_before = ss->members_ended;
  guint waits_before = ss->waits_done;

  for (guint i = 0; i < SCOPES_PER_BATCH; i++)
    {
      ScopeEntry *entry = g_new0 (ScopeEntry, 1);
      guint n_members = g_rand_int_range (rand, 1, 6);

      if (i % 3 == 2)
        {
          entry->parent = g_ptr_array_index (batch, i - 1);
          entry->scope = watched (gasync_scope_new_child (entry->parent->scope));
        }
      else
        {
          entry->owner = watched (g_object_new (G_TYPE_OBJECT, NULL));
          entry->scope = watched (gasync_scope_new_for_owner (entry->owner));
        }
      entry->gate = watched (gasync_future_new ());
      entry->members = g_ptr_array_new_with_free_func (g_object_unref);

      for (guint j = 0; j < n_members; j++)
        {
          GasyncCoroutine *member = gasync_scope_spawn (entry->scope, "member", member_body, entry, NULL);

          watched (member);
          g_ptr_array_add (entry->members, g_object_ref (member));
          gasync_future_add_done_callback (GASYNC_FUTURE (member), member_done_cb, entry, NULL);
          ss->members_spawned++;
        }

      entry->wait = watched (gasync_scope_wait (entry->scope));
      gasync_future_add_done_callback (entry->wait, scope_wait_done_cb, entry, NULL);
      g_ptr_array_add (batch, entry);
    }

  /* Hand the batch to the canceller, which starts at once: scopes are
   * cancelled before their members start, mid-await, or after. */
  g_mutex_lock (&ss->lock);
  ss->batch = batch;
  g_mutex_unlock (&ss->lock);

  while (ss->members_ended - ended_before < ss->members_spawned - spawned_before ||
         ss->waits_done - waits_before < batch->len)
    {
      g_main_context_iteration (context, TRUE);

      /* Owners go away now and then, on this thread, as widgets do. */
      if (g_rand_int_range (rand, 0, 8) == 0)
        {
          ScopeEntry *entry = g_ptr_array_index (batch, g_rand_int_range (rand, 0, batch->len));

          if (entry->owner != NULL)
            dispose_owner (entry, batch);
        }
    }

  /* The canceller may still be inside gasync_scope_cancel() on a scope of
   * this batch, between cancelling a parent and its children: the checks
   * below start once it has let go of the batch. */
  for (gboolean busy = TRUE; busy;)
    {
      g_mutex_lock (&ss->lock);
      ss->batch = NULL;
      busy = ss->cancelling;
      g_mutex_unlock (&ss->lock);
      if (busy)
        g_usleep (50);
    }

  for (guint i = 0; i < batch->len; i++)
    {
      ScopeEntry *entry = g_ptr_array_index (batch, i);
      g_autoptr(GError) error = NULL;

      g_assert_true (entry->wait_done);
      g_assert_cmpuint (gasync_scope_get_n_pending (entry->scope), ==, 0);
      /* Cancelled by the canceller, an owner, a parent, or a member's
       * failure (which only cancels the siblings); a child is cancelled
       * whenever its parent is. */
      if (entry->parent != NULL && gasync_scope_is_cancelled (entry->parent->scope))
        g_assert_true (gasync_scope_is_cancelled (entry->scope));
      if (entry->n_rejected > 0)
        {
          g_assert_false (gasync_future_propagate_error (entry->wait, &error));
          g_assert_true (error->domain == STRESS_DOMAIN);
        }
      else
        {
          g_assert_true (gasync_future_propagate_error (entry->wait, &error));
          g_assert_no_error (error);
        }
    }

  /* Tear down in reverse, children before their parents' owners. */
  for (guint i = batch->len; i-- > 0;)
    {
      ScopeEntry *entry = g_ptr_array_index (batch, i);

      if (entry->owner != NULL)
        dispose_owner (entry, batch);
      g_clear_object (&entry->wait);
      g_clear_object (&entry->gate);
      g_clear_pointer (&entry->members, g_ptr_array_unref);
    }
  drain (context);
  for (guint i = batch->len; i-- > 0;)
    {
      ScopeEntry *entry = g_ptr_array_index (batch, i);

      g_clear_object (&entry->scope);
      g_free (entry);
    }
  g_ptr_array_unref (batch);
}

static void
test_scopes (Fixture       *fixture,
             gconstpointer  data)
{
  Watchdog *watchdog;
  GRand *rand = g_rand_new_with_seed (g_test_rand_int ());
  gint64 start;

  ss = g_new0 (ScopeStress, 1);
  ss->n_batches = scaled (60);
  g_mutex_init (&ss->lock);

  watchdog = watchdog_start ("scopes", 30, describe_scopes);
  start = g_get_monotonic_time ();
  producers_start (&ss->producers);
  ss->canceller = g_thread_new ("canceller", scope_canceller_thread,
                                GUINT_TO_POINTER (g_test_rand_int ()));

  for (ss->batch_index = 0; ss->batch_index < ss->n_batches; ss->batch_index++)
    run_scope_batch (fixture->context, rand);

  g_atomic_int_set (&ss->stop_canceller, TRUE);
  g_thread_join (ss->canceller);
  producers_stop (&ss->producers);
  drain (fixture->context);

  g_test_message ("%u scopes, %u members in %.2f s: %u ended rejected, %u cancelled; "
                  "%d cancelled from a thread, %u owners disposed; "
                  "%u scoped callbacks registered, %u ran",
                  ss->n_batches * SCOPES_PER_BATCH, ss->members_spawned,
                  (g_get_monotonic_time () - start) / 1e6, ss->n_rejected, ss->n_cancelled,
                  ss->thread_cancels, ss->owners_disposed, ss->scoped_registered, ss->scoped_ran);

  g_assert_cmpuint (ss->members_ended, ==, ss->members_spawned);
  g_assert_cmpuint (ss->n_rejected + ss->n_cancelled, ==, ss->members_spawned);
  g_assert_cmpint (g_atomic_int_get (&ss->scoped_released), ==, (int) ss->scoped_registered);
  g_assert_cmpint (g_atomic_int_get (&ss->finalized), ==, (int) ss->created);
  {
    g_autoptr(GPtrArray) live = gasync_coroutine_list ();
    g_assert_cmpuint (live->len, ==, 0);
  }

  watchdog_stop (watchdog);
  g_rand_free (rand);
  g_mutex_clear (&ss->lock);
  g_clear_pointer (&ss, g_free);
}

/* ========================================================================
 * 3. Combinators whose children are settled by producer threads, some of
 *    them on the second context, while another thread cancels combinators
 *    at random.
 * ======================================================================== */

#define COMBINATORS_PER_ROUND 500
#define MAX_CHILDREN 6

typedef enum
{
  COMBINE_ALL,
  COMBINE_ALL_SETTLED,
  COMBINE_ANY,
  COMBINE_RACE,
  N_COMBINE,
} Combine;

typedef struct
{
  Combine        kind;
  GasyncFuture  *combinator;
  GasyncFuture  *children[MAX_CHILDREN];
  guint          child_ids[MAX_CHILDREN];
  guint          n_children;
  int            awaited_state;
  gboolean       awaited;
} CombineEntry;

typedef struct
{
  Producers      producers;
  Delivery       delivery;
  GMainContext  *main_context;
  GMutex         lock;
  GPtrArray     *round;
  GThread       *canceller;
  int            stop_canceller;

  guint          n_rounds;
  guint          round_index;
  guint          n_children;
  guint          max_children;
  /* Per child id: done callbacks run (any thread), and the state a
   * producer settled it in (0 if none did). */
  int           *child_done;
  int           *settled_by;
  int            jobs_pushed;
  int            jobs_done;
  guint          awaiters_ended;
  int            thread_cancels;
  guint          rest_cancelled;
  guint          outcomes[N_COMBINE][4];
  guint          created;
  int            finalized;
} CombineStress;

static CombineStress *cs;

static char *
describe_combinators (void)
{
  return g_strdup_printf ("round %u of %u: %d of %d jobs done, %u awaiters ended",
                          cs->round_index, cs->n_rounds, g_atomic_int_get (&cs->jobs_done),
                          g_atomic_int_get (&cs->jobs_pushed), cs->awaiters_ended);
}

static void
child_done_cb (GasyncFuture *child,
               gpointer      user_data)
{
  g_atomic_int_inc (&cs->child_done[GPOINTER_TO_UINT (user_data)]);
}

static void
settle_child_job (Job   *job,
                  GRand *rand)
{
  GasyncFutureState state = settle_randomly (job->future, job->id, rand, 50, 25);

  if (state != GASYNC_FUTURE_STATE_PENDING)
    g_atomic_int_set (&cs->settled_by[job->id], state);
  /* The main thread watches for the last job of a round. */
  g_atomic_int_inc (&cs->jobs_done);
  g_main_context_wakeup (cs->main_context);
}

static gboolean
combine_awaiter_body (gpointer   user_data,
                      GValue    *result,
                      GError   **error)
{
  CombineEntry *entry = user_data;
  GError *local_error = NULL;

  gasync_await (g_object_ref (entry->combinator), &local_error);
  g_clear_error (&local_error);
  g_assert_false (entry->awaited);
  entry->awaited = TRUE;
  entry->awaited_state = gasync_future_get_state (entry->combinator);
  return TRUE;
}

static void
combine_awaiter_done_cb (GasyncFuture *awaiter,
                         gpointer      user_data)
{
  g_assert_cmpint (gasync_future_get_state (awaiter), ==, GASYNC_FUTURE_STATE_RESOLVED);
  cs->awaiters_ended++;
}

static gpointer
combinator_canceller_thread (gpointer data)
{
  GRand *rand = g_rand_new_with_seed (GPOINTER_TO_UINT (data));

  while (!g_atomic_int_get (&cs->stop_canceller))
    {
      GasyncFuture *victim = NULL;
      int target = g_atomic_int_get (&cs->jobs_done) + g_rand_int_range (rand, 1, 16);

      /* One cancellation per 8 children settled, on average. */
      while (g_atomic_int_get (&cs->jobs_done) < target && !g_atomic_int_get (&cs->stop_canceller))
        g_usleep (20);

      g_mutex_lock (&cs->lock);
      if (cs->round != NULL && cs->round->len > 0)
        {
          CombineEntry *entry = g_ptr_array_index (cs->round, g_rand_int_range (rand, 0, cs->round->len));

          victim = g_object_ref (entry->combinator);
        }
      g_mutex_unlock (&cs->lock);

      if (victim != NULL)
        {
          if (gasync_future_cancel (victim))
            g_atomic_int_inc (&cs->thread_cancels);
          g_object_unref (victim);
        }
    }

  g_rand_free (rand);
  return NULL;
}

static gboolean
barrier_cb (gpointer data)
{
  g_atomic_int_set ((int *) data, TRUE);
  g_main_context_wakeup (cs->main_context);
  return G_SOURCE_REMOVE;
}

/* Whether a child with this state and value explains the combinator's
 * outcome (settled like the child). */
static gboolean
child_explains (GasyncFuture *combinator,
                GasyncFuture *child)
{
  GasyncFutureState state = gasync_future_get_state (combinator);
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) child_error = NULL;

  if (gasync_future_get_state (child) != state)
    return FALSE;

  switch (state)
    {
    case GASYNC_FUTURE_STATE_RESOLVED:
      return gasync_future_get_int (combinator, NULL) == gasync_future_get_int (child, NULL);
    case GASYNC_FUTURE_STATE_REJECTED:
      gasync_future_propagate_error (combinator, &error);
      gasync_future_propagate_error (child, &child_error);
      return error->domain == child_error->domain && error->code == child_error->code;
    case GASYNC_FUTURE_STATE_CANCELLED:
      return TRUE;
    case GASYNC_FUTURE_STATE_PENDING:
    default:
      return FALSE;
    }
}

static void
check_combine_entry (CombineEntry *entry)
{
  GasyncFuture *combinator = entry->combinator;
  GasyncFutureState state = gasync_future_get_state (combinator);
  gboolean cancel_requested = gasync_future_is_cancel_requested (combinator);
  gboolean explained = FALSE;
  guint n_resolved = 0, n_failed = 0, n_cancelled_by_producer = 0;

  g_assert_true (entry->awaited);
  g_assert_cmpint (entry->awaited_state, ==, state);
  g_assert_cmpint (state, !=, GASYNC_FUTURE_STATE_PENDING);
  cs->outcomes[entry->kind][state]++;

  for (guint i = 0; i < entry->n_children; i++)
    {
      GasyncFuture *child = entry->children[i];
      GasyncFutureState child_state = gasync_future_get_state (child);
      int settled_by = cs->settled_by[entry->child_ids[i]];

      /* No child is left behind: settled by its producer, or cancelled by
       * the combinator when it finished or was cancelled. */
      if (settled_by != 0)
        g_assert_cmpint (child_state, ==, settled_by);
      else
        g_assert_cmpint (child_state, ==, GASYNC_FUTURE_STATE_CANCELLED);

      n_resolved += child_state == GASYNC_FUTURE_STATE_RESOLVED;
      n_failed += child_state != GASYNC_FUTURE_STATE_RESOLVED;
      n_cancelled_by_producer += settled_by == GASYNC_FUTURE_STATE_CANCELLED;
      if (settled_by != 0 && child_explains (combinator, child))
        explained = TRUE;
    }

  switch (entry->kind)
    {
    case COMBINE_ALL:
      if (state == GASYNC_FUTURE_STATE_RESOLVED)
        {
          g_autoptr(GPtrArray) array = gasync_future_dup_boxed (combinator, G_TYPE_PTR_ARRAY, NULL);

          g_assert_cmpuint (n_resolved, ==, entry->n_children);
          g_assert_cmpuint (array->len, ==, entry->n_children);
          for (guint i = 0; i < array->len; i++)
            g_assert_true (g_ptr_array_index (array, i) == entry->children[i]);
        }
      else if (state == GASYNC_FUTURE_STATE_REJECTED)
        g_assert_true (explained);
      else
        g_assert_true (cancel_requested || explained);
      break;

    case COMBINE_ALL_SETTLED:
      if (state == GASYNC_FUTURE_STATE_RESOLVED)
        for (guint i = 0; i < entry->n_children; i++)
          g_assert_cmpint (cs->settled_by[entry->child_ids[i]], !=, 0);
      else
        g_assert_true (state == GASYNC_FUTURE_STATE_CANCELLED && cancel_requested);
      break;

    case COMBINE_ANY:
      if (state == GASYNC_FUTURE_STATE_RESOLVED)
        g_assert_true (explained);
      else if (state == GASYNC_FUTURE_STATE_REJECTED)
        g_assert_cmpuint (n_failed, ==, entry->n_children);
      else
        g_assert_true (cancel_requested);
      break;

    case COMBINE_RACE:
      if (state == GASYNC_FUTURE_STATE_CANCELLED)
        g_assert_true (cancel_requested || explained);
      else
        g_assert_true (explained);
      break;

    case N_COMBINE:
    default:
      g_assert_not_reached ();
    }
}

static void
run_combine_round (GMainContext *context,
                   GRand        *rand)
{
  GPtrArray *round = g_ptr_array_new ();
  GPtrArray *awaiters = g_ptr_array_new_with_free_func (g_object_unref);
  int barrier = FALSE;
  gboolean rest_cancelled = FALSE;

  /* The canceller sees each combinator as soon as it exists. */
  g_mutex_lock (&cs->lock);
  cs->round = round;
  g_mutex_unlock (&cs->lock);

  for (guint i = 0; i < COMBINATORS_PER_ROUND; i++)
    {
      CombineEntry *entry = g_new0 (CombineEntry, 1);
      GasyncCoroutine *awaiter;

      entry->kind = g_rand_int_range (rand, 0, N_COMBINE);
      entry->n_children = g_rand_int_range (rand, 1, MAX_CHILDREN + 1);
      for (guint j = 0; j < entry->n_children; j++)
        {
          guint id = cs->n_children++;
          GasyncFuture *child = g_rand_int_range (rand, 0, 4) == 0
                                  ? gasync_future_new_for_context (cs->delivery.context)
                                  : gasync_future_new ();

          g_assert_cmpuint (id, <, cs->max_children);
          watch_finalize (child, &cs->finalized);
          cs->created++;
          gasync_future_add_done_callback (child, child_done_cb, GUINT_TO_POINTER (id), NULL);
          entry->children[j] = child;
          entry->child_ids[j] = id;
        }

      switch (entry->kind)
        {
        case COMBINE_ALL:
          entry->combinator = gasync_allv (entry->children, entry->n_children);
          break;
        case COMBINE_ALL_SETTLED:
          entry->combinator = gasync_all_settledv (entry->children, entry->n_children);
          break;
        case COMBINE_ANY:
          entry->combinator = gasync_anyv (entry->children, entry->n_children);
          break;
        case COMBINE_RACE:
        case N_COMBINE:
        default:
          entry->combinator = gasync_racev (entry->children, entry->n_children);
          break;
        }
      watch_finalize (entry->combinator, &cs->finalized);
      cs->created++;

      awaiter = gasync_coroutine_spawn ("combine-awaiter", combine_awaiter_body, entry, NULL);
      watch_finalize (awaiter, &cs->finalized);
      cs->created++;
      gasync_future_add_done_callback (GASYNC_FUTURE (awaiter), combine_awaiter_done_cb, NULL, NULL);
      g_ptr_array_add (awaiters, awaiter);

      /* Most children are settled by a producer; the others only end
       * when their combinator cancels them. */
      for (guint j = 0; j < entry->n_children; j++)
        if (g_rand_int_range (rand, 0, 100) < 85)
          {
            g_atomic_int_inc (&cs->jobs_pushed);
            producers_push (&cs->producers, settle_child_job, entry->children[j],
                            entry->child_ids[j], NULL);
          }

      g_mutex_lock (&cs->lock);
      g_ptr_array_add (round, entry);
      g_mutex_unlock (&cs->lock);
    }

  {
    guint ended_before = cs->awaiters_ended;

    while (cs->awaiters_ended - ended_before < round->len)
      {
        /* Once the producers are through, what still waits for a child
         * nobody settles is cancelled. */
        if (!rest_cancelled &&
            g_atomic_int_get (&cs->jobs_done) == g_atomic_int_get (&cs->jobs_pushed))
          {
            rest_cancelled = TRUE;
            for (guint i = 0; i < round->len; i++)
              {
                CombineEntry *entry = g_ptr_array_index (round, i);

                if (gasync_future_cancel (entry->combinator))
                  cs->rest_cancelled++;
              }
          }
        g_main_context_iteration (context, TRUE);
      }
  }

  g_mutex_lock (&cs->lock);
  cs->round = NULL;
  g_mutex_unlock (&cs->lock);

  /* Whatever the second context's thread was doing for this round (a
   * combinator settled there cancels its other children right after) is
   * over once this runs there. */
  g_main_context_invoke_full (cs->delivery.context, G_PRIORITY_LOW, barrier_cb, &barrier, NULL);
  while (!g_atomic_int_get (&barrier))
    g_main_context_iteration (context, TRUE);

  for (guint i = 0; i < round->len; i++)
    {
      CombineEntry *entry = g_ptr_array_index (round, i);

      check_combine_entry (entry);
      g_clear_object (&entry->combinator);
      for (guint j = 0; j < entry->n_children; j++)
        g_clear_object (&entry->children[j]);
      g_free (entry);
    }
  g_ptr_array_unref (round);
  g_ptr_array_unref (awaiters);
}

static void
test_combinators (Fixture       *fixture,
                  gconstpointer  data)
{
  Watchdog *watchdog;
  GRand *rand = g_rand_new_with_seed (g_test_rand_int ());
  gint64 start;

  cs = g_new0 (CombineStress, 1);
  cs->n_rounds = scaled (100);
  cs->max_children = cs->n_rounds * COMBINATORS_PER_ROUND * MAX_CHILDREN;
  cs->child_done = g_new0 (int, cs->max_children);
  cs->settled_by = g_new0 (int, cs->max_children);
  cs->main_context = fixture->context;
  g_mutex_init (&cs->lock);

  watchdog = watchdog_start ("combinators", 30, describe_combinators);
  start = g_get_monotonic_time ();
  delivery_start (&cs->delivery);
  producers_start (&cs->producers);
  cs->canceller = g_thread_new ("canceller", combinator_canceller_thread,
                                GUINT_TO_POINTER (g_test_rand_int ()));

  for (cs->round_index = 0; cs->round_index < cs->n_rounds; cs->round_index++)
    run_combine_round (fixture->context, rand);

  g_atomic_int_set (&cs->stop_canceller, TRUE);
  g_thread_join (cs->canceller);
  producers_stop (&cs->producers);
  delivery_stop (&cs->delivery);
  drain (fixture->context);

  g_test_message ("%u combinators over %u children in %.2f s; %d cancelled from a thread, "
                  "%u at the end of their round; all: %u resolved %u rejected %u cancelled; "
                  "any: %u/%u/%u; race: %u/%u/%u; all_settled: %u/%u/%u",
                  cs->n_rounds * COMBINATORS_PER_ROUND, cs->n_children,
                  (g_get_monotonic_time () - start) / 1e6, cs->thread_cancels, cs->rest_cancelled,
                  cs->outcomes[COMBINE_ALL][1], cs->outcomes[COMBINE_ALL][2], cs->outcomes[COMBINE_ALL][3],
                  cs->outcomes[COMBINE_ANY][1], cs->outcomes[COMBINE_ANY][2], cs->outcomes[COMBINE_ANY][3],
                  cs->outcomes[COMBINE_RACE][1], cs->outcomes[COMBINE_RACE][2], cs->outcomes[COMBINE_RACE][3],
                  cs->outcomes[COMBINE_ALL_SETTLED][1], cs->outcomes[COMBINE_ALL_SETTLED][2],
                  cs->outcomes[COMBINE_ALL_SETTLED][3]);

  /* Every child's done callback ran exactly once. */
  for (guint id = 0; id < cs->n_children; id++)
    if (cs->child_done[id] != 1)
      g_error ("child %u: done callback ran %d times", id, cs->child_done[id]);
  g_assert_cmpint (g_atomic_int_get (&cs->finalized), ==, (int) cs->created);

  watchdog_stop (watchdog);
  g_rand_free (rand);
  g_mutex_clear (&cs->lock);
  g_free (cs->child_done);
  g_free (cs->settled_by);
  g_clear_pointer (&cs, g_free);
}

/* ========================================================================
 * 4. A pool of coroutines bounded by a semaphore, some cancelled while
 *    they wait for a permit, some while they hold one.
 * ======================================================================== */

#define PERMITS 4
#define POOL_LIVE 256

typedef struct
{
  Producers        producers;
  GasyncSemaphore *semaphore;
  GMutex           lock;
  GPtrArray       *live;
  GThread         *canceller;
  int              stop_canceller;

  guint            n;
  guint            spawned;
  guint            ended;
  guint            in_use;
  guint            max_in_use;
  guint            completed;
  guint            cancelled_waiting;
  guint            cancelled_working;
  guint            failed_work;
  int              cancel_requests;
  /* ended, for the canceller thread; atomic. */
  int              progress;
  guint            created;
  int              finalized;
} PoolStress;

static PoolStress *ps;

static char *
describe_pool (void)
{
  return g_strdup_printf ("%u of %u coroutines spawned, %u ended, %u holding a permit, "
                          "%u permits available, %u waiting",
                          ps->spawned, ps->n, ps->ended, ps->in_use,
                          gasync_semaphore_get_available (ps->semaphore),
                          gasync_semaphore_get_n_waiting (ps->semaphore));
}

static void
settle_work_job (Job   *job,
                 GRand *rand)
{
  settle_randomly (job->future, job->id, rand, 90, 5);
}

static gboolean
pool_body (gpointer   user_data,
           GValue    *result,
           GError   **error)
{
  GasyncFuture *work;
  gboolean ok;

  if (!gasync_await (gasync_semaphore_acquire (ps->semaphore), error))
    {
      /* Cancelled while waiting: no permit is held, whatever the race. */
      ps->cancelled_waiting++;
      return FALSE;
    }

  ps->in_use++;
  ps->max_in_use = MAX (ps->max_in_use, ps->in_use);
  g_assert_cmpuint (ps->in_use, <=, PERMITS);

  work = gasync_future_new ();
  watch_finalize (work, &ps->finalized);
  ps->created++;
  producers_push (&ps->producers, settle_work_job, work, ps->spawned, NULL);
  ok = gasync_await (work, error);

  ps->in_use--;
  gasync_semaphore_release (ps->semaphore);

  if (ok)
    ps->completed++;
  else if (gasync_future_is_cancel_requested (GASYNC_FUTURE (gasync_coroutine_get_current ())))
    ps->cancelled_working++;
  else
    ps->failed_work++;
  return ok;
}

static void spawn_pooled (void);

static void
pooled_done_cb (GasyncFuture *co,
                gpointer      user_data)
{
  gboolean removed;

  g_mutex_lock (&ps->lock);
  removed = g_ptr_array_remove_fast (ps->live, co);
  g_mutex_unlock (&ps->lock);
  g_assert_true (removed);
  ps->ended++;
  g_atomic_int_inc (&ps->progress);
  /* Failed work fails the coroutine: its error is read here. */
  gasync_future_propagate_error (co, NULL);

  if (ps->spawned < ps->n)
    spawn_pooled ();
}

static void
spawn_pooled (void)
{
  GasyncCoroutine *co = gasync_coroutine_spawn ("pooled", pool_body, NULL, NULL);

  watch_finalize (co, &ps->finalized);
  ps->created++;
  ps->spawned++;
  gasync_future_add_done_callback (GASYNC_FUTURE (co), pooled_done_cb, NULL, NULL);
  g_mutex_lock (&ps->lock);
  g_ptr_array_add (ps->live, co);
  g_mutex_unlock (&ps->lock);
}

static gpointer
pool_canceller_thread (gpointer data)
{
  GRand *rand = g_rand_new_with_seed (GPOINTER_TO_UINT (data));

  while (!g_atomic_int_get (&ps->stop_canceller))
    {
      GasyncFuture *victim = NULL;
      int target = g_atomic_int_get (&ps->progress) + g_rand_int_range (rand, 1, 8);

      /* One cancellation per 4 coroutines ended, on average. */
      while (g_atomic_int_get (&ps->progress) < target && !g_atomic_int_get (&ps->stop_canceller))
        g_usleep (20);

      g_mutex_lock (&ps->lock);
      if (ps->live->len > 0)
        victim = g_object_ref (g_ptr_array_index (ps->live, g_rand_int_range (rand, 0, ps->live->len)));
      g_mutex_unlock (&ps->lock);

      if (victim != NULL)
        {
          if (gasync_future_cancel (victim))
            g_atomic_int_inc (&ps->cancel_requests);
          g_object_unref (victim);
        }
    }

  g_rand_free (rand);
  return NULL;
}

static void
test_semaphore_pool (Fixture       *fixture,
                     gconstpointer  data)
{
  Watchdog *watchdog;
  gint64 start;

  ps = g_new0 (PoolStress, 1);
  ps->n = scaled (50000);
  ps->semaphore = gasync_semaphore_new (PERMITS);
  watch_finalize (ps->semaphore, &ps->finalized);
  ps->created++;
  g_mutex_init (&ps->lock);
  ps->live = g_ptr_array_new_with_free_func (g_object_unref);

  watchdog = watchdog_start ("semaphore-pool", 30, describe_pool);
  start = g_get_monotonic_time ();
  producers_start (&ps->producers);
  ps->canceller = g_thread_new ("canceller", pool_canceller_thread,
                                GUINT_TO_POINTER (g_test_rand_int ()));

  for (guint i = 0; i < MIN (POOL_LIVE, ps->n); i++)
    spawn_pooled ();
  while (ps->ended < ps->n)
    g_main_context_iteration (fixture->context, TRUE);

  g_atomic_int_set (&ps->stop_canceller, TRUE);
  g_thread_join (ps->canceller);
  producers_stop (&ps->producers);
  drain (fixture->context);

  g_test_message ("%u pooled coroutines under %d permits in %.2f s: %u completed, "
                  "%u cancelled waiting, %u cancelled holding a permit, %u failed work; "
                  "at most %u at once",
                  ps->n, PERMITS, (g_get_monotonic_time () - start) / 1e6, ps->completed,
                  ps->cancelled_waiting, ps->cancelled_working, ps->failed_work, ps->max_in_use);

  g_assert_cmpuint (ps->ended, ==, ps->n);
  g_assert_cmpuint (ps->completed + ps->cancelled_waiting + ps->cancelled_working + ps->failed_work,
                    ==, ps->n);
  g_assert_cmpuint (ps->max_in_use, <=, PERMITS);
  g_assert_cmpuint (ps->in_use, ==, 0);
  /* No permit was lost to a cancellation, none was handed out twice. */
  g_assert_cmpuint (gasync_semaphore_get_available (ps->semaphore), ==, PERMITS);
  g_assert_cmpuint (gasync_semaphore_get_n_waiting (ps->semaphore), ==, 0);
  g_assert_cmpuint (ps->live->len, ==, 0);

  g_clear_object (&ps->semaphore);
  drain (fixture->context);
  g_assert_cmpint (g_atomic_int_get (&ps->finalized), ==, (int) ps->created);

  watchdog_stop (watchdog);
  g_ptr_array_unref (ps->live);
  g_mutex_clear (&ps->lock);
  g_clear_pointer (&ps, g_free);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/Gasync/Stress/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("futures", test_futures);
  ADD ("scopes", test_scopes);
  ADD ("combinators", test_combinators);
  ADD ("semaphore-pool", test_semaphore_pool);

#undef ADD

  return g_test_run ();
}
