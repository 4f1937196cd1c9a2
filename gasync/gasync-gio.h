/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(GASYNC_INSIDE) && !defined(GASYNC_COMPILATION)
# error "Only <gasync/gasync.h> can be included directly."
#endif

#include <gio/gio.h>

#include "gasync-future.h"
#include "gasync-version-macros.h"

G_BEGIN_DECLS

/**
 * GasyncFinishFunc:
 * @source_object: (nullable): the source object of the asynchronous call
 * @result: the `GAsyncResult` the call reported
 * @value: (out caller-allocates): an uninitialized `GValue`; initialize and
 *   set it to resolve the future with a value, or leave it unset for no
 *   value
 * @error: return location for an error
 *
 * Finishes an asynchronous GIO call for a future made with
 * [ctor@Future.new_for_async]: it calls the matching `_finish` function
 * and turns its outcome into the future's value.
 *
 * ```c
 * static gboolean
 * finish_query_info (GObject       *source_object,
 *                    GAsyncResult  *result,
 *                    GValue        *value,
 *                    GError       **error)
 * {
 *   GFileInfo *info = g_file_query_info_finish (G_FILE (source_object),
 *                                                result, error);
 *
 *   if (info == NULL)
 *     return FALSE;
 *
 *   g_value_init (value, G_TYPE_FILE_INFO);
 *   g_value_take_object (value, info);
 *   return TRUE;
 * }
 * ```
 *
 * Returns: `TRUE` to resolve the future with @value; `FALSE` with @error
 *   set to reject it (`G_IO_ERROR_CANCELLED` ends it cancelled)
 */
typedef gboolean (*GasyncFinishFunc) (GObject       *source_object,
                                      GAsyncResult  *result,
                                      GValue        *value,
                                      GError       **error);

/* The generic adapter. */
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_future_new_for_async                (GasyncFinishFunc          finish) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
void          gasync_future_async_ready_cb               (GObject                  *source_object,
                                                          GAsyncResult             *result,
                                                          gpointer                  user_data);

/* Files. */
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_file_load_bytes                     (GFile                    *file) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_file_replace_bytes                  (GFile                    *file,
                                                          GBytes                   *contents,
                                                          const char               *etag,
                                                          gboolean                  make_backup,
                                                          GFileCreateFlags          flags) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_file_query_info                     (GFile                    *file,
                                                          const char               *attributes,
                                                          GFileQueryInfoFlags       flags,
                                                          int                       io_priority) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_file_enumerate_children             (GFile                    *file,
                                                          const char               *attributes,
                                                          GFileQueryInfoFlags       flags,
                                                          int                       io_priority) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_file_enumerator_next_files          (GFileEnumerator          *enumerator,
                                                          int                       num_files,
                                                          int                       io_priority) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_file_make_directory                 (GFile                    *file,
                                                          int                       io_priority) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_file_delete                         (GFile                    *file,
                                                          int                       io_priority) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_file_copy                           (GFile                    *source,
                                                          GFile                    *destination,
                                                          GFileCopyFlags            flags,
                                                          int                       io_priority) G_GNUC_WARN_UNUSED_RESULT;

/* Streams. */
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_input_stream_read_bytes             (GInputStream             *stream,
                                                          gsize                     count,
                                                          int                       io_priority) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_input_stream_read_all               (GInputStream             *stream,
                                                          gssize                    count,
                                                          int                       io_priority) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_output_stream_write_all             (GOutputStream            *stream,
                                                          GBytes                   *bytes,
                                                          int                       io_priority) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_output_stream_splice                (GOutputStream            *stream,
                                                          GInputStream             *source,
                                                          GOutputStreamSpliceFlags  flags,
                                                          gint64                    length,
                                                          int                       io_priority) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_stream_close                        (gpointer                  stream,
                                                          int                       io_priority) G_GNUC_WARN_UNUSED_RESULT;

/* Sockets. */
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_socket_client_connect_to_host       (GSocketClient            *client,
                                                          const char               *host_and_port,
                                                          guint16                   default_port) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_socket_listener_accept              (GSocketListener          *listener) G_GNUC_WARN_UNUSED_RESULT;

/* Subprocesses. */
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_subprocess_wait                     (GSubprocess              *subprocess) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_subprocess_wait_check               (GSubprocess              *subprocess) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_subprocess_communicate              (GSubprocess              *subprocess,
                                                          GBytes                   *stdin_buf) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_subprocess_communicate_full         (GSubprocess              *subprocess,
                                                          GBytes                   *stdin_buf,
                                                          GasyncFuture            **stderr_future) G_GNUC_WARN_UNUSED_RESULT;

/* D-Bus. */
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_dbus_connection_call                (GDBusConnection          *connection,
                                                          const char               *bus_name,
                                                          const char               *object_path,
                                                          const char               *interface_name,
                                                          const char               *method_name,
                                                          GVariant                 *parameters,
                                                          const GVariantType       *reply_type,
                                                          GDBusCallFlags            flags,
                                                          int                       timeout_msec) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_dbus_proxy_call                     (GDBusProxy               *proxy,
                                                          const char               *method_name,
                                                          GVariant                 *parameters,
                                                          GDBusCallFlags            flags,
                                                          int                       timeout_msec) G_GNUC_WARN_UNUSED_RESULT;

/* Names and applications. */
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_resolver_lookup_by_name             (GResolver                *resolver,
                                                          const char               *hostname) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_app_info_launch_default_for_uri     (const char               *uri,
                                                          GAppLaunchContext        *context) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
