/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "gasync-error.h"

G_DEFINE_QUARK (gasync-error-quark, gasync_error)
