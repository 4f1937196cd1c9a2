/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(GASYNC_INSIDE) && !defined(GASYNC_COMPILATION)
# error "Only <gasync/gasync.h> can be included directly."
#endif

#include <gio/gio.h>

#include "gasync-future.h"

G_BEGIN_DECLS

GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_future_new_for_source (GSource      *source) G_GNUC_WARN_UNUSED_RESULT;

GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_sleep                 (guint         ms) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_sleep_seconds         (guint         seconds) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_deadline              (gint64        monotonic_us) G_GNUC_WARN_UNUSED_RESULT;

#ifdef G_OS_UNIX
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_fd_ready              (int           fd,
                                            GIOCondition  condition) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_child_exited          (GPid          pid) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture *gasync_unix_signal           (int           signum) G_GNUC_WARN_UNUSED_RESULT;
#endif

G_END_DECLS
