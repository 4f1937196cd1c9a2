/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gasync/gasync.h>

#include "gasync-test-util.h"

static GasyncFuture *
send_int (GasyncChannel *channel,
          int            value)
{
  g_auto(GValue) v = G_VALUE_INIT;

  g_value_init (&v, G_TYPE_INT);
  g_value_set_int (&v, value);
  return gasync_channel_send (channel, &v);
}

static void
assert_resolved_int (GasyncFuture *future,
                     int           expected)
{
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (gasync_future_get_state (future), ==, GASYNC_FUTURE_STATE_RESOLVED);
  g_assert_cmpint (gasync_future_get_int (future, &error), ==, expected);
  g_assert_no_error (error);
}

static void
assert_closed (GasyncFuture *future)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (gasync_future_propagate_error (future, &error));
  g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_CLOSED);
}

static void
assert_state (GasyncFuture      *future,
              GasyncFutureState  state)
{
  g_assert_cmpint (gasync_future_get_state (future), ==, state);
}

/* Drains the context, then checks @object is finalized with its last
 * reference. */
#define FINALIZE(fixture, object)                                             \
  G_STMT_START {                                                              \
    drain ((fixture)->context);                                               \
    g_assert_finalize_object (object);                                        \
  } G_STMT_END

/* ------------------------------------------------------------------------ */
/* Sending and receiving                                                    */
/* ------------------------------------------------------------------------ */

static void
test_buffered (Fixture       *fixture,
               gconstpointer  data)
{
  GasyncChannel *channel = gasync_channel_new (2);
  GasyncFuture *s1, *s2, *s3, *s4, *r1, *r2, *r3, *r4;

  g_assert_cmpuint (gasync_channel_get_capacity (channel), ==, 2);
  g_assert_false (gasync_channel_is_closed (channel));

  /* Room for two: accepted at once; the third waits. */
  s1 = send_int (channel, 1);
  s2 = send_int (channel, 2);
  s3 = send_int (channel, 3);
  assert_state (s1, GASYNC_FUTURE_STATE_RESOLVED);
  assert_state (s2, GASYNC_FUTURE_STATE_RESOLVED);
  assert_state (s3, GASYNC_FUTURE_STATE_PENDING);
  g_assert_cmpuint (gasync_channel_get_length (channel), ==, 2);

  /* Receiving makes room: the waiting send is accepted. */
  r1 = gasync_channel_receive (channel);
  assert_resolved_int (r1, 1);
  assert_state (s3, GASYNC_FUTURE_STATE_RESOLVED);
  g_assert_cmpuint (gasync_channel_get_length (channel), ==, 2);

  r2 = gasync_channel_receive (channel);
  r3 = gasync_channel_receive (channel);
  assert_resolved_int (r2, 2);
  assert_resolved_int (r3, 3);

  /* Empty: the receive waits, and the next value goes straight to it. */
  r4 = gasync_channel_receive (channel);
  assert_state (r4, GASYNC_FUTURE_STATE_PENDING);
  s4 = send_int (channel, 4);
  assert_state (s4, GASYNC_FUTURE_STATE_RESOLVED);
  assert_resolved_int (r4, 4);
  g_assert_cmpuint (gasync_channel_get_length (channel), ==, 0);

  FINALIZE (fixture, s1);
  FINALIZE (fixture, s2);
  FINALIZE (fixture, s3);
  FINALIZE (fixture, s4);
  FINALIZE (fixture, r1);
  FINALIZE (fixture, r2);
  FINALIZE (fixture, r3);
  FINALIZE (fixture, r4);
  g_assert_finalize_object (channel);
}

static void
test_rendezvous (Fixture       *fixture,
                 gconstpointer  data)
{
  GasyncChannel *channel = gasync_channel_new (0);
  GasyncFuture *s1, *s2, *r1, *r2;

  /* Nothing is accepted until a receiver takes it. */
  s1 = send_int (channel, 1);
  assert_state (s1, GASYNC_FUTURE_STATE_PENDING);
  g_assert_cmpuint (gasync_channel_get_length (channel), ==, 0);

  r1 = gasync_channel_receive (channel);
  assert_resolved_int (r1, 1);
  assert_state (s1, GASYNC_FUTURE_STATE_RESOLVED);

  r2 = gasync_channel_receive (channel);
  assert_state (r2, GASYNC_FUTURE_STATE_PENDING);
  s2 = send_int (channel, 2);
  assert_state (s2, GASYNC_FUTURE_STATE_RESOLVED);
  assert_resolved_int (r2, 2);

  FINALIZE (fixture, s1);
  FINALIZE (fixture, s2);
  FINALIZE (fixture, r1);
  FINALIZE (fixture, r2);
  g_assert_finalize_object (channel);
}

static void
test_values (Fixture       *fixture,
             gconstpointer  data)
{
  GasyncChannel *channel = gasync_channel_new (4);
  g_autoptr(GObject) object = g_object_new (G_TYPE_OBJECT, NULL);
  g_auto(GValue) v = G_VALUE_INIT;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  GasyncFuture *sent, *received;
  gpointer got;

  /* Copied in: changing the sender's value later changes nothing. */
  g_value_init (&v, G_TYPE_STRING);
  g_value_set_string (&v, "hello");
  sent = gasync_channel_send (channel, &v);
  g_value_set_string (&v, "changed");
  FINALIZE (fixture, sent);

  g_value_unset (&v);
  g_value_init (&v, G_TYPE_OBJECT);
  g_value_set_object (&v, object);
  sent = gasync_channel_send (channel, &v);
  g_value_unset (&v);
  g_assert_cmpint (object->ref_count, ==, 2);
  FINALIZE (fixture, sent);

  received = gasync_channel_receive (channel);
  text = gasync_future_dup_string (received, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, "hello");
  FINALIZE (fixture, received);

  received = gasync_channel_receive (channel);
  got = gasync_future_dup_object (received, &error);
  g_assert_no_error (error);
  g_assert_true (got == object);
  g_object_unref (got);
  FINALIZE (fixture, received);

  /* The channel and its futures let go of it. */
  g_assert_cmpint (object->ref_count, ==, 1);

  /* Values still buffered are freed with the channel. */
  g_value_init (&v, G_TYPE_OBJECT);
  g_value_set_object (&v, object);
  sent = gasync_channel_send (channel, &v);
  FINALIZE (fixture, sent);
  g_assert_cmpint (object->ref_count, ==, 3);
  g_value_unset (&v);
  g_assert_finalize_object (channel);
  g_assert_cmpint (object->ref_count, ==, 1);
}

/* ------------------------------------------------------------------------ */
/* Closing                                                                  */
/* ------------------------------------------------------------------------ */

/* Closing with senders waiting: they are rejected, values already
 * accepted can still be received, then receives are rejected. */
static void
test_close_senders (Fixture       *fixture,
                    gconstpointer  data)
{
  GasyncChannel *channel = gasync_channel_new (1);
  GasyncFuture *accepted = send_int (channel, 1);
  GasyncFuture *waiting = send_int (channel, 2);
  GasyncFuture *late, *r1, *r2;

  assert_state (waiting, GASYNC_FUTURE_STATE_PENDING);
  gasync_channel_close (channel);
  g_assert_true (gasync_channel_is_closed (channel));
  /* Twice is harmless. */
  gasync_channel_close (channel);

  assert_closed (waiting);
  late = send_int (channel, 3);
  assert_closed (late);

  r1 = gasync_channel_receive (channel);
  assert_resolved_int (r1, 1);
  r2 = gasync_channel_receive (channel);
  assert_closed (r2);

  FINALIZE (fixture, accepted);
  FINALIZE (fixture, waiting);
  FINALIZE (fixture, late);
  FINALIZE (fixture, r1);
  FINALIZE (fixture, r2);
  g_assert_finalize_object (channel);
}

/* Closing with receivers waiting: they are rejected, and so are later
 * receives and sends. */
static void
test_close_receivers (Fixture       *fixture,
                      gconstpointer  data)
{
  GasyncChannel *channel = gasync_channel_new (4);
  GasyncFuture *r1 = gasync_channel_receive (channel);
  GasyncFuture *r2 = gasync_channel_receive (channel);
  GasyncFuture *r3, *s;

  assert_state (r1, GASYNC_FUTURE_STATE_PENDING);
  gasync_channel_close (channel);
  assert_closed (r1);
  assert_closed (r2);

  r3 = gasync_channel_receive (channel);
  assert_closed (r3);
  s = send_int (channel, 1);
  assert_closed (s);

  FINALIZE (fixture, r1);
  FINALIZE (fixture, r2);
  FINALIZE (fixture, r3);
  FINALIZE (fixture, s);
  g_assert_finalize_object (channel);
}

/* ------------------------------------------------------------------------ */
/* Cancellation                                                             */
/* ------------------------------------------------------------------------ */

static void
test_cancel_receive (Fixture       *fixture,
                     gconstpointer  data)
{
  GasyncChannel *channel = gasync_channel_new (1);
  GasyncFuture *r1 = gasync_channel_receive (channel);
  GasyncFuture *r2 = gasync_channel_receive (channel);
  GasyncFuture *s;

  g_assert_true (gasync_future_cancel (r1));
  assert_state (r1, GASYNC_FUTURE_STATE_CANCELLED);

  /* The value goes to the next receiver, not to the cancelled one. */
  s = send_int (channel, 7);
  assert_state (s, GASYNC_FUTURE_STATE_RESOLVED);
  assert_resolved_int (r2, 7);
  g_assert_cmpuint (gasync_channel_get_length (channel), ==, 0);

  FINALIZE (fixture, r1);
  FINALIZE (fixture, r2);
  FINALIZE (fixture, s);
  g_assert_finalize_object (channel);
}

static void
test_cancel_send (Fixture       *fixture,
                  gconstpointer  data)
{
  GasyncChannel *channel = gasync_channel_new (1);
  GasyncFuture *s1 = send_int (channel, 1);
  GasyncFuture *s2 = send_int (channel, 2);
  GasyncFuture *s3 = send_int (channel, 3);
  GasyncFuture *r1, *r2, *r3;

  g_assert_true (gasync_future_cancel (s2));
  assert_state (s2, GASYNC_FUTURE_STATE_CANCELLED);

  /* The withdrawn value never comes out. */
  r1 = gasync_channel_receive (channel);
  assert_resolved_int (r1, 1);
  assert_state (s3, GASYNC_FUTURE_STATE_RESOLVED);
  r2 = gasync_channel_receive (channel);
  assert_resolved_int (r2, 3);
  r3 = gasync_channel_receive (channel);
  assert_state (r3, GASYNC_FUTURE_STATE_PENDING);
  g_assert_true (gasync_future_cancel (r3));

  FINALIZE (fixture, s1);
  FINALIZE (fixture, s2);
  FINALIZE (fixture, s3);
  FINALIZE (fixture, r1);
  FINALIZE (fixture, r2);
  FINALIZE (fixture, r3);
  g_assert_finalize_object (channel);
}

/* Busy-waits @n rounds: shifts one racer against the other, so that the
 * loops below sweep the window where both overlap. */
static void
spin (guint n)
{
  for (volatile guint i = 0; i < n; i++)
    ;
}

/* Waits for another thread to set @flag: spinning at first, to line the
 * two threads up closely, then yielding, so that a loaded machine with
 * few processors still makes progress. */
static void
wait_flag (gint *flag)
{
  for (guint i = 0; !g_atomic_int_get (flag); i++)
    if (i > 20000)
      g_thread_yield ();
}

typedef struct
{
  GasyncChannel    *channel;
  gboolean          receive;   /* what the thread does: receive, or send 42 */
  guint             delay;
  gint              ready;
  gint              go;
  gint              main_done; /* the main thread's cancel has returned */
  gboolean          cancel_own;
  /* The outcome of the thread's future. */
  GasyncFutureState state;
  int               value;
} Racer;

/* Works on a context of its own, which it iterates itself, so that its
 * future's deliveries all run before it ends. */
static gpointer
race_thread (gpointer data)
{
  Racer *racer = data;
  GMainContext *context = g_main_context_new ();
  GasyncFuture *future;

  g_main_context_push_thread_default (context);

  g_atomic_int_set (&racer->ready, TRUE);
  wait_flag (&racer->go);
  spin (racer->delay);
  future = racer->receive ? gasync_channel_receive (racer->channel)
                          : send_int (racer->channel, 42);

  wait_flag (&racer->main_done);
  racer->state = gasync_future_get_state (future);
  if (racer->state == GASYNC_FUTURE_STATE_RESOLVED && racer->receive)
    racer->value = gasync_future_get_int (future, NULL);
  /* A receive left waiting when the main thread withdrew its send. */
  if (racer->state == GASYNC_FUTURE_STATE_PENDING)
    g_assert_true (gasync_future_cancel (future));

  drain (context);
  g_assert_finalize_object (future);
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);

  return NULL;
}

static gboolean
race (Racer        *racer,
      GasyncFuture *to_cancel,
      guint         delay)
{
  GThread *thread = g_thread_new ("racer", race_thread, racer);
  gboolean cancelled;

  wait_flag (&racer->ready);
  g_atomic_int_set (&racer->go, TRUE);
  spin (delay);
  cancelled = gasync_future_cancel (to_cancel);
  g_atomic_int_set (&racer->main_done, TRUE);
  g_thread_join (thread);

  return cancelled;
}

/* A value handed to a receive on one thread just as the receive is
 * cancelled on another: it reaches the receive (cancel returned FALSE) or
 * stays in the channel (cancel returned TRUE), never lost, never both. */
static void
test_cancel_race_receive (Fixture       *fixture,
                          gconstpointer  data)
{
  GasyncChannel *channel = gasync_channel_new (1);
  guint cancel_won = 0;

  for (guint i = 0; i < 2000; i++)
    {
      Racer racer = { .channel = channel, .receive = FALSE,
                      .delay = (i % 2) ? 0 : ((i / 2) * 4) % 4000 };
      GasyncFuture *receive = gasync_channel_receive (channel);

      if (race (&racer, receive, (i % 2) ? ((i / 2) * 4) % 4000 : 0))
        {
          GasyncFuture *again = gasync_channel_receive (channel);

          cancel_won++;
          assert_state (receive, GASYNC_FUTURE_STATE_CANCELLED);
          assert_resolved_int (again, 42);
          FINALIZE (fixture, again);
        }
      else
        assert_resolved_int (receive, 42);

      /* The send was accepted either way. */
      g_assert_cmpint (racer.state, ==, GASYNC_FUTURE_STATE_RESOLVED);
      g_assert_cmpuint (gasync_channel_get_length (channel), ==, 0);
      FINALIZE (fixture, receive);
    }

  g_test_message ("cancel won %u times out of 2000", cancel_won);
  g_assert_finalize_object (channel);
}

/* A waiting send accepted by a receive on another thread just as the send
 * is cancelled: withdrawn (the receive still waits) or delivered. */
static void
test_cancel_race_send (Fixture       *fixture,
                       gconstpointer  data)
{
  GasyncChannel *channel = gasync_channel_new (0);
  guint cancel_won = 0;

  for (guint i = 0; i < 2000; i++)
    {
      Racer racer = { .channel = channel, .receive = TRUE,
                      .delay = (i % 2) ? 0 : ((i / 2) * 4) % 4000 };
      GasyncFuture *send = send_int (channel, 42);

      if (race (&racer, send, (i % 2) ? ((i / 2) * 4) % 4000 : 0))
        {
          cancel_won++;
          assert_state (send, GASYNC_FUTURE_STATE_CANCELLED);
          g_assert_cmpint (racer.state, ==, GASYNC_FUTURE_STATE_PENDING);
        }
      else
        {
          assert_state (send, GASYNC_FUTURE_STATE_RESOLVED);
          g_assert_cmpint (racer.state, ==, GASYNC_FUTURE_STATE_RESOLVED);
          g_assert_cmpint (racer.value, ==, 42);
        }

      FINALIZE (fixture, send);
    }

  g_test_message ("cancel won %u times out of 2000", cancel_won);
  g_assert_finalize_object (channel);
}

/* ------------------------------------------------------------------------ */
/* Producers and consumers                                                  */
/* ------------------------------------------------------------------------ */

#define N_PRODUCERS  3
#define N_CONSUMERS  2
#define N_ITEMS      1000

typedef struct
{
  GasyncChannel *channel;
  int            producer;
} Producer;

typedef struct
{
  GasyncChannel *channel;
  /* Per producer: the next index this consumer expects to see, at least. */
  int            last_seen[N_PRODUCERS];
  guint8        *received;  /* shared: N_PRODUCERS * N_ITEMS counters */
  guint          count;
} Consumer;

static gboolean
producer_body (gpointer   user_data,
               GValue    *result,
               GError   **error)
{
  Producer *producer = user_data;

  for (int i = 0; i < N_ITEMS; i++)
    {
      if (!gasync_await (send_int (producer->channel, producer->producer * N_ITEMS + i), error))
        return FALSE;
    }

  return TRUE;
}

static gboolean
consumer_body (gpointer   user_data,
               GValue    *result,
               GError   **error)
{
  Consumer *consumer = user_data;

  for (;;)
    {
      g_autoptr(GError) local_error = NULL;
      int item = gasync_await_int (gasync_channel_receive (consumer->channel), &local_error);
      int producer, index;

      if (local_error != NULL)
        {
          if (g_error_matches (local_error, GASYNC_ERROR, GASYNC_ERROR_CLOSED))
            return TRUE;
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }

      producer = item / N_ITEMS;
      index = item % N_ITEMS;
      /* Each producer's values come out in order. */
      g_assert_cmpint (index, >, consumer->last_seen[producer]);
      consumer->last_seen[producer] = index;
      consumer->received[item]++;
      consumer->count++;
    }
}

static void
test_producer_consumer (Fixture       *fixture,
                        gconstpointer  data)
{
  GasyncChannel *channel = gasync_channel_new (4);
  g_autofree guint8 *received = g_new0 (guint8, N_PRODUCERS * N_ITEMS);
  Producer producers[N_PRODUCERS];
  Consumer consumers[N_CONSUMERS];
  GasyncCoroutine *producer_cos[N_PRODUCERS];
  GasyncCoroutine *consumer_cos[N_CONSUMERS];
  gboolean producers_done;
  guint total = 0;

  for (int i = 0; i < N_CONSUMERS; i++)
    {
      consumers[i] = (Consumer) { .channel = channel, .received = received };
      for (int p = 0; p < N_PRODUCERS; p++)
        consumers[i].last_seen[p] = -1;
      consumer_cos[i] = gasync_coroutine_spawn ("consumer", consumer_body, &consumers[i], NULL);
    }
  for (int i = 0; i < N_PRODUCERS; i++)
    {
      producers[i] = (Producer) { channel, i };
      producer_cos[i] = gasync_coroutine_spawn ("producer", producer_body, &producers[i], NULL);
    }

  do
    {
      producers_done = TRUE;
      for (int i = 0; i < N_PRODUCERS; i++)
        producers_done &= gasync_future_is_done (GASYNC_FUTURE (producer_cos[i]));
      if (!producers_done)
        g_main_context_iteration (fixture->context, TRUE);
    }
  while (!producers_done);

  /* The consumers wait on an empty channel: closing ends them. */
  drain (fixture->context);
  g_assert_cmpuint (gasync_channel_get_length (channel), ==, 0);
  gasync_channel_close (channel);
  for (int i = 0; i < N_CONSUMERS; i++)
    ITERATE_UNTIL (fixture->context, gasync_future_is_done (GASYNC_FUTURE (consumer_cos[i])));

  /* Every value exactly once; both consumers took part. */
  for (int i = 0; i < N_PRODUCERS * N_ITEMS; i++)
    g_assert_cmpint (received[i], ==, 1);
  for (int i = 0; i < N_CONSUMERS; i++)
    {
      g_assert_cmpuint (consumers[i].count, >, 0);
      total += consumers[i].count;
    }
  g_assert_cmpuint (total, ==, N_PRODUCERS * N_ITEMS);

  drain (fixture->context);
  for (int i = 0; i < N_PRODUCERS; i++)
    {
      assert_state (GASYNC_FUTURE (producer_cos[i]), GASYNC_FUTURE_STATE_RESOLVED);
      g_assert_finalize_object (producer_cos[i]);
    }
  for (int i = 0; i < N_CONSUMERS; i++)
    {
      assert_state (GASYNC_FUTURE (consumer_cos[i]), GASYNC_FUTURE_STATE_RESOLVED);
      g_assert_finalize_object (consumer_cos[i]);
    }
  g_assert_finalize_object (channel);
}

/* Producers blocked on a full channel and consumers blocked on an empty
 * one, both ended by closing. */
static void
test_close_coroutines (Fixture       *fixture,
                       gconstpointer  data)
{
  GasyncChannel *full = gasync_channel_new (1);
  GasyncChannel *empty = gasync_channel_new (1);
  g_autofree guint8 *received = g_new0 (guint8, N_PRODUCERS * N_ITEMS);
  Producer producer = { full, 0 };
  Consumer consumer = { .channel = empty, .received = received, .last_seen = { -1, -1, -1 } };
  GasyncCoroutine *producer_co = gasync_coroutine_spawn ("blocked-producer", producer_body, &producer, NULL);
  GasyncCoroutine *consumer_co = gasync_coroutine_spawn ("blocked-consumer", consumer_body, &consumer, NULL);
  g_autoptr(GError) error = NULL;

  drain (fixture->context);
  g_assert_cmpuint (gasync_channel_get_length (full), ==, 1);
  g_assert_false (gasync_future_is_done (GASYNC_FUTURE (producer_co)));
  g_assert_false (gasync_future_is_done (GASYNC_FUTURE (consumer_co)));

  gasync_channel_close (full);
  gasync_channel_close (empty);
  ITERATE_UNTIL (fixture->context,
                 gasync_future_is_done (GASYNC_FUTURE (producer_co)) &&
                 gasync_future_is_done (GASYNC_FUTURE (consumer_co)));

  /* The blocked send failed; the consumer ended normally on CLOSED. */
  g_assert_false (gasync_future_propagate_error (GASYNC_FUTURE (producer_co), &error));
  g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_CLOSED);
  assert_state (GASYNC_FUTURE (consumer_co), GASYNC_FUTURE_STATE_RESOLVED);
  g_assert_cmpuint (consumer.count, ==, 0);

  drain (fixture->context);
  g_assert_finalize_object (producer_co);
  g_assert_finalize_object (consumer_co);
  g_assert_finalize_object (full);
  g_assert_finalize_object (empty);
}

/* A consumer coroutine cancelled mid-wait leaves the queue, and the next
 * value goes to the other one. */
static void
test_coroutine_cancel (Fixture       *fixture,
                       gconstpointer  data)
{
  GasyncChannel *channel = gasync_channel_new (0);
  g_autofree guint8 *received = g_new0 (guint8, N_PRODUCERS * N_ITEMS);
  Consumer first = { .channel = channel, .received = received, .last_seen = { -1, -1, -1 } };
  Consumer second = { .channel = channel, .received = received, .last_seen = { -1, -1, -1 } };
  GasyncCoroutine *co1 = gasync_coroutine_spawn ("first", consumer_body, &first, NULL);
  GasyncCoroutine *co2 = gasync_coroutine_spawn ("second", consumer_body, &second, NULL);
  GasyncFuture *sent;

  drain (fixture->context);
  gasync_future_cancel (GASYNC_FUTURE (co1));
  ITERATE_UNTIL (fixture->context, gasync_future_is_done (GASYNC_FUTURE (co1)));
  assert_state (GASYNC_FUTURE (co1), GASYNC_FUTURE_STATE_CANCELLED);

  sent = send_int (channel, 5);
  assert_state (sent, GASYNC_FUTURE_STATE_RESOLVED);
  ITERATE_UNTIL (fixture->context, second.count == 1);
  g_assert_cmpuint (first.count, ==, 0);
  g_assert_cmpint (received[5], ==, 1);

  gasync_channel_close (channel);
  ITERATE_UNTIL (fixture->context, gasync_future_is_done (GASYNC_FUTURE (co2)));

  drain (fixture->context);
  g_assert_finalize_object (sent);
  g_assert_finalize_object (co1);
  g_assert_finalize_object (co2);
  g_assert_finalize_object (channel);
}

/* A value that reached a coroutine's receive just before the coroutine
 * was cancelled: the cancellation wins over the await's outcome, and the
 * value goes back, to the front of the channel or to the next waiting
 * receiver.  Nothing lost, nothing twice. */
static void
test_coroutine_cancel_handed (Fixture       *fixture,
                              gconstpointer  data)
{
  GasyncChannel *channel = gasync_channel_new (1);
  g_autofree guint8 *received = g_new0 (guint8, N_PRODUCERS * N_ITEMS);
  Consumer first = { .channel = channel, .received = received, .last_seen = { -1, -1, -1 } };
  Consumer second = { .channel = channel, .received = received, .last_seen = { -1, -1, -1 } };
  GasyncCoroutine *co1 = gasync_coroutine_spawn ("first", consumer_body, &first, NULL);
  GasyncCoroutine *co2;
  GasyncFuture *sent, *again;

  /* Alone: the value goes back into the channel. */
  drain (fixture->context);
  sent = send_int (channel, 5);
  g_assert_cmpuint (gasync_channel_get_length (channel), ==, 0);
  gasync_future_cancel (GASYNC_FUTURE (co1));
  ITERATE_UNTIL (fixture->context, gasync_future_is_done (GASYNC_FUTURE (co1)));
  assert_state (GASYNC_FUTURE (co1), GASYNC_FUTURE_STATE_CANCELLED);
  g_assert_cmpuint (first.count, ==, 0);
  g_assert_cmpuint (gasync_channel_get_length (channel), ==, 1);
  again = gasync_channel_receive (channel);
  assert_resolved_int (again, 5);
  FINALIZE (fixture, again);
  FINALIZE (fixture, sent);
  FINALIZE (fixture, co1);

  /* With another receiver waiting: the value goes to it. */
  co1 = gasync_coroutine_spawn ("first", consumer_body, &first, NULL);
  co2 = gasync_coroutine_spawn ("second", consumer_body, &second, NULL);
  drain (fixture->context);
  sent = send_int (channel, 6);
  gasync_future_cancel (GASYNC_FUTURE (co1));
  ITERATE_UNTIL (fixture->context, gasync_future_is_done (GASYNC_FUTURE (co1)) && second.count == 1);
  assert_state (GASYNC_FUTURE (co1), GASYNC_FUTURE_STATE_CANCELLED);
  g_assert_cmpuint (first.count, ==, 0);
  g_assert_cmpint (received[6], ==, 1);
  g_assert_cmpuint (gasync_channel_get_length (channel), ==, 0);

  gasync_channel_close (channel);
  ITERATE_UNTIL (fixture->context, gasync_future_is_done (GASYNC_FUTURE (co2)));
  assert_state (GASYNC_FUTURE (co2), GASYNC_FUTURE_STATE_RESOLVED);

  FINALIZE (fixture, sent);
  FINALIZE (fixture, co1);
  FINALIZE (fixture, co2);
  g_assert_finalize_object (channel);
}

/* Not a channel, or no value: a critical, and a future rejected with
 * GASYNC_ERROR_FAILED rather than NULL; the channel is left alone. */
static void
test_misuse (Fixture       *fixture,
             gconstpointer  data)
{
  GasyncChannel *channel = gasync_channel_new (1);
  g_auto(GValue) value = G_VALUE_INIT;
  g_auto(GValue) unset = G_VALUE_INIT;
  GasyncFuture *refused;

  g_value_init (&value, G_TYPE_INT);

  g_test_expect_message ("Gasync", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  refused = gasync_channel_send (NULL, &value);
  g_test_assert_expected_messages ();
  assert_refused (refused, "gasync_channel_send");

  g_test_expect_message ("Gasync", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  refused = gasync_channel_send (channel, &unset);
  g_test_assert_expected_messages ();
  assert_refused (refused, "gasync_channel_send");

  g_test_expect_message ("Gasync", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  refused = gasync_channel_receive (NULL);
  g_test_assert_expected_messages ();
  assert_refused (refused, "gasync_channel_receive");

  g_assert_cmpuint (gasync_channel_get_length (channel), ==, 0);
  drain (fixture->context);
  g_assert_finalize_object (channel);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("/Gasync/Channel/buffered", test_buffered);
  ADD ("/Gasync/Channel/rendezvous", test_rendezvous);
  ADD ("/Gasync/Channel/values", test_values);
  ADD ("/Gasync/Channel/close-senders", test_close_senders);
  ADD ("/Gasync/Channel/close-receivers", test_close_receivers);
  ADD ("/Gasync/Channel/cancel-receive", test_cancel_receive);
  ADD ("/Gasync/Channel/cancel-send", test_cancel_send);
  ADD ("/Gasync/Channel/cancel-race-receive", test_cancel_race_receive);
  ADD ("/Gasync/Channel/cancel-race-send", test_cancel_race_send);
  ADD ("/Gasync/Channel/producer-consumer", test_producer_consumer);
  ADD ("/Gasync/Channel/close-coroutines", test_close_coroutines);
  ADD ("/Gasync/Channel/coroutine-cancel", test_coroutine_cancel);
  ADD ("/Gasync/Channel/coroutine-cancel-handed", test_coroutine_cancel_handed);
  ADD ("/Gasync/Channel/misuse", test_misuse);

  return g_test_run ();
}
