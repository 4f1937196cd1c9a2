#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Python override (introspection/python/gi/overrides/Gasync.py): await,
spawn, run, the asyncio-shaped accessors, error and value mapping,
cancellation, lifetimes and the asyncio bridge.

Run by meson with the build tree's typelib and library and the override's
folder on PYTHONPATH; prints TAP.  Everything runs on the global default
main context unless a test says otherwise.
"""

import asyncio
import gc
import os
import subprocess
import sys
import threading
import types
import weakref

import gi

gi.require_version('GLib', '2.0')
gi.require_version('GObject', '2.0')
gi.require_version('Gio', '2.0')
gi.require_version('Gasync', '1')
from gi.repository import GLib, GObject, Gio, Gasync  # noqa: E402

import gasynctest  # noqa: E402
import taptest  # noqa: E402
from gasynctest import Finalized, drain, later  # noqa: E402

State = Gasync.FutureState
IO_ERROR = Gio.io_error_quark()
CANCELLED = Gio.IOErrorEnum.CANCELLED
WATCHDOG_MS = 5000


def collect():
    for _ in range(3):
        gc.collect()
        drain()


@types.coroutine
def pass_turn():
    """A bare yield, as asyncio.sleep(0) does."""
    yield


class BindingTestCase(gasynctest.TestCase):
    WATCHDOG_MS = WATCHDOG_MS

    def assertGError(self, error, domain, code, message=None):
        self.assertIsInstance(error, GLib.Error)
        self.assertTrue(error.matches(domain, code), f'{error.domain}:{error.code} {error.message}')
        if message is not None:
            self.assertEqual(error.message, message)


# -- await ---------------------------------------------------------------------

class AwaitTests(BindingTestCase):
    def test_await_settled_futures(self):
        error = GLib.Error.new_literal(IO_ERROR, 'gone', Gio.IOErrorEnum.NOT_FOUND)

        async def body():
            got = [await Gasync.Future.new_resolved_int(7),
                   await Gasync.Future.new_resolved_string('s')]
            void = Gasync.Future.new()
            void.resolve_void()
            got.append(await void)
            try:
                await Gasync.Future.new_rejected(error)
            except GLib.Error as e:
                got.append((e.domain, e.code, e.message))
            try:
                await Gasync.Future.new_cancelled()
            except Exception as e:
                got.append(type(e).__name__)
            return got

        self.assertEqual(self.run_future(body()),
                         [7, 's', None, ('g-io-error-quark', Gio.IOErrorEnum.NOT_FOUND, 'gone'),
                          'CancelledError'])

    def test_await_pending_futures(self):
        threads = []

        async def body():
            timed = Gasync.Future.new()
            later(5, timed.resolve_double, 2.5)
            first = await timed

            from_thread = Gasync.Future.new()
            threads.append(threading.Thread(target=from_thread.resolve_string, args=('thread',)))
            threads[0].start()
            second = await from_thread

            rejected = Gasync.Future.new()
            later(1, rejected.reject_literal, Gasync.error_quark(), Gasync.Error.FAILED, 'later')
            try:
                await rejected
            except GLib.Error as e:
                third = e.message
            return first, second, third

        self.assertEqual(self.run_future(body()), (2.5, 'thread', 'later'))
        threads[0].join()

    def test_await_coroutines(self):
        async def inner(x):
            future = Gasync.Future.new()
            later(1, future.resolve_int, x)
            return await future * 2

        async def outer():
            co = Gasync.spawn(inner(21), name='inner')
            self.assertIsInstance(co, Gasync.Coroutine)
            self.assertFalse(co.is_stackful())
            # A gasync coroutine, then a plain Python coroutine.
            return await co, await inner(1)

        self.assertEqual(self.run_future(outer()), (42, 2))

    def test_current_coroutine(self):
        seen = []

        async def body():
            seen.append(Gasync.Coroutine.get_current())
            await pass_turn()
            seen.append(Gasync.Coroutine.get_current())

        co = Gasync.spawn(body())
        self.assertIsNone(Gasync.Coroutine.get_current())
        self.run_future(co)
        self.assertEqual(seen, [co, co])

    def test_bare_yield_lets_others_run(self):
        order = []

        async def worker(name):
            for i in range(3):
                order.append((name, i))
                await pass_turn()

        a = Gasync.spawn(worker('a'))
        b = Gasync.spawn(worker('b'))
        self.run_future(a)
        self.run_future(b)
        self.assertEqual(order, [('a', 0), ('b', 0), ('a', 1), ('b', 1), ('a', 2), ('b', 2)])

    def test_await_foreign_future_raises_type_error(self):
        loop = asyncio.new_event_loop()

        async def body():
            try:
                await loop.create_future()
            except TypeError as e:
                return str(e)

        try:
            self.assertIn('only await gasync futures', self.run_future(body()))
        finally:
            loop.close()

    def test_await_without_a_driver_raises(self):
        async def body():
            await Gasync.Future.new()

        coro = body()
        with self.assertRaisesRegex(RuntimeError, r'Gasync\.spawn\(\)'):
            coro.send(None)


# -- spawn and run ---------------------------------------------------------------

class SpawnRunTests(BindingTestCase):
    @staticmethod
    async def delayed(value, ms=2):
        future = Gasync.Future.new()
        later(ms, future.resolve_value, GObject.Value(GObject.TYPE_STRING, value))
        return await future

    def test_spawn_awaited_with_wait_async(self):
        co = Gasync.spawn(self.delayed('from python'), name='waited')
        self.assertEqual(co.get_name(), 'waited')
        self.assertEqual(co.get_state(), State.PENDING)
        loop = GLib.MainLoop.new(None, False)
        results = []

        def on_ready(source, result):
            results.append(source.wait_finish(result))
            loop.quit()

        co.wait_async(None, on_ready)
        watchdog = later(WATCHDOG_MS, loop.quit)
        loop.run()
        GLib.source_remove(watchdog)
        self.assertEqual(results, [(True, 'from python')])
        self.assertEqual(co.dup_string(), 'from python')

    def test_spawn_awaited_with_wait_and_signals(self):
        events = []
        co = Gasync.spawn(self.delayed('x'))
        co.connect('done', lambda f: events.append(('done', f.get_state())))
        self.assertEqual(co.get_name(), 'SpawnRunTests.delayed')
        self.assertTrue(co.wait())
        drain()
        self.assertEqual(events, [('done', State.RESOLVED)])

    def test_spawn_on_another_context(self):
        context = GLib.MainContext.new()

        async def body():
            await pass_turn()
            return Gasync.Coroutine.get_current().get_context() == context

        co = Gasync.spawn(body(), context=context)
        self.assertEqual(co.get_context(), context)
        drain()  # the default context does not run it
        self.assertEqual(co.get_state(), State.PENDING)
        self.assertTrue(Gasync.run(co))
        drain(context)

    def test_spawn_needs_a_coroutine(self):
        with self.assertRaises(TypeError):
            Gasync.spawn(self.delayed)
        with self.assertRaises(TypeError):
            Gasync.spawn(Gasync.Future.new())

    def test_run(self):
        self.assertEqual(Gasync.run(self.delayed('coroutine')), 'coroutine')
        future = Gasync.Future.new()
        later(1, future.resolve_int, 5)
        self.assertEqual(Gasync.run(future), 5)

        class Awaitable:
            def __await__(self):
                return (yield from Gasync.Future.new_resolved_int(6).__await__())

        self.assertEqual(Gasync.run(Awaitable()), 6)
        with self.assertRaises(TypeError):
            Gasync.run(6)

        rejected = Gasync.Future.new()
        later(1, rejected.reject_literal, IO_ERROR, Gio.IOErrorEnum.EXISTS, 'exists')
        with self.assertRaises(GLib.Error) as ctx:
            Gasync.run(rejected)
        self.assertGError(ctx.exception, IO_ERROR, Gio.IOErrorEnum.EXISTS, 'exists')

        with self.assertRaises(Gasync.CancelledError):
            Gasync.run(Gasync.Future.new_cancelled())

    def test_run_inside_a_coroutine_fails(self):
        async def body():
            try:
                Gasync.run(Gasync.Future.new())
            except GLib.Error as e:
                return e

        error = self.run_future(body())
        self.assertGError(error, Gasync.error_quark(), Gasync.Error.IN_COROUTINE)

    def test_ensure_future(self):
        future = Gasync.Future.new()
        self.assertIs(Gasync.ensure_future(future), future)
        co = Gasync.ensure_future(self.delayed('e'), name='ensured')
        self.assertIsInstance(co, Gasync.Coroutine)
        self.assertEqual(co.get_name(), 'ensured')
        self.assertEqual(self.run_future(co), 'e')


# -- values ------------------------------------------------------------------------

class ValueTests(BindingTestCase):
    def test_return_values_as_seen_from_c(self):
        action = Gio.SimpleAction.new('act', None)
        data = GLib.Bytes.new(b'xy')
        variant = GLib.Variant('i', 3)
        listed = [1, 'two']
        raw = b'raw'
        huge = 2**70
        cases = [
            (None, lambda f: (f.propagate_error(), f.has_value()), (True, False)),
            (True, lambda f: f.get_boolean(), True),
            (42, lambda f: f.get_int(), 42),
            (-2**31, lambda f: f.get_int(), -2**31),
            (2**40, lambda f: f.get_int64(), 2**40),
            (2**63 + 1, lambda f: f.get_uint64(), 2**63 + 1),
            (0.5, lambda f: f.get_double(), 0.5),
            ('héllo', lambda f: f.dup_string(), 'héllo'),
            (action, lambda f: f.dup_object(), action),
            (data, lambda f: f.get_value()[1].get_data(), b'xy'),
            (variant, lambda f: f.get_value()[1].unpack(), 3),
            (Gio.IOErrorEnum.EXISTS, lambda f: f.get_value()[1], Gio.IOErrorEnum.EXISTS),
            (listed, lambda f: f.get_value()[1], listed),
            (raw, lambda f: f.get_value()[1], raw),
            (huge, lambda f: f.get_value()[1], huge),
        ]
        for value, read, expected in cases:
            with self.subTest(value=value):
                async def body(v=value):
                    return v
                co = Gasync.spawn(body())
                result = self.run_future(co)
                self.assertEqual(read(co), expected)
                if isinstance(value, (GObject.Object, list, bytes)):
                    self.assertIs(result, value)
                elif isinstance(value, GLib.Variant):
                    self.assertEqual(result.unpack(), 3)
                elif isinstance(value, GLib.Bytes):
                    self.assertEqual(result.get_data(), b'xy')
                else:
                    self.assertEqual(result, value)

    def test_values_resolved_from_c(self):
        future = Gasync.Future.new()
        future.resolve_uint64(2**64 - 1)
        self.assertEqual(future.result(), 2**64 - 1)
        future = Gasync.Future.new()
        future.resolve_void()
        self.assertIsNone(future.result())

    def test_declared_value_type(self):
        future = Gasync.Future.new()
        future.set_value_type(GObject.TYPE_DOUBLE)
        self.assertTrue(future.set_result(3))
        self.assertEqual(future.get_double(), 3.0)

        future = Gasync.Future.new()
        future.set_value_type(GObject.TYPE_INT64)
        self.assertTrue(future.set_result(3))
        self.assertEqual(future.get_int64(), 3)

        future = Gasync.Future.new()
        future.set_value_type(GObject.TYPE_STRING)
        with self.assertRaises(TypeError):
            future.set_result(object())
        self.assertEqual(future.get_state(), State.PENDING)


# -- accessors ---------------------------------------------------------------

class AccessorTests(BindingTestCase):
    def test_pending(self):
        future = Gasync.Future.new()
        self.assertFalse(future.done())
        self.assertFalse(future.cancelled())
        self.assertFalse(future.has_value())
        with self.assertRaises(GLib.Error) as ctx:
            future.result()
        self.assertGError(ctx.exception, Gasync.error_quark(), Gasync.Error.INVALID_STATE)
        with self.assertRaises(GLib.Error) as ctx:
            future.exception()
        self.assertGError(ctx.exception, Gasync.error_quark(), Gasync.Error.INVALID_STATE)

    def test_resolved(self):
        future = Gasync.Future.new()
        self.assertTrue(future.set_result('v'))
        self.assertFalse(future.set_result('w'))
        self.assertFalse(future.set_exception(ValueError()))
        self.assertTrue(future.done())
        self.assertFalse(future.cancelled())
        self.assertEqual(future.result(), 'v')
        self.assertIsNone(future.exception())
        self.assertFalse(future.cancel())

    def test_rejected_with_glib_error(self):
        future = Gasync.Future.new()
        error = GLib.Error.new_literal(IO_ERROR, 'denied', Gio.IOErrorEnum.PERMISSION_DENIED)
        self.assertTrue(future.set_exception(error))
        self.assertTrue(future.done())
        self.assertFalse(future.cancelled())
        self.assertFalse(future.has_value())
        self.assertGError(future.exception(), IO_ERROR, Gio.IOErrorEnum.PERMISSION_DENIED, 'denied')
        with self.assertRaises(GLib.Error) as ctx:
            future.result()
        self.assertGError(ctx.exception, IO_ERROR, Gio.IOErrorEnum.PERMISSION_DENIED)
        with self.assertRaises(GLib.Error) as ctx:
            future.get_int()
        self.assertGError(ctx.exception, IO_ERROR, Gio.IOErrorEnum.PERMISSION_DENIED)

    def test_rejected_with_python_exception(self):
        future = Gasync.Future.new()
        error = KeyError('k')
        self.assertTrue(future.set_exception(error))
        self.assertIs(future.exception(), error)
        with self.assertRaises(KeyError) as ctx:
            future.result()
        self.assertIs(ctx.exception, error)
        # C sees GASYNC_ERROR_FAILED with the message.
        with self.assertRaises(GLib.Error) as ctx:
            future.propagate_error()
        self.assertGError(ctx.exception, Gasync.error_quark(), Gasync.Error.FAILED, "KeyError: 'k'")

        future = Gasync.Future.new()
        future.set_exception(ValueError)
        self.assertIsInstance(future.exception(), ValueError)
        with self.assertRaises(TypeError):
            Gasync.Future.new().set_exception(StopIteration())

    def test_cancelled(self):
        future = Gasync.Future.new()
        self.assertTrue(future.cancel())
        self.assertFalse(future.cancel())
        self.assertTrue(future.done())
        self.assertTrue(future.cancelled())
        with self.assertRaises(Gasync.CancelledError):
            future.result()
        with self.assertRaises(Gasync.CancelledError):
            future.exception()
        self.assertFalse(future.set_result(1))

    def test_done_callbacks(self):
        future = Gasync.Future.new()
        calls = []

        def first(f):
            calls.append(('first', f))

        def second(f, tag):
            calls.append(('second', f, tag))

        future.add_done_callback(first)
        future.add_done_callback(first)
        future.add_done_callback(second, 'tag')
        self.assertEqual(future.remove_done_callback(first), 2)
        self.assertEqual(future.remove_done_callback(first), 0)
        callback_id = future.add_done_callback(first)
        self.assertIsInstance(callback_id, int)
        self.assertTrue(future.remove_done_callback(callback_id))
        self.assertFalse(future.remove_done_callback(callback_id))
        future.add_done_callback(first)

        future.set_result(1)
        self.assertEqual(calls, [], 'done callbacks ran synchronously')
        drain()
        self.assertEqual(calls, [('second', future, 'tag'), ('first', future)])
        self.assertEqual(future.remove_done_callback(first), 0)

        # On a settled future: still from the main context, later.
        future.add_done_callback(first)
        self.assertEqual(len(calls), 2)
        drain()
        self.assertEqual(calls[2:], [('first', future)])


# -- errors ------------------------------------------------------------------------

class ErrorTests(BindingTestCase):
    def test_python_exception(self):
        error = ValueError('boom')

        async def body():
            await pass_turn()
            raise error

        co = Gasync.spawn(body())
        try:
            self.run_future(co)
        except ValueError as e:
            self.assertIs(e, error)
            frames = []
            tb = e.__traceback__
            while tb is not None:
                frames.append(tb.tb_frame.f_code.co_name)
                tb = tb.tb_next
            self.assertIn('body', frames)
        else:
            self.fail('no exception')
        self.assertEqual(co.get_state(), State.REJECTED)
        with self.assertRaises(GLib.Error) as ctx:
            co.propagate_error()
        self.assertGError(ctx.exception, Gasync.error_quark(), Gasync.Error.FAILED, 'ValueError: boom')

    def test_python_exception_reaches_awaiting_coroutine(self):
        error = RuntimeError('inner')

        async def inner():
            raise error

        async def outer():
            try:
                await Gasync.spawn(inner())
            except RuntimeError as e:
                return e

        self.assertIs(self.run_future(outer()), error)

    def test_glib_error_passes_through(self):
        async def body():
            raise GLib.Error.new_literal(IO_ERROR, 'exists', Gio.IOErrorEnum.EXISTS)

        co = Gasync.spawn(body())
        with self.assertRaises(GLib.Error) as ctx:
            self.run_future(co)
        self.assertGError(ctx.exception, IO_ERROR, Gio.IOErrorEnum.EXISTS, 'exists')
        with self.assertRaises(GLib.Error) as ctx:
            co.get_value()
        self.assertGError(ctx.exception, IO_ERROR, Gio.IOErrorEnum.EXISTS, 'exists')

    def test_asyncio_cancelled_error_cancels(self):
        async def body():
            raise asyncio.CancelledError('stop')

        co = Gasync.spawn(body())
        with self.assertRaises(Gasync.CancelledError):
            self.run_future(co)
        self.assertTrue(co.cancelled())


# -- cancellation ------------------------------------------------------------------

class CancellationTests(BindingTestCase):
    def test_cancelled_error_type(self):
        error = Gasync.CancelledError()
        self.assertIsInstance(error, Exception)
        self.assertIsInstance(error, GLib.Error)
        self.assertIsInstance(error, asyncio.CancelledError)
        self.assertTrue(error.matches(IO_ERROR, CANCELLED))
        self.assertIs(Gasync.CancelledError, Gasync.CancelledError)

    def test_cancelled_error_imports_asyncio_lazily(self):
        code = ('import sys, gi\n'
                'gi.require_version("Gasync", "1")\n'
                'from gi.repository import Gasync\n'
                'assert "asyncio" not in sys.modules\n'
                'assert issubclass(Gasync.CancelledError, sys.modules["asyncio"].CancelledError)\n')
        subprocess.run([sys.executable, '-c', code], check=True, env=os.environ)

    def test_cancel_raises_at_the_await(self):
        pending = Gasync.Future.new()
        events = []

        async def body():
            try:
                await pending
            except Exception as e:
                events.append((type(e).__name__, isinstance(e, asyncio.CancelledError),
                               e.matches(IO_ERROR, CANCELLED)))
                raise
            finally:
                events.append('finally')

        co = Gasync.spawn(body())
        later(5, co.cancel)
        with self.assertRaises(Gasync.CancelledError):
            self.run_future(co)
        self.assertEqual(events, [('CancelledError', True, True), 'finally'])
        self.assertTrue(co.cancelled())
        self.assertEqual(co.get_state(), State.CANCELLED)
        self.assertTrue(pending.cancelled())

    def test_cancel_handled_by_the_coroutine(self):
        async def body():
            try:
                await Gasync.Future.new()
            except Gasync.CancelledError:
                cleanup = Gasync.Future.new()
                later(1, cleanup.resolve_string, 'cleaned')
                return await cleanup

        co = Gasync.spawn(body())
        later(1, co.cancel)
        self.assertEqual(self.run_future(co), 'cleaned')
        self.assertTrue(co.is_cancel_requested())
        self.assertEqual(co.get_state(), State.RESOLVED)

    def test_cancel_reaches_awaited_coroutine(self):
        events = []

        async def inner():
            try:
                await Gasync.Future.new()
            except Gasync.CancelledError:
                events.append('inner')
                raise

        async def outer(co):
            try:
                await co
            except Gasync.CancelledError:
                events.append('outer')
                raise

        inner_co = Gasync.spawn(inner())
        outer_co = Gasync.spawn(outer(inner_co))
        later(5, outer_co.cancel)
        with self.assertRaises(Gasync.CancelledError):
            self.run_future(outer_co)
        self.run_future(Gasync.spawn(self._settled(inner_co)))
        self.assertEqual(events, ['outer', 'inner'])
        self.assertTrue(inner_co.cancelled())

    @staticmethod
    async def _settled(future):
        try:
            await future
        except Exception:
            pass

    def test_cancel_before_the_first_step(self):
        pending = Gasync.Future.new()
        events = []

        async def body():
            events.append('started')
            try:
                await pending
            except Gasync.CancelledError:
                events.append('cancelled')
                raise

        co = Gasync.spawn(body())
        self.assertTrue(co.cancel())
        later(WATCHDOG_MS // 2, pending.resolve_void)
        with self.assertRaises(Gasync.CancelledError):
            self.run_future(co)
        self.assertEqual(events, ['started', 'cancelled'])
        self.assertTrue(pending.cancelled())

    def test_cancel_through_the_cancellable(self):
        async def body():
            await Gasync.Future.new()

        co = Gasync.spawn(body())
        later(1, co.get_cancellable().cancel)
        with self.assertRaises(Gasync.CancelledError):
            self.run_future(co)
        self.assertTrue(co.cancelled())


# -- lifetimes -----------------------------------------------------------------------

class LifetimeTests(BindingTestCase):
    def test_finished_coroutines_are_collectable(self):
        for outcome in ('value', 'error', 'cancelled'):
            with self.subTest(outcome=outcome):
                awaited = Gasync.Future.new()
                awaited_finalized = Finalized(awaited)

                async def body(future):
                    value = await future
                    if outcome == 'error':
                        raise ValueError('dropped')
                    return value

                coro = body(awaited)
                coro_ref = weakref.ref(coro)
                co = Gasync.spawn(coro)
                co_finalized = Finalized(co)
                del coro
                if outcome == 'cancelled':
                    later(1, co.cancel)
                else:
                    later(1, awaited.resolve_int, 1)
                del awaited
                try:
                    self.run_future(co)
                except (ValueError, Gasync.CancelledError):
                    pass
                del co
                collect()
                self.assertIsNone(coro_ref(), 'the Python coroutine is alive')
                self.assertTrue(co_finalized.done, 'the GasyncCoroutine is alive')
                self.assertTrue(awaited_finalized.done, 'the awaited future is alive')

    def test_never_settled_future_of_a_cancelled_coroutine(self):
        never = Gasync.Future.new()
        never_finalized = Finalized(never)

        async def body(future):
            await future

        coro = body(never)
        coro_ref = weakref.ref(coro)
        co = Gasync.spawn(coro)
        del coro, never
        drain()
        collect()
        # A running coroutine keeps itself, and what it awaits, alive.
        self.assertFalse(never_finalized.done)
        co.cancel()
        with self.assertRaises(Gasync.CancelledError):
            self.run_future(co)
        del co
        collect()
        self.assertIsNone(coro_ref())
        self.assertTrue(never_finalized.done)

    def test_dropped_asyncio_task_awaiting_a_never_settled_future(self):
        finalized = []

        async def waiter(future):
            await future

        async def main():
            loop = asyncio.get_running_loop()
            loop.set_exception_handler(lambda loop, context: None)  # "destroyed but pending"
            never = Gasync.Future.new()
            finalized.append(Finalized(never))
            task = loop.create_task(waiter(never))
            del never
            await asyncio.sleep(0.01)
            self.assertFalse(task.done())
            task_ref = weakref.ref(task)
            del task
            for _ in range(3):
                gc.collect()
                await asyncio.sleep(0)
            # Checked here: asyncio.run() would cancel a surviving task.
            return task_ref() is None, finalized[0].done

        self.assertEqual(asyncio.run(main()), (True, True))


# -- asyncio -------------------------------------------------------------------

class AsyncioTests(BindingTestCase):
    def run_asyncio(self, coro):
        return asyncio.run(asyncio.wait_for(coro, WATCHDOG_MS / 1000))

    def test_await_future_from_asyncio(self):
        async def main():
            settled = await Gasync.Future.new_resolved_int(1)
            future = Gasync.Future.new()
            later(5, future.resolve_int, 2)  # needs the default context iterated
            return settled, await future

        self.assertEqual(self.run_asyncio(main()), (1, 2))

    def test_await_spawned_coroutine_from_asyncio(self):
        async def gasync_side():
            future = Gasync.Future.new()
            later(1, future.resolve_string, 'from gasync')
            return await future

        async def main():
            return await asyncio.gather(Gasync.spawn(gasync_side()), Gasync.spawn(gasync_side()))

        self.assertEqual(self.run_asyncio(main()), ['from gasync', 'from gasync'])

    def test_await_future_of_a_context_iterated_by_another_thread(self):
        context = GLib.MainContext.new()
        glib_loop = GLib.MainLoop.new(context, False)
        thread = threading.Thread(target=glib_loop.run)
        thread.start()
        try:
            async def main():
                future = Gasync.Future.new_for_context(context)
                asyncio.get_running_loop().call_later(0.005, future.resolve_int, 3)
                return await future

            self.assertEqual(self.run_asyncio(main()), 3)
        finally:
            source = GLib.idle_source_new()
            source.set_callback(lambda *args: glib_loop.quit())
            source.attach(context)
            thread.join()

    def test_rejected_future_from_asyncio(self):
        async def main():
            future = Gasync.Future.new()
            later(1, future.reject_literal, IO_ERROR, Gio.IOErrorEnum.BUSY, 'busy')
            await future

        with self.assertRaises(GLib.Error) as ctx:
            self.run_asyncio(main())
        self.assertGError(ctx.exception, IO_ERROR, Gio.IOErrorEnum.BUSY, 'busy')

    def test_cancelling_the_task_cancels_the_future(self):
        future = Gasync.Future.new()

        async def main():
            task = asyncio.ensure_future(self._await(future))
            await asyncio.sleep(0.01)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            return task.cancelled()

        self.assertTrue(self.run_asyncio(main()))
        self.assertTrue(future.cancelled())

    @staticmethod
    async def _await(future):
        return await future

    def test_cancelled_future_cancels_the_task(self):
        async def main():
            future = Gasync.Future.new()
            later(1, future.cancel)
            task = asyncio.ensure_future(self._await(future))
            try:
                await task
            except asyncio.CancelledError:
                return task.cancelled()

        self.assertTrue(self.run_asyncio(main()))


# -- TAP -------------------------------------------------------------------------

if __name__ == '__main__':
    sys.exit(taptest.main(__name__))
