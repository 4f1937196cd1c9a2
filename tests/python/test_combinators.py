# SPDX-License-Identifier: LGPL-2.1-or-later
"""Combinators and scopes from Python: gather/race/wait/wait_for/shield over
Python coroutines and gasync futures alike, and Gasync.Scope as a TaskGroup."""

import sys
import unittest

import gi

gi.require_version('Gasync', '1')
gi.require_version('GLib', '2.0')

from gi.repository import GLib, Gio, Gasync  # noqa: E402

import taptest  # noqa: E402
from gasynctest import later  # noqa: E402

IO_ERROR = GLib.quark_to_string(Gio.io_error_quark())


def resolved_later(ms, value):
    future = Gasync.Future.new()
    later(ms, future.resolve_int, value)
    return future


async def twice(future):
    return 2 * await future


class CombinatorTests(unittest.TestCase):
    def test_gather_mixes_coroutines_and_futures(self):
        result = Gasync.run(Gasync.gather(twice(resolved_later(5, 4)),
                                          Gasync.Future.new_resolved_int(1),
                                          resolved_later(1, 3)))
        self.assertEqual(result, [8, 1, 3])

    def test_gather_first_failure_cancels_the_rest(self):
        slow = Gasync.Future.new()
        failing = Gasync.Future.new()
        later(1, failing.reject_literal, Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND, 'gone')
        with self.assertRaises(GLib.Error) as caught:
            Gasync.run(Gasync.gather(slow, failing))
        self.assertTrue(caught.exception.matches(Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND))
        self.assertTrue(slow.cancelled())

    def test_race_and_first_success(self):
        loser = Gasync.Future.new()
        self.assertEqual(Gasync.run(Gasync.race(loser, resolved_later(1, 7))), 7)
        self.assertTrue(loser.cancelled())

        failing = Gasync.Future.new_rejected(GLib.Error.new_literal(Gio.io_error_quark(), 'no', Gio.IOErrorEnum.FAILED))
        self.assertEqual(Gasync.run(Gasync.first_success(failing, twice(resolved_later(2, 5)))), 10)

    def test_wait_returns_done_and_pending(self):
        fast = resolved_later(1, 1)
        slow = Gasync.Future.new()
        done, pending = Gasync.run(Gasync.wait([fast, slow], Gasync.FIRST_COMPLETED))
        self.assertEqual(done, {fast})
        self.assertEqual(pending, {slow})
        self.assertFalse(slow.done())

    def test_wait_for_times_out(self):
        slow = Gasync.Future.new()
        with self.assertRaises(GLib.Error) as caught:
            Gasync.run(Gasync.wait_for(slow, 0.01))
        self.assertTrue(caught.exception.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT))
        self.assertTrue(slow.cancelled())

    def test_shield(self):
        inner = Gasync.Future.new()
        shielded = Gasync.shield(inner)
        shielded.cancel()
        self.assertTrue(shielded.cancelled())
        self.assertFalse(inner.done())
        inner.resolve_int(1)

    def test_all_settled_gives_futures(self):
        bad = Gasync.Future.new_rejected(GLib.Error.new_literal(Gio.io_error_quark(), 'bad', Gio.IOErrorEnum.FAILED))
        good = Gasync.Future.new_resolved_int(3)
        settled = Gasync.run(Gasync.all_settled(bad, good))
        self.assertEqual(settled, [bad, good])
        self.assertIsInstance(settled[0].exception(), GLib.Error)
        self.assertEqual(settled[1].result(), 3)

    def test_c_made_combinator_gives_futures(self):
        # The introspected function, without the override's wrapper: its
        # declared value type tells the override to read the children.
        from gi.module import get_introspection_module
        raw = get_introspection_module('Gasync')
        a = Gasync.Future.new_resolved_int(1)
        self.assertEqual(Gasync.run(raw.all([a])), [a])


class ScopeTests(unittest.TestCase):
    def test_async_with_waits_for_everything(self):
        finished = []

        async def worker(n):
            await resolved_later(n, n)
            finished.append(n)

        async def main():
            async with Gasync.Scope.new() as scope:
                for n in (3, 1, 2):
                    scope.spawn(worker(n))
            return sorted(finished)

        self.assertEqual(Gasync.run(main()), [1, 2, 3])

    def test_first_failure_cancels_siblings(self):
        cancelled = []

        async def sleeper():
            try:
                await Gasync.Future.new()
            except Gasync.CancelledError:
                cancelled.append(True)
                raise

        async def failing():
            await resolved_later(1, 0)
            raise ValueError('boom')

        async def main():
            async with Gasync.Scope.new() as scope:
                scope.spawn(sleeper())
                scope.spawn(failing())

        with self.assertRaises(GLib.Error):
            Gasync.run(main())
        self.assertEqual(cancelled, [True])

    def test_owner_disposal_cancels_and_silences(self):
        owner = Gio.SimpleAction.new('owner', None)
        scope = Gasync.Scope.new_for_owner(owner)
        started = []

        async def bound():
            started.append(True)
            await Gasync.Future.new()

        task = scope.spawn(bound())
        watched = Gasync.Future.new()
        calls = []
        scope.add_done_callback(watched, lambda f: calls.append(f))
        Gasync.run(resolved_later(1, 0))
        owner.run_dispose()
        del owner
        watched.resolve_void()
        with self.assertRaises(Gasync.CancelledError):
            Gasync.run(task)
        Gasync.run(resolved_later(1, 0))
        self.assertEqual(started, [True])
        self.assertEqual(calls, [])


if __name__ == '__main__':
    sys.exit(taptest.main(__name__))
