#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs a demo the way a user would and checks what it shows.

    check-demo.py tour TOUR                       the report, exit 0
    check-demo.py tour-sigint TOUR                Ctrl-C mid-tour: "interrupted", exit 130
    check-demo.py gui [--tree N] [--png] [--colors N] [--expect TEXT] -- COMMAND...

gui runs COMMAND on a private X server (Xvfb picks a free display itself,
so tests may run in parallel) and checks that it exits 0 and reports a
finished scan ("scan finished: N files"). In COMMAND, {tree} is replaced by
a temporary folder of N small files (--tree) and {png} by a temporary PNG
path (--png), which must then hold a screenshot with more than --colors
colors. --expect TEXT requires TEXT in the output instead of a finished
scan. The demo's output is echoed, so its frame report (if any) is kept in
the test log.
"""

import argparse
import os
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOUR_SECTIONS = {
    'echo': r'\d+ clients x \d+ messages on 127\.0\.0\.1:\d+: (\d+)/\1 echoes checked',
    'hash': r'\d+ files, [\d.]+ MB from .+, \d+ at a time.*; tree sha256 [0-9a-f]{16}',
    'process': r'uname -a: \S+',
    'timeout': r'`sleep 30` cut after \d+ ms: timed out, process killed \(signal \d+\)',
    'thread': r'\d+ primes below \d+ on a worker thread; main loop live: \d+ wake-ups',
    'scope': r'(\d+) coroutines cancelled at \d+ ms \(\d+ done, [1-9]\d* mid-flight\); '
             r'\1/\1 finalized, 0 leaked',
}


def fail(message, output=''):
    if output:
        sys.stdout.write(output)
    print(f'FAIL: {message}')
    sys.exit(1)


def check_tour(tour):
    start = time.monotonic()
    run = subprocess.run([tour], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, timeout=120)
    elapsed = time.monotonic() - start
    sys.stdout.write(run.stdout)
    print(f'# the tour took {elapsed:.2f} s')
    if run.returncode != 0:
        fail(f'exit status {run.returncode}')
    for section, pattern in TOUR_SECTIONS.items():
        line = rf'^  {section:<8} +[\d.]+ ms  {pattern}'
        if not re.search(line, run.stdout, re.MULTILINE):
            fail(f'no report line for {section!r} matching {line!r}')
    if not re.search(r'^All 6 sections passed in [\d.]+ s\.$', run.stdout, re.MULTILINE):
        fail('no closing line')
    if '\r' in run.stdout or '\033' in run.stdout:
        fail('a progress line was drawn although stdout is not a terminal')


def check_tour_sigint(tour):
    # Interrupt as soon as the first section has reported.
    tour = subprocess.Popen([tour], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = [tour.stdout.readline(), tour.stdout.readline()]
    tour.send_signal(signal.SIGINT)
    try:
        rest, _ = tour.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        tour.kill()
        fail('the tour did not stop after SIGINT', ''.join(lines))
    output = ''.join(lines) + rest
    sys.stdout.write(output)
    if tour.returncode != 130 or not output.rstrip().endswith('interrupted'):
        fail(f'expected "interrupted" and exit status 130, got {tour.returncode}')


def make_tree(root, n_files):
    """n_files small files of random content, 500 to a folder."""
    rng = random.Random(n_files)
    for i in range(n_files):
        folder = os.path.join(root, f'folder-{i // 500:03d}')
        if i % 500 == 0:
            os.makedirs(folder)
        with open(os.path.join(folder, f'file-{i % 500:03d}.txt'), 'wb') as f:
            f.write(rng.randbytes(rng.randrange(16, 2048)))


def start_xvfb():
    """A private X server on a display Xvfb chooses: no race between tests."""
    read_end, write_end = os.pipe()
    # Not the sanitizer runtimes a Python or GJS test may preload.
    env = {k: v for k, v in os.environ.items() if k != 'LD_PRELOAD'}
    xvfb = subprocess.Popen(['Xvfb', '-displayfd', str(write_end), '-screen', '0', '1024x768x24',
                             '-nolisten', 'tcp'], pass_fds=[write_end], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    display = b''
    deadline = time.monotonic() + 30
    while not display.endswith(b'\n') and time.monotonic() < deadline:
        ready, _, _ = select.select([read_end], [], [], 1)
        if ready:
            chunk = os.read(read_end, 64)
            if not chunk:
                break
            display += chunk
    os.close(read_end)
    if not display.strip():
        xvfb.kill()
        fail('Xvfb did not start')
    return xvfb, ':' + display.decode().strip()


def check_gui(args):
    # In memory when possible: writing and deleting 50,000 files on a busy
    # disk takes a minute, in a tmpfs a few seconds.
    shm = '/dev/shm' if os.access('/dev/shm', os.W_OK) else None
    workdir = tempfile.mkdtemp(prefix='gasync-demo-', dir=shm)
    try:
        tree = os.path.join(workdir, 'tree')
        png = os.path.join(workdir, 'window.png')
        if args.tree:
            make_tree(tree, args.tree)
        command = [a.replace('{tree}', tree).replace('{png}', png) for a in args.command]

        xvfb, display = start_xvfb()
        try:
            env = dict(os.environ, DISPLAY=display)
            env.pop('WAYLAND_DISPLAY', None)
            start = time.monotonic()
            run = subprocess.run(command, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, timeout=args.timeout)
            elapsed = time.monotonic() - start
        finally:
            xvfb.terminate()
            xvfb.wait()

        sys.stdout.write(run.stdout)
        print(f'# ran in {elapsed:.2f} s')
        if run.returncode != 0:
            fail(f'exit status {run.returncode}')
        if args.expect:
            if args.expect not in run.stdout:
                fail(f'{args.expect!r} not in the output')
        else:
            finished = re.search(r'^scan finished: (\d+) files', run.stdout, re.MULTILINE)
            if not finished:
                fail('no "scan finished" line')
            if args.tree and int(finished.group(1)) != args.tree:
                fail(f'{finished.group(1)} files scanned, {args.tree} expected')
        if args.png:
            if not os.path.exists(png):
                fail('no screenshot')
            colors = subprocess.run(['/usr/bin/identify', '-format', '%k', png],
                                    stdout=subprocess.PIPE, text=True, check=True).stdout
            print(f'# screenshot: {colors} colors')
            if int(colors) <= args.colors:
                fail(f'the screenshot has {colors} colors: blank?')
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    # Killed for taking too long: still stop the demo and the X server.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(1))
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest='mode', required=True)
    sub.add_parser('tour').add_argument('tour')
    sub.add_parser('tour-sigint').add_argument('tour')
    gui = sub.add_parser('gui')
    gui.add_argument('--tree', type=int, default=0)
    gui.add_argument('--png', action='store_true')
    gui.add_argument('--colors', type=int, default=100)
    gui.add_argument('--expect')
    gui.add_argument('--timeout', type=int, default=240)
    gui.add_argument('command', nargs='+')
    args = parser.parse_args()

    if args.mode == 'tour':
        check_tour(args.tour)
    elif args.mode == 'tour-sigint':
        check_tour_sigint(args.tour)
    else:
        check_gui(args)
    print('PASS')


if __name__ == '__main__':
    main()
