#!/usr/bin/env python3
"""Runs the bad-input suite: every folder here with a `cmd` file is one case.

A case folder holds its input files, `cmd` (the arguments after `nextbatch`, OUT standing for a
fresh output folder) and `expect` (the exit code on the first line, then words the message on
stderr must contain, one per line), and optionally `env` (NAME=VALUE lines added to the
environment). A `pending` file marks a case whose fix is not wired into
the command yet: it is listed, not run. Each case runs in its own folder (paths in its study are
relative to it) with a timeout, and must:
  - exit with the expected code, without a signal;
  - print every expected word on stderr;
  - print nothing of a crash (terminate called, Assertion, Segmentation, AddressSanitizer, a stack
    trace);
  - on exit 2, leave no regular file under the output folder (empty folders are tolerated);
  - never leave a file or folder whose name contains ".tmp" or "staging" under it.
The last line printed is "N passed, M failed"; the exit status is 1 when any case failed.
"""
import argparse
import concurrent.futures
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

CRASH_WORDS = ["terminate called", "Assertion", "Segmentation", "AddressSanitizer",
               "UndefinedBehaviorSanitizer", "runtime error:", "stack trace", "Stack trace",
               "core dumped", "Aborted", "#0 0x", "std::bad_alloc"]


def load(folder):
    with open(os.path.join(folder, "cmd")) as f:
        cmd = f.read().strip()
    with open(os.path.join(folder, "expect")) as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    return cmd, int(lines[0]), lines[1:]


def leftovers(out):
    """Regular files, and names with .tmp or staging, under `out`."""
    files, temps = [], []
    for root, dirs, names in os.walk(out):
        for n in dirs + names:
            if ".tmp" in n or "staging" in n:
                temps.append(os.path.relpath(os.path.join(root, n), out))
        for n in names:
            if os.path.isfile(os.path.join(root, n)):
                files.append(os.path.relpath(os.path.join(root, n), out))
    return files, temps


def run_case(binary, folder, timeout):
    name = os.path.basename(folder)
    cmd, code, words = load(folder)
    scratch = tempfile.mkdtemp(prefix="nb_badinput_")
    out = os.path.join(scratch, "out")
    args = [binary] + [out if a == "OUT" else a for a in shlex.split(cmd)]
    env = dict(os.environ)
    env_file = os.path.join(folder, "env")
    if os.path.exists(env_file):
        with open(env_file) as f:
            for line in f:
                if line.strip():
                    k, v = line.rstrip("\n").split("=", 1)
                    env[k] = v
    problems = []
    start = time.monotonic()
    try:
        p = subprocess.run(args, cwd=folder, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout, env=env)
        stdout = p.stdout.decode("utf-8", "replace")
        stderr = p.stderr.decode("utf-8", "replace")
        if p.returncode < 0:
            problems.append("killed by signal %d" % -p.returncode)
        elif p.returncode != code:
            problems.append("exit %d, expected %d" % (p.returncode, code))
        for w in words:
            if w not in stderr:
                problems.append("stderr lacks %r" % w)
        for w in CRASH_WORDS:
            if w in stdout or w in stderr:
                problems.append("output shows %r" % w)
        files, temps = leftovers(out)
        if p.returncode == 2 and files:
            problems.append("exit 2 but wrote %s" % ", ".join(sorted(files)[:5]))
        if temps:
            problems.append("left temporary %s" % ", ".join(sorted(temps)[:5]))
    except subprocess.TimeoutExpired as e:
        stderr = (e.stderr or b"").decode("utf-8", "replace")
        problems.append("no exit within %g s" % timeout)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    seconds = time.monotonic() - start
    if problems:
        tail = stderr.strip().splitlines()[-3:] if stderr.strip() else ["(stderr empty)"]
        problems.append("stderr: " + " | ".join(tail))
    return name, problems, seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nextbatch", required=True, help="the built nextbatch binary")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per case")
    ap.add_argument("--jobs", type=int, default=2, help="cases run at once")
    ap.add_argument("cases", nargs="*", help="case names (default: all)")
    a = ap.parse_args()
    binary = os.path.abspath(a.nextbatch)
    here = os.path.dirname(os.path.abspath(__file__))
    names = a.cases or sorted(d for d in os.listdir(here)
                              if os.path.isfile(os.path.join(here, d, "cmd")))
    pending = [n for n in names if os.path.isfile(os.path.join(here, n, "pending"))]
    runnable = [n for n in names if n not in pending]
    failed = 0
    slowest = (0.0, "")
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        jobs = [pool.submit(run_case, binary, os.path.join(here, n), a.timeout) for n in runnable]
        for job in jobs:
            name, problems, seconds = job.result()
            slowest = max(slowest, (seconds, name))
            if problems:
                failed += 1
                print("FAIL %s: %s" % (name, "; ".join(problems)))
    for n in pending:
        with open(os.path.join(here, n, "pending")) as f:
            print("pending %s: %s" % (n, f.read().strip()))
    print("slowest case: %s (%.1f s)" % (slowest[1], slowest[0]))
    print("%d passed, %d failed" % (len(runnable) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
