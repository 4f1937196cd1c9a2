/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/*
 * Shared plumbing of the benchmark programs.
 *
 * Each program measures one round of one implementation per process and
 * prints the result as a single JSON object on stdout; tests/bench/run_bench.py
 * starts the processes, interleaves the implementations round by round,
 * computes the statistics and writes bench-results.jsonl.  One process per
 * round keeps rounds independent (no allocator or stack-pool state carried
 * from one to the next), which is also what B4's memory measurement needs.
 */

typedef struct
{
  char   *bench;        /* "B1", "B2", ...: which measurement */
  char   *impl;         /* "gasync", "gtask", "gasyncqueue", "gobject-floor" */
  char   *variant;      /* "latency" / "throughput" for B6 */
  gint64  n;            /* operations (or coroutines) per repetition */
  gint64  reps;         /* repetitions timed together, for small n */
  gint64  warmup;       /* operations of an untimed run first; 0 for none */
  gint64  duration_ms;  /* B7: how long to measure */
  gint64  in_flight;    /* B6 throughput: operations outstanding at once */
} BenchArgs;

/* Parses the common options; exits with status 2 on bad usage. */
void    bench_args_parse       (BenchArgs   *args,
                                int         *argc,
                                char      ***argv,
                                const char  *summary);
void    bench_args_clear       (BenchArgs   *args);
/* Exits with status 2 naming @what when it is not supported here. */
G_NORETURN
void    bench_unsupported      (const BenchArgs *args);

/*
 * Wall-clock and CPU time of a measurement.  Wall time is the figure the
 * issue's targets are stated in.  CPU time (the whole process: for B6 both
 * threads) is printed next to it because this machine is shared: when other
 * processes take the CPU away, wall time grows and CPU time does not, so a
 * gap between the two says a round was disturbed.
 */
typedef struct
{
  gint64 wall_ns;
  gint64 cpu_ns;
} BenchClock;

typedef struct
{
  double wall_ns;
  double cpu_ns;
} BenchCost;

void      bench_clock_start    (BenchClock       *clock);
/* The time since bench_clock_start(), per operation. */
BenchCost bench_clock_read     (const BenchClock *clock,
                                gint64            ops);
/* Adds @cost / @reps to @total: the mean over repetitions. */
void      bench_cost_add       (BenchCost        *total,
                                BenchCost         cost,
                                gint64            reps);

/* Resident set size of this process, from /proc/self/statm. */
gsize   bench_resident_bytes   (void);

/* The first CPU this process may run on, and pinning the calling thread to
 * one CPU (threads it creates afterwards inherit the mask). */
int     bench_first_cpu        (void);
void    bench_pin_thread       (int          cpu);

/* Iterates the thread-default context until *@flag is non-zero, then until
 * nothing is left to dispatch. */
void    bench_run_until        (const int   *flag);

/* Prints the result object: "ns_per_op", "cpu_ns_per_op" and any further
 * key/value pairs (a NULL-terminated list of const char *key, double value). */
void    bench_print_result     (const BenchArgs *args,
                                BenchCost        cost,
                                ...) G_GNUC_NULL_TERMINATED;

/*
 * The "gobject-floor" implementation: nothing but the construction and
 * finalization (g_object_new, last g_object_unref) of as many objects per
 * operation as gasync's implementation of the measurement asks for, to
 * show how much of a target GObject alone would use up.  BenchFloorObject is
 * shaped like GasyncFuture in what GObject's own work depends on:
 * instance-private data of about the same size and installed properties
 * (without them GObject skips its notify queue), and nothing else.
 */
#define BENCH_TYPE_FLOOR_OBJECT (bench_floor_object_get_type ())
G_DECLARE_FINAL_TYPE (BenchFloorObject, bench_floor_object, BENCH, FLOOR_OBJECT, GObject)

/* Creates and finalizes @per_op objects for each of @n operations, one
 * object alive at a time; returns the cost per operation. */
BenchCost bench_floor_one_at_a_time (gint64 n,
                                     gint64 per_op);
/* Creates @n objects, all alive at once, then finalizes them in the order
 * they were created; returns the cost divided by @ops. */
BenchCost bench_floor_all_at_once   (gint64 n,
                                     gint64 ops);

G_END_DECLS
