/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "gasync-fiber-private.h"
#include "gasync-stack-private.h"

#if defined(__has_include)
# if __has_include(<valgrind/valgrind.h>)
#  include <valgrind/valgrind.h>
#  define HAVE_VALGRIND_H 1
# endif
#endif

static gboolean
under_valgrind (void)
{
#ifdef HAVE_VALGRIND_H
  return RUNNING_ON_VALGRIND;
#else
  return FALSE;
#endif
}

/* Run through meson's exe_wrapper: qemu-user, for the cross build. */
static gboolean
exe_wrapped (void)
{
  const char *wrapper = g_getenv ("MESON_EXE_WRAPPER");

  return wrapper != NULL && *wrapper != '\0';
}

/* Memory figures mean nothing under Valgrind (it keeps its own shadow of
 * everything and places mappings itself), a sanitizer (shadow memory,
 * larger stacks) or qemu-user (which keeps its own state per guest page),
 * and all of them are slow. */
static gboolean
under_instrumentation (void)
{
  return under_valgrind () || exe_wrapped () || GASYNC_ASAN || GASYNC_TSAN;
}

static gboolean
is_asm_backend (void)
{
  return !g_str_equal (gasync_fiber_backend_name (), "ucontext");
}

/* A "kB" field of /proc/self/status. */
static guint64
read_status_kib (const char *field)
{
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  const char *line;

  g_file_get_contents ("/proc/self/status", &contents, NULL, &error);
  g_assert_no_error (error);

  line = strstr (contents, field);
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen (field), NULL, 10);
}

/* Resident set size of the process, in bytes. */
static guint64
read_rss (void)
{
  return read_status_kib ("VmRSS:") * 1024;
}

/* Kernel mappings (VMAs) of the process: one line each in /proc/self/maps. */
static guint
count_maps (void)
{
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  guint lines = 0;

  g_file_get_contents ("/proc/self/maps", &contents, NULL, &error);
  g_assert_no_error (error);

  for (const char *p = contents; *p != '\0'; p++)
    if (*p == '\n')
      lines++;

  return lines;
}

static guint
read_max_map_count (void)
{
  g_autofree char *contents = NULL;

  if (!g_file_get_contents ("/proc/sys/vm/max_map_count", &contents, NULL, NULL))
    return 65530;
  return (guint) g_ascii_strtoull (contents, NULL, 10);
}

/* A fiber with the bookkeeping the coroutine layer would have. */
typedef struct
{
  GasyncFiber  fiber;
  GasyncFiber *caller;
  GasyncStack *stack;
  guint64      value;
  guint        n;
  gboolean     done;
} TestFiber;

static void
test_fiber_start (TestFiber       *tf,
                  GasyncStackPool *pool,
                  GasyncFiber     *caller,
                  GasyncFiberFunc  func,
                  const char      *name)
{
  tf->caller = caller;
  tf->stack = gasync_stack_pool_acquire (pool, 0);
  gasync_fiber_init (&tf->fiber, tf->stack, func, tf);
  tf->fiber.name = name;
}

static void
test_fiber_finish (TestFiber       *tf,
                   GasyncStackPool *pool)
{
  g_assert_true (gasync_fiber_is_finished (&tf->fiber));
  gasync_fiber_clear (&tf->fiber);
  gasync_stack_pool_release (pool, g_steal_pointer (&tf->stack));
}

/* The thread fiber of the main thread, for the tests running there. */
static GasyncFiber main_fiber;

static void
test_backend (void)
{
  const char *name = gasync_fiber_backend_name ();
  const char *forced = g_getenv ("GASYNC_FIBER_BACKEND");

  g_test_message ("fiber backend: %s", name);

  if (g_strcmp0 (forced, "ucontext") == 0)
    g_assert_cmpstr (name, ==, "ucontext");
#if defined(__x86_64__)
  else
    g_assert_true (g_str_equal (name, "x86_64") || g_str_equal (name, "ucontext"));
#elif defined(__aarch64__)
  else
    g_assert_true (g_str_equal (name, "aarch64") || g_str_equal (name, "ucontext"));
#endif
}

static void
ping_pong_body (gpointer data)
{
  TestFiber *tf = data;

  for (guint i = 0; i < tf->n; i++)
    {
      g_assert_cmpuint (tf->value, ==, 2 * (guint64) i);
      g_assert_true (gasync_fiber_get_current () == &tf->fiber);
      tf->value = 2 * (guint64) i + 1;
      gasync_fiber_switch (&tf->fiber, tf->caller);
    }

  tf->done = TRUE;
  gasync_fiber_switch_final (&tf->fiber, tf->caller);
}

static void
test_ping_pong (void)
{
  g_autoptr(GasyncStackPool) pool = gasync_stack_pool_new ();
  TestFiber tf = { .n = 100000 };

  test_fiber_start (&tf, pool, &main_fiber, ping_pong_body, "ping-pong");

  for (guint i = 0; i < tf.n; i++)
    {
      tf.value = 2 * (guint64) i;
      gasync_fiber_switch (&main_fiber, &tf.fiber);
      g_assert_true (gasync_fiber_get_current () == &main_fiber);
      g_assert_cmpuint (tf.value, ==, 2 * (guint64) i + 1);
      g_assert_false (tf.done);
    }

  gasync_fiber_switch (&main_fiber, &tf.fiber);
  g_assert_true (tf.done);
  test_fiber_finish (&tf, pool);
}

/*
 * Nested: each level starts the next from its own stack.  The deepest one
 * jumps straight back to the main thread fiber (skipping all levels), is
 * resumed from there, then the chain unwinds level by level, each finishing
 * into its parent.
 */
#define NEST_DEPTH 16

typedef struct
{
  GasyncStackPool *pool;
  TestFiber        levels[NEST_DEPTH];
  guint            depth_reached;
  GString         *trace;
} Nest;

static Nest *nest;

static void
nest_body (gpointer data)
{
  TestFiber *tf = data;
  guint level = (guint) (tf - nest->levels);

  g_string_append_printf (nest->trace, "+%u", level);
  nest->depth_reached = MAX (nest->depth_reached, level);

  if (level + 1 < NEST_DEPTH)
    {
      TestFiber *child = &nest->levels[level + 1];

      test_fiber_start (child, nest->pool, &tf->fiber, nest_body, "nested");
      gasync_fiber_switch (&tf->fiber, &child->fiber);
      /* The child finished into us. */
      g_assert_true (child->done);
      test_fiber_finish (child, nest->pool);
    }
  else
    {
      gasync_fiber_switch (&tf->fiber, &main_fiber);
      g_string_append (nest->trace, "!");
    }

  g_string_append_printf (nest->trace, "-%u", level);
  tf->done = TRUE;
  gasync_fiber_switch_final (&tf->fiber, tf->caller);
}

static void
test_nested (void)
{
  g_autoptr(GasyncStackPool) pool = gasync_stack_pool_new ();
  g_autoptr(GString) expected = g_string_new (NULL);
  Nest n = { .pool = pool, .trace = g_string_new (NULL) };

  nest = &n;
  test_fiber_start (&n.levels[0], pool, &main_fiber, nest_body, "nested");

  gasync_fiber_switch (&main_fiber, &n.levels[0].fiber);
  g_assert_cmpuint (n.depth_reached, ==, NEST_DEPTH - 1);
  g_assert_false (n.levels[0].done);

  /* Resume the deepest: it unwinds the whole chain back to us. */
  gasync_fiber_switch (&main_fiber, &n.levels[NEST_DEPTH - 1].fiber);
  g_assert_true (n.levels[0].done);
  test_fiber_finish (&n.levels[0], pool);

  for (guint i = 0; i < NEST_DEPTH; i++)
    g_string_append_printf (expected, "+%u", i);
  g_string_append (expected, "!");
  for (guint i = NEST_DEPTH; i-- > 0;)
    g_string_append_printf (expected, "-%u", i);
  g_assert_cmpstr (n.trace->str, ==, expected->str);

  g_string_free (n.trace, TRUE);
  nest = NULL;
}

static void
count_body (gpointer data)
{
  TestFiber *tf = data;

  tf->value++;
  if (tf->n > 0)
    {
      gasync_fiber_switch (&tf->fiber, tf->caller);
      tf->value++;
    }
  tf->done = TRUE;
  gasync_fiber_switch_final (&tf->fiber, tf->caller);
}

/* 10,000 fibers run to completion one after the other, then in waves of 50
 * alive at once: the pool hands the same stacks out again. */
static void
test_many_sequential (void)
{
  g_autoptr(GasyncStackPool) pool = gasync_stack_pool_new ();
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);
  TestFiber *wave = g_new0 (TestFiber, 50);

  for (guint i = 0; i < 10000; i++)
    {
      TestFiber tf = { .value = i };

      test_fiber_start (&tf, pool, &main_fiber, count_body, "sequential");
      g_hash_table_add (seen, tf.stack);
      gasync_fiber_switch (&main_fiber, &tf.fiber);
      g_assert_true (tf.done);
      g_assert_cmpuint (tf.value, ==, (guint64) i + 1);
      test_fiber_finish (&tf, pool);
    }
  g_assert_cmpuint (g_hash_table_size (seen), ==, 1);

  g_hash_table_remove_all (seen);
  for (guint round = 0; round < 200; round++)
    {
      for (guint i = 0; i < 50; i++)
        {
          memset (&wave[i], 0, sizeof wave[i]);
          wave[i].n = 1;
          test_fiber_start (&wave[i], pool, &main_fiber, count_body, "wave");
          g_hash_table_add (seen, wave[i].stack);
          gasync_fiber_switch (&main_fiber, &wave[i].fiber);
          g_assert_cmpuint (wave[i].value, ==, 1);
        }
      /* Finish them in another order than they started. */
      for (guint i = 50; i-- > 0;)
        {
          gasync_fiber_switch (&main_fiber, &wave[i].fiber);
          g_assert_true (wave[i].done);
          g_assert_cmpuint (wave[i].value, ==, 2);
          test_fiber_finish (&wave[i], pool);
        }
    }
  g_assert_cmpuint (g_hash_table_size (seen), ==, 50);

  g_free (wave);
}

/* Floating-point control state. */
#if defined(__x86_64__)
static guint32
get_mxcsr (void)
{
  guint32 value;

  __asm__ volatile ("stmxcsr %0" : "=m" (value));
  return value;
}

static void
set_mxcsr (guint32 value)
{
  __asm__ volatile ("ldmxcsr %0" : : "m" (value));
}

static guint16
get_fcw (void)
{
  guint16 value;

  __asm__ volatile ("fnstcw %0" : "=m" (value));
  return value;
}

static void
set_fcw (guint16 value)
{
  __asm__ volatile ("fldcw %0" : : "m" (value));
}

#define MXCSR_DEFAULT   0x1f80
#define MXCSR_RC_DOWN   0x2000
#define MXCSR_RC_ZERO   0x6000
#define FCW_DEFAULT     0x037f
#define FCW_RC_UP       0x0800
#define FCW_RC_ZERO     0x0f7f  /* round toward zero; Valgrind ignores precision control */

static void
fp_body (gpointer data)
{
  TestFiber *tf = data;

  /* A new fiber starts with its creator's control state. */
  g_assert_cmphex (get_mxcsr (), ==, MXCSR_DEFAULT | MXCSR_RC_DOWN);
  g_assert_cmphex (get_fcw (), ==, FCW_DEFAULT | FCW_RC_UP);

  set_mxcsr (MXCSR_DEFAULT | MXCSR_RC_ZERO);
  set_fcw (FCW_RC_ZERO);

  for (guint i = 0; i < 3; i++)
    {
      gasync_fiber_switch (&tf->fiber, tf->caller);
      g_assert_cmphex (get_mxcsr () & ~0x3fu, ==, MXCSR_DEFAULT | MXCSR_RC_ZERO);
      g_assert_cmphex (get_fcw (), ==, FCW_RC_ZERO);
    }

  tf->done = TRUE;
  gasync_fiber_switch_final (&tf->fiber, tf->caller);
}

static void
test_fp_control (void)
{
  g_autoptr(GasyncStackPool) pool = gasync_stack_pool_new ();
  TestFiber tf = { 0 };
  guint32 saved_mxcsr = get_mxcsr ();
  guint16 saved_fcw = get_fcw ();

  set_mxcsr (MXCSR_DEFAULT | MXCSR_RC_DOWN);
  set_fcw (FCW_DEFAULT | FCW_RC_UP);

  test_fiber_start (&tf, pool, &main_fiber, fp_body, "fp");
  while (!tf.done)
    {
      gasync_fiber_switch (&main_fiber, &tf.fiber);
      /* The exception flags (low 6 bits) are status, not control. */
      g_assert_cmphex (get_mxcsr () & ~0x3fu, ==, MXCSR_DEFAULT | MXCSR_RC_DOWN);
      g_assert_cmphex (get_fcw (), ==, FCW_DEFAULT | FCW_RC_UP);
    }
  test_fiber_finish (&tf, pool);

  set_mxcsr (saved_mxcsr);
  set_fcw (saved_fcw);
}
#elif defined(__aarch64__)
static guint64
get_fpcr (void)
{
  guint64 value;

  __asm__ volatile ("mrs %0, fpcr" : "=r" (value));
  return value;
}

static void
set_fpcr (guint64 value)
{
  __asm__ volatile ("msr fpcr, %0" : : "r" (value));
}

#define FPCR_RMODE_MASK (3u << 22)
#define FPCR_RMODE_UP   (1u << 22)
#define FPCR_RMODE_ZERO (3u << 22)

static void
fp_body (gpointer data)
{
  TestFiber *tf = data;

  /* Both backends: the fiber sees the rounding mode set before it started. */
  g_assert_cmphex (get_fpcr () & FPCR_RMODE_MASK, ==, FPCR_RMODE_ZERO);
  set_fpcr ((get_fpcr () & ~(guint64) FPCR_RMODE_MASK) | FPCR_RMODE_UP);

  gasync_fiber_switch (&tf->fiber, tf->caller);

  tf->done = TRUE;
  gasync_fiber_switch_final (&tf->fiber, tf->caller);
}

static void
test_fp_control (void)
{
  g_autoptr(GasyncStackPool) pool = gasync_stack_pool_new ();
  TestFiber tf = { 0 };
  guint64 saved = get_fpcr ();

  set_fpcr ((saved & ~(guint64) FPCR_RMODE_MASK) | FPCR_RMODE_ZERO);

  test_fiber_start (&tf, pool, &main_fiber, fp_body, "fp");
  gasync_fiber_switch (&main_fiber, &tf.fiber);

  if (is_asm_backend ())
    {
      /* The assembly switch leaves FPCR alone: it is thread state, and the
       * fiber's change is visible here. */
      g_assert_cmphex (get_fpcr () & FPCR_RMODE_MASK, ==, FPCR_RMODE_UP);
    }
  else
    {
      /* glibc's swapcontext saves and restores FPCR with the context. */
      g_assert_cmphex (get_fpcr () & FPCR_RMODE_MASK, ==, FPCR_RMODE_ZERO);
    }

  gasync_fiber_switch (&main_fiber, &tf.fiber);
  g_assert_true (tf.done);
  test_fiber_finish (&tf, pool);

  set_fpcr (saved);
}
#else
static void
test_fp_control (void)
{
  g_test_skip ("no floating-point control check for this architecture");
}
#endif

/*
 * Callee-saved registers: many integer and floating-point values live
 * across a switch, while the other side does the same with other values.
 * Whatever the compiler keeps in callee-saved registers (rbx, rbp, r12-r15;
 * x19-x28, d8-d15) must come back intact.
 */
typedef struct
{
  GasyncFiber *from;
  GasyncFiber *to;
} SwitchPair;

static G_GNUC_NO_INLINE guint64
pressure (guint64           seed,
          const SwitchPair *pair)
{
  guint64 a = seed * 3 + 1, b = seed * 5 + 2, c = seed * 7 + 3, d = seed * 11 + 4;
  guint64 e = seed * 13 + 5, f = seed * 17 + 6, g = seed * 19 + 7, h = seed * 23 + 8;
  guint64 i = seed * 29 + 9, j = seed * 31 + 10, k = seed * 37 + 11, l = seed * 41 + 12;
  double da = (double) seed * 0.5, db = (double) seed * 0.25, dc = (double) seed + 0.125;
  double dd = (double) seed * 3.5, de = (double) seed - 7.0, df = (double) seed * 1.5;
  double dg = (double) seed + 11.0, dh = (double) seed * 9.0;

  /* Opaque to the optimizer: all of them are really live here. */
  __asm__ volatile ("" : "+r" (a), "+r" (b), "+r" (c), "+r" (d), "+r" (e), "+r" (f));
  __asm__ volatile ("" : "+r" (g), "+r" (h), "+r" (i), "+r" (j), "+r" (k), "+r" (l));
  __asm__ volatile ("" : "+g" (da), "+g" (db), "+g" (dc), "+g" (dd));
  __asm__ volatile ("" : "+g" (de), "+g" (df), "+g" (dg), "+g" (dh));

  if (pair != NULL)
    gasync_fiber_switch (pair->from, pair->to);

  return (a ^ (b << 1) ^ (c << 2) ^ (d << 3) ^ (e << 4) ^ (f << 5)) +
         (g ^ (h << 1) ^ (i << 2) ^ (j << 3) ^ (k << 4) ^ (l << 5)) +
         (guint64) (da + db * 2 + dc * 3 + dd * 4 + de * 5 + df * 6 + dg * 7 + dh * 8);
}

static void
pressure_body (gpointer data)
{
  TestFiber *tf = data;
  SwitchPair pair = { &tf->fiber, tf->caller };

  for (guint round = 0; round < 100; round++)
    {
      guint64 seed = 0x9e3779b97f4aULL + round * 977;

      g_assert_cmpuint (pressure (seed, &pair), ==, pressure (seed, NULL));
    }

  tf->done = TRUE;
  gasync_fiber_switch_final (&tf->fiber, tf->caller);
}

static void
test_callee_saved (void)
{
  g_autoptr(GasyncStackPool) pool = gasync_stack_pool_new ();
  TestFiber tf = { 0 };
  SwitchPair pair = { &main_fiber, &tf.fiber };
  guint round = 0;

  test_fiber_start (&tf, pool, &main_fiber, pressure_body, "pressure");
  while (!tf.done)
    {
      guint64 seed = 12345 + round++ * 31;

      g_assert_cmpuint (pressure (seed, &pair), ==, pressure (seed, NULL));
    }
  g_assert_cmpuint (round, ==, 101);
  test_fiber_finish (&tf, pool);
}

/* Guard pages and the overflow handler, in subprocesses. */

/*
 * Under an exe wrapper (meson runs the cross-built tests through
 * qemu-aarch64 and says so in MESON_EXE_WRAPPER) the kernel cannot execute
 * the test binary, so g_test_trap_subprocess() cannot re-run it, and
 * qemu-user 7.2 hangs in fork() on this kernel.  Those tests are skipped
 * there; .ci/cross-aarch64 runs their child halves directly instead.
 */
static gboolean
skip_if_wrapped (void)
{
  if (!exe_wrapped () || g_test_subprocess ())
    return FALSE;

  g_test_skip ("needs a subprocess, which cannot be started under an exe wrapper");
  return TRUE;
}

/* Returns TRUE in the child, which must not return from the test; in the
 * parent, the child has ended and the g_test_trap_assert_*() apply. */
static gboolean
trap_child (void)
{
  if (g_test_subprocess ())
    return TRUE;

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDOUT);
  return FALSE;
}

static volatile guint recursion_depth;

static G_GNUC_NO_INLINE guint
recurse (guint depth)
{
  volatile char frame[512];

  frame[0] = (char) depth;
  recursion_depth = depth;
  if (depth == G_MAXUINT)
    return 0;
  /* Not a tail call: the addition needs the frame after the return. */
  return recurse (depth + 1) + (guint) frame[0];
}

static void
overflow_body (gpointer data)
{
  TestFiber *tf = data;

  tf->value = recurse (0);
  gasync_fiber_switch_final (&tf->fiber, tf->caller);
}

static void
run_overflow_child (gboolean compact)
{
  GasyncStackPool *pool;
  TestFiber tf = { 0 };

  gasync_fiber_init_thread (&main_fiber);
  gasync_fiber_install_overflow_handler ();
  if (compact)
    gasync_stack_set_guarded_limit (0);

  pool = gasync_stack_pool_new ();
  test_fiber_start (&tf, pool, &main_fiber, overflow_body, "deep-recursion");
  g_assert_cmpint (gasync_stack_get_kind (tf.stack), ==,
                   compact ? GASYNC_STACK_KIND_COMPACT : GASYNC_STACK_KIND_GUARDED);
  g_assert_nonnull (tf.stack->guard);

  gasync_fiber_switch (&main_fiber, &tf.fiber);
  g_assert_not_reached ();
}

static void
test_guard_overflow (void)
{
  if (skip_if_wrapped ())
    return;
  if (trap_child ())
    run_overflow_child (FALSE);

  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*gasync: stack overflow in coroutine 'deep-recursion'*");
}

/* The lowest stack of a slab sits on the slab's guard. */
static void
test_guard_overflow_slab (void)
{
  if (skip_if_wrapped ())
    return;
  if (trap_child ())
    run_overflow_child (TRUE);

  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*gasync: stack overflow in coroutine 'deep-recursion'*");
}

/* Unmapped; volatile so that the compiler cannot see through it. */
static volatile guintptr wild_address = 16;

static void
wild_pointer_body (gpointer data)
{
  TestFiber *tf = data;

  /* Not a guard page: the crash must be the ordinary one. */
  *(volatile int *) wild_address = 1;
  gasync_fiber_switch_final (&tf->fiber, tf->caller);
}

static void
test_unrelated_segv (void)
{
  if (skip_if_wrapped ())
    return;
  if (trap_child ())
    {
      GasyncStackPool *pool;
      TestFiber tf = { 0 };

      gasync_fiber_init_thread (&main_fiber);
      gasync_fiber_install_overflow_handler ();
      pool = gasync_stack_pool_new ();
      test_fiber_start (&tf, pool, &main_fiber, wild_pointer_body, "wild-pointer");
      gasync_fiber_switch (&main_fiber, &tf.fiber);
      g_assert_not_reached ();
    }

  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr_unmatched ("*stack overflow*");
}

static void
previous_segv_handler (int sig)
{
  static const char message[] = "previous SIGSEGV handler ran\n";

  if (write (STDERR_FILENO, message, sizeof message - 1) < 0)
    _exit (4);
  _exit (3);
}

/* A handler installed before ours still gets the faults that are not ours. */
static void
test_segv_chains (void)
{
  if (skip_if_wrapped ())
    return;
  if (trap_child ())
    {
      struct sigaction action;

      memset (&action, 0, sizeof action);
      action.sa_handler = previous_segv_handler;
      sigemptyset (&action.sa_mask);
      sigaction (SIGSEGV, &action, NULL);

      gasync_fiber_install_overflow_handler ();
      *(volatile int *) wild_address = 1;
      g_assert_not_reached ();
    }

  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*previous SIGSEGV handler ran*");
  g_test_trap_assert_stderr_unmatched ("*stack overflow*");
}

static void
returning_body (gpointer data)
{
  /* Forgets gasync_fiber_switch_final(). */
}

static void
test_return_aborts (void)
{
  if (skip_if_wrapped ())
    return;
  if (trap_child ())
    {
      GasyncStackPool *pool = gasync_stack_pool_new ();
      TestFiber tf = { 0 };

      gasync_fiber_init_thread (&main_fiber);
      test_fiber_start (&tf, pool, &main_fiber, returning_body, "forgetful");
      gasync_fiber_switch (&main_fiber, &tf.fiber);
      g_assert_not_reached ();
    }

  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*gasync: coroutine 'forgetful' returned from its fiber function*");
}

static void
test_canary_check (void)
{
  g_autoptr(GasyncStackPool) pool = gasync_stack_pool_new ();
  GasyncStack *stack = gasync_stack_pool_acquire (pool, 0);
  guint8 *bottom = gasync_stack_get_bottom (stack);

  g_assert_true (gasync_stack_check_canary (stack));
  bottom[GASYNC_STACK_CANARY_SIZE - 1] = 0x5a;
  g_assert_false (gasync_stack_check_canary (stack));
  bottom[GASYNC_STACK_CANARY_SIZE - 1] = 0;
  g_assert_true (gasync_stack_check_canary (stack));
  /* Just past the canary is ordinary stack. */
  bottom[GASYNC_STACK_CANARY_SIZE] = 0x5a;
  g_assert_true (gasync_stack_check_canary (stack));

  gasync_stack_pool_release (pool, stack);
}

static void
canary_body (gpointer data)
{
  TestFiber *tf = data;
  guint8 *bottom = gasync_stack_get_bottom (tf->stack);

  /* What a frame reaching the bottom of the stack would do. */
  bottom[8] = 0xa5;
  if (tf->n > 0)
    gasync_fiber_switch (&tf->fiber, tf->caller);
  gasync_fiber_switch_final (&tf->fiber, tf->caller);
}

static void
run_canary_child (gboolean switch_first)
{
  GasyncStackPool *pool = gasync_stack_pool_new ();
  TestFiber tf = { .n = switch_first };

  test_fiber_start (&tf, pool, &main_fiber, canary_body, "canary-victim");
  gasync_fiber_switch (&main_fiber, &tf.fiber);
  g_assert_not_reached ();
}

/* With GASYNC_DEBUG=checks, the first switch away notices. */
static void
test_canary_switch (void)
{
  if (skip_if_wrapped ())
    return;
  if (trap_child ())
    {
      /* Read once, at the first fiber of the process: this one. */
      g_setenv ("GASYNC_DEBUG", "checks", TRUE);
      gasync_fiber_init_thread (&main_fiber);
      run_canary_child (TRUE);
    }

  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*gasync: stack overflow in coroutine 'canary-victim'*");
}

/* Without checks, the final switch still notices. */
static void
test_canary_final (void)
{
  if (skip_if_wrapped ())
    return;
  if (trap_child ())
    {
      g_unsetenv ("GASYNC_DEBUG");
      gasync_fiber_init_thread (&main_fiber);
      run_canary_child (FALSE);
    }

  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*gasync: stack overflow in coroutine 'canary-victim'*");
}

static void
suspend_body (gpointer data)
{
  TestFiber *tf = data;

  gasync_fiber_switch (&tf->fiber, tf->caller);
  tf->done = TRUE;
  gasync_fiber_switch_final (&tf->fiber, tf->caller);
}

/*
 * N fibers suspended at once, each having touched only the top of its stack
 * (the body suspends right away), each with a ~200-byte allocation standing
 * for its coroutine's future.  Checks the kernel mappings stay well under
 * max_map_count and measures resident memory per suspended fiber.
 */
static void
run_many_live (guint n)
{
  g_autoptr(GasyncStackPool) pool = gasync_stack_pool_new ();
  TestFiber **fibers = g_new0 (TestFiber *, n);
  gpointer *futures = g_new0 (gpointer, n);
  guint max_map_count = read_max_map_count ();
  guint maps_before, maps_live;
  guint64 rss_before, rss_live;
  guint64 pte_before, pte_live;
  guint n_guarded = 0;
  double per_fiber;

  maps_before = count_maps ();
  rss_before = read_rss ();
  pte_before = read_status_kib ("VmPTE:") * 1024;

  for (guint i = 0; i < n; i++)
    {
      fibers[i] = g_new0 (TestFiber, 1);
      futures[i] = g_malloc0 (200);
      test_fiber_start (fibers[i], pool, &main_fiber, suspend_body, "suspended");
      gasync_fiber_switch (&main_fiber, &fibers[i]->fiber);
      if (gasync_stack_get_kind (fibers[i]->stack) == GASYNC_STACK_KIND_GUARDED)
        n_guarded++;
    }

  maps_live = count_maps ();
  rss_live = read_rss ();
  pte_live = read_status_kib ("VmPTE:") * 1024;
  per_fiber = (double) (rss_live - MIN (rss_before, rss_live)) / n;

  g_test_message ("%u suspended fibers (%u guarded stacks, %u compact; guarded budget %u): "
                  "%u mappings (max_map_count %u, %u before), "
                  "%.0f resident bytes per suspended fiber with its 200-byte future "
                  "(plus %.0f bytes of page tables, which VmRSS leaves out)",
                  n, n_guarded, n - n_guarded, gasync_stack_get_guarded_limit (),
                  maps_live, max_map_count, maps_before, per_fiber,
                  (double) (pte_live - MIN (pte_before, pte_live)) / n);

  g_assert_cmpuint (n_guarded, <=, gasync_stack_get_guarded_limit ());
  /* Guarded stacks take a quarter of max_map_count at most, slabs two VMAs
   * per 64 stacks: about 19,300 VMAs for 100,000 fibers, 47,400 for a
   * million on a stock kernel. */
  g_assert_cmpuint (maps_live, <, max_map_count / 4 * 3);
  if (n <= 100000)
    g_assert_cmpuint (maps_live, <, max_map_count / 2);

  if (under_instrumentation ())
    g_test_message ("resident memory not asserted under Valgrind, a sanitizer or qemu");
  else if (!is_asm_backend () && per_fiber > 4.5 * 1024)
    /* AArch64's ucontext_t alone is 4560 bytes; its ucontext spills into a
     * second stack page.  The slow fallback is not held to the budget there. */
    g_test_message ("ucontext backend exceeds 4.5 KiB per fiber here; not asserted");
  else
    g_assert_cmpfloat (per_fiber, <=, 4.5 * 1024);

  for (guint i = 0; i < n; i++)
    {
      gasync_fiber_switch (&main_fiber, &fibers[i]->fiber);
      g_assert_true (fibers[i]->done);
      test_fiber_finish (fibers[i], pool);
      g_free (fibers[i]);
      g_free (futures[i]);
    }

  g_free (fibers);
  g_free (futures);
}

static void
test_many_live (void)
{
  guint n = 100000;

  /* Valgrind tracks every mapping and registered stack, linearly; TSan
   * maps a shadow stack per fiber, which max_map_count caps. */
  if (under_valgrind () || GASYNC_TSAN)
    n = 2000;

  run_many_live (n);
}

static void
test_million_live (void)
{
  if (!g_test_slow ())
    {
      g_test_skip ("slow: 1,000,000 fibers (~4.5 GB); run with -m slow");
      return;
    }

  run_many_live (1000000);
}

static void
deep_body (gpointer data)
{
  TestFiber *tf = data;
  volatile guint8 *area = g_alloca (tf->n);

  /* Touch every page of what the fiber claims, as a deep call would. */
  for (guint i = 0; i < tf->n; i += 1024)
    area[i] = (guint8) i;
  tf->done = TRUE;
  gasync_fiber_switch_final (&tf->fiber, tf->caller);
}

/* Trim gives the pages of free stacks back, and unmaps free slabs. */
static void
test_trim (void)
{
  const guint n = 200;
  const guint touched = 128 * 1024;
  GasyncStackPool *pool;
  TestFiber *fibers = g_new0 (TestFiber, n);
  guint64 rss_used, rss_trimmed;
  guint maps_before, maps_used, maps_trimmed;

  /* All compact: 200 stacks in 4 slabs. */
  gasync_stack_set_guarded_limit (0);
  pool = gasync_stack_pool_new ();
  maps_before = count_maps ();

  for (guint i = 0; i < n; i++)
    {
      fibers[i].n = touched;
      test_fiber_start (&fibers[i], pool, &main_fiber, deep_body, "deep");
      g_assert_cmpint (gasync_stack_get_kind (fibers[i].stack), ==, GASYNC_STACK_KIND_COMPACT);
      gasync_fiber_switch (&main_fiber, &fibers[i].fiber);
      g_assert_true (fibers[i].done);
    }
  for (guint i = 0; i < n; i++)
    test_fiber_finish (&fibers[i], pool);

  maps_used = count_maps ();
  rss_used = read_rss ();
  gasync_stack_pool_trim (pool);
  maps_trimmed = count_maps ();
  rss_trimmed = read_rss ();

  g_test_message ("trim: %" G_GUINT64_FORMAT " KiB -> %" G_GUINT64_FORMAT " KiB resident, "
                  "%u -> %u mappings (%u before)",
                  rss_used / 1024, rss_trimmed / 1024, maps_used, maps_trimmed, maps_before);

  /* Four slabs of two mappings each came and went (Valgrind places
   * mappings itself, TSan maps and unmaps per fiber: not countable there). */
  if (!under_valgrind () && !GASYNC_TSAN)
    {
      g_assert_cmpuint (maps_used, >=, maps_before + 4);
      g_assert_cmpuint (maps_trimmed + 4, <=, maps_used);
    }
  if (!under_instrumentation ())
    g_assert_cmpuint (rss_used - MIN (rss_used, rss_trimmed), >=, (guint64) n * touched / 2);

  /* Guarded stacks: kept mapped (up to a few) but their pages released. */
  gasync_stack_set_guarded_limit (G_MAXUINT);
  for (guint i = 0; i < 16; i++)
    {
      memset (&fibers[i], 0, sizeof fibers[i]);
      fibers[i].n = touched;
      test_fiber_start (&fibers[i], pool, &main_fiber, deep_body, "deep");
      g_assert_cmpint (gasync_stack_get_kind (fibers[i].stack), ==, GASYNC_STACK_KIND_GUARDED);
      gasync_fiber_switch (&main_fiber, &fibers[i].fiber);
    }
  for (guint i = 0; i < 16; i++)
    test_fiber_finish (&fibers[i], pool);

  rss_used = read_rss ();
  gasync_stack_pool_trim (pool);
  rss_trimmed = read_rss ();
  if (!under_instrumentation ())
    g_assert_cmpuint (rss_used - MIN (rss_used, rss_trimmed), >=, (guint64) 16 * touched / 2);

  /* A trimmed stack works as new. */
  memset (&fibers[0], 0, sizeof fibers[0]);
  fibers[0].n = touched;
  test_fiber_start (&fibers[0], pool, &main_fiber, deep_body, "deep");
  gasync_fiber_switch (&main_fiber, &fibers[0].fiber);
  test_fiber_finish (&fibers[0], pool);

  gasync_stack_pool_free (pool);
  g_free (fibers);
}

/* Compact stacks beyond the guarded budget; odd sizes stay guarded. */
static void
test_budget (void)
{
  g_autoptr(GasyncStackPool) pool = gasync_stack_pool_new ();
  GasyncStack *stacks[6];

  gasync_stack_set_guarded_limit (2);
  for (guint i = 0; i < 4; i++)
    stacks[i] = gasync_stack_pool_acquire (pool, 0);
  g_assert_cmpint (gasync_stack_get_kind (stacks[0]), ==, GASYNC_STACK_KIND_GUARDED);
  g_assert_cmpint (gasync_stack_get_kind (stacks[1]), ==, GASYNC_STACK_KIND_GUARDED);
  g_assert_cmpint (gasync_stack_get_kind (stacks[2]), ==, GASYNC_STACK_KIND_COMPACT);
  g_assert_cmpint (gasync_stack_get_kind (stacks[3]), ==, GASYNC_STACK_KIND_COMPACT);
  /* Adjacent in their slab, the lower one on the slab's guard. */
  g_assert_true ((guint8 *) gasync_stack_get_top (stacks[2]) ==
                 (guint8 *) gasync_stack_get_bottom (stacks[3]));
  g_assert_nonnull (stacks[2]->guard);
  g_assert_null (stacks[3]->guard);

  for (guint i = 0; i < 4; i++)
    {
      g_assert_cmpuint (gasync_stack_get_size (stacks[i]), ==, GASYNC_STACK_DEFAULT_SIZE);
      g_assert_cmpuint ((guintptr) gasync_stack_get_top (stacks[i]) % 4096, ==, 0);
    }

  stacks[4] = gasync_stack_pool_acquire (pool, 100 * 1000);
  g_assert_cmpint (gasync_stack_get_kind (stacks[4]), ==, GASYNC_STACK_KIND_GUARDED);
  g_assert_cmpuint (gasync_stack_get_size (stacks[4]), >=, 100 * 1000);
  stacks[5] = gasync_stack_pool_acquire (pool, 1);
  g_assert_cmpuint (gasync_stack_get_size (stacks[5]), ==, GASYNC_STACK_MIN_SIZE);

  /* LIFO reuse, and a released guarded stack comes back before a new one. */
  gasync_stack_pool_release (pool, stacks[1]);
  gasync_stack_pool_release (pool, stacks[3]);
  g_assert_true (gasync_stack_pool_acquire (pool, 0) == stacks[1]);
  g_assert_true (gasync_stack_pool_acquire (pool, 0) == stacks[3]);

  for (guint i = 0; i < 6; i++)
    gasync_stack_pool_release (pool, stacks[i]);

  gasync_stack_set_guarded_limit (G_MAXUINT);
}

static void
switch_speed_body (gpointer data)
{
  TestFiber *tf = data;

  while (tf->value > 0)
    {
      tf->value--;
      gasync_fiber_switch (&tf->fiber, tf->caller);
    }
  tf->done = TRUE;
  gasync_fiber_switch_final (&tf->fiber, tf->caller);
}

/* Reported, not asserted: timing never decides a unit test. */
static void
test_switch_speed (void)
{
  g_autoptr(GasyncStackPool) pool = gasync_stack_pool_new ();
  TestFiber tf = { 0 };
  guint64 round_trips = under_instrumentation () ? 10000 : 1000000;
  gint64 start, elapsed;

  tf.value = round_trips;
  test_fiber_start (&tf, pool, &main_fiber, switch_speed_body, "speed");

  start = g_get_monotonic_time ();
  while (!tf.done)
    gasync_fiber_switch (&main_fiber, &tf.fiber);
  elapsed = g_get_monotonic_time () - start;

  test_fiber_finish (&tf, pool);

  g_test_message ("%s backend: %.1f ns per switch (%" G_GUINT64_FORMAT " round trips)",
                  gasync_fiber_backend_name (),
                  elapsed * 1000.0 / (2.0 * (double) round_trips), round_trips);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  if (!g_test_subprocess ())
    gasync_fiber_init_thread (&main_fiber);

  g_test_add_func ("/Gasync/Fiber/backend", test_backend);
  g_test_add_func ("/Gasync/Fiber/ping-pong", test_ping_pong);
  g_test_add_func ("/Gasync/Fiber/nested", test_nested);
  g_test_add_func ("/Gasync/Fiber/many-sequential", test_many_sequential);
  g_test_add_func ("/Gasync/Fiber/fp-control", test_fp_control);
  g_test_add_func ("/Gasync/Fiber/callee-saved", test_callee_saved);
  g_test_add_func ("/Gasync/Fiber/guard-overflow", test_guard_overflow);
  g_test_add_func ("/Gasync/Fiber/guard-overflow-slab", test_guard_overflow_slab);
  g_test_add_func ("/Gasync/Fiber/unrelated-segv", test_unrelated_segv);
  g_test_add_func ("/Gasync/Fiber/segv-chains", test_segv_chains);
  g_test_add_func ("/Gasync/Fiber/return-aborts", test_return_aborts);
  g_test_add_func ("/Gasync/Fiber/canary-check", test_canary_check);
  g_test_add_func ("/Gasync/Fiber/canary-switch", test_canary_switch);
  g_test_add_func ("/Gasync/Fiber/canary-final", test_canary_final);
  g_test_add_func ("/Gasync/Fiber/budget", test_budget);
  g_test_add_func ("/Gasync/Fiber/many-live", test_many_live);
  g_test_add_func ("/Gasync/Fiber/million-live", test_million_live);
  g_test_add_func ("/Gasync/Fiber/trim", test_trim);
  g_test_add_func ("/Gasync/Fiber/switch-speed", test_switch_speed);

  return g_test_run ();
}
