#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs the examples of the reference's overview pages against the build
tree, so that they keep working: every ```c block with a main() is compiled
and run, every ```python block that imports gi and every ```js block that
imports gi:// is run. Snippets (other blocks) are left alone. A reference to
the installed GJS module is pointed at the source tree's. Prints TAP.

Usage: check-examples.py --cc=CC... --cflag=FLAG... --ldflag=FLAG...
    --python=PYTHON --pythonpath=DIR [--gjs=GJS] --gjs-module=PATH PAGE.md...
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

BLOCK = re.compile(r'^```(\w+)\n(.*?)^```', re.M | re.S)
GJS_MODULE = re.compile(r"'file:///[^']*/gasync\.js'")
TIMEOUT = 30


def examples(page):
    with open(page, encoding='utf-8') as f:
        text = f.read()
    counts = {}
    for match in BLOCK.finditer(text):
        lang, code = match.group(1), match.group(2)
        runnable = ((lang == 'c' and re.search(r'^main \(', code, re.M)) or
                    (lang == 'python' and 'import gi\n' in code) or
                    (lang == 'js' and "from 'gi://" in code))
        if runnable:
            counts[lang] = counts.get(lang, 0) + 1
            yield f'{os.path.basename(page)}: {lang} example {counts[lang]}', lang, code


def run(command, **kwargs):
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT,
                                **kwargs)
    except subprocess.TimeoutExpired as timeout:
        output = (timeout.stdout or b'').decode(errors='replace').splitlines()
        return 'timed out', output[-20:]
    output = (result.stdout + result.stderr).splitlines()
    return result.returncode, output


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--cc', action='append', default=[])
    parser.add_argument('--cflag', action='append', default=[])
    parser.add_argument('--ldflag', action='append', default=[])
    parser.add_argument('--python', required=True)
    parser.add_argument('--pythonpath', required=True)
    parser.add_argument('--gjs')
    parser.add_argument('--gjs-module', required=True)
    parser.add_argument('pages', nargs='+')
    options = parser.parse_args()
    tests = [example for page in options.pages for example in examples(page)]
    print(f'1..{len(tests)}', flush=True)

    failures = 0
    with tempfile.TemporaryDirectory(prefix='gasync-doc-examples-') as tmp:
        for number, (name, lang, code) in enumerate(tests, 1):
            source = os.path.join(tmp, f'example-{number}.{lang}')
            if lang == 'js':
                module = 'file://' + options.gjs_module
                code = GJS_MODULE.sub(f"'{module}'", code)
            with open(source, 'w', encoding='utf-8') as f:
                f.write(code)

            env = dict(os.environ)
            if lang == 'c':
                exe = os.path.join(tmp, f'example-{number}')
                command = options.cc + options.cflag + [source, '-o', exe] + options.ldflag
                # Not the sanitizer runtimes preloaded for interpreters.
                compile_env = {k: v for k, v in env.items() if k != 'LD_PRELOAD'}
                rc, output = run(command, env=compile_env)
                if rc == 0:
                    rc, output = run([exe], env=env)
            elif lang == 'python':
                env['PYTHONPATH'] = options.pythonpath
                rc, output = run([options.python, source], env=env)
            elif options.gjs:
                rc, output = run([options.gjs, '-m', source], env=env)
            else:
                print(f'ok {number} - {name} # SKIP gjs not found', flush=True)
                continue

            for line in output:
                print(f'# {line}')
            if rc != 0:
                print(f'# exit status {rc}')
                failures += 1
            print(f"{'ok' if rc == 0 else 'not ok'} {number} - {name}", flush=True)

    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
