#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Sources, thread offload, the semaphore and the channel from Python:
awaited in Gasync.spawn() coroutines.

Run by meson with the build tree's typelib and library and the override's
folder on PYTHONPATH; prints TAP.  Everything runs on the global default
main context.
"""

import sys
import threading
import time

import gi

gi.require_version('GLib', '2.0')
gi.require_version('GObject', '2.0')
gi.require_version('Gio', '2.0')
gi.require_version('Gasync', '1')
from gi.repository import GLib, GObject, Gio, Gasync  # noqa: E402

import gasynctest  # noqa: E402
import taptest  # noqa: E402

State = Gasync.FutureState
WATCHDOG_MS = 10000


class PrimitivesTestCase(gasynctest.TestCase):
    WATCHDOG_MS = WATCHDOG_MS

    def assertGError(self, error, domain, code):
        self.assertIsInstance(error, GLib.Error)
        self.assertTrue(error.matches(domain, code), f'{error.domain}:{error.code} {error.message}')


class SourceTests(PrimitivesTestCase):
    def test_sleep(self):
        async def body():
            start = time.monotonic()
            value = await Gasync.sleep(20)
            return value, time.monotonic() - start

        value, elapsed = self.run_future(body())
        self.assertIsNone(value)
        self.assertGreaterEqual(elapsed, 0.020)

    def test_sleep_cancel(self):
        async def sleeper():
            await Gasync.sleep(3600 * 1000)

        async def body():
            task = Gasync.spawn(sleeper())
            await Gasync.sleep(1)
            task.cancel()
            try:
                await task
            except Gasync.CancelledError:
                return task.cancelled()

        self.assertTrue(self.run_future(body()))

    def test_deadline(self):
        async def body():
            deadline = GLib.get_monotonic_time() + 15000
            await Gasync.deadline(deadline)
            return GLib.get_monotonic_time() >= deadline

        self.assertTrue(self.run_future(body()))


class ThreadTests(PrimitivesTestCase):
    def test_run_in_thread(self):
        main_thread = threading.get_ident()

        def work(cancellable):
            # Returns (success, value): the GValue is an out argument.
            return True, threading.get_ident() != main_thread

        async def body():
            return await Gasync.run_in_thread(work)

        self.assertIs(self.run_future(body()), True)

    def test_run_in_thread_error(self):
        def work(cancellable):
            raise GLib.Error.new_literal(Gio.io_error_quark(), 'missing',
                                         Gio.IOErrorEnum.NOT_FOUND)

        async def body():
            try:
                await Gasync.run_in_thread(work)
            except GLib.Error as error:
                return error

        self.assertGError(self.run_future(body()), Gio.io_error_quark(),
                          Gio.IOErrorEnum.NOT_FOUND)


class SemaphoreTests(PrimitivesTestCase):
    def test_bounded_concurrency(self):
        sem = Gasync.Semaphore.new(3)
        state = {'active': 0, 'max': 0, 'done': 0}

        async def worker(i):
            await sem.acquire()
            try:
                state['active'] += 1
                state['max'] = max(state['max'], state['active'])
                await Gasync.sleep(1 + i % 3)
            finally:
                state['active'] -= 1
                sem.release()
            state['done'] += 1

        async def body():
            tasks = [Gasync.spawn(worker(i)) for i in range(20)]
            for task in tasks:
                await task

        self.run_future(body())
        self.assertEqual(state['max'], 3)
        self.assertEqual(state['done'], 20)
        self.assertEqual(sem.get_available(), 3)

    def test_cancel_waiting_acquire(self):
        sem = Gasync.Semaphore.new(0)

        async def body():
            first = sem.acquire()
            second = sem.acquire()
            self.assertEqual(sem.get_n_waiting(), 2)
            self.assertTrue(first.cancel())
            sem.release()
            await second
            return first.cancelled(), sem.get_n_waiting(), sem.get_available()

        self.assertEqual(self.run_future(body()), (True, 0, 0))


class ChannelTests(PrimitivesTestCase):
    def test_producer_consumer(self):
        channel = Gasync.Channel(capacity=2)
        received = []

        async def producer():
            for i in range(10):
                await channel.send(i)
            await channel.send('done')
            channel.close()

        async def consumer():
            while True:
                try:
                    received.append(await channel.receive())
                except GLib.Error as error:
                    self.assertGError(error, Gasync.error_quark(), Gasync.Error.CLOSED)
                    return

        async def body():
            consumer_task = Gasync.spawn(consumer())
            await Gasync.spawn(producer())
            await consumer_task

        self.run_future(body())
        self.assertEqual(received, list(range(10)) + ['done'])

    def test_values(self):
        channel = Gasync.Channel.new(4)

        async def body():
            await channel.send(GObject.Value(GObject.TYPE_UINT64, 2 ** 40))
            await channel.send(Gio.Cancellable())
            await channel.send(True)
            return [await channel.receive() for _ in range(3)]

        big, obj, flag = self.run_future(body())
        self.assertEqual(big, 2 ** 40)
        self.assertIsInstance(obj, Gio.Cancellable)
        self.assertIs(flag, True)

    def test_cancel_waiting_receive(self):
        channel = Gasync.Channel.new(0)

        async def receiver():
            return await channel.receive()

        async def body():
            first = Gasync.spawn(receiver())
            second = Gasync.spawn(receiver())
            await Gasync.sleep(1)
            first.cancel()
            try:
                await first
            except Gasync.CancelledError:
                pass
            # The cancelled coroutine withdrew its receive: the value goes
            # to the receiver still waiting.
            await channel.send('x')
            return first.cancelled(), await second

        self.assertEqual(self.run_future(body()), (True, 'x'))

    def test_cancel_after_hand_over(self):
        channel = Gasync.Channel.new(0)

        async def receiver():
            return await channel.receive()

        async def body():
            first = Gasync.spawn(receiver())
            second = Gasync.spawn(receiver())
            await Gasync.sleep(1)
            # Handed to the first receiver, which is cancelled before it
            # could resume: the value goes on to the second.
            await channel.send('y')
            first.cancel()
            return await second, first

        value, first = self.run_future(body())
        self.assertEqual(value, 'y')
        self.assertTrue(first.cancelled())

    def test_close_with_waiting_sender(self):
        channel = Gasync.Channel.new(0)

        async def body():
            send = channel.send(1)
            channel.close()
            try:
                await send
            except GLib.Error as error:
                return error

        self.assertGError(self.run_future(body()), Gasync.error_quark(), Gasync.Error.CLOSED)


# -- TAP -------------------------------------------------------------------------

if __name__ == '__main__':
    sys.exit(taptest.main(__name__))
