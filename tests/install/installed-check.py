# SPDX-License-Identifier: LGPL-2.1-or-later
"""Run by test-install.py with GI_TYPELIB_PATH, LD_LIBRARY_PATH and
PYTHONPATH pointing into a DESTDIR: checks that everything comes from
there, then spawns a coroutine that awaits a future."""

import os
import sys

import gi

gi.require_version('GIRepository', '2.0')
gi.require_version('Gasync', '1')
from gi.repository import GIRepository, GLib, Gasync  # noqa: E402

destdir = os.environ['GASYNC_TEST_DESTDIR']


def check(condition, what):
    if not condition:
        print(f'FAIL: {what}')
        sys.exit(1)
    print(f'{what}: ok')


override = sys.modules['gi.overrides.Gasync'].__file__
check(override.startswith(destdir), f'override from the DESTDIR ({override})')
typelib = GIRepository.Repository.get_default().get_typelib_path('Gasync')
check(typelib.startswith(destdir), f'typelib from the DESTDIR ({typelib})')
with open('/proc/self/maps') as maps:
    libraries = {line.split()[-1] for line in maps if 'libgasync-1.so' in line}
check(libraries and all(path.startswith(destdir) for path in libraries),
      f'library from the DESTDIR ({", ".join(sorted(libraries))})')


async def main():
    future = Gasync.Future.new()
    GLib.timeout_add(1, lambda: future.set_result(21) and False)
    return await future * 2


check(Gasync.run(Gasync.spawn(main())) == 42, 'a spawned coroutine awaited a future')
