# SPDX-License-Identifier: LGPL-2.1-or-later
"""Python idioms for gasync, loaded by PyGObject with ``gi.repository.Gasync``.

Coroutines
    ``await future`` works inside ``async def`` for any ``Gasync.Future``
    (``Gasync.Coroutine`` included).  ``Gasync.spawn(coro, name=None,
    context=None)`` runs a Python coroutine as a stepped gasync coroutine and
    returns its ``Gasync.Coroutine``, a future that C and other languages can
    await, cancel and name.  Python code only ever runs from the scheduler's
    dispatch, on the thread's own stack.  ``Gasync.run(awaitable)`` is
    asyncio's ``run_until_complete``: it spawns a coroutine if needed, iterates
    the future's main context until it settles (``Gasync.Future.wait``) and
    returns the value or raises.  ``Gasync.ensure_future(awaitable)`` gives a
    future for a future, a coroutine or any other awaitable.

    Awaiting a pending future suspends the coroutine until the future settles.
    A coroutine yielding nothing (a bare ``yield``, as ``asyncio.sleep(0)``
    does) lets the other coroutines of its context run first.  Awaiting
    anything other than a gasync future raises ``TypeError`` at the await.

Cancellation
    Cancelling a spawned coroutine (``cancel()`` from Python, or
    ``gasync_future_cancel()`` from C) cancels the future it awaits and raises
    ``Gasync.CancelledError`` at that await; ``except`` and ``finally`` blocks
    run, and if the exception propagates the coroutine ends ``CANCELLED``.
    Reading a cancelled future (``result()``, ``await``, ``run()``) raises
    ``Gasync.CancelledError`` too.

    ``Gasync.CancelledError`` derives from both ``GLib.Error`` (domain
    ``G_IO_ERROR``, code ``G_IO_ERROR_CANCELLED``, so ``e.matches(
    Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED)`` holds, like every
    cancellation in GLib) and ``asyncio.CancelledError``.  So ``except
    Exception`` and ``except GLib.Error`` catch it, as gasync's C API treats
    cancellation as an error, and ``except asyncio.CancelledError`` catches it
    as asyncio users expect, and asyncio marks a task that lets it through as
    cancelled.  The class is created on first use, because creating it
    imports asyncio, which costs about 90 ms.

Errors
    A future rejected with a ``GError`` raises ``GLib.Error``.  A coroutine
    that raises ``GLib.Error`` is rejected with that error.  Any other
    exception rejects it with ``GASYNC_ERROR_FAILED`` and the message
    ``"<ExceptionType>: <str(exception)>"``, which is what C sees; Python code
    reading that future gets the original exception object back, traceback
    included.  ``asyncio.CancelledError`` ends the coroutine ``CANCELLED``.

Values
    Results are read with ``get_value()``, so a future resolved from C gives
    the natural Python value (``int``, ``str``, ``GObject.Object``, a boxed
    wrapper...); a future resolved without a value gives ``None``.
    ``set_result(value)``, and the return value of a spawned coroutine, map
    Python values thus: if the future declares a value type
    (``set_value_type``) the value is converted to it; otherwise ``None``
    resolves without a value, ``bool`` is ``gboolean``, ``int`` is ``int``
    when it fits 32 bits, else ``gint64``, else ``guint64``, ``float`` is
    ``double``, ``str`` is a string, enums and flags keep their type,
    ``GObject.Object``, boxed values (``GLib.Bytes``...) and ``GLib.Variant``
    keep theirs, and a ``GObject.Value`` is used as it is.  Anything else
    (``bytes``, tuples, lists, dicts, other objects) is carried unchanged in a
    ``GObject.TYPE_PYOBJECT`` value that only Python can read.  Such a value
    is owned by the future: a value that references its own future makes a
    cycle Python's garbage collector cannot see.

asyncio-shaped accessors on ``Gasync.Future``
    ``result()``, ``exception()``, ``done()``, ``cancelled()``, ``cancel()``
    (the introspected one), ``add_done_callback(fn, *args)`` calling
    ``fn(future, *args)`` on the future's main context and returning an
    identifier, ``remove_done_callback(fn)`` returning how many registrations
    of ``fn`` it removed (given an identifier instead, it removes that one and
    returns a bool), ``set_result(value)`` and ``set_exception(exc)``.  Unlike
    asyncio, settling an already settled future is not an error: the setters
    return ``False`` and change nothing, as in C.  Reading a pending future
    raises ``GLib.Error`` ``GASYNC_ERROR_INVALID_STATE`` (asyncio raises
    ``InvalidStateError``).

asyncio
    Inside a running asyncio event loop (and outside a gasync coroutine),
    awaiting a gasync future bridges through its done callback to an asyncio
    future (``loop.call_soon_threadsafe``).  While it waits, and unless
    another thread is iterating the gasync future's main context, the bridge
    iterates that context from the asyncio loop (polling, at most 10 ms
    apart), so GLib timeouts and gasync coroutines make progress.  Cancelling
    the asyncio task cancels the awaited gasync future.  Awaiting a pending
    future with neither a gasync coroutine nor an asyncio loop driving it
    raises ``RuntimeError``.

Lifetimes
    A spawned coroutine keeps itself alive (and so the future it awaits)
    until it finishes: a coroutine waiting for a future that never settles
    lives until it is cancelled.  Once finished, nothing of the binding keeps
    the Python coroutine, its frame or the ``Gasync.Coroutine`` alive: the step
    function is released as the coroutine ends.  A done callback added from
    Python is held by the future until it runs or is removed.
"""

import inspect
import sys
import threading
import weakref

from gi.repository import GLib, GObject, Gio

from ..module import get_introspection_module
from ..overrides import override

try:
    from ..overrides import OverridesProxyModule
except ImportError:  # not part of PyGObject's API: fall back to an eager class
    OverridesProxyModule = ()

Gasync = get_introspection_module('Gasync')

__all__ = []

_IO_ERROR_DOMAIN = GLib.quark_to_string(Gio.io_error_quark())
_INT32_RANGE = range(-2**31, 2**31)
_INT64_RANGE = range(-2**63, 2**63)
_UINT64_RANGE = range(0, 2**64)

# Counts the gasync steps running on this thread: a future awaited while it
# is non-zero is awaited by a gasync coroutine.
_driver = threading.local()


# -- Cancellation ------------------------------------------------------------

_cancelled_error_lock = threading.Lock()
_cancelled_error_type = None


def _get_cancelled_error():
    global _cancelled_error_type

    if _cancelled_error_type is not None:
        return _cancelled_error_type
    with _cancelled_error_lock:
        if _cancelled_error_type is None:
            import asyncio

            class CancelledError(GLib.Error, asyncio.CancelledError):
                """A gasync cancellation: a ``GLib.Error`` with domain
                ``G_IO_ERROR`` and code ``G_IO_ERROR_CANCELLED`` that is
                also an ``asyncio.CancelledError``."""

                def __init__(self, message='Operation was cancelled'):
                    GLib.Error.__init__(self, message, _IO_ERROR_DOMAIN,
                                        int(Gio.IOErrorEnum.CANCELLED))

                def __repr__(self):
                    return f'Gasync.CancelledError({self.message!r})'

            CancelledError.__module__ = 'gi.repository.Gasync'
            CancelledError.__qualname__ = 'CancelledError'
            _cancelled_error_type = CancelledError

        return _cancelled_error_type


def _is_cancellation(exc):
    asyncio = sys.modules.get('asyncio')
    return asyncio is not None and isinstance(exc, asyncio.CancelledError)


# While this module is imported, PyGObject's proxy for gi.repository.Gasync
# is in sys.modules, and its type belongs to this namespace alone (PyGObject
# puts its own deprecation descriptors there): the class is a lazy attribute.
_proxy = sys.modules.get('gi.repository.Gasync')
if isinstance(_proxy, OverridesProxyModule):
    type(_proxy).CancelledError = property(
        lambda module: _get_cancelled_error(),
        doc='The exception raised by reading or awaiting a cancelled future.')
else:
    CancelledError = _get_cancelled_error()
    __all__.append('CancelledError')
del _proxy


# -- Values and errors -------------------------------------------------------

def _gvalue_for(value):
    if isinstance(value, GObject.Value):
        return value
    if isinstance(value, bool):
        gtype = GObject.TYPE_BOOLEAN
    elif isinstance(value, (GObject.GEnum, GObject.GFlags)):
        gtype = value.__gtype__
    elif isinstance(value, int):
        if value in _INT32_RANGE:
            gtype = GObject.TYPE_INT
        elif value in _INT64_RANGE:
            gtype = GObject.TYPE_INT64
        elif value in _UINT64_RANGE:
            gtype = GObject.TYPE_UINT64
        else:
            gtype = GObject.TYPE_PYOBJECT
    elif isinstance(value, float):
        gtype = GObject.TYPE_DOUBLE
    elif isinstance(value, str):
        gtype = GObject.TYPE_STRING
    elif isinstance(value, (GObject.Object, GObject.GBoxed)):
        gtype = value.__gtype__
    elif isinstance(value, GLib.Variant):
        gtype = GObject.TYPE_VARIANT
    else:
        gtype = GObject.TYPE_PYOBJECT
    return GObject.Value(gtype, value)


def _resolve(future, value):
    """Resolves @future with a Python value; see the module docstring."""
    if value is None:
        return Gasync.Future.resolve_void(future)
    declared = Gasync.Future.get_value_type(future)
    if declared != GObject.TYPE_INVALID and not isinstance(value, GObject.Value):
        return Gasync.Future.resolve_value(future, GObject.Value(declared, value))
    return Gasync.Future.resolve_value(future, _gvalue_for(value))


def _describe(exc):
    text = str(exc)
    name = type(exc).__qualname__
    return f'{name}: {text}' if text else name


def _reject(future, exc):
    """Rejects @future with a Python exception; see the module docstring."""
    if isinstance(exc, GLib.Error):
        return Gasync.Future.reject(future, exc)
    if _is_cancellation(exc):
        return Gasync.Future.reject_literal(future, Gio.io_error_quark(),
                                            Gio.IOErrorEnum.CANCELLED,
                                            str(exc) or 'Operation was cancelled')

    # Kept on the wrapper (PyGObject then keeps the wrapper as long as the
    # GObject) for Python readers; C reads the GError.
    message = _describe(exc)
    stored = (exc, message)
    future._gasync_exception = stored
    if Gasync.Future.reject_literal(future, Gasync.error_quark(), Gasync.Error.FAILED, message):
        return True
    if getattr(future, '_gasync_exception', None) is stored:
        del future._gasync_exception
    return False


def _value_of(future):
    # get_value() cannot hand PyGObject the unset GValue of a future resolved
    # without a value.
    if not Gasync.Future.has_value(future):
        return None
    # all(), all_settled() and wait() resolve with a GPtrArray of futures,
    # which a GValue cannot carry into Python: read the children instead.
    if isinstance(future, Gasync.Combinator):
        kind = getattr(future, '_gasync_kind', None)
        if kind == 'all':
            return [_value_of(child) for child in future.get_children()]
        if kind == 'wait':
            return (set(future.dup_done()), set(future.dup_pending()))
        if kind is not None or \
                Gasync.Future.get_value_type(future) == GObject.type_from_name('GPtrArray'):
            return list(future.dup_done())
    value = Gasync.Future.get_value(future)[1]
    # PyGObject wraps a boxed value (GLib.Bytes...) of the caller-allocated
    # GValue without a reference of its own, then unsets the GValue: copy it
    # while the future still holds the value, or it dangles once the future
    # is gone.
    if isinstance(value, GObject.GBoxed):
        value = value.copy()
    return value


def _exception_of(future):
    """The exception a settled @future raises, or None if it resolved;
    raises GASYNC_ERROR_INVALID_STATE for a pending one."""
    try:
        Gasync.Future.propagate_error(future)
        return None
    except GLib.Error as error:
        if Gasync.Future.get_state(future) == Gasync.FutureState.PENDING:
            raise
        if Gasync.Future.get_state(future) == Gasync.FutureState.CANCELLED:
            if isinstance(error, _get_cancelled_error()):
                return error
            return _get_cancelled_error()(error.message)
        stored = getattr(future, '_gasync_exception', None)
        if (stored is not None and error.matches(Gasync.error_quark(), Gasync.Error.FAILED)
                and error.message == stored[1]):
            return stored[0]
        return error


# -- The asyncio bridge --------------------------------------------------------

def _running_asyncio_loop():
    asyncio = sys.modules.get('asyncio')
    if asyncio is None:
        return None
    return asyncio._get_running_loop()


class _ContextPump:
    """Iterates a GLib main context from an asyncio loop while futures of
    that context are awaited there, unless another thread iterates it."""

    _pumps = {}
    MAX_DELAY = 0.01

    def __init__(self, loop, context):
        self.key = (loop, context)
        self.loop = loop
        self.context = context
        self.users = 0
        self.delay = 0.0
        self.handle = loop.call_soon(self._tick)

    @classmethod
    def acquire(cls, loop, context):
        pump = cls._pumps.get((loop, context))
        if pump is None:
            pump = cls._pumps[(loop, context)] = cls(loop, context)
        pump.users += 1
        return pump

    def release(self):
        self.users -= 1
        if self.users == 0:
            del self._pumps[self.key]
            if self.handle is not None:
                self.handle.cancel()
                self.handle = None

    def _tick(self):
        self.handle = None
        busy = False
        # Never block: a context owned by another thread is iterated there.
        if self.context.acquire():
            try:
                for _ in range(64):
                    if not self.context.iteration(False):
                        break
                    busy = True
            finally:
                self.context.release()
        if self.users == 0:
            return
        if busy:
            self.delay = 0.0
            self.handle = self.loop.call_soon(self._tick)
        else:
            self.delay = min(max(self.delay * 2, 0.0005), self.MAX_DELAY)
            self.handle = self.loop.call_later(self.delay, self._tick)


def _wake_waiter(waiter_ref):
    waiter = waiter_ref()
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


def _await_in_asyncio(future, loop):
    waiter = loop.create_future()
    # The done callback is held by the future (C): through a weak reference
    # only, so that a dropped task awaiting a future that never settles can
    # be collected.
    waiter_ref = weakref.ref(waiter)

    def on_done(_future):
        try:
            loop.call_soon_threadsafe(_wake_waiter, waiter_ref)
        except RuntimeError:
            pass  # the loop is closed

    callback_id = Gasync.Future.add_done_callback(future, on_done)
    pump = _ContextPump.acquire(loop, Gasync.Future.get_context(future))
    try:
        yield from waiter.__await__()
    except BaseException as exc:
        if _is_cancellation(exc) and waiter.cancelled():
            Gasync.Future.cancel(future)
        raise
    finally:
        pump.release()
        Gasync.Future.remove_done_callback(future, callback_id)


# -- Futures -----------------------------------------------------------------

class Future(Gasync.Future):
    """A ``GasyncFuture`` with ``await`` and asyncio-shaped accessors."""

    def __await__(self):
        if not self.is_done():
            if getattr(_driver, 'depth', 0):
                # The step function resumes us once it has settled, or throws
                # the cancellation in here.
                yield self
            else:
                loop = _running_asyncio_loop()
                if loop is None:
                    raise RuntimeError(
                        f'Cannot await the pending future {self.get_name() or self!r}: '
                        'run the coroutine with Gasync.spawn() or Gasync.run(), '
                        'or in an asyncio event loop')
                yield from _await_in_asyncio(self, loop)
        return self.result()

    def result(self):
        """Returns the value, or raises the error (``Gasync.CancelledError``
        if cancelled, ``GLib.Error`` if pending)."""
        exc = _exception_of(self)
        if exc is not None:
            raise exc
        return _value_of(self)

    def exception(self):
        """Returns the error, or ``None`` if resolved; raises
        ``Gasync.CancelledError`` if cancelled, ``GLib.Error`` if pending."""
        exc = _exception_of(self)
        if _cancelled_error_type is not None and isinstance(exc, _cancelled_error_type):
            raise exc
        return exc

    def done(self):
        """Whether the future has settled, in any state."""
        return self.is_done()

    def cancelled(self):
        """Whether the future ended cancelled."""
        return self.is_cancelled()

    def set_result(self, value):
        """Resolves the future with a Python value; ``False`` if it was
        already settled."""
        return _resolve(self, value)

    def set_exception(self, exception):
        """Rejects the future with an exception (or exception class);
        ``False`` if it was already settled."""
        if isinstance(exception, type):
            exception = exception()
        if isinstance(exception, StopIteration):
            raise TypeError('StopIteration interacts badly with generators '
                            'and cannot be raised into a Future')
        return _reject(self, exception)

    def add_done_callback(self, callback, *user_data):
        """Calls ``callback(future, *user_data)`` on the future's main context
        once it has settled; returns an identifier."""
        registrations = getattr(self, '_gasync_done_callbacks', None)
        if registrations is None:
            registrations = self._gasync_done_callbacks = []
        entry = [callback, 0]

        def trampoline(future, *args):
            try:
                registrations.remove(entry)
            except ValueError:
                pass
            callback(future, *args)

        entry[1] = Gasync.Future.add_done_callback(self, trampoline, *user_data)
        registrations.append(entry)
        return entry[1]

    def remove_done_callback(self, callback):
        """Removes every pending registration of ``callback`` and returns
        their count; given an identifier, removes that one and returns
        whether it was pending."""
        registrations = getattr(self, '_gasync_done_callbacks', [])
        if isinstance(callback, int) and not callable(callback):
            for entry in list(registrations):
                if entry[1] == callback:
                    registrations.remove(entry)
            return Gasync.Future.remove_done_callback(self, callback)

        removed = 0
        for entry in list(registrations):
            if entry[0] == callback:
                registrations.remove(entry)
                if Gasync.Future.remove_done_callback(self, entry[1]):
                    removed += 1
        return removed


Future = override(Future)
__all__.append('Future')


# -- Running Python coroutines -----------------------------------------------

class _Step:
    """The step function of a Python coroutine run as a stepped coroutine.
    Holds the coroutine until it finishes, and nothing else for long."""

    __slots__ = ('coro', 'waiting', '__weakref__')

    def __init__(self, coro):
        self.coro = coro
        self.waiting = None

    def __call__(self, coroutine, awaited, *unused):
        coro = self.coro
        if coro is None:
            return None

        if awaited is not None and awaited is not self.waiting:
            # A cancelled stand-in: the coroutine was cancelled, and the
            # future it awaited was cancelled too.
            send, arg = coro.throw, _get_cancelled_error()('The coroutine was cancelled')
        else:
            send, arg = coro.send, None
        self.waiting = None

        depth = getattr(_driver, 'depth', 0)
        _driver.depth = depth + 1
        try:
            while True:
                try:
                    yielded = send(arg)
                except StopIteration as stop:
                    self.coro = None
                    _resolve(coroutine, stop.value)
                    return None
                except BaseException as exc:
                    self.coro = None
                    # Python readers get this exception back: leave this
                    # frame, and so @coroutine, out of its traceback.
                    if exc.__traceback__ is not None:
                        exc.__traceback__ = exc.__traceback__.tb_next
                    _reject(coroutine, exc)
                    return None

                if isinstance(yielded, Gasync.Future):
                    self.waiting = yielded
                    return yielded
                if yielded is None:
                    # A bare yield: resume after the others had a turn.
                    ready = Gasync.Future.new_for_context(coroutine.get_context())
                    ready.resolve_void()
                    self.waiting = ready
                    return ready
                send, arg = coro.throw, TypeError(
                    f'A gasync coroutine can only await gasync futures, not {yielded!r}')
        finally:
            _driver.depth = depth


def spawn(coro, name=None, context=None):
    """Runs the coroutine ``coro`` as a stepped gasync coroutine on
    ``context`` (default: the thread-default main context) and returns its
    ``Gasync.Coroutine``. It starts in a later iteration of the context."""
    if not inspect.iscoroutine(coro):
        raise TypeError(f'Gasync.spawn() needs a coroutine, not {coro!r}')
    if name is None:
        name = getattr(coro, '__qualname__', None)
    return Gasync.Coroutine.spawn_stepped(context, name, _Step(coro))


__all__.append('spawn')


async def _await_awaitable(awaitable):
    return await awaitable


def ensure_future(awaitable, name=None, context=None):
    """Returns ``awaitable`` if it is a ``Gasync.Future``, else spawns a
    coroutine awaiting it."""
    if isinstance(awaitable, Gasync.Future):
        return awaitable
    if inspect.iscoroutine(awaitable):
        return spawn(awaitable, name, context)
    if inspect.isawaitable(awaitable):
        return spawn(_await_awaitable(awaitable), name, context)
    raise TypeError(f'A gasync future, a coroutine or an awaitable is required, not {awaitable!r}')


__all__.append('ensure_future')


def _children(awaitables, context):
    return [ensure_future(a, context=context) for a in awaitables]


def _combine(kind, futures):
    future = {
        'all': Gasync.all,
        'all_settled': Gasync.all_settled,
        'any': Gasync.any,
        'race': Gasync.race,
    }[kind](futures)
    if kind in ('all', 'all_settled'):
        future._gasync_kind = kind
    return future


def gather(*awaitables, context=None):
    """Like ``asyncio.gather()``: a ``Gasync.Combinator`` (from
    ``gasync_all()``) over the awaitables, futures or coroutines (spawned).
    Awaiting it gives the list of their values in order; the first failure
    raises and cancels the rest."""
    return _combine('all', _children(awaitables, context))


__all__.append('gather')


def all_settled(*awaitables, context=None):
    """Waits for every awaitable to settle; awaiting gives the list of their
    futures, in order, to read one by one."""
    return _combine('all_settled', _children(awaitables, context))


__all__.append('all_settled')


def first_success(*awaitables, context=None):
    """``gasync_any()``: the value of the first awaitable to succeed; the
    others are cancelled. (Named so as not to shadow ``any()``.)"""
    return _combine('any', _children(awaitables, context))


__all__.append('first_success')


def race(*awaitables, context=None):
    """``gasync_race()``: settles like the first awaitable to settle; the
    others are cancelled."""
    return _combine('race', _children(awaitables, context))


__all__.append('race')


FIRST_COMPLETED = Gasync.WaitMode.FIRST_COMPLETED
FIRST_EXCEPTION = Gasync.WaitMode.FIRST_EXCEPTION
ALL_COMPLETED = Gasync.WaitMode.ALL_COMPLETED
__all__ += ['FIRST_COMPLETED', 'FIRST_EXCEPTION', 'ALL_COMPLETED']


def wait(awaitables, return_when=ALL_COMPLETED, context=None):
    """Like ``asyncio.wait()``: awaiting gives ``(done, pending)``, two sets
    of futures; nothing is cancelled."""
    future = Gasync.wait(return_when, _children(awaitables, context))
    future._gasync_kind = 'wait'
    return future


__all__.append('wait')


def wait_for(awaitable, timeout, context=None):
    """Like ``asyncio.wait_for()``: the awaitable's value, or ``GLib.Error``
    ``G_IO_ERROR_TIMED_OUT`` after ``timeout`` seconds (the awaitable is then
    cancelled)."""
    return Gasync.with_timeout(ensure_future(awaitable, context=context),
                               max(0, int(round(timeout * 1000))))


__all__.append('wait_for')


def shield(awaitable, context=None):
    """Like ``asyncio.shield()``: cancelling the result does not cancel the
    awaitable."""
    return Gasync.shield(ensure_future(awaitable, context=context))


__all__.append('shield')


class Scope(Gasync.Scope):
    """Adds ``spawn()`` for Python coroutines and the ``async with`` form of
    asyncio's TaskGroup: leaving the block awaits everything spawned in it,
    and an exception inside the block cancels it."""

    def spawn(self, awaitable, name=None):
        future = ensure_future(awaitable, name=name)
        self.add(future)
        return future

    async def __aenter__(self):
        return self

    async def __aexit__(self, exc_type, exc, tb):
        if exc is not None:
            self.cancel()
        try:
            await self.wait()
        except GLib.Error:
            if exc is None:
                raise
        return False


Scope = override(Scope)
__all__.append('Scope')


def run(awaitable):
    """Runs until ``awaitable`` (a future, a coroutine, which is spawned, or
    another awaitable) has settled, iterating its main context; returns its
    value or raises its error."""
    future = ensure_future(awaitable)
    try:
        future.wait()
    except GLib.Error:
        if not future.is_done():
            raise
    return future.result()


__all__.append('run')
