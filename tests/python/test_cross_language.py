#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Python and C coroutines awaiting each other: stackful C coroutines from
the test-only GasyncTest library (tests/introspection) awaiting Python
coroutines run by Gasync.spawn(), Python coroutines awaiting C ones, and
cancellation crossing the language boundary in both directions.

Run by meson with the build tree's Gasync and GasyncTest typelibs and the
override's folder on PYTHONPATH; prints TAP.
"""

import gc
import sys

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gio', '2.0')
gi.require_version('Gasync', '1')
gi.require_version('GasyncTest', '1')
from gi.repository import GLib, Gio, Gasync, GasyncTest  # noqa: E402

import gasynctest  # noqa: E402
import taptest  # noqa: E402
from gasynctest import Finalized, drain, iterate_until, later  # noqa: E402

State = Gasync.FutureState
IO_ERROR = Gio.io_error_quark()
CANCELLED = Gio.IOErrorEnum.CANCELLED
WATCHDOG_MS = 5000


def delayed_int(ms, value):
    future = Gasync.Future.new()
    later(ms, future.resolve_int, value)
    return future


class CrossLanguageTestCase(gasynctest.TestCase):
    WATCHDOG_MS = WATCHDOG_MS

    def assertStackless(self):
        self.assertFalse(GasyncTest.on_coroutine_stack(),
                         'Python code ran on a coroutine stack')

    def assertGError(self, error, domain, code, message=None):
        self.assertIsInstance(error, GLib.Error)
        self.assertTrue(error.matches(domain, code), f'{error.domain}:{error.code} {error.message}')
        if message is not None:
            self.assertEqual(error.message, message)


# -- values and errors across the boundary ---------------------------------------

class AwaitTests(CrossLanguageTestCase):
    def test_c_awaits_python_coroutine(self):
        async def twenty_one():
            self.assertStackless()
            return await delayed_int(2, 20) + 1

        py = Gasync.spawn(twenty_one(), name='twenty-one')
        c = GasyncTest.await_and_double(py)
        self.assertIsInstance(c, Gasync.Coroutine)
        self.assertTrue(c.is_stackful())
        self.assertFalse(py.is_stackful())
        self.assertEqual(self.run_future(c), 42)
        self.assertEqual(py.result(), 21)
        self.assertEqual(c.get_name(), 'await-and-double')

    def test_python_awaits_c_coroutine(self):
        async def body():
            c = GasyncTest.await_and_double(delayed_int(2, 5))
            self.assertEqual(c.get_state(), State.PENDING)
            value = await c
            self.assertStackless()
            return value, c.get_state()

        self.assertEqual(self.run_future(body()), (10, State.RESOLVED))

    def test_nested_python_c_python_c(self):
        async def innermost():
            return await GasyncTest.await_and_double(delayed_int(1, 3))

        async def outer():
            c = GasyncTest.await_and_double(Gasync.spawn(innermost()))
            return await c + 1

        # Python -> C -> Python -> C -> a future settled by a timeout.
        self.assertEqual(self.run_future(outer()), 13)

    def test_c_awaits_many_python_coroutines(self):
        async def value(ms, v):
            return await delayed_int(ms, v)

        futures = [Gasync.spawn(value(ms, v)) for ms, v in ((3, 1), (1, 10), (2, 100))]
        futures.append(Gasync.Future.new_resolved_int(1000))
        self.assertEqual(self.run_future(GasyncTest.sum_in_order(futures)), 1111)

    def test_python_values_seen_from_c(self):
        async def returning(value):
            return value

        cases = [
            (7, 'resolved:gint:7'),
            (2**40, 'resolved:gint64:1099511627776'),
            ('hello', 'resolved:gchararray:hello'),
            (True, 'resolved:gboolean:TRUE'),
            (2.5, 'resolved:gdouble:2.500000'),
            (None, 'resolved'),
            (Gio.SimpleAction.new('a', None), 'resolved:GSimpleAction:GSimpleAction'),
        ]
        for value, expected in cases:
            with self.subTest(value=value):
                c = GasyncTest.await_and_describe(Gasync.spawn(returning(value)))
                self.assertEqual(self.run_future(c), expected)

    def test_c_values_seen_from_python(self):
        async def body():
            got = []
            for future in (Gasync.Future.new_resolved_string('s'),
                           Gasync.Future.new_resolved_double(0.5),
                           Gasync.Future.new_resolved_int64(-2**40)):
                recorder = GasyncTest.Recorder.new()
                got.append(await GasyncTest.await_recorded(future, recorder))
            return got

        self.assertEqual(self.run_future(body()), ['s', 0.5, -2**40])

    def test_python_exception_seen_from_c(self):
        async def failing():
            await delayed_int(1, 0)
            raise ValueError('boom')

        c = GasyncTest.await_and_describe(Gasync.spawn(failing()))
        self.assertEqual(self.run_future(c),
                         f'rejected:gasync-error-quark:{int(Gasync.Error.FAILED)}:ValueError: boom')

    def test_python_exception_through_c_reaches_python(self):
        async def failing():
            await delayed_int(1, 0)
            raise ValueError('boom')

        async def body():
            try:
                await GasyncTest.await_and_double(Gasync.spawn(failing()))
            except GLib.Error as e:
                return e
            return None

        # C saw the GError, and passed it on as it was.
        error = self.run_future(body())
        self.assertGError(error, Gasync.error_quark(), Gasync.Error.FAILED, 'ValueError: boom')

    def test_glib_error_crosses_both_ways(self):
        error = GLib.Error.new_literal(IO_ERROR, 'no such thing', Gio.IOErrorEnum.NOT_FOUND)

        async def failing():
            await delayed_int(1, 0)
            raise error

        async def body():
            try:
                await GasyncTest.await_and_double(Gasync.spawn(failing()))
            except GLib.Error as e:
                return e
            return None

        self.assertGError(self.run_future(body()), IO_ERROR, Gio.IOErrorEnum.NOT_FOUND,
                          'no such thing')

    def test_python_callbacks_of_c_coroutines_run_off_stack(self):
        seen = []
        c = GasyncTest.await_and_double(delayed_int(1, 4))
        c.connect('done', lambda f: seen.append(('done', GasyncTest.on_coroutine_stack())))
        c.connect('notify::state',
                  lambda f, p: seen.append(('state', GasyncTest.on_coroutine_stack())))
        c.add_done_callback(lambda f: seen.append(('callback', GasyncTest.on_coroutine_stack())))
        self.assertEqual(self.run_future(c), 8)
        drain()
        self.assertEqual(sorted(seen), [('callback', False), ('done', False), ('state', False)])

    def test_helper_detects_coroutine_stack(self):
        # The check itself: false here; true in a C body, which records
        # `start` only when it sees itself on its coroutine stack.
        self.assertStackless()
        recorder = GasyncTest.Recorder.new()
        self.run_future(GasyncTest.await_recorded(delayed_int(1, 0), recorder))
        self.assertEqual(recorder.dup_events(), ['start', 'resolved:gint:0'])


# -- cancellation across the boundary ----------------------------------------------

class CancellationTests(CrossLanguageTestCase):
    def test_python_cancels_c_coroutine(self):
        recorder = GasyncTest.Recorder.new()
        pending = Gasync.Future.new()
        c = GasyncTest.await_recorded(pending, recorder)

        async def body():
            later(2, c.cancel)
            try:
                await c
            except Gasync.CancelledError as e:
                return e
            return None

        error = self.run_future(body())
        self.assertIsInstance(error, Gasync.CancelledError)
        self.assertEqual(c.get_state(), State.CANCELLED)
        # The C body's await failed with G_IO_ERROR_CANCELLED, and the future
        # it awaited was cancelled with it.
        events = recorder.dup_events()
        self.assertEqual(events[0], 'start')
        self.assertEqual(events[1], 'cancelled:The coroutine was cancelled')
        self.assertTrue(events[2].startswith('awaited:cancelled:'), events)
        self.assertEqual(pending.get_state(), State.CANCELLED)

    def test_python_cancels_sleeping_c_coroutine(self):
        recorder = GasyncTest.Recorder.new()
        c = GasyncTest.sleep_until_cancelled(1, recorder)

        async def body():
            # Let it sleep a few times, then cancel it and wait for its end.
            while recorder.get_n_events() < 1:
                await delayed_int(1, 0)
            await delayed_int(10, 0)
            self.assertTrue(c.cancel())
            try:
                await c
            except Gasync.CancelledError:
                return 'cancelled'
            return 'not cancelled'

        self.assertEqual(self.run_future(body()), 'cancelled')
        events = recorder.dup_events()
        self.assertEqual(events[0], 'start')
        self.assertRegex(events[1], r'^slept:[1-9][0-9]*$')
        self.assertEqual(events[2:], ['cancelled:The coroutine was cancelled'])
        self.assertEqual(c.get_state(), State.CANCELLED)
        self.assertTrue(c.get_cancellable().is_cancelled())

    def test_cancelling_c_coroutine_reaches_awaited_python_coroutine(self):
        recorder = GasyncTest.Recorder.new()
        seen = []
        pending = Gasync.Future.new()

        async def python_side():
            try:
                await pending
            except Gasync.CancelledError:
                seen.append(('raised at the await', GasyncTest.on_coroutine_stack()))
                raise
            finally:
                seen.append('finally')

        py = Gasync.spawn(python_side(), name='python-side')
        c = GasyncTest.await_recorded(py, recorder)
        later(2, c.cancel)
        iterate_until(lambda: c.is_done() and py.is_done(), WATCHDOG_MS)

        self.assertEqual(seen, [('raised at the await', False), 'finally'])
        self.assertEqual(py.get_state(), State.CANCELLED)
        self.assertEqual(c.get_state(), State.CANCELLED)
        self.assertEqual(pending.get_state(), State.CANCELLED)
        self.assertEqual(recorder.dup_events()[:2],
                         ['start', 'cancelled:The coroutine was cancelled'])

    def test_python_coroutine_may_decline_cancellation_from_c(self):
        recorder = GasyncTest.Recorder.new()

        async def stubborn():
            try:
                await Gasync.Future.new()
            except Gasync.CancelledError:
                return 'cleaned up'

        py = Gasync.spawn(stubborn())
        c = GasyncTest.cancel_after(py, 3, recorder)
        # C cancelled the Python coroutine from its own stack; Python saw it at
        # its await, from the scheduler's dispatch, and chose a value instead.
        self.assertEqual(self.run_future(c), 'resolved:gchararray:cleaned up')
        self.assertEqual(recorder.dup_events(), ['cancel:TRUE', 'resolved:gchararray:cleaned up'])
        self.assertEqual(py.get_state(), State.RESOLVED)

    def test_c_cancels_python_coroutine(self):
        recorder = GasyncTest.Recorder.new()
        seen = []

        async def victim():
            try:
                await GasyncTest.sleep(60000)
            except Gasync.CancelledError:
                seen.append(GasyncTest.on_coroutine_stack())
                raise

        py = Gasync.spawn(victim())
        c = GasyncTest.cancel_after(py, 2, recorder)
        self.assertEqual(self.run_future(c), 'cancelled:The coroutine was cancelled')
        self.assertEqual(seen, [False])
        self.assertEqual(py.get_state(), State.CANCELLED)
        self.assertEqual(recorder.dup_events(),
                         ['cancel:TRUE', 'cancelled:The coroutine was cancelled'])

    def test_cancellation_through_a_chain(self):
        # Python awaits C awaits Python awaits a pending future; cancelling
        # the outer Python coroutine reaches every level.
        recorder = GasyncTest.Recorder.new()
        seen = []
        pending = Gasync.Future.new()

        async def inner():
            try:
                await pending
            except Gasync.CancelledError:
                seen.append('inner')
                raise

        async def outer():
            try:
                await GasyncTest.await_recorded(Gasync.spawn(inner()), recorder)
            except Gasync.CancelledError:
                seen.append('outer')
                raise

        top = Gasync.spawn(outer())
        later(2, top.cancel)
        iterate_until(lambda: top.is_done() and pending.is_done() and len(seen) == 2, WATCHDOG_MS)
        self.assertEqual(sorted(seen), ['inner', 'outer'])
        self.assertEqual(top.get_state(), State.CANCELLED)
        self.assertEqual(pending.get_state(), State.CANCELLED)
        self.assertEqual(recorder.dup_events()[:2],
                         ['start', 'cancelled:The coroutine was cancelled'])

    # gasync_future_cancel() called on a coroutine stack (an explicit
    # cancel, or an await failing because the coroutine itself was
    # cancelled, which cancels the awaited future) defers the future's
    # GCancellable to the scheduler's dispatch, so that its handlers, Python
    # and JS ones included, never run on the coroutine's stack. The C watcher
    # below detects where they run without running Python there.
    def test_cancellable_of_awaited_coroutine_cancelled_off_stack(self):
        watcher = GasyncTest.Recorder.new()

        async def waits():
            await Gasync.Future.new()

        py = Gasync.spawn(waits())
        watcher.watch_cancellable(py.get_cancellable())
        c = GasyncTest.await_recorded(py, GasyncTest.Recorder.new())
        later(2, c.cancel)
        iterate_until(lambda: c.is_done() and py.is_done(), WATCHDOG_MS)
        self.assertEqual(watcher.dup_events(), ['cancellable:off-coroutine-stack'])

    def test_cancellable_cancelled_by_c_body_off_stack(self):
        watcher = GasyncTest.Recorder.new()

        async def waits():
            await Gasync.Future.new()

        py = Gasync.spawn(waits())
        watcher.watch_cancellable(py.get_cancellable())
        self.run_future(GasyncTest.cancel_after(py, 1, GasyncTest.Recorder.new()))
        self.assertEqual(watcher.dup_events(), ['cancellable:off-coroutine-stack'])

    def test_cancellable_cancelled_from_python_off_stack(self):
        watcher = GasyncTest.Recorder.new()
        c = GasyncTest.sleep_until_cancelled(1, GasyncTest.Recorder.new())
        watcher.watch_cancellable(c.get_cancellable())
        later(2, c.cancel)
        iterate_until(c.is_done, WATCHDOG_MS)
        self.assertEqual(watcher.dup_events(), ['cancellable:off-coroutine-stack'])

    def test_cancelled_before_c_starts(self):
        recorder = GasyncTest.Recorder.new()
        pending = Gasync.Future.new()
        c = GasyncTest.await_recorded(pending, recorder)
        self.assertTrue(c.cancel())
        iterate_until(c.is_done, WATCHDOG_MS)
        self.assertEqual(c.get_state(), State.CANCELLED)
        self.assertEqual(pending.get_state(), State.CANCELLED)
        self.assertEqual(recorder.dup_events()[:2],
                         ['start', 'cancelled:The coroutine was cancelled'])


# -- lifetimes -------------------------------------------------------------------------

class LifetimeTests(CrossLanguageTestCase):
    def test_finished_coroutines_are_collectable(self):
        async def twenty_one():
            return await delayed_int(1, 21)

        py = Gasync.spawn(twenty_one())
        c = GasyncTest.await_and_double(py)
        py_finalized, c_finalized = Finalized(py), Finalized(c)
        self.assertEqual(self.run_future(c), 42)
        del py, c
        for _ in range(3):
            gc.collect()
            drain()
        self.assertTrue(py_finalized.done, 'the Python coroutine was not finalized')
        self.assertTrue(c_finalized.done, 'the C coroutine was not finalized')

    def test_cancelled_coroutines_are_collectable(self):
        recorder = GasyncTest.Recorder.new()

        async def waits_forever():
            await Gasync.Future.new()

        py = Gasync.spawn(waits_forever())
        c = GasyncTest.await_recorded(py, recorder)
        py_finalized, c_finalized = Finalized(py), Finalized(c)
        later(1, c.cancel)
        iterate_until(lambda: c.is_done() and py.is_done(), WATCHDOG_MS)
        del py, c
        for _ in range(3):
            gc.collect()
            drain()
        self.assertTrue(py_finalized.done, 'the Python coroutine was not finalized')
        self.assertTrue(c_finalized.done, 'the C coroutine was not finalized')


# -- TAP -------------------------------------------------------------------------------

if __name__ == '__main__':
    sys.exit(taptest.main(__name__))
