/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(GASYNC_INSIDE) && !defined(GASYNC_COMPILATION)
# error "Only <gasync/gasync.h> can be included directly."
#endif

#include "gasync-future.h"

G_BEGIN_DECLS

GASYNC_AVAILABLE_IN_ALL
gboolean  gasync_await         (GasyncFuture  *future,
                                GError       **error);
GASYNC_AVAILABLE_IN_ALL
gboolean  gasync_await_value   (GasyncFuture  *future,
                                GValue        *value,
                                GError       **error);
GASYNC_AVAILABLE_IN_ALL
gboolean  gasync_await_boolean (GasyncFuture  *future,
                                GError       **error);
GASYNC_AVAILABLE_IN_ALL
int       gasync_await_int     (GasyncFuture  *future,
                                GError       **error);
GASYNC_AVAILABLE_IN_ALL
gint64    gasync_await_int64   (GasyncFuture  *future,
                                GError       **error);
GASYNC_AVAILABLE_IN_ALL
guint64   gasync_await_uint64  (GasyncFuture  *future,
                                GError       **error);
GASYNC_AVAILABLE_IN_ALL
double    gasync_await_double  (GasyncFuture  *future,
                                GError       **error);
GASYNC_AVAILABLE_IN_ALL
char     *gasync_await_string  (GasyncFuture  *future,
                                GError       **error) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
gpointer  gasync_await_object  (GasyncFuture  *future,
                                GError       **error) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
gpointer  gasync_await_boxed   (GasyncFuture  *future,
                                GType          boxed_type,
                                GError       **error) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
gpointer  gasync_await_pointer (GasyncFuture  *future,
                                GError       **error) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
gboolean  gasync_yield         (GError       **error);

G_END_DECLS
