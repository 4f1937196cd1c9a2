/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-ops: a libFuzzer harness that reads its input as a program of
 * operations on futures, coroutines, combinators, scopes and owners spread
 * over two main contexts, and checks gasync's promises after every step.
 *
 * Each operation is one byte (its number modulo N_OPS) followed by operand
 * bytes; an input that runs out reads zeros.  Both contexts are iterated
 * by the harness's own thread, only when an operation says so, so every
 * input runs the same way each time.
 *
 * Invariants, checked after each operation and at the end:
 *   - a settled future never changes state, value or error;
 *   - done callbacks run exactly once per settled future, never for a
 *     pending one, and only after it settled;
 *   - settling or cancelling returns TRUE exactly when it should;
 *   - cancelling a combinator (but a shield) or a scope cancels every
 *     pending child at once; a finished all, any or race leaves no child
 *     behind; a child scope is cancelled with its parent;
 *   - disposing an owner cancels its scopes and bound futures at once, and
 *     no callback registered through such a scope runs afterwards;
 *   - an await reports exactly the outcome of the future it awaited;
 *   - at the end, with everything cancelled and both contexts drained,
 *     every object created is finalized.
 * A breach aborts with a message naming the operation.
 *
 * Built two ways (tests/fuzz/meson.build): with -Dfuzzing=true and clang,
 * a libFuzzer target; otherwise with a small main() that replays the files
 * given on the command line (the seed corpus, in the normal test suite).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gasync/gasync.h>

#define N_SLOTS     16
#define N_SCOPES    4
#define N_OWNERS    4
#define MAX_AWAITS  4
#define MAX_OPS     512
#define FUZZ_DOMAIN (g_quark_from_static_string ("gasync-fuzz"))

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* --- input ---------------------------------------------------------------- */

typedef struct
{
  const guint8 *data;
  size_t        size;
  size_t        pos;
} Input;

static guint
next (Input *in,
      guint  modulo)
{
  guint8 byte = in->pos < in->size ? in->data[in->pos++] : 0;

  return modulo > 0 ? byte % modulo : byte;
}

/* --- the model ------------------------------------------------------------ */

typedef enum
{
  REC_PLAIN,
  REC_COMBINATOR,
  REC_COROUTINE,
  REC_SCOPE_WAIT,
} RecKind;

typedef enum
{
  COMB_ALL,
  COMB_ALL_SETTLED,
  COMB_ANY,
  COMB_RACE,
  COMB_WAIT,
  COMB_SHIELD,
  COMB_THEN,
  COMB_CATCH,
  COMB_FINALLY,
  COMB_TIMEOUT,
  N_COMB,
} CombKind;

typedef struct _Record Record;

/* Everything known about one future created during the input. */
struct _Record
{
  guint              index;
  /* Not a reference: cleared when the future is finalized. */
  GasyncFuture      *future;
  RecKind            kind;
  CombKind           comb;
  int                done_calls;
  int                done_signals;
  /* The outcome, once seen settled. */
  gboolean           settled;
  GasyncFutureState  state;
  GValue             value;
  GQuark             error_domain;
  int                error_code;
  /* Combinators: the children's records. */
  GPtrArray         *children;
  /* The owner it is bound to (its serial), or -1. */
  int                owner;
};

typedef struct
{
  GMainContext *contexts[2];
  GasyncFuture *slots[N_SLOTS];
  GasyncScope  *scopes[N_SCOPES];
  /* The serial of the scope's owner, or -1. */
  int           scope_owner[N_SCOPES];
  int           scope_parent[N_SCOPES];
  /* Per scope: records added to it. */
  GPtrArray    *scope_members[N_SCOPES];
  GObject      *owners[N_OWNERS];
  /* Every owner object gets a serial; owner_gone[serial] once disposed. */
  int           owner_serial[N_OWNERS];
  GArray       *owner_gone;
  GPtrArray    *records;
  guint         op;
  const char   *op_name;
  int           objects_alive;
} Fuzz;

static Fuzz fz;
/* What the last input did, for the replay's log. */
static guint last_ops;
static guint last_records;

G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN static void
fail (const char *format,
      ...)
{
  va_list args;

  fprintf (stderr, "\nfuzz-ops: invariant broken at operation %u (%s): ", fz.op,
           fz.op_name ? fz.op_name : "teardown");
  va_start (args, format);
  vfprintf (stderr, format, args);
  va_end (args);
  fprintf (stderr, "\n");
  fflush (stderr);
  abort ();
}

#define CHECK(cond, ...) G_STMT_START { if G_UNLIKELY (!(cond)) fail (__VA_ARGS__); } G_STMT_END

static void
object_gone_cb (gpointer  data,
                GObject  *where_the_object_was)
{
  fz.objects_alive--;
}

static gpointer
watched (gpointer object)
{
  fz.objects_alive++;
  g_object_weak_ref (object, object_gone_cb, NULL);
  return object;
}

static gboolean
values_equal (const GValue *a,
              const GValue *b)
{
  if (G_VALUE_TYPE (a) != G_VALUE_TYPE (b))
    return FALSE;
  if (G_VALUE_TYPE (a) == G_TYPE_INVALID)
    return TRUE;

  switch (G_TYPE_FUNDAMENTAL (G_VALUE_TYPE (a)))
    {
    case G_TYPE_INT:
      return g_value_get_int (a) == g_value_get_int (b);
    case G_TYPE_STRING:
      return g_strcmp0 (g_value_get_string (a), g_value_get_string (b)) == 0;
    case G_TYPE_BOXED:
      /* A GPtrArray of children: the same array each time. */
      return g_value_get_boxed (a) == g_value_get_boxed (b);
    case G_TYPE_OBJECT:
      return g_value_get_object (a) == g_value_get_object (b);
    default:
      return TRUE;
    }
}

/* Reads the outcome of a settled future: state, value or error. */
static void
read_outcome (GasyncFuture      *future,
              GasyncFutureState *state,
              GValue            *value,
              GQuark            *domain,
              int               *code)
{
  g_autoptr(GError) error = NULL;

  *state = gasync_future_get_state (future);
  *domain = 0;
  *code = 0;
  if (gasync_future_get_value (future, value, &error))
    CHECK (*state == GASYNC_FUTURE_STATE_RESOLVED, "get_value succeeded in state %d", *state);
  else
    {
      CHECK (error != NULL, "get_value failed without an error");
      *domain = error->domain;
      *code = error->code;
      if (*state == GASYNC_FUTURE_STATE_CANCELLED)
        CHECK (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED),
               "a cancelled future reads as %s", error->message);
      else
        CHECK (*state == GASYNC_FUTURE_STATE_REJECTED,
               "get_value failed (%s) in state %d", error->message, *state);
    }
}

/* Checks the record against its future: a settled future never changes. */
static void
check_record (Record *rec)
{
  GasyncFutureState state;
  GValue value = G_VALUE_INIT;
  GQuark domain;
  int code;

  if (rec->future == NULL)
    return;

  if (gasync_future_get_state (rec->future) == GASYNC_FUTURE_STATE_PENDING)
    {
      CHECK (!rec->settled, "future %u went back to pending", rec->index);
      CHECK (rec->done_calls == 0, "future %u: done callback ran while pending", rec->index);
      return;
    }

  read_outcome (rec->future, &state, &value, &domain, &code);
  if (!rec->settled)
    {
      rec->settled = TRUE;
      rec->state = state;
      rec->value = value;
      rec->error_domain = domain;
      rec->error_code = code;
      return;
    }

  CHECK (state == rec->state, "future %u changed state from %d to %d", rec->index,
         rec->state, state);
  CHECK (values_equal (&value, &rec->value), "future %u changed its value", rec->index);
  CHECK (domain == rec->error_domain && code == rec->error_code,
         "future %u changed its error", rec->index);
  if (G_IS_VALUE (&value))
    g_value_unset (&value);
  CHECK (rec->done_calls <= 1, "future %u: done callback ran %d times", rec->index,
         rec->done_calls);
  CHECK (rec->done_signals <= 1, "future %u: done signal emitted %d times", rec->index,
         rec->done_signals);
}

static gboolean
is_settled_or_cancelling (Record *rec)
{
  return rec->future == NULL ||
         gasync_future_is_done (rec->future) ||
         gasync_future_is_cancel_requested (rec->future);
}

static void
check_combinator (Record *rec)
{
  GasyncFutureState state;

  if (rec->kind != REC_COMBINATOR || rec->future == NULL)
    return;
  state = gasync_future_get_state (rec->future);

  /* Cancelled: every pending child was cancelled with it (but through a
   * shield). */
  if (gasync_future_is_cancel_requested (rec->future) && rec->comb != COMB_SHIELD)
    for (guint i = 0; i < rec->children->len; i++)
      CHECK (is_settled_or_cancelling (g_ptr_array_index (rec->children, i)),
             "combinator %u was cancelled, its child %u goes on", rec->index,
             ((Record *) g_ptr_array_index (rec->children, i))->index);

  if (state == GASYNC_FUTURE_STATE_PENDING)
    return;

  switch (rec->comb)
    {
    case COMB_ALL:
    case COMB_ANY:
    case COMB_RACE:
      /* Done: no child is left running. */
      for (guint i = 0; i < rec->children->len; i++)
        CHECK (is_settled_or_cancelling (g_ptr_array_index (rec->children, i)),
               "combinator %u finished, its child %u goes on", rec->index,
               ((Record *) g_ptr_array_index (rec->children, i))->index);
      break;
    default:
      break;
    }

  if (rec->comb == COMB_ALL && state == GASYNC_FUTURE_STATE_RESOLVED)
    for (guint i = 0; i < rec->children->len; i++)
      {
        Record *child = g_ptr_array_index (rec->children, i);

        CHECK (child->future == NULL ||
               gasync_future_get_state (child->future) == GASYNC_FUTURE_STATE_RESOLVED,
               "all %u resolved with child %u not resolved", rec->index, child->index);
      }
  if (rec->comb == COMB_ANY && state == GASYNC_FUTURE_STATE_REJECTED)
    for (guint i = 0; i < rec->children->len; i++)
      {
        Record *child = g_ptr_array_index (rec->children, i);

        CHECK (child->future == NULL ||
               (gasync_future_is_done (child->future) &&
                gasync_future_get_state (child->future) != GASYNC_FUTURE_STATE_RESOLVED),
               "any %u rejected with child %u not failed", rec->index, child->index);
      }
}

static void
check_scope (int scope)
{
  if (fz.scopes[scope] == NULL || !gasync_scope_is_cancelled (fz.scopes[scope]))
    return;

  for (guint i = 0; i < fz.scope_members[scope]->len; i++)
    CHECK (is_settled_or_cancelling (g_ptr_array_index (fz.scope_members[scope], i)),
           "scope %d is cancelled, its member %u goes on", scope,
           ((Record *) g_ptr_array_index (fz.scope_members[scope], i))->index);

  for (int child = 0; child < N_SCOPES; child++)
    if (fz.scopes[child] != NULL && fz.scope_parent[child] == scope)
      CHECK (gasync_scope_is_cancelled (fz.scopes[child]),
             "scope %d is cancelled, its child scope %d is not", scope, child);
}

static void
check_all (void)
{
  for (guint i = 0; i < fz.records->len; i++)
    check_record (g_ptr_array_index (fz.records, i));
  for (guint i = 0; i < fz.records->len; i++)
    check_combinator (g_ptr_array_index (fz.records, i));
  for (int i = 0; i < N_SCOPES; i++)
    check_scope (i);
}

static void
record_done_cb (GasyncFuture *future,
                gpointer      user_data)
{
  Record *rec = user_data;

  rec->done_calls++;
  CHECK (rec->done_calls == 1, "future %u: done callback ran %d times", rec->index,
         rec->done_calls);
  CHECK (gasync_future_is_done (future), "future %u: done callback while pending", rec->index);
  check_record (rec);
}

static void
record_done_signal_cb (GasyncFuture *future,
                       gpointer      user_data)
{
  Record *rec = user_data;

  rec->done_signals++;
  CHECK (gasync_future_is_done (future), "future %u: done signal while pending", rec->index);
}

static void
record_gone_cb (gpointer  data,
                GObject  *where_the_object_was)
{
  Record *rec = data;
  GasyncFuture *future = (GasyncFuture *) where_the_object_was;

  /* Disposed with its delivery done: a settled future's callbacks ran. */
  if (gasync_future_is_done (future))
    CHECK (rec->done_calls == 1, "future %u finalized settled with %d done callbacks",
           rec->index, rec->done_calls);
  rec->future = NULL;
}

static Record *
record_new (GasyncFuture *future,
            RecKind       kind,
            gboolean      watch_signal)
{
  Record *rec = g_new0 (Record, 1);

  rec->index = fz.records->len;
  rec->future = future;
  rec->kind = kind;
  rec->owner = -1;
  g_ptr_array_add (fz.records, rec);

  watched (future);
  g_object_weak_ref (G_OBJECT (future), record_gone_cb, rec);
  gasync_future_add_done_callback (future, record_done_cb, rec, NULL);
  if (watch_signal)
    g_signal_connect (future, "done", G_CALLBACK (record_done_signal_cb), rec);

  return rec;
}

static void
record_free (gpointer data)
{
  Record *rec = data;

  if (G_IS_VALUE (&rec->value))
    g_value_unset (&rec->value);
  g_clear_pointer (&rec->children, g_ptr_array_unref);
  g_free (rec);
}

static Record *
record_of (GasyncFuture *future)
{
  for (guint i = fz.records->len; i-- > 0;)
    {
      Record *rec = g_ptr_array_index (fz.records, i);

      if (rec->future == future)
        return rec;
    }
  fail ("a future without a record");
}

static void
set_slot (guint         slot,
          GasyncFuture *future)
{
  g_clear_object (&fz.slots[slot]);
  fz.slots[slot] = future;
}

/* --- coroutines ------------------------------------------------------------ */

typedef struct
{
  guint          n_awaits;
  guint          next;
  GasyncFuture  *awaits[MAX_AWAITS];
  guint8         yields;
  int            sum;
} Program;

static void
program_free (gpointer data)
{
  Program *program = data;

  for (guint i = 0; i < MAX_AWAITS; i++)
    g_clear_object (&program->awaits[i]);
  g_free (program);
}

/* The await's outcome must be the future's, or the coroutine's own
 * cancellation. */
static void
check_await (GasyncFuture *awaited,
             gboolean      ok,
             GError       *error)
{
  GasyncCoroutine *self = gasync_coroutine_get_current ();
  GasyncFutureState state = gasync_future_get_state (awaited);

  if (ok)
    {
      CHECK (state == GASYNC_FUTURE_STATE_RESOLVED, "await succeeded on a future in state %d",
             state);
      return;
    }

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
      gasync_future_is_cancel_requested (GASYNC_FUTURE (self)))
    return;

  CHECK (state == GASYNC_FUTURE_STATE_REJECTED || state == GASYNC_FUTURE_STATE_CANCELLED,
         "await failed (%s) on a future in state %d", error->message, state);
  {
    g_autoptr(GError) own = NULL;

    gasync_future_propagate_error (awaited, &own);
    CHECK (own->domain == error->domain && own->code == error->code,
           "await failed with %s, the future with %s", error->message, own->message);
  }
}

static gboolean
program_body (gpointer   user_data,
              GValue    *result,
              GError   **error)
{
  Program *program = user_data;

  while (program->next < program->n_awaits)
    {
      guint i = program->next++;
      GasyncFuture *future = g_steal_pointer (&program->awaits[i]);
      g_autoptr(GasyncFuture) keep = NULL;
      g_auto(GValue) value = G_VALUE_INIT;
      GError *local_error = NULL;
      gboolean ok;

      if (future == NULL)
        continue;
      keep = g_object_ref (future);

      if ((program->yields & (1u << i)) && !gasync_yield (error))
        {
          g_object_unref (future);
          return FALSE;
        }

      ok = gasync_await_value (future, &value, &local_error);
      check_await (keep, ok, local_error);
      if (!ok)
        {
          g_propagate_error (error, local_error);
          return FALSE;
        }
      if (G_VALUE_HOLDS_INT (&value))
        program->sum += g_value_get_int (&value);
    }

  g_value_init (result, G_TYPE_INT);
  g_value_set_int (result, program->sum);
  return TRUE;
}

static GasyncFuture *
program_step (GasyncCoroutine *co,
              GasyncFuture    *awaited,
              gpointer         user_data)
{
  Program *program = user_data;

  if (awaited != NULL)
    {
      if (!gasync_future_is_done (awaited))
        fail ("a step was given a pending future");
      if (gasync_future_get_state (awaited) != GASYNC_FUTURE_STATE_RESOLVED)
        {
          GError *error = NULL;

          gasync_future_propagate_error (awaited, &error);
          gasync_future_take_error (GASYNC_FUTURE (co), error);
          return NULL;
        }
      if (gasync_future_has_value (awaited))
        program->sum += gasync_future_get_int (awaited, NULL);
    }

  while (program->next < program->n_awaits)
    {
      GasyncFuture *future = g_steal_pointer (&program->awaits[program->next++]);

      if (future != NULL)
        return future;
    }

  gasync_future_resolve_int (GASYNC_FUTURE (co), program->sum);
  return NULL;
}

/* Reads a program: which slots to await, which awaits yield first. */
static Program *
read_program (Input *in)
{
  Program *program = g_new0 (Program, 1);

  program->n_awaits = 1 + next (in, MAX_AWAITS);
  for (guint i = 0; i < program->n_awaits; i++)
    {
      GasyncFuture *future = fz.slots[next (in, N_SLOTS)];

      program->awaits[i] = future ? g_object_ref (future) : NULL;
    }
  program->yields = next (in, 0);
  return program;
}

static GasyncFuture *
spawn_program (Input       *in,
               GasyncScope *scope)
{
  gboolean stepped = next (in, 2);
  GMainContext *context = fz.contexts[next (in, 2)];
  Program *program = read_program (in);
  GasyncCoroutine *co;

  if (scope != NULL)
    co = stepped ? gasync_scope_spawn_stepped (scope, "fuzz", program_step, program, program_free)
                 : gasync_scope_spawn (scope, "fuzz", program_body, program, program_free);
  else if (stepped)
    co = gasync_coroutine_spawn_stepped (context, "fuzz", program_step, program, program_free);
  else
    co = gasync_coroutine_spawn_full (context, G_PRIORITY_DEFAULT, 0, "fuzz", program_body,
                                      program, program_free);

  /* Scope spawns return a borrowed reference. */
  if (scope != NULL)
    g_object_ref (co);
  record_new (GASYNC_FUTURE (co), REC_COROUTINE, FALSE);
  return GASYNC_FUTURE (co);
}

/* --- continuations --------------------------------------------------------- */

typedef struct
{
  guint          mode;
  GasyncFuture  *then_future;
} Continuation;

static void
continuation_free (gpointer data)
{
  Continuation *cont = data;

  g_clear_object (&cont->then_future);
  g_free (cont);
}

static GasyncFuture *
continuation_cb (GasyncFuture *future,
                 gpointer      user_data)
{
  Continuation *cont = user_data;

  CHECK (gasync_future_is_done (future), "a continuation ran on a pending future");
  switch (cont->mode)
    {
    case 0:
      return NULL;
    case 1:
      return gasync_future_new_resolved_int (7);
    default:
      return cont->then_future ? g_object_ref (cont->then_future) : NULL;
    }
}

/* --- scopes and owners ----------------------------------------------------- */

static gboolean
owner_gone (int serial)
{
  return serial >= 0 && g_array_index (fz.owner_gone, gboolean, serial);
}

static gboolean
owner_of_scope_gone (int scope)
{
  for (; scope >= 0; scope = fz.scope_parent[scope])
    if (owner_gone (fz.scope_owner[scope]))
      return TRUE;
  return FALSE;
}

/* A callback registered through a scope: the scope itself (kept alive by
 * the registration) and the owners above it when it was registered. */
typedef struct
{
  GasyncScope *scope;
  int          index;
  int          owners[N_SCOPES];
  guint        n_owners;
} ScopedData;

static void
scoped_cb (GasyncFuture *future,
           gpointer      user_data)
{
  ScopedData *scoped = user_data;

  CHECK (gasync_future_is_done (future), "a scoped callback ran on a pending future");
  CHECK (!gasync_scope_is_cancelled (scoped->scope),
         "a callback registered through cancelled scope %d ran", scoped->index);
  for (guint i = 0; i < scoped->n_owners; i++)
    CHECK (!owner_gone (scoped->owners[i]),
           "a callback registered through scope %d ran after its owner was disposed",
           scoped->index);
}

static GObject *
owner_get (guint index)
{
  if (fz.owners[index] == NULL)
    {
      gboolean gone = FALSE;

      fz.owners[index] = watched (g_object_new (G_TYPE_OBJECT, NULL));
      fz.owner_serial[index] = (int) fz.owner_gone->len;
      g_array_append_val (fz.owner_gone, gone);
    }
  return fz.owners[index];
}

static void
dispose_owner (guint index)
{
  int serial = fz.owner_serial[index];

  if (fz.owners[index] == NULL)
    return;

  g_array_index (fz.owner_gone, gboolean, serial) = TRUE;
  g_clear_object (&fz.owners[index]);
  /* At once: its scopes are cancelled, its futures cancelled. */
  for (int s = 0; s < N_SCOPES; s++)
    if (fz.scopes[s] != NULL && owner_of_scope_gone (s))
      CHECK (gasync_scope_is_cancelled (fz.scopes[s]),
             "owner %u disposed, scope %d not cancelled", index, s);
  for (guint i = 0; i < fz.records->len; i++)
    {
      Record *rec = g_ptr_array_index (fz.records, i);

      if (rec->owner == serial)
        CHECK (is_settled_or_cancelling (rec),
               "owner %u disposed, its future %u goes on", index, rec->index);
    }
}

static void
drop_scope (guint index)
{
  /* Children scopes are not dropped with their parent: the parent keeps
   * them alive, but the harness forgets the link. */
  for (int s = 0; s < N_SCOPES; s++)
    if (fz.scope_parent[s] == (int) index)
      fz.scope_parent[s] = -1;
  g_clear_object (&fz.scopes[index]);
  g_ptr_array_set_size (fz.scope_members[index], 0);
  fz.scope_owner[index] = -1;
  fz.scope_parent[index] = -1;
}

/* --- operations ------------------------------------------------------------ */

static void
op_create (Input *in)
{
  guint slot = next (in, N_SLOTS);
  guint flags = next (in, 0);
  GasyncFuture *future = gasync_future_new_for_context (fz.contexts[flags & 1]);

  record_new (future, REC_PLAIN, (flags & 2) != 0);
  if (flags & 4)
    gasync_future_set_name (future, "fuzz");
  set_slot (slot, future);
}

/* Settles a plain future; checks that it says TRUE exactly when it was
 * pending. */
static void
op_settle (Input *in)
{
  GasyncFuture *future = fz.slots[next (in, N_SLOTS)];
  guint how = next (in, 5);
  guint value = next (in, 0);
  gboolean was_pending;
  gboolean settled = FALSE;
  Record *rec;

  if (future == NULL)
    return;
  rec = record_of (future);
  if (rec->kind != REC_PLAIN)
    return;

  was_pending = !gasync_future_is_done (future);
  switch (how)
    {
    case 0:
      settled = gasync_future_resolve_int (future, (int) value);
      break;
    case 1:
      settled = gasync_future_resolve_string (future, value & 1 ? "fuzz" : NULL);
      break;
    case 2:
      settled = gasync_future_resolve_void (future);
      break;
    case 3:
      settled = gasync_future_reject_literal (future, FUZZ_DOMAIN, (int) value, "fuzz");
      break;
    default:
      {
        GError *error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "fuzz");

        /* A cancellation error settles as cancelled. */
        settled = gasync_future_take_error (future, error);
        if (settled)
          CHECK (gasync_future_is_cancelled (future), "took a cancellation error, not cancelled");
      }
      break;
    }
  CHECK (settled == was_pending, "settling returned %d on a %s future", settled,
         was_pending ? "pending" : "settled");
  CHECK (gasync_future_is_done (future), "settled, yet pending");
}

static void
op_cancel (Input *in)
{
  GasyncFuture *future = fz.slots[next (in, N_SLOTS)];
  gboolean expected, cancelled;
  Record *rec;

  if (future == NULL)
    return;
  rec = record_of (future);

  expected = !gasync_future_is_done (future) && !gasync_future_is_cancel_requested (future);
  cancelled = gasync_future_cancel (future);
  CHECK (cancelled == expected, "cancel returned %d, expected %d", cancelled, expected);
  if (!cancelled)
    return;

  CHECK (gasync_future_is_cancel_requested (future), "cancelled, yet not requested");
  /* A plain future and a combinator settle at once; a coroutine when its
   * body ends. */
  if (rec->kind != REC_COROUTINE)
    CHECK (gasync_future_is_cancelled (future), "future %u cancelled, yet in state %d",
           rec->index, gasync_future_get_state (future));
}

static void
op_spawn (Input *in)
{
  guint slot = next (in, N_SLOTS);

  set_slot (slot, spawn_program (in, NULL));
}

static void
op_combine (Input *in)
{
  guint slot = next (in, N_SLOTS);
  CombKind comb = next (in, N_COMB);
  guint n = next (in, 5);
  GasyncFuture *children[4];
  guint n_children = 0;
  GasyncFuture *combinator = NULL;
  Record *rec;

  for (guint i = 0; i < n && i < G_N_ELEMENTS (children); i++)
    {
      GasyncFuture *child = fz.slots[next (in, N_SLOTS)];

      if (child != NULL)
        children[n_children++] = child;
    }

  switch (comb)
    {
    case COMB_ALL:
      combinator = gasync_allv (children, n_children);
      break;
    case COMB_ALL_SETTLED:
      combinator = gasync_all_settledv (children, n_children);
      break;
    case COMB_ANY:
      combinator = gasync_anyv (children, n_children);
      break;
    case COMB_RACE:
      combinator = gasync_racev (children, n_children);
      break;
    case COMB_WAIT:
      combinator = gasync_waitv (next (in, 3), children, n_children);
      break;
    default:
      if (n_children == 0)
        return;
      n_children = 1;
      switch (comb)
        {
        case COMB_SHIELD:
          combinator = gasync_shield (g_object_ref (children[0]));
          break;
        case COMB_TIMEOUT:
          /* Never fires within an input: exercises the timer's teardown. */
          combinator = gasync_with_timeout (g_object_ref (children[0]), 600000);
          break;
        default:
          {
            Continuation *cont = g_new0 (Continuation, 1);
            GasyncFuture *then_future = fz.slots[next (in, N_SLOTS)];

            cont->mode = next (in, 3);
            cont->then_future = then_future ? g_object_ref (then_future) : NULL;
            combinator = (comb == COMB_THEN ? gasync_then
                          : comb == COMB_CATCH ? gasync_catch
                          : gasync_finally) (g_object_ref (children[0]), continuation_cb,
                                             cont, continuation_free);
          }
          break;
        }
      break;
    }

  rec = record_new (combinator, REC_COMBINATOR, next (in, 2));
  rec->comb = comb;
  rec->children = g_ptr_array_new ();
  for (guint i = 0; i < n_children; i++)
    g_ptr_array_add (rec->children, record_of (children[i]));
  set_slot (slot, combinator);
}

static void
op_scope_new (Input *in)
{
  guint index = next (in, N_SCOPES);
  guint how = next (in, 3);
  guint arg = next (in, 0);
  GasyncScope *scope;

  drop_scope (index);
  if (how == 1)
    {
      scope = gasync_scope_new_for_owner (owner_get (arg % N_OWNERS));
      fz.scope_owner[index] = fz.owner_serial[arg % N_OWNERS];
    }
  else if (how == 2 && fz.scopes[arg % N_SCOPES] != NULL && arg % N_SCOPES != index)
    {
      fz.scope_parent[index] = arg % N_SCOPES;
      scope = gasync_scope_new_child (fz.scopes[arg % N_SCOPES]);
    }
  else
    scope = gasync_scope_new ();

  fz.scopes[index] = watched (scope);
}

static void
op_scope_add (Input *in)
{
  guint index = next (in, N_SCOPES);
  GasyncFuture *future = fz.slots[next (in, N_SLOTS)];

  if (fz.scopes[index] == NULL || future == NULL)
    return;
  gasync_scope_add (fz.scopes[index], future);
  g_ptr_array_add (fz.scope_members[index], record_of (future));
  /* Added to a cancelled scope: cancelled at once. */
  check_scope (index);
}

static void
op_scope_spawn (Input *in)
{
  guint index = next (in, N_SCOPES);
  guint slot = next (in, N_SLOTS);
  GasyncFuture *co;

  if (fz.scopes[index] == NULL)
    return;
  co = spawn_program (in, fz.scopes[index]);
  g_ptr_array_add (fz.scope_members[index], record_of (co));
  set_slot (slot, co);
  check_scope (index);
}

static void
op_scope_cancel (Input *in)
{
  guint index = next (in, N_SCOPES);

  if (fz.scopes[index] == NULL)
    return;
  gasync_scope_cancel (fz.scopes[index]);
  CHECK (gasync_scope_is_cancelled (fz.scopes[index]), "scope %u not cancelled", index);
  check_scope (index);
}

static void
op_scope_callback (Input *in)
{
  guint index = next (in, N_SCOPES);
  GasyncFuture *future = fz.slots[next (in, N_SLOTS)];
  ScopedData *scoped;

  if (fz.scopes[index] == NULL || future == NULL)
    return;
  scoped = g_new0 (ScopedData, 1);
  scoped->scope = fz.scopes[index];
  scoped->index = (int) index;
  for (int s = (int) index; s >= 0; s = fz.scope_parent[s])
    if (fz.scope_owner[s] >= 0)
      scoped->owners[scoped->n_owners++] = fz.scope_owner[s];
  gasync_scope_add_done_callback (fz.scopes[index], future, scoped_cb, scoped, g_free);
}

static void
op_scope_wait (Input *in)
{
  guint index = next (in, N_SCOPES);
  guint slot = next (in, N_SLOTS);
  GasyncFuture *wait;

  if (fz.scopes[index] == NULL)
    return;
  wait = gasync_scope_wait (fz.scopes[index]);
  /* Every call returns the same future: a record only the first time. */
  for (guint i = 0; i < fz.records->len; i++)
    if (((Record *) g_ptr_array_index (fz.records, i))->future == wait)
      {
        set_slot (slot, wait);
        return;
      }
  record_new (wait, REC_SCOPE_WAIT, FALSE);
  set_slot (slot, wait);
}

static void
op_dispose_owner (Input *in)
{
  dispose_owner (next (in, N_OWNERS));
}

static void
op_bind_owner (Input *in)
{
  GasyncFuture *future = fz.slots[next (in, N_SLOTS)];
  guint owner = next (in, N_OWNERS);
  Record *rec;

  if (future == NULL)
    return;
  rec = record_of (future);
  if (rec->owner >= 0)
    return;
  gasync_future_bind_owner (future, owner_get (owner));
  rec->owner = fz.owner_serial[owner];
}

static void
op_iterate (Input *in)
{
  guint which = 1 + next (in, 3);
  guint n = 1 + next (in, 8);

  for (guint i = 0; i < n; i++)
    {
      if (which & 1)
        g_main_context_iteration (fz.contexts[0], FALSE);
      if (which & 2)
        g_main_context_iteration (fz.contexts[1], FALSE);
    }
}

static void
op_drop (Input *in)
{
  guint what = next (in, 0);

  if (what & 0x80)
    drop_scope (what % N_SCOPES);
  else
    set_slot (what % N_SLOTS, NULL);
}

typedef struct
{
  const char *name;
  void      (*func) (Input *in);
} Op;

static const Op ops[] = {
  { "create", op_create },
  { "settle", op_settle },
  { "cancel", op_cancel },
  { "spawn", op_spawn },
  { "combine", op_combine },
  { "scope-new", op_scope_new },
  { "scope-add", op_scope_add },
  { "scope-spawn", op_scope_spawn },
  { "scope-cancel", op_scope_cancel },
  { "scope-callback", op_scope_callback },
  { "scope-wait", op_scope_wait },
  { "dispose-owner", op_dispose_owner },
  { "bind-owner", op_bind_owner },
  { "iterate", op_iterate },
  { "iterate", op_iterate },
  { "drop", op_drop },
};

/* --- one input ------------------------------------------------------------- */

static gboolean
drain_both (void)
{
  gboolean any = FALSE;
  guint idle = 0;

  while (idle < 2)
    {
      gboolean a = g_main_context_iteration (fz.contexts[0], FALSE);
      gboolean b = g_main_context_iteration (fz.contexts[1], FALSE);

      any |= a || b;
      idle = (a || b) ? 0 : idle + 1;
    }
  return any;
}

static void
teardown (void)
{
  fz.op_name = NULL;

  /* Cancel everything until nothing is pending: coroutines end at their
   * next await, combinators and plain futures at once. */
  for (guint round = 0;; round++)
    {
      gboolean pending = FALSE;

      CHECK (round < 64, "still pending after 64 rounds of cancellation");
      for (int s = 0; s < N_SCOPES; s++)
        if (fz.scopes[s] != NULL)
          gasync_scope_cancel (fz.scopes[s]);
      for (guint i = 0; i < fz.records->len; i++)
        {
          Record *rec = g_ptr_array_index (fz.records, i);

          if (rec->future != NULL && !gasync_future_is_done (rec->future))
            {
              /* Stays alive through the cancellation's callbacks. */
              g_autoptr(GasyncFuture) future = g_object_ref (rec->future);

              gasync_future_cancel (future);
              pending = TRUE;
            }
        }
      drain_both ();
      check_all ();
      if (!pending)
        break;
    }

  for (guint i = 0; i < N_SLOTS; i++)
    set_slot (i, NULL);
  for (guint i = 0; i < N_SCOPES; i++)
    drop_scope (i);
  for (guint i = 0; i < N_OWNERS; i++)
    dispose_owner (i);
  drain_both ();
  check_all ();

  /* The outcomes the records hold (arrays of children among them) go
   * before the last look. */
  for (guint i = 0; i < fz.records->len; i++)
    {
      Record *rec = g_ptr_array_index (fz.records, i);

      if (G_IS_VALUE (&rec->value))
        g_value_unset (&rec->value);
    }
  drain_both ();

  for (guint i = 0; i < fz.records->len; i++)
    {
      Record *rec = g_ptr_array_index (fz.records, i);

      CHECK (rec->future == NULL, "future %u (kind %d) never finalized", rec->index, rec->kind);
    }
  CHECK (fz.objects_alive == 0, "%d objects never finalized", fz.objects_alive);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  Input in = { data, size, 0 };

  memset (&fz, 0, sizeof fz);
  fz.contexts[0] = g_main_context_new ();
  fz.contexts[1] = g_main_context_new ();
  g_main_context_push_thread_default (fz.contexts[0]);
  fz.records = g_ptr_array_new_with_free_func (record_free);
  fz.owner_gone = g_array_new (FALSE, FALSE, sizeof (gboolean));
  for (int i = 0; i < N_SCOPES; i++)
    {
      fz.scope_members[i] = g_ptr_array_new ();
      fz.scope_owner[i] = -1;
      fz.scope_parent[i] = -1;
    }

  for (fz.op = 0; fz.op < MAX_OPS && in.pos < in.size; fz.op++)
    {
      const Op *op = &ops[next (&in, G_N_ELEMENTS (ops))];

      fz.op_name = op->name;
      op->func (&in);
      check_all ();
    }

  teardown ();
  last_ops = fz.op;
  last_records = fz.records->len;

  for (int i = 0; i < N_SCOPES; i++)
    g_ptr_array_unref (fz.scope_members[i]);
  g_ptr_array_unref (fz.records);
  g_array_unref (fz.owner_gone);
  g_main_context_pop_thread_default (fz.contexts[0]);
  g_main_context_unref (fz.contexts[0]);
  g_main_context_unref (fz.contexts[1]);

  return 0;
}

/* Criticals are bugs (the harness only makes valid calls); the "never
 * retrieved" warnings of rejected futures nobody read are expected. */
static void
log_handler (const char     *log_domain,
             GLogLevelFlags  log_level,
             const char     *message,
             gpointer        user_data)
{
  if ((log_level & G_LOG_LEVEL_WARNING) && strstr (message, "never retrieved") != NULL)
    return;

  fprintf (stderr, "fuzz-ops: unexpected message at operation %u (%s): %s-%s\n", fz.op,
           fz.op_name ? fz.op_name : "teardown", log_domain ? log_domain : "",
           message);
  fflush (stderr);
  abort ();
}

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  /* G_DEBUG=fatal-warnings (the test environment) would abort on the
   * expected warnings before the handler could tell them apart. */
  g_log_set_always_fatal (G_LOG_LEVEL_ERROR);
  g_log_set_handler ("Gasync", G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION,
                     log_handler, NULL);
  g_log_set_handler ("GLib", G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING, log_handler, NULL);
  g_log_set_handler ("GLib-GObject", G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING, log_handler, NULL);
  return 0;
}

#ifndef GASYNC_FUZZING_LIBFUZZER
/* Without libFuzzer: replays each file given, or every file of each
 * directory given, in order. */
static int
replay_file (const char *path)
{
  g_autofree char *contents = NULL;
  gsize length = 0;
  g_autoptr(GError) error = NULL;

  if (!g_file_get_contents (path, &contents, &length, &error))
    {
      fprintf (stderr, "fuzz-ops: %s\n", error->message);
      return 1;
    }
  LLVMFuzzerTestOneInput ((const guint8 *) contents, length);
  printf ("%s: %u operations, %u futures\n", path, last_ops, last_records);
  return 0;
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

int
main (int    argc,
      char **argv)
{
  guint n = 0;
  int status = 0;

  LLVMFuzzerInitialize (&argc, &argv);

  for (int i = 1; i < argc; i++)
    {
      if (g_file_test (argv[i], G_FILE_TEST_IS_DIR))
        {
          g_autoptr(GDir) dir = g_dir_open (argv[i], 0, NULL);
          g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
          const char *name;

          while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
            g_ptr_array_add (names, g_build_filename (argv[i], name, NULL));
          g_ptr_array_sort (names, compare_strings);
          for (guint j = 0; j < names->len; j++, n++)
            status |= replay_file (g_ptr_array_index (names, j));
        }
      else
        {
          status |= replay_file (argv[i]);
          n++;
        }
    }

  printf ("fuzz-ops: replayed %u inputs\n", n);
  return n > 0 ? status : 1;
}
#endif
