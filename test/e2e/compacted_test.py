"""Every test that reads stored samples, again on compacted data (issue 14; docs/storage.md,
"Compaction"): each script below runs with SFM_E2E_COMPACT_AFTER=0, so that every stack it
starts compacts as soon as it can (compact-after 0), and each of its checks of stored samples
is made only once every sample the store holds has been rewritten into a chunk
(stack.Stack.wait_compacted, which fails when that does not happen):

- api_test.py: every method against sflowtool's decodes of the hsflowd captures;
- gen_test.py: sflow-gen's --expect values and a hand-written walk of its datagrams;
- restart_test.py: the series after a restart, and after another one, on a compacted store;
- limits_test.py: the bounded costs on 1,000 hosts × 30 VMs, its light client reading chunks;
- api_examples_test.py: docs/api.md's examples (collector.stats's aside: its compaction
  counters differ by design).

The unit tests that read a store run again with SFM_UNIT_COMPACT=1 (test_util.h: a
CompactingStore compacts everything after each write, through Store::compact_step, and fails
the test when samples stay raw): the files of UNIT_FILES. Left out: store_test,
store_format_test, chunk_test and compact_test (they test the raw layout or compaction itself),
golden_test and the decoder/JSON/config tests (no store), ingest_test (its writer is the
service's own: compaction under it is what the scripts here run), metrics_test (the
exporter reads the current state in memory, not the store).

Scripts that do not run here, and why:
- rpc_errors_test.py: the JSON-RPC envelope and HTTP errors, on an empty store;
- cli_test.py, make_run_test.py: options, start-up failures, `make run`; no stored sample read;
- metrics_http_test.py: /metrics and /prometheus/targets come from the current state in memory
  (current.h), which compaction does not touch;
- prometheus_test.py (about 40 s): Prometheus scrapes the same current state; the API answers
  it compares with (host.memory, virt.cpu, host.cpu with derive) are series api_test.py and
  gen_test.py check here on compacted data against independent oracles;
- console_test.py (about a minute, twice that under ASan): it compares what the page shows
  with the API's own answers on the same store, so on compacted data both sides would read the
  same chunks: a minute more and no check of compaction that the scripts above do not make;
- runner_test.py, soak_scripts_test.py, source_map_test.py, mutate_table_test.py: no service
  data (the test tools themselves, the maps of the code).
"""

import os
import re
import subprocess

from harness import BUILD, Suite, TIMEOUT

suite = Suite()
HERE = os.path.dirname(os.path.abspath(__file__))
UNIT_FILES = ["api_test.cpp", "derive_test.cpp", "step_test.cpp", "current_test.cpp",
              "rollup_store_test.cpp", "regress_test.cpp"]
# compaction off (its first pass would come 5 minutes after start): wait_compacted must fail
off = suite.stack(options={"compact-after": "1h"})


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


@suite.test
def a_compacted_store_answers_the_same_after_restarts():
    run_compacted("restart_test.py")


@suite.test
def requests_keep_their_bounds_on_a_compacted_store_of_1000_hosts():
    run_compacted("limits_test.py")


@suite.test
def the_api_md_examples_are_answered_from_compacted_data():
    run_compacted("api_examples_test.py")


@suite.test
def the_unit_tests_that_read_a_store_pass_on_compacted_data():
    env = dict(os.environ, SFM_UNIT_COMPACT="1")
    p = subprocess.run([os.path.join(BUILD, "unit-tests"), "-sf=" + ",".join("*/" + f for f in UNIT_FILES)],
                       env=env, cwd=os.path.dirname(os.path.dirname(HERE)), capture_output=True, text=True,
                       timeout=20 * TIMEOUT)
    m = re.search(r"^\[doctest\] test cases: *(\d+) \| *(\d+) passed \| *(\d+) failed", p.stdout, re.M)
    assert p.returncode == 0 and m and m.group(3) == "0" and int(m.group(2)) >= 50, \
        "unit tests on compacted data:\n%s\n%s" % (p.stdout[-3000:], p.stderr[-3000:])


@suite.test
def waiting_for_compaction_fails_when_nothing_compacts():
    off.replay("hsflowd-kvm.pcap")
    os.environ["SFM_E2E_COMPACT_AFTER"] = "0"  # as the runs above have it
    try:
        off.wait_compacted(timeout=2)
    except AssertionError:
        return
    finally:
        del os.environ["SFM_E2E_COMPACT_AFTER"]
    raise AssertionError("wait_compacted returned with compaction off")


suite.run()
