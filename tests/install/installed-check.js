// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Run by test-install.py with GI_TYPELIB_PATH and LD_LIBRARY_PATH pointing
// into a DESTDIR: imports the installed GJS module, checks that everything
// comes from there, then spawns a coroutine that awaits a future.

import GLib from 'gi://GLib';
import GIRepository from 'gi://GIRepository?version=2.0';
import Gasync from 'gi://Gasync?version=1';
import System from 'system';

const destdir = GLib.getenv('GASYNC_TEST_DESTDIR');
const modulePath = GLib.getenv('GASYNC_TEST_GJS_MODULE');
let failed = false;

function check(condition, what) {
    print(`${what}: ${condition ? 'ok' : 'FAIL'}`);
    failed ||= !condition;
}

// No top-level await: promise jobs would not run inside loop.run() then.
async function main() {
    const {spawn} = await import(GLib.filename_to_uri(modulePath, null));
    check(modulePath.startsWith(destdir), `module from the DESTDIR (${modulePath})`);
    const typelib = GIRepository.Repository.get_default().get_typelib_path('Gasync');
    check(typelib.startsWith(destdir), `typelib from the DESTDIR (${typelib})`);
    const maps = new TextDecoder().decode(GLib.file_get_contents('/proc/self/maps')[1]);
    const libraries = maps.split('\n').filter(line => line.includes('libgasync-1.so'))
        .map(line => line.split(/\s+/).pop());
    check(libraries.length > 0 && libraries.every(path => path.startsWith(destdir)),
        `library from the DESTDIR (${[...new Set(libraries)].join(', ')})`);

    const value = await spawn(async () => {
        const future = Gasync.Future.new();
        GLib.timeout_add(GLib.PRIORITY_DEFAULT, 1, () => {
            future.resolve_int(21);
            return GLib.SOURCE_REMOVE;
        });
        return await future * 2;
    });
    check(value === 42, 'a spawned coroutine awaited a future');
}

const loop = GLib.MainLoop.new(null, false);
main().catch(error => check(false, `${error}\n${error?.stack ?? ''}`))
    .finally(() => loop.quit());
loop.run();
System.exit(failed ? 1 : 0);
