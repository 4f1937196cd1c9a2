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
# include "gasync-gio.h"
# include "gasync-combinators.h"
# include "gasync-scope.h"
# include "gasync-source.h"
# include "gasync-thread.h"
# include "gasync-semaphore.h"
# include "gasync-channel.h"
#undef GASYNC_INSIDE
