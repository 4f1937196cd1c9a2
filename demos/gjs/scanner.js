// SPDX-License-Identifier: LGPL-2.1-or-later
//
// gasync's folder scanner in GJS: a GTK 4 window that hashes every file
// under a folder, a few at a time, with `await` on gasync futures.
//
//     meson devenv -C _build gjs -m demos/gjs/scanner.js [--dir PATH]
//
// --screenshot FILE saves the window once the scan has finished, then quits.

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Gio from 'gi://Gio';
import Graphene from 'gi://Graphene';
import Gtk from 'gi://Gtk?version=4.0';
import System from 'system';

import Gasync from 'gi://Gasync?version=1';
import {spawn, toPromise} from '../../introspection/gjs/gasync.js';

const CONCURRENCY = 8;
const ATTRIBUTES = 'standard::name,standard::type,standard::size';

// Awaits a future on behalf of a coroutine: cancelling the coroutine
// cancels the future (JS coroutines decide themselves what to cancel).
async function awaitFor(signal, future) {
    const id = signal.connect(() => future.cancel());
    try {
        return await future;
    } finally {
        signal.disconnect(id);
    }
}

// The regular files under root, breadth first, with their sizes.
async function listFiles(signal, root) {
    const files = [], folders = [root];
    for (const folder of folders) { // grows as subfolders are found
        let children;
        try {
            children = await awaitFor(signal, Gasync.file_enumerate_children(folder, ATTRIBUTES,
                Gio.FileQueryInfoFlags.NOFOLLOW_SYMLINKS, GLib.PRIORITY_DEFAULT));
        } catch (error) {
            if (folder === root || signal.cancelled)
                throw error;
            continue; // an unreadable folder
        }
        for (;;) {
            const batch = await awaitFor(signal,
                Gasync.file_enumerator_next_files(children, 200, GLib.PRIORITY_DEFAULT));
            if (batch.get_n_items() === 0)
                break;
            for (let i = 0; i < batch.get_n_items(); i++) {
                const info = batch.get_item(i);
                if (info.get_file_type() === Gio.FileType.DIRECTORY)
                    folders.push(children.get_child(info));
                else if (info.get_file_type() === Gio.FileType.REGULAR)
                    files.push([children.get_child(info), info.get_size()]);
            }
        }
    }
    return files;
}

function savePng(widget, path) {
    const [width, height] = [widget.get_width(), widget.get_height()];
    const snapshot = new Gtk.Snapshot();
    Gtk.WidgetPaintable.new(widget).snapshot(snapshot, width, height);
    const rect = new Graphene.Rect();
    rect.init(0, 0, width, height);
    widget.get_renderer().render_texture(snapshot.to_node(), rect).save_to_png(path);
}

function scanWindow(root, screenshot) {
    const spinner = new Gtk.Spinner();
    const status = new Gtk.Label({xalign: 0});
    const bar = new Gtk.ProgressBar({show_text: true});
    const rows = new Gtk.StringList();
    const factory = new Gtk.SignalListItemFactory();
    factory.connect('setup', (f, item) => item.set_child(
        new Gtk.Label({xalign: 0, css_classes: ['monospace']})));
    factory.connect('bind', (f, item) => item.get_child().set_label(item.get_item().get_string()));
    const cancel = new Gtk.Button({label: 'Cancel'});
    const header = new Gtk.HeaderBar();
    header.pack_end(cancel);

    const box = new Gtk.Box({orientation: Gtk.Orientation.VERTICAL, spacing: 6, margin_top: 12,
        margin_bottom: 12, margin_start: 12, margin_end: 12});
    const top = new Gtk.Box({spacing: 8});
    top.append(spinner);
    top.append(status);
    box.append(top);
    box.append(bar);
    box.append(new Gtk.ScrolledWindow({vexpand: true, css_classes: ['frame'],
        child: new Gtk.ListView({model: new Gtk.NoSelection({model: rows}), factory})}));
    const window = new Gtk.Window({title: `gasync scanner (GJS) — ${root.get_parse_name()}`,
        default_width: 900, default_height: 600, child: box});
    window.set_titlebar(header);

    // Everything the window starts is cancelled when it goes away. GJS keeps
    // the window object alive while JS references it, so closing the window
    // does not dispose it: cancel the scope on close as well.
    const scope = Gasync.Scope.new_for_owner(window);
    window.connect('close-request', () => scope.cancel());
    const limit = Gasync.Semaphore.new(CONCURRENCY);
    let pending = [], done = 0, total = 0;

    // One file: load it (GIO, asynchronously), hash it, queue its row.
    async function hashFile(signal, file, size) {
        let digest;
        try {
            const contents = await awaitFor(signal, Gasync.file_load_bytes(file));
            digest = GLib.compute_checksum_for_bytes(GLib.ChecksumType.SHA256, contents);
        } catch (error) {
            if (signal.cancelled)
                throw error;
            digest = error.message;
        } finally {
            limit.release();
        }
        pending.push(`${GLib.format_size(size).padStart(10)}  ${digest.slice(0, 32)}  ` +
            `${root.get_relative_path(file)}`);
        scan.set_progress(++done / total);
    }

    const scan = spawn(async signal => {
        const files = await listFiles(signal, root);
        total = files.length;
        const jobs = Gasync.Scope.new();
        signal.connect(() => jobs.cancel());
        try {
            for (const [file, size] of files) {
                await awaitFor(signal, limit.acquire()); // at most CONCURRENCY at once
                jobs.add(spawn(s => hashFile(s, file, size), {name: 'hash-file'}));
            }
        } finally {
            await jobs.wait(); // every job has ended, cancelled or not
        }
        signal.throwIfCancelled();
        return total;
    }, {name: 'scan'});
    scope.add(scan);

    scan.bind_property_full('progress', bar, 'fraction', GObject.BindingFlags.SYNC_CREATE,
        (binding, progress) => [true, Math.max(progress, 0)], null);
    for (const [widget, prop] of [[spinner, 'spinning'], [cancel, 'sensitive']]) {
        scan.bind_property('done', widget, prop,
            GObject.BindingFlags.SYNC_CREATE | GObject.BindingFlags.INVERT_BOOLEAN);
    }
    cancel.connect('clicked', () => scan.cancel());

    // Once per frame: the rows that finished since the last one.
    window.add_tick_callback(() => {
        rows.splice(rows.get_n_items(), 0, pending);
        pending = [];
        if (!scan.is_done())
            status.label = `${done} of ${total} files hashed`;
        return GLib.SOURCE_CONTINUE;
    });

    scope.add_done_callback(scan, () => {
        toPromise(scan).then(() => {
            print(`scan finished: ${done} files`);
            status.label = `${done} files hashed`;
        }, error => {
            print(`scan ended: ${error.message}`);
            status.label = error.message;
        }).then(() => {
            if (screenshot) {
                // Let the last rows be drawn first.
                GLib.timeout_add(GLib.PRIORITY_DEFAULT, 300, () => {
                    savePng(window, screenshot);
                    print(`screenshot saved: ${screenshot}`);
                    window.close();
                    return GLib.SOURCE_REMOVE;
                });
            }
        });
    });
    return [window, scan];
}

function parseArgs(argv) {
    const options = {dir: '/usr/share/doc', screenshot: null};
    for (let i = 0; i < argv.length; i++) {
        const [name, value] = argv[i].includes('=')
            ? argv[i].split(/=(.*)/s) : [argv[i], argv[i + 1]];
        if (name === '--dir' || name === '--screenshot') {
            options[name.slice(2)] = value;
            if (!argv[i].includes('='))
                i++;
        } else {
            print('Usage: gjs -m scanner.js [--dir PATH] [--screenshot FILE]');
            System.exit(name === '--help' || name === '-h' ? 0 : 2);
        }
    }
    return options;
}

const options = parseArgs(System.programArgs);
Gtk.init();
const root = Gio.File.new_for_commandline_arg(options.dir);
const [window, scan] = scanWindow(root, options.screenshot);
const loop = new GLib.MainLoop(null, false);
// Quit once the window is closed and everything it started has ended.
window.connect('close-request', () => {
    toPromise(scan).catch(() => {}).finally(() => loop.quit());
});
window.present();
loop.run();
System.exit(scan.get_state() === Gasync.FutureState.RESOLVED ? 0 : 1);
