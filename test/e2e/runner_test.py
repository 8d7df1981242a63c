"""test/run-tests itself: its last line and exit status, run on stand-in parts (a unit-test
binary and e2e scripts written here) so that each way a part can fail is seen once. The oracle
is the rule in run-tests' header: a part that exits non-zero, prints no summary or runs no
test is a failure, whatever its summary says; so is a missing or empty test/e2e."""

import os
import stat
import subprocess

import harness
from harness import Suite

suite = Suite()
RUN_TESTS = os.path.join(harness.REPO, "test", "run-tests")
tmp = suite.temp_dir("sfm-runner-")

DOCTEST_OK = "[doctest] test cases: 3 | 3 passed | 0 failed | 0 skipped"


def unit(dir, body):
    """A stand-in build dir whose unit-tests is this Python body."""
    os.makedirs(dir, exist_ok=True)
    path = os.path.join(dir, "unit-tests")
    with open(path, "w") as f:
        f.write("#!/usr/bin/python3\nimport os, sys\n" + body + "\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return dir


def e2e(dir, scripts):
    """A stand-in e2e dir: {name: Python body}."""
    os.makedirs(dir, exist_ok=True)
    for name, body in scripts.items():
        with open(os.path.join(dir, name), "w") as f:
            f.write("import os, sys\n" + body + "\n")
    return dir


def run(name, unit_body, scripts, make_e2e=True):
    """(last line, exit status) of run-tests over the stand-ins."""
    base = os.path.join(tmp, name)
    build = unit(os.path.join(base, "build"), unit_body)
    e2e_dir = os.path.join(base, "e2e")
    if make_e2e:
        e2e(e2e_dir, scripts)
    p = subprocess.run([RUN_TESTS], env=dict(os.environ, BUILD=build, E2E_DIR=e2e_dir),
                       capture_output=True, text=True, timeout=harness.TIMEOUT)
    lines = p.stdout.splitlines()
    return (lines[-1] if lines else ""), p.returncode, p.stdout


GOOD_UNIT = "print(%r)" % DOCTEST_OK
GOOD_E2E = {"a_test.py": "print('2 passed, 0 failed')"}


@suite.test
def stand_ins_that_pass_give_a_green_run():
    last, rc, out = run("green", GOOD_UNIT, GOOD_E2E)
    assert (last, rc) == ("5 passed, 0 failed", 0), out


@suite.test
def a_unit_binary_that_aborts_after_printing_0_failed_is_a_failure():
    # as a static destructor, a detached thread or LeakSanitizer would: the summary is printed
    last, rc, out = run("abort", GOOD_UNIT + "\nsys.stdout.flush()\nos.abort()", GOOD_E2E)
    assert (last, rc != 0) == ("5 passed, 1 failed", True), out
    assert "exit status 134 after reporting 0 failed" in out, out


@suite.test
def a_unit_binary_that_exits_1_after_printing_0_failed_is_a_failure():
    last, rc, out = run("exit1", GOOD_UNIT + "\nsys.exit(1)", GOOD_E2E)
    assert (last, rc != 0) == ("5 passed, 1 failed", True), out


@suite.test
def an_e2e_script_that_exits_non_zero_after_printing_0_failed_is_a_failure():
    last, rc, out = run("e2e-exit", GOOD_UNIT,
                        dict(GOOD_E2E, **{"b_test.py": "print('1 passed, 0 failed')\nsys.exit(3)"}))
    assert (last, rc != 0) == ("6 passed, 1 failed", True), out


@suite.test
def a_part_without_a_summary_is_a_failure():
    last, rc, out = run("no-summary-unit", "print('hello')", GOOD_E2E)
    assert (last, rc != 0) == ("2 passed, 1 failed", True), out
    last, rc, out = run("no-summary-e2e", GOOD_UNIT, dict(GOOD_E2E, **{"b_test.py": "pass"}))
    assert (last, rc != 0) == ("5 passed, 1 failed", True), out


@suite.test
def a_missing_unit_binary_is_a_failure():
    base = os.path.join(tmp, "no-unit")
    os.makedirs(os.path.join(base, "build"))
    e2e(os.path.join(base, "e2e"), GOOD_E2E)
    p = subprocess.run([RUN_TESTS], env=dict(os.environ, BUILD=os.path.join(base, "build"),
                                             E2E_DIR=os.path.join(base, "e2e")),
                       capture_output=True, text=True, timeout=harness.TIMEOUT)
    assert (p.stdout.splitlines()[-1], p.returncode != 0) == ("2 passed, 1 failed", True), p.stdout


@suite.test
def a_part_that_runs_no_test_is_a_failure():
    last, rc, out = run("empty-unit", "print('[doctest] test cases: 0 | 0 passed | 0 failed | 0 skipped')",
                        GOOD_E2E)
    assert (last, rc != 0) == ("2 passed, 1 failed", True), out
    last, rc, out = run("empty-e2e", GOOD_UNIT, dict(GOOD_E2E, **{"b_test.py": "print('0 passed, 0 failed')"}))
    assert (last, rc != 0) == ("5 passed, 1 failed", True), out


@suite.test
def a_missing_or_empty_e2e_folder_is_a_failure():
    last, rc, out = run("no-e2e", GOOD_UNIT, {}, make_e2e=False)
    assert (last, rc != 0) == ("3 passed, 1 failed", True), out
    last, rc, out = run("empty-e2e-dir", GOOD_UNIT, {})
    assert (last, rc != 0) == ("3 passed, 1 failed", True), out


@suite.test
def failures_a_part_reports_are_counted_as_reported():
    last, rc, out = run("failures", "print('[doctest] test cases: 3 | 1 passed | 2 failed | 0 skipped')"
                        "\nsys.exit(1)", GOOD_E2E)
    assert (last, rc != 0) == ("3 passed, 2 failed", True), out


if __name__ == "__main__":
    suite.run()
