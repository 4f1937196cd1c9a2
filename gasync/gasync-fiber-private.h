/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(GASYNC_COMPILATION)
# error "gasync-fiber-private.h is private to gasync."
#endif

#include <glib.h>

#include "gasync-stack-private.h"

/*
 * Fibers: one execution context each, with its own stack, switched
 * cooperatively on one thread.  The coroutine scheduler embeds a GasyncFiber
 * per coroutine, plus one per thread for the thread's own stack (where the
 * scheduler's dispatch runs).
 *
 * Backends:
 * - "x86_64" / "aarch64": our own assembly (gasync-fiber-<arch>.S).  A switch
 *   saves the callee-saved registers of the System V / AAPCS64 ABIs on the
 *   stack being left and stores the stack pointer in the fiber; on x86-64 it
 *   also saves MXCSR and the x87 control word, which the ABI makes
 *   callee-saved.  AArch64 leaves FPCR alone (it is thread state, like
 *   errno), and never touches x18 (the platform register).
 * - "ucontext": glibc makecontext / swapcontext.  About 20 times slower (a
 *   sigprocmask system call per switch) but known to every debugger and
 *   sanitizer, and the only choice when a CET shadow stack is active, since
 *   glibc switches shadow stacks and our assembly does not.  Chosen with
 *   -Dfiber_backend=ucontext, or at run time with GASYNC_FIBER_BACKEND=ucontext
 *   even in an assembly build (read once, at the first fiber of the process).
 *
 * Debug checks: GASYNC_DEBUG containing "checks" (read once), or a
 * -Dbuildtype=debug build, turns on a check of the leaving fiber's stack
 * canary at every switch, plus sanity checks of the switch arguments.  The
 * canary of a finished fiber is checked always, once, in
 * gasync_fiber_switch_final().  A failed canary check writes
 * "gasync: stack overflow in coroutine 'NAME'" to stderr and aborts.
 *
 * Thread rules: a fiber is created, switched and cleared on one thread and
 * never migrates.  Each thread keeps a thread-local "current fiber": set by
 * gasync_fiber_init_thread() (when the thread has none yet) and by every
 * switch to the fiber switched to.  The overflow handler relies on it.
 *
 * errno is not preserved across a switch (it is per thread, not per fiber),
 * and a fiber must not change the signal mask: with the ucontext backend
 * every switch restores the mask saved by the fiber switched to.
 */

G_BEGIN_DECLS

typedef struct _GasyncFiber GasyncFiber;

/*
 * GasyncFiberFunc:
 * @data: the data given to gasync_fiber_init()
 *
 * The body of a fiber.  It must never return: it ends by switching away
 * with gasync_fiber_switch_final().  A body that returns aborts the process
 * with "gasync: coroutine 'NAME' returned from its fiber function".
 */
typedef void (*GasyncFiberFunc) (gpointer data);

/*
 * GasyncFiber:
 *
 * Embedded by value (72 bytes on 64-bit) in its owner, which must not move
 * while the fiber is initialized.  All fields but @name are private to
 * gasync-fiber.c; the layout does not depend on the build options, so tests
 * and the library always agree on it.
 */
struct _GasyncFiber
{
  /* Asm backends: the stack pointer saved by the last switch away (set to
   * NULL while running when debug checks are on).  ucontext: the fiber's
   * ucontext_t, at the top of its stack (on the heap for a thread fiber). */
  gpointer       context;
  /* The stack the fiber runs on, or NULL for a thread fiber.  Borrowed: the
   * owner acquires it before gasync_fiber_init() and releases it after
   * gasync_fiber_clear(). */
  GasyncStack   *stack;
  /* For diagnostics, borrowed: must stay valid until gasync_fiber_clear().
   * May be set directly at any time; NULL reads as "(unnamed)". */
  const char    *name;
  /* AddressSanitizer: the fake-stack save slot of a suspended fiber, and the
   * bounds of its stack (learnt from ASan for a thread fiber). */
  gpointer       asan_fake_stack;
  gconstpointer  asan_stack_bottom;
  gsize          asan_stack_size;
  /* ThreadSanitizer fiber handle. */
  gpointer       tsan_fiber;
  /* Valgrind stack registration id (valid when a flag says so). */
  guint          valgrind_stack_id;
  /* Private flags (gasync-fiber.c). */
  guint          flags;
};

/*
 * gasync_fiber_init_thread:
 *
 * Initializes @fiber to stand for the calling thread's own stack, so that the
 * thread can switch to fibers and be switched back to.  The fiber is
 * "running" once initialized.  If the thread has no current fiber yet, it
 * becomes the current one.  If gasync_fiber_install_overflow_handler() was
 * called earlier, this also gives the thread an alternate signal stack.
 */
void        gasync_fiber_init_thread              (GasyncFiber     *fiber);

/*
 * gasync_fiber_init:
 * @stack: the stack to run on (from gasync_stack_pool_acquire(): its top is
 *   page aligned), unused by any other live fiber
 * @func: the body, called with @data on the first switch to @fiber
 *
 * Prepares @fiber to start @func on @stack, overwriting all its fields
 * (set @name afterwards).  Only the top page of @stack is written: the
 * initial frame (and, for the ucontext backend on x86-64, the ucontext) lies
 * within it.  Nothing runs until the first gasync_fiber_switch() to
 * @fiber.  The fiber starts with the floating-point control state (MXCSR,
 * x87 control word) of the thread calling this function.
 */
void        gasync_fiber_init                     (GasyncFiber     *fiber,
                                                   GasyncStack     *stack,
                                                   GasyncFiberFunc  func,
                                                   gpointer         data);

/*
 * gasync_fiber_switch:
 * @from: the fiber currently running on this thread (the current fiber)
 * @to: a suspended or not-yet-started fiber of this thread
 *
 * Suspends @from and resumes @to.  Returns when some fiber switches back to
 * @from.  @to becomes the thread's current fiber.
 */
void        gasync_fiber_switch                   (GasyncFiber     *from,
                                                   GasyncFiber     *to);

/*
 * gasync_fiber_switch_final:
 * @from: the current fiber, whose body is done
 * @to: the fiber to resume
 *
 * Like gasync_fiber_switch(), but @from is finished and can never be
 * resumed: its frames are abandoned (ASan is told to drop its fake stack).
 * Checks @from's canary first, always.  Must be the last thing the body
 * does; does not return.  Afterwards, and only from another fiber, the owner
 * calls gasync_fiber_clear() and releases the stack.
 */
G_GNUC_NORETURN
void        gasync_fiber_switch_final             (GasyncFiber     *from,
                                                   GasyncFiber     *to);

/*
 * gasync_fiber_clear:
 *
 * Releases what @fiber holds besides its stack: the Valgrind stack
 * registration, the TSan fiber, the heap ucontext of a thread fiber.  A
 * fiber with a stack must not be running: normally it has finished and this
 * runs on another fiber.  Clearing a suspended fiber abandons its frames
 * (whatever they own leaks), which is only right when tearing down.  A
 * thread fiber is cleared from its own thread, which then has no current
 * fiber.  Zeroes @fiber: it may be initialized again.  Idempotent.
 */
void        gasync_fiber_clear                    (GasyncFiber     *fiber);

/*
 * gasync_fiber_get_current:
 *
 * Returns the calling thread's current fiber, or NULL before the thread
 * initialized one.
 */
GasyncFiber *gasync_fiber_get_current             (void);

/*
 * gasync_fiber_is_finished:
 *
 * Returns TRUE once @fiber has left with gasync_fiber_switch_final().
 */
gboolean    gasync_fiber_is_finished              (GasyncFiber     *fiber);

/*
 * gasync_fiber_backend_name:
 *
 * Returns the backend in use by this process: "x86_64", "aarch64" or
 * "ucontext".  Fixed at the first fiber initialization.
 */
const char *gasync_fiber_backend_name             (void);

/*
 * gasync_fiber_install_overflow_handler:
 *
 * Installs, once per process, a SIGSEGV handler running on an alternate
 * signal stack, and gives the calling thread such a stack (threads calling
 * gasync_fiber_init_thread() later get theirs there; threads that already
 * did must call this function themselves).  When a fault hits the guard of
 * the current fiber's stack, the handler writes
 * "gasync: stack overflow in coroutine 'NAME'" to stderr with write(2) and
 * aborts.  Any other fault goes to the previous handler: called directly
 * when it is a function, otherwise restored so that the faulting
 * instruction re-executes and the crash proceeds as it would have.
 */
void        gasync_fiber_install_overflow_handler (void);

G_END_DECLS
