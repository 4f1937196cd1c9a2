/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "gasync-fiber-private.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Set by gasync/meson.build; the defaults describe a plain ucontext build. */
#ifndef GASYNC_FIBER_HAVE_ASM
# define GASYNC_FIBER_HAVE_ASM 0
#endif
#ifndef GASYNC_FIBER_HAVE_UCONTEXT
# define GASYNC_FIBER_HAVE_UCONTEXT 1
#endif
#ifndef GASYNC_FIBER_CHECKS_DEFAULT
# define GASYNC_FIBER_CHECKS_DEFAULT 0
#endif
#ifndef GASYNC_HAVE_VALGRIND_H
# define GASYNC_HAVE_VALGRIND_H 0
#endif

#if !GASYNC_FIBER_HAVE_ASM && !GASYNC_FIBER_HAVE_UCONTEXT
# error "No fiber backend: neither assembly nor ucontext is available."
#endif

#if GASYNC_FIBER_HAVE_UCONTEXT
# include <ucontext.h>
#endif
#if GASYNC_ASAN
# include <sanitizer/common_interface_defs.h>
#endif
#if GASYNC_TSAN
# include <sanitizer/tsan_interface.h>
#endif
#if GASYNC_HAVE_VALGRIND_H
# include <valgrind/valgrind.h>
#endif

#if GASYNC_FIBER_HAVE_ASM
# if defined(__x86_64__)
#  define ASM_BACKEND_NAME "x86_64"
#  define ASM_FRAME_SIZE   64
# elif defined(__aarch64__)
#  define ASM_BACKEND_NAME "aarch64"
#  define ASM_FRAME_SIZE   160
# else
#  error "GASYNC_FIBER_HAVE_ASM set for an architecture without assembly."
# endif

/* gasync-fiber-<arch>.S */
void gasync_fiber_asm_switch (gpointer *save_sp,
                              gpointer  new_sp);
void gasync_fiber_asm_entry  (void);
#endif

/* Called by the assembly entry and the ucontext entry; never returns. */
G_GNUC_NORETURN void gasync_fiber_enter (GasyncFiberFunc func,
                                         gpointer        data);

static void ensure_altstack (void);

typedef enum
{
  FIBER_THREAD       = 1 << 0,  /* stands for a thread's own stack */
  FIBER_RUNNING      = 1 << 1,  /* the thread executes on it right now */
  FIBER_FINISHED     = 1 << 2,  /* left with gasync_fiber_switch_final() */
  FIBER_HEAP_CONTEXT = 1 << 3,  /* context is a g_malloc()ed ucontext_t */
  FIBER_VALGRIND     = 1 << 4,  /* valgrind_stack_id is a live registration */
} FiberFlags;

typedef enum
{
  BACKEND_ASM,
  BACKEND_UCONTEXT,
} Backend;

/* Fixed by fiber_globals_init() before the first fiber exists; read-only
 * afterwards, so the switch reads them without synchronization. */
static Backend backend;
static gboolean checks;

/*
 * Per-thread switch state.  initial-exec TLS: reached without a
 * __tls_get_addr() call (this is on every switch), and safe to read in a
 * signal handler, which a lazily allocated dynamic TLS block is not.  The
 * cost is 16 bytes of static TLS when the library is dlopen()ed, which
 * glibc reserves room for.
 */
typedef struct
{
  GasyncFiber *current;   /* the fiber this thread runs on */
  GasyncFiber *previous;  /* ASan builds: the fiber that switched to current */
} FiberThread;

static __thread FiberThread fiber_thread __attribute__ ((tls_model ("initial-exec")));

#if defined(__x86_64__) && defined(__CET__)
# if __CET__ & 2
#  define CHECK_SHADOW_STACK 1
# endif
#endif

#ifdef CHECK_SHADOW_STACK
static gboolean
shadow_stack_active (void)
{
  guint64 ssp = 0;

  /* rdsspq is a no-op when shadow stacks are off, leaving 0. */
  __asm__ volatile ("rdsspq %0" : "+r" (ssp));
  return ssp != 0;
}
#endif

static void
fiber_globals_init (void)
{
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      const char *env;

      backend = GASYNC_FIBER_HAVE_ASM ? BACKEND_ASM : BACKEND_UCONTEXT;

      env = g_getenv ("GASYNC_FIBER_BACKEND");
      if (env != NULL && *env != '\0')
        {
          if (g_str_equal (env, "ucontext") && GASYNC_FIBER_HAVE_UCONTEXT)
            backend = BACKEND_UCONTEXT;
          else if (g_str_equal (env, "asm") && GASYNC_FIBER_HAVE_ASM)
            backend = BACKEND_ASM;
          else
            g_warning ("GASYNC_FIBER_BACKEND=%s is not available in this build; using %s",
                       env, backend == BACKEND_ASM ? "asm" : "ucontext");
        }

#ifdef CHECK_SHADOW_STACK
      /* Our switch would return into a stack the shadow stack does not
       * know, and fault; glibc's swapcontext switches shadow stacks too. */
      if (backend == BACKEND_ASM && shadow_stack_active ())
        {
          if (!GASYNC_FIBER_HAVE_UCONTEXT)
            g_error ("gasync: a CET shadow stack is active and this build has no "
                     "ucontext fiber backend to cope with it");
          backend = BACKEND_UCONTEXT;
        }
#endif

      checks = GASYNC_FIBER_CHECKS_DEFAULT;
      env = g_getenv ("GASYNC_DEBUG");
      if (env != NULL)
        {
          static const GDebugKey keys[] = { { "checks", 1 } };

          if (g_parse_debug_string (env, keys, G_N_ELEMENTS (keys)) & 1)
            checks = TRUE;
        }

      g_once_init_leave (&initialized, 1);
    }
}

const char *
gasync_fiber_backend_name (void)
{
  fiber_globals_init ();

#if GASYNC_FIBER_HAVE_ASM
  if (backend == BACKEND_ASM)
    return ASM_BACKEND_NAME;
#endif

  return "ucontext";
}

/* Async-signal-safe: write(2) only. */
static void
write_stderr (const char *message)
{
  gsize len = 0;

  while (message[len] != '\0')
    len++;

  while (len > 0)
    {
      gssize n = write (STDERR_FILENO, message, len);

      if (n > 0)
        {
          message += n;
          len -= (gsize) n;
        }
      else if (n < 0 && errno == EINTR)
        continue;
      else
        break;
    }
}

static const char *
fiber_name (const GasyncFiber *fiber)
{
  return fiber != NULL && fiber->name != NULL ? fiber->name : "(unnamed)";
}

/* Async-signal-safe: the overflow handler calls it. */
G_GNUC_NORETURN static void
die_stack_overflow (const GasyncFiber *fiber)
{
  write_stderr ("gasync: stack overflow in coroutine '");
  write_stderr (fiber_name (fiber));
  write_stderr ("'\n");
  abort ();
}

G_GNUC_NORETURN static void
die (const GasyncFiber *fiber,
     const char        *what)
{
  write_stderr ("gasync: coroutine '");
  write_stderr (fiber_name (fiber));
  write_stderr ("' ");
  write_stderr (what);
  write_stderr ("\n");
  abort ();
}

static void
check_canary (GasyncFiber *fiber)
{
  if (fiber->stack != NULL && !gasync_stack_check_canary (fiber->stack))
    die_stack_overflow (fiber);
}

/* Debug checks: the arguments of a switch describe the thread's state. */
static void
check_switch (GasyncFiber *from,
              GasyncFiber *to)
{
  check_canary (from);

  if (from == to)
    die (from, "switched to itself");
  if (!(from->flags & FIBER_RUNNING) ||
      (fiber_thread.current != NULL && fiber_thread.current != from))
    die (from, "is not the running fiber, yet was switched away from");
  if (to->flags & FIBER_RUNNING)
    die (to, "is already running, yet was switched to");
  if (to->flags & FIBER_FINISHED)
    die (to, "has finished, yet was switched to");
  if (to->context == NULL)
    die (to, "is not initialized, yet was switched to");
}

/* ASan needs the bounds of every stack it is switched to.  Those of a
 * thread's own stack are only known to ASan, which reports them when
 * leaving that stack for the first time: record them in the fiber we came
 * from. */
static inline void
asan_finish_switch (gpointer fake_stack)
{
#if GASYNC_ASAN
  const void *bottom = NULL;
  gsize size = 0;
  GasyncFiber *previous = fiber_thread.previous;

  __sanitizer_finish_switch_fiber (fake_stack, &bottom, &size);
  if (previous != NULL && previous->asan_stack_size == 0)
    {
      previous->asan_stack_bottom = bottom;
      previous->asan_stack_size = size;
    }
#else
  (void) fake_stack;
#endif
}

void
gasync_fiber_enter (GasyncFiberFunc func,
                    gpointer        data)
{
  /* A new fiber has no fake stack to restore. */
  asan_finish_switch (NULL);

  func (data);

  die (fiber_thread.current, "returned from its fiber function; "
       "it must end with gasync_fiber_switch_final()");
}

#if GASYNC_FIBER_HAVE_UCONTEXT
/*
 * The ucontext of a new fiber, with the function to start, sits at the top
 * of its stack: it is written by the switch anyway, so putting it in the top
 * page (resident as soon as the fiber runs) costs no extra memory when it
 * fits there (968 bytes on x86-64; 4560 on AArch64, where it spills into a
 * second page).
 */
typedef struct
{
  ucontext_t      uc;
  GasyncFiberFunc func;
  gpointer        data;
} UcStart;

/* makecontext() passes int arguments only: the UcStart pointer comes split
 * in two 32-bit halves. */
static void
uc_entry (int hi,
          int lo)
{
  guint64 bits = ((guint64) (guint32) hi << 32) | (guint32) lo;
  UcStart *start = (UcStart *) (guintptr) bits;

  gasync_fiber_enter (start->func, start->data);
}

static void
uc_init (GasyncFiber     *fiber,
         GasyncFiberFunc  func,
         gpointer         data)
{
  guint8 *top = gasync_stack_get_top (fiber->stack);
  guint8 *bottom = gasync_stack_get_bottom (fiber->stack);
  UcStart *start;
  guint64 bits;

  start = (UcStart *) (gpointer) (((guintptr) top - sizeof (UcStart)) & ~(guintptr) 63);
  if (getcontext (&start->uc) != 0)
    g_error ("gasync: getcontext() failed: %s", g_strerror (errno));

  start->uc.uc_link = NULL;
  start->uc.uc_stack.ss_sp = bottom;
  start->uc.uc_stack.ss_size = (gsize) ((guint8 *) start - bottom);
  start->func = func;
  start->data = data;

  bits = (guint64) (guintptr) start;
  makecontext (&start->uc, (void (*) (void)) uc_entry, 2,
               (int) (guint32) (bits >> 32), (int) (guint32) bits);

#if GASYNC_ASAN
  /* ASan's swapcontext interceptor clears the shadow of the whole target
   * stack when uc_stack is set, on every switch: slow, and it would erase the
   * redzones of a suspended fiber's live frames.  The fiber annotations
   * already tell ASan everything, and makecontext() is done with uc_stack. */
  start->uc.uc_stack.ss_sp = NULL;
  start->uc.uc_stack.ss_size = 0;
#endif

  fiber->context = &start->uc;
}

/* Inlined, always: under TSan an out-of-line helper would enter its frame
 * on one fiber's shadow stack and leave it on another's. */
G_ALWAYS_INLINE static inline void
uc_switch (GasyncFiber *from,
           GasyncFiber *to)
{
  if (swapcontext (from->context, to->context) != 0)
    g_error ("gasync: swapcontext() failed: %s", g_strerror (errno));
}
#endif

void
gasync_fiber_init_thread (GasyncFiber *fiber)
{
  fiber_globals_init ();

  memset (fiber, 0, sizeof *fiber);
  fiber->name = "(thread)";
  fiber->flags = FIBER_THREAD | FIBER_RUNNING;

#if GASYNC_FIBER_HAVE_UCONTEXT
  if (backend == BACKEND_UCONTEXT)
    {
      /* swapcontext() fills it in the first time the thread switches away. */
      fiber->context = g_new0 (ucontext_t, 1);
      fiber->flags |= FIBER_HEAP_CONTEXT;
    }
#endif

#if GASYNC_TSAN
  fiber->tsan_fiber = __tsan_get_current_fiber ();
#endif

  if (fiber_thread.current == NULL)
    fiber_thread.current = fiber;

  ensure_altstack ();
}

void
gasync_fiber_init (GasyncFiber     *fiber,
                   GasyncStack     *stack,
                   GasyncFiberFunc  func,
                   gpointer         data)
{
  fiber_globals_init ();

  g_assert_nonnull (stack);
  g_assert_nonnull (func);

  memset (fiber, 0, sizeof *fiber);
  fiber->stack = stack;
  fiber->asan_stack_bottom = gasync_stack_get_bottom (stack);
  fiber->asan_stack_size = gasync_stack_get_size (stack);

#if GASYNC_FIBER_HAVE_ASM
  if (backend == BACKEND_ASM)
    {
      guint8 *top = gasync_stack_get_top (stack);
      guint64 *frame = (guint64 *) (gpointer) (top - ASM_FRAME_SIZE);

      G_STATIC_ASSERT (ASM_FRAME_SIZE % 16 == 0);

      memset (frame, 0, ASM_FRAME_SIZE);
# if defined(__x86_64__)
      {
        guint32 mxcsr;
        guint16 fcw;

        /* Start with the creating thread's rounding modes and exception
         * masks, as a new thread would. */
        __asm__ volatile ("stmxcsr %0" : "=m" (mxcsr));
        __asm__ volatile ("fnstcw %0" : "=m" (fcw));
        frame[0] = mxcsr | ((guint64) fcw << 32);
        frame[3] = (guint64) (guintptr) data;                   /* r13 */
        frame[4] = (guint64) (guintptr) func;                   /* r12 */
        frame[7] = (guint64) (guintptr) gasync_fiber_asm_entry; /* return */
      }
# elif defined(__aarch64__)
      frame[0] = (guint64) (guintptr) func;                     /* x19 */
      frame[1] = (guint64) (guintptr) data;                     /* x20 */
      frame[11] = (guint64) (guintptr) gasync_fiber_asm_entry;  /* x30 */
# endif
      fiber->context = frame;
    }
  else
#endif
    {
#if GASYNC_FIBER_HAVE_UCONTEXT
      uc_init (fiber, func, data);
#endif
    }

#if GASYNC_TSAN
  fiber->tsan_fiber = __tsan_create_fiber (0);
#endif

#if GASYNC_HAVE_VALGRIND_H
  /* Tells Valgrind that jumps between this range and others are stack
   * switches, not one huge frame. */
  if (RUNNING_ON_VALGRIND)
    {
      fiber->valgrind_stack_id = VALGRIND_STACK_REGISTER (gasync_stack_get_bottom (stack),
                                                          gasync_stack_get_top (stack));
      fiber->flags |= FIBER_VALGRIND;
    }
#endif
}

void
gasync_fiber_switch (GasyncFiber *from,
                     GasyncFiber *to)
{
  /* The RUNNING flags and the NULL context of a running asm fiber exist
   * for the checks only; without them a switch stays as short as it can. */
  if (G_UNLIKELY (checks))
    {
      check_switch (from, to);
      from->flags &= ~FIBER_RUNNING;
      to->flags |= FIBER_RUNNING;
    }

  fiber_thread.current = to;
#if GASYNC_ASAN
  fiber_thread.previous = from;
#endif

#if GASYNC_ASAN
  __sanitizer_start_switch_fiber (&from->asan_fake_stack,
                                  to->asan_stack_bottom, to->asan_stack_size);
#endif
#if GASYNC_TSAN
  __tsan_switch_to_fiber (to->tsan_fiber, 0);
#endif

#if GASYNC_FIBER_HAVE_ASM
  if (G_LIKELY (backend == BACKEND_ASM))
    {
      gpointer sp = to->context;

      if (G_UNLIKELY (checks))
        to->context = NULL;
      gasync_fiber_asm_switch (&from->context, sp);
    }
  else
#endif
    {
#if GASYNC_FIBER_HAVE_UCONTEXT
      uc_switch (from, to);
#endif
    }

  /* Back on from's stack, switched to by fiber_thread.previous. */
  asan_finish_switch (from->asan_fake_stack);
}

void
gasync_fiber_switch_final (GasyncFiber *from,
                           GasyncFiber *to)
{
  /* Once per coroutine, so always: the last chance to notice an overflow of
   * a compact stack before it is reused. */
  check_canary (from);
  if (G_UNLIKELY (checks))
    check_switch (from, to);

  from->flags = (from->flags & ~FIBER_RUNNING) | FIBER_FINISHED;
  to->flags |= FIBER_RUNNING;
  fiber_thread.current = to;
#if GASYNC_ASAN
  fiber_thread.previous = from;
#endif

#if GASYNC_ASAN
  /* NULL: from never resumes, so ASan frees its fake stack. */
  __sanitizer_start_switch_fiber (NULL, to->asan_stack_bottom, to->asan_stack_size);
#endif
#if GASYNC_TSAN
  __tsan_switch_to_fiber (to->tsan_fiber, 0);
#endif

#if GASYNC_FIBER_HAVE_ASM
  if (G_LIKELY (backend == BACKEND_ASM))
    {
      gpointer sp = to->context;

      to->context = NULL;
      from->context = NULL;
      /* Nothing will ever pop what the switch pushes here. */
      gasync_fiber_asm_switch (&from->context, sp);
    }
  else
#endif
    {
#if GASYNC_FIBER_HAVE_UCONTEXT
      setcontext (to->context);
      g_error ("gasync: setcontext() failed: %s", g_strerror (errno));
#endif
    }

  die (from, "was resumed after its final switch");
}

void
gasync_fiber_clear (GasyncFiber *fiber)
{
#if GASYNC_HAVE_VALGRIND_H
  if (fiber->flags & FIBER_VALGRIND)
    VALGRIND_STACK_DEREGISTER (fiber->valgrind_stack_id);
#endif

#if GASYNC_TSAN
  if (fiber->tsan_fiber != NULL && !(fiber->flags & FIBER_THREAD))
    __tsan_destroy_fiber (fiber->tsan_fiber);
#endif

  if (fiber->flags & FIBER_HEAP_CONTEXT)
    g_free (fiber->context);

  if (fiber_thread.current == fiber)
    fiber_thread.current = NULL;
  if (fiber_thread.previous == fiber)
    fiber_thread.previous = NULL;

  memset (fiber, 0, sizeof *fiber);
}

GasyncFiber *
gasync_fiber_get_current (void)
{
  return fiber_thread.current;
}

gboolean
gasync_fiber_is_finished (GasyncFiber *fiber)
{
  return (fiber->flags & FIBER_FINISHED) != 0;
}

/*
 * Overflow handler.
 *
 * A guard-page hit happens with the stack exhausted, so the handler needs an
 * alternate signal stack, and those are per thread: every thread hosting
 * fibers gets one (in gasync_fiber_init_thread()) once the handler is
 * installed, unless it already has one (ASan installs its own).
 */

#define ALTSTACK_SIZE (64 * 1024)

static struct sigaction previous_segv_action;
static gint overflow_handler_installed;  /* atomic */

static gsize
altstack_size (void)
{
  gsize size = ALTSTACK_SIZE;
#ifdef _SC_SIGSTKSZ
  long sys = sysconf (_SC_SIGSTKSZ);

  if (sys > 0 && (gsize) sys * 4 > size)
    size = (gsize) sys * 4;
#endif
  return size;
}

static void
altstack_free (gpointer data)
{
  stack_t current;

  /* Called at thread exit: stop using it before unmapping it. */
  if (sigaltstack (NULL, &current) == 0 && current.ss_sp == data)
    {
      stack_t disable = { .ss_flags = SS_DISABLE };

      sigaltstack (&disable, NULL);
    }
  munmap (data, altstack_size ());
}

static GPrivate altstack_key = G_PRIVATE_INIT (altstack_free);

static void
ensure_altstack (void)
{
  stack_t current;
  stack_t ss = { 0 };
  gpointer map;

  if (!g_atomic_int_get (&overflow_handler_installed) ||
      g_private_get (&altstack_key) != NULL)
    return;

  if (sigaltstack (NULL, &current) == 0 &&
      !(current.ss_flags & SS_DISABLE) &&
      current.ss_size >= 16 * 1024)
    return;

  map = mmap (NULL, altstack_size (), PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED)
    {
      g_warning ("gasync: no alternate signal stack, stack overflows will not be reported: %s",
                 g_strerror (errno));
      return;
    }

  ss.ss_sp = map;
  ss.ss_size = altstack_size ();
  if (sigaltstack (&ss, NULL) != 0)
    {
      g_warning ("gasync: sigaltstack() failed, stack overflows will not be reported: %s",
                 g_strerror (errno));
      munmap (map, altstack_size ());
      return;
    }

  g_private_set (&altstack_key, map);
}

static void
overflow_handler (int        signo,
                  siginfo_t *info,
                  void      *ucontext)
{
  GasyncFiber *fiber = fiber_thread.current;
  int saved_errno = errno;

  if (fiber != NULL && fiber->stack != NULL &&
      gasync_stack_is_in_guard (fiber->stack, info->si_addr))
    die_stack_overflow (fiber);

  /* Not ours. */
  if (previous_segv_action.sa_flags & SA_SIGINFO)
    {
      if (previous_segv_action.sa_sigaction != NULL)
        {
          errno = saved_errno;
          previous_segv_action.sa_sigaction (signo, info, ucontext);
          return;
        }
    }
  else if (previous_segv_action.sa_handler != SIG_DFL &&
           previous_segv_action.sa_handler != SIG_IGN)
    {
      errno = saved_errno;
      previous_segv_action.sa_handler (signo);
      return;
    }

  /* Default disposition (ignoring a fault is not an option): put it back
   * and return; the faulting instruction runs again and the crash proceeds
   * as if we had never been installed. */
  {
    struct sigaction dfl;

    memset (&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset (&dfl.sa_mask);
    sigaction (SIGSEGV, &dfl, NULL);
  }
  errno = saved_errno;
}

void
gasync_fiber_install_overflow_handler (void)
{
  static gsize installed = 0;

  if (g_once_init_enter (&installed))
    {
      struct sigaction action;

      memset (&action, 0, sizeof action);
      action.sa_sigaction = overflow_handler;
      action.sa_flags = SA_SIGINFO | SA_ONSTACK;
      sigemptyset (&action.sa_mask);

      if (sigaction (SIGSEGV, &action, &previous_segv_action) != 0)
        g_warning ("gasync: cannot install the stack overflow handler: %s",
                   g_strerror (errno));
      else
        g_atomic_int_set (&overflow_handler_installed, TRUE);

      g_once_init_leave (&installed, 1);
    }

  ensure_altstack ();
}
