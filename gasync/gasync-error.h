/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(GASYNC_INSIDE) && !defined(GASYNC_COMPILATION)
# error "Only <gasync/gasync.h> can be included directly."
#endif

#include <glib.h>

#include "gasync-version-macros.h"

G_BEGIN_DECLS

/**
 * GASYNC_ERROR:
 *
 * The error domain of gasync's own errors.
 *
 * Cancellation is never reported in this domain: it is always
 * `G_IO_ERROR_CANCELLED`, and timeouts are `G_IO_ERROR_TIMED_OUT`, so one
 * `g_error_matches()` works for gasync and GIO alike.
 */
#define GASYNC_ERROR (gasync_error_quark ())

/**
 * GasyncError:
 * @GASYNC_ERROR_FAILED: a generic failure; unknown codes mean this too
 * @GASYNC_ERROR_INVALID_STATE: the future is in a state that does not allow
 *   the operation, such as reading the value of a pending future
 * @GASYNC_ERROR_TYPE_MISMATCH: a typed accessor was used on a future whose
 *   value has another type
 * @GASYNC_ERROR_NOT_IN_COROUTINE: an operation that suspends the caller was
 *   called outside a coroutine
 * @GASYNC_ERROR_IN_COROUTINE: an operation that blocks or iterates a main
 *   context was called inside a coroutine, where it would stall every other
 *   coroutine of that context
 * @GASYNC_ERROR_CLOSED: the object (a channel, a scope) was closed
 *
 * Error codes of the [error@Gasync.Error] domain.
 */
typedef enum
{
  GASYNC_ERROR_FAILED,
  GASYNC_ERROR_INVALID_STATE,
  GASYNC_ERROR_TYPE_MISMATCH,
  GASYNC_ERROR_NOT_IN_COROUTINE,
  GASYNC_ERROR_IN_COROUTINE,
  GASYNC_ERROR_CLOSED,
} GasyncError;

GASYNC_AVAILABLE_IN_ALL
GQuark gasync_error_quark (void);

G_END_DECLS
