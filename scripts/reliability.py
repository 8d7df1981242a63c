"""Helpers for scripts/crash-test, flood-test and soak-test: the service started alone
(--fcgi-listen on a free loopback port), JSON-RPC over FastCGI straight to it, sflow-gen in
the background, /proc figures. Waiting and FastCGI come from test/e2e/harness.py."""

import json
import os
import re
import signal
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "test", "e2e"))
import harness  # noqa: E402
from harness import free_port, wait_until  # noqa: E402,F401

BUILD = harness.BUILD


def say(fmt, *args):
    print(("%s: " + fmt) % ((os.path.basename(sys.argv[0]),) + args), flush=True)


class Service:
    """sflow-monitor alone, on loopback: UDP port and FastCGI TCP port chosen once, so a
    restart on the same data dir listens where the generator already sends."""

    def __init__(self, data_dir, log_path, options=None):
        self.data_dir = data_dir
        self.log_path = log_path
        self.udp_port = free_port(harness.socket.SOCK_DGRAM)
        self.fcgi_port = free_port()
        self.options = dict({"udp-listen": "127.0.0.1", "flush-ms": "50",
                             "max-span": "3650d", "log-level": "info"}, **(options or {}))
        self.proc = None

    def command(self):
        cmd = [os.path.join(BUILD, "sflow-monitor"), "--data-dir", self.data_dir,
               "--udp-port", str(self.udp_port), "--fcgi-listen", "127.0.0.1:%d" % self.fcgi_port]
        for k, v in self.options.items():
            cmd += ["--" + k, v]
        return cmd

    def start(self):
        log = open(self.log_path, "ab")
        offset = log.tell()
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=log, preexec_fn=harness._die_with_parent)
        log.close()
        wait_until(lambda: " started" in self.log_text()[offset:] or self.proc.poll() is not None,
                   "the service to start")
        if self.proc.poll() is not None:
            raise RuntimeError("the service exited with %d:\n%s" % (self.proc.returncode,
                                                                   self.log_text()[offset:]))
        wait_until(lambda: self.call("collector.stats") is not None, "the API")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def stop(self):
        """SIGTERM; returns the exit status."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=harness.TIMEOUT)
        self.proc = None
        return rc

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def call(self, method, params=None):
        """The result, or raises with the JSON-RPC error."""
        req = {"jsonrpc": "2.0", "method": method, "id": 1}
        if params is not None:
            req["params"] = params
        body = json.dumps(req).encode()
        _, payload = harness.fcgi_request(
            ("127.0.0.1", self.fcgi_port),
            {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": str(len(body)),
             "CONTENT_TYPE": "application/json-rpc", "SCRIPT_NAME": "/sflow-monitor/api"}, body)
        resp = json.loads(payload)
        if "error" in resp:
            raise RuntimeError("%s: %s" % (method, resp["error"]))
        return resp["result"]

    def rss_kib(self):
        return proc_rss_kib(self.proc.pid)


def proc_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M).group(1))


def udp_snmp():
    """The kernel's Udp: counters from /proc/net/snmp, by name."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return dict(zip(rows[0][1:], map(int, rows[1][1:])))


def generator(dest_port, rate, duration, hosts=20, vms=4, extra=()):
    """sflow-gen sending in the background; returns the Popen."""
    cmd = [os.path.join(BUILD, "sflow-gen"), "--hosts", str(hosts), "--vms", str(vms),
           "--rounds", "50", "--dest", "127.0.0.1:%d" % dest_port, "--rate", str(rate),
           "--duration", str(duration)] + list(extra)
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, preexec_fn=harness._die_with_parent)


def stop_process(p):
    if p is not None and p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=harness.TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
