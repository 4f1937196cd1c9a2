/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(GASYNC_INSIDE) && !defined(GASYNC_COMPILATION)
# error "Only <gasync/gasync.h> can be included directly."
#endif

#include "gasync-coroutine.h"
#include "gasync-future.h"

G_BEGIN_DECLS

#define GASYNC_TYPE_SCOPE (gasync_scope_get_type ())

GASYNC_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (GasyncScope, gasync_scope, GASYNC, SCOPE, GObject)

GASYNC_AVAILABLE_IN_ALL
GasyncScope     *gasync_scope_new                (void) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncScope     *gasync_scope_new_for_owner      (GObject              *owner) G_GNUC_WARN_UNUSED_RESULT;
GASYNC_AVAILABLE_IN_ALL
GasyncScope     *gasync_scope_new_child          (GasyncScope          *parent) G_GNUC_WARN_UNUSED_RESULT;

GASYNC_AVAILABLE_IN_ALL
void             gasync_scope_add                (GasyncScope          *self,
                                                  GasyncFuture         *future);
GASYNC_AVAILABLE_IN_ALL
GasyncCoroutine *gasync_scope_spawn              (GasyncScope          *self,
                                                  const char           *name,
                                                  GasyncCoroutineFunc   func,
                                                  gpointer              user_data,
                                                  GDestroyNotify        destroy);
GASYNC_AVAILABLE_IN_ALL
GasyncCoroutine *gasync_scope_spawn_stepped      (GasyncScope          *self,
                                                  const char           *name,
                                                  GasyncCoroutineStepFunc func,
                                                  gpointer              user_data,
                                                  GDestroyNotify        destroy);
GASYNC_AVAILABLE_IN_ALL
void             gasync_scope_add_done_callback  (GasyncScope          *self,
                                                  GasyncFuture         *future,
                                                  GasyncFutureCallback  callback,
                                                  gpointer              user_data,
                                                  GDestroyNotify        destroy);
GASYNC_AVAILABLE_IN_ALL
void             gasync_scope_cancel             (GasyncScope          *self);
GASYNC_AVAILABLE_IN_ALL
gboolean         gasync_scope_is_cancelled       (GasyncScope          *self);
GASYNC_AVAILABLE_IN_ALL
guint            gasync_scope_get_n_pending      (GasyncScope          *self);
GASYNC_AVAILABLE_IN_ALL
GasyncFuture    *gasync_scope_wait               (GasyncScope          *self) G_GNUC_WARN_UNUSED_RESULT;

GASYNC_AVAILABLE_IN_ALL
void             gasync_future_bind_owner        (GasyncFuture         *future,
                                                  GObject              *owner);

G_END_DECLS
