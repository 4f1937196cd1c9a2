#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Installs the build into a temporary DESTDIR (`meson install --destdir
--no-rebuild`, which leaves the build's configuration alone), then runs a
Python script and a GJS script against the installed copy only: library,
typelib, Python override and GJS module all from the DESTDIR; and builds
and runs a C program with the installed headers and gasync-1.pc. Prints
TAP.

Usage: test-install.py --meson=MESON --builddir=DIR [--gjs=GJS]
    [--cc=CC...] [--cflag=FLAG...]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def installed_paths(meson, builddir, destdir):
    """Where the files this test needs were installed, inside @destdir."""
    out = subprocess.run([meson, 'introspect', builddir, '--installed'],
                         check=True, capture_output=True, text=True).stdout
    wanted = {}
    for dest in json.loads(out).values():
        base = os.path.basename(dest)
        if base == 'Gasync-1.typelib':
            wanted['typelib'] = dest
        elif base == 'Gasync.py':
            wanted['override'] = dest
        elif base == 'gasync.js':
            wanted['gjs_module'] = dest
        elif base.startswith('libgasync-1.so'):
            wanted['library'] = dest
        elif base == 'gasync-1.pc':
            wanted['pkgconfig'] = dest
    missing = {'typelib', 'override', 'gjs_module', 'library', 'pkgconfig'} - set(wanted)
    if missing:
        raise RuntimeError(f'not installed: {", ".join(sorted(missing))}')
    return {key: destdir + path for key, path in wanted.items()}


C_PROGRAM = r'''
#include <gasync/gasync.h>

static gboolean
body (gpointer user_data, GValue *result, GError **error)
{
  int value = gasync_await_int (gasync_future_new_resolved_int (21), error);

  if (*error != NULL)
    return FALSE;
  g_value_init (result, G_TYPE_INT);
  g_value_set_int (result, 2 * value);
  return TRUE;
}

int
main (void)
{
  g_autoptr(GasyncCoroutine) coroutine = gasync_coroutine_spawn ("c", body, NULL, NULL);
  g_autoptr(GError) error = NULL;

  if (!gasync_future_wait (GASYNC_FUTURE (coroutine), &error))
    return 1;
  return gasync_future_get_int (GASYNC_FUTURE (coroutine), NULL) == 42 ? 0 : 1;
}
'''


def build_c_program(options, paths, destdir, env):
    """Compiles C_PROGRAM with the installed gasync-1.pc, headers and
    library, and runs it; returns (ok, output lines)."""
    tmp = os.path.join(destdir, 'c-check')
    os.makedirs(tmp)
    source = os.path.join(tmp, 'check.c')
    with open(source, 'w') as f:
        f.write(C_PROGRAM)
    pc_env = dict(env, PKG_CONFIG_PATH=os.path.dirname(paths['pkgconfig']))
    pc_env.pop('LD_PRELOAD', None)
    flags = subprocess.run(['pkg-config', '--cflags', '--libs', 'gasync-1'],
                           env=pc_env, capture_output=True, text=True)
    if flags.returncode != 0:
        return False, flags.stderr.splitlines()
    # The .pc names the final prefix: point its -I and -L folders that exist
    # in the DESTDIR there (GLib's own stay where they are).
    staged = []
    for flag in flags.stdout.split():
        option, path = flag[:2], flag[2:]
        if option in ('-I', '-L') and os.path.isdir(destdir + path):
            flag = option + destdir + path
        staged.append(flag)
    exe = os.path.join(tmp, 'check')
    command = options.cc + options.cflag + [source, '-o', exe] + staged
    result = subprocess.run(command, env=pc_env, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        return False, [' '.join(command)] + (result.stdout + result.stderr).splitlines()
    result = subprocess.run([exe], env=env, capture_output=True, text=True, timeout=30)
    return result.returncode == 0, (result.stdout + result.stderr).splitlines()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--meson', required=True)
    parser.add_argument('--builddir', required=True)
    parser.add_argument('--gjs')
    parser.add_argument('--cc', action='append', default=[])
    parser.add_argument('--cflag', action='append', default=[])
    options = parser.parse_args()
    meson, builddir, gjs = options.meson, options.builddir, options.gjs
    print('1..4', flush=True)

    with tempfile.TemporaryDirectory(prefix='gasync-install-') as destdir:
        result = subprocess.run([meson, 'install', '-C', builddir, '--no-rebuild',
                                 '--quiet', '--destdir', destdir],
                                capture_output=True, text=True)
        if result.returncode != 0:
            for line in (result.stdout + result.stderr).splitlines():
                print(f'# {line}')
            print('not ok 1 - meson install --destdir')
            print('ok 2 - Python against the installed copy # SKIP not installed')
            print('ok 3 - GJS against the installed copy # SKIP not installed')
            print('ok 4 - C with the installed gasync-1.pc # SKIP not installed')
            return 1
        paths = installed_paths(meson, builddir, destdir)
        for key, path in sorted(paths.items()):
            print(f'# {key}: {os.path.relpath(path, destdir)}')
        print('ok 1 - meson install --destdir', flush=True)

        env = dict(os.environ)
        for var in ('GI_TYPELIB_PATH', 'LD_LIBRARY_PATH', 'PYTHONPATH'):
            env.pop(var, None)
        env['GI_TYPELIB_PATH'] = os.path.dirname(paths['typelib'])
        env['LD_LIBRARY_PATH'] = os.path.dirname(paths['library'])
        # The folder holding gi/overrides/Gasync.py.
        env['PYTHONPATH'] = os.path.dirname(os.path.dirname(os.path.dirname(paths['override'])))
        env['GASYNC_TEST_DESTDIR'] = destdir
        env['GASYNC_TEST_GJS_MODULE'] = paths['gjs_module']

        failures = 0
        checks = [(2, 'Python against the installed copy',
                   ['/usr/bin/python3', os.path.join(HERE, 'installed-check.py')]),
                  (3, 'GJS against the installed copy',
                   [gjs, '-m', os.path.join(HERE, 'installed-check.js')] if gjs else None)]
        for number, name, command in checks:
            if command is None:
                print(f'ok {number} - {name} # SKIP gjs not found')
                continue
            result = subprocess.run(command, env=env, capture_output=True, text=True,
                                    timeout=30)
            for line in (result.stdout + result.stderr).splitlines():
                print(f'# {line}')
            if result.returncode == 0:
                print(f'ok {number} - {name}', flush=True)
            else:
                print(f'not ok {number} - {name}', flush=True)
                failures += 1

        if options.cc:
            ok, output = build_c_program(options, paths, destdir, env)
            for line in output:
                print(f'# {line}')
            print(f"{'ok' if ok else 'not ok'} 4 - C with the installed gasync-1.pc", flush=True)
            failures += 0 if ok else 1
        else:
            print('ok 4 - C with the installed gasync-1.pc # SKIP no compiler given')
        return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
