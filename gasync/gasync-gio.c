/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "gasync-gio.h"
#include "gasync-future-private.h"

/*
 * GIO integration: a generic adapter from any `_async`/`_finish` pair to a
 * future, and typed wrappers for the calls desktop applications await most.
 *
 * Every future made here is a GasyncGioFuture.  Unlike a plain future, it
 * does not settle when cancellation is requested: the request cancels the
 * future's GCancellable (and kills the subprocess, for the subprocess
 * wrappers), and the future settles when the operation reports back.  So
 * once such a future is done, GIO is done too: no worker thread still
 * writes the file, no child process is left running, no buffer is still in
 * use.  GIO operations always report back, so the wait is short.
 *
 * Operations run on the thread-default main context of the calling thread,
 * as GIO's do; the future belongs to that same context.  Multi-step
 * operations (read-all, write-all, splice, communicate) keep their state in
 * a heap struct that owns a reference on the future until it has settled.
 */

#define GASYNC_TYPE_GIO_FUTURE (gasync_gio_future_get_type ())
G_DECLARE_FINAL_TYPE (GasyncGioFuture, gasync_gio_future, GASYNC, GIO_FUTURE, GasyncFuture)

struct _GasyncGioFuture
{
  GasyncFuture      parent_instance;

  /* Both read-only once the operation has started. */
  GasyncFinishFunc  finish;
  /* Killed on a cancellation request, from the cancelling thread;
   * g_subprocess_force_exit() can be called from any thread. */
  GSubprocess      *subprocess;
};

G_DEFINE_FINAL_TYPE (GasyncGioFuture, gasync_gio_future, GASYNC_TYPE_FUTURE)

static void
gasync_gio_future_request_cancel (GasyncFuture *future)
{
  GasyncGioFuture *self = GASYNC_GIO_FUTURE (future);

  /* No settling here: gasync_future_cancel() cancels the future's
   * cancellable right after this returns, and the operation's report of
   * G_IO_ERROR_CANCELLED settles the future once it has really stopped.
   * GSubprocess's waits do not kill the child when cancelled, so the
   * subprocess wrappers kill it here, and settle once it is reaped. */
  if (self->subprocess != NULL)
    g_subprocess_force_exit (self->subprocess);
}

static void
gasync_gio_future_finalize (GObject *object)
{
  GasyncGioFuture *self = GASYNC_GIO_FUTURE (object);

  g_clear_object (&self->subprocess);

  G_OBJECT_CLASS (gasync_gio_future_parent_class)->finalize (object);
}

static void
gasync_gio_future_class_init (GasyncGioFutureClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GasyncFutureClass *future_class = GASYNC_FUTURE_CLASS (klass);

  object_class->finalize = gasync_gio_future_finalize;
  future_class->request_cancel = gasync_gio_future_request_cancel;
}

static void
gasync_gio_future_init (GasyncGioFuture *self)
{
}

static GasyncFuture *
gio_future_new (const char       *name,
                GType             value_type,
                GasyncFinishFunc  finish)
{
  GasyncGioFuture *self = g_object_new (GASYNC_TYPE_GIO_FUTURE, NULL);
  GasyncFuture *future = GASYNC_FUTURE (self);

  self->finish = finish;
  gasync_future_set_name (future, name);
  if (value_type != G_TYPE_INVALID)
    gasync_future_set_value_type (future, value_type);

  return future;
}

/* Resolves @future with @boxed, taking ownership of it. */
static void
resolve_take_boxed (GasyncFuture *future,
                    GType         boxed_type,
                    gpointer      boxed)
{
  GValue value = G_VALUE_INIT;

  g_value_init (&value, boxed_type);
  g_value_take_boxed (&value, boxed);
  gasync_future_take_value (future, &value);
}

/* Runs @finish and settles @future with its outcome. */
static void
settle_with_finish (GasyncFuture     *future,
                    GasyncFinishFunc  finish,
                    GObject          *source_object,
                    GAsyncResult     *result)
{
  GValue value = G_VALUE_INIT;
  GError *error = NULL;

  if (finish (source_object, result, &value, &error))
    {
      if (G_IS_VALUE (&value))
        gasync_future_take_value (future, &value);
      else
        gasync_future_resolve_void (future);
      g_clear_error (&error);
      return;
    }

  if (G_IS_VALUE (&value))
    g_value_unset (&value);
  if (error == NULL)
    {
      g_critical ("A GasyncFinishFunc returned FALSE without setting an error");
      error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED,
                                   "The operation failed without an error");
    }
  gasync_future_take_error (future, error);
}

/**
 * gasync_future_new_for_async: (skip)
 * @finish: (nullable): turns the operation's `GAsyncResult` into the
 *   future's outcome, or `NULL` to resolve with the `GAsyncResult` itself
 *
 * Creates a pending future to be settled by an asynchronous GIO call that
 * reports to [func@Future.async_ready_cb].
 *
 * Pass the future's cancellable ([method@Future.get_cancellable]) to the
 * call, [func@Future.async_ready_cb] as its callback and a new reference
 * on the future as its user data. When the call reports, @finish runs and
 * its outcome settles the future; a GIO error rejects it unchanged. Like
 * the call, the future belongs to the thread-default main context: create
 * it and start the call on the same thread.
 *
 * Cancelling the future cancels its cancellable, and so the call. Unlike a
 * plain future, this one does not settle right away: it settles once the
 * call reports back, normally as cancelled, so when it is done the
 * operation has really stopped. The call must therefore be started: a
 * future from this function that is never passed to a call stays pending
 * after cancellation.
 *
 * ```c
 * GasyncFuture *future = gasync_future_new_for_async (finish_query_info);
 *
 * g_file_query_info_async (file, G_FILE_ATTRIBUTE_STANDARD_SIZE,
 *                          G_FILE_QUERY_INFO_NONE, G_PRIORITY_DEFAULT,
 *                          gasync_future_get_cancellable (future),
 *                          gasync_future_async_ready_cb,
 *                          g_object_ref (future));
 *
 * // In a coroutine: the await takes the caller's reference.
 * g_autoptr(GFileInfo) info = gasync_await_object (future, error);
 * ```
 *
 * See [callback@FinishFunc] for `finish_query_info`. With `NULL` instead,
 * the future resolves with the `GAsyncResult`, and the caller finishes the
 * call itself (if cancellation was requested, the future ends cancelled
 * instead, once the call has reported):
 *
 * ```c
 * g_autoptr(GAsyncResult) result = gasync_await_object (future, error);
 * g_autoptr(GFileInfo) info = NULL;
 *
 * if (result != NULL)
 *   info = g_file_query_info_finish (file, result, error);
 * ```
 *
 * Returns: (transfer full): a new pending future
 */
GasyncFuture *
gasync_future_new_for_async (GasyncFinishFunc finish)
{
  return gio_future_new (NULL, G_TYPE_INVALID, finish);
}

/**
 * gasync_future_async_ready_cb: (skip)
 * @source_object: (nullable): the source object of the asynchronous call
 * @result: the call's result
 * @user_data: (transfer full) (type GasyncFuture): a reference on the
 *   future to settle, which this callback consumes
 *
 * A `GAsyncReadyCallback` that settles a future: pass it, with a new
 * reference on the future as user data, to any asynchronous GIO call.
 *
 * For a future made with [ctor@Future.new_for_async], the future's finish
 * function turns @result into its outcome. Any other future resolves with
 * @result itself, on which the caller calls the matching `_finish`
 * function once the future is done:
 *
 * ```c
 * GasyncFuture *future = gasync_future_new ();
 *
 * g_file_delete_async (file, G_PRIORITY_DEFAULT,
 *                      gasync_future_get_cancellable (future),
 *                      gasync_future_async_ready_cb, g_object_ref (future));
 *
 * g_autoptr(GAsyncResult) result = gasync_await_object (future, error);
 *
 * if (result == NULL || !g_file_delete_finish (file, result, error))
 *   return FALSE;
 * ```
 *
 * A plain future like this one settles as cancelled as soon as it is
 * cancelled, possibly before the call has stopped; the call's late report
 * is then dropped. Futures from [ctor@Future.new_for_async] wait for it.
 */
void
gasync_future_async_ready_cb (GObject      *source_object,
                              GAsyncResult *result,
                              gpointer      user_data)
{
  g_autoptr(GasyncFuture) future = user_data;
  GasyncFinishFunc finish = NULL;

  g_return_if_fail (GASYNC_IS_FUTURE (future));
  g_return_if_fail (G_IS_ASYNC_RESULT (result));

  if (GASYNC_IS_GIO_FUTURE (future))
    finish = GASYNC_GIO_FUTURE (future)->finish;

  if (finish != NULL)
    settle_with_finish (future, finish, source_object, result);
  else if (gasync_future_is_cancel_requested (future))
    /* The caller's `_finish` would report the cancellation, normally; a
     * future without a finish function cannot ask, so it says so itself. */
    gasync_future_settle (future, GASYNC_FUTURE_STATE_CANCELLED, NULL, NULL);
  else
    gasync_future_resolve_object (future, result);
}

/* Starts a call: the future's cancellable, the adapter as callback. */
#define CANCELLABLE(future) gasync_future_get_cancellable (future)
#define READY_CB gasync_future_async_ready_cb

static gboolean
set_void (gboolean ok)
{
  return ok;
}

static gboolean
set_object (GValue   *value,
            gpointer  object)
{
  if (object == NULL)
    return FALSE;

  g_value_init (value, G_OBJECT_TYPE (object));
  g_value_take_object (value, object);
  return TRUE;
}

static void
progress_from (GasyncFuture *future,
               guint64       done,
               guint64       total)
{
  if (total == 0)
    return;

  gasync_future_set_progress (future, done >= total ? 1.0 : (double) done / (double) total);
}

/* --- files ------------------------------------------------------------- */

static gboolean
finish_load_bytes (GObject       *source_object,
                   GAsyncResult  *result,
                   GValue        *value,
                   GError       **error)
{
  GBytes *bytes = g_file_load_bytes_finish (G_FILE (source_object), result, NULL, error);

  if (bytes == NULL)
    return FALSE;

  g_value_init (value, G_TYPE_BYTES);
  g_value_take_boxed (value, bytes);
  return TRUE;
}

/**
 * gasync_file_load_bytes:
 * @file: the file to load
 *
 * Loads the whole contents of @file, like `g_file_load_bytes_async()`.
 *
 * The future resolves with a `GBytes`; a GIO error rejects it unchanged.
 * Cancelling it cancels the load, and it then settles as cancelled once
 * the load has stopped.
 *
 * Returns: (transfer full): a future resolving with the contents, a
 *   `GBytes`
 */
GasyncFuture *
gasync_file_load_bytes (GFile *file)
{
  GasyncFuture *future;

  gasync_return_rejected_if_fail (G_IS_FILE (file));

  future = gio_future_new ("file-load-bytes", G_TYPE_BYTES, finish_load_bytes);
  g_file_load_bytes_async (file, CANCELLABLE (future), READY_CB, g_object_ref (future));
  return future;
}

/*
 * Replacing runs g_file_replace_async(), writes and closes itself rather
 * than through g_file_replace_contents_bytes_async(), which is unsafe to
 * cancel: cancelling it while the file is being opened makes GTask drop
 * the new stream, whose dispose then closes, and so commits, the still
 * empty replacement.  It also reports a failed write before the stream is
 * closed, and no progress.
 *
 * Here the cancellable only goes to the writes.  Opening is short and not
 * cancelled (a cancellation request is acted on once the stream exists);
 * an aborted replacement is closed with a cancelled cancellable, which
 * makes GIO drop it instead of committing it; the commit itself (closing
 * after the last write) is not cancelled, so that the outcome is never
 * "cancelled" for a file that was in fact replaced.
 */
typedef struct
{
  GasyncFuture      *future;
  GFileOutputStream *stream;
  GBytes            *contents;
  gsize              written;
  GError            *error;
} Replace;

static void
replace_free (Replace *op)
{
  g_clear_error (&op->error);
  g_clear_pointer (&op->contents, g_bytes_unref);
  g_clear_object (&op->stream);
  g_clear_object (&op->future);
  g_free (op);
}

static void replace_write (Replace *op);

static void
replace_closed_cb (GObject      *source_object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Replace *op = user_data;
  GError **error = op->error == NULL ? &op->error : NULL;
  g_autofree char *etag = NULL;

  g_output_stream_close_finish (G_OUTPUT_STREAM (source_object), result, error);
  if (op->error != NULL)
    gasync_future_take_error (op->future, g_steal_pointer (&op->error));
  else
    {
      etag = g_file_output_stream_get_etag (op->stream);
      gasync_future_resolve_string (op->future, etag);
    }
  replace_free (op);
}

static void
replace_close (Replace *op)
{
  g_autoptr(GCancellable) abort = NULL;
  GCancellable *cancellable = CANCELLABLE (op->future);

  /* Closing a replacement stream commits it unless the close is cancelled,
   * so an aborted one closes with a cancelled cancellable: the original
   * stays and GIO removes its temporary file. */
  if (op->error == NULL)
    cancellable = NULL;
  else if (!g_cancellable_is_cancelled (cancellable))
    {
      abort = g_cancellable_new ();
      g_cancellable_cancel (abort);
      cancellable = abort;
    }

  g_output_stream_close_async (G_OUTPUT_STREAM (op->stream), G_PRIORITY_DEFAULT,
                               cancellable, replace_closed_cb, op);
}

static void
replace_written_cb (GObject      *source_object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Replace *op = user_data;
  gssize n;

  n = g_output_stream_write_finish (G_OUTPUT_STREAM (source_object), result, &op->error);
  if (n < 0)
    {
      replace_close (op);
      return;
    }

  op->written += n;
  progress_from (op->future, op->written, g_bytes_get_size (op->contents));
  replace_write (op);
}

static void
replace_write (Replace *op)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (op->contents, &size);

  if (op->written == size)
    {
      replace_close (op);
      return;
    }

  if (gasync_future_is_cancel_requested (op->future))
    {
      /* Requested while the file was being opened. */
      op->error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                       "Operation was cancelled");
      replace_close (op);
      return;
    }

  g_output_stream_write_async (G_OUTPUT_STREAM (op->stream), data + op->written,
                               MIN (size - op->written, (gsize) G_MAXSSIZE),
                               G_PRIORITY_DEFAULT, CANCELLABLE (op->future),
                               replace_written_cb, op);
}

static void
replace_opened_cb (GObject      *source_object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Replace *op = user_data;

  op->stream = g_file_replace_finish (G_FILE (source_object), result, &op->error);
  if (op->stream == NULL)
    {
      gasync_future_take_error (op->future, g_steal_pointer (&op->error));
      replace_free (op);
      return;
    }

  replace_write (op);
}

/**
 * gasync_file_replace_bytes:
 * @file: the file to replace
 * @contents: the new contents
 * @etag: (nullable): the entity tag the current contents must have, or
 *   `NULL` to replace whatever is there
 * @make_backup: whether to keep a backup of the current contents
 * @flags: flags for creating the new file
 *
 * Replaces the contents of @file with @contents, like
 * `g_file_replace_contents_bytes_async()`, reporting how far the write has
 * come in the future's [property@Future:progress].
 *
 * The future resolves with the new entity tag, a string (or `NULL` when
 * the file system has none); a GIO error rejects it unchanged.
 *
 * Cancelling the future cancels the write, and it then settles as
 * cancelled once GIO has closed the file. A failed or cancelled
 * replacement is never committed: for local files GIO writes to a
 * temporary file that replaces @file only when complete, and removes it
 * otherwise, so the original contents stay untouched (unless @flags has
 * `G_FILE_CREATE_REPLACE_DESTINATION`). Once all the data is written the
 * replacement is committed and can no longer be cancelled: the future
 * then resolves, since @file was replaced.
 *
 * Returns: (transfer full): a future resolving with the new entity tag, a
 *   string
 */
GasyncFuture *
gasync_file_replace_bytes (GFile            *file,
                           GBytes           *contents,
                           const char       *etag,
                           gboolean          make_backup,
                           GFileCreateFlags  flags)
{
  GasyncFuture *future;
  Replace *op;

  gasync_return_rejected_if_fail (G_IS_FILE (file));
  gasync_return_rejected_if_fail (contents != NULL);

  future = gio_future_new ("file-replace-bytes", G_TYPE_STRING, NULL);

  op = g_new0 (Replace, 1);
  op->future = g_object_ref (future);
  op->contents = g_bytes_ref (contents);

  /* The cancellable is created now, so that a cancellation request has
   * something to cancel once the writes start. */
  CANCELLABLE (future);
  g_file_replace_async (file, etag, make_backup, flags, G_PRIORITY_DEFAULT,
                        NULL, replace_opened_cb, op);
  return future;
}

static gboolean
finish_query_info (GObject       *source_object,
                   GAsyncResult  *result,
                   GValue        *value,
                   GError       **error)
{
  return set_object (value, g_file_query_info_finish (G_FILE (source_object), result, error));
}

/**
 * gasync_file_query_info:
 * @file: the file to query
 * @attributes: the attributes to query, such as `"standard::*"`
 * @flags: flags for the query
 * @io_priority: the I/O priority of the request, such as
 *   `G_PRIORITY_DEFAULT`
 *
 * Queries information about @file, like `g_file_query_info_async()`.
 *
 * Returns: (transfer full): a future resolving with a `GFileInfo`
 */
GasyncFuture *
gasync_file_query_info (GFile               *file,
                        const char          *attributes,
                        GFileQueryInfoFlags  flags,
                        int                  io_priority)
{
  GasyncFuture *future;

  gasync_return_rejected_if_fail (G_IS_FILE (file));
  gasync_return_rejected_if_fail (attributes != NULL);

  future = gio_future_new ("file-query-info", G_TYPE_FILE_INFO, finish_query_info);
  g_file_query_info_async (file, attributes, flags, io_priority,
                           CANCELLABLE (future), READY_CB, g_object_ref (future));
  return future;
}

static gboolean
finish_enumerate_children (GObject       *source_object,
                           GAsyncResult  *result,
                           GValue        *value,
                           GError       **error)
{
  return set_object (value, g_file_enumerate_children_finish (G_FILE (source_object), result, error));
}

/**
 * gasync_file_enumerate_children:
 * @file: the directory to list
 * @attributes: the attributes to query for each child
 * @flags: flags for the query
 * @io_priority: the I/O priority of the request
 *
 * Starts listing the children of the directory @file, like
 * `g_file_enumerate_children_async()`. Read the children with
 * [func@file_enumerator_next_files].
 *
 * Returns: (transfer full): a future resolving with a `GFileEnumerator`
 */
GasyncFuture *
gasync_file_enumerate_children (GFile               *file,
                                const char          *attributes,
                                GFileQueryInfoFlags  flags,
                                int                  io_priority)
{
  GasyncFuture *future;

  gasync_return_rejected_if_fail (G_IS_FILE (file));
  gasync_return_rejected_if_fail (attributes != NULL);

  future = gio_future_new ("file-enumerate-children", G_TYPE_FILE_ENUMERATOR,
                           finish_enumerate_children);
  g_file_enumerate_children_async (file, attributes, flags, io_priority,
                                   CANCELLABLE (future), READY_CB, g_object_ref (future));
  return future;
}

/* Moves the objects of @list (transfer full) into a new GListStore. */
static GListStore *
store_from_list (GType  item_type,
                 GList *list)
{
  GListStore *store = g_list_store_new (item_type);
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);

  for (GList *l = list; l != NULL; l = l->next)
    g_ptr_array_add (items, l->data);
  g_list_free (list);

  g_list_store_splice (store, 0, 0, items->pdata, items->len);
  return store;
}

static gboolean
finish_next_files (GObject       *source_object,
                   GAsyncResult  *result,
                   GValue        *value,
                   GError       **error)
{
  GError *local_error = NULL;
  GList *infos;

  infos = g_file_enumerator_next_files_finish (G_FILE_ENUMERATOR (source_object),
                                               result, &local_error);
  if (local_error != NULL)
    {
      g_list_free_full (infos, g_object_unref);
      g_propagate_error (error, local_error);
      return FALSE;
    }

  return set_object (value, store_from_list (G_TYPE_FILE_INFO, infos));
}

/**
 * gasync_file_enumerator_next_files:
 * @enumerator: an enumerator from [func@file_enumerate_children]
 * @num_files: the largest number of children to read
 * @io_priority: the I/O priority of the request
 *
 * Reads the next children of a directory, like
 * `g_file_enumerator_next_files_async()`.
 *
 * The future resolves with a `GListModel` of `GFileInfo`s, which is empty
 * once all children have been read.
 *
 * Returns: (transfer full): a future resolving with a `GListModel` of
 *   `GFileInfo`s
 */
GasyncFuture *
gasync_file_enumerator_next_files (GFileEnumerator *enumerator,
                                   int              num_files,
                                   int              io_priority)
{
  GasyncFuture *future;

  gasync_return_rejected_if_fail (G_IS_FILE_ENUMERATOR (enumerator));
  gasync_return_rejected_if_fail (num_files >= 0);

  future = gio_future_new ("file-enumerator-next-files", G_TYPE_LIST_MODEL, finish_next_files);
  g_file_enumerator_next_files_async (enumerator, num_files, io_priority,
                                      CANCELLABLE (future), READY_CB, g_object_ref (future));
  return future;
}

static gboolean
finish_make_directory (GObject       *source_object,
                       GAsyncResult  *result,
                       GValue        *value,
                       GError       **error)
{
  return set_void (g_file_make_directory_finish (G_FILE (source_object), result, error));
}

/**
 * gasync_file_make_directory:
 * @file: the directory to create
 * @io_priority: the I/O priority of the request
 *
 * Creates the directory @file, like `g_file_make_directory_async()`; its
 * parent must exist.
 *
 * Returns: (transfer full): a future resolving without a value
 */
GasyncFuture *
gasync_file_make_directory (GFile *file,
                            int    io_priority)
{
  GasyncFuture *future;

  gasync_return_rejected_if_fail (G_IS_FILE (file));

  future = gio_future_new ("file-make-directory", G_TYPE_INVALID, finish_make_directory);
  g_file_make_directory_async (file, io_priority, CANCELLABLE (future), READY_CB,
                               g_object_ref (future));
  return future;
}

static gboolean
finish_delete (GObject       *source_object,
               GAsyncResult  *result,
               GValue        *value,
               GError       **error)
{
  return set_void (g_file_delete_finish (G_FILE (source_object), result, error));
}

/**
 * gasync_file_delete:
 * @file: the file or empty directory to delete
 * @io_priority: the I/O priority of the request
 *
 * Deletes @file, like `g_file_delete_async()`.
 *
 * Returns: (transfer full): a future resolving without a value
 */
GasyncFuture *
gasync_file_delete (GFile *file,
                    int    io_priority)
{
  GasyncFuture *future;

  gasync_return_rejected_if_fail (G_IS_FILE (file));

  future = gio_future_new ("file-delete", G_TYPE_INVALID, finish_delete);
  g_file_delete_async (file, io_priority, CANCELLABLE (future), READY_CB, g_object_ref (future));
  return future;
}

static gboolean
finish_copy (GObject       *source_object,
             GAsyncResult  *result,
             GValue        *value,
             GError       **error)
{
  return set_void (g_file_copy_finish (G_FILE (source_object), result, error));
}

static void
copy_progress_cb (goffset  current_num_bytes,
                  goffset  total_num_bytes,
                  gpointer user_data)
{
  /* Borrowed: the callback's reference keeps the future alive until GIO
   * reports, and GIO delivers progress before that report. */
  GasyncFuture *future = user_data;

  if (current_num_bytes >= 0 && total_num_bytes > 0)
    progress_from (future, current_num_bytes, total_num_bytes);
}

/**
 * gasync_file_copy:
 * @source: the file to copy
 * @destination: where to copy it
 * @flags: flags for the copy
 * @io_priority: the I/O priority of the request
 *
 * Copies @source to @destination, like `g_file_copy_async()`, reporting
 * how far it has come in the future's [property@Future:progress].
 *
 * Cancelling the future cancels the copy, and it then settles as cancelled
 * once the copy has stopped.
 *
 * Returns: (transfer full): a future resolving without a value
 */
GasyncFuture *
gasync_file_copy (GFile          *source,
                  GFile          *destination,
                  GFileCopyFlags  flags,
                  int             io_priority)
{
  GasyncFuture *future;

  gasync_return_rejected_if_fail (G_IS_FILE (source));
  gasync_return_rejected_if_fail (G_IS_FILE (destination));

  future = gio_future_new ("file-copy", G_TYPE_INVALID, finish_copy);
  g_file_copy_async (source, destination, flags, io_priority, CANCELLABLE (future),
                     copy_progress_cb, future, READY_CB, g_object_ref (future));
  return future;
}

/* --- streams ----------------------------------------------------------- */

static gboolean
finish_read_bytes (GObject       *source_object,
                   GAsyncResult  *result,
                   GValue        *value,
                   GError       **error)
{
  GBytes *bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source_object), result, error);

  if (bytes == NULL)
    return FALSE;

  g_value_init (value, G_TYPE_BYTES);
  g_value_take_boxed (value, bytes);
  return TRUE;
}

/**
 * gasync_input_stream_read_bytes:
 * @stream: the stream to read from
 * @count: the largest number of bytes to read
 * @io_priority: the I/O priority of the request
 *
 * Reads up to @count bytes from @stream, like
 * `g_input_stream_read_bytes_async()`: as many as are available, at least
 * one unless the stream is at its end.
 *
 * The future resolves with a `GBytes`, which is empty at the end of the
 * stream. Cancelling the future cancels the read; no data is lost then, the
 * next read gets it.
 *
 * Returns: (transfer full): a future resolving with a `GBytes`
 */
GasyncFuture *
gasync_input_stream_read_bytes (GInputStream *stream,
                                gsize         count,
                                int           io_priority)
{
  GasyncFuture *future;

  gasync_return_rejected_if_fail (G_IS_INPUT_STREAM (stream));
  gasync_return_rejected_if_fail (count <= G_MAXSSIZE);

  future = gio_future_new ("input-stream-read-bytes", G_TYPE_BYTES, finish_read_bytes);
  g_input_stream_read_bytes_async (stream, count, io_priority, CANCELLABLE (future),
                                   READY_CB, g_object_ref (future));
  return future;
}

/* Reads go in chunks of at most READ_CHUNK_MAX bytes, so that progress
 * moves; reads of unknown length start at READ_CHUNK_MIN and double. */
#define READ_CHUNK_MIN (64 * 1024)
#define READ_CHUNK_MAX (1024 * 1024)

typedef struct
{
  GasyncFuture *future;
  GInputStream *stream;
  /* The data read so far, in a buffer of @allocated bytes. */
  guint8       *buffer;
  gsize         allocated;
  gsize         length;
  /* How many bytes to read, or G_MAXSIZE for all. */
  gsize         limit;
  int           io_priority;
} ReadAll;

static void
read_all_free (ReadAll *op)
{
  g_clear_pointer (&op->buffer, g_free);
  g_clear_object (&op->stream);
  g_clear_object (&op->future);
  g_free (op);
}

static void read_all_cb (GObject      *source_object,
                         GAsyncResult *result,
                         gpointer      user_data);

static void
read_all_step (ReadAll *op)
{
  gsize want;

  if (op->length == op->limit)
    {
      guint8 *data = g_realloc (g_steal_pointer (&op->buffer), op->length);

      resolve_take_boxed (op->future, G_TYPE_BYTES, g_bytes_new_take (data, op->length));
      read_all_free (op);
      return;
    }

  /* With a known length the buffer was sized up front; otherwise it grows
   * by a chunk. It is never reallocated while a read is pending. */
  if (op->limit != G_MAXSIZE)
    want = MIN (op->limit - op->length, READ_CHUNK_MAX);
  else
    {
      want = CLAMP (op->length, READ_CHUNK_MIN, READ_CHUNK_MAX);
      if (op->allocated - op->length < want)
        {
          op->allocated = op->length + want;
          op->buffer = g_realloc (op->buffer, op->allocated);
        }
    }

  g_input_stream_read_async (op->stream, op->buffer + op->length, want,
                             op->io_priority, CANCELLABLE (op->future),
                             read_all_cb, op);
}

static void
read_all_cb (GObject      *source_object,
             GAsyncResult *result,
             gpointer      user_data)
{
  ReadAll *op = user_data;
  GError *error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source_object), result, &error);
  if (n < 0)
    {
      gasync_future_take_error (op->future, error);
      read_all_free (op);
      return;
    }

  op->length += n;
  if (n == 0)
    op->limit = op->length;
  else if (op->limit != G_MAXSIZE)
    progress_from (op->future, op->length, op->limit);

  read_all_step (op);
}

/**
 * gasync_input_stream_read_all:
 * @stream: the stream to read from
 * @count: the number of bytes to read, or -1 to read up to the end of the
 *   stream
 * @io_priority: the I/O priority of the request
 *
 * Reads @count bytes from @stream, or everything up to its end when @count
 * is -1. Fewer bytes come back only if the stream ends first.
 *
 * With a @count, the future's [property@Future:progress] reports how far
 * the read has come.
 *
 * The future resolves with a `GBytes`. Cancelling it cancels the read in
 * progress; the bytes read until then are dropped.
 *
 * Returns: (transfer full): a future resolving with a `GBytes`
 */
GasyncFuture *
gasync_input_stream_read_all (GInputStream *stream,
                              gssize        count,
                              int           io_priority)
{
  GasyncFuture *future;
  ReadAll *op;

  gasync_return_rejected_if_fail (G_IS_INPUT_STREAM (stream));
  gasync_return_rejected_if_fail (count >= -1);

  future = gio_future_new ("input-stream-read-all", G_TYPE_BYTES, NULL);

  op = g_new0 (ReadAll, 1);
  op->future = g_object_ref (future);
  op->stream = g_object_ref (stream);
  op->io_priority = io_priority;
  op->limit = count < 0 ? G_MAXSIZE : (gsize) count;
  if (count > 0)
    {
      op->allocated = count;
      op->buffer = g_malloc (count);
    }

  read_all_step (op);
  return future;
}

typedef struct
{
  GasyncFuture  *future;
  GOutputStream *stream;
  GBytes        *bytes;
  gsize          written;
  int            io_priority;
} WriteAll;

static void
write_all_free (WriteAll *op)
{
  g_clear_pointer (&op->bytes, g_bytes_unref);
  g_clear_object (&op->stream);
  g_clear_object (&op->future);
  g_free (op);
}

static void write_all_cb (GObject      *source_object,
                          GAsyncResult *result,
                          gpointer      user_data);

static void
write_all_step (WriteAll *op)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (op->bytes, &size);

  if (op->written == size)
    {
      gasync_future_resolve_void (op->future);
      write_all_free (op);
      return;
    }

  g_output_stream_write_async (op->stream, data + op->written,
                               MIN (size - op->written, (gsize) G_MAXSSIZE),
                               op->io_priority, CANCELLABLE (op->future),
                               write_all_cb, op);
}

static void
write_all_cb (GObject      *source_object,
              GAsyncResult *result,
              gpointer      user_data)
{
  WriteAll *op = user_data;
  GError *error = NULL;
  gssize n;

  n = g_output_stream_write_finish (G_OUTPUT_STREAM (source_object), result, &error);
  if (n < 0)
    {
      gasync_future_take_error (op->future, error);
      write_all_free (op);
      return;
    }

  op->written += n;
  progress_from (op->future, op->written, g_bytes_get_size (op->bytes));
  write_all_step (op);
}

/**
 * gasync_output_stream_write_all:
 * @stream: the stream to write to
 * @bytes: the data to write
 * @io_priority: the I/O priority of the request
 *
 * Writes all of @bytes to @stream, with as many writes as it takes,
 * reporting how far it has come in the future's [property@Future:progress].
 *
 * Cancelling the future cancels the write in progress; how much was
 * written before is unknown then, as with `g_output_stream_write_all()`.
 *
 * Returns: (transfer full): a future resolving without a value
 */
GasyncFuture *
gasync_output_stream_write_all (GOutputStream *stream,
                                GBytes        *bytes,
                                int            io_priority)
{
  GasyncFuture *future;
  WriteAll *op;

  gasync_return_rejected_if_fail (G_IS_OUTPUT_STREAM (stream));
  gasync_return_rejected_if_fail (bytes != NULL);

  future = gio_future_new ("output-stream-write-all", G_TYPE_INVALID, NULL);

  op = g_new0 (WriteAll, 1);
  op->future = g_object_ref (future);
  op->stream = g_object_ref (stream);
  op->bytes = g_bytes_ref (bytes);
  op->io_priority = io_priority;

  write_all_step (op);
  return future;
}

/* Spliced data goes through a buffer of this size. */
#define SPLICE_CHUNK (64 * 1024)

typedef struct
{
  GasyncFuture             *future;
  GOutputStream            *stream;
  GInputStream             *source;
  GOutputStreamSpliceFlags  flags;
  /* Bytes spliced so far, and the expected total, or -1. */
  gint64                    total;
  gint64                    length;
  /* Bytes in the buffer, and how many of them were written. */
  gsize                     buffered;
  gsize                     written;
  int                       io_priority;
  GError                   *error;
  guint8                    buffer[SPLICE_CHUNK];
} Splice;

static void
splice_free (Splice *op)
{
  g_clear_error (&op->error);
  g_clear_object (&op->source);
  g_clear_object (&op->stream);
  g_clear_object (&op->future);
  g_free (op);
}

static void splice_read (Splice *op);
static void splice_write (Splice *op);
static void splice_close (Splice *op);

static void
splice_read_cb (GObject      *source_object,
                GAsyncResult *result,
                gpointer      user_data)
{
  Splice *op = user_data;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source_object), result, &op->error);
  if (n <= 0)
    {
      splice_close (op);
      return;
    }

  op->buffered = n;
  op->written = 0;
  splice_write (op);
}

static void
splice_read (Splice *op)
{
  gsize want = SPLICE_CHUNK;

  if (op->length >= 0)
    want = MIN (want, (guint64) (op->length - op->total));
  if (want == 0)
    {
      splice_close (op);
      return;
    }

  g_input_stream_read_async (op->source, op->buffer, want, op->io_priority,
                             CANCELLABLE (op->future), splice_read_cb, op);
}

static void
splice_write_cb (GObject      *source_object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Splice *op = user_data;
  gssize n;

  n = g_output_stream_write_finish (G_OUTPUT_STREAM (source_object), result, &op->error);
  if (n < 0)
    {
      splice_close (op);
      return;
    }

  op->written += n;
  if (op->written < op->buffered)
    {
      splice_write (op);
      return;
    }

  op->total += op->buffered;
  if (op->length > 0)
    progress_from (op->future, op->total, op->length);
  splice_read (op);
}

static void
splice_write (Splice *op)
{
  g_output_stream_write_async (op->stream, op->buffer + op->written,
                               op->buffered - op->written, op->io_priority,
                               CANCELLABLE (op->future), splice_write_cb, op);
}

static void
splice_settle (Splice *op)
{
  if (op->error != NULL)
    gasync_future_take_error (op->future, g_steal_pointer (&op->error));
  else
    gasync_future_resolve_int64 (op->future, op->total);
  splice_free (op);
}

static void
splice_close_cb (GObject      *source_object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Splice *op = user_data;
  GError **error = op->error == NULL ? &op->error : NULL;

  /* The first error wins: a close error only counts after a success. */
  if (G_IS_INPUT_STREAM (source_object))
    {
      g_input_stream_close_finish (G_INPUT_STREAM (source_object), result, error);
      op->flags &= ~G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE;
    }
  else
    {
      g_output_stream_close_finish (G_OUTPUT_STREAM (source_object), result, error);
      op->flags &= ~G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET;
    }

  splice_close (op);
}

static void
splice_close (Splice *op)
{
  /* Closing goes on without the cancellable: a cancelled splice still
   * closes what the flags say, as GIO's does. */
  if (op->flags & G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE)
    g_input_stream_close_async (op->source, op->io_priority, NULL, splice_close_cb, op);
  else if (op->flags & G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET)
    g_output_stream_close_async (op->stream, op->io_priority, NULL, splice_close_cb, op);
  else
    splice_settle (op);
}

/**
 * gasync_output_stream_splice:
 * @stream: the stream to write to
 * @source: the stream to read from
 * @flags: which streams to close at the end
 * @length: the number of bytes to splice, or -1 to splice up to the end of
 *   @source
 * @io_priority: the I/O priority of the requests
 *
 * Copies the contents of @source into @stream, like
 * `g_output_stream_splice_async()`, up to the end of @source or, when
 * @length is given, at most @length bytes.
 *
 * With a @length, the future's [property@Future:progress] reports how far
 * the splice has come.
 *
 * The streams are closed as @flags say whatever the outcome, even when the
 * future is cancelled. The future resolves with the number of bytes
 * spliced, a `gint64`.
 *
 * Returns: (transfer full): a future resolving with the number of bytes
 *   spliced
 */
GasyncFuture *
gasync_output_stream_splice (GOutputStream            *stream,
                             GInputStream             *source,
                             GOutputStreamSpliceFlags  flags,
                             gint64                    length,
                             int                       io_priority)
{
  GasyncFuture *future;
  Splice *op;

  gasync_return_rejected_if_fail (G_IS_OUTPUT_STREAM (stream));
  gasync_return_rejected_if_fail (G_IS_INPUT_STREAM (source));
  gasync_return_rejected_if_fail (length >= -1);

  future = gio_future_new ("output-stream-splice", G_TYPE_INT64, NULL);

  op = g_new0 (Splice, 1);
  op->future = g_object_ref (future);
  op->stream = g_object_ref (stream);
  op->source = g_object_ref (source);
  op->flags = flags;
  op->length = length;
  op->io_priority = io_priority;

  splice_read (op);
  return future;
}

static gboolean
finish_close (GObject       *source_object,
              GAsyncResult  *result,
              GValue        *value,
              GError       **error)
{
  if (G_IS_INPUT_STREAM (source_object))
    return set_void (g_input_stream_close_finish (G_INPUT_STREAM (source_object), result, error));
  else if (G_IS_OUTPUT_STREAM (source_object))
    return set_void (g_output_stream_close_finish (G_OUTPUT_STREAM (source_object), result, error));
  else
    return set_void (g_io_stream_close_finish (G_IO_STREAM (source_object), result, error));
}

/**
 * gasync_stream_close:
 * @stream: (type GObject): a `GInputStream`, `GOutputStream` or
 *   `GIOStream`
 * @io_priority: the I/O priority of the request
 *
 * Closes a stream of any of GIO's three kinds, like
 * `g_input_stream_close_async()`, `g_output_stream_close_async()` and
 * `g_io_stream_close_async()`.
 *
 * Cancelling the future cancels the close; GIO still closes the stream,
 * but an output stream may not have flushed its buffered data.
 *
 * Returns: (transfer full): a future resolving without a value
 */
GasyncFuture *
gasync_stream_close (gpointer stream,
                     int      io_priority)
{
  GasyncFuture *future;

  gasync_return_rejected_if_fail (G_IS_INPUT_STREAM (stream) ||
                                  G_IS_OUTPUT_STREAM (stream) ||
                                  G_IS_IO_STREAM (stream));

  future = gio_future_new ("stream-close", G_TYPE_INVALID, finish_close);
  if (G_IS_INPUT_STREAM (stream))
    g_input_stream_close_async (stream, io_priority, CANCELLABLE (future), READY_CB,
                                g_object_ref (future));
  else if (G_IS_OUTPUT_STREAM (stream))
    g_output_stream_close_async (stream, io_priority, CANCELLABLE (future), READY_CB,
                                 g_object_ref (future));
  else
    g_io_stream_close_async (stream, io_priority, CANCELLABLE (future), READY_CB,
                             g_object_ref (future));
  return future;
}

/* --- sockets ----------------------------------------------------------- */

static gboolean
finish_connect_to_host (GObject       *source_object,
                        GAsyncResult  *result,
                        GValue        *value,
                        GError       **error)
{
  return set_object (value, g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (source_object),
                                                                    result, error));
}

/**
 * gasync_socket_client_connect_to_host:
 * @client: the socket client
 * @host_and_port: the name and optionally port of the host to connect to
 * @default_port: the port to use when @host_and_port has none
 *
 * Connects to a host, like `g_socket_client_connect_to_host_async()`.
 *
 * Cancelling the future cancels the connection attempt; GIO closes the
 * socket it was connecting.
 *
 * Returns: (transfer full): a future resolving with a `GSocketConnection`
 */
GasyncFuture *
gasync_socket_client_connect_to_host (GSocketClient *client,
                                      const char    *host_and_port,
                                      guint16        default_port)
{
  GasyncFuture *future;

  gasync_return_rejected_if_fail (G_IS_SOCKET_CLIENT (client));
  gasync_return_rejected_if_fail (host_and_port != NULL);

  future = gio_future_new ("socket-client-connect-to-host", G_TYPE_SOCKET_CONNECTION,
                           finish_connect_to_host);
  g_socket_client_connect_to_host_async (client, host_and_port, default_port,
                                         CANCELLABLE (future), READY_CB, g_object_ref (future));
  return future;
}

static gboolean
finish_accept (GObject       *source_object,
               GAsyncResult  *result,
               GValue        *value,
               GError       **error)
{
  return set_object (value, g_socket_listener_accept_finish (G_SOCKET_LISTENER (source_object),
                                                             result, NULL, error));
}

/**
 * gasync_socket_listener_accept:
 * @listener: the listener, or a `GSocketService` that is not active
 *
 * Accepts the next incoming connection on any of @listener's sockets, like
 * `g_socket_listener_accept_async()`. A server awaits it in a loop and
 * hands each connection to a coroutine of its own.
 *
 * Cancelling the future stops waiting; a connection that arrives later is
 * left for the next accept.
 *
 * Returns: (transfer full): a future resolving with a `GSocketConnection`
 */
GasyncFuture *
gasync_socket_listener_accept (GSocketListener *listener)
{
  GasyncFuture *future;

  gasync_return_rejected_if_fail (G_IS_SOCKET_LISTENER (listener));

  future = gio_future_new ("socket-listener-accept", G_TYPE_SOCKET_CONNECTION, finish_accept);
  g_socket_listener_accept_async (listener, CANCELLABLE (future), READY_CB,
                                  g_object_ref (future));
  return future;
}

/* --- subprocesses ------------------------------------------------------ */

/* A future whose cancellation kills @subprocess. */
static GasyncFuture *
subprocess_future_new (const char  *name,
                       GType        value_type,
                       GSubprocess *subprocess)
{
  GasyncFuture *future = gio_future_new (name, value_type, NULL);

  GASYNC_GIO_FUTURE (future)->subprocess = g_object_ref (subprocess);
  return future;
}

/* After a cancellation request the child was killed: whatever the wait
 * says, the future ends cancelled. */
static void
settle_wait (GasyncFuture *future,
             gboolean      ok,
             GError       *error)
{
  if (gasync_future_is_cancel_requested (future))
    {
      g_clear_error (&error);
      gasync_future_settle (future, GASYNC_FUTURE_STATE_CANCELLED, NULL, NULL);
    }
  else if (ok)
    gasync_future_resolve_void (future);
  else
    gasync_future_take_error (future, error);
}

static void
subprocess_wait_cb (GObject      *source_object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GasyncFuture) future = user_data;
  GError *error = NULL;
  gboolean ok;

  ok = g_subprocess_wait_finish (G_SUBPROCESS (source_object), result, &error);
  settle_wait (future, ok, error);
}

static void
subprocess_wait_check_cb (GObject      *source_object,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  g_autoptr(GasyncFuture) future = user_data;
  GError *error = NULL;
  gboolean ok;

  ok = g_subprocess_wait_check_finish (G_SUBPROCESS (source_object), result, &error);
  settle_wait (future, ok, error);
}

/**
 * gasync_subprocess_wait:
 * @subprocess: the subprocess
 *
 * Waits for @subprocess to exit, like `g_subprocess_wait_async()`. Read its
 * exit status from @subprocess once the future is done.
 *
 * Cancelling the future **kills** the subprocess (with
 * `g_subprocess_force_exit()`), unlike cancelling GIO's wait, which leaves
 * it running; the future settles as cancelled once the subprocess is gone.
 *
 * Returns: (transfer full): a future resolving without a value
 */
GasyncFuture *
gasync_subprocess_wait (GSubprocess *subprocess)
{
  GasyncFuture *future;

  gasync_return_rejected_if_fail (G_IS_SUBPROCESS (subprocess));

  future = subprocess_future_new ("subprocess-wait", G_TYPE_INVALID, subprocess);
  g_subprocess_wait_async (subprocess, NULL, subprocess_wait_cb, g_object_ref (future));
  return future;
}

/**
 * gasync_subprocess_wait_check:
 * @subprocess: the subprocess
 *
 * Waits for @subprocess to exit, like `g_subprocess_wait_check_async()`:
 * the future rejects unless the subprocess exited with status 0.
 *
 * Cancelling the future kills the subprocess, as with
 * [func@subprocess_wait]; it then settles as cancelled.
 *
 * Returns: (transfer full): a future resolving without a value
 */
GasyncFuture *
gasync_subprocess_wait_check (GSubprocess *subprocess)
{
  GasyncFuture *future;

  gasync_return_rejected_if_fail (G_IS_SUBPROCESS (subprocess));

  future = subprocess_future_new ("subprocess-wait-check", G_TYPE_INVALID, subprocess);
  g_subprocess_wait_check_async (subprocess, NULL, subprocess_wait_check_cb,
                                 g_object_ref (future));
  return future;
}

typedef struct
{
  GasyncFuture *future;
  /* The stderr future of communicate_full(), or NULL. */
  GasyncFuture *stderr_future;
  GError       *error;
} Communicate;

static void
communicate_free (Communicate *op)
{
  g_clear_error (&op->error);
  g_clear_object (&op->stderr_future);
  g_clear_object (&op->future);
  g_free (op);
}

static void
communicate_reject (Communicate *op)
{
  if (op->stderr_future != NULL)
    gasync_future_reject (op->stderr_future, op->error);
  gasync_future_take_error (op->future, g_steal_pointer (&op->error));
  communicate_free (op);
}

static void
communicate_reaped_cb (GObject      *source_object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  Communicate *op = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source_object), result, NULL);
  communicate_reject (op);
}

static void
communicate_cb (GObject      *source_object,
                GAsyncResult *result,
                gpointer      user_data)
{
  Communicate *op = user_data;
  GBytes *stdout_buf = NULL;
  GBytes *stderr_buf = NULL;

  if (!g_subprocess_communicate_finish (G_SUBPROCESS (source_object), result,
                                        &stdout_buf, &stderr_buf, &op->error))
    {
      /* Cancelled: the request killed the child; settle once it is gone. */
      if (g_error_matches (op->error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_subprocess_wait_async (G_SUBPROCESS (source_object), NULL,
                                 communicate_reaped_cb, op);
      else
        communicate_reject (op);
      return;
    }

  if (op->stderr_future != NULL)
    resolve_take_boxed (op->stderr_future, G_TYPE_BYTES, g_steal_pointer (&stderr_buf));
  resolve_take_boxed (op->future, G_TYPE_BYTES, g_steal_pointer (&stdout_buf));
  g_clear_pointer (&stderr_buf, g_bytes_unref);
  communicate_free (op);
}

/**
 * gasync_subprocess_communicate:
 * @subprocess: a subprocess started with the pipes to use
 * @stdin_buf: (nullable): data to write to its standard input, which is
 *   then closed, or `NULL`
 *
 * Feeds @stdin_buf to @subprocess, reads its output and waits for it to
 * exit, like `g_subprocess_communicate_async()`.
 *
 * The future resolves with the standard output, a `GBytes`, or `NULL` when
 * it is not a pipe. Standard error, if it is a pipe, is read and dropped:
 * [func@subprocess_communicate_full] gives it too.
 *
 * Cancelling the future kills the subprocess, as with
 * [func@subprocess_wait]; it then settles as cancelled once the subprocess
 * is gone.
 *
 * Returns: (transfer full): a future resolving with the standard output
 */
GasyncFuture *
gasync_subprocess_communicate (GSubprocess *subprocess,
                               GBytes      *stdin_buf)
{
  return gasync_subprocess_communicate_full (subprocess, stdin_buf, NULL);
}

/**
 * gasync_subprocess_communicate_full:
 * @subprocess: a subprocess started with the pipes to use
 * @stdin_buf: (nullable): data to write to its standard input, or `NULL`
 * @stderr_future: (out) (optional) (transfer full): return location for a
 *   second future, resolving with the standard error
 *
 * Like [func@subprocess_communicate], with the standard error too: the
 * future in @stderr_future resolves with it, a `GBytes` (or `NULL` when it
 * is not a pipe), at the same time as the returned one resolves with the
 * standard output. Both settle the same way on failure, and cancelling
 * either cancels the whole operation.
 *
 * Returns: (transfer full): a future resolving with the standard output
 */
GasyncFuture *
gasync_subprocess_communicate_full (GSubprocess   *subprocess,
                                    GBytes        *stdin_buf,
                                    GasyncFuture **stderr_future)
{
  GasyncFuture *future;
  Communicate *op;

  /* Refused, both futures fail the same way, as on any other failure:
   * never a future for standard output and nothing for standard error. */
  if (G_UNLIKELY (!G_IS_SUBPROCESS (subprocess)) && stderr_future != NULL)
    *stderr_future = gasync_future_new_for_failed_check (G_STRFUNC,
                                                         "G_IS_SUBPROCESS (subprocess)");
  gasync_return_rejected_if_fail (G_IS_SUBPROCESS (subprocess));

  future = subprocess_future_new ("subprocess-communicate", G_TYPE_BYTES, subprocess);

  op = g_new0 (Communicate, 1);
  op->future = g_object_ref (future);
  if (stderr_future != NULL)
    {
      op->stderr_future = subprocess_future_new ("subprocess-communicate-stderr",
                                                 G_TYPE_BYTES, subprocess);
      /* One cancellable for both, so that cancelling either cancels both. */
      gasync_future_set_cancellable (op->stderr_future, CANCELLABLE (future));
      *stderr_future = g_object_ref (op->stderr_future);
    }

  g_subprocess_communicate_async (subprocess, stdin_buf, CANCELLABLE (future),
                                  communicate_cb, op);
  return future;
}

/* --- D-Bus ------------------------------------------------------------- */

static gboolean
set_variant (GValue   *value,
             GVariant *variant)
{
  if (variant == NULL)
    return FALSE;

  g_value_init (value, G_TYPE_VARIANT);
  g_value_take_variant (value, variant);
  return TRUE;
}

static gboolean
finish_dbus_connection_call (GObject       *source_object,
                             GAsyncResult  *result,
                             GValue        *value,
                             GError       **error)
{
  return set_variant (value, g_dbus_connection_call_finish (G_DBUS_CONNECTION (source_object),
                                                            result, error));
}

/**
 * gasync_dbus_connection_call:
 * @connection: the connection
 * @bus_name: (nullable): the unique or well-known name of the peer, or
 *   `NULL` on a peer-to-peer connection
 * @object_path: the path of the remote object
 * @interface_name: the D-Bus interface of the method
 * @method_name: the name of the method
 * @parameters: (nullable): a tuple with the parameters, or `NULL`; a
 *   floating reference is consumed
 * @reply_type: (nullable): the expected type of the reply (a tuple), or
 *   `NULL`
 * @flags: flags for the call
 * @timeout_msec: the timeout in milliseconds, -1 for the default or
 *   `G_MAXINT` for none
 *
 * Calls a D-Bus method, like `g_dbus_connection_call()`.
 *
 * The future resolves with the reply, a `GVariant` tuple; a D-Bus error
 * rejects it as GIO reports it. Cancelling the future stops waiting for
 * the reply.
 *
 * In C, read the reply with [func@await_value] and
 * `g_value_dup_variant()`.
 *
 * Returns: (transfer full): a future resolving with a `GVariant`
 */
GasyncFuture *
gasync_dbus_connection_call (GDBusConnection    *connection,
                             const char         *bus_name,
                             const char         *object_path,
                             const char         *interface_name,
                             const char         *method_name,
                             GVariant           *parameters,
                             const GVariantType *reply_type,
                             GDBusCallFlags      flags,
                             int                 timeout_msec)
{
  GasyncFuture *future;

  gasync_return_rejected_if_fail (G_IS_DBUS_CONNECTION (connection));

  future = gio_future_new ("dbus-connection-call", G_TYPE_VARIANT, finish_dbus_connection_call);
  g_dbus_connection_call (connection, bus_name, object_path, interface_name, method_name,
                          parameters, reply_type, flags, timeout_msec,
                          CANCELLABLE (future), READY_CB, g_object_ref (future));
  return future;
}

static gboolean
finish_dbus_proxy_call (GObject       *source_object,
                        GAsyncResult  *result,
                        GValue        *value,
                        GError       **error)
{
  return set_variant (value, g_dbus_proxy_call_finish (G_DBUS_PROXY (source_object), result, error));
}

/**
 * gasync_dbus_proxy_call:
 * @proxy: the proxy
 * @method_name: the name of the method, optionally prefixed with its
 *   interface
 * @parameters: (nullable): a tuple with the parameters, or `NULL`; a
 *   floating reference is consumed
 * @flags: flags for the call
 * @timeout_msec: the timeout in milliseconds, -1 for the proxy's default
 *   or `G_MAXINT` for none
 *
 * Calls a D-Bus method through a proxy, like `g_dbus_proxy_call()`.
 *
 * Returns: (transfer full): a future resolving with the reply, a
 *   `GVariant`
 */
GasyncFuture *
gasync_dbus_proxy_call (GDBusProxy     *proxy,
                        const char     *method_name,
                        GVariant       *parameters,
                        GDBusCallFlags  flags,
                        int             timeout_msec)
{
  GasyncFuture *future;

  gasync_return_rejected_if_fail (G_IS_DBUS_PROXY (proxy));
  gasync_return_rejected_if_fail (method_name != NULL);

  future = gio_future_new ("dbus-proxy-call", G_TYPE_VARIANT, finish_dbus_proxy_call);
  g_dbus_proxy_call (proxy, method_name, parameters, flags, timeout_msec,
                     CANCELLABLE (future), READY_CB, g_object_ref (future));
  return future;
}

/* --- names and applications -------------------------------------------- */

static gboolean
finish_lookup_by_name (GObject       *source_object,
                       GAsyncResult  *result,
                       GValue        *value,
                       GError       **error)
{
  GList *addresses;

  addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (source_object), result, error);
  if (addresses == NULL)
    return FALSE;

  return set_object (value, store_from_list (G_TYPE_INET_ADDRESS, addresses));
}

/**
 * gasync_resolver_lookup_by_name:
 * @resolver: the resolver, such as `g_resolver_get_default()`
 * @hostname: the host name to look up
 *
 * Resolves a host name to its addresses, like
 * `g_resolver_lookup_by_name_async()`.
 *
 * Returns: (transfer full): a future resolving with a `GListModel` of
 *   `GInetAddress`es
 */
GasyncFuture *
gasync_resolver_lookup_by_name (GResolver  *resolver,
                                const char *hostname)
{
  GasyncFuture *future;

  gasync_return_rejected_if_fail (G_IS_RESOLVER (resolver));
  gasync_return_rejected_if_fail (hostname != NULL);

  future = gio_future_new ("resolver-lookup-by-name", G_TYPE_LIST_MODEL, finish_lookup_by_name);
  g_resolver_lookup_by_name_async (resolver, hostname, CANCELLABLE (future), READY_CB,
                                   g_object_ref (future));
  return future;
}

static gboolean
finish_launch_default_for_uri (GObject       *source_object,
                               GAsyncResult  *result,
                               GValue        *value,
                               GError       **error)
{
  return set_void (g_app_info_launch_default_for_uri_finish (result, error));
}

/**
 * gasync_app_info_launch_default_for_uri:
 * @uri: the URI to show
 * @context: (nullable): the launch context, or `NULL`
 *
 * Opens @uri with the default application for its scheme or type, like
 * `g_app_info_launch_default_for_uri_async()` (through the desktop portal
 * when sandboxed).
 *
 * Returns: (transfer full): a future resolving without a value once the
 *   application was launched
 */
GasyncFuture *
gasync_app_info_launch_default_for_uri (const char        *uri,
                                        GAppLaunchContext *context)
{
  GasyncFuture *future;

  gasync_return_rejected_if_fail (uri != NULL);
  gasync_return_rejected_if_fail (context == NULL || G_IS_APP_LAUNCH_CONTEXT (context));

  future = gio_future_new ("app-info-launch-default-for-uri", G_TYPE_INVALID,
                           finish_launch_default_for_uri);
  g_app_info_launch_default_for_uri_async (uri, context, CANCELLABLE (future), READY_CB,
                                           g_object_ref (future));
  return future;
}
