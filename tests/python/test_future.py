#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""GasyncFuture through PyGObject, against the build tree's typelib.

Run by meson with GI_TYPELIB_PATH and LD_LIBRARY_PATH pointing at the build
tree; prints TAP.  Every future here belongs to the global default main
context, which a GLib.MainLoop iterates; nothing relies on the Python
override.
"""

import sys
import unittest

import gi

gi.require_version('GLib', '2.0')
gi.require_version('GObject', '2.0')
gi.require_version('Gio', '2.0')
gi.require_version('Gasync', '1')
from gi.repository import GLib, GObject, Gio, Gasync  # noqa: E402

import taptest  # noqa: E402

WATCHDOG_MS = 10000
State = Gasync.FutureState


def known_bug(reason):
    """Marks a test that exposes a known, reported bug: TAP `# TODO`."""
    def decorate(func):
        func = unittest.expectedFailure(func)
        func.known_bug = reason
        return func
    return decorate


class FutureTestCase(unittest.TestCase):
    def setUp(self):
        self.loop = GLib.MainLoop.new(None, False)
        self.events = []

    def run_loop(self):
        """Runs the default main context until quit(), under a watchdog."""
        timed_out = []

        def on_watchdog():
            timed_out.append(True)
            self.loop.quit()
            return GLib.SOURCE_REMOVE

        watchdog = GLib.timeout_add(WATCHDOG_MS, on_watchdog)
        self.loop.run()
        if not timed_out:
            GLib.source_remove(watchdog)
        self.assertFalse(timed_out, 'the main loop timed out')

    def drain(self):
        context = GLib.MainContext.default()
        idle = 0
        while idle < 2:
            idle = 0 if context.iteration(False) else idle + 1

    def settle_in_loop(self, future, settle):
        """Connects to `done`, calls settle(future) from an idle callback,
        runs the loop until `done`; checks nothing was synchronous."""
        def on_done(f):
            self.assertIs(f, future)
            self.events.append(('done', f.get_state()))
            self.loop.quit()

        def on_idle():
            settle(future)
            self.assertEqual(self.events, [], 'done was emitted synchronously')
            self.events.append(('settled', future.get_state()))
            return GLib.SOURCE_REMOVE

        handler = future.connect('done', on_done)
        GLib.idle_add(on_idle)
        self.run_loop()
        future.disconnect(handler)
        settle_events = [e for e in self.events if e[0] in ('settled', 'done')]
        self.assertEqual([e for e, _ in settle_events], ['settled', 'done'])
        # Done is delivered after the state change, with the same state.
        self.assertEqual(settle_events[0][1], settle_events[1][1])
        self.assertTrue(future.is_done())
        self.assertTrue(future.props.done)
        return future

    def assertGError(self, ctx, domain, code):
        err = ctx.exception
        self.assertIsInstance(err, GLib.Error)
        self.assertTrue(err.matches(domain, code),
                        f'{err.domain}:{err.code} {err.message}')

    # -- resolving ---------------------------------------------------------

    def test_resolve_int(self):
        future = Gasync.Future.new()
        self.assertEqual(future.get_state(), State.PENDING)
        self.assertFalse(future.props.done)
        self.settle_in_loop(future, lambda f: self.assertTrue(f.resolve_int(42)))
        self.assertEqual(future.get_state(), State.RESOLVED)
        self.assertEqual(future.props.state, State.RESOLVED)
        self.assertEqual(future.get_int(), 42)
        self.assertEqual(future.get_value(), (True, 42))
        self.assertTrue(future.propagate_error())
        # Settles once.
        self.assertFalse(future.resolve_int(7))
        self.assertFalse(future.cancel())
        self.assertEqual(future.get_int(), 42)

    def test_typed_values(self):
        action = Gio.SimpleAction.new('act', None)
        bytes_value = GObject.Value(GLib.Bytes.__gtype__, GLib.Bytes.new(b'abc'))
        cases = [
            ('boolean', lambda f: f.resolve_boolean(True), lambda f: f.get_boolean(), True),
            ('int64', lambda f: f.resolve_int64(-2**62), lambda f: f.get_int64(), -2**62),
            ('uint64', lambda f: f.resolve_uint64(2**64 - 1), lambda f: f.get_uint64(), 2**64 - 1),
            ('double', lambda f: f.resolve_double(0.25), lambda f: f.get_double(), 0.25),
            ('string', lambda f: f.resolve_string('héllo'), lambda f: f.dup_string(), 'héllo'),
            ('object', lambda f: f.resolve_object(action), lambda f: f.dup_object(), action),
            ('boxed', lambda f: f.resolve_value(bytes_value),
             lambda f: f.get_value()[1].get_data(), b'abc'),
        ]
        for name, resolve, read, expected in cases:
            with self.subTest(type=name):
                self.events = []
                future = self.settle_in_loop(Gasync.Future.new(), resolve)
                self.assertEqual(future.get_state(), State.RESOLVED)
                self.assertEqual(read(future), expected)

    def test_string_none(self):
        future = self.settle_in_loop(Gasync.Future.new(), lambda f: f.resolve_string(None))
        self.assertIsNone(future.dup_string())

    def test_void(self):
        future = self.settle_in_loop(Gasync.Future.new(), lambda f: f.resolve_void())
        self.assertTrue(future.propagate_error())
        with self.assertRaises(GLib.Error) as ctx:
            future.get_int()
        self.assertGError(ctx, Gasync.error_quark(), Gasync.Error.TYPE_MISMATCH)

    @known_bug('get_value() of a future resolved without a value raises '
               'TypeError: PyGObject cannot convert the unset out GValue')
    def test_void_get_value(self):
        future = Gasync.Future.new_resolved(None)
        self.assertEqual(future.get_value(), (True, None))

    def test_constructors(self):
        self.assertEqual(Gasync.Future.new_resolved_int(5).get_int(), 5)
        self.assertEqual(Gasync.Future.new_resolved_string('s').dup_string(), 's')
        self.assertTrue(Gasync.Future.new_resolved_boolean(True).get_boolean())
        cancelled = Gasync.Future.new_cancelled()
        self.assertEqual(cancelled.get_state(), State.CANCELLED)
        error = GLib.Error.new_literal(Gio.io_error_quark(), 'exists', Gio.IOErrorEnum.EXISTS)
        rejected = Gasync.Future.new_rejected(error)
        self.assertEqual(rejected.get_state(), State.REJECTED)
        with self.assertRaises(GLib.Error) as ctx:
            rejected.propagate_error()
        self.assertGError(ctx, Gio.io_error_quark(), Gio.IOErrorEnum.EXISTS)
        self.drain()

    def test_type_mismatch(self):
        future = Gasync.Future.new_resolved_int(1)
        with self.assertRaises(GLib.Error) as ctx:
            future.dup_string()
        self.assertGError(ctx, Gasync.error_quark(), Gasync.Error.TYPE_MISMATCH)
        self.drain()

    def test_pending(self):
        future = Gasync.Future.new()
        with self.assertRaises(GLib.Error) as ctx:
            future.get_value()
        self.assertGError(ctx, Gasync.error_quark(), Gasync.Error.INVALID_STATE)

    def test_value_type(self):
        future = Gasync.Future.new()
        future.set_value_type(GObject.TYPE_STRING)
        self.assertEqual(future.props.value_type, GObject.TYPE_STRING)
        self.settle_in_loop(future, lambda f: f.resolve_string('typed'))
        self.assertEqual(future.dup_string(), 'typed')

    # -- rejection ---------------------------------------------------------

    def test_rejected(self):
        error = GLib.Error.new_literal(Gio.io_error_quark(), 'boom', Gio.IOErrorEnum.NOT_FOUND)
        future = self.settle_in_loop(Gasync.Future.new(), lambda f: f.reject(error))
        self.assertEqual(future.get_state(), State.REJECTED)
        self.assertFalse(future.is_cancelled())
        with self.assertRaises(GLib.Error) as ctx:
            future.get_value()
        self.assertGError(ctx, Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND)
        self.assertEqual(ctx.exception.message, 'boom')
        with self.assertRaises(GLib.Error) as ctx:
            future.propagate_error()
        self.assertGError(ctx, Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND)
        with self.assertRaises(GLib.Error) as ctx:
            future.get_int()
        self.assertGError(ctx, Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND)

    def test_reject_literal(self):
        domain = GLib.quark_from_string('gasync-python-test')
        future = self.settle_in_loop(Gasync.Future.new(),
                                     lambda f: f.reject_literal(domain, 7, 'seven'))
        with self.assertRaises(GLib.Error) as ctx:
            future.propagate_error()
        self.assertGError(ctx, domain, 7)
        self.assertEqual(ctx.exception.message, 'seven')

    # -- cancellation ------------------------------------------------------

    def test_cancelled(self):
        future = Gasync.Future.new()
        future.connect('cancelled', lambda f: self.events.append(('cancelled', f.get_state())))
        self.assertFalse(future.get_cancellable().is_cancelled())
        self.settle_in_loop(future, lambda f: self.assertTrue(f.cancel()))
        self.assertEqual([e for e, _ in self.events], ['settled', 'cancelled', 'done'])
        self.assertEqual(future.get_state(), State.CANCELLED)
        self.assertTrue(future.is_cancelled())
        self.assertTrue(future.is_cancel_requested())
        self.assertTrue(future.get_cancellable().is_cancelled())
        self.assertFalse(future.cancel())
        with self.assertRaises(GLib.Error) as ctx:
            future.get_value()
        self.assertGError(ctx, Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED)

    def test_cancelled_through_cancellable(self):
        future = Gasync.Future.new()
        cancellable = Gio.Cancellable.new()
        future.set_cancellable(cancellable)
        future.connect('cancelled', lambda f: self.events.append(('cancelled', f.get_state())))
        self.settle_in_loop(future, lambda f: cancellable.cancel())
        self.assertEqual([e for e, _ in self.events], ['settled', 'cancelled', 'done'])
        self.assertEqual(future.get_state(), State.CANCELLED)

    def test_cancel_settled(self):
        future = self.settle_in_loop(Gasync.Future.new(), lambda f: f.resolve_double(1.5))
        future.connect('cancelled', lambda f: self.events.append('cancelled'))
        self.assertFalse(future.cancel())
        self.drain()
        self.assertNotIn('cancelled', self.events)
        self.assertEqual(future.get_double(), 1.5)
        self.assertFalse(future.get_cancellable().is_cancelled())

    # -- callbacks, notifications, wait_async ------------------------------

    def test_done_callback_order(self):
        future = Gasync.Future.new()
        future.connect('done', lambda f: self.events.append('signal'))
        ids = [future.add_done_callback(lambda f, name: self.events.append(name), name)
               for name in ('a', 'b', 'c')]
        self.assertEqual(len(set(ids)), 3)
        self.assertTrue(future.remove_done_callback(ids[1]))
        future.add_done_callback(lambda f: self.loop.quit())
        GLib.idle_add(lambda: future.resolve_void() and GLib.SOURCE_REMOVE)
        self.run_loop()
        self.assertEqual(self.events, ['signal', 'a', 'c'])
        self.assertFalse(future.remove_done_callback(ids[0]))

    def test_notify(self):
        future = Gasync.Future.new()
        future.connect('notify::progress', lambda f, p: self.events.append(('progress', f.props.progress)))
        future.connect('notify::state', lambda f, p: self.events.append(('state', f.props.state)))
        future.connect('notify::done', lambda f, p: self.events.append(('done', f.props.done)))

        def settle():
            future.set_progress(0.5)
            future.props.progress = 1.0
            self.assertEqual(self.events, [])
            future.resolve_void()
            return GLib.SOURCE_REMOVE

        future.add_done_callback(lambda f: self.loop.quit())
        GLib.idle_add(settle)
        self.run_loop()
        self.assertEqual(self.events, [('progress', 1.0), ('state', State.RESOLVED), ('done', True)])

    def test_wait_async(self):
        future = Gasync.Future.new()
        results = []

        def on_ready(source, result):
            self.assertIs(source, future)
            results.append(future.wait_finish(result))
            self.loop.quit()

        future.wait_async(None, on_ready)
        GLib.timeout_add(1, lambda: future.resolve_string('waited') and GLib.SOURCE_REMOVE)
        self.run_loop()
        self.assertEqual(results, [(True, 'waited')])

    def test_wait_async_rejected(self):
        future = Gasync.Future.new()
        errors = []

        def on_ready(source, result):
            try:
                future.wait_finish(result)
            except GLib.Error as e:
                errors.append(e)
            self.loop.quit()

        future.wait_async(None, on_ready)
        GLib.idle_add(lambda: future.reject_literal(Gio.io_error_quark(), Gio.IOErrorEnum.FAILED, 'nope')
                      and GLib.SOURCE_REMOVE)
        self.run_loop()
        self.assertEqual(len(errors), 1)
        self.assertTrue(errors[0].matches(Gio.io_error_quark(), Gio.IOErrorEnum.FAILED))

    def test_wait_async_cancellable(self):
        future = Gasync.Future.new()
        cancellable = Gio.Cancellable.new()
        errors = []

        def on_ready(source, result):
            try:
                future.wait_finish(result)
            except GLib.Error as e:
                errors.append(e)
            self.loop.quit()

        future.wait_async(cancellable, on_ready)
        GLib.idle_add(lambda: cancellable.cancel() or GLib.SOURCE_REMOVE)
        self.run_loop()
        self.assertEqual(len(errors), 1)
        self.assertTrue(errors[0].matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED))
        # The wait was cancelled, not the future.
        self.assertEqual(future.get_state(), State.PENDING)
        self.assertFalse(future.is_cancel_requested())


if __name__ == '__main__':
    sys.exit(taptest.main(__name__))
