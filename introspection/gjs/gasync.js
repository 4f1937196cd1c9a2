// SPDX-License-Identifier: LGPL-2.1-or-later
//
// JavaScript idioms for gasync in GJS (an ES module, GJS 1.74 and later):
//
//     import Gasync from 'gi://Gasync?version=1';
//     import {spawn} from 'resource:///or/file/path/to/gasync.js';
//
// Importing this module changes `Gasync.Future` (and so `Gasync.Coroutine`)
// for every importer of `gi://Gasync`:
//
// - Futures are thenables: `future.then(onResolved, onRejected)` returns a
//   Promise, so `await future` works in async functions, and
//   `Promise.all([future, ...])` too. A resolved future gives its value
//   (`get_value()`; `undefined` for a future resolved without a value); a
//   rejected one rejects with its `GLib.Error`; a cancelled one with a
//   `GLib.Error` matching `Gio.IOErrorEnum.CANCELLED`.
//   Because futures are thenables, an async function that *returns* a future
//   (or a Promise resolved with one) waits for that future to settle: if it
//   never settles, the async function never completes. Resolve promises with
//   `[future]`, or with the future's value, when you mean the future itself.
//   A future delivers its outcome on its own main context: await only futures
//   of contexts that the JS thread iterates (usually the default one).
//
// - `wait_async()` is promisified (`Gio._promisify`): `await
//   future.wait_async(null)` resolves with `[value]`. GJS 1.74 cannot
//   convert the unset value of a rejected, cancelled or void future there;
//   prefer `await future`.
//
// `spawn(asyncFn, {name, context})` runs `asyncFn(signal)` as a stepped gasync
// coroutine on `context` (default: the thread-default main context) and
// returns its `Gasync.Coroutine`, a future that C, Python and JS can await,
// cancel and name. The function is called in a later dispatch of the
// context. Cancelling the coroutine (from any language) cancels
// `signal.cancellable` at once, then fires `signal` from the context: its
// `cancelled` (alias `aborted`) becomes true and its handlers run. The
// function decides how to end: rejecting with the `GLib.Error` in
// `signal.reason` (or any `G_IO_ERROR_CANCELLED` error) ends the coroutine
// `CANCELLED`, anything else settles it as usual. Futures the function
// awaits are not cancelled for it: pass `signal.cancellable` to GIO calls,
// or cancel them from a handler.
//
// Outcomes of JavaScript code (`spawn`, `fromPromise`, `resolveFuture`,
// `rejectFuture`) map to futures thus:
// - `undefined`/`null` resolve without a value; booleans are `gboolean`;
//   numbers are `int` when integral and within 32 bits, `gint64` when a safe
//   integer, `double` otherwise; a BigInt is `gint64` (or `guint64`);
//   strings are strings; `GObject.Object`s, boxed values and `GLib.Variant`s
//   keep their type; a `GObject.Value` is used as it is. A future that
//   declares a value type (`set_value_type()`) gets that type instead.
//   Other values (arrays, plain objects, functions) resolve without a value
//   for C and Python.
// - A thrown `GLib.Error` rejects with that error; anything else rejects
//   with `GASYNC_ERROR_FAILED` and the message `String(error)`.
// JavaScript code awaiting such a future gets the original JavaScript value
// or exception back.

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Gio from 'gi://Gio';
import Gasync from 'gi://Gasync?version=1';

export default Gasync;

// The JavaScript outcome of a future settled from JavaScript, kept on its
// wrapper (GJS then keeps the wrapper as long as the GObject).
const jsOutcome = Symbol('gasync JavaScript outcome');

Gio._promisify(Gasync.Future.prototype, 'wait_async', 'wait_finish');

function cancelledError(message = 'Operation was cancelled') {
    return new GLib.Error(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED, message);
}

function describe(error) {
    try {
        return String(error);
    } catch {
        return Object.prototype.toString.call(error);
    }
}

function readOutcome(future) {
    const stored = future[jsOutcome];
    try {
        future.propagate_error();
    } catch (error) {
        if (stored && !stored.ok && error instanceof GLib.Error &&
            error.matches(Gasync.error_quark(), Gasync.Error.FAILED) &&
            error.message === stored.message)
            return stored;
        return {ok: false, error};
    }
    if (stored && stored.ok)
        return stored;
    // GJS cannot convert the unset GValue of a future without a value.
    if (!future.has_value())
        return {ok: true, value: undefined};
    return {ok: true, value: future.get_value()[1]};
}

/**
 * A Promise of the future's outcome.
 *
 * @param {Gasync.Future} future - a future of a context this thread iterates
 * @returns {Promise} resolved with the value, or rejected with the error
 */
export function toPromise(future) {
    return new Promise((resolve, reject) => {
        const settle = () => {
            const outcome = readOutcome(future);
            if (outcome.ok)
                resolve(outcome.value);
            else
                reject(outcome.error);
        };
        if (future.is_done())
            settle();
        else
            future.add_done_callback(settle);
    });
}

Object.defineProperty(Gasync.Future.prototype, 'then', {
    configurable: true,
    writable: true,
    value: function then(onResolved, onRejected) {
        return toPromise(this).then(onResolved, onRejected);
    },
});

const setters = new Map([
    [GObject.TYPE_BOOLEAN, 'set_boolean'],
    [GObject.TYPE_INT, 'set_int'],
    [GObject.TYPE_UINT, 'set_uint'],
    [GObject.TYPE_LONG, 'set_long'],
    [GObject.TYPE_ULONG, 'set_ulong'],
    [GObject.TYPE_INT64, 'set_int64'],
    [GObject.TYPE_UINT64, 'set_uint64'],
    [GObject.TYPE_FLOAT, 'set_float'],
    [GObject.TYPE_DOUBLE, 'set_double'],
    [GObject.TYPE_STRING, 'set_string'],
    [GObject.TYPE_ENUM, 'set_enum'],
    [GObject.TYPE_FLAGS, 'set_flags'],
    [GObject.TYPE_OBJECT, 'set_object'],
    [GObject.TYPE_VARIANT, 'set_variant'],
]);

function valueOfType(gtype, value) {
    const setter = setters.get(GObject.type_fundamental(gtype));
    if (setter === undefined)
        return value; // boxed: GJS builds the GValue from the wrapper
    const gvalue = new GObject.Value();
    gvalue.init(gtype);
    gvalue[setter](value);
    return gvalue;
}

function isBoxed(value) {
    const gtype = value.constructor?.$gtype;
    return gtype !== undefined && GObject.type_is_a(gtype, GObject.TYPE_BOXED);
}

function resolveTyped(future, value) {
    const declared = future.get_value_type();
    if (value === undefined || value === null)
        return future.resolve_void();
    if (value instanceof GObject.Value)
        return future.resolve_value(value);
    if (declared)
        return future.resolve_value(valueOfType(declared, value));

    switch (typeof value) {
    case 'boolean':
        return future.resolve_boolean(value);
    case 'number':
        if (Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31)
            return future.resolve_int(value);
        if (Number.isSafeInteger(value))
            return future.resolve_int64(value);
        return future.resolve_double(value);
    case 'bigint':
        if (value >= -(2n ** 63n) && value < 2n ** 63n)
            return future.resolve_int64(value);
        if (value >= 0n && value < 2n ** 64n)
            return future.resolve_uint64(value);
        return future.resolve_void();
    case 'string':
        return future.resolve_string(value);
    case 'object':
        if (value instanceof GObject.Object || value instanceof GLib.Variant || isBoxed(value))
            return future.resolve_value(value);
        return future.resolve_void();
    default:
        return future.resolve_void();
    }
}

/**
 * Resolves a future with a JavaScript value (see the module comment for the
 * mapping); JavaScript readers get the value itself back.
 *
 * @param {Gasync.Future} future - a future
 * @param {*} value - the value
 * @returns {boolean} false if the future was already settled
 */
export function resolveFuture(future, value) {
    return settleFromJS(future, {ok: true, value}, () => resolveTyped(future, value));
}

// Settles @future with settle(), recording the JavaScript outcome first (a
// reader may run as soon as it settles) and restoring the previous one if
// the future was settled already.
function settleFromJS(future, outcome, settle) {
    const previous = future[jsOutcome];
    future[jsOutcome] = outcome;
    let settled = false;
    try {
        settled = settle();
    } finally {
        if (!settled) {
            if (previous === undefined)
                delete future[jsOutcome];
            else
                future[jsOutcome] = previous;
        }
    }
    return settled;
}

/**
 * Rejects a future with a JavaScript exception (see the module comment);
 * JavaScript readers get the exception itself back.
 *
 * @param {Gasync.Future} future - a future
 * @param {*} error - a `GLib.Error`, or any exception
 * @returns {boolean} false if the future was already settled
 */
export function rejectFuture(future, error) {
    if (error instanceof GLib.Error)
        return future.reject(error);

    const message = describe(error);
    return settleFromJS(future, {ok: false, error, message},
        () => future.reject_literal(Gasync.error_quark(), Gasync.Error.FAILED, message));
}

/**
 * A future settled by a Promise (or any value or thenable).
 *
 * @param {Promise|*} promise - what to wait for
 * @param {object} [options] - options
 * @param {GLib.MainContext} [options.context] - the future's main context
 * @returns {Gasync.Future} the future
 */
export function fromPromise(promise, {context = null} = {}) {
    const future = context ? Gasync.Future.new_for_context(context) : Gasync.Future.new();
    Promise.resolve(promise).then(
        value => resolveFuture(future, value),
        error => rejectFuture(future, error));
    return future;
}

const fire = Symbol('fire');

/**
 * What a function run by `spawn()` gets to learn about its cancellation:
 * like a GCancellable, and like the DOM's AbortSignal.
 */
export class CancelSignal {
    #cancelled = false;
    #handlers = new Map();
    #listeners = new Map();
    #lastId = 0;
    #cancellable;

    constructor(cancellable = null) {
        this.#cancellable = cancellable;
        this.onabort = null;
    }

    /** Whether cancellation was delivered. */
    get cancelled() {
        return this.#cancelled;
    }

    /** Same as `cancelled`. */
    get aborted() {
        return this.#cancelled;
    }

    /** A `GLib.Error` `G_IO_ERROR_CANCELLED` once cancelled, else undefined. */
    get reason() {
        return this.#cancelled ? cancelledError('The coroutine was cancelled') : undefined;
    }

    /**
     * The coroutine's `Gio.Cancellable`: cancelled as soon as cancellation
     * is requested, from whatever thread requested it. Pass it to GIO calls.
     */
    get cancellable() {
        return this.#cancellable;
    }

    /**
     * Calls `handler(signal)` on cancellation, or right away if already
     * cancelled (as `g_cancellable_connect()` does).
     *
     * @param {Function} handler - the handler
     * @returns {number} an id for `disconnect()`, 0 if called right away
     */
    connect(handler) {
        if (this.#cancelled) {
            handler(this);
            return 0;
        }
        const id = ++this.#lastId;
        this.#handlers.set(id, handler);
        return id;
    }

    /** @param {number} id - an id from `connect()` */
    disconnect(id) {
        this.#handlers.delete(id);
    }

    addEventListener(type, listener) {
        if (type !== 'abort' || this.#listeners.has(listener) || this.#cancelled)
            return;
        this.#listeners.set(listener, this.connect(() => {
            if (typeof listener === 'function')
                listener.call(this, {type: 'abort', target: this});
            else
                listener.handleEvent({type: 'abort', target: this});
        }));
    }

    removeEventListener(type, listener) {
        if (type !== 'abort' || !this.#listeners.has(listener))
            return;
        this.disconnect(this.#listeners.get(listener));
        this.#listeners.delete(listener);
    }

    /** Throws `reason` if cancelled. */
    throwIfCancelled() {
        if (this.#cancelled)
            throw this.reason;
    }

    /** Same as `throwIfCancelled()`. */
    throwIfAborted() {
        this.throwIfCancelled();
    }

    [fire]() {
        if (this.#cancelled)
            return;
        this.#cancelled = true;
        const handlers = [...this.#handlers.values()];
        this.#handlers.clear();
        if (typeof this.onabort === 'function')
            handlers.push(() => this.onabort({type: 'abort', target: this}));
        for (const handler of handlers) {
            try {
                handler(this);
            } catch (e) {
                logError(e, 'gasync: a cancellation handler threw');
            }
        }
    }
}

/**
 * Runs `asyncFn(signal)` as a gasync coroutine and returns the coroutine.
 *
 * @param {Function} asyncFn - an async function (or any function returning a
 *   value or a thenable), called with a `CancelSignal`
 * @param {object} [options] - options
 * @param {string} [options.name] - the coroutine's name (default: the
 *   function's name)
 * @param {GLib.MainContext} [options.context] - where it runs (default: the
 *   thread-default main context)
 * @returns {Gasync.Coroutine} the coroutine
 */
export function spawn(asyncFn, {name = null, context = null} = {}) {
    if (typeof asyncFn !== 'function')
        throw new TypeError(`spawn() needs a function, not ${describe(asyncFn)}`);

    // The coroutine waits for a helper future that the function's promise
    // settles; each cancellation delivered replaces it.
    let signal = null;
    let outcome = null;
    let wake = null;

    const newWake = coroutine => {
        wake = Gasync.Future.new_for_context(coroutine.get_context());
        if (outcome !== null)
            wake.resolve_void();
        return wake;
    };
    const finished = result => {
        outcome = result;
        wake?.resolve_void();
    };

    const step = (coroutine, awaited) => {
        try {
            if (awaited === null) {
                signal = new CancelSignal(coroutine.get_cancellable());
                let promise;
                try {
                    promise = Promise.resolve(asyncFn(signal));
                } catch (error) {
                    promise = Promise.reject(error);
                }
                promise.then(value => finished({ok: true, value}),
                    error => finished({ok: false, error}));
                return newWake(coroutine);
            }
            if (outcome === null) {
                // A cancelled stand-in: tell the function, keep waiting.
                signal[fire]();
                return newWake(coroutine);
            }
            if (outcome.ok)
                resolveFuture(coroutine, outcome.value);
            else
                rejectFuture(coroutine, outcome.error);
        } catch (error) {
            rejectFuture(coroutine, error);
        }
        signal = outcome = wake = null;
        return null;
    };

    return Gasync.Coroutine.spawn_stepped(context, name ?? (asyncFn.name || null), step);
}
