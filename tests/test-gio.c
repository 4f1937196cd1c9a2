/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gasync/gasync.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>

#include <glib/gstdio.h>

/* Real parts only: files in a temporary directory, TCP over 127.0.0.1,
 * real subprocesses, a private D-Bus daemon, the system resolver. */

#ifndef WATCHDOG_SECONDS
# if defined(GASYNC_TEST_HAVE_VALGRIND_H) && GASYNC_TEST_HAVE_VALGRIND_H
#  include <valgrind/valgrind.h>
/* Memcheck is slower still: ten times as long under it. */
#  define WATCHDOG_SECONDS (RUNNING_ON_VALGRIND ? 300 : 30)
# else
#  define WATCHDOG_SECONDS 30
# endif
#endif

static gboolean
watchdog_cb (gpointer data)
{
  g_error ("Timed out waiting for %s", (const char *) data);
  return G_SOURCE_REMOVE;
}

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Iterates @context, blocking, until @cond holds; a watchdog turns a lost
 * wake-up into a failure rather than a hang.  GIO completions and gasync
 * deliveries wake the context; a tick every 10 ms re-checks conditions
 * that change without waking it (a worker thread writing to a socket). */
#define ITERATE_UNTIL(context, cond)                                        \
  G_STMT_START {                                                            \
    GSource *watchdog_ = g_timeout_source_new_seconds (WATCHDOG_SECONDS);   \
    GSource *tick_ = g_timeout_source_new (10);                             \
    g_source_set_callback (watchdog_, watchdog_cb, (gpointer) #cond, NULL); \
    g_source_attach (watchdog_, (context));                                 \
    g_source_set_callback (tick_, tick_cb, NULL, NULL);                     \
    g_source_attach (tick_, (context));                                     \
    while (!(cond))                                                         \
      g_main_context_iteration ((context), TRUE);                           \
    g_source_destroy (tick_);                                               \
    g_source_unref (tick_);                                                 \
    g_source_destroy (watchdog_);                                           \
    g_source_unref (watchdog_);                                             \
  } G_STMT_END

static void
run_until_done (GMainContext *context,
                GasyncFuture *future)
{
  ITERATE_UNTIL (context, gasync_future_is_done (future));
}

/* Iterates until nothing is ready, so queued deliveries have run.  After a
 * dispatch that used up its budget the scheduler sits out one iteration,
 * so only two idle iterations in a row mean there is nothing left. */
static void
drain (GMainContext *context)
{
  for (int idle = 0; idle < 2;)
    idle = g_main_context_iteration (context, FALSE) ? 0 : idle + 1;
}

static gboolean
wake_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Lets @context run for @ms milliseconds: for checks that something does
 * *not* happen, never to wait for something to happen. */
static void
run_for (GMainContext *context,
         guint         ms)
{
  gboolean woken = FALSE;
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, wake_cb, &woken, NULL);
  g_source_attach (source, context);
  while (!woken)
    g_main_context_iteration (context, TRUE);
  g_source_unref (source);
}

static void
assert_state (GasyncFuture      *future,
              GasyncFutureState  state)
{
  g_autoptr(GError) error = NULL;

  if (gasync_future_get_state (future) != state &&
      !gasync_future_propagate_error (future, &error))
    g_test_message ("%s: %s", gasync_future_get_name (future), error->message);
  g_assert_cmpint (gasync_future_get_state (future), ==, state);
}

/* A future's error, marking it retrieved. */
static GError *
future_error (GasyncFuture *future)
{
  GError *error = NULL;

  g_assert_false (gasync_future_propagate_error (future, &error));
  g_assert_nonnull (error);
  return error;
}

/* The sockets open in this process, as the "socket:[inode]" targets of
 * /proc/self/fd: unlike a count of descriptors, unaffected by whatever
 * else (a GLib worker, an earlier test's leftovers) opens or closes
 * descriptors meanwhile. */
static GHashTable *
open_sockets (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  GHashTable *sockets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename ("/proc/self/fd", name, NULL);
      g_autofree char *target = g_file_read_link (path, NULL);

      if (target != NULL && g_str_has_prefix (target, "socket:"))
        g_hash_table_add (sockets, g_steal_pointer (&target));
    }
  return sockets;
}

/* The sockets in @now that are not in @before. */
static GPtrArray *
new_sockets (GHashTable *before,
             GHashTable *now)
{
  GPtrArray *added = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, now);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (before, key))
      g_ptr_array_add (added, g_strdup (key));
  return added;
}

static gboolean
has_new_socket (GHashTable *before)
{
  g_autoptr(GHashTable) now = open_sockets ();
  g_autoptr(GPtrArray) added = new_sockets (before, now);

  return added->len > 0;
}

/* Bytes whose pattern does not repeat every 256 bytes, so a shifted or
 * reordered chunk shows. */
static GBytes *
pattern_bytes (gsize size,
               guint seed)
{
  guint8 *data = g_malloc (size);
  guint32 x = seed * 2654435761u + 1;

  for (gsize i = 0; i < size; i++)
    {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      data[i] = x & 0xff;
    }
  return g_bytes_new_take (data, size);
}

/* --- fixture ----------------------------------------------------------- */

typedef struct
{
  GMainContext *context;
  char         *tmpdir;
} Fixture;

static void
rm_rf (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);

  if (dir != NULL)
    {
      const char *name;

      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          rm_rf (child);
        }
      g_dir_close (dir);
    }
  g_remove (path);
}

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture->context = g_main_context_new ();
  g_main_context_push_thread_default (fixture->context);
  fixture->tmpdir = g_dir_make_tmp ("gasync-gio-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  drain (fixture->context);
  rm_rf (fixture->tmpdir);
  g_free (fixture->tmpdir);
  g_main_context_pop_thread_default (fixture->context);
  g_main_context_unref (fixture->context);
}

static GFile *
tmp_file (Fixture    *fixture,
          const char *name)
{
  g_autofree char *path = g_build_filename (fixture->tmpdir, name, NULL);

  return g_file_new_for_path (path);
}

static GFile *
write_tmp_file (Fixture    *fixture,
                const char *name,
                GBytes     *contents)
{
  g_autoptr(GError) error = NULL;
  GFile *file = tmp_file (fixture, name);
  g_autofree char *path = g_file_get_path (file);
  gsize size;
  const char *data = g_bytes_get_data (contents, &size);

  g_file_set_contents (path, data, size, &error);
  g_assert_no_error (error);
  return file;
}

static GBytes *
read_file (GFile *file)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_file_get_path (file);
  char *data = NULL;
  gsize size = 0;

  g_file_get_contents (path, &data, &size, &error);
  g_assert_no_error (error);
  return g_bytes_new_take (data, size);
}

static void
assert_bytes_equal (GBytes *a,
                    GBytes *b)
{
  g_assert_nonnull (a);
  g_assert_nonnull (b);
  g_assert_cmpuint (g_bytes_get_size (a), ==, g_bytes_get_size (b));
  g_assert_true (g_bytes_equal (a, b));
}

/* Collects the progress notifications of a future. */
typedef struct
{
  GArray   *values;
  gboolean  cancel_midway;
} ProgressLog;

static void
progress_cb (GasyncFuture *future,
             GParamSpec   *pspec,
             ProgressLog  *log)
{
  double progress = gasync_future_get_progress (future);

  g_array_append_val (log->values, progress);
  if (log->cancel_midway && progress > 0.0 && progress < 1.0)
    gasync_future_cancel (future);
}

static void
assert_progress_complete (ProgressLog *log)
{
  double last = 0.0;

  g_assert_cmpuint (log->values->len, >, 0);
  for (guint i = 0; i < log->values->len; i++)
    {
      double p = g_array_index (log->values, double, i);

      g_assert_cmpfloat (p, >=, last);
      g_assert_cmpfloat (p, <=, 1.0);
      last = p;
    }
  g_assert_cmpfloat (last, ==, 1.0);
}

/* A TCP connection over 127.0.0.1, both ends made with gasync. */
static GSocketListener *
loopback_listener (GSocketListener *listener,
                   guint16         *port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) effective = NULL;

  if (listener == NULL)
    listener = g_socket_listener_new ();
  g_socket_listener_add_address (listener, address, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &effective, &error);
  g_assert_no_error (error);
  *port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  return listener;
}

static GSocketClient *
loopback_client (void)
{
  GSocketClient *client = g_socket_client_new ();

  /* No proxy look-ups: the test talks to itself. */
  g_socket_client_set_enable_proxy (client, FALSE);
  return client;
}

static char *
loopback_address (guint16 port)
{
  return g_strdup_printf ("127.0.0.1:%u", port);
}

static void
tcp_pair (Fixture            *fixture,
          GSocketConnection **client_end,
          GSocketConnection **server_end)
{
  g_autoptr(GSocketListener) listener = NULL;
  g_autoptr(GSocketClient) client = loopback_client ();
  g_autoptr(GasyncFuture) connecting = NULL;
  g_autoptr(GasyncFuture) accepting = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;
  guint16 port;

  listener = loopback_listener (NULL, &port);
  address = loopback_address (port);
  accepting = gasync_socket_listener_accept (listener);
  connecting = gasync_socket_client_connect_to_host (client, address, 0);
  run_until_done (fixture->context, connecting);
  run_until_done (fixture->context, accepting);

  *client_end = gasync_future_dup_object (connecting, &error);
  g_assert_no_error (error);
  *server_end = gasync_future_dup_object (accepting, &error);
  g_assert_no_error (error);
  g_assert_true (G_IS_SOCKET_CONNECTION (*client_end));
  g_assert_true (G_IS_SOCKET_CONNECTION (*server_end));

  g_socket_listener_close (listener);
}

static GInputStream *
input_of (GSocketConnection *connection)
{
  return g_io_stream_get_input_stream (G_IO_STREAM (connection));
}

static GOutputStream *
output_of (GSocketConnection *connection)
{
  return g_io_stream_get_output_stream (G_IO_STREAM (connection));
}

static void
write_sync (GSocketConnection *connection,
            const char        *text)
{
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all (output_of (connection), text, strlen (text), NULL, NULL, &error);
  g_assert_no_error (error);
}

/* --- the generic adapter ----------------------------------------------- */

static gboolean
finish_query_info (GObject       *source_object,
                   GAsyncResult  *result,
                   GValue        *value,
                   GError       **error)
{
  GFileInfo *info = g_file_query_info_finish (G_FILE (source_object), result, error);

  if (info == NULL)
    return FALSE;

  g_value_init (value, G_TYPE_FILE_INFO);
  g_value_take_object (value, info);
  return TRUE;
}

static void
start_query_info (GFile        *file,
                  GasyncFuture *future)
{
  g_file_query_info_async (file, G_FILE_ATTRIBUTE_STANDARD_SIZE, G_FILE_QUERY_INFO_NONE,
                           G_PRIORITY_DEFAULT, gasync_future_get_cancellable (future),
                           gasync_future_async_ready_cb, g_object_ref (future));
}

typedef struct
{
  GFile  *file;
  goffset size;
} AdapterData;

/* The documented pattern, inside a coroutine: the future resolves with
 * the GAsyncResult and the body finishes the call itself. */
static gboolean
adapter_body (gpointer   user_data,
              GValue    *result,
              GError   **error)
{
  AdapterData *data = user_data;
  GasyncFuture *future = gasync_future_new ();
  g_autoptr(GAsyncResult) async_result = NULL;
  g_autoptr(GFileInfo) info = NULL;

  start_query_info (data->file, future);
  async_result = gasync_await_object (future, error);
  if (async_result == NULL)
    return FALSE;

  info = g_file_query_info_finish (data->file, async_result, error);
  if (info == NULL)
    return FALSE;

  data->size = g_file_info_get_size (info);
  return TRUE;
}

static void
test_adapter_result (Fixture       *fixture,
                     gconstpointer  unused)
{
  g_autoptr(GBytes) contents = pattern_bytes (1234, 1);
  g_autoptr(GFile) file = write_tmp_file (fixture, "a", contents);
  AdapterData data = { file, -1 };
  g_autoptr(GasyncCoroutine) co = NULL;
  g_autoptr(GasyncFuture) future = gasync_future_new ();
  g_autoptr(GObject) result = NULL;
  g_autoptr(GError) error = NULL;

  co = gasync_coroutine_spawn ("adapter", adapter_body, &data, NULL);
  run_until_done (fixture->context, GASYNC_FUTURE (co));
  assert_state (GASYNC_FUTURE (co), GASYNC_FUTURE_STATE_RESOLVED);
  g_assert_cmpint (data.size, ==, 1234);

  /* Outside a coroutine: the future holds the GAsyncResult. */
  start_query_info (file, future);
  run_until_done (fixture->context, future);
  result = gasync_future_dup_object (future, &error);
  g_assert_no_error (error);
  g_assert_true (G_IS_ASYNC_RESULT (result));
  {
    g_autoptr(GFileInfo) info = g_file_query_info_finish (file, G_ASYNC_RESULT (result), &error);

    g_assert_no_error (error);
    g_assert_cmpint (g_file_info_get_size (info), ==, 1234);
  }

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&co));
  g_assert_finalize_object (g_steal_pointer (&future));
}

static void
test_adapter_finish (Fixture       *fixture,
                     gconstpointer  unused)
{
  g_autoptr(GBytes) contents = pattern_bytes (77, 2);
  g_autoptr(GFile) file = write_tmp_file (fixture, "a", contents);
  g_autoptr(GFile) missing = tmp_file (fixture, "missing");
  g_autoptr(GasyncFuture) future = gasync_future_new_for_async (finish_query_info);
  g_autoptr(GasyncFuture) failing = gasync_future_new_for_async (finish_query_info);
  g_autoptr(GFileInfo) info = NULL;
  g_autoptr(GError) error = NULL;

  start_query_info (file, future);
  start_query_info (missing, failing);
  run_until_done (fixture->context, future);
  run_until_done (fixture->context, failing);

  info = gasync_future_dup_object (future, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_file_info_get_size (info), ==, 77);

  /* A GIO error rejects the future unchanged. */
  assert_state (failing, GASYNC_FUTURE_STATE_REJECTED);
  error = future_error (failing);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&future));
  g_assert_finalize_object (g_steal_pointer (&failing));
}

/* A future from new_for_async settles only once the operation reports
 * back; a plain one settles at once and drops the late report. */
static void
test_adapter_cancel (Fixture       *fixture,
                     gconstpointer  unused)
{
  g_autoptr(GSocketConnection) a = NULL;
  g_autoptr(GSocketConnection) b = NULL;
  g_autoptr(GasyncFuture) waiting = gasync_future_new_for_async (NULL);
  g_autoptr(GasyncFuture) plain = gasync_future_new ();
  g_autoptr(GError) error = NULL;
  static char buffer[16];

  tcp_pair (fixture, &a, &b);

  g_input_stream_read_async (input_of (b), buffer, sizeof buffer, G_PRIORITY_DEFAULT,
                             gasync_future_get_cancellable (waiting),
                             gasync_future_async_ready_cb, g_object_ref (waiting));
  drain (fixture->context);
  g_assert_false (gasync_future_is_done (waiting));

  g_assert_true (gasync_future_cancel (waiting));
  /* Requested, but GIO has not reported yet. */
  g_assert_false (gasync_future_is_done (waiting));
  g_assert_true (gasync_future_is_cancel_requested (waiting));
  run_until_done (fixture->context, waiting);
  assert_state (waiting, GASYNC_FUTURE_STATE_CANCELLED);

  /* The stream is free again: the read really ended. */
  g_assert_false (g_input_stream_has_pending (input_of (b)));

  g_input_stream_read_async (input_of (b), buffer, sizeof buffer, G_PRIORITY_DEFAULT,
                             gasync_future_get_cancellable (plain),
                             gasync_future_async_ready_cb, g_object_ref (plain));
  drain (fixture->context);
  g_assert_true (gasync_future_cancel (plain));
  g_assert_true (gasync_future_is_cancelled (plain));
  ITERATE_UNTIL (fixture->context, !g_input_stream_has_pending (input_of (b)));

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&waiting));
  g_assert_finalize_object (g_steal_pointer (&plain));
}

/* --- files ------------------------------------------------------------- */

typedef struct
{
  GFile  *file;
  GBytes *contents;
} LoadData;

static gboolean
load_body (gpointer   user_data,
           GValue    *result,
           GError   **error)
{
  LoadData *data = user_data;

  /* The await takes the wrapper's future: nothing to free. */
  data->contents = gasync_await_boxed (gasync_file_load_bytes (data->file), G_TYPE_BYTES, error);
  return data->contents != NULL;
}

static void
test_file_load_bytes (Fixture       *fixture,
                      gconstpointer  unused)
{
  g_autoptr(GBytes) contents = pattern_bytes (300 * 1000, 3);
  g_autoptr(GFile) file = write_tmp_file (fixture, "load", contents);
  g_autoptr(GFile) missing = tmp_file (fixture, "missing");
  LoadData data = { file, NULL };
  g_autoptr(GasyncCoroutine) co = NULL;
  g_autoptr(GasyncFuture) failing = NULL;
  g_autoptr(GError) error = NULL;

  co = gasync_coroutine_spawn ("load", load_body, &data, NULL);
  run_until_done (fixture->context, GASYNC_FUTURE (co));
  assert_state (GASYNC_FUTURE (co), GASYNC_FUTURE_STATE_RESOLVED);
  assert_bytes_equal (data.contents, contents);
  g_clear_pointer (&data.contents, g_bytes_unref);

  failing = gasync_file_load_bytes (missing);
  g_assert_cmpint (gasync_future_get_value_type (failing), ==, G_TYPE_BYTES);
  run_until_done (fixture->context, failing);
  error = future_error (failing);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&co));
  g_assert_finalize_object (g_steal_pointer (&failing));
}

static void
test_file_load_bytes_cancel (Fixture       *fixture,
                             gconstpointer  unused)
{
  g_autoptr(GBytes) contents = pattern_bytes (32 * 1024 * 1024, 4);
  g_autoptr(GFile) file = write_tmp_file (fixture, "big", contents);
  g_autoptr(GasyncFuture) future = gasync_file_load_bytes (file);

  /* Started: the first read is under way in GIO's worker. */
  g_main_context_iteration (fixture->context, FALSE);
  g_assert_false (gasync_future_is_done (future));
  gasync_future_cancel (future);
  run_until_done (fixture->context, future);
  assert_state (future, GASYNC_FUTURE_STATE_CANCELLED);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&future));
}

static void
test_file_replace_bytes (Fixture       *fixture,
                         gconstpointer  unused)
{
  g_autoptr(GBytes) before = g_bytes_new_static ("before", 6);
  g_autoptr(GBytes) after = pattern_bytes (100 * 1000, 5);
  g_autoptr(GFile) file = write_tmp_file (fixture, "replace", before);
  g_autoptr(GasyncFuture) future = NULL;
  g_autoptr(GasyncFuture) stale = NULL;
  g_autoptr(GBytes) read_back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *etag = NULL;

  future = gasync_file_replace_bytes (file, after, NULL, FALSE, G_FILE_CREATE_NONE);
  run_until_done (fixture->context, future);
  etag = gasync_future_dup_string (future, &error);
  g_assert_no_error (error);
  g_assert_nonnull (etag);
  read_back = read_file (file);
  assert_bytes_equal (read_back, after);

  /* A stale entity tag: GIO's error, unchanged. */
  stale = gasync_file_replace_bytes (file, before, "1:2", FALSE, G_FILE_CREATE_NONE);
  run_until_done (fixture->context, stale);
  error = future_error (stale);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WRONG_ETAG);
  g_clear_pointer (&read_back, g_bytes_unref);
  read_back = read_file (file);
  assert_bytes_equal (read_back, after);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&future));
  g_assert_finalize_object (g_steal_pointer (&stale));
}

/* Whether GIO's temporary file for a replacement exists in @dir. */
static gboolean
has_temp_file (const char *dir_path)
{
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  const char *name;

  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, ".goutputstream-"))
      return TRUE;
  return FALSE;
}

static void
test_file_replace_bytes_cancel (Fixture       *fixture,
                                gconstpointer  unused)
{
  g_autoptr(GBytes) original = pattern_bytes (4096, 6);
  g_autoptr(GBytes) replacement = pattern_bytes (64 * 1024 * 1024, 7);
  g_autoptr(GFile) file = write_tmp_file (fixture, "precious", original);
  g_autoptr(GasyncFuture) future = NULL;
  g_autoptr(GBytes) read_back = NULL;
  g_autoptr(GDir) dir = NULL;

  future = gasync_file_replace_bytes (file, replacement, NULL, FALSE, G_FILE_CREATE_NONE);

  /* Mid-way: GIO has opened its temporary file.  Writing and closing it
   * each need another dispatch, so the replacement cannot be complete. */
  ITERATE_UNTIL (fixture->context, has_temp_file (fixture->tmpdir));
  g_assert_false (gasync_future_is_done (future));
  gasync_future_cancel (future);
  run_until_done (fixture->context, future);
  assert_state (future, GASYNC_FUTURE_STATE_CANCELLED);

  /* GIO's atomicity: the original is intact, the temporary file gone. */
  read_back = read_file (file);
  assert_bytes_equal (read_back, original);
  g_assert_false (has_temp_file (fixture->tmpdir));
  dir = g_dir_open (fixture->tmpdir, 0, NULL);
  g_assert_cmpstr (g_dir_read_name (dir), ==, "precious");
  g_assert_null (g_dir_read_name (dir));

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&future));
}

static void
test_file_query_info (Fixture       *fixture,
                      gconstpointer  unused)
{
  g_autoptr(GBytes) contents = pattern_bytes (4321, 8);
  g_autoptr(GFile) file = write_tmp_file (fixture, "info", contents);
  g_autoptr(GasyncFuture) future = NULL;
  g_autoptr(GasyncFuture) cancelled = NULL;
  g_autoptr(GFileInfo) info = NULL;
  g_autoptr(GError) error = NULL;

  future = gasync_file_query_info (file, "standard::*", G_FILE_QUERY_INFO_NONE,
                                   G_PRIORITY_DEFAULT);
  run_until_done (fixture->context, future);
  info = gasync_future_dup_object (future, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_file_info_get_size (info), ==, 4321);
  g_assert_cmpstr (g_file_info_get_name (info), ==, "info");
  g_assert_cmpint (g_file_info_get_file_type (info), ==, G_FILE_TYPE_REGULAR);

  /* Cancelled while GIO's worker may already run it: it still ends
   * cancelled, as GIO reports. */
  cancelled = gasync_file_query_info (file, "standard::*", G_FILE_QUERY_INFO_NONE,
                                      G_PRIORITY_DEFAULT);
  gasync_future_cancel (cancelled);
  run_until_done (fixture->context, cancelled);
  assert_state (cancelled, GASYNC_FUTURE_STATE_CANCELLED);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&future));
  g_assert_finalize_object (g_steal_pointer (&cancelled));
}

static void
test_file_enumerate (Fixture       *fixture,
                     gconstpointer  unused)
{
  g_autoptr(GFile) dir = g_file_new_for_path (fixture->tmpdir);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GasyncFuture) enumerating = NULL;
  g_autoptr(GFileEnumerator) enumerator = NULL;
  g_autoptr(GError) error = NULL;
  guint batches = 0;

  for (guint i = 0; i < 7; i++)
    {
      g_autofree char *name = g_strdup_printf ("child-%u", i);
      g_autoptr(GBytes) contents = pattern_bytes (i, i);
      g_autoptr(GFile) child = write_tmp_file (fixture, name, contents);
    }

  enumerating = gasync_file_enumerate_children (dir, G_FILE_ATTRIBUTE_STANDARD_NAME,
                                                G_FILE_QUERY_INFO_NONE, G_PRIORITY_DEFAULT);
  run_until_done (fixture->context, enumerating);
  enumerator = gasync_future_dup_object (enumerating, &error);
  g_assert_no_error (error);

  for (;;)
    {
      g_autoptr(GasyncFuture) next = gasync_file_enumerator_next_files (enumerator, 3,
                                                                        G_PRIORITY_DEFAULT);
      g_autoptr(GListModel) infos = NULL;
      guint n;

      run_until_done (fixture->context, next);
      infos = gasync_future_dup_object (next, &error);
      g_assert_no_error (error);
      g_assert_true (G_IS_LIST_MODEL (infos));
      g_assert_true (g_list_model_get_item_type (infos) == G_TYPE_FILE_INFO);
      n = g_list_model_get_n_items (infos);
      g_assert_cmpuint (n, <=, 3);
      if (n == 0)
        break;
      batches++;
      for (guint i = 0; i < n; i++)
        {
          g_autoptr(GFileInfo) info = g_list_model_get_item (infos, i);

          g_assert_true (g_hash_table_add (seen, g_strdup (g_file_info_get_name (info))));
        }
    }

  g_assert_cmpuint (g_hash_table_size (seen), ==, 7);
  g_assert_cmpuint (batches, ==, 3);
  for (guint i = 0; i < 7; i++)
    {
      g_autofree char *name = g_strdup_printf ("child-%u", i);

      g_assert_true (g_hash_table_contains (seen, name));
    }

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&enumerating));
}

static void
test_file_enumerate_cancel (Fixture       *fixture,
                            gconstpointer  unused)
{
  g_autoptr(GFile) dir = g_file_new_for_path (fixture->tmpdir);
  g_autoptr(GasyncFuture) enumerating = NULL;
  g_autoptr(GasyncFuture) cancelled = NULL;
  g_autoptr(GasyncFuture) next = NULL;
  g_autoptr(GFileEnumerator) enumerator = NULL;
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < 200; i++)
    {
      g_autofree char *name = g_strdup_printf ("child-%u", i);
      g_autoptr(GBytes) contents = pattern_bytes (1, i);
      g_autoptr(GFile) child = write_tmp_file (fixture, name, contents);
    }

  cancelled = gasync_file_enumerate_children (dir, "standard::*", G_FILE_QUERY_INFO_NONE,
                                              G_PRIORITY_DEFAULT);
  gasync_future_cancel (cancelled);
  run_until_done (fixture->context, cancelled);
  assert_state (cancelled, GASYNC_FUTURE_STATE_CANCELLED);

  enumerating = gasync_file_enumerate_children (dir, "standard::*", G_FILE_QUERY_INFO_NONE,
                                                G_PRIORITY_DEFAULT);
  run_until_done (fixture->context, enumerating);
  enumerator = gasync_future_dup_object (enumerating, &error);
  g_assert_no_error (error);

  next = gasync_file_enumerator_next_files (enumerator, 200, G_PRIORITY_DEFAULT);
  gasync_future_cancel (next);
  run_until_done (fixture->context, next);
  assert_state (next, GASYNC_FUTURE_STATE_CANCELLED);
  /* The enumerator is free for the next request once the future is done. */
  g_assert_false (g_file_enumerator_has_pending (enumerator));

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&cancelled));
  g_assert_finalize_object (g_steal_pointer (&next));
  g_assert_finalize_object (g_steal_pointer (&enumerating));
}

static void
test_file_make_directory_delete (Fixture       *fixture,
                                 gconstpointer  unused)
{
  g_autoptr(GFile) dir = tmp_file (fixture, "sub");
  g_autoptr(GFile) orphan = tmp_file (fixture, "no/such/parent");
  g_autoptr(GasyncFuture) made = NULL;
  g_autoptr(GasyncFuture) again = NULL;
  g_autoptr(GasyncFuture) orphaned = NULL;
  g_autoptr(GasyncFuture) deleted = NULL;
  g_autoptr(GasyncFuture) missing = NULL;
  g_autoptr(GError) error = NULL;

  made = gasync_file_make_directory (dir, G_PRIORITY_DEFAULT);
  run_until_done (fixture->context, made);
  assert_state (made, GASYNC_FUTURE_STATE_RESOLVED);
  g_assert_false (gasync_future_has_value (made));
  g_assert_cmpint (g_file_query_file_type (dir, G_FILE_QUERY_INFO_NONE, NULL), ==,
                   G_FILE_TYPE_DIRECTORY);

  again = gasync_file_make_directory (dir, G_PRIORITY_DEFAULT);
  run_until_done (fixture->context, again);
  error = future_error (again);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);

  orphaned = gasync_file_make_directory (orphan, G_PRIORITY_DEFAULT);
  run_until_done (fixture->context, orphaned);
  error = future_error (orphaned);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  deleted = gasync_file_delete (dir, G_PRIORITY_DEFAULT);
  run_until_done (fixture->context, deleted);
  assert_state (deleted, GASYNC_FUTURE_STATE_RESOLVED);
  g_assert_false (g_file_query_exists (dir, NULL));

  missing = gasync_file_delete (dir, G_PRIORITY_DEFAULT);
  run_until_done (fixture->context, missing);
  error = future_error (missing);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&made));
  g_assert_finalize_object (g_steal_pointer (&again));
  g_assert_finalize_object (g_steal_pointer (&orphaned));
  g_assert_finalize_object (g_steal_pointer (&deleted));
  g_assert_finalize_object (g_steal_pointer (&missing));
}

/* Making and deleting a directory are single system calls that GIO does
 * not undo: cancelling them while GIO's worker may be running them ends
 * the future cancelled, whether or not the call took effect. */
static void
test_file_make_directory_delete_cancel (Fixture       *fixture,
                                        gconstpointer  unused)
{
  g_autoptr(GFile) dir = tmp_file (fixture, "sub");
  g_autoptr(GasyncFuture) made = NULL;
  g_autoptr(GasyncFuture) deleted = NULL;

  made = gasync_file_make_directory (dir, G_PRIORITY_DEFAULT);
  gasync_future_cancel (made);
  run_until_done (fixture->context, made);
  assert_state (made, GASYNC_FUTURE_STATE_CANCELLED);

  g_assert_true (g_file_make_directory_with_parents (dir, NULL, NULL) ||
                 g_file_query_exists (dir, NULL));
  deleted = gasync_file_delete (dir, G_PRIORITY_DEFAULT);
  gasync_future_cancel (deleted);
  run_until_done (fixture->context, deleted);
  assert_state (deleted, GASYNC_FUTURE_STATE_CANCELLED);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&made));
  g_assert_finalize_object (g_steal_pointer (&deleted));
}

static void
test_file_copy_progress (Fixture       *fixture,
                         gconstpointer  unused)
{
  g_autoptr(GBytes) contents = pattern_bytes (8 * 1024 * 1024, 9);
  g_autoptr(GFile) source = write_tmp_file (fixture, "source", contents);
  g_autoptr(GFile) destination = tmp_file (fixture, "destination");
  g_autoptr(GArray) values = g_array_new (FALSE, FALSE, sizeof (double));
  ProgressLog log = { values, FALSE };
  g_autoptr(GasyncFuture) future = NULL;
  g_autoptr(GasyncFuture) exists = NULL;
  g_autoptr(GBytes) copied = NULL;
  g_autoptr(GError) error = NULL;

  future = gasync_file_copy (source, destination, G_FILE_COPY_NONE, G_PRIORITY_DEFAULT);
  g_assert_cmpfloat (gasync_future_get_progress (future), ==, -1.0);
  g_signal_connect (future, "notify::progress", G_CALLBACK (progress_cb), &log);
  run_until_done (fixture->context, future);
  assert_state (future, GASYNC_FUTURE_STATE_RESOLVED);
  drain (fixture->context);

  assert_progress_complete (&log);
  g_test_message ("copy: %u progress notifications", values->len);
  copied = read_file (destination);
  assert_bytes_equal (copied, contents);

  /* Without G_FILE_COPY_OVERWRITE: GIO's error, unchanged. */
  exists = gasync_file_copy (source, destination, G_FILE_COPY_NONE, G_PRIORITY_DEFAULT);
  run_until_done (fixture->context, exists);
  error = future_error (exists);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&future));
  g_assert_finalize_object (g_steal_pointer (&exists));
}

static goffset
file_size (GFile *file)
{
  g_autoptr(GFileInfo) info = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_SIZE,
                                                 G_FILE_QUERY_INFO_NONE, NULL, NULL);

  return info != NULL ? g_file_info_get_size (info) : -1;
}

static void
test_file_copy_cancel (Fixture       *fixture,
                       gconstpointer  unused)
{
  const gsize size = 128 * 1024 * 1024;
  g_autoptr(GBytes) contents = pattern_bytes (size, 10);
  g_autoptr(GFile) source = write_tmp_file (fixture, "source", contents);
  g_autoptr(GFile) destination = tmp_file (fixture, "destination");
  g_autoptr(GArray) values = g_array_new (FALSE, FALSE, sizeof (double));
  ProgressLog log = { values, TRUE };
  g_autoptr(GasyncFuture) future = NULL;
  goffset copied;

  g_clear_pointer (&contents, g_bytes_unref);

  /* Cancelled from its first progress report strictly between 0 and 1. */
  future = gasync_file_copy (source, destination, G_FILE_COPY_NONE, G_PRIORITY_DEFAULT);
  g_signal_connect (future, "notify::progress", G_CALLBACK (progress_cb), &log);
  run_until_done (fixture->context, future);
  assert_state (future, GASYNC_FUTURE_STATE_CANCELLED);

  /* The copy stopped short, and stays stopped. */
  copied = file_size (destination);
  g_test_message ("copy cancelled after %" G_GOFFSET_FORMAT " of %" G_GSIZE_FORMAT " bytes",
                  copied, size);
  g_assert_cmpint (copied, <, (goffset) size);
  run_for (fixture->context, 100);
  g_assert_cmpint (file_size (destination), ==, copied);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&future));
}

/* --- streams ----------------------------------------------------------- */

static void
test_stream_read_bytes (Fixture       *fixture,
                        gconstpointer  unused)
{
  g_autoptr(GSocketConnection) a = NULL;
  g_autoptr(GSocketConnection) b = NULL;
  g_autoptr(GasyncFuture) first = NULL;
  g_autoptr(GasyncFuture) at_end = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;

  tcp_pair (fixture, &a, &b);
  write_sync (a, "hello");

  first = gasync_input_stream_read_bytes (input_of (b), 100, G_PRIORITY_DEFAULT);
  run_until_done (fixture->context, first);
  bytes = gasync_future_dup_boxed (first, G_TYPE_BYTES, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "hello", 5);
  g_clear_pointer (&bytes, g_bytes_unref);

  /* The end of the stream is an empty GBytes. */
  g_io_stream_close (G_IO_STREAM (a), NULL, &error);
  g_assert_no_error (error);
  at_end = gasync_input_stream_read_bytes (input_of (b), 100, G_PRIORITY_DEFAULT);
  run_until_done (fixture->context, at_end);
  bytes = gasync_future_dup_boxed (at_end, G_TYPE_BYTES, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, 0);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&first));
  g_assert_finalize_object (g_steal_pointer (&at_end));
}

static void
test_stream_read_bytes_cancel (Fixture       *fixture,
                               gconstpointer  unused)
{
  g_autoptr(GSocketConnection) a = NULL;
  g_autoptr(GSocketConnection) b = NULL;
  g_autoptr(GasyncFuture) waiting = NULL;
  g_autoptr(GasyncFuture) next = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;

  tcp_pair (fixture, &a, &b);

  waiting = gasync_input_stream_read_bytes (input_of (b), 100, G_PRIORITY_DEFAULT);
  run_for (fixture->context, 20);
  g_assert_false (gasync_future_is_done (waiting));
  gasync_future_cancel (waiting);
  run_until_done (fixture->context, waiting);
  assert_state (waiting, GASYNC_FUTURE_STATE_CANCELLED);

  /* The cancelled read took nothing: the next one gets all the data. */
  write_sync (a, "after");
  next = gasync_input_stream_read_bytes (input_of (b), 100, G_PRIORITY_DEFAULT);
  run_until_done (fixture->context, next);
  bytes = gasync_future_dup_boxed (next, G_TYPE_BYTES, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "after", 5);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&waiting));
  g_assert_finalize_object (g_steal_pointer (&next));
}

static void
test_stream_read_all (Fixture       *fixture,
                      gconstpointer  unused)
{
  const gsize size = 4 * 1024 * 1024 + 17;
  g_autoptr(GBytes) contents = pattern_bytes (size, 11);
  g_autoptr(GFile) file = write_tmp_file (fixture, "read", contents);
  g_autoptr(GArray) values = g_array_new (FALSE, FALSE, sizeof (double));
  ProgressLog log = { values, FALSE };
  g_autoptr(GFileInputStream) stream = NULL;
  g_autoptr(GasyncFuture) sized = NULL;
  g_autoptr(GasyncFuture) rest = NULL;
  g_autoptr(GasyncFuture) short_read = NULL;
  g_autoptr(GasyncFuture) to_end = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GBytes) expected = NULL;
  g_autoptr(GError) error = NULL;

  /* A known size: progress goes up to 1.0. */
  stream = g_file_read (file, NULL, &error);
  g_assert_no_error (error);
  sized = gasync_input_stream_read_all (G_INPUT_STREAM (stream), size - 1000, G_PRIORITY_DEFAULT);
  g_signal_connect (sized, "notify::progress", G_CALLBACK (progress_cb), &log);
  run_until_done (fixture->context, sized);
  drain (fixture->context);
  assert_progress_complete (&log);
  g_assert_cmpuint (values->len, >, 1);
  g_test_message ("read-all: %u progress notifications", values->len);
  bytes = gasync_future_dup_boxed (sized, G_TYPE_BYTES, &error);
  g_assert_no_error (error);
  expected = g_bytes_new_from_bytes (contents, 0, size - 1000);
  assert_bytes_equal (bytes, expected);
  g_clear_pointer (&bytes, g_bytes_unref);
  g_clear_pointer (&expected, g_bytes_unref);

  /* Asking for more than is left gives what is left. */
  rest = gasync_input_stream_read_all (G_INPUT_STREAM (stream), 5000, G_PRIORITY_DEFAULT);
  run_until_done (fixture->context, rest);
  bytes = gasync_future_dup_boxed (rest, G_TYPE_BYTES, &error);
  g_assert_no_error (error);
  expected = g_bytes_new_from_bytes (contents, size - 1000, 1000);
  assert_bytes_equal (bytes, expected);
  g_clear_pointer (&bytes, g_bytes_unref);
  g_clear_object (&stream);

  /* Zero bytes is an empty GBytes. */
  stream = g_file_read (file, NULL, &error);
  g_assert_no_error (error);
  short_read = gasync_input_stream_read_all (G_INPUT_STREAM (stream), 0, G_PRIORITY_DEFAULT);
  run_until_done (fixture->context, short_read);
  bytes = gasync_future_dup_boxed (short_read, G_TYPE_BYTES, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, 0);
  g_clear_pointer (&bytes, g_bytes_unref);

  /* -1 reads to the end. */
  to_end = gasync_input_stream_read_all (G_INPUT_STREAM (stream), -1, G_PRIORITY_DEFAULT);
  run_until_done (fixture->context, to_end);
  bytes = gasync_future_dup_boxed (to_end, G_TYPE_BYTES, &error);
  g_assert_no_error (error);
  assert_bytes_equal (bytes, contents);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&sized));
  g_assert_finalize_object (g_steal_pointer (&rest));
  g_assert_finalize_object (g_steal_pointer (&short_read));
  g_assert_finalize_object (g_steal_pointer (&to_end));
}

static void
test_stream_read_all_cancel (Fixture       *fixture,
                             gconstpointer  unused)
{
  g_autoptr(GSocketConnection) a = NULL;
  g_autoptr(GSocketConnection) b = NULL;
  g_autoptr(GasyncFuture) reading = NULL;
  g_autoptr(GasyncFuture) next = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;

  tcp_pair (fixture, &a, &b);

  /* Mid-way: 10 of 100 bytes arrived. */
  reading = gasync_input_stream_read_all (input_of (b), 100, G_PRIORITY_DEFAULT);
  write_sync (a, "0123456789");
  ITERATE_UNTIL (fixture->context, gasync_future_get_progress (reading) >= 0.1);
  g_assert_cmpfloat (gasync_future_get_progress (reading), ==, 0.1);
  gasync_future_cancel (reading);
  run_until_done (fixture->context, reading);
  assert_state (reading, GASYNC_FUTURE_STATE_CANCELLED);

  /* It stopped reading: the next bytes go to the next read. */
  write_sync (a, "abcdefghij");
  next = gasync_input_stream_read_all (input_of (b), 10, G_PRIORITY_DEFAULT);
  run_until_done (fixture->context, next);
  bytes = gasync_future_dup_boxed (next, G_TYPE_BYTES, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "abcdefghij", 10);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&reading));
  g_assert_finalize_object (g_steal_pointer (&next));
}

static void
test_stream_write_all (Fixture       *fixture,
                       gconstpointer  unused)
{
  const gsize size = 3 * 1024 * 1024;
  g_autoptr(GBytes) contents = pattern_bytes (size, 12);
  g_autoptr(GSocketConnection) a = NULL;
  g_autoptr(GSocketConnection) b = NULL;
  g_autoptr(GArray) values = g_array_new (FALSE, FALSE, sizeof (double));
  ProgressLog log = { values, FALSE };
  g_autoptr(GasyncFuture) writing = NULL;
  g_autoptr(GasyncFuture) reading = NULL;
  g_autoptr(GasyncFuture) empty = NULL;
  g_autoptr(GBytes) received = NULL;
  g_autoptr(GBytes) nothing = g_bytes_new (NULL, 0);
  g_autoptr(GError) error = NULL;

  tcp_pair (fixture, &a, &b);

  /* Both directions run at once on one context. */
  writing = gasync_output_stream_write_all (output_of (a), contents, G_PRIORITY_DEFAULT);
  g_signal_connect (writing, "notify::progress", G_CALLBACK (progress_cb), &log);
  reading = gasync_input_stream_read_all (input_of (b), size, G_PRIORITY_DEFAULT);
  run_until_done (fixture->context, writing);
  run_until_done (fixture->context, reading);
  drain (fixture->context);

  assert_state (writing, GASYNC_FUTURE_STATE_RESOLVED);
  assert_progress_complete (&log);
  received = gasync_future_dup_boxed (reading, G_TYPE_BYTES, &error);
  g_assert_no_error (error);
  assert_bytes_equal (received, contents);

  empty = gasync_output_stream_write_all (output_of (a), nothing, G_PRIORITY_DEFAULT);
  run_until_done (fixture->context, empty);
  assert_state (empty, GASYNC_FUTURE_STATE_RESOLVED);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&writing));
  g_assert_finalize_object (g_steal_pointer (&reading));
  g_assert_finalize_object (g_steal_pointer (&empty));
}

static void
test_stream_write_all_cancel (Fixture       *fixture,
                              gconstpointer  unused)
{
  const gsize size = 64 * 1024 * 1024;
  g_autoptr(GBytes) contents = pattern_bytes (size, 13);
  g_autoptr(GSocketConnection) a = NULL;
  g_autoptr(GSocketConnection) b = NULL;
  g_autoptr(GasyncFuture) writing = NULL;
  g_autoptr(GasyncFuture) draining = NULL;
  g_autoptr(GBytes) received = NULL;
  g_autoptr(GError) error = NULL;
  double progress;

  tcp_pair (fixture, &a, &b);

  /* Nobody reads: the write fills the socket buffers and blocks. */
  writing = gasync_output_stream_write_all (output_of (a), contents, G_PRIORITY_DEFAULT);
  ITERATE_UNTIL (fixture->context, gasync_future_get_progress (writing) > 0.0);
  run_for (fixture->context, 20);
  progress = gasync_future_get_progress (writing);
  g_assert_false (gasync_future_is_done (writing));
  g_assert_cmpfloat (progress, <, 1.0);
  gasync_future_cancel (writing);
  run_until_done (fixture->context, writing);
  assert_state (writing, GASYNC_FUTURE_STATE_CANCELLED);
  g_assert_false (g_output_stream_has_pending (output_of (a)));

  /* Nothing more is written: the peer gets less than all of it. */
  g_io_stream_close (G_IO_STREAM (a), NULL, &error);
  g_assert_no_error (error);
  draining = gasync_input_stream_read_all (input_of (b), -1, G_PRIORITY_DEFAULT);
  run_until_done (fixture->context, draining);
  received = gasync_future_dup_boxed (draining, G_TYPE_BYTES, &error);
  g_assert_no_error (error);
  g_test_message ("write-all cancelled at %.3f, %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
                  " bytes delivered", progress, g_bytes_get_size (received), size);
  g_assert_cmpuint (g_bytes_get_size (received), <, size);
  g_assert_cmpmem (g_bytes_get_data (received, NULL), g_bytes_get_size (received),
                   g_bytes_get_data (contents, NULL), g_bytes_get_size (received));

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&writing));
  g_assert_finalize_object (g_steal_pointer (&draining));
}

static void
test_stream_splice (Fixture       *fixture,
                    gconstpointer  unused)
{
  const gsize size = 2 * 1024 * 1024 + 3;
  g_autoptr(GBytes) contents = pattern_bytes (size, 14);
  g_autoptr(GFile) file = write_tmp_file (fixture, "splice", contents);
  g_autoptr(GArray) values = g_array_new (FALSE, FALSE, sizeof (double));
  ProgressLog log = { values, FALSE };
  g_autoptr(GFileInputStream) source = NULL;
  g_autoptr(GOutputStream) target = NULL;
  g_autoptr(GasyncFuture) spliced = NULL;
  g_autoptr(GasyncFuture) rest = NULL;
  g_autoptr(GBytes) copied = NULL;
  g_autoptr(GBytes) expected = NULL;
  g_autoptr(GError) error = NULL;

  /* A length: exactly that many bytes, with progress. */
  source = g_file_read (file, NULL, &error);
  g_assert_no_error (error);
  target = g_memory_output_stream_new_resizable ();
  spliced = gasync_output_stream_splice (target, G_INPUT_STREAM (source),
                                         G_OUTPUT_STREAM_SPLICE_NONE, size - 3,
                                         G_PRIORITY_DEFAULT);
  g_signal_connect (spliced, "notify::progress", G_CALLBACK (progress_cb), &log);
  run_until_done (fixture->context, spliced);
  drain (fixture->context);
  g_assert_cmpint (gasync_future_get_int64 (spliced, &error), ==, size - 3);
  g_assert_no_error (error);
  assert_progress_complete (&log);
  g_assert_false (g_input_stream_is_closed (G_INPUT_STREAM (source)));
  g_assert_false (g_output_stream_is_closed (target));

  /* -1: up to the end, closing both as the flags say. */
  rest = gasync_output_stream_splice (target, G_INPUT_STREAM (source),
                                      G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE |
                                      G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                                      -1, G_PRIORITY_DEFAULT);
  run_until_done (fixture->context, rest);
  g_assert_cmpint (gasync_future_get_int64 (rest, &error), ==, 3);
  g_assert_no_error (error);
  g_assert_true (g_input_stream_is_closed (G_INPUT_STREAM (source)));
  g_assert_true (g_output_stream_is_closed (target));

  copied = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (target));
  assert_bytes_equal (copied, contents);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&spliced));
  g_assert_finalize_object (g_steal_pointer (&rest));
}

static void
test_stream_splice_cancel (Fixture       *fixture,
                           gconstpointer  unused)
{
  g_autoptr(GSocketConnection) a = NULL;
  g_autoptr(GSocketConnection) b = NULL;
  g_autoptr(GOutputStream) target = g_memory_output_stream_new_resizable ();
  g_autoptr(GasyncFuture) spliced = NULL;
  g_autoptr(GasyncFuture) next = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  GMemoryOutputStream *memory = G_MEMORY_OUTPUT_STREAM (target);

  tcp_pair (fixture, &a, &b);

  /* Mid-way: some data went through, the source stays open. */
  spliced = gasync_output_stream_splice (target, input_of (b),
                                         G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, 1000,
                                         G_PRIORITY_DEFAULT);
  write_sync (a, "first part");
  ITERATE_UNTIL (fixture->context, g_memory_output_stream_get_data_size (memory) == 10);
  g_assert_false (gasync_future_is_done (spliced));
  gasync_future_cancel (spliced);
  run_until_done (fixture->context, spliced);
  assert_state (spliced, GASYNC_FUTURE_STATE_CANCELLED);

  /* The target was closed, as the flags say, even though cancelled. */
  g_assert_true (g_output_stream_is_closed (target));
  g_assert_cmpmem (g_memory_output_stream_get_data (memory), 10, "first part", 10);

  /* The splice stopped reading the source. */
  write_sync (a, "second");
  next = gasync_input_stream_read_all (input_of (b), 6, G_PRIORITY_DEFAULT);
  run_until_done (fixture->context, next);
  bytes = gasync_future_dup_boxed (next, G_TYPE_BYTES, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "second", 6);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&spliced));
  g_assert_finalize_object (g_steal_pointer (&next));
}

static void
test_stream_close (Fixture       *fixture,
                   gconstpointer  unused)
{
  g_autoptr(GSocketConnection) a = NULL;
  g_autoptr(GSocketConnection) b = NULL;
  g_autoptr(GBytes) contents = pattern_bytes (10, 15);
  g_autoptr(GFile) file = write_tmp_file (fixture, "close", contents);
  g_autoptr(GFileInputStream) input = NULL;
  g_autoptr(GFileOutputStream) output = NULL;
  g_autoptr(GasyncFuture) closed_input = NULL;
  g_autoptr(GasyncFuture) closed_output = NULL;
  g_autoptr(GasyncFuture) closed_io = NULL;
  g_autoptr(GasyncFuture) at_end = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;

  input = g_file_read (file, NULL, &error);
  g_assert_no_error (error);
  closed_input = gasync_stream_close (input, G_PRIORITY_DEFAULT);

  output = g_file_append_to (file, G_FILE_CREATE_NONE, NULL, &error);
  g_assert_no_error (error);
  closed_output = gasync_stream_close (output, G_PRIORITY_DEFAULT);

  tcp_pair (fixture, &a, &b);
  closed_io = gasync_stream_close (a, G_PRIORITY_DEFAULT);

  run_until_done (fixture->context, closed_input);
  run_until_done (fixture->context, closed_output);
  run_until_done (fixture->context, closed_io);
  assert_state (closed_input, GASYNC_FUTURE_STATE_RESOLVED);
  assert_state (closed_output, GASYNC_FUTURE_STATE_RESOLVED);
  assert_state (closed_io, GASYNC_FUTURE_STATE_RESOLVED);
  g_assert_true (g_input_stream_is_closed (G_INPUT_STREAM (input)));
  g_assert_true (g_output_stream_is_closed (G_OUTPUT_STREAM (output)));
  g_assert_true (g_io_stream_is_closed (G_IO_STREAM (a)));

  /* The peer sees the end of the stream. */
  at_end = gasync_input_stream_read_bytes (input_of (b), 10, G_PRIORITY_DEFAULT);
  run_until_done (fixture->context, at_end);
  bytes = gasync_future_dup_boxed (at_end, G_TYPE_BYTES, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, 0);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&closed_input));
  g_assert_finalize_object (g_steal_pointer (&closed_output));
  g_assert_finalize_object (g_steal_pointer (&closed_io));
  g_assert_finalize_object (g_steal_pointer (&at_end));
}

/* Closing a buffered stream flushes it; with a peer that does not read,
 * the flush blocks, and cancelling ends it. */
static void
test_stream_close_cancel (Fixture       *fixture,
                          gconstpointer  unused)
{
  const gsize size = 32 * 1024 * 1024;
  g_autoptr(GBytes) contents = pattern_bytes (size, 16);
  g_autoptr(GSocketConnection) a = NULL;
  g_autoptr(GSocketConnection) b = NULL;
  g_autoptr(GOutputStream) buffered = NULL;
  g_autoptr(GasyncFuture) closing = NULL;
  g_autoptr(GasyncFuture) draining = NULL;
  g_autoptr(GBytes) received = NULL;
  g_autoptr(GError) error = NULL;
  GSocket *peer;

  tcp_pair (fixture, &a, &b);
  peer = g_socket_connection_get_socket (b);

  buffered = g_buffered_output_stream_new_sized (output_of (a), size + 1);
  g_output_stream_write_all (buffered, g_bytes_get_data (contents, NULL), size,
                             NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (g_socket_condition_check (peer, G_IO_IN) & G_IO_IN);

  /* Mid-way: the flush has started sending. */
  closing = gasync_stream_close (buffered, G_PRIORITY_DEFAULT);
  ITERATE_UNTIL (fixture->context, (g_socket_condition_check (peer, G_IO_IN) & G_IO_IN) != 0);
  run_for (fixture->context, 20);
  g_assert_false (gasync_future_is_done (closing));
  gasync_future_cancel (closing);
  run_until_done (fixture->context, closing);
  assert_state (closing, GASYNC_FUTURE_STATE_CANCELLED);
  /* GIO closes the stream even when the close is cancelled. */
  g_assert_true (g_output_stream_is_closed (buffered));

  g_io_stream_close (G_IO_STREAM (a), NULL, &error);
  g_assert_no_error (error);
  draining = gasync_input_stream_read_all (input_of (b), -1, G_PRIORITY_DEFAULT);
  run_until_done (fixture->context, draining);
  received = gasync_future_dup_boxed (draining, G_TYPE_BYTES, &error);
  g_assert_no_error (error);
  g_test_message ("close cancelled after %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes",
                  g_bytes_get_size (received), size);
  g_assert_cmpuint (g_bytes_get_size (received), <, size);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&closing));
  g_assert_finalize_object (g_steal_pointer (&draining));
}

/* --- sockets ----------------------------------------------------------- */

static void
test_socket_connect_accept (Fixture       *fixture,
                            gconstpointer  unused)
{
  g_autoptr(GSocketService) service = g_socket_service_new ();
  g_autoptr(GSocketClient) client = loopback_client ();
  g_autoptr(GasyncFuture) accepting = NULL;
  g_autoptr(GasyncFuture) connecting = NULL;
  g_autoptr(GasyncFuture) refused = NULL;
  g_autoptr(GSocketConnection) server_end = NULL;
  g_autoptr(GSocketConnection) client_end = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;
  g_autofree char *closed_address = NULL;
  guint16 port;

  /* A socket service that is not active hands its connections to
   * gasync_socket_listener_accept(). */
  g_socket_service_stop (service);
  loopback_listener (G_SOCKET_LISTENER (service), &port);
  address = loopback_address (port);

  accepting = gasync_socket_listener_accept (G_SOCKET_LISTENER (service));
  g_assert_cmpint (gasync_future_get_value_type (accepting), ==, G_TYPE_SOCKET_CONNECTION);
  connecting = gasync_socket_client_connect_to_host (client, address, 0);
  run_until_done (fixture->context, accepting);
  run_until_done (fixture->context, connecting);
  server_end = gasync_future_dup_object (accepting, &error);
  g_assert_no_error (error);
  client_end = gasync_future_dup_object (connecting, &error);
  g_assert_no_error (error);
  g_assert_true (G_IS_TCP_CONNECTION (server_end));
  g_assert_true (G_IS_TCP_CONNECTION (client_end));
  g_socket_listener_close (G_SOCKET_LISTENER (service));

  /* Nobody listens there any more: GIO's error, unchanged. */
  closed_address = loopback_address (port);
  g_clear_object (&server_end);
  refused = gasync_socket_client_connect_to_host (client, closed_address, 0);
  run_until_done (fixture->context, refused);
  error = future_error (refused);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&accepting));
  g_assert_finalize_object (g_steal_pointer (&connecting));
  g_assert_finalize_object (g_steal_pointer (&refused));
}

static void
test_socket_connect_cancel (Fixture       *fixture,
                            gconstpointer  unused)
{
  g_autoptr(GSocket) server = NULL;
  g_autoptr(GSocket) filler = NULL;
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketClient) client = loopback_client ();
  g_autoptr(GasyncFuture) connecting = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;
  g_autoptr(GHashTable) sockets_before = NULL;
  g_autoptr(GHashTable) sockets_connecting = NULL;
  g_autoptr(GHashTable) sockets_after = NULL;
  g_autoptr(GPtrArray) gio_sockets = NULL;

  /* A server that never accepts, with a backlog of 0: once one connection
   * waits in its queue, further connection attempts hang. */
  server = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_set_listen_backlog (server, 0);
  g_socket_bind (server, any_port, TRUE, &error);
  g_assert_no_error (error);
  g_socket_listen (server, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (server, &error);
  g_assert_no_error (error);

  filler = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_connect (filler, bound, NULL, &error);
  g_assert_no_error (error);

  /* Mid-way: GIO made its socket and is waiting for the handshake. */
  sockets_before = open_sockets ();
  address = loopback_address (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  connecting = gasync_socket_client_connect_to_host (client, address, 0);
  ITERATE_UNTIL (fixture->context, has_new_socket (sockets_before));
  run_for (fixture->context, 100);
  g_assert_false (gasync_future_is_done (connecting));
  sockets_connecting = open_sockets ();
  gio_sockets = new_sockets (sockets_before, sockets_connecting);
  g_assert_cmpuint (gio_sockets->len, >, 0);

  gasync_future_cancel (connecting);
  run_until_done (fixture->context, connecting);
  assert_state (connecting, GASYNC_FUTURE_STATE_CANCELLED);

  /* GIO closed the socket it was connecting. */
  drain (fixture->context);
  sockets_after = open_sockets ();
  for (guint i = 0; i < gio_sockets->len; i++)
    g_assert_false (g_hash_table_contains (sockets_after, g_ptr_array_index (gio_sockets, i)));

  g_assert_finalize_object (g_steal_pointer (&connecting));
}

static void
test_socket_accept_cancel (Fixture       *fixture,
                           gconstpointer  unused)
{
  g_autoptr(GSocketListener) listener = NULL;
  g_autoptr(GSocketClient) client = loopback_client ();
  g_autoptr(GasyncFuture) cancelled = NULL;
  g_autoptr(GasyncFuture) accepting = NULL;
  g_autoptr(GasyncFuture) connecting = NULL;
  g_autoptr(GSocketConnection) server_end = NULL;
  g_autoptr(GSocketConnection) client_end = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;
  guint16 port;

  listener = loopback_listener (NULL, &port);
  address = loopback_address (port);

  cancelled = gasync_socket_listener_accept (listener);
  run_for (fixture->context, 20);
  g_assert_false (gasync_future_is_done (cancelled));
  gasync_future_cancel (cancelled);
  run_until_done (fixture->context, cancelled);
  assert_state (cancelled, GASYNC_FUTURE_STATE_CANCELLED);

  /* The cancelled accept stopped waiting: the next connection goes to the
   * next accept, and works. */
  connecting = gasync_socket_client_connect_to_host (client, address, 0);
  run_until_done (fixture->context, connecting);
  client_end = gasync_future_dup_object (connecting, &error);
  g_assert_no_error (error);
  write_sync (client_end, "ping");

  accepting = gasync_socket_listener_accept (listener);
  run_until_done (fixture->context, accepting);
  server_end = gasync_future_dup_object (accepting, &error);
  g_assert_no_error (error);
  g_clear_object (&accepting);
  accepting = gasync_input_stream_read_all (input_of (server_end), 4, G_PRIORITY_DEFAULT);
  run_until_done (fixture->context, accepting);
  bytes = gasync_future_dup_boxed (accepting, G_TYPE_BYTES, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "ping", 4);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&cancelled));
  g_assert_finalize_object (g_steal_pointer (&connecting));
  g_assert_finalize_object (g_steal_pointer (&accepting));
}

/* --- the echo load test ------------------------------------------------ */

#define ECHO_CLIENTS 100
#define ECHO_MESSAGES 100

typedef struct
{
  GSocketListener *listener;
  GPtrArray       *sessions;
  guint16          port;
  guint            accepted;
  guint            messages;
  guint            clients_done;
} EchoServer;

/* One coroutine per accepted connection: echo every chunk back, in order,
 * until the client closes its end. */
static gboolean
echo_session_body (gpointer   user_data,
                   GValue    *result,
                   GError   **error)
{
  GSocketConnection *connection = user_data;

  for (;;)
    {
      g_autoptr(GBytes) chunk = NULL;

      chunk = gasync_await_boxed (gasync_input_stream_read_bytes (input_of (connection), 4096,
                                                                  G_PRIORITY_DEFAULT),
                                  G_TYPE_BYTES, error);
      if (chunk == NULL)
        return FALSE;
      if (g_bytes_get_size (chunk) == 0)
        break;
      if (!gasync_await (gasync_output_stream_write_all (output_of (connection), chunk,
                                                         G_PRIORITY_DEFAULT), error))
        return FALSE;
    }

  return gasync_await (gasync_stream_close (connection, G_PRIORITY_DEFAULT), error);
}

static gboolean
echo_accept_body (gpointer   user_data,
                  GValue    *result,
                  GError   **error)
{
  EchoServer *server = user_data;

  for (;;)
    {
      GSocketConnection *connection;
      GasyncCoroutine *session;

      connection = gasync_await_object (gasync_socket_listener_accept (server->listener), error);
      if (connection == NULL)
        return FALSE;

      server->accepted++;
      session = gasync_coroutine_spawn ("echo-session", echo_session_body,
                                        connection, g_object_unref);
      g_ptr_array_add (server->sessions, session);
    }
}

typedef struct
{
  EchoServer        *server;
  GSocketConnection *connection;
  GString           *expected;
  guint              id;
  guint              checked;
} EchoClient;

/* Reads the echoes as they come, in chunks of any size, and checks them
 * against what was sent, byte for byte and in order. */
static gboolean
echo_reader_body (gpointer   user_data,
                  GValue    *result,
                  GError   **error)
{
  EchoClient *client = user_data;
  gsize offset = 0;

  while (offset < client->expected->len)
    {
      g_autoptr(GBytes) chunk = NULL;
      const char *data;
      gsize size;

      chunk = gasync_await_boxed (gasync_input_stream_read_bytes (input_of (client->connection),
                                                                  4096, G_PRIORITY_DEFAULT),
                                  G_TYPE_BYTES, error);
      if (chunk == NULL)
        return FALSE;
      data = g_bytes_get_data (chunk, &size);
      g_assert_cmpuint (size, >, 0);
      g_assert_cmpuint (offset + size, <=, client->expected->len);
      g_assert_cmpmem (data, size, client->expected->str + offset, size);
      offset += size;
    }

  client->checked = offset;
  return TRUE;
}

static gboolean
echo_client_body (gpointer   user_data,
                  GValue    *result,
                  GError   **error)
{
  EchoClient *client = user_data;
  g_autoptr(GSocketClient) socket_client = loopback_client ();
  g_autoptr(GasyncCoroutine) reader = NULL;
  g_autofree char *address = loopback_address (client->server->port);

  client->connection = gasync_await_object (gasync_socket_client_connect_to_host (socket_client,
                                                                                  address, 0),
                                            error);
  if (client->connection == NULL)
    return FALSE;

  /* Every message this client will send, numbered, in order. */
  client->expected = g_string_new (NULL);
  for (guint i = 0; i < ECHO_MESSAGES; i++)
    g_string_append_printf (client->expected, "client %03u message %05u\n", client->id, i);

  reader = gasync_coroutine_spawn ("echo-reader", echo_reader_body, client, NULL);

  for (guint i = 0; i < ECHO_MESSAGES; i++)
    {
      char *message = g_strdup_printf ("client %03u message %05u\n", client->id, i);
      g_autoptr(GBytes) bytes = g_bytes_new_take (message, strlen (message));

      if (!gasync_await (gasync_output_stream_write_all (output_of (client->connection), bytes,
                                                         G_PRIORITY_DEFAULT), error))
        return FALSE;
      client->server->messages++;
    }

  if (!gasync_await (g_object_ref (GASYNC_FUTURE (reader)), error))
    return FALSE;
  if (!gasync_await (gasync_stream_close (client->connection, G_PRIORITY_DEFAULT), error))
    return FALSE;

  client->server->clients_done++;
  return TRUE;
}

static void
test_socket_echo (Fixture       *fixture,
                  gconstpointer  unused)
{
  EchoServer server = { 0 };
  EchoClient clients[ECHO_CLIENTS] = { { 0 } };
  GasyncCoroutine *client_cos[ECHO_CLIENTS];
  g_autoptr(GasyncCoroutine) acceptor = NULL;
  gint64 start, elapsed;

  /* Every client connects at once: room for all of them in the queue. */
  server.listener = g_socket_listener_new ();
  g_socket_listener_set_backlog (server.listener, ECHO_CLIENTS);
  loopback_listener (server.listener, &server.port);
  server.sessions = g_ptr_array_new_with_free_func (g_object_unref);

  start = g_get_monotonic_time ();
  acceptor = gasync_coroutine_spawn ("echo-accept", echo_accept_body, &server, NULL);
  for (guint i = 0; i < ECHO_CLIENTS; i++)
    {
      clients[i].server = &server;
      clients[i].id = i;
      client_cos[i] = gasync_coroutine_spawn ("echo-client", echo_client_body, &clients[i], NULL);
    }

  for (guint i = 0; i < ECHO_CLIENTS; i++)
    run_until_done (fixture->context, GASYNC_FUTURE (client_cos[i]));
  for (guint i = 0; i < server.sessions->len; i++)
    run_until_done (fixture->context, g_ptr_array_index (server.sessions, i));
  elapsed = g_get_monotonic_time () - start;

  g_test_message ("echo: %u messages (%u bytes) over %u connections in %.3f s",
                  server.messages, ECHO_CLIENTS * clients[0].checked, ECHO_CLIENTS,
                  elapsed / (double) G_USEC_PER_SEC);

  for (guint i = 0; i < ECHO_CLIENTS; i++)
    {
      assert_state (GASYNC_FUTURE (client_cos[i]), GASYNC_FUTURE_STATE_RESOLVED);
      g_assert_cmpuint (clients[i].checked, ==, clients[i].expected->len);
    }
  g_assert_cmpuint (server.messages, ==, ECHO_CLIENTS * ECHO_MESSAGES);
  g_assert_cmpuint (server.clients_done, ==, ECHO_CLIENTS);
  g_assert_cmpuint (server.accepted, ==, ECHO_CLIENTS);
  for (guint i = 0; i < server.sessions->len; i++)
    assert_state (g_ptr_array_index (server.sessions, i), GASYNC_FUTURE_STATE_RESOLVED);

  /* Stop the server: its pending accept ends cancelled. */
  gasync_future_cancel (GASYNC_FUTURE (acceptor));
  run_until_done (fixture->context, GASYNC_FUTURE (acceptor));
  assert_state (GASYNC_FUTURE (acceptor), GASYNC_FUTURE_STATE_CANCELLED);
  drain (fixture->context);

  for (guint i = 0; i < ECHO_CLIENTS; i++)
    {
      g_assert_finalize_object (client_cos[i]);
      g_clear_object (&clients[i].connection);
      if (clients[i].expected != NULL)
        g_string_free (clients[i].expected, TRUE);
    }
  g_ptr_array_unref (server.sessions);
  g_socket_listener_close (server.listener);
  g_object_unref (server.listener);
  g_assert_finalize_object (g_steal_pointer (&acceptor));
}

/* --- subprocesses ------------------------------------------------------ */

static GSubprocess *
spawn (GSubprocessFlags   flags,
       const char        *first,
       ...) G_GNUC_NULL_TERMINATED;

static GSubprocess *
spawn (GSubprocessFlags  flags,
       const char       *first,
       ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  GSubprocess *subprocess;
  const char *arg;
  va_list args;

  va_start (args, first);
  for (arg = first; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (char *) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  subprocess = g_subprocess_newv ((const char * const *) argv->pdata, flags, &error);
  g_assert_no_error (error);
  return subprocess;
}

static GPid
pid_of (GSubprocess *subprocess)
{
  const char *identifier = g_subprocess_get_identifier (subprocess);

  g_assert_nonnull (identifier);
  return (GPid) g_ascii_strtoll (identifier, NULL, 10);
}

/* The child was killed and reaped: no such process any more. */
static void
assert_killed (GSubprocess *subprocess,
               GPid         pid)
{
  g_assert_true (g_subprocess_get_if_signaled (subprocess));
  g_assert_cmpint (g_subprocess_get_term_sig (subprocess), ==, SIGKILL);
  g_assert_null (g_subprocess_get_identifier (subprocess));
  g_assert_cmpint (kill (pid, 0), ==, -1);
  g_assert_cmpint (errno, ==, ESRCH);
}

static void
test_subprocess_wait (Fixture       *fixture,
                      gconstpointer  unused)
{
  g_autoptr(GSubprocess) succeeding = spawn (G_SUBPROCESS_FLAGS_NONE, "true", NULL);
  g_autoptr(GSubprocess) failing = spawn (G_SUBPROCESS_FLAGS_NONE, "false", NULL);
  g_autoptr(GSubprocess) failing_checked = spawn (G_SUBPROCESS_FLAGS_NONE, "false", NULL);
  g_autoptr(GSubprocess) succeeding_checked = spawn (G_SUBPROCESS_FLAGS_NONE, "true", NULL);
  g_autoptr(GasyncFuture) waited = gasync_subprocess_wait (succeeding);
  g_autoptr(GasyncFuture) waited_failing = gasync_subprocess_wait (failing);
  g_autoptr(GasyncFuture) checked = gasync_subprocess_wait_check (succeeding_checked);
  g_autoptr(GasyncFuture) checked_failing = gasync_subprocess_wait_check (failing_checked);
  g_autoptr(GError) error = NULL;

  run_until_done (fixture->context, waited);
  run_until_done (fixture->context, waited_failing);
  run_until_done (fixture->context, checked);
  run_until_done (fixture->context, checked_failing);

  /* wait() resolves whatever the exit status; wait_check() checks it. */
  assert_state (waited, GASYNC_FUTURE_STATE_RESOLVED);
  g_assert_true (g_subprocess_get_successful (succeeding));
  assert_state (waited_failing, GASYNC_FUTURE_STATE_RESOLVED);
  g_assert_cmpint (g_subprocess_get_exit_status (failing), ==, 1);
  assert_state (checked, GASYNC_FUTURE_STATE_RESOLVED);
  error = future_error (checked_failing);
  g_assert_error (error, G_SPAWN_EXIT_ERROR, 1);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&waited));
  g_assert_finalize_object (g_steal_pointer (&waited_failing));
  g_assert_finalize_object (g_steal_pointer (&checked));
  g_assert_finalize_object (g_steal_pointer (&checked_failing));
}

static void
test_subprocess_wait_cancel (Fixture       *fixture,
                             gconstpointer  data)
{
  gboolean check = GPOINTER_TO_INT (data);
  g_autoptr(GSubprocess) sleeper = spawn (G_SUBPROCESS_FLAGS_NONE, "sleep", "600", NULL);
  g_autoptr(GasyncFuture) waiting = NULL;
  GPid pid = pid_of (sleeper);

  waiting = check ? gasync_subprocess_wait_check (sleeper) : gasync_subprocess_wait (sleeper);
  run_for (fixture->context, 50);
  g_assert_false (gasync_future_is_done (waiting));
  g_assert_cmpint (kill (pid, 0), ==, 0);

  /* GIO's own wait would leave `sleep` running; the wrapper kills it and
   * settles once it is gone. */
  gasync_future_cancel (waiting);
  g_assert_false (gasync_future_is_done (waiting));
  run_until_done (fixture->context, waiting);
  assert_state (waiting, GASYNC_FUTURE_STATE_CANCELLED);
  assert_killed (sleeper, pid);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&waiting));
}

static void
test_subprocess_communicate (Fixture       *fixture,
                             gconstpointer  unused)
{
  g_autoptr(GSubprocess) cat = spawn (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                                      "cat", NULL);
  g_autoptr(GSubprocess) both = spawn (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                       "sh", "-c", "echo out; echo err >&2", NULL);
  g_autoptr(GSubprocess) silent = spawn (G_SUBPROCESS_FLAGS_NONE, "true", NULL);
  g_autoptr(GBytes) input = pattern_bytes (1024 * 1024, 17);
  g_autoptr(GasyncFuture) echoed = NULL;
  g_autoptr(GasyncFuture) out = NULL;
  g_autoptr(GasyncFuture) err = NULL;
  g_autoptr(GasyncFuture) nothing = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;

  echoed = gasync_subprocess_communicate (cat, input);
  out = gasync_subprocess_communicate_full (both, NULL, &err);
  nothing = gasync_subprocess_communicate (silent, NULL);
  run_until_done (fixture->context, echoed);
  run_until_done (fixture->context, out);
  run_until_done (fixture->context, err);
  run_until_done (fixture->context, nothing);

  bytes = gasync_future_dup_boxed (echoed, G_TYPE_BYTES, &error);
  g_assert_no_error (error);
  assert_bytes_equal (bytes, input);
  g_assert_true (g_subprocess_get_successful (cat));
  g_clear_pointer (&bytes, g_bytes_unref);

  bytes = gasync_future_dup_boxed (out, G_TYPE_BYTES, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "out\n", 4);
  g_clear_pointer (&bytes, g_bytes_unref);
  bytes = gasync_future_dup_boxed (err, G_TYPE_BYTES, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "err\n", 4);
  g_clear_pointer (&bytes, g_bytes_unref);

  /* No pipe: a NULL GBytes. */
  assert_state (nothing, GASYNC_FUTURE_STATE_RESOLVED);
  bytes = gasync_future_dup_boxed (nothing, G_TYPE_BYTES, &error);
  g_assert_no_error (error);
  g_assert_null (bytes);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&echoed));
  g_assert_finalize_object (g_steal_pointer (&out));
  g_assert_finalize_object (g_steal_pointer (&err));
  g_assert_finalize_object (g_steal_pointer (&nothing));
}

static void
test_subprocess_communicate_cancel (Fixture       *fixture,
                                    gconstpointer  unused)
{
  g_autoptr(GSubprocess) sleeper = spawn (G_SUBPROCESS_FLAGS_STDOUT_PIPE, "sleep", "600", NULL);
  g_autoptr(GSubprocess) other = spawn (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                        "sleep", "600", NULL);
  g_autoptr(GasyncFuture) communicating = NULL;
  g_autoptr(GasyncFuture) out = NULL;
  g_autoptr(GasyncFuture) err = NULL;
  GPid pid = pid_of (sleeper);
  GPid other_pid = pid_of (other);

  communicating = gasync_subprocess_communicate (sleeper, NULL);
  out = gasync_subprocess_communicate_full (other, NULL, &err);
  run_for (fixture->context, 50);
  g_assert_false (gasync_future_is_done (communicating));
  g_assert_false (gasync_future_is_done (out));

  gasync_future_cancel (communicating);
  run_until_done (fixture->context, communicating);
  assert_state (communicating, GASYNC_FUTURE_STATE_CANCELLED);
  assert_killed (sleeper, pid);

  /* Cancelling the stderr future cancels the whole operation. */
  g_assert_cmpint (kill (other_pid, 0), ==, 0);
  gasync_future_cancel (err);
  run_until_done (fixture->context, out);
  run_until_done (fixture->context, err);
  assert_state (out, GASYNC_FUTURE_STATE_CANCELLED);
  assert_state (err, GASYNC_FUTURE_STATE_CANCELLED);
  assert_killed (other, other_pid);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&communicating));
  g_assert_finalize_object (g_steal_pointer (&out));
  g_assert_finalize_object (g_steal_pointer (&err));
}

/* --- D-Bus ------------------------------------------------------------- */

static const char test_interface_xml[] =
  "<node>"
  "  <interface name='org.gasync.Test'>"
  "    <method name='Echo'>"
  "      <arg type='s' name='text' direction='in'/>"
  "      <arg type='s' name='echo' direction='out'/>"
  "    </method>"
  "    <method name='Fail'/>"
  "    <method name='Hang'/>"
  "  </interface>"
  "</node>";

typedef struct
{
  Fixture                parent;
  GTestDBus             *bus;
  GDBusConnection       *service;
  GDBusConnection       *client;
  GDBusNodeInfo         *node_info;
  guint                  registration;
  /* Calls of Hang(), not answered until the test says so. */
  GPtrArray             *hanging;
} BusFixture;

static void
service_method_call (GDBusConnection       *connection,
                     const char            *sender,
                     const char            *object_path,
                     const char            *interface_name,
                     const char            *method_name,
                     GVariant              *parameters,
                     GDBusMethodInvocation *invocation,
                     gpointer               user_data)
{
  BusFixture *fixture = user_data;

  if (g_str_equal (method_name, "Echo"))
    {
      const char *text;

      g_variant_get (parameters, "(&s)", &text);
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(s)", text));
    }
  else if (g_str_equal (method_name, "Fail"))
    g_dbus_method_invocation_return_dbus_error (invocation, "org.gasync.Test.Error.Failed",
                                                "failed on purpose");
  else
    /* The handler owns @invocation: the array keeps that reference, and
     * whoever answers it later passes a reference of its own. */
    g_ptr_array_add (fixture->hanging, invocation);
}

static const GDBusInterfaceVTable service_vtable = { service_method_call, NULL, NULL, { 0 } };

static GDBusConnection *
bus_connect (BusFixture *fixture)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *connection;

  connection = g_dbus_connection_new_for_address_sync (g_test_dbus_get_bus_address (fixture->bus),
                                                       G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                       G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                       NULL, NULL, &error);
  g_assert_no_error (error);
  return connection;
}

static void
bus_fixture_setup (BusFixture    *fixture,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture_setup (&fixture->parent, data);

  /* A private session bus: its own dbus-daemon, gone at teardown. */
  fixture->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (fixture->bus);

  fixture->hanging = g_ptr_array_new_with_free_func (g_object_unref);
  fixture->node_info = g_dbus_node_info_new_for_xml (test_interface_xml, &error);
  g_assert_no_error (error);
  fixture->service = bus_connect (fixture);
  fixture->client = bus_connect (fixture);
  fixture->registration =
    g_dbus_connection_register_object (fixture->service, "/org/gasync/Test",
                                       fixture->node_info->interfaces[0],
                                       &service_vtable, fixture, NULL, &error);
  g_assert_no_error (error);
}

static void
bus_fixture_teardown (BusFixture    *fixture,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_dbus_connection_unregister_object (fixture->service, fixture->registration);
  g_ptr_array_unref (fixture->hanging);
  g_dbus_connection_close_sync (fixture->client, NULL, &error);
  g_assert_no_error (error);
  g_dbus_connection_close_sync (fixture->service, NULL, &error);
  g_assert_no_error (error);
  drain (fixture->parent.context);
  g_clear_object (&fixture->client);
  g_clear_object (&fixture->service);
  g_dbus_node_info_unref (fixture->node_info);

  g_test_dbus_down (fixture->bus);
  g_clear_object (&fixture->bus);

  fixture_teardown (&fixture->parent, data);
}

static GVariant *
future_variant (GasyncFuture *future)
{
  g_auto(GValue) value = G_VALUE_INIT;
  g_autoptr(GError) error = NULL;

  gasync_future_get_value (future, &value, &error);
  g_assert_no_error (error);
  g_assert_true (G_VALUE_HOLDS_VARIANT (&value));
  return g_value_dup_variant (&value);
}

static void
test_dbus_connection_call (BusFixture    *fixture,
                           gconstpointer  unused)
{
  const char *service = g_dbus_connection_get_unique_name (fixture->service);
  g_autoptr(GasyncFuture) echoed = NULL;
  g_autoptr(GasyncFuture) failed = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *remote = NULL;
  const char *text;

  echoed = gasync_dbus_connection_call (fixture->client, service, "/org/gasync/Test",
                                        "org.gasync.Test", "Echo",
                                        g_variant_new ("(s)", "over the bus"),
                                        G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, -1);
  failed = gasync_dbus_connection_call (fixture->client, service, "/org/gasync/Test",
                                        "org.gasync.Test", "Fail", NULL, NULL,
                                        G_DBUS_CALL_FLAGS_NONE, -1);
  run_until_done (fixture->parent.context, echoed);
  run_until_done (fixture->parent.context, failed);

  reply = future_variant (echoed);
  g_variant_get (reply, "(&s)", &text);
  g_assert_cmpstr (text, ==, "over the bus");

  /* The D-Bus error as GIO reports it. */
  error = future_error (failed);
  g_assert_true (g_dbus_error_is_remote_error (error));
  remote = g_dbus_error_get_remote_error (error);
  g_assert_cmpstr (remote, ==, "org.gasync.Test.Error.Failed");

  drain (fixture->parent.context);
  g_assert_finalize_object (g_steal_pointer (&echoed));
  g_assert_finalize_object (g_steal_pointer (&failed));
}

static GDBusProxy *
test_proxy (BusFixture *fixture)
{
  g_autoptr(GError) error = NULL;
  GDBusProxy *proxy;

  proxy = g_dbus_proxy_new_sync (fixture->client,
                                 G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES |
                                 G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS |
                                 G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START,
                                 fixture->node_info->interfaces[0],
                                 g_dbus_connection_get_unique_name (fixture->service),
                                 "/org/gasync/Test", "org.gasync.Test", NULL, &error);
  g_assert_no_error (error);
  return proxy;
}

static void
test_dbus_proxy_call (BusFixture    *fixture,
                      gconstpointer  unused)
{
  g_autoptr(GDBusProxy) proxy = test_proxy (fixture);
  g_autoptr(GasyncFuture) echoed = NULL;
  g_autoptr(GasyncFuture) failed = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  const char *text;

  echoed = gasync_dbus_proxy_call (proxy, "Echo", g_variant_new ("(s)", "by proxy"),
                                   G_DBUS_CALL_FLAGS_NONE, -1);
  failed = gasync_dbus_proxy_call (proxy, "Fail", NULL, G_DBUS_CALL_FLAGS_NONE, -1);
  run_until_done (fixture->parent.context, echoed);
  run_until_done (fixture->parent.context, failed);

  reply = future_variant (echoed);
  g_variant_get (reply, "(&s)", &text);
  g_assert_cmpstr (text, ==, "by proxy");
  error = future_error (failed);
  g_assert_true (g_dbus_error_is_remote_error (error));

  drain (fixture->parent.context);
  g_assert_finalize_object (g_steal_pointer (&echoed));
  g_assert_finalize_object (g_steal_pointer (&failed));
}

static void
test_dbus_call_cancel (BusFixture    *fixture,
                       gconstpointer  unused)
{
  const char *service = g_dbus_connection_get_unique_name (fixture->service);
  g_autoptr(GDBusProxy) proxy = test_proxy (fixture);
  g_autoptr(GasyncFuture) direct = NULL;
  g_autoptr(GasyncFuture) proxied = NULL;
  g_autoptr(GasyncFuture) after = NULL;
  g_autoptr(GVariant) reply = NULL;
  const char *text;

  /* Mid-way: the service has the calls and has not answered. */
  direct = gasync_dbus_connection_call (fixture->client, service, "/org/gasync/Test",
                                        "org.gasync.Test", "Hang", NULL, NULL,
                                        G_DBUS_CALL_FLAGS_NONE, G_MAXINT);
  proxied = gasync_dbus_proxy_call (proxy, "Hang", NULL, G_DBUS_CALL_FLAGS_NONE, G_MAXINT);
  ITERATE_UNTIL (fixture->parent.context, fixture->hanging->len == 2);
  g_assert_false (gasync_future_is_done (direct));
  g_assert_false (gasync_future_is_done (proxied));

  gasync_future_cancel (direct);
  gasync_future_cancel (proxied);
  run_until_done (fixture->parent.context, direct);
  run_until_done (fixture->parent.context, proxied);
  assert_state (direct, GASYNC_FUTURE_STATE_CANCELLED);
  assert_state (proxied, GASYNC_FUTURE_STATE_CANCELLED);

  /* The late replies go nowhere, and the connection works on. */
  for (guint i = 0; i < fixture->hanging->len; i++)
    g_dbus_method_invocation_return_value (g_object_ref (g_ptr_array_index (fixture->hanging, i)),
                                           NULL);
  after = gasync_dbus_proxy_call (proxy, "Echo", g_variant_new ("(s)", "still here"),
                                  G_DBUS_CALL_FLAGS_NONE, -1);
  run_until_done (fixture->parent.context, after);
  reply = future_variant (after);
  g_variant_get (reply, "(&s)", &text);
  g_assert_cmpstr (text, ==, "still here");

  drain (fixture->parent.context);
  g_assert_finalize_object (g_steal_pointer (&direct));
  g_assert_finalize_object (g_steal_pointer (&proxied));
  g_assert_finalize_object (g_steal_pointer (&after));
}

/* --- names and applications -------------------------------------------- */

static void
test_resolver_lookup (Fixture       *fixture,
                      gconstpointer  unused)
{
  g_autoptr(GResolver) resolver = g_resolver_get_default ();
  g_autoptr(GasyncFuture) future = NULL;
  g_autoptr(GasyncFuture) cancelled = NULL;
  g_autoptr(GListModel) addresses = NULL;
  g_autoptr(GError) error = NULL;
  guint n;

  future = gasync_resolver_lookup_by_name (resolver, "localhost");
  run_until_done (fixture->context, future);
  addresses = gasync_future_dup_object (future, &error);
  g_assert_no_error (error);
  g_assert_true (g_list_model_get_item_type (addresses) == G_TYPE_INET_ADDRESS);
  n = g_list_model_get_n_items (addresses);
  g_assert_cmpuint (n, >, 0);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GInetAddress) address = g_list_model_get_item (addresses, i);

      g_assert_true (g_inet_address_get_is_loopback (address));
    }

  cancelled = gasync_resolver_lookup_by_name (resolver, "localhost");
  gasync_future_cancel (cancelled);
  run_until_done (fixture->context, cancelled);
  assert_state (cancelled, GASYNC_FUTURE_STATE_CANCELLED);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&future));
  g_assert_finalize_object (g_steal_pointer (&cancelled));
}

static void
test_app_info_launch (Fixture       *fixture,
                      gconstpointer  unused)
{
  g_autoptr(GasyncFuture) unknown = NULL;
  g_autoptr(GasyncFuture) cancelled = NULL;
  g_autoptr(GError) error = NULL;

  /* No application handles this scheme: GIO's error, unchanged. */
  unknown = gasync_app_info_launch_default_for_uri ("x-gasync-test-no-such-scheme:nothing", NULL);
  run_until_done (fixture->context, unknown);
  assert_state (unknown, GASYNC_FUTURE_STATE_REJECTED);
  error = future_error (unknown);
  g_test_message ("launch: %s", error->message);
  g_assert_true (error->domain == G_IO_ERROR);

  cancelled = gasync_app_info_launch_default_for_uri ("x-gasync-test-no-such-scheme:nothing", NULL);
  gasync_future_cancel (cancelled);
  run_until_done (fixture->context, cancelled);
  assert_state (cancelled, GASYNC_FUTURE_STATE_CANCELLED);

  drain (fixture->context);
  g_assert_finalize_object (g_steal_pointer (&unknown));
  g_assert_finalize_object (g_steal_pointer (&cancelled));
}

/* --- Misuse ------------------------------------------------------------ */

/* Runs @call, refused for a failed precondition: one critical like
 * g_return_val_if_fail()'s, and a new future of the thread-default context
 * rejected with GASYNC_ERROR_FAILED, naming @function, never NULL. */
#define EXPECT_REFUSED(call, function)                                        \
  G_STMT_START {                                                              \
    GasyncFuture *er_refused;                                                 \
    g_autoptr(GError) er_error = NULL;                                        \
                                                                              \
    g_test_expect_message ("Gasync", G_LOG_LEVEL_CRITICAL,                    \
                           "*assertion*failed*");                             \
    er_refused = (call);                                                      \
    g_test_assert_expected_messages ();                                       \
    g_assert_nonnull (er_refused);                                            \
    g_assert_true (gasync_future_get_context (er_refused) == fixture->context); \
    er_error = future_error (er_refused);                                     \
    g_assert_error (er_error, GASYNC_ERROR, GASYNC_ERROR_FAILED);             \
    g_assert_true (g_str_has_prefix (er_error->message, function ": assertion '")); \
    g_object_unref (er_refused);                                              \
  } G_STMT_END

static void
test_misuse (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr(GFile) file = g_file_new_for_path (fixture->tmpdir);
  g_autoptr(GBytes) bytes = g_bytes_new_static ("x", 1);
  g_autoptr(GInputStream) input = g_memory_input_stream_new ();
  g_autoptr(GOutputStream) output = g_memory_output_stream_new_resizable ();
  GasyncFuture *stderr_future = NULL;
  g_autoptr(GError) error = NULL;

  EXPECT_REFUSED (gasync_file_load_bytes (NULL), "gasync_file_load_bytes");
  EXPECT_REFUSED (gasync_file_replace_bytes (file, NULL, NULL, FALSE, G_FILE_CREATE_NONE),
                  "gasync_file_replace_bytes");
  EXPECT_REFUSED (gasync_file_query_info (file, NULL, G_FILE_QUERY_INFO_NONE, G_PRIORITY_DEFAULT),
                  "gasync_file_query_info");
  EXPECT_REFUSED (gasync_file_enumerate_children (NULL, "*", G_FILE_QUERY_INFO_NONE,
                                                  G_PRIORITY_DEFAULT),
                  "gasync_file_enumerate_children");
  EXPECT_REFUSED (gasync_file_enumerator_next_files (NULL, 1, G_PRIORITY_DEFAULT),
                  "gasync_file_enumerator_next_files");
  EXPECT_REFUSED (gasync_file_make_directory (NULL, G_PRIORITY_DEFAULT),
                  "gasync_file_make_directory");
  EXPECT_REFUSED (gasync_file_delete (NULL, G_PRIORITY_DEFAULT), "gasync_file_delete");
  EXPECT_REFUSED (gasync_file_copy (file, NULL, G_FILE_COPY_NONE, G_PRIORITY_DEFAULT),
                  "gasync_file_copy");

  EXPECT_REFUSED (gasync_input_stream_read_bytes (NULL, 1, G_PRIORITY_DEFAULT),
                  "gasync_input_stream_read_bytes");
  EXPECT_REFUSED (gasync_input_stream_read_all (input, -2, G_PRIORITY_DEFAULT),
                  "gasync_input_stream_read_all");
  EXPECT_REFUSED (gasync_output_stream_write_all (output, NULL, G_PRIORITY_DEFAULT),
                  "gasync_output_stream_write_all");
  EXPECT_REFUSED (gasync_output_stream_splice (output, NULL, G_OUTPUT_STREAM_SPLICE_NONE, -1,
                                               G_PRIORITY_DEFAULT),
                  "gasync_output_stream_splice");
  EXPECT_REFUSED (gasync_stream_close (file, G_PRIORITY_DEFAULT), "gasync_stream_close");

  EXPECT_REFUSED (gasync_socket_client_connect_to_host (NULL, "localhost", 1),
                  "gasync_socket_client_connect_to_host");
  EXPECT_REFUSED (gasync_socket_listener_accept (NULL), "gasync_socket_listener_accept");

  EXPECT_REFUSED (gasync_subprocess_wait (NULL), "gasync_subprocess_wait");
  EXPECT_REFUSED (gasync_subprocess_wait_check (NULL), "gasync_subprocess_wait_check");
  EXPECT_REFUSED (gasync_subprocess_communicate (NULL, bytes),
                  "gasync_subprocess_communicate_full");
  /* The standard error's future fails the same way. */
  EXPECT_REFUSED (gasync_subprocess_communicate_full (NULL, NULL, &stderr_future),
                  "gasync_subprocess_communicate_full");
  g_assert_nonnull (stderr_future);
  error = future_error (stderr_future);
  g_assert_error (error, GASYNC_ERROR, GASYNC_ERROR_FAILED);
  g_clear_object (&stderr_future);

  EXPECT_REFUSED (gasync_dbus_connection_call (NULL, NULL, "/", "org.example.I", "M", NULL, NULL,
                                               G_DBUS_CALL_FLAGS_NONE, -1),
                  "gasync_dbus_connection_call");
  EXPECT_REFUSED (gasync_dbus_proxy_call (NULL, "M", NULL, G_DBUS_CALL_FLAGS_NONE, -1),
                  "gasync_dbus_proxy_call");
  EXPECT_REFUSED (gasync_resolver_lookup_by_name (NULL, "localhost"),
                  "gasync_resolver_lookup_by_name");
  EXPECT_REFUSED (gasync_app_info_launch_default_for_uri (NULL, NULL),
                  "gasync_app_info_launch_default_for_uri");
}

#undef EXPECT_REFUSED

/* ----------------------------------------------------------------------- */

#define ADD(path, func) \
  g_test_add ("/Gasync/Gio/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
#define ADD_DATA(path, data, func) \
  g_test_add ("/Gasync/Gio/" path, Fixture, data, fixture_setup, func, fixture_teardown)
#define ADD_BUS(path, func) \
  g_test_add ("/Gasync/Gio/" path, BusFixture, NULL, bus_fixture_setup, func, bus_fixture_teardown)

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  ADD ("adapter/result", test_adapter_result);
  ADD ("adapter/finish", test_adapter_finish);
  ADD ("adapter/cancel", test_adapter_cancel);

  ADD ("file/load-bytes", test_file_load_bytes);
  ADD ("file/load-bytes-cancel", test_file_load_bytes_cancel);
  ADD ("file/replace-bytes", test_file_replace_bytes);
  ADD ("file/replace-bytes-cancel", test_file_replace_bytes_cancel);
  ADD ("file/query-info", test_file_query_info);
  ADD ("file/enumerate", test_file_enumerate);
  ADD ("file/enumerate-cancel", test_file_enumerate_cancel);
  ADD ("file/make-directory-delete", test_file_make_directory_delete);
  ADD ("file/make-directory-delete-cancel", test_file_make_directory_delete_cancel);
  ADD ("file/copy-progress", test_file_copy_progress);
  ADD ("file/copy-cancel", test_file_copy_cancel);

  ADD ("stream/read-bytes", test_stream_read_bytes);
  ADD ("stream/read-bytes-cancel", test_stream_read_bytes_cancel);
  ADD ("stream/read-all", test_stream_read_all);
  ADD ("stream/read-all-cancel", test_stream_read_all_cancel);
  ADD ("stream/write-all", test_stream_write_all);
  ADD ("stream/write-all-cancel", test_stream_write_all_cancel);
  ADD ("stream/splice", test_stream_splice);
  ADD ("stream/splice-cancel", test_stream_splice_cancel);
  ADD ("stream/close", test_stream_close);
  ADD ("stream/close-cancel", test_stream_close_cancel);

  ADD ("socket/connect-accept", test_socket_connect_accept);
  ADD ("socket/connect-cancel", test_socket_connect_cancel);
  ADD ("socket/accept-cancel", test_socket_accept_cancel);
  ADD ("socket/echo", test_socket_echo);

  ADD ("subprocess/wait", test_subprocess_wait);
  ADD_DATA ("subprocess/wait-cancel", GINT_TO_POINTER (FALSE), test_subprocess_wait_cancel);
  ADD_DATA ("subprocess/wait-check-cancel", GINT_TO_POINTER (TRUE), test_subprocess_wait_cancel);
  ADD ("subprocess/communicate", test_subprocess_communicate);
  ADD ("subprocess/communicate-cancel", test_subprocess_communicate_cancel);

  ADD_BUS ("dbus/connection-call", test_dbus_connection_call);
  ADD_BUS ("dbus/proxy-call", test_dbus_proxy_call);
  ADD_BUS ("dbus/call-cancel", test_dbus_call_cancel);

  ADD ("resolver/lookup-localhost", test_resolver_lookup);
  ADD ("app-info/launch-default-for-uri", test_app_info_launch);

  ADD ("misuse", test_misuse);

  return g_test_run ();
}
