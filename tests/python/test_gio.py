#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The GIO wrappers (gasync/gasync-gio.c) from Python: Gasync.spawn()
coroutines awaiting a file load and real subprocesses.

Run by meson with the build tree's typelib and library and the override's
folder on PYTHONPATH; prints TAP.
"""

import gc
import os
import signal
import sys
import tempfile

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gio', '2.0')
gi.require_version('Gasync', '1')
from gi.repository import GLib, Gio, Gasync  # noqa: E402

import taptest  # noqa: E402
import gasynctest  # noqa: E402

Flags = Gio.SubprocessFlags


class GioTestCase(gasynctest.TestCase):
    # Real processes and files: a slow machine gets longer than the default.
    WATCHDOG_MS = 20000

    def setUp(self):
        self.tmpdir = tempfile.TemporaryDirectory(prefix='gasync-gio-py-')

    def tearDown(self):
        super().tearDown()
        self.tmpdir.cleanup()

    def test_file_load_bytes(self):
        path = os.path.join(self.tmpdir.name, 'contents')
        data = os.urandom(200 * 1000)
        with open(path, 'wb') as f:
            f.write(data)

        async def load():
            # The wrapper's future is gone once awaited: the bytes must not
            # depend on it.
            contents = await Gasync.file_load_bytes(Gio.File.new_for_path(path))
            gc.collect()
            drain_later = Gasync.Future.new()
            GLib.timeout_add(1, lambda: drain_later.resolve_void() and False)
            await drain_later
            return contents.get_data()

        self.assertEqual(self.run_future(load()), data)

    def test_file_load_bytes_missing(self):
        missing = Gio.File.new_for_path(os.path.join(self.tmpdir.name, 'missing'))

        async def load():
            await Gasync.file_load_bytes(missing)

        with self.assertRaises(GLib.Error) as caught:
            self.run_future(load())
        self.assertTrue(caught.exception.matches(Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND))

    def test_subprocesses(self):
        async def main():
            cat = Gio.Subprocess.new(['cat'], Flags.STDIN_PIPE | Flags.STDOUT_PIPE)
            echoed = await Gasync.subprocess_communicate(cat, GLib.Bytes.new(b'through cat'))

            both = Gio.Subprocess.new(['sh', '-c', 'echo out; echo err >&2'],
                                      Flags.STDOUT_PIPE | Flags.STDERR_PIPE)
            out_future, err_future = Gasync.subprocess_communicate_full(both, None)
            out = await out_future
            err = await err_future

            await Gasync.subprocess_wait_check(Gio.Subprocess.new(['true'], Flags.NONE))
            try:
                await Gasync.subprocess_wait_check(Gio.Subprocess.new(['false'], Flags.NONE))
                failed = None
            except GLib.Error as error:
                failed = error
            return echoed.get_data(), out.get_data(), err.get_data(), failed

        echoed, out, err, failed = self.run_future(main())
        self.assertEqual(echoed, b'through cat')
        self.assertEqual(out, b'out\n')
        self.assertEqual(err, b'err\n')
        self.assertIsNotNone(failed)
        self.assertTrue(failed.matches(GLib.spawn_exit_error_quark(), 1))

    def test_cancelled_coroutine_kills_subprocess(self):
        sleeper = Gio.Subprocess.new(['sleep', '600'], Flags.NONE)
        pid = int(sleeper.get_identifier())
        started = []

        async def wait():
            started.append(True)
            await Gasync.subprocess_wait(sleeper)

        coroutine = Gasync.spawn(wait())
        context = GLib.MainContext.default()
        while not started:
            context.iteration(True)
        gasynctest.drain()
        self.assertFalse(coroutine.is_done())

        # Cancelling the coroutine cancels the future it awaits, which
        # kills the child.
        coroutine.cancel()
        with self.assertRaises(Gasync.CancelledError):
            Gasync.run(coroutine)
        while sleeper.get_identifier() is not None:
            context.iteration(True)
        self.assertTrue(sleeper.get_if_signaled())
        self.assertEqual(sleeper.get_term_sig(), signal.SIGKILL)
        with self.assertRaises(ProcessLookupError):
            os.kill(pid, 0)


# -- TAP -------------------------------------------------------------------------

if __name__ == '__main__':
    sys.exit(taptest.main(__name__))
