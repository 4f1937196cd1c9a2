/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * gasync-tour: what gasync's futures do today, on a real main loop.
 *
 * Worker threads settle futures (one resolved, one rejected) while the main
 * loop keeps running a progress timer; a third future is cancelled through
 * its GCancellable. Results arrive on the main loop through a done callback
 * and the `done` signal, and gasync_future_wait() runs the loop until a
 * future has settled. This tour grows into a coroutine tour once coroutines
 * land.
 */

#include <locale.h>
#include <stdarg.h>
#include <unistd.h>

#include <gasync/gasync.h>

typedef struct
{
  gint64        start_us;
  gboolean      tty;          /* draw a live progress line */
  guint         ticks;        /* progress timer runs while counting */
  guint         pending;      /* reports not printed yet */
  GasyncFuture *all_reported; /* resolved when pending reaches 0 */
  GasyncFuture *primes;       /* the future the progress line shows */
  GasyncFuture *missing;      /* the future that should be rejected */
  gboolean      ok;           /* every future ended as expected */
} Tour;

typedef struct
{
  GasyncFuture *future; /* owned: the worker keeps it alive */
  guint64       limit;
  char         *path;
} Job;

static Job *
job_new (GasyncFuture *future,
         guint64       limit,
         const char   *path)
{
  Job *job = g_new0 (Job, 1);

  job->future = g_object_ref (future);
  job->limit = limit;
  job->path = g_strdup (path);
  return job;
}

static void
job_free (Job *job)
{
  g_object_unref (job->future);
  g_free (job->path);
  g_free (job);
}

/* Prints one report line, stamped with the time since the tour began. */
G_GNUC_PRINTF (2, 3)
static void
say (Tour       *tour,
     const char *format,
     ...)
{
  g_autofree char *text = NULL;
  va_list          args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);

  /* Erase the progress line first so that reports never run into it. */
  g_print ("%s  [%7.1f ms] %s\n", tour->tty ? "\r\033[K" : "",
           (g_get_monotonic_time () - tour->start_us) / 1000.0, text);
}

static void
report_printed (Tour *tour)
{
  if (--tour->pending == 0)
    gasync_future_resolve_void (tour->all_reported);
}

static gpointer
count_primes_thread (gpointer data)
{
  Job    *job = data;
  guint64 count = job->limit > 2 ? 1 : 0; /* 2, the only even prime */
  guint64 step = MAX (job->limit / 100, 2);

  for (guint64 n = 3; n < job->limit; n += 2)
    {
      gboolean prime = TRUE;

      for (guint64 d = 3; d * d <= n && prime; d += 2)
        prime = (n % d != 0);
      count += prime;

      if (n % step < 2)
        {
          /* Progress may be set from any thread; gasync coalesces the
           * notifications on the future's own main context. */
          gasync_future_set_progress (job->future, (double) n / job->limit);

          /* Nobody wants the result any more: stop early. */
          if (gasync_future_is_cancel_requested (job->future))
            break;
        }
    }

  gasync_future_resolve_uint64 (job->future, count);
  job_free (job);
  return NULL;
}

static gpointer
hash_file_thread (gpointer data)
{
  Job               *job = data;
  g_autoptr (GError) error = NULL;
  g_autofree char   *contents = NULL;
  g_autofree char   *digest = NULL;
  gsize              length;

  /* Blocking I/O is fine here: this is not the main loop's thread. */
  if (!g_file_get_contents (job->path, &contents, &length, &error))
    {
      gasync_future_take_error (job->future, g_steal_pointer (&error));
    }
  else
    {
      digest = g_compute_checksum_for_data (G_CHECKSUM_SHA256,
                                            (const guchar *) contents, length);
      gasync_future_resolve_string (job->future, digest);
    }

  job_free (job);
  return NULL;
}

/* A done callback: the cheap C path, run on the main loop. */
static void
hash_done_cb (GasyncFuture *future,
              gpointer      user_data)
{
  Tour              *tour = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char   *digest = gasync_future_dup_string (future, &error);
  gboolean           expect_failure = (future == tour->missing);

  if (digest != NULL)
    say (tour, "%s: resolved, sha256 %.16s...", gasync_future_get_name (future),
         digest);
  else
    say (tour, "%s: rejected: %s", gasync_future_get_name (future),
         error->message);

  if (expect_failure != (digest == NULL))
    tour->ok = FALSE;
  report_printed (tour);
}

static gboolean
never_resolved_cb (gpointer user_data)
{
  gasync_future_resolve_void (user_data);
  return G_SOURCE_REMOVE;
}

/* The `cancelled` signal tells the producer to stop its work. */
static void
slow_cancelled_cb (GasyncFuture *future,
                   gpointer      user_data)
{
  guint *source_id = user_data;

  g_clear_handle_id (source_id, g_source_remove);
}

/* The `done` signal: the bindable, GObject way to hear about it. */
static void
slow_done_cb (GasyncFuture *future,
              gpointer      user_data)
{
  Tour              *tour = user_data;
  g_autoptr (GError) error = NULL;

  gasync_future_propagate_error (future, &error);
  say (tour, "%s: %s (%s)", gasync_future_get_name (future),
       gasync_future_is_cancelled (future) ? "cancelled" : "not cancelled!",
       error != NULL ? error->message : "no error");
  tour->ok &= gasync_future_is_cancelled (future);
  report_printed (tour);
}

static gboolean
cancel_cb (gpointer user_data)
{
  /* A plain GCancellable, as any GIO call would take, cancels the future. */
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static gboolean
progress_cb (gpointer user_data)
{
  Tour *tour = user_data;

  tour->ticks++;
  if (tour->tty)
    g_print ("\r\033[K  counting primes... %3.0f%%",
             100 * MAX (gasync_future_get_progress (tour->primes), 0.0));
  return G_SOURCE_CONTINUE;
}

static char  *opt_file = NULL;
static gint64 opt_limit = 2000000;

static const GOptionEntry entries[] = {
  { "file", 'f', 0, G_OPTION_ARG_FILENAME, &opt_file,
    "File to hash on a worker thread (default: /etc/services)", "PATH" },
  { "limit", 'n', 0, G_OPTION_ARG_INT64, &opt_limit,
    "Count the primes below N on a worker thread (default: 2000000)", "N" },
  G_OPTION_ENTRY_NULL
};

int
main (int    argc,
      char **argv)
{
  g_autoptr (GOptionContext) options = NULL;
  g_autoptr (GError)         error = NULL;
  g_autoptr (GasyncFuture)   primes = gasync_future_new ();
  g_autoptr (GasyncFuture)   hash = gasync_future_new ();
  g_autoptr (GasyncFuture)   missing = gasync_future_new ();
  g_autoptr (GasyncFuture)   slow = gasync_future_new ();
  g_autofree char           *hash_name = NULL;
  Tour                       tour = { .ok = TRUE, .pending = 3 };
  GThread                   *threads[3];
  guint                      slow_id, progress_id;

  /* Lets GLib print error messages in the user's language and charset. */
  setlocale (LC_ALL, "");

  options = g_option_context_new (NULL);
  g_option_context_set_summary (options, "A tour of gasync futures. Exits 0 "
                                         "when each ends as expected.");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (opt_file == NULL)
    opt_file = g_strdup ("/etc/services");
  opt_limit = CLAMP (opt_limit, 0, G_MAXINT64 / 4);

  tour.start_us = g_get_monotonic_time ();
  tour.tty = isatty (STDOUT_FILENO);
  tour.all_reported = gasync_future_new ();
  tour.primes = primes;
  tour.missing = missing;
  g_print ("gasync tour: futures settled by threads, seen from main\n");

  /* Futures made here belong to this thread's default main context: that
   * is where their callbacks and signals run, whoever settles them. */
  gasync_future_set_name (primes, "count-primes");
  gasync_future_set_value_type (primes, G_TYPE_UINT64);
  threads[0] = g_thread_new ("primes", count_primes_thread,
                             job_new (primes, opt_limit, NULL));

  hash_name = g_strdup_printf ("sha256 %s", opt_file);
  gasync_future_set_name (hash, hash_name);
  gasync_future_add_done_callback (hash, hash_done_cb, &tour, NULL);
  threads[1] =
    g_thread_new ("hash", hash_file_thread, job_new (hash, 0, opt_file));

  gasync_future_set_name (missing, "missing file");
  gasync_future_add_done_callback (missing, hash_done_cb, &tour, NULL);
  threads[2] = g_thread_new ("missing", hash_file_thread,
                             job_new (missing, 0, "/nonexistent/gasync-tour"));

  /* Would resolve in a minute, but is cancelled after 20 ms. */
  gasync_future_set_name (slow, "slow-timer");
  slow_id = g_timeout_add_seconds (60, never_resolved_cb, slow);
  g_signal_connect (slow, "cancelled", G_CALLBACK (slow_cancelled_cb),
                    &slow_id);
  g_signal_connect (slow, "done", G_CALLBACK (slow_done_cb), &tour);
  g_timeout_add (20, cancel_cb, gasync_future_get_cancellable (slow));

  progress_id = g_timeout_add (50, progress_cb, &tour);

  /* Runs the main loop (timers, callbacks, signals) until primes settle. */
  if (!gasync_future_wait (primes, &error))
    g_error ("count-primes cannot fail: %s", error->message);
  g_clear_handle_id (&progress_id, g_source_remove);
  say (&tour,
       "count-primes: resolved, %" G_GUINT64_FORMAT
       " primes below %" G_GINT64_FORMAT,
       gasync_future_get_uint64 (primes, NULL), opt_limit);
  say (&tour, "meanwhile the main loop ran the progress timer %u times",
       tour.ticks);

  /* wait() returns once a future has settled; its done callbacks and
   * signals run on a later dispatch, so wait for the reports as well. */
  gasync_future_wait (tour.all_reported, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  g_clear_object (&tour.all_reported);
  g_clear_pointer (&opt_file, g_free);

  g_print ("%s\n", tour.ok ? "Every future ended as expected."
                           : "Some futures did not end as expected.");
  return tour.ok ? 0 : 1;
}
