# SPDX-License-Identifier: LGPL-2.1-or-later
"""What gasync's Python test modules share: iterating the default main
context until nothing is ready, calling something later from it, and
running a future under a watchdog that fails the test instead of hanging
it."""

import unittest

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gasync', '1')
from gi.repository import GLib, Gasync  # noqa: E402


def later(ms, func, *args):
    """Calls func(*args) from a GLib timeout on the default context."""
    def on_timeout():
        func(*args)
        return GLib.SOURCE_REMOVE
    return GLib.timeout_add(ms, on_timeout)


def drain(context=None):
    """Iterates until nothing is ready.  After a dispatch that used up its
    budget gasync's scheduler sits out one iteration, so only two idle
    iterations in a row mean nothing is left."""
    context = context or GLib.MainContext.default()
    idle = 0
    while idle < 2:
        idle = 0 if context.iteration(False) else idle + 1


def iterate_until(predicate, timeout_ms):
    """Iterates the default context until predicate() holds; fails after
    timeout_ms."""
    deadline = GLib.get_monotonic_time() + timeout_ms * 1000
    context = GLib.MainContext.default()
    while not predicate():
        if GLib.get_monotonic_time() > deadline:
            raise AssertionError('timed out')
        context.iteration(True)


class Finalized:
    """Records the finalization of a GObject (not just of its wrapper)."""

    def __init__(self, obj):
        self.done = False
        self.ref = obj.weak_ref(self._on_finalized)

    def _on_finalized(self, *args):
        self.done = True


class TestCase(unittest.TestCase):
    """Drains the default context after each test; run_future() runs an
    awaitable to completion, cancelled after WATCHDOG_MS."""

    WATCHDOG_MS = 10000

    def tearDown(self):
        drain()

    def run_future(self, awaitable):
        """Gasync.run() under a watchdog that cancels instead of hanging."""
        future = Gasync.ensure_future(awaitable)
        timed_out = []

        def on_watchdog():
            timed_out.append(True)
            future.cancel()
            return GLib.SOURCE_REMOVE

        watchdog = GLib.timeout_add(self.WATCHDOG_MS, on_watchdog)
        try:
            return Gasync.run(future)
        finally:
            if not timed_out:
                GLib.source_remove(watchdog)
            self.assertFalse(timed_out, 'timed out')
