"""The golden checks on compacted data: api_test.py (every method against sflowtool's decodes
of the hsflowd captures) and gen_test.py (sflow-gen's --expect values and a hand-written walk of
its datagrams) run again with every stack at compact-after 0, each check made only once every
stored sample has been rewritten into a chunk (harness.Stack.wait_compacted)."""

import os
import subprocess

from harness import Suite, TIMEOUT

suite = Suite()
HERE = os.path.dirname(os.path.abspath(__file__))


def run_compacted(script):
    env = dict(os.environ, SFM_E2E_COMPACT_AFTER="0")
    p = subprocess.run(["/usr/bin/python3", os.path.join(HERE, script)], env=env, cwd=os.getcwd(),
                       capture_output=True, text=True, timeout=20 * TIMEOUT)
    lines = p.stdout.strip().splitlines()
    assert p.returncode == 0 and lines and lines[-1].endswith(" passed, 0 failed") \
        and not lines[-1].startswith("0 passed"), \
        "%s on compacted data:\n%s\n%s" % (script, p.stdout[-3000:], p.stderr[-3000:])


@suite.test
def every_method_matches_sflowtool_on_compacted_captures():
    run_compacted("api_test.py")


@suite.test
def sflow_gen_values_read_back_exactly_from_compacted_chunks():
    run_compacted("gen_test.py")


suite.run()
