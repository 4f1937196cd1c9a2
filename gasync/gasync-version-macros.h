/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(GASYNC_INSIDE) && !defined(GASYNC_COMPILATION)
# error "Only <gasync/gasync.h> can be included directly."
#endif

#include <glib.h>

#include "gasync-version.h"

#ifndef _GASYNC_EXTERN
# define _GASYNC_EXTERN extern
#endif

/**
 * GASYNC_DEPRECATED:
 *
 * Marks a symbol as deprecated: using it warns at compile time, unless
 * `GASYNC_DISABLE_DEPRECATION_WARNINGS` is defined.
 */

/**
 * GASYNC_DEPRECATED_FOR:
 * @f: the symbol to use instead
 *
 * Marks a symbol as deprecated in favour of @f: using it warns at compile
 * time, naming @f, unless `GASYNC_DISABLE_DEPRECATION_WARNINGS` is defined.
 */

/**
 * GASYNC_UNAVAILABLE:
 * @maj: the major version that introduced the symbol
 * @min: the minor version that introduced the symbol
 *
 * Marks a symbol as newer than `GASYNC_VERSION_MAX_ALLOWED`: using it warns
 * at compile time, unless `GASYNC_DISABLE_DEPRECATION_WARNINGS` is defined.
 */
#ifdef GASYNC_DISABLE_DEPRECATION_WARNINGS
# define GASYNC_DEPRECATED _GASYNC_EXTERN
# define GASYNC_DEPRECATED_FOR(f) _GASYNC_EXTERN
# define GASYNC_UNAVAILABLE(maj,min) _GASYNC_EXTERN
#else
# define GASYNC_DEPRECATED G_DEPRECATED _GASYNC_EXTERN
# define GASYNC_DEPRECATED_FOR(f) G_DEPRECATED_FOR (f) _GASYNC_EXTERN
# define GASYNC_UNAVAILABLE(maj,min) G_UNAVAILABLE (maj, min) _GASYNC_EXTERN
#endif

#define GASYNC_VERSION_0_1 (G_ENCODE_VERSION (0, 1))

#if (GASYNC_MINOR_VERSION % 2)
# define GASYNC_VERSION_CUR_STABLE (G_ENCODE_VERSION (GASYNC_MAJOR_VERSION, GASYNC_MINOR_VERSION + 1))
#else
# define GASYNC_VERSION_CUR_STABLE (G_ENCODE_VERSION (GASYNC_MAJOR_VERSION, GASYNC_MINOR_VERSION))
#endif

#if (GASYNC_MINOR_VERSION % 2)
# define GASYNC_VERSION_PREV_STABLE (G_ENCODE_VERSION (GASYNC_MAJOR_VERSION, GASYNC_MINOR_VERSION - 1))
#else
# define GASYNC_VERSION_PREV_STABLE (G_ENCODE_VERSION (GASYNC_MAJOR_VERSION, GASYNC_MINOR_VERSION - 2))
#endif

/**
 * GASYNC_VERSION_MIN_REQUIRED:
 *
 * Define before including `gasync.h` to the oldest gasync version whose API
 * the application targets; deprecation warnings are only emitted for API
 * deprecated at or before that version.
 */
#ifndef GASYNC_VERSION_MIN_REQUIRED
# define GASYNC_VERSION_MIN_REQUIRED (GASYNC_VERSION_CUR_STABLE)
#endif

/**
 * GASYNC_VERSION_MAX_ALLOWED:
 *
 * Define before including `gasync.h` to the newest gasync version whose API
 * the application may use; newer symbols then warn at compile time.
 */
#ifndef GASYNC_VERSION_MAX_ALLOWED
# if GASYNC_VERSION_MIN_REQUIRED > GASYNC_VERSION_PREV_STABLE
#  define GASYNC_VERSION_MAX_ALLOWED (GASYNC_VERSION_MIN_REQUIRED)
# else
#  define GASYNC_VERSION_MAX_ALLOWED (GASYNC_VERSION_CUR_STABLE)
# endif
#endif

#define GASYNC_AVAILABLE_IN_ALL _GASYNC_EXTERN

/**
 * GASYNC_DEPRECATED_IN_0_1:
 *
 * Marks a symbol as deprecated since gasync 0.1: using it warns at compile
 * time when `GASYNC_VERSION_MIN_REQUIRED` is 0.1 or later.
 */

/**
 * GASYNC_DEPRECATED_IN_0_1_FOR:
 * @f: the symbol to use instead
 *
 * Marks a symbol as deprecated since gasync 0.1 in favour of @f: using it
 * warns at compile time when `GASYNC_VERSION_MIN_REQUIRED` is 0.1 or later.
 */
#if GASYNC_VERSION_MIN_REQUIRED >= GASYNC_VERSION_0_1
# define GASYNC_DEPRECATED_IN_0_1 GASYNC_DEPRECATED
# define GASYNC_DEPRECATED_IN_0_1_FOR(f) GASYNC_DEPRECATED_FOR (f)
#else
# define GASYNC_DEPRECATED_IN_0_1 _GASYNC_EXTERN
# define GASYNC_DEPRECATED_IN_0_1_FOR(f) _GASYNC_EXTERN
#endif

#if GASYNC_VERSION_MAX_ALLOWED < GASYNC_VERSION_0_1
# define GASYNC_AVAILABLE_IN_0_1 GASYNC_UNAVAILABLE (0, 1)
#else
# define GASYNC_AVAILABLE_IN_0_1 _GASYNC_EXTERN
#endif
