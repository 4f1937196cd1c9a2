/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * gasync-tour: six things that callbacks make painful, each written as a
 * straight-line coroutine, all on one main loop and on real I/O.
 *
 *   echo     a TCP echo server and 50 concurrent clients on 127.0.0.1
 *   hash     a directory tree read and hashed, 16 files at a time
 *   process  a subprocess awaited
 *   timeout  a slow operation cut short by a timeout
 *   thread   blocking work on a worker while the main loop stays live
 *   scope    100 coroutines cancelled mid-flight, nothing leaked
 *
 * Each section is one coroutine body: it reads top to bottom, and each
 * gasync_await*() suspends only that coroutine while the main loop goes on
 * with everything else. A section returning FALSE fails the tour (exit 1).
 * Ctrl-C cancels the whole tour through a SIGINT future (exit 130).
 */

#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include <gasync/gasync.h>

#define ECHO_CLIENTS      50
#define ECHO_MESSAGES     20
#define HASH_CONCURRENCY  16
#define PRIMES_BELOW      2000000
#define TIMEOUT_MS        200
#define SCOPE_WORKERS     100
#define SCOPE_CANCEL_MS   250

typedef struct
{
  /* Options. */
  char    *dir;
  guint    max_files;

  gint64   start_us;
  gboolean tty;             /* draw a live progress line */
  char    *progress_text;   /* the progress line on screen, or NULL */

  /* The scope section's counters live here, not on its stack: they are
   * written by destroy notifies and weak references, which must never find
   * freed memory, whenever they run. */
  guint    workers_freed;
  guint    workers_finalized;
} Tour;

/* --- output ------------------------------------------------------------ */

/* Prints one line of the report: the section, its time, what it showed. */
G_GNUC_PRINTF (4, 5)
static void
report (Tour       *tour,
        const char *section,
        gint64      section_start_us,
        const char *format,
        ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);

  g_print ("%s  %-8s %7.1f ms  %s\n", tour->progress_text ? "\r\033[K" : "",
           section, (g_get_monotonic_time () - section_start_us) / 1000.0, text);
  g_clear_pointer (&tour->progress_text, g_free);
}

/* Redraws the progress line in place, only when a person is watching. */
G_GNUC_PRINTF (2, 3)
static void
progress (Tour       *tour,
          const char *format,
          ...)
{
  g_autofree char *text = NULL;
  va_list args;

  if (!tour->tty)
    return;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);

  /* Redraw only what changed: a terminal is slow to scroll through a
   * thousand identical lines. */
  if (g_strcmp0 (text, tour->progress_text) == 0)
    return;
  g_print ("\r\033[K  %s", text);
  g_free (tour->progress_text);
  tour->progress_text = g_steal_pointer (&text);
}

/* Waits until everything in @scope has ended. If this coroutine is cancelled
 * meanwhile (Ctrl-C), the scope is cancelled too, and its members are still
 * waited for: they share data with the caller's stack, so none may outlive
 * it. The shield keeps the first await's cancellation from reaching the
 * scope's own wait future, which is awaited again. */
static gboolean
await_scope (GasyncScope  *scope,
             GError      **error)
{
  if (gasync_await (gasync_shield (gasync_scope_wait (scope)), error))
    return TRUE;

  gasync_scope_cancel (scope);
  gasync_await (gasync_scope_wait (scope), NULL);
  return FALSE;
}

/* --- echo: a TCP server and its clients -------------------------------- */

typedef struct
{
  GSocketListener *listener;
  GasyncScope     *server;     /* the acceptor and one coroutine per client */
  guint16          port;
  guint            accepted;
  guint            echoes;     /* messages that came back intact */
} Echo;

typedef struct
{
  Echo  *echo;
  guint  id;
} EchoClient;

/* Server side, one coroutine per connection: sends back whatever arrives,
 * until the client hangs up. */
static gboolean
echo_session (gpointer   user_data,
              GValue    *result,
              GError   **error)
{
  GIOStream *connection = user_data;
  GInputStream *in = g_io_stream_get_input_stream (connection);
  GOutputStream *out = g_io_stream_get_output_stream (connection);

  for (;;)
    {
      g_autoptr(GBytes) chunk = NULL;

      chunk = gasync_await_boxed (gasync_input_stream_read_bytes (in, 4096, G_PRIORITY_DEFAULT),
                                  G_TYPE_BYTES, error);
      if (chunk == NULL)
        return FALSE;
      if (g_bytes_get_size (chunk) == 0)
        return TRUE;
      if (!gasync_await (gasync_output_stream_write_all (out, chunk, G_PRIORITY_DEFAULT), error))
        return FALSE;
    }
}

/* Accepts connections until cancelled, each handled by a coroutine of its
 * own in the server's scope. */
static gboolean
echo_server (gpointer   user_data,
             GValue    *result,
             GError   **error)
{
  Echo *echo = user_data;

  for (;;)
    {
      GSocketConnection *connection;

      connection = gasync_await_object (gasync_socket_listener_accept (echo->listener), error);
      if (connection == NULL)
        return FALSE;

      echo->accepted++;
      gasync_scope_spawn (echo->server, "echo-session", echo_session,
                          connection, g_object_unref);
    }
}

/* Client side: connect, then send messages one by one and check that each
 * comes back byte for byte. */
static gboolean
echo_client (gpointer   user_data,
             GValue    *result,
             GError   **error)
{
  EchoClient *client = user_data;
  g_autoptr(GSocketClient) socket_client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;
  g_autofree char *address = g_strdup_printf ("127.0.0.1:%u", client->echo->port);
  GInputStream *in;
  GOutputStream *out;

  /* Loopback only: no proxy look-up. */
  g_socket_client_set_enable_proxy (socket_client, FALSE);
  connection = gasync_await_object (gasync_socket_client_connect_to_host (socket_client,
                                                                          address, 0),
                                    error);
  if (connection == NULL)
    return FALSE;
  in = g_io_stream_get_input_stream (G_IO_STREAM (connection));
  out = g_io_stream_get_output_stream (G_IO_STREAM (connection));

  for (guint i = 0; i < ECHO_MESSAGES; i++)
    {
      g_autofree char *text = g_strdup_printf ("client %02u, message %02u\n", client->id, i);
      g_autoptr(GBytes) sent = g_bytes_new (text, strlen (text));
      g_autoptr(GBytes) echoed = NULL;

      if (!gasync_await (gasync_output_stream_write_all (out, sent, G_PRIORITY_DEFAULT), error))
        return FALSE;

      /* TCP may split the echo: read exactly as many bytes as were sent. */
      echoed = gasync_await_boxed (gasync_input_stream_read_all (in, g_bytes_get_size (sent),
                                                                 G_PRIORITY_DEFAULT),
                                   G_TYPE_BYTES, error);
      if (echoed == NULL)
        return FALSE;
      if (!g_bytes_equal (sent, echoed))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "client %u: message %u came back altered", client->id, i);
          return FALSE;
        }
      client->echo->echoes++;
    }

  return gasync_await (gasync_stream_close (connection, G_PRIORITY_DEFAULT), error);
}

static gboolean
echo_section (gpointer   user_data,
              GValue    *result,
              GError   **error)
{
  Tour *tour = user_data;
  gint64 start = g_get_monotonic_time ();
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GasyncScope) server = gasync_scope_new ();
  g_autoptr(GasyncScope) clients = gasync_scope_new ();
  g_autoptr(GasyncCoroutine) acceptor = NULL;
  EchoClient client[ECHO_CLIENTS];
  Echo echo = { .listener = listener, .server = server };
  gboolean ok;

  /* Every client connects at once: leave room for all of them. */
  g_socket_listener_set_backlog (listener, ECHO_CLIENTS);
  if (!g_socket_listener_add_address (listener, any_port, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_TCP, NULL, &bound, error))
    return FALSE;
  echo.port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));

  acceptor = g_object_ref (gasync_scope_spawn (server, "echo-server", echo_server, &echo, NULL));
  for (guint i = 0; i < ECHO_CLIENTS; i++)
    {
      client[i] = (EchoClient) { .echo = &echo, .id = i };
      gasync_scope_spawn (clients, "echo-client", echo_client, &client[i], NULL);
    }

  ok = await_scope (clients, error);

  /* Sessions end by themselves once their client has hung up, but the
   * acceptor would wait for connections forever: stop it (or, if a client
   * failed, everything). */
  if (ok)
    gasync_future_cancel (GASYNC_FUTURE (acceptor));
  else
    gasync_scope_cancel (server);
  if (!await_scope (server, ok ? error : NULL) || !ok)
    return FALSE;

  if (echo.accepted != ECHO_CLIENTS || echo.echoes != ECHO_CLIENTS * ECHO_MESSAGES)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%u connections, %u echoes",
                   echo.accepted, echo.echoes);
      return FALSE;
    }

  report (tour, "echo", start,
          "%u clients x %u messages on 127.0.0.1:%u: %u/%u echoes checked",
          ECHO_CLIENTS, ECHO_MESSAGES, echo.port, echo.echoes,
          ECHO_CLIENTS * ECHO_MESSAGES);
  return TRUE;
}

/* --- hash: a directory tree, bounded concurrency ----------------------- */

typedef struct
{
  GasyncSemaphore *limit;
  GasyncFuture    *section;   /* reports progress */
  guint            n_files;
  guint            n_done;
  guint            n_unreadable;
  guint64          n_bytes;
} Hashing;

typedef struct
{
  Hashing *hashing;
  GFile   *file;
  char    *path;     /* relative to the root */
  char    *digest;   /* set once hashed */
} HashJob;

static void
hash_job_free (gpointer data)
{
  HashJob *job = data;

  g_object_unref (job->file);
  g_free (job->path);
  g_free (job->digest);
  g_free (job);
}

#define ATTRIBUTES G_FILE_ATTRIBUTE_STANDARD_NAME "," G_FILE_ATTRIBUTE_STANDARD_TYPE

/* Lists the regular files under @root, breadth first and without following
 * symbolic links, until there are @max of them. Unreadable folders are
 * skipped. */
static gboolean
list_files (GFile      *root,
            guint       max,
            Hashing    *hashing,
            GPtrArray  *jobs,
            GError    **error)
{
  g_autoptr(GPtrArray) folders = g_ptr_array_new_with_free_func (g_object_unref);

  g_ptr_array_add (folders, g_object_ref (root));
  for (guint f = 0; f < folders->len && jobs->len < max; f++)
    {
      GFile *folder = g_ptr_array_index (folders, f);
      g_autoptr(GFileEnumerator) children = NULL;
      g_autoptr(GError) local_error = NULL;
      GasyncFuture *listing;

      listing = gasync_file_enumerate_children (folder, ATTRIBUTES,
                                                G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS,
                                                G_PRIORITY_DEFAULT);
      children = gasync_await_object (listing, &local_error);
      if (children == NULL)
        {
          if (f == 0 || g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return FALSE;
            }
          continue;
        }

      while (jobs->len < max)
        {
          g_autoptr(GListModel) batch = NULL;
          guint n;

          batch = gasync_await_object (gasync_file_enumerator_next_files (children, 100,
                                                                          G_PRIORITY_DEFAULT),
                                       error);
          if (batch == NULL)
            return FALSE;
          n = g_list_model_get_n_items (batch);
          if (n == 0)
            break;

          for (guint i = 0; i < n && jobs->len < max; i++)
            {
              g_autoptr(GFileInfo) info = g_list_model_get_item (batch, i);
              GFile *child = g_file_enumerator_get_child (children, info);

              if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
                {
                  g_ptr_array_add (folders, child);
                }
              else if (g_file_info_get_file_type (info) == G_FILE_TYPE_REGULAR)
                {
                  HashJob *job = g_new0 (HashJob, 1);

                  job->hashing = hashing;
                  job->file = child;
                  job->path = g_file_get_relative_path (root, child);
                  g_ptr_array_add (jobs, job);
                }
              else
                {
                  g_object_unref (child);
                }
            }
        }
    }

  return TRUE;
}

/* One coroutine per file; the semaphore lets HASH_CONCURRENCY of them load
 * at a time, however many are waiting. */
static gboolean
hash_file (gpointer   user_data,
           GValue    *result,
           GError   **error)
{
  HashJob *job = user_data;
  Hashing *hashing = job->hashing;
  g_autoptr(GBytes) contents = NULL;
  g_autoptr(GError) local_error = NULL;

  if (!gasync_await (gasync_semaphore_acquire (hashing->limit), error))
    return FALSE;
  contents = gasync_await_boxed (gasync_file_load_bytes (job->file), G_TYPE_BYTES, &local_error);
  gasync_semaphore_release (hashing->limit);

  if (contents == NULL)
    {
      /* Only a cancellation stops the scan; a file we may not read is
       * counted and skipped. */
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      hashing->n_unreadable++;
    }
  else
    {
      job->digest = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, contents);
      hashing->n_bytes += g_bytes_get_size (contents);
    }

  /* Any thread may set a future's progress; notifications are coalesced
   * to one per main-loop iteration. */
  hashing->n_done++;
  gasync_future_set_progress (hashing->section, (double) hashing->n_done / hashing->n_files);
  return TRUE;
}

static void
hash_progress_cb (GasyncFuture *section,
                  GParamSpec   *pspec,
                  gpointer      user_data)
{
  progress (user_data, "hashing... %3.0f%%", 100 * MAX (gasync_future_get_progress (section), 0));
}

static int
compare_paths (gconstpointer a,
               gconstpointer b)
{
  const HashJob *job_a = *(HashJob **) a;
  const HashJob *job_b = *(HashJob **) b;

  return strcmp (job_a->path, job_b->path);
}

static gboolean
hash_section (gpointer   user_data,
              GValue    *result,
              GError   **error)
{
  Tour *tour = user_data;
  gint64 start = g_get_monotonic_time ();
  g_autoptr(GFile) root = g_file_new_for_commandline_arg (tour->dir);
  g_autoptr(GPtrArray) jobs = g_ptr_array_new_with_free_func (hash_job_free);
  g_autoptr(GasyncScope) scope = gasync_scope_new ();
  g_autoptr(GasyncSemaphore) limit = gasync_semaphore_new (HASH_CONCURRENCY);
  g_autoptr(GChecksum) tree = g_checksum_new (G_CHECKSUM_SHA256);
  Hashing hashing = { .limit = limit };
  gulong handler;
  gboolean ok;

  progress (tour, "listing %s...", tour->dir);
  if (!list_files (root, tour->max_files, &hashing, jobs, error))
    return FALSE;

  /* This section's own future carries its progress; a handler draws it. */
  hashing.section = GASYNC_FUTURE (gasync_coroutine_get_current ());
  hashing.n_files = jobs->len;
  handler = g_signal_connect (hashing.section, "notify::progress",
                              G_CALLBACK (hash_progress_cb), tour);

  /* A coroutine per file, all started at once: the semaphore, not the number
   * of coroutines, bounds how many files are open. */
  for (guint i = 0; i < jobs->len; i++)
    gasync_scope_spawn (scope, "hash-file", hash_file, g_ptr_array_index (jobs, i), NULL);
  ok = await_scope (scope, error);
  g_signal_handler_disconnect (hashing.section, handler);
  if (!ok)
    return FALSE;

  /* One digest for the whole tree, from the sorted list of file digests,
   * so that two runs over the same files can be compared. */
  g_ptr_array_sort (jobs, compare_paths);
  for (guint i = 0; i < jobs->len; i++)
    {
      HashJob *job = g_ptr_array_index (jobs, i);
      g_autofree char *line = g_strdup_printf ("%s  %s\n", job->digest ? job->digest : "-",
                                               job->path);

      g_checksum_update (tree, (const guchar *) line, -1);
    }

  report (tour, "hash", start,
          "%u files, %.1f MB from %s, %u at a time%s; tree sha256 %.16s",
          hashing.n_done, hashing.n_bytes / 1e6, tour->dir, HASH_CONCURRENCY,
          hashing.n_unreadable > 0 ? " (some unreadable)" : "", g_checksum_get_string (tree));
  return TRUE;
}

/* --- process: a subprocess awaited -------------------------------------- */

static gboolean
process_section (gpointer   user_data,
                 GValue    *result,
                 GError   **error)
{
  Tour *tour = user_data;
  gint64 start = g_get_monotonic_time ();
  g_autoptr(GSubprocess) uname = NULL;
  g_autoptr(GBytes) output = NULL;
  g_autofree char *text = NULL;

  uname = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, error, "uname", "-a", NULL);
  if (uname == NULL)
    return FALSE;

  output = gasync_await_boxed (gasync_subprocess_communicate (uname, NULL), G_TYPE_BYTES, error);
  if (output == NULL)
    return FALSE;
  if (!g_subprocess_get_successful (uname))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "uname -a failed");
      return FALSE;
    }

  text = g_strstrip (g_strndup (g_bytes_get_data (output, NULL), g_bytes_get_size (output)));
  report (tour, "process", start, "uname -a: %s", text);
  return TRUE;
}

/* --- timeout: a slow operation cut short -------------------------------- */

static gboolean
timeout_section (gpointer   user_data,
                 GValue    *result,
                 GError   **error)
{
  Tour *tour = user_data;
  gint64 start = g_get_monotonic_time ();
  g_autoptr(GSubprocess) sleeper = NULL;
  g_autoptr(GError) local_error = NULL;

  sleeper = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, error, "sleep", "30", NULL);
  if (sleeper == NULL)
    return FALSE;

  /* Like asyncio's wait_for(): after TIMEOUT_MS the wait is cancelled, and
   * cancelling a subprocess wait kills the subprocess. */
  if (gasync_await (gasync_with_timeout (gasync_subprocess_wait (sleeper), TIMEOUT_MS),
                    &local_error))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "`sleep 30` ended early");
      return FALSE;
    }
  if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  /* Reap it, to show that it is gone rather than left running. */
  if (!gasync_await (gasync_subprocess_wait (sleeper), error))
    return FALSE;
  if (!g_subprocess_get_if_signaled (sleeper))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "`sleep 30` was not killed");
      return FALSE;
    }

  report (tour, "timeout", start,
          "`sleep 30` cut after %u ms: timed out, process killed (signal %d)",
          TIMEOUT_MS, g_subprocess_get_term_sig (sleeper));
  return TRUE;
}

/* --- thread: blocking work off the main loop ----------------------------- */

typedef struct
{
  guint64 below;
  int     permille;   /* how far the worker has come; atomic */
} Primes;

/* Runs on a worker thread: plain blocking code, stopping early if the
 * future is cancelled. */
static gboolean
count_primes (GCancellable  *cancellable,
              gpointer       user_data,
              GValue        *result,
              GError       **error)
{
  Primes *job = user_data;
  guint64 count = job->below > 2 ? 1 : 0;

  for (guint64 n = 3; n < job->below; n += 2)
    {
      gboolean prime = TRUE;

      for (guint64 d = 3; d * d <= n && prime; d += 2)
        prime = n % d != 0;
      count += prime;

      if ((n & 0xffff) == 1)
        {
          g_atomic_int_set (&job->permille, (int) (n * 1000 / job->below));
          if (g_cancellable_set_error_if_cancelled (cancellable, error))
            return FALSE;
        }
    }

  g_value_init (result, G_TYPE_UINT64);
  g_value_set_uint64 (result, count);
  return TRUE;
}

typedef struct
{
  Tour   *tour;
  Primes *job;
  guint   beats;
  gint64  max_gap_us;
} Heartbeat;

/* Wakes every 10 ms until cancelled: proof that the main loop is free while
 * the worker counts. It also draws the progress line. */
static gboolean
heartbeat (gpointer   user_data,
           GValue    *result,
           GError   **error)
{
  Heartbeat *beat = user_data;
  gint64 last = g_get_monotonic_time ();

  while (gasync_await (gasync_sleep (10), error))
    {
      gint64 now = g_get_monotonic_time ();

      beat->beats++;
      beat->max_gap_us = MAX (beat->max_gap_us, now - last);
      last = now;
      progress (beat->tour, "counting primes on a worker... %3d%%",
                g_atomic_int_get (&beat->job->permille) / 10);
    }
  return FALSE;
}

static gboolean
thread_section (gpointer   user_data,
                GValue    *result,
                GError   **error)
{
  Tour *tour = user_data;
  gint64 start = g_get_monotonic_time ();
  /* Shared with the worker, which may outlive this section if it is
   * cancelled: reference-counted. */
  g_autoptr(GasyncCoroutine) beating = NULL;
  Primes *job = g_atomic_rc_box_new0 (Primes);
  Heartbeat beat = { .tour = tour, .job = job };
  g_autoptr(GError) local_error = NULL;
  guint64 count;

  job->below = PRIMES_BELOW;
  beating = gasync_coroutine_spawn ("heartbeat", heartbeat, &beat, NULL);

  count = gasync_await_uint64 (gasync_run_in_thread (count_primes, g_atomic_rc_box_acquire (job),
                                                     (GDestroyNotify) g_atomic_rc_box_release),
                               &local_error);

  gasync_future_cancel (GASYNC_FUTURE (beating));
  gasync_await (g_object_ref (GASYNC_FUTURE (beating)), NULL);
  g_atomic_rc_box_release (job);

  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (beat.beats == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the main loop stalled");
      return FALSE;
    }

  report (tour, "thread", start,
          "%" G_GUINT64_FORMAT " primes below %u on a worker thread; main loop live: "
          "%u wake-ups, max gap %.1f ms",
          count, (guint) PRIMES_BELOW, beat.beats, beat.max_gap_us / 1000.0);
  return TRUE;
}

/* --- scope: cancelled mid-flight, nothing leaked ------------------------- */

typedef struct
{
  Tour  *tour;
  guint  steps;       /* how many 10 ms steps this worker needs */
  guint *finished;
  guint *cancelled;
} Worker;

static void
worker_free (gpointer data)
{
  Worker *worker = data;

  worker->tour->workers_freed++;
  g_free (worker);
}

static void
worker_finalized_cb (gpointer  data,
                     GObject  *where_the_object_was)
{
  Tour *tour = data;

  tour->workers_finalized++;
}

static gboolean
worker_body (gpointer   user_data,
             GValue    *result,
             GError   **error)
{
  Worker *worker = user_data;

  for (guint i = 0; i < worker->steps; i++)
    {
      if (!gasync_await (gasync_sleep (10), error))
        {
          (*worker->cancelled)++;
          return FALSE;
        }
    }

  (*worker->finished)++;
  return TRUE;
}

static gboolean
scope_section (gpointer   user_data,
               GValue    *result,
               GError   **error)
{
  Tour *tour = user_data;
  gint64 start = g_get_monotonic_time ();
  g_autoptr(GasyncScope) scope = gasync_scope_new ();
  guint finished = 0, cancelled = 0;

  tour->workers_freed = tour->workers_finalized = 0;

  /* Worker i needs (i + 1) x 10 ms: some finish before the cancellation,
   * most are caught mid-flight. */
  for (guint i = 0; i < SCOPE_WORKERS; i++)
    {
      Worker *worker = g_new0 (Worker, 1);
      GasyncCoroutine *co;

      *worker = (Worker) { tour, i + 1, &finished, &cancelled };
      co = gasync_scope_spawn (scope, "worker", worker_body, worker, worker_free);
      g_object_weak_ref (G_OBJECT (co), worker_finalized_cb, tour);
    }

  if (!gasync_await (gasync_sleep (SCOPE_CANCEL_MS), error))
    {
      gasync_scope_cancel (scope);
      await_scope (scope, NULL);
      return FALSE;
    }

  /* One call cancels every member; the wait settles once all have ended. */
  gasync_scope_cancel (scope);
  if (!await_scope (scope, error))
    return FALSE;
  g_clear_object (&scope);

  /* The coroutines are released on the scheduler's next dispatches. */
  for (guint i = 0; i < 100 && tour->workers_finalized < SCOPE_WORKERS; i++)
    gasync_yield (NULL);

  if (finished + cancelled != SCOPE_WORKERS || cancelled == 0 ||
      tour->workers_finalized != SCOPE_WORKERS || tour->workers_freed != SCOPE_WORKERS)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "%u finished, %u cancelled, %u finalized, %u freed",
                   finished, cancelled, tour->workers_finalized, tour->workers_freed);
      return FALSE;
    }

  report (tour, "scope", start,
          "%u coroutines cancelled at %u ms (%u done, %u mid-flight); "
          "%u/%u finalized, %u leaked",
          SCOPE_WORKERS, SCOPE_CANCEL_MS, finished, cancelled, tour->workers_finalized,
          SCOPE_WORKERS, SCOPE_WORKERS - tour->workers_finalized);
  return TRUE;
}

/* --- the tour ----------------------------------------------------------- */

static const struct
{
  const char          *name;
  GasyncCoroutineFunc  body;
} sections[] = {
  { "echo", echo_section },
  { "hash", hash_section },
  { "process", process_section },
  { "timeout", timeout_section },
  { "thread", thread_section },
  { "scope", scope_section },
};

/* Runs the sections one after the other. Cancelling the tour (Ctrl-C)
 * cancels the section it is awaiting, which cancels whatever that section
 * awaits in turn. */
static gboolean
tour_body (gpointer   user_data,
           GValue    *result,
           GError   **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (sections); i++)
    {
      GasyncCoroutine *section = gasync_coroutine_spawn (sections[i].name, sections[i].body,
                                                         user_data, NULL);

      if (!gasync_await (GASYNC_FUTURE (section), error))
        {
          g_prefix_error (error, "%s: ", sections[i].name);
          return FALSE;
        }
    }
  return TRUE;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) ignored = NULL;   /* the same outcome as error's */
  g_autoptr(GasyncCoroutine) tour_co = NULL;
  g_autoptr(GasyncFuture) interrupt = NULL;
  g_autoptr(GasyncFuture) first = NULL;
  Tour tour = { .max_files = 2000 };
  int max_files = 2000;
  const GOptionEntry entries[] = {
    { "dir", 'd', 0, G_OPTION_ARG_FILENAME, &tour.dir,
      "Folder to hash (default: /usr/share/doc)", "PATH" },
    { "max-files", 'n', 0, G_OPTION_ARG_INT, &max_files,
      "Hash at most N files (default: 2000)", "N" },
    G_OPTION_ENTRY_NULL
  };

  setlocale (LC_ALL, "");

  options = g_option_context_new (NULL);
  g_option_context_set_summary (options,
    "A tour of gasync: a TCP echo server with 50 clients, a folder hashed\n"
    "16 files at a time, a subprocess, a timeout, work on a thread and a\n"
    "scope cancelled mid-flight, as straight-line coroutines on one main\n"
    "loop. Exits 0 when every section passes; Ctrl-C cancels (exit 130).");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (tour.dir == NULL)
    tour.dir = g_strdup ("/usr/share/doc");
  tour.max_files = MAX (max_files, 1);
  tour.tty = isatty (STDOUT_FILENO);
  tour.start_us = g_get_monotonic_time ();

  g_print ("gasync tour: straight-line coroutines on one main loop\n");

  /* Ctrl-C resolves this future, from the main loop rather than inside a
   * signal handler; racing it against the tour cancels the loser. */
  tour_co = gasync_coroutine_spawn ("tour", tour_body, &tour, NULL);
  interrupt = gasync_unix_signal (SIGINT);
  first = gasync_race (g_object_ref (GASYNC_FUTURE (tour_co)), g_object_ref (interrupt), NULL);

  /* Runs the main loop until one of them has settled, then until the tour
   * has unwound: a cancelled coroutine still runs its clean-up code. */
  gasync_future_wait (first, &ignored);
  gasync_future_wait (GASYNC_FUTURE (tour_co), &error);

  if (tour.progress_text != NULL)
    g_print ("\r\033[K");
  g_clear_pointer (&tour.progress_text, g_free);
  g_clear_pointer (&tour.dir, g_free);

  if (gasync_future_get_state (interrupt) == GASYNC_FUTURE_STATE_RESOLVED)
    {
      g_print ("interrupted\n");
      return 130;
    }
  if (error != NULL)
    {
      g_print ("FAILED: %s\n", error->message);
      return 1;
    }

  g_print ("All %u sections passed in %.2f s.\n", (guint) G_N_ELEMENTS (sections),
           (g_get_monotonic_time () - tour.start_us) / 1e6);
  return 0;
}
