/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "gasync-error.h"

/**
 * gasync_error_quark:
 *
 * Gets the quark of the [error@Gasync.Error] domain.
 *
 * Returns: the error domain quark
 */
G_DEFINE_QUARK (gasync-error-quark, gasync_error)
