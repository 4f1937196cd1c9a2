/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Vala over the generated gasync-1.vapi: `yield future.wait_async ()` on
 * futures resolved by a timeout, rejected, cancelled, and a wait cancelled
 * through its cancellable. Prints TAP.
 */

int n_tests = 0;
int n_failures = 0;

void check (bool ok, string name, string? diagnostic = null) {
  n_tests++;
  if (!ok) {
    n_failures++;
    if (diagnostic != null)
      print ("# %s\n", diagnostic);
  }
  print ("%s %d - %s\n", ok ? "ok" : "not ok", n_tests, name);
}

void later (uint ms, owned SourceFunc func) {
  Timeout.add (ms, (owned) func);
}

async void resolved_by_a_timeout () {
  var future = new Gasync.Future ();
  later (5, () => {
    future.resolve_int (42);
    return Source.REMOVE;
  });
  try {
    Value value;
    bool resolved = yield future.wait_async (null, out value);
    check (resolved && value.holds (typeof (int)) && value.get_int () == 42,
           "resolved by a timeout");
  } catch (Error e) {
    check (false, "resolved by a timeout", e.message);
  }
}

async void resolved_with_a_string () {
  var future = new Gasync.Future ();
  later (1, () => {
    future.resolve_string ("hello");
    return Source.REMOVE;
  });
  try {
    Value value;
    yield future.wait_async (null, out value);
    check (value.get_string () == "hello", "resolved with a string");
  } catch (Error e) {
    check (false, "resolved with a string", e.message);
  }
}

async void resolved_without_a_value () {
  var future = new Gasync.Future ();
  later (1, () => {
    future.resolve_void ();
    return Source.REMOVE;
  });
  try {
    Value value;
    bool resolved = yield future.wait_async (null, out value);
    check (resolved && !future.has_value (), "resolved without a value");
  } catch (Error e) {
    check (false, "resolved without a value", e.message);
  }
}

async void rejected () {
  var future = new Gasync.Future ();
  later (1, () => {
    future.reject (new IOError.NOT_FOUND ("no such thing"));
    return Source.REMOVE;
  });
  try {
    Value value;
    yield future.wait_async (null, out value);
    check (false, "rejected", "wait_async did not throw");
  } catch (IOError.NOT_FOUND e) {
    check (e.message == "no such thing" &&
           future.get_state () == Gasync.FutureState.REJECTED, "rejected");
  } catch (Error e) {
    check (false, "rejected", "unexpected error: " + e.message);
  }
}

async void cancelled () {
  var future = new Gasync.Future ();
  bool emitted = false;
  future.cancelled.connect (() => emitted = true);
  later (1, () => {
    future.cancel ();
    return Source.REMOVE;
  });
  try {
    Value value;
    yield future.wait_async (null, out value);
    check (false, "cancelled", "wait_async did not throw");
  } catch (IOError.CANCELLED e) {
    check (future.get_state () == Gasync.FutureState.CANCELLED && future.is_cancelled () && emitted,
           "cancelled");
  } catch (Error e) {
    check (false, "cancelled", "unexpected error: " + e.message);
  }
}

async void wait_cancelled_by_its_cancellable () {
  var future = new Gasync.Future ();
  var cancellable = new Cancellable ();
  later (1, () => {
    cancellable.cancel ();
    return Source.REMOVE;
  });
  try {
    Value value;
    yield future.wait_async (cancellable, out value);
    check (false, "wait cancelled by its cancellable", "wait_async did not throw");
  } catch (IOError.CANCELLED e) {
    /* Only the wait ends: the future itself stays pending. */
    check (future.get_state () == Gasync.FutureState.PENDING,
           "wait cancelled by its cancellable");
  } catch (Error e) {
    check (false, "wait cancelled by its cancellable", "unexpected error: " + e.message);
  }
  future.cancel ();
}

async void stepped_coroutine () {
  /* A Vala lambda as the step function of a stepped coroutine: waits for a
   * future resolved by a timeout, then resolves with twice its value. */
  var first = new Gasync.Future ();
  later (1, () => {
    first.resolve_int (21);
    return Source.REMOVE;
  });
  var coroutine = Gasync.Coroutine.spawn_stepped (null, "vala-stepped", (self, awaited) => {
    if (awaited == null)
      return first;
    try {
      self.resolve_int (2 * awaited.get_int ());
    } catch (Error e) {
      self.reject (e);
    }
    return null;
  });
  try {
    Value value;
    yield coroutine.wait_async (null, out value);
    check (value.get_int () == 42 && coroutine.get_name () == "vala-stepped", "stepped coroutine");
  } catch (Error e) {
    check (false, "stepped coroutine", e.message);
  }
}

async void run_tests () {
  yield resolved_by_a_timeout ();
  yield resolved_with_a_string ();
  yield resolved_without_a_value ();
  yield rejected ();
  yield cancelled ();
  yield wait_cancelled_by_its_cancellable ();
  yield stepped_coroutine ();
}

int main () {
  var loop = new MainLoop ();
  print ("1..7\n");
  run_tests.begin ((obj, res) => {
    run_tests.end (res);
    loop.quit ();
  });
  Timeout.add_seconds (10, () => {
    print ("# timed out\n");
    n_failures++;
    loop.quit ();
    return Source.REMOVE;
  });
  loop.run ();
  return n_failures > 0 ? 1 : 0;
}
