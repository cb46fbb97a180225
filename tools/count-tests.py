#!/usr/bin/python3
"""Count test results from meson's JSON test logs.

    count-tests.py [--total] [--fail LABEL=REASON]... [LABEL=]TESTLOG.json...

Each TESTLOG is a meson-logs/testlog*.json file: one JSON object a line, with
at least "name" and "result".  For each one this prints a summary line with
its counts (under LABEL if one is given) and the names of the tests that did
not pass.  Each --fail adds a configuration that produced no results (say its
build failed); it counts as one failed test.  With --total the last line is
the plain total:

    N passed, N failed            (or  N passed, N failed, N skipped)

A log that is missing or unreadable counts as one failure too.
Exit status: 0 when nothing failed, 1 otherwise, 2 on bad usage.
Standard library only; runs on Debian's /usr/bin/python3.
"""

import json
import os
import sys

PASSED = {"OK", "EXPECTEDFAIL"}
SKIPPED = {"SKIP"}
# FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS, INTERRUPT, and anything unknown.


def split_label(arg):
    """'LABEL=PATH' -> (LABEL, PATH); a bare path is labelled by itself."""
    if "=" in arg and not os.path.exists(arg):
        label, path = arg.split("=", 1)
        return label, path
    return arg, arg


def split_fail(spec):
    """'LABEL=REASON' -> (LABEL, REASON)."""
    if "=" in spec:
        label, reason = spec.split("=", 1)
        return label, reason
    return spec, "failed"


def count_file(path):
    """Returns (passed, failed, skipped, bad_tests, problem)."""
    passed = failed = skipped = 0
    bad = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
    except OSError as e:
        return 0, 1, 0, [], f"cannot read log: {e.strerror}"
    for lineno, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
            name, result = str(rec["name"]), str(rec["result"])
        except (ValueError, KeyError, TypeError):
            failed += 1
            bad.append(f"{os.path.basename(path)}:{lineno} (unparseable line)")
            continue
        if result in PASSED:
            passed += 1
        elif result in SKIPPED:
            skipped += 1
        else:
            failed += 1
            bad.append(f"{name} ({result})")
    problem = None
    if passed + failed + skipped == 0:
        problem = "log has no test results"
    return passed, failed, skipped, bad, problem


def fmt(passed, failed, skipped, always_skipped=False):
    s = f"{passed} passed, {failed} failed"
    if skipped or always_skipped:
        s += f", {skipped} skipped"
    return s


def main(argv):
    total = False
    entries = []  # ("log", label, path) or ("fail", label, reason), in order
    args = iter(argv)
    for a in args:
        if a == "--total":
            total = True
        elif a == "--fail":
            spec = next(args, None)
            if spec is None:
                print("count-tests: --fail needs LABEL=REASON", file=sys.stderr)
                return 2
            entries.append(("fail", *split_fail(spec)))
        elif a.startswith("--fail="):
            entries.append(("fail", *split_fail(a[len("--fail="):])))
        elif a in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        elif a.startswith("--"):
            print(f"count-tests: unknown option {a}", file=sys.stderr)
            return 2
        else:
            entries.append(("log", *split_label(a)))

    width = max([len(label) for _, label, _ in entries] + [1])
    tp = tf = ts = 0
    for kind, label, path in entries:
        if kind == "fail":
            tf += 1
            print(f"  FAIL {label:<{width}}  {path} (counted as 1 failed)")
            continue
        p, f, s, bad, problem = count_file(path)
        if problem and f == 0:
            f = 1  # an empty log means the tests did not run: a failure
        tp, tf, ts = tp + p, tf + f, ts + s
        status = "ok  " if f == 0 else "FAIL"
        line = f"  {status} {label:<{width}}  {fmt(p, f, s, True)}"
        if problem:
            line += f"  [{problem}]"
        print(f"{line}  ({path})")
        for b in bad:
            print(f"         {'':<{width}}  not passed: {b}")
    if total:
        print(fmt(tp, tf, ts))
    return 0 if tf == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
