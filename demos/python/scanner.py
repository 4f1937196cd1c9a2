#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""gasync's folder scanner in Python: a GTK 4 window that hashes every file
under a folder, a few at a time, with `await` on gasync futures.

    meson devenv -C _build /usr/bin/python3 demos/python/scanner.py [--dir PATH]

--screenshot FILE saves the window once the scan has finished, then quits.
"""

import argparse
import sys

import gi

gi.require_version('Gtk', '4.0')
gi.require_version('GdkX11', '4.0')
gi.require_version('Gasync', '1')
from gi.repository import GLib, GObject, Gio, GdkX11, Gtk, Gasync  # noqa: E402,F401

CONCURRENCY = 8
ATTRIBUTES = 'standard::name,standard::type,standard::size'


async def list_files(root):
    """The regular files under root, breadth first, with their sizes."""
    files, folders = [], [root]
    for folder in folders:  # grows as subfolders are found
        try:
            children = await Gasync.file_enumerate_children(
                folder, ATTRIBUTES, Gio.FileQueryInfoFlags.NOFOLLOW_SYMLINKS, GLib.PRIORITY_DEFAULT)
        except Gasync.CancelledError:
            raise
        except GLib.Error:
            if folder is root:
                raise
            continue  # an unreadable folder
        while batch := list(await Gasync.file_enumerator_next_files(children, 200,
                                                                    GLib.PRIORITY_DEFAULT)):
            for info in batch:
                if info.get_file_type() == Gio.FileType.DIRECTORY:
                    folders.append(children.get_child(info))
                elif info.get_file_type() == Gio.FileType.REGULAR:
                    files.append((children.get_child(info), info.get_size()))
    return files


class ScannerWindow(Gtk.Window):
    def __init__(self, root, screenshot):
        super().__init__(title=f'gasync scanner (Python) — {root.get_parse_name()}',
                         default_width=900, default_height=600)
        self.root, self.screenshot = root, screenshot
        self.pending, self.done, self.total, self.finished = [], 0, 0, False

        self.spinner, self.status = Gtk.Spinner(), Gtk.Label(xalign=0)
        self.bar = Gtk.ProgressBar(show_text=True)
        self.rows = Gtk.StringList()
        factory = Gtk.SignalListItemFactory()
        factory.connect('setup', lambda f, item: item.set_child(
            Gtk.Label(xalign=0, css_classes=['monospace'])))
        factory.connect('bind', lambda f, item: item.get_child().set_label(
            item.get_item().get_string()))
        cancel = Gtk.Button(label='Cancel')
        cancel.connect('clicked', lambda button: self.scan.cancel())
        header = Gtk.HeaderBar()
        header.pack_end(cancel)
        self.set_titlebar(header)

        box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=6, margin_top=12,
                      margin_bottom=12, margin_start=12, margin_end=12)
        row = Gtk.Box(spacing=8)
        row.append(self.spinner)
        row.append(self.status)
        box.append(row)
        box.append(self.bar)
        box.append(Gtk.ScrolledWindow(vexpand=True, css_classes=['frame'], child=Gtk.ListView(
            model=Gtk.NoSelection(model=self.rows), factory=factory)))
        self.set_child(box)

        # Everything the window starts is cancelled when it goes away, and
        # callbacks registered through the scope never run after that. Python
        # keeps the window object alive while it references it, so closing
        # the window does not dispose it: cancel the scope on close as well.
        self.scope = Gasync.Scope.new_for_owner(self)
        self.connect('close-request', lambda window: self.scope.cancel())
        self.limit = Gasync.Semaphore.new(CONCURRENCY)
        self.scan = self.scope.spawn(self.run_scan(), name='scan')
        self.scan.bind_property('progress', self.bar, 'fraction', GObject.BindingFlags.SYNC_CREATE,
                                lambda binding, progress: max(progress, 0.0))
        for widget, prop in (self.spinner, 'spinning'), (cancel, 'sensitive'):
            self.scan.bind_property('done', widget, prop, GObject.BindingFlags.SYNC_CREATE |
                                    GObject.BindingFlags.INVERT_BOOLEAN)
        self.scope.add_done_callback(self.scan, self.on_scan_done)
        self.add_tick_callback(self.show_rows)

    async def run_scan(self):
        files = await list_files(self.root)
        self.total = len(files)
        # Leaving the block waits for every job; an exception (such as the
        # window being closed) cancels them first.
        async with Gasync.Scope.new() as jobs:
            for file, size in files:
                await self.limit.acquire()  # at most CONCURRENCY files at once
                jobs.spawn(self.hash_file(file, size), name='hash-file')
        return self.total

    async def hash_file(self, file, size):
        try:
            contents = await Gasync.file_load_bytes(file)
            digest = GLib.compute_checksum_for_bytes(GLib.ChecksumType.SHA256, contents)
        except Gasync.CancelledError:
            raise
        except GLib.Error as error:
            digest = error.message
        finally:
            self.limit.release()
        self.pending.append(f'{GLib.format_size(size):>10}  {digest[:32]}  '
                            f'{self.root.get_relative_path(file)}')
        self.done += 1
        self.scan.set_progress(self.done / self.total)

    def show_rows(self, widget, clock):
        """Once per frame: the rows that finished since the last one."""
        self.rows.splice(self.rows.get_n_items(), 0, self.pending)
        self.pending = []
        if not self.finished:
            self.status.set_label(f'{self.done} of {self.total} files hashed')
        return GLib.SOURCE_CONTINUE

    def on_scan_done(self, scan):
        try:
            scan.result()
            print(f'scan finished: {self.done} files', flush=True)
            self.status.set_label(f'{self.done} files hashed')
        except GLib.Error as error:
            print(f'scan ended: {error.message}', flush=True)
            self.status.set_label(error.message)
        self.finished = True
        if self.screenshot:
            # Not in the scope: a failed scan has failed the scope, which
            # cancels whatever is added to it from then on.
            Gasync.spawn(self.save_screenshot(), name='screenshot')

    async def save_screenshot(self):
        # PyGObject 3.42 cannot carry the GSK render node that an in-process
        # capture needs (the C and GJS demos do it that way): ask the X
        # server for the window's pixels instead, with ImageMagick.
        await Gasync.sleep(300)  # let the last rows be drawn
        xid = self.get_surface().get_xid()
        capture = Gio.Subprocess.new(['/usr/bin/import', '-window', hex(xid), self.screenshot],
                                     Gio.SubprocessFlags.NONE)
        await Gasync.subprocess_wait_check(capture)
        print(f'screenshot saved: {self.screenshot}', flush=True)
        self.close()


def main():
    parser = argparse.ArgumentParser(description='Scans a folder (size and SHA-256 of every '
                                     'file) in a GTK window, with gasync.')
    parser.add_argument('--dir', default='/usr/share/doc', help='folder to scan')
    parser.add_argument('--screenshot', metavar='FILE',
                        help='save the window as a PNG once scanned, then quit')
    args = parser.parse_args()

    window = ScannerWindow(Gio.File.new_for_commandline_arg(args.dir), args.screenshot)
    window.present()
    # Run until the window is closed and everything it started has ended.
    context = GLib.MainContext.default()
    while Gtk.Window.get_toplevels().get_n_items() > 0 or not window.scan.done():
        context.iteration(True)
    return 0 if window.scan.get_state() == Gasync.FutureState.RESOLVED else 1


if __name__ == '__main__':
    sys.exit(main())
