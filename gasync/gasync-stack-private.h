/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(GASYNC_COMPILATION)
# error "gasync-stack-private.h is private to gasync."
#endif

#include <glib.h>

/*
 * Coroutine stacks.
 *
 * A stack is an anonymous private mapping (MAP_NORESERVE, MADV_NOHUGEPAGE):
 * only the pages a coroutine touches cost memory, and huge pages are refused
 * so that touching the top of a stack never faults in 2 MiB.  Tops are page
 * aligned and the fiber layer keeps the initial frame inside the top page,
 * so a suspended coroutine that used little stack costs exactly one resident
 * page.  The default usable size is 256 KiB (1 MiB under AddressSanitizer,
 * whose redzones and fake frames make frames several times larger).
 *
 * Two kinds of stacks exist, because every guarded stack costs two kernel
 * mappings (VMAs) and `vm.max_map_count` (65530 on a stock kernel) caps the
 * VMAs of a whole process:
 *
 * - GASYNC_STACK_KIND_GUARDED: its own mapping with a 64 KiB PROT_NONE guard
 *   below the usable range.  An overflow faults at once; with
 *   gasync_fiber_install_overflow_handler() it is reported by coroutine name.
 *   Guarded stacks are handed out while the stacks mapped this way, in all
 *   pools of the process, stay below a budget of max_map_count / 8 stacks,
 *   that is a quarter of the allowed VMAs (8191 stacks on a stock kernel).
 *
 * - GASYNC_STACK_KIND_COMPACT: beyond the budget, stacks of the default size
 *   are carved from slabs: one mapping of 64 adjacent stacks over a single
 *   guard, two VMAs per 64 stacks.  Stacks inside a slab have no guard
 *   between them; an overflow runs into the top of the neighbour below and
 *   is only detected afterwards, by the canary, at the next check (every
 *   switch with debug checks on, and always when the coroutine finishes).
 *   That is the trade-off: a million suspended coroutines fit on a stock
 *   kernel (8191 x 2 + 15,500 x 2 VMAs, about 48,000), at the price of late
 *   detection for the ones beyond the budget.
 *
 * The canary is the lowest GASYNC_STACK_CANARY_SIZE bytes of the usable range,
 * which must stay zero.  A pattern written there would cost a resident page
 * per stack (the whole per-coroutine memory budget); a never-written
 * anonymous page reads as zero from the kernel's shared zero page, which is
 * not counted as resident.  The price is that an overflow writing only zeros
 * over those bytes goes unnoticed.
 *
 * Pools are per scheduler and single threaded: one thread acquires and
 * releases.  Free stacks are reused LIFO, so the most recently used (and
 * still resident, cache-warm) top page is handed out first.  Only the
 * process-wide guarded budget is shared between pools, through an atomic
 * counter.
 */

G_BEGIN_DECLS

#if defined(__SANITIZE_ADDRESS__)
# define GASYNC_ASAN 1
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
#  define GASYNC_ASAN 1
# endif
#endif
#ifndef GASYNC_ASAN
# define GASYNC_ASAN 0
#endif

#if defined(__SANITIZE_THREAD__)
# define GASYNC_TSAN 1
#elif defined(__has_feature)
# if __has_feature(thread_sanitizer)
#  define GASYNC_TSAN 1
# endif
#endif
#ifndef GASYNC_TSAN
# define GASYNC_TSAN 0
#endif

/* Usable bytes of a stack requested with size 0. */
#if GASYNC_ASAN
# define GASYNC_STACK_DEFAULT_SIZE (4 * 256 * 1024)
#else
# define GASYNC_STACK_DEFAULT_SIZE (256 * 1024)
#endif

/* Smallest usable size handed out: room for a signal frame (several KiB with
 * AVX-512 state) on top of the coroutine's own frames. */
#define GASYNC_STACK_MIN_SIZE (16 * 1024)

/* PROT_NONE bytes below a guarded stack (and below each slab).  Larger than
 * one page so that a frame with a few KiB of locals cannot step over it. */
#define GASYNC_STACK_GUARD_SIZE (64 * 1024)

/* Bytes at the bottom of every stack that must stay zero. */
#define GASYNC_STACK_CANARY_SIZE 64

/* Stacks carved from one compact slab. */
#define GASYNC_STACK_SLAB_STACKS 64

typedef enum
{
  GASYNC_STACK_KIND_GUARDED,
  GASYNC_STACK_KIND_COMPACT,
} GasyncStackKind;

typedef struct _GasyncStack     GasyncStack;
typedef struct _GasyncStackPool GasyncStackPool;
typedef struct _GasyncStackSlab GasyncStackSlab;

/*
 * The fields are written only by gasync-stack.c; the fiber layer and the
 * SIGSEGV handler read them (the handler without locks, which is fine since
 * they do not change while the stack is in use).
 */
struct _GasyncStack
{
  guint8          *bottom;      /* lowest usable byte; the canary starts here */
  gsize            size;        /* usable bytes; bottom + size is page aligned */
  guint8          *guard;       /* PROT_NONE bytes right below bottom, or NULL */
  gsize            guard_size;  /* 0 for compact stacks above a slab's lowest */
  GasyncStackKind  kind;
  gboolean         in_use;      /* between acquire and release */
  GasyncStackSlab *slab;        /* compact stacks: the slab they live in */
  GasyncStack     *prev;        /* free-list links, valid while !in_use */
  GasyncStack     *next;
};

/*
 * gasync_stack_pool_new:
 *
 * Creates an empty pool.  Nothing is mapped until the first acquire.  The
 * pool must be used from one thread at a time (normally the thread of the
 * scheduler owning it).
 */
GasyncStackPool *gasync_stack_pool_new           (void);

/*
 * gasync_stack_pool_free:
 *
 * Unmaps every stack of the pool.  All acquired stacks must have been
 * released; if some are still in use, this warns and leaks the whole pool
 * instead of unmapping memory a coroutine may still run on.
 */
void             gasync_stack_pool_free          (GasyncStackPool *pool);

/*
 * gasync_stack_pool_acquire:
 * @usable_size: usable bytes, rounded up to whole pages and to at least
 *   GASYNC_STACK_MIN_SIZE; 0 means GASYNC_STACK_DEFAULT_SIZE
 *
 * Hands out a stack, in this order of preference: the most recently
 * released guarded stack, a new guarded stack while the process-wide budget
 * allows, the most recently released compact stack, a new compact stack.
 * Only default-size stacks are ever compact.  The memory is not touched
 * here.  Aborts, like g_malloc(), if the kernel refuses the mapping.
 */
GasyncStack     *gasync_stack_pool_acquire       (GasyncStackPool *pool,
                                                  gsize            usable_size);

/*
 * gasync_stack_pool_release:
 *
 * Gives @stack back to @pool, the pool it came from, for reuse.  No fiber
 * may run on it any more and its fiber must have been cleared.  Aborts if
 * the canary was overwritten, because reusing a stack whose overflow went
 * unnoticed would hide the bug.
 * Guarded stacks beyond 256 free ones are unmapped at once; their pages stay
 * resident otherwise until gasync_stack_pool_trim().
 */
void             gasync_stack_pool_release       (GasyncStackPool *pool,
                                                  GasyncStack     *stack);

/*
 * gasync_stack_pool_trim:
 *
 * Returns memory of free stacks to the kernel, to be called when the
 * scheduler goes idle: unmaps free guarded stacks beyond the 8 most recent
 * and compact slabs with no stack in use, and MADV_DONTNEEDs the rest of the
 * free stacks so that they cost no resident memory.  Stacks in use are not
 * touched.
 */
void             gasync_stack_pool_trim          (GasyncStackPool *pool);

/*
 * gasync_stack_get_top:
 *
 * Returns the page-aligned address just above the usable range: the initial
 * stack pointer of a fiber, before its initial frame.
 */
static inline gpointer
gasync_stack_get_top (GasyncStack *stack)
{
  return stack->bottom + stack->size;
}

/*
 * gasync_stack_get_bottom:
 *
 * Returns the lowest usable address (where the canary lives).
 */
static inline gpointer
gasync_stack_get_bottom (GasyncStack *stack)
{
  return stack->bottom;
}

/*
 * gasync_stack_get_size:
 *
 * Returns the usable size in bytes, canary included.
 */
static inline gsize
gasync_stack_get_size (GasyncStack *stack)
{
  return stack->size;
}

/*
 * gasync_stack_get_kind:
 *
 * Returns whether @stack has its own guard (GUARDED) or was carved from a
 * slab (COMPACT).
 */
static inline GasyncStackKind
gasync_stack_get_kind (GasyncStack *stack)
{
  return stack->kind;
}

/*
 * gasync_stack_check_canary:
 *
 * Returns FALSE if any of the GASYNC_STACK_CANARY_SIZE bytes at the bottom is
 * not zero, which means a frame reached the very bottom of the stack (it
 * overflowed, or is about to).  Reading an untouched canary maps the shared
 * zero page, which costs no resident memory.
 */
gboolean         gasync_stack_check_canary       (GasyncStack     *stack);

/*
 * gasync_stack_is_in_guard:
 *
 * Returns TRUE if @address lies in the PROT_NONE guard right below @stack.
 * Async-signal-safe (reads two fields).
 */
static inline gboolean
gasync_stack_is_in_guard (const GasyncStack *stack,
                          gconstpointer      address)
{
  const guint8 *p = address;

  return stack->guard != NULL &&
         p >= stack->guard &&
         p < stack->guard + stack->guard_size;
}

/*
 * gasync_stack_set_guarded_limit:
 * @limit: the most guarded stacks the whole process may map at once, or
 *   G_MAXUINT to go back to max_map_count / 8
 *
 * Overrides the guarded budget; for tests and for applications that know
 * their own mapping needs.  Stacks already mapped are not affected.
 */
void             gasync_stack_set_guarded_limit  (guint            limit);

/*
 * gasync_stack_get_guarded_limit:
 *
 * Returns the current guarded budget, in stacks.
 */
guint            gasync_stack_get_guarded_limit  (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GasyncStackPool, gasync_stack_pool_free)

G_END_DECLS
