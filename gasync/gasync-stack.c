/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "gasync-stack-private.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if GASYNC_ASAN
/* Part of ASan's runtime interface (what compilers emit for use-after-scope)
 * rather than of its public header.  Unlike __asan_unpoison_memory_region(),
 * which writes every shadow byte (128 KiB of resident shadow per 1 MiB
 * stack), it gives whole shadow pages back with madvise. */
void __asan_unpoison_stack_memory (void   *addr,
                                   gssize  size);  /* GCC's builtin says "long" */
#endif

#ifndef MAP_NORESERVE
# define MAP_NORESERVE 0
#endif
#ifndef MAP_STACK
# define MAP_STACK 0
#endif

/* Free guarded stacks kept by release (beyond: unmapped at once) and by
 * trim (beyond: unmapped when idle). */
#define POOL_MAX_FREE_GUARDED   256
#define POOL_TRIM_KEEP_GUARDED  8

struct _GasyncStackSlab
{
  guint8          *map;           /* start of the mapping: the guard */
  gsize            map_size;
  GasyncStackSlab *prev;          /* the pool's list of slabs */
  GasyncStackSlab *next;
  guint            n_carved;      /* stacks[0..n_carved) have been handed out once */
  guint            n_in_use;      /* carved stacks currently acquired */
  GasyncStack      stacks[GASYNC_STACK_SLAB_STACKS];
};

struct _GasyncStackPool
{
  GasyncStack     *guarded_free;  /* LIFO, linked through next */
  guint            n_guarded_free;
  GasyncStack     *compact_free;  /* LIFO, doubly linked so a slab can unlink its own */
  guint            n_compact_free;
  GasyncStackSlab *slabs;         /* every slab of this pool */
  GasyncStackSlab *carving;       /* the slab new compact stacks come from, or NULL */
  guint            n_in_use;      /* acquired and not yet released */
};

static gsize page_size;
static gsize default_size;

/* Guarded stacks mapped by all pools of the process, and the budget they
 * must stay under (-1: not read from /proc yet).  Both atomic: pools of
 * different threads share them. */
static gint n_guarded_mapped;
static gint guarded_limit = -1;

static void
stack_globals_init (void)
{
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      long ps = sysconf (_SC_PAGESIZE);

      page_size = ps > 0 ? (gsize) ps : 4096;
      default_size = (GASYNC_STACK_DEFAULT_SIZE + page_size - 1) & ~(page_size - 1);
      g_once_init_leave (&initialized, 1);
    }
}

static guint
compute_default_guarded_limit (void)
{
  g_autofree char *contents = NULL;
  guint64 max_map_count = 65530;

  /* The file can be missing in containers; the stock default is then the
   * safe guess. */
  if (g_file_get_contents ("/proc/sys/vm/max_map_count", &contents, NULL, NULL))
    {
      guint64 value = g_ascii_strtoull (contents, NULL, 10);

      if (value > 0)
        max_map_count = value;
    }

  /* Two VMAs per guarded stack, and a quarter of all VMAs for them. */
  return (guint) MIN (max_map_count / 8, G_MAXINT);
}

guint
gasync_stack_get_guarded_limit (void)
{
  gint limit = g_atomic_int_get (&guarded_limit);

  if (limit < 0)
    {
      /* Racing threads compute the same value; losing the race is harmless. */
      g_atomic_int_compare_and_exchange (&guarded_limit, -1,
                                         (gint) compute_default_guarded_limit ());
      limit = g_atomic_int_get (&guarded_limit);
    }

  return (guint) limit;
}

void
gasync_stack_set_guarded_limit (guint limit)
{
  g_atomic_int_set (&guarded_limit, limit == G_MAXUINT ? -1 : (gint) MIN (limit, G_MAXINT));
}

static gboolean
reserve_guarded_slot (void)
{
  guint limit = gasync_stack_get_guarded_limit ();

  if ((guint) g_atomic_int_add (&n_guarded_mapped, 1) < limit)
    return TRUE;

  g_atomic_int_add (&n_guarded_mapped, -1);
  return FALSE;
}

static guint8 *
map_region (gsize size)
{
  void *map;

  map = mmap (NULL, size, PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
              -1, 0);
  if (map == MAP_FAILED)
    {
      int errsv = errno;

      g_error ("gasync: cannot map %" G_GSIZE_FORMAT " bytes for coroutine stacks: %s",
               size, g_strerror (errsv));
    }

#ifdef MADV_NOHUGEPAGE
  /* With transparent huge pages set to "always", the first touch of a stack
   * top in a large slab could fault in 2 MiB instead of one page. */
  madvise (map, size, MADV_NOHUGEPAGE);
#endif

  return map;
}

static void
protect_guard (guint8 *guard,
               gsize   size)
{
  if (mprotect (guard, size, PROT_NONE) != 0)
    {
      int errsv = errno;

      g_error ("gasync: cannot protect a coroutine stack guard: %s",
               g_strerror (errsv));
    }
}

static void
unmap_region (guint8 *map,
              gsize   size)
{
  if (munmap (map, size) != 0)
    g_critical ("gasync: cannot unmap coroutine stack memory: %s", g_strerror (errno));
}

static GasyncStack *
guarded_new (gsize usable_size)
{
  GasyncStack *stack;
  guint8 *map;

  map = map_region (GASYNC_STACK_GUARD_SIZE + usable_size);
  protect_guard (map, GASYNC_STACK_GUARD_SIZE);

  stack = g_new0 (GasyncStack, 1);
  stack->guard = map;
  stack->guard_size = GASYNC_STACK_GUARD_SIZE;
  stack->bottom = map + GASYNC_STACK_GUARD_SIZE;
  stack->size = usable_size;
  stack->kind = GASYNC_STACK_KIND_GUARDED;

  return stack;
}

static void
guarded_free (GasyncStack *stack)
{
  g_assert (stack->kind == GASYNC_STACK_KIND_GUARDED);

  unmap_region (stack->guard, stack->guard_size + stack->size);
  g_atomic_int_add (&n_guarded_mapped, -1);
  g_free (stack);
}

static GasyncStackSlab *
slab_new (GasyncStackPool *pool)
{
  GasyncStackSlab *slab;

  slab = g_new0 (GasyncStackSlab, 1);
  slab->map_size = GASYNC_STACK_GUARD_SIZE + GASYNC_STACK_SLAB_STACKS * default_size;
  slab->map = map_region (slab->map_size);
  protect_guard (slab->map, GASYNC_STACK_GUARD_SIZE);

  slab->next = pool->slabs;
  if (pool->slabs != NULL)
    pool->slabs->prev = slab;
  pool->slabs = slab;

  return slab;
}

static void
slab_free (GasyncStackPool *pool,
           GasyncStackSlab *slab)
{
  if (slab->prev != NULL)
    slab->prev->next = slab->next;
  else
    pool->slabs = slab->next;
  if (slab->next != NULL)
    slab->next->prev = slab->prev;

  if (pool->carving == slab)
    pool->carving = NULL;

  unmap_region (slab->map, slab->map_size);
  g_free (slab);
}

static GasyncStack *
slab_carve (GasyncStackSlab *slab)
{
  GasyncStack *stack;
  guint i = slab->n_carved++;

  stack = &slab->stacks[i];
  stack->bottom = slab->map + GASYNC_STACK_GUARD_SIZE + i * default_size;
  stack->size = default_size;
  stack->kind = GASYNC_STACK_KIND_COMPACT;
  stack->slab = slab;

  /* Only the lowest stack sits right above the slab's guard. */
  if (i == 0)
    {
      stack->guard = slab->map;
      stack->guard_size = GASYNC_STACK_GUARD_SIZE;
    }

  return stack;
}

static void
compact_free_push (GasyncStackPool *pool,
                   GasyncStack     *stack)
{
  stack->prev = NULL;
  stack->next = pool->compact_free;
  if (pool->compact_free != NULL)
    pool->compact_free->prev = stack;
  pool->compact_free = stack;
  pool->n_compact_free++;
}

static void
compact_free_unlink (GasyncStackPool *pool,
                     GasyncStack     *stack)
{
  if (stack->prev != NULL)
    stack->prev->next = stack->next;
  else
    pool->compact_free = stack->next;
  if (stack->next != NULL)
    stack->next->prev = stack->prev;
  stack->prev = stack->next = NULL;
  pool->n_compact_free--;
}

GasyncStackPool *
gasync_stack_pool_new (void)
{
  stack_globals_init ();

  return g_new0 (GasyncStackPool, 1);
}

void
gasync_stack_pool_free (GasyncStackPool *pool)
{
  if (pool == NULL)
    return;

  if (pool->n_in_use != 0)
    {
      g_critical ("gasync: freeing a stack pool with %u stacks still in use; leaking it",
                  pool->n_in_use);
      return;
    }

  while (pool->guarded_free != NULL)
    {
      GasyncStack *stack = pool->guarded_free;

      pool->guarded_free = stack->next;
      guarded_free (stack);
    }

  while (pool->slabs != NULL)
    slab_free (pool, pool->slabs);

  g_free (pool);
}

GasyncStack *
gasync_stack_pool_acquire (GasyncStackPool *pool,
                           gsize            usable_size)
{
  GasyncStack *stack;

  if (usable_size == 0)
    usable_size = default_size;
  usable_size = MAX (usable_size, GASYNC_STACK_MIN_SIZE);
  usable_size = (usable_size + page_size - 1) & ~(page_size - 1);

  if (usable_size != default_size)
    {
      /* Odd sizes are rare (per-spawn overrides): always guarded, never
       * pooled, but still counted against the budget so that they push
       * default-size stacks to slabs rather than exhaust the VMAs. */
      g_atomic_int_add (&n_guarded_mapped, 1);
      stack = guarded_new (usable_size);
    }
  else if (pool->guarded_free != NULL)
    {
      stack = pool->guarded_free;
      pool->guarded_free = stack->next;
      pool->n_guarded_free--;
    }
  else if (reserve_guarded_slot ())
    {
      stack = guarded_new (usable_size);
    }
  else if (pool->compact_free != NULL)
    {
      stack = pool->compact_free;
      compact_free_unlink (pool, stack);
      stack->slab->n_in_use++;
    }
  else
    {
      if (pool->carving == NULL)
        pool->carving = slab_new (pool);
      stack = slab_carve (pool->carving);
      stack->slab->n_in_use++;
      if (pool->carving->n_carved == GASYNC_STACK_SLAB_STACKS)
        pool->carving = NULL;
    }

  stack->prev = stack->next = NULL;
  stack->in_use = TRUE;
  pool->n_in_use++;

  return stack;
}

void
gasync_stack_pool_release (GasyncStackPool *pool,
                           GasyncStack     *stack)
{
  g_return_if_fail (stack->in_use);

  if (!gasync_stack_check_canary (stack))
    g_error ("gasync: a coroutine stack was released with its canary overwritten "
             "(stack overflow)");

#if GASYNC_ASAN
  /* A finished coroutine never unwinds its frames, so their redzones stay
   * poisoned; the next coroutine on this stack must not trip over them. */
  __asan_unpoison_stack_memory (stack->bottom, (gssize) stack->size);
#endif

  stack->in_use = FALSE;
  pool->n_in_use--;

  if (stack->kind == GASYNC_STACK_KIND_COMPACT)
    {
      stack->slab->n_in_use--;
      compact_free_push (pool, stack);
    }
  else if (stack->size != default_size ||
           pool->n_guarded_free >= POOL_MAX_FREE_GUARDED)
    {
      guarded_free (stack);
    }
  else
    {
      stack->next = pool->guarded_free;
      pool->guarded_free = stack;
      pool->n_guarded_free++;
    }
}

static void
discard_pages (GasyncStack *stack)
{
  /* DONTNEED (not FREE) so that the pages leave the resident set at once;
   * the next user of the stack gets zero pages, canary included. */
  madvise (stack->bottom, stack->size, MADV_DONTNEED);
}

void
gasync_stack_pool_trim (GasyncStackPool *pool)
{
  GasyncStack **link;
  GasyncStack *stack;
  GasyncStackSlab *slab;
  guint kept = 0;

  /* The head of the LIFO is the warmest; keep those mapped. */
  link = &pool->guarded_free;
  while ((stack = *link) != NULL)
    {
      if (kept < POOL_TRIM_KEEP_GUARDED)
        {
          discard_pages (stack);
          kept++;
          link = &stack->next;
        }
      else
        {
          *link = stack->next;
          pool->n_guarded_free--;
          guarded_free (stack);
        }
    }

  slab = pool->slabs;
  while (slab != NULL)
    {
      GasyncStackSlab *next = slab->next;

      if (slab->n_in_use == 0)
        {
          for (guint i = 0; i < slab->n_carved; i++)
            compact_free_unlink (pool, &slab->stacks[i]);
          slab_free (pool, slab);
        }

      slab = next;
    }

  for (stack = pool->compact_free; stack != NULL; stack = stack->next)
    discard_pages (stack);
}

gboolean
gasync_stack_check_canary (GasyncStack *stack)
{
  const guint64 *words = (const guint64 *) (gpointer) stack->bottom;
  guint64 bits = 0;

  G_STATIC_ASSERT (GASYNC_STACK_CANARY_SIZE % sizeof (guint64) == 0);

  for (gsize i = 0; i < GASYNC_STACK_CANARY_SIZE / sizeof (guint64); i++)
    bits |= words[i];

  return bits == 0;
}
