# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs a test module's unittest cases and prints TAP, for meson's
`protocol: 'tap'`: one line per test, failures as `#` diagnostics. A test
marked @unittest.expectedFailure is a known bug: reported as TAP TODO, and
its unexpected success as a failure, so a fixed bug gets its marker
removed."""

import sys
import traceback
import unittest


class TapResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.number = 0

    def _print(self, ok, test, directive='', err=None):
        if err is not None:
            for line in self._exc_info_to_string(err, test).splitlines():
                print(f'# {line}')
        self.number += 1
        print(f"{'ok' if ok else 'not ok'} {self.number} - {test.id()}{directive}", flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._print(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._print(False, test, err=err)

    def addError(self, test, err):
        super().addError(test, err)
        self._print(False, test, err=err)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            for line in self._exc_info_to_string(err, subtest).splitlines():
                print(f'# {line}')

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._print(True, test, f' # SKIP {reason}')

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        reason = getattr(getattr(test, test._testMethodName), 'known_bug', 'known bug')
        print(f'# {traceback.format_exception_only(err[0], err[1])[-1].strip()}')
        self._print(False, test, f' # TODO {reason}')

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._print(False, test, ' (passed, but is marked as a known bug: remove the marker)')


def main(module_name):
    """Runs every test case of the module named @module_name; returns the
    exit status."""
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[module_name])
    print(f'1..{suite.countTestCases()}', flush=True)
    result = TapResult()
    suite.run(result)
    return 0 if result.wasSuccessful() and not result.unexpectedSuccesses else 1
