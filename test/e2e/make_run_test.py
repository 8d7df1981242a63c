"""`make run` and `make stop` as the README gives them, with SFM_ARGS passing options to the
service: on free ports, under a temporary VAR_DIR."""

import json
import os
import signal
import socket
import subprocess
import urllib.request

import harness
from harness import Suite, free_port

suite = Suite()
tmp = suite.temp_dir("sfm-make-run-")
os.chmod(tmp, 0o755)  # nginx's workers (nobody, when we are root) reach the socket under it
HTTP_PORT = free_port()
VARS = ["HTTP_PORT=%d" % HTTP_PORT, "SFLOW_PORT=%d" % free_port(socket.SOCK_DGRAM),
        "VAR_DIR=" + os.path.join(tmp, "var")]
if harness.BUILD.rstrip("/").endswith("asan"):
    VARS.append("SANITIZE=1")


def make(target, sfm_args=None):
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    cmd = ["make", "--no-print-directory", "-C", harness.REPO, target] + VARS
    if sfm_args is not None:
        cmd.append("SFM_ARGS=" + sfm_args)
    p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=120)
    return p.returncode, p.stdout + p.stderr


def collector_stats():
    req = urllib.request.Request(
        "http://127.0.0.1:%d/sflow-monitor/api" % HTTP_PORT,
        data=b'{"jsonrpc":"2.0","method":"collector.stats","id":1}',
        headers={"Content-Type": "application/json-rpc"})
    with urllib.request.urlopen(req, timeout=harness.TIMEOUT) as r:
        return json.loads(r.read())["result"]


@suite.test
def options_in_sfm_args_reach_the_service():
    rc, out = make("run", "--map-size 16 --retention 2h")
    try:
        assert rc == 0, out
        assert "running: JSON-RPC API" in out, out
        assert collector_stats()["store"]["map_size_bytes"] == 16 << 20
    finally:
        rc, out = make("stop")
    assert rc == 0 and "stopped sflow-monitor" in out, out


@suite.test
def a_bad_option_in_sfm_args_fails_make_run_with_the_services_message():
    rc, out = make("run", "--retention forever")
    make("stop")
    assert rc != 0, out
    assert "retention" in out and "forever" in out, out


@suite.test
def options_that_make_run_sets_itself_are_refused_in_sfm_args():
    for arg in ("--data-dir /nonexistent", "--udp-port 1", "--fcgi-listen unix:/x"):
        rc, out = make("run", arg)
        assert rc != 0, (arg, out)
        assert "is set by make run" in out, (arg, out)
    rc, out = make("stop")
    assert "not running" in out, out


@suite.test
def make_run_again_restarts_a_stack_whose_api_does_not_answer():
    rc, out = make("run")
    try:
        assert rc == 0, out
        rc, out = make("run")
        assert rc == 0 and "already running" in out, out
        with open(os.path.join(tmp, "var", "run", "sflow-monitor.pid")) as f:
            pid = int(f.read())
        os.kill(pid, signal.SIGSTOP)  # alive, but the API does not answer
        rc, out = make("run")
        assert rc == 0, out
        assert "does not answer" in out and "restarting" in out, out
        # the stopped service is resumed to act on TERM: it stops, it is not killed after the wait
        assert "did not stop within" not in out, out
        assert "running: JSON-RPC API" in out, out
        assert collector_stats()["datagrams_received"] == 0  # a new service answers
    finally:
        rc, out = make("stop")
    assert rc == 0 and "stopped sflow-monitor" in out, out


suite.run()
