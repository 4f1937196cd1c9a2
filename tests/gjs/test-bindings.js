// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The GJS module (introspection/gjs/gasync.js): thenable futures, spawn,
// cancellation reaching the JS function, the promisified wait_async and
// error mapping. Run by meson against the build tree's typelib; prints TAP
// and exits with the number of failures (GJS 1.74 would exit 0 on a throw
// in a callback).

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Gio from 'gi://Gio';
import Gasync from 'gi://Gasync?version=1';
import System from 'system';

import {spawn, fromPromise, toPromise, resolveFuture, rejectFuture, CancelSignal}
    from '../../introspection/gjs/gasync.js';

const WATCHDOG_MS = 5000;
const State = Gasync.FutureState;
const loop = GLib.MainLoop.new(null, false);

function later(ms, fn) {
    GLib.timeout_add(GLib.PRIORITY_DEFAULT, ms, () => {
        fn();
        return GLib.SOURCE_REMOVE;
    });
}

function sleep(ms) {
    return new Promise(resolve => later(ms, resolve));
}

function assert(cond, message = 'assertion failed') {
    if (!cond)
        throw new Error(message);
}

function assertEquals(actual, expected, what = 'value') {
    const a = JSON.stringify(actual), e = JSON.stringify(expected);
    if (a !== e)
        throw new Error(`${what}: expected ${e}, got ${a}`);
}

function assertGError(error, domain, code, message = null) {
    assert(error instanceof GLib.Error, `expected a GLib.Error, got ${error}`);
    assert(error.matches(domain, code),
        `expected ${domain}:${code}, got ${error.domain}:${error.code} ${error.message}`);
    if (message !== null)
        assertEquals(error.message, message, 'message');
}

async function rejection(promiseOrFuture) {
    try {
        await promiseOrFuture;
    } catch (e) {
        return e;
    }
    throw new Error('expected a rejection');
}

function delayed(ms, settle) {
    const future = Gasync.Future.new();
    later(ms, () => settle(future));
    return future;
}

const tests = [];
function test(name, fn) {
    tests.push({name, fn});
}

// -- thenable futures ---------------------------------------------------------

test('await settled futures', async () => {
    assertEquals(await Gasync.Future.new_resolved_int(7), 7, 'int');
    assertEquals(await Gasync.Future.new_resolved_string('s'), 's', 'string');
    assertEquals(await Gasync.Future.new_resolved_boolean(true), true, 'boolean');
    const empty = Gasync.Future.new();
    empty.resolve_void();
    assertEquals(await empty, undefined, 'void');
    const action = Gio.SimpleAction.new('act', null);
    assert(await Gasync.Future.new_resolved_object(action) === action, 'object');

    const error = new GLib.Error(Gio.IOErrorEnum, Gio.IOErrorEnum.NOT_FOUND, 'gone');
    assertGError(await rejection(Gasync.Future.new_rejected(error)),
        Gio.IOErrorEnum, Gio.IOErrorEnum.NOT_FOUND, 'gone');
    assertGError(await rejection(Gasync.Future.new_cancelled()),
        Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED);
});

test('await pending futures', async () => {
    assertEquals(await delayed(5, f => f.resolve_double(2.5)), 2.5, 'timeout');
    const e = await rejection(delayed(1, f => f.reject_literal(Gasync.error_quark(),
        Gasync.Error.FAILED, 'later')));
    assertGError(e, Gasync.error_quark(), Gasync.Error.FAILED, 'later');
    const cancelled = delayed(1, f => f.cancel());
    assertGError(await rejection(cancelled), Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED);
});

test('then, Promise.resolve and Promise.all adopt futures', async () => {
    const plusOne = await Gasync.Future.new_resolved_int(1).then(v => v + 1);
    assertEquals(plusOne, 2, 'then');
    assertEquals(await Promise.resolve(delayed(1, f => f.resolve_string('adopted'))),
        'adopted', 'Promise.resolve');
    const all = await Promise.all([delayed(3, f => f.resolve_int(1)),
        delayed(1, f => f.resolve_int(2)), 3]);
    assertEquals(all, [1, 2, 3], 'Promise.all');
    assertEquals(await toPromise(Gasync.Future.new_resolved_int(4)), 4, 'toPromise');
    // A rejection handler gets the GLib.Error.
    const caught = await Gasync.Future.new_cancelled().then(null, e => e);
    assertGError(caught, Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED);
});

test('the promisified wait_async', async () => {
    const future = delayed(1, f => f.resolve_string('waited'));
    assertEquals(await future.wait_async(null), ['waited'], 'wait_async');
    // The callback form is still there.
    const done = new Promise(resolve => {
        future.wait_async(null, (source, res) => resolve(source.wait_finish(res)));
    });
    assertEquals(await done, [true, 'waited'], 'wait_finish');
});

// -- spawn -------------------------------------------------------------------

test('spawn returns a coroutine that starts later', async () => {
    let calls = 0;
    const co = spawn(async function named(signal) {
        calls++;
        assert(signal instanceof CancelSignal, 'the argument is a CancelSignal');
        assert(Gasync.Coroutine.get_current() !== null, 'starts inside a step');
        return await delayed(1, f => f.resolve_int(20)) + 1;
    });
    assert(co instanceof Gasync.Coroutine, 'a Gasync.Coroutine');
    assert(!co.is_stackful(), 'stepped');
    assertEquals(co.get_name(), 'named', 'default name');
    assertEquals(calls, 0, 'called synchronously');
    assertEquals(co.get_state(), State.PENDING, 'state');
    assertEquals(await co, 21, 'await');
    assertEquals(calls, 1, 'calls');
    assertEquals(co.get_int(), 21, 'C view');
    assertEquals(spawn(() => 1, {name: 'given'}).get_name(), 'given', 'name option');
});

test('a spawned function is awaited from the C API', async () => {
    const co = spawn(async () => {
        await null; // just a turn
        return await delayed(2, f => f.resolve_string('from js'));
    }, {name: 'c-side'});
    const result = await new Promise(resolve => {
        co.wait_async(null, (source, res) => resolve(source.wait_finish(res)));
    });
    assertEquals(result, [true, 'from js'], 'wait_async + wait_finish');
    assertEquals(co.dup_string(), 'from js', 'dup_string');
    const doneCalls = [];
    co.add_done_callback(f => doneCalls.push(f === co));
    await sleep(1);
    assertEquals(doneCalls, [true], 'done callback');
});

test('spawned values as seen from C', async () => {
    const action = Gio.SimpleAction.new('act', null);
    const list = [1, 'two'];
    const cases = [
        [undefined, f => [f.propagate_error(), f.has_value()], [true, false]],
        [true, f => f.get_boolean(), true],
        [42, f => f.get_int(), 42],
        [2 ** 40, f => f.get_int64(), 2 ** 40],
        [0.5, f => f.get_double(), 0.5],
        [12n, f => f.get_int64(), 12],
        ['héllo', f => f.dup_string(), 'héllo'],
        [action, f => f.dup_object() === action, true],
        [new GLib.Variant('s', 'v'), f => f.get_value()[1].unpack(), 'v'],
        [list, f => f.has_value(), false],
    ];
    for (const [value, read, expected] of cases) {
        const co = spawn(() => value);
        const result = await co;
        assert(result === value, `${String(value)}: JS gets the same value back`);
        assertEquals(read(co), expected, `${String(value)} from C`);
    }

    const declared = Gasync.Future.new();
    declared.set_value_type(GObject.TYPE_DOUBLE);
    assert(resolveFuture(declared, 3), 'resolveFuture');
    assertEquals(declared.get_double(), 3, 'declared double');
    assert(!resolveFuture(declared, 4), 'resolveFuture of a settled future');
    assertEquals(await declared, 3, 'JS value');
});

test('errors of spawned functions', async () => {
    const gerror = new GLib.Error(Gio.IOErrorEnum, Gio.IOErrorEnum.EXISTS, 'exists');
    const co = spawn(async () => {
        await null;
        throw gerror;
    });
    assertGError(await rejection(co), Gio.IOErrorEnum, Gio.IOErrorEnum.EXISTS, 'exists');
    try {
        co.propagate_error();
        throw new Error('not rejected');
    } catch (e) {
        assertGError(e, Gio.IOErrorEnum, Gio.IOErrorEnum.EXISTS, 'exists');
    }

    const jsError = new TypeError('bad');
    const failing = spawn(() => {
        throw jsError;
    });
    assert(await rejection(failing) === jsError, 'JS gets the same exception back');
    try {
        failing.propagate_error();
        throw new Error('not rejected');
    } catch (e) {
        assertGError(e, Gasync.error_quark(), Gasync.Error.FAILED, 'TypeError: bad');
    }
    assertEquals(failing.get_state(), State.REJECTED, 'state');

    const plain = Gasync.Future.new();
    assert(rejectFuture(plain, 'just a string'), 'rejectFuture');
    assert(!rejectFuture(plain, 'another'), 'rejectFuture of a settled future');
    assert(!resolveFuture(plain, 'a value'), 'resolveFuture of a settled future');
    assertEquals(await rejection(plain), 'just a string', 'rejectFuture value');
});

test('cancellation reaches the JS function', async () => {
    const events = [];
    let inner = null;
    const co = spawn(async signal => {
        inner = Gasync.Future.new();
        signal.connect(s => {
            events.push(['handler', s.cancelled, s.cancellable.is_cancelled()]);
            inner.cancel();
        });
        signal.addEventListener('abort', () => events.push('listener'));
        signal.onabort = () => events.push('onabort');
        try {
            await inner;
        } catch (e) {
            events.push(['caught', e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED)]);
            assert(signal.aborted, 'aborted');
            signal.throwIfCancelled();
        } finally {
            events.push('finally');
        }
        return 'not reached';
    });
    later(5, () => co.cancel());
    assertGError(await rejection(co), Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED);
    assertEquals(events, [['handler', true, true], 'listener', 'onabort', ['caught', true], 'finally'],
        'events');
    assertEquals(co.get_state(), State.CANCELLED, 'state');
    assert(inner.is_cancelled(), 'inner future');
});

test('a JS function may finish despite cancellation', async () => {
    const co = spawn(async signal => {
        while (!signal.cancelled)
            await sleep(1);
        await sleep(1);
        return 'finished anyway';
    });
    later(5, () => co.cancel());
    assertEquals(await co, 'finished anyway', 'value');
    assertEquals(co.get_state(), State.RESOLVED, 'state');
    assert(co.is_cancel_requested(), 'cancel requested');
});

test('cancellation before the first step and through the cancellable', async () => {
    let seen = null;
    const early = spawn(signal => new Promise((resolve, reject) => {
        signal.connect(s => {
            seen = 'signal';
            reject(s.reason);
        });
    }));
    assert(early.cancel(), 'cancel');
    assertGError(await rejection(early), Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED);
    assertEquals(seen, 'signal', 'signal fired');

    const viaCancellable = spawn(signal => new Promise((resolve, reject) => {
        signal.connect(s => reject(s.reason));
    }));
    later(1, () => viaCancellable.get_cancellable().cancel());
    assertGError(await rejection(viaCancellable), Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED);
    assert(viaCancellable.is_cancelled(), 'cancelled');
});

test('a connect() after cancellation runs at once', async () => {
    const signal = new CancelSignal();
    assert(!signal.cancelled && signal.reason === undefined, 'fresh signal');
    const co = spawn(async s => {
        while (!s.cancelled)
            await sleep(1);
        let ran = false;
        assertEquals(s.connect(() => {
            ran = true;
        }), 0, 'id');
        assert(ran, 'ran at once');
        return 'connected late';
    });
    later(1, () => co.cancel());
    assertEquals(await co, 'connected late', 'value');
});

test('fromPromise', async () => {
    const future = fromPromise(sleep(1).then(() => 'promised'));
    assertEquals(future.get_state(), State.PENDING, 'pending');
    assertEquals(await future, 'promised', 'value');
    assertEquals(future.dup_string(), 'promised', 'C view');
    const failed = fromPromise(Promise.reject(new RangeError('out')));
    const e = await rejection(failed);
    assert(e instanceof RangeError, 'same exception');
    try {
        failed.propagate_error();
        throw new Error('not rejected');
    } catch (gerror) {
        assertGError(gerror, Gasync.error_quark(), Gasync.Error.FAILED, 'RangeError: out');
    }
});

test('spawned coroutines awaiting each other', async () => {
    const inner = spawn(async () => await delayed(1, f => f.resolve_int(5)) * 2, {name: 'inner'});
    const outer = spawn(async () => await inner + 1, {name: 'outer'});
    assertEquals(await outer, 11, 'value');
    // Cancelling the outer one does not reach a coroutine it awaits through
    // a JS promise: only its signal fires.
    const slow = spawn(async signal => {
        await new Promise(resolve => signal.connect(resolve));
        return 'stopped';
    });
    const waiting = spawn(async () => await slow);
    later(1, () => slow.cancel());
    assertEquals(await waiting, 'stopped', 'value through cancellation');
});

// -----------------------------------------------------------------------------

async function runTests() {
    let failures = 0;
    print(`1..${tests.length}`);
    for (const [i, {name, fn}] of tests.entries()) {
        let timer = 0;
        const watchdog = new Promise((resolve, reject) => {
            timer = GLib.timeout_add(GLib.PRIORITY_DEFAULT, WATCHDOG_MS, () => {
                timer = 0;
                reject(new Error('timed out'));
                return GLib.SOURCE_REMOVE;
            });
        });
        try {
            await Promise.race([fn(), watchdog]);
            print(`ok ${i + 1} - ${name}`);
        } catch (e) {
            for (const line of `${e}\n${e?.stack ?? ''}`.trim().split('\n'))
                print(`# ${line}`);
            print(`not ok ${i + 1} - ${name}`);
            failures++;
        }
        if (timer)
            GLib.source_remove(timer);
    }
    return failures;
}

let exitCode = 1;
runTests().then(failures => {
    exitCode = failures > 0 ? 1 : 0;
    loop.quit();
}, e => {
    print(`# ${e}`);
    loop.quit();
});
loop.run();
System.exit(exitCode);
