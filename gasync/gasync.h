/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#define GASYNC_INSIDE
# include "gasync-version.h"
# include "gasync-version-macros.h"
# include "gasync-enum-types.h"
# include "gasync-error.h"
# include "gasync-future.h"
# include "gasync-coroutine.h"
# include "gasync-await.h"
#undef GASYNC_INSIDE
