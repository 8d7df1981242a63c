"""scripts/crash-test must not pass on nothing: run with one kill on stand-in sflow-gens (a
build dir holding the real sflow-monitor and a sflow-gen written here), it must fail when the
generator exits on its own, sends nothing, or does not end cleanly, and pass with the real one."""

import os
import stat
import subprocess

import harness
from harness import Suite

suite = Suite()
CRASH_TEST = os.path.join(harness.REPO, "scripts", "crash-test")
REAL_GEN = os.path.join(harness.BUILD, "sflow-gen")
tmp = suite.temp_dir("sfm-soak-scripts-")


def crash_test(name, gen_script):
    """(exit status, output) of crash-test with KILLS=1 over a stand-in sflow-gen (a /bin/sh
    script body), or the real one when gen_script is None."""
    build = os.path.join(tmp, name)
    os.makedirs(build)
    os.symlink(os.path.join(harness.BUILD, "sflow-monitor"), os.path.join(build, "sflow-monitor"))
    gen = os.path.join(build, "sflow-gen")
    if gen_script is None:
        os.symlink(REAL_GEN, gen)
    else:
        with open(gen, "w") as f:
            f.write("#!/bin/sh\n" + gen_script + "\n")
        os.chmod(gen, os.stat(gen).st_mode | stat.S_IXUSR)
    p = subprocess.run(["/usr/bin/python3", CRASH_TEST], env=dict(os.environ, BUILD=build, KILLS="1"),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=10 * harness.TIMEOUT)
    return p.returncode, p.stdout


@suite.test
def crash_test_passes_with_the_real_sflow_gen():
    rc, out = crash_test("real", None)
    assert rc == 0 and out.rstrip().endswith("PASS"), out


@suite.test
def crash_test_fails_when_sflow_gen_exits_on_its_own():
    rc, out = crash_test("exits", 'echo "sflow-gen: bad option" >&2; exit 2')
    assert rc == 1 and "sflow-gen exited with 2" in out, out


@suite.test
def crash_test_fails_when_no_data_arrives_before_a_kill():
    rc, out = crash_test("silent", "exec sleep 100000")
    assert rc == 1 and "no data arrived before this kill" in out, out


@suite.test
def crash_test_fails_when_sflow_gen_does_not_end_cleanly():
    # sends like the real one, but exits 3 on the SIGTERM that ends it
    rc, out = crash_test("unclean", '%s "$@" & pid=$!\ntrap \'kill $pid; exit 3\' TERM\nwait $pid'
                         % REAL_GEN)
    assert rc == 1 and "sflow-gen ended with 3 after SIGTERM" in out, out


suite.run()
