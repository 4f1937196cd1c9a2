/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * gasync-scanner: a GTK 4 window that lists a folder tree and hashes every
 * file in it (size and SHA-256), a few files at a time, without ever making
 * the window wait.
 *
 * - The scan is one coroutine; each file is another. A GasyncSemaphore
 *   bounds how many files are being read at once.
 * - Each file is read and hashed on a worker by gasync_run_in_thread(): the
 *   main thread never waits for the disk, and gets one wake-up per file.
 * - The progress bar and the spinner are bound to the scan future's
 *   `progress` and `done` properties: no code updates them.
 * - The scan lives in a GasyncScope owned by the window: closing the window
 *   mid-scan cancels everything, and no callback registered through the
 *   scope runs after that, so nothing touches a widget that is gone.
 *
 * Test hooks: --screenshot FILE saves the window once the scan has finished;
 * --close-after-ms N closes the window N ms into the scan and exits 0 only
 * if everything was cancelled and released; --report-frames prints how
 * regularly GTK painted frames while the scan ran.
 */

#include <time.h>

#include <gtk/gtk.h>
#include <gasync/gasync.h>

#define SCAN_CONCURRENCY 8
/* GTK 4.8's list views keep up to about 200 row widgets: while they are
 * being created, rows join the list a few per frame, so that creating
 * their widgets never makes a frame late. */
#define WARMUP_ROWS      250
#define WARMUP_PER_FRAME 10

/* What the test hooks observe, outside of any window. */
static struct
{
  gboolean      window_gone;        /* the window was disposed */
  gboolean      window_finalized;
  guint         late_callbacks;     /* window callbacks run after dispose */
  GasyncFuture *scan;               /* the last scan started */
  guint         files_started;      /* file coroutines spawned */
  guint         files_finalized;    /* ...and finalized since */
  guint         files_total;
  guint         files_done;
  /* The frame clock while scanning: intervals between painted frames. */
  gint64        last_paint_us;
  gint64        last_paint_cpu_us;  /* main thread's CPU time then */
  gint64        max_interval_us;
  gint64        max_busy_us;        /* main thread's CPU time in one interval */
  gint64        sum_interval_us;
  guint         n_intervals;
  guint         n_late;             /* intervals over 50 ms */
  GString      *late;               /* when they happened */
} app;

/* --- a result: one row of the list ---------------------------------------- */

#define SCANNER_TYPE_RESULT (scanner_result_get_type ())
G_DECLARE_FINAL_TYPE (ScannerResult, scanner_result, SCANNER, RESULT, GObject)

struct _ScannerResult
{
  GObject  parent_instance;
  char    *path;
  char    *size;
  char    *digest;    /* or why there is none */
};

G_DEFINE_FINAL_TYPE (ScannerResult, scanner_result, G_TYPE_OBJECT)

static void
scanner_result_finalize (GObject *object)
{
  ScannerResult *self = SCANNER_RESULT (object);

  g_free (self->path);
  g_free (self->size);
  g_free (self->digest);
  G_OBJECT_CLASS (scanner_result_parent_class)->finalize (object);
}

static void
scanner_result_class_init (ScannerResultClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = scanner_result_finalize;
}

static void
scanner_result_init (ScannerResult *self)
{
}

/* --- the scan: coroutines only, no widgets --------------------------------- */

/* Shared by the scan coroutine, the file coroutines and the window, each
 * holding a reference: whichever ends last frees it. */
typedef struct
{
  GFile           *root;
  GasyncSemaphore *limit;
  GasyncFuture    *future;    /* the scan coroutine; weak */
  GPtrArray       *finished;  /* ScannerResults the window has not shown */
  gint64           start_us;
  guint            n_files;   /* found so far */
  guint            n_done;
  guint            n_failed;
  guint64          n_bytes;
  gboolean         listed;    /* n_files is final */
} Scan;

static Scan *
scan_ref (Scan *scan)
{
  return g_rc_box_acquire (scan);
}

static void
scan_clear (gpointer data)
{
  Scan *scan = data;

  g_object_unref (scan->root);
  g_object_unref (scan->limit);
  g_ptr_array_unref (scan->finished);
}

static void
scan_unref (gpointer scan)
{
  g_rc_box_release_full (scan, scan_clear);
}

typedef struct
{
  Scan    *scan;
  GFile   *file;
  char    *path;
  goffset  size;
} FileJob;

static void
file_job_free (gpointer data)
{
  FileJob *job = data;

  /* The permit goes back when the job ends, however it ends: even a job
   * cancelled before it started. */
  gasync_semaphore_release (job->scan->limit);
  scan_unref (job->scan);
  g_object_unref (job->file);
  g_free (job->path);
  g_free (job);
}

static void
file_finalized_cb (gpointer  data,
                   GObject  *where_the_object_was)
{
  app.files_finalized++;
}

/* Runs on a worker thread: plain blocking reads, stopping early when the
 * future is cancelled. */
static gboolean
hash_in_thread (GCancellable  *cancellable,
                gpointer       user_data,
                GValue        *result,
                GError       **error)
{
  g_autoptr(GFileInputStream) in = g_file_read (user_data, cancellable, error);
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guchar *buffer = g_malloc (256 * 1024);
  gssize n;

  if (in == NULL)
    return FALSE;
  while ((n = g_input_stream_read (G_INPUT_STREAM (in), buffer, 256 * 1024,
                                   cancellable, error)) > 0)
    g_checksum_update (checksum, buffer, n);
  if (n < 0)
    return FALSE;

  g_value_init (result, G_TYPE_STRING);
  g_value_set_string (result, g_checksum_get_string (checksum));
  return TRUE;
}

/* One file: hash it on a worker, hand the row to the window. */
static gboolean
hash_file_body (gpointer   user_data,
                GValue    *result,
                GError   **error)
{
  FileJob *job = user_data;
  Scan *scan = job->scan;
  ScannerResult *row;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *digest = NULL;

  digest = gasync_await_string (gasync_run_in_thread (hash_in_thread, g_object_ref (job->file),
                                                      g_object_unref),
                                &local_error);
  if (digest == NULL)
    {
      /* A cancellation ends the job; an unreadable file is a row. */
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      scan->n_failed++;
    }

  row = g_object_new (SCANNER_TYPE_RESULT, NULL);
  row->path = g_strdup (job->path);
  row->size = g_format_size (job->size);
  row->digest = digest ? g_steal_pointer (&digest) : g_strdup (local_error->message);
  g_ptr_array_add (scan->finished, row);

  scan->n_done++;
  scan->n_bytes += job->size;
  app.files_done = scan->n_done;
  gasync_future_set_progress (scan->future, (double) scan->n_done / scan->n_files);
  return TRUE;
}

#define ATTRIBUTES G_FILE_ATTRIBUTE_STANDARD_NAME "," G_FILE_ATTRIBUTE_STANDARD_TYPE "," \
                   G_FILE_ATTRIBUTE_STANDARD_SIZE

/* Lists the regular files under the root, breadth first, without following
 * symbolic links. Unreadable folders are skipped. */
static gboolean
list_files (Scan       *scan,
            GPtrArray  *jobs,
            GError    **error)
{
  g_autoptr(GPtrArray) folders = g_ptr_array_new_with_free_func (g_object_unref);

  g_ptr_array_add (folders, g_object_ref (scan->root));
  for (guint f = 0; f < folders->len; f++)
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

      for (;;)
        {
          g_autoptr(GListModel) batch = NULL;
          guint n;

          batch = gasync_await_object (gasync_file_enumerator_next_files (children, 200,
                                                                          G_PRIORITY_DEFAULT),
                                       error);
          if (batch == NULL)
            return FALSE;
          n = g_list_model_get_n_items (batch);
          if (n == 0)
            break;

          for (guint i = 0; i < n; i++)
            {
              g_autoptr(GFileInfo) info = g_list_model_get_item (batch, i);
              GFile *child = g_file_enumerator_get_child (children, info);

              if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
                {
                  g_ptr_array_add (folders, child);
                }
              else if (g_file_info_get_file_type (info) == G_FILE_TYPE_REGULAR)
                {
                  FileJob *job = g_new0 (FileJob, 1);

                  job->file = child;
                  job->path = g_file_get_relative_path (scan->root, child);
                  job->size = g_file_info_get_size (info);
                  g_ptr_array_add (jobs, job);
                  scan->n_files++;
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

static void
free_unstarted_job (gpointer data)
{
  FileJob *job = data;

  if (job == NULL)
    return;
  g_object_unref (job->file);
  g_free (job->path);
  g_free (job);
}

/* The scan: list, then start one coroutine per file, never more than
 * SCAN_CONCURRENCY at once: each waits for a permit before it is spawned,
 * so 50,000 files never mean 50,000 coroutines. */
static gboolean
scan_body (gpointer   user_data,
           GValue    *result,
           GError   **error)
{
  Scan *scan = user_data;
  g_autoptr(GPtrArray) jobs = g_ptr_array_new_with_free_func (free_unstarted_job);
  g_autoptr(GasyncScope) files = gasync_scope_new ();
  gboolean ok = TRUE;

  scan->future = GASYNC_FUTURE (gasync_coroutine_get_current ());
  if (!list_files (scan, jobs, error))
    return FALSE;
  scan->listed = TRUE;
  app.files_total = scan->n_files;

  for (guint i = 0; i < jobs->len; i++)
    {
      FileJob *job = g_ptr_array_index (jobs, i);
      GasyncCoroutine *co;

      ok = gasync_await (gasync_semaphore_acquire (scan->limit), error);
      if (!ok)
        break;

      job->scan = scan_ref (scan);
      g_ptr_array_index (jobs, i) = NULL;
      co = gasync_scope_spawn (files, "hash-file", hash_file_body, job, file_job_free);
      g_object_weak_ref (G_OBJECT (co), file_finalized_cb, NULL);
      app.files_started++;
    }

  /* Wait for the files in flight. Cancelled (the window closed, or the
   * Cancel button), cancel them too, and still wait: the scan ends only
   * once nothing of it runs any more. */
  if (ok && gasync_await (gasync_shield (gasync_scope_wait (files)), error))
    return TRUE;
  gasync_scope_cancel (files);
  gasync_await (gasync_scope_wait (files), NULL);
  return FALSE;
}

/* --- the window ------------------------------------------------------------ */

#define SCANNER_TYPE_WINDOW (scanner_window_get_type ())
G_DECLARE_FINAL_TYPE (ScannerWindow, scanner_window, SCANNER, WINDOW, GtkWindow)

struct _ScannerWindow
{
  GtkWindow       parent_instance;

  GasyncScope    *scope;       /* everything the window starts */
  GasyncFuture   *scan_future;
  Scan           *scan;
  GListStore     *results;
  char           *screenshot;  /* save the window here once scanned */

  GtkWidget      *spinner;
  GtkWidget      *status;
  GtkWidget      *progress;
  GtkWidget      *cancel;
  guint           flush_id;    /* tick callback moving rows into the list */
  guint           shot_id;     /* tick callback taking the screenshot */
  guint           shot_frames;
  gulong          paint_handler;
};

G_DEFINE_FINAL_TYPE (ScannerWindow, scanner_window, GTK_TYPE_WINDOW)

static void
update_status (ScannerWindow *self)
{
  Scan *scan = self->scan;
  g_autofree char *bytes = g_format_size (scan->n_bytes);
  g_autofree char *text = NULL;

  if (!scan->listed)
    text = g_strdup_printf ("Listing… %u files found", scan->n_files);
  else
    text = g_strdup_printf ("%u of %u files hashed, %s", scan->n_done, scan->n_files, bytes);
  gtk_label_set_text (GTK_LABEL (self->status), text);
}

/* Rows arrive one by one; the list gets them in one batch per frame. */
static void
flush_results (ScannerWindow *self,
               gboolean       all)
{
  GPtrArray *rows = self->scan->finished;
  guint shown = g_list_model_get_n_items (G_LIST_MODEL (self->results));
  guint n = shown < WARMUP_ROWS && !all ? MIN (rows->len, WARMUP_PER_FRAME) : rows->len;

  if (n > 0)
    {
      g_list_store_splice (self->results, shown, 0, rows->pdata, n);
      g_ptr_array_remove_range (rows, 0, n);
    }
  update_status (self);
}

static void
stop_flushing (ScannerWindow *self)
{
  if (self->flush_id != 0)
    gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->flush_id);
  self->flush_id = 0;
}

static gboolean
flush_tick_cb (GtkWidget     *widget,
               GdkFrameClock *clock,
               gpointer       user_data)
{
  flush_results (SCANNER_WINDOW (widget), FALSE);
  return G_SOURCE_CONTINUE;
}

/* The CPU time the calling thread has used. A late frame with little CPU
 * time behind it means the thread was not busy but waiting for a processor
 * that other processes held. */
static gint64
thread_cpu_time_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static void
after_paint_cb (GdkFrameClock *clock,
                ScannerWindow *self)
{
  gint64 now = g_get_monotonic_time ();
  gint64 cpu = thread_cpu_time_us ();

  /* Only frames painted while the scan runs count. */
  if (self->scan_future != NULL && !gasync_future_is_done (self->scan_future))
    {
      if (app.last_paint_us != 0)
        {
          gint64 interval = now - app.last_paint_us;

          app.max_interval_us = MAX (app.max_interval_us, interval);
          app.max_busy_us = MAX (app.max_busy_us, cpu - app.last_paint_cpu_us);
          app.sum_interval_us += interval;
          app.n_intervals++;
          if (interval > 50 * 1000)
            {
              if (app.n_late++ < 8)
                g_string_append_printf (app.late, " %.0f ms at %.2f s (%u files done, "
                                        "main thread busy %.0f ms of it);",
                                        interval / 1000.0,
                                        (now - self->scan->start_us) / 1e6, self->scan->n_done,
                                        (cpu - app.last_paint_cpu_us) / 1000.0);
            }
        }
      app.last_paint_us = now;
      app.last_paint_cpu_us = cpu;
    }
  else
    {
      app.last_paint_us = 0;
    }
}

/* Renders the window in-process, as the screen shows it, into a PNG. */
static gboolean
save_screenshot (ScannerWindow  *self,
                 GError        **error)
{
  int width = gtk_widget_get_width (GTK_WIDGET (self));
  int height = gtk_widget_get_height (GTK_WIDGET (self));
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (GTK_WIDGET (self));
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;

  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (snapshot);
  if (node == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Nothing to render");
      return FALSE;
    }
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (GTK_NATIVE (self)), node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  if (!gdk_texture_save_to_png (texture, self->screenshot))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Could not write %s", self->screenshot);
      return FALSE;
    }
  return TRUE;
}

/* Waits a few frames, so that the last rows are laid out, then shoots. */
static gboolean
screenshot_tick_cb (GtkWidget     *widget,
                    GdkFrameClock *clock,
                    gpointer       user_data)
{
  ScannerWindow *self = SCANNER_WINDOW (widget);
  g_autoptr(GError) error = NULL;

  if (++self->shot_frames < 3)
    return G_SOURCE_CONTINUE;

  self->shot_id = 0;
  if (save_screenshot (self, &error))
    g_print ("screenshot saved: %s\n", self->screenshot);
  else
    g_printerr ("screenshot failed: %s\n", error->message);
  gtk_window_destroy (GTK_WINDOW (self));
  return G_SOURCE_REMOVE;
}

/* Registered through the window's scope: never runs once the window is
 * disposed. */
static void
scan_done_cb (GasyncFuture *future,
              gpointer      user_data)
{
  ScannerWindow *self = user_data;
  Scan *scan = self->scan;
  g_autoptr(GError) error = NULL;
  g_autofree char *bytes = g_format_size (scan->n_bytes);
  g_autofree char *text = NULL;
  double seconds = (g_get_monotonic_time () - scan->start_us) / 1e6;

  if (app.window_gone)
    app.late_callbacks++;

  stop_flushing (self);
  flush_results (self, TRUE);
  gtk_widget_set_sensitive (self->cancel, FALSE);

  if (gasync_future_propagate_error (future, &error))
    {
      text = g_strdup_printf ("%u files, %s, hashed in %.1f s%s", scan->n_done, bytes, seconds,
                              scan->n_failed ? " (some unreadable)" : "");
      g_print ("scan finished: %u files, %s in %.2f s\n", scan->n_done, bytes, seconds);
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      text = g_strdup_printf ("Cancelled after %u of %u files", scan->n_done, scan->n_files);
      g_print ("scan cancelled: %u of %u files\n", scan->n_done, scan->n_files);
    }
  else
    {
      text = g_strdup_printf ("Failed: %s", error->message);
      g_print ("scan failed: %s\n", error->message);
    }
  gtk_label_set_text (GTK_LABEL (self->status), text);

  if (self->screenshot != NULL)
    self->shot_id = gtk_widget_add_tick_callback (GTK_WIDGET (self), screenshot_tick_cb,
                                                  NULL, NULL);
}

static gboolean
progress_to_fraction (GBinding     *binding,
                      const GValue *from,
                      GValue       *to,
                      gpointer      user_data)
{
  /* -1 means unknown (still listing): show an empty bar. */
  g_value_set_double (to, MAX (g_value_get_double (from), 0.0));
  return TRUE;
}

static void
scanner_window_start (ScannerWindow *self,
                      GFile         *root)
{
  self->scan = g_rc_box_new0 (Scan);
  self->scan->root = g_object_ref (root);
  self->scan->limit = gasync_semaphore_new (SCAN_CONCURRENCY);
  self->scan->finished = g_ptr_array_new_with_free_func (g_object_unref);
  self->scan->start_us = g_get_monotonic_time ();

  /* The scope owns the coroutine: closing the window cancels it. */
  self->scan_future = g_object_ref (GASYNC_FUTURE (gasync_scope_spawn (self->scope, "scan",
                                                                       scan_body,
                                                                       scan_ref (self->scan),
                                                                       scan_unref)));
  g_set_object (&app.scan, self->scan_future);

  /* The widgets follow the future by themselves. */
  g_object_bind_property_full (self->scan_future, "progress", self->progress, "fraction",
                               G_BINDING_SYNC_CREATE, progress_to_fraction, NULL, NULL, NULL);
  g_object_bind_property (self->scan_future, "done", self->spinner, "spinning",
                          G_BINDING_SYNC_CREATE | G_BINDING_INVERT_BOOLEAN);
  gasync_scope_add_done_callback (self->scope, self->scan_future, scan_done_cb, self, NULL);

  self->flush_id = gtk_widget_add_tick_callback (GTK_WIDGET (self), flush_tick_cb, NULL, NULL);
}

static void
cancel_clicked_cb (GtkButton     *button,
                   ScannerWindow *self)
{
  gasync_future_cancel (self->scan_future);
}

static void
scanner_window_realize (GtkWidget *widget)
{
  ScannerWindow *self = SCANNER_WINDOW (widget);

  GTK_WIDGET_CLASS (scanner_window_parent_class)->realize (widget);
  self->paint_handler = g_signal_connect (gtk_widget_get_frame_clock (widget), "after-paint",
                                          G_CALLBACK (after_paint_cb), self);
}

static void
scanner_window_unrealize (GtkWidget *widget)
{
  ScannerWindow *self = SCANNER_WINDOW (widget);

  g_clear_signal_handler (&self->paint_handler, gtk_widget_get_frame_clock (widget));
  GTK_WIDGET_CLASS (scanner_window_parent_class)->unrealize (widget);
}

static void
scanner_window_dispose (GObject *object)
{
  ScannerWindow *self = SCANNER_WINDOW (object);

  app.window_gone = TRUE;
  stop_flushing (self);
  if (self->shot_id != 0)
    gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->shot_id);
  self->shot_id = 0;
  g_clear_object (&self->scan_future);
  g_clear_object (&self->results);
  g_clear_pointer (&self->scan, scan_unref);
  g_clear_pointer (&self->screenshot, g_free);
  /* Releasing the scope here is safe: what is still running in it keeps it
   * alive, and its weak reference on the window cancels it when this
   * dispose chains up. */
  g_clear_object (&self->scope);

  G_OBJECT_CLASS (scanner_window_parent_class)->dispose (object);
}

static void
scanner_window_class_init (ScannerWindowClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = scanner_window_dispose;
  GTK_WIDGET_CLASS (klass)->realize = scanner_window_realize;
  GTK_WIDGET_CLASS (klass)->unrealize = scanner_window_unrealize;
}

/* The list's cells: column 0 the path, 1 the size, 2 the digest. */
static void
setup_cell_cb (GtkSignalListItemFactory *factory,
               GtkListItem              *item,
               gpointer                  column)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), GPOINTER_TO_INT (column) == 1 ? 1.0 : 0.0);
  gtk_label_set_ellipsize (GTK_LABEL (label), GPOINTER_TO_INT (column) == 0
                                              ? PANGO_ELLIPSIZE_START : PANGO_ELLIPSIZE_END);
  if (GPOINTER_TO_INT (column) == 2)
    gtk_widget_add_css_class (label, "monospace");
  gtk_list_item_set_child (item, label);
}

static void
bind_cell_cb (GtkSignalListItemFactory *factory,
              GtkListItem              *item,
              gpointer                  column)
{
  ScannerResult *row = gtk_list_item_get_item (item);
  const char *text[] = { row->path, row->size, row->digest };

  gtk_label_set_text (GTK_LABEL (gtk_list_item_get_child (item)), text[GPOINTER_TO_INT (column)]);
}

static void
add_column (GtkColumnView *view,
            const char    *title,
            int            column,
            int            width)
{
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
  g_autoptr(GtkColumnViewColumn) col = NULL;

  g_signal_connect (factory, "setup", G_CALLBACK (setup_cell_cb), GINT_TO_POINTER (column));
  g_signal_connect (factory, "bind", G_CALLBACK (bind_cell_cb), GINT_TO_POINTER (column));
  col = gtk_column_view_column_new (title, factory);
  if (width > 0)
    gtk_column_view_column_set_fixed_width (col, width);
  else
    gtk_column_view_column_set_expand (col, TRUE);
  gtk_column_view_column_set_resizable (col, TRUE);
  gtk_column_view_append_column (view, col);
}

static void
scanner_window_init (ScannerWindow *self)
{
  GtkWidget *header = gtk_header_bar_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  GtkWidget *scroller = gtk_scrolled_window_new ();
  GtkNoSelection *model;
  GtkWidget *view;

  self->scope = gasync_scope_new_for_owner (G_OBJECT (self));
  self->results = g_list_store_new (SCANNER_TYPE_RESULT);

  gtk_window_set_default_size (GTK_WINDOW (self), 960, 620);
  gtk_window_set_titlebar (GTK_WINDOW (self), header);
  self->cancel = gtk_button_new_with_mnemonic ("_Cancel");
  g_signal_connect (self->cancel, "clicked", G_CALLBACK (cancel_clicked_cb), self);
  gtk_header_bar_pack_end (GTK_HEADER_BAR (header), self->cancel);

  self->spinner = gtk_spinner_new ();
  self->status = gtk_label_new (NULL);
  gtk_label_set_xalign (GTK_LABEL (self->status), 0.0);
  gtk_box_append (GTK_BOX (row), self->spinner);
  gtk_box_append (GTK_BOX (row), self->status);

  self->progress = gtk_progress_bar_new ();
  gtk_progress_bar_set_show_text (GTK_PROGRESS_BAR (self->progress), TRUE);

  model = gtk_no_selection_new (g_object_ref (G_LIST_MODEL (self->results)));
  view = gtk_column_view_new (GTK_SELECTION_MODEL (model));
  gtk_column_view_set_show_column_separators (GTK_COLUMN_VIEW (view), TRUE);
  add_column (GTK_COLUMN_VIEW (view), "File", 0, 0);
  add_column (GTK_COLUMN_VIEW (view), "Size", 1, 90);
  add_column (GTK_COLUMN_VIEW (view), "SHA-256", 2, 330);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), view);
  gtk_widget_set_vexpand (scroller, TRUE);
  gtk_widget_add_css_class (scroller, "frame");

  gtk_widget_set_margin_start (box, 12);
  gtk_widget_set_margin_end (box, 12);
  gtk_widget_set_margin_top (box, 12);
  gtk_widget_set_margin_bottom (box, 12);
  gtk_box_append (GTK_BOX (box), row);
  gtk_box_append (GTK_BOX (box), self->progress);
  gtk_box_append (GTK_BOX (box), scroller);
  gtk_window_set_child (GTK_WINDOW (self), box);
}

static ScannerWindow *
scanner_window_new (GFile      *root,
                    const char *screenshot)
{
  ScannerWindow *self = g_object_new (SCANNER_TYPE_WINDOW, NULL);
  g_autofree char *where = g_file_get_parse_name (root);
  g_autofree char *title = g_strdup_printf ("gasync scanner — %s", where);

  gtk_window_set_title (GTK_WINDOW (self), title);
  self->screenshot = g_strdup (screenshot);
  scanner_window_start (self, root);
  return self;
}

/* --- main ---------------------------------------------------------------- */

static void
window_finalized_cb (gpointer  data,
                     GObject  *where_the_object_was)
{
  app.window_finalized = TRUE;
}

static gboolean
close_window_cb (gpointer window)
{
  g_print ("closing the window mid-scan: %u of %u files hashed\n", app.files_done, app.files_total);
  gtk_window_close (window);
  return G_SOURCE_REMOVE;
}

/* After --close-after-ms: was everything cancelled and released? */
static gboolean
check_clean_close (void)
{
  GasyncFutureState state = gasync_future_get_state (app.scan);

  g_print ("after close: scan %s; %u file coroutines started, %u finalized; "
           "window %s; %u callbacks after close\n",
           state == GASYNC_FUTURE_STATE_CANCELLED ? "cancelled" :
           state == GASYNC_FUTURE_STATE_RESOLVED ? "finished (not cancelled)" : "not cancelled",
           app.files_started, app.files_finalized,
           app.window_finalized ? "finalized" : "NOT finalized", app.late_callbacks);

  return state == GASYNC_FUTURE_STATE_CANCELLED &&
         app.files_started == app.files_finalized &&
         app.window_finalized && app.late_callbacks == 0;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GFile) root = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *screenshot = NULL;
  gboolean report_frames = FALSE;
  int close_after_ms = 0;
  ScannerWindow *window;
  int status = 0;
  gint64 deadline;
  const GOptionEntry entries[] = {
    { "dir", 'd', 0, G_OPTION_ARG_FILENAME, &dir,
      "Folder to scan (default: /usr/share/doc)", "PATH" },
    { "screenshot", 0, 0, G_OPTION_ARG_FILENAME, &screenshot,
      "Save the window as a PNG once the scan has finished, then quit", "FILE" },
    { "close-after-ms", 0, 0, G_OPTION_ARG_INT, &close_after_ms,
      "Close the window N ms into the scan; exit 0 if all was cancelled cleanly", "N" },
    { "report-frames", 0, 0, G_OPTION_ARG_NONE, &report_frames,
      "Print the longest interval between painted frames during the scan", NULL },
    G_OPTION_ENTRY_NULL
  };

  options = g_option_context_new (NULL);
  g_option_context_set_summary (options, "Scans a folder (size and SHA-256 of every file) in a "
                                         "GTK window, with gasync coroutines.");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }

  gtk_init ();
  app.late = g_string_new (NULL);
  root = g_file_new_for_commandline_arg (dir ? dir : "/usr/share/doc");
  window = scanner_window_new (root, screenshot);
  g_object_weak_ref (G_OBJECT (window), window_finalized_cb, NULL);
  gtk_window_present (GTK_WINDOW (window));
  if (close_after_ms > 0)
    g_timeout_add (close_after_ms, close_window_cb, window);

  /* GTK drops its reference when the window is destroyed (closed). */
  while (!app.window_gone)
    g_main_context_iteration (NULL, TRUE);

  /* Whatever the window started ends now, without it: wait for the scan,
   * then give its coroutines a moment to be released. */
  gasync_future_wait (app.scan, NULL);
  deadline = g_get_monotonic_time () + G_USEC_PER_SEC;
  while ((app.files_finalized < app.files_started || !app.window_finalized) &&
         g_get_monotonic_time () < deadline)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }

  if (report_frames)
    g_print ("frames while scanning: %u intervals, longest %.1f ms, mean %.1f ms, "
             "%u longer than 50 ms; the main thread was never busy more than %.1f ms "
             "between two frames\n",
             app.n_intervals, app.max_interval_us / 1000.0,
             app.n_intervals ? app.sum_interval_us / 1000.0 / app.n_intervals : 0.0,
             app.n_late, app.max_busy_us / 1000.0);
  if (report_frames && app.n_late > 0)
    g_print ("late frames:%s\n", app.late->str);

  if (close_after_ms > 0 && !check_clean_close ())
    status = 1;
  if (screenshot != NULL && gasync_future_get_state (app.scan) != GASYNC_FUTURE_STATE_RESOLVED)
    status = 1;

  g_clear_object (&app.scan);
  g_string_free (app.late, TRUE);
  return status;
}
