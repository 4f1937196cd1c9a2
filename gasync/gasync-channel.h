/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(GASYNC_INSIDE) && !defined(GASYNC_COMPILATION)
# error "Only <gasync/gasync.h> can be included directly."
#endif

#include <glib-object.h>

#include "gasync-future.h"

G_BEGIN_DECLS

#define GASYNC_TYPE_CHANNEL (gasync_channel_get_type ())

GASYNC_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (GasyncChannel, gasync_channel, GASYNC, CHANNEL, GObject)

GASYNC_AVAILABLE_IN_ALL
GasyncChannel *gasync_channel_new          (guint          capacity) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
guint          gasync_channel_get_capacity (GasyncChannel *self);
GASYNC_AVAILABLE_IN_ALL
guint          gasync_channel_get_length   (GasyncChannel *self);
GASYNC_AVAILABLE_IN_ALL
gboolean       gasync_channel_is_closed    (GasyncChannel *self);
GASYNC_AVAILABLE_IN_ALL
GasyncFuture  *gasync_channel_send         (GasyncChannel *self,
                                            const GValue  *value) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncFuture  *gasync_channel_receive      (GasyncChannel *self) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
void           gasync_channel_close        (GasyncChannel *self);

G_END_DECLS
