"""Bounded cost per request (issue 16), through nginx, on a store of 1,000 hosts × 30 VMs
(bench-fill, three polling rounds): the 1,400-call batch, a reply-limit breach and a deadline
breach each get their documented error (docs/api.md, Errors) within a second; the service's
RSS stays under 300 MB throughout, and a light client asking host.cpu all along keeps getting
answers. max-batch and heavy-calls keep their defaults; reply-limit (1M) and request-timeout
(500ms) are small so that breaching them is cheap."""

import json
import os
import subprocess
import threading
import time

from harness import BUILD, Stack, Suite

HOSTS, VMS, ROUNDS, INTERVAL_MS = 1000, 30, 3, 20000
RSS_LIMIT_KIB = 300 * 1024
LIGHT_HOST = "10.0.0.1"  # bench-fill's (sflow-gen's) first agent
# The ASan/UBSan build (make SANITIZE=1 test) runs several times slower: there the deadline is
# 1 s (the reply-limit breach, a 30,000-VM walk from the current state, takes ~20 ms there, so
# it still comes first; the deadline batch takes ~2 s there, ~1.9 s on a compacted store, which
# a 2 s deadline did not cut), and answers may take 3 s. The release build (make test) is held
# to the 500 ms and 1 s.
# ASan also keeps freed memory in a quarantine (256 MB by default), which would count in the
# service's RSS: here it is kept to 16 MB, so that the 300 MB bound means the same in both.
SLOW = os.path.basename(os.path.normpath(BUILD)) == "asan"
TIMEOUT_MS = 1000 if SLOW else 500
WITHIN_S = 3.0 if SLOW else 1.0
if SLOW:
    os.environ["ASAN_OPTIONS"] = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"),
                                                        "quarantine_size_mb=16"]))


class FilledStack(Stack):
    """The harness's stack on a store filled by bench-fill before the service starts."""

    def start_service(self):
        if self.service is None and not os.path.exists(self.data_dir):
            self.end_ms = int(time.time() * 1000)
            subprocess.run([os.path.join(BUILD, "bench-fill"), "--dir", self.data_dir,
                            "--samples", str(HOSTS * (VMS + 1) * ROUNDS), "--hosts", str(HOSTS),
                            "--vms", str(VMS), "--interval-ms", str(INTERVAL_MS),
                            "--end-ms", str(self.end_ms), "--map-size", "1024"],
                           check=True, stdout=subprocess.DEVNULL)
        super().start_service()


suite = Suite()
stack = FilledStack(options={"map-size": "1024", "reply-limit": "1M", "request-timeout": "%dms" % TIMEOUT_MS})
suite.stacks.append(stack)


def rss_kib():
    with open("/proc/%d/status" % stack.service.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


class Watch:
    """While active: the service's peak RSS (every 20 ms) and a light client's host.cpu calls,
    one after another, each recorded with its outcome and latency."""

    def __init__(self):
        self.stop = threading.Event()
        self.peak = 0
        self.light = []  # (seconds, ok)
        self.threads = [threading.Thread(target=self.rss), threading.Thread(target=self.client)]

    def rss(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_kib())
            self.stop.wait(0.02)

    def client(self):
        params = {"ip": LIGHT_HOST, "timestamp": stack.end_ms}
        while not self.stop.is_set():
            t = time.monotonic()
            try:
                status, resp, _ = stack.call("host.cpu", params)
                ok = status == 200 and len(resp.get("result", [])) > 0
            except Exception:
                ok = False
            self.light.append((time.monotonic() - t, ok))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()
        assert self.peak < RSS_LIMIT_KIB, "service RSS peaked at %d KiB" % self.peak
        assert self.light, "the light client made no call"
        failed = [x for x in self.light if not x[1]]
        assert not failed, "%d of %d light calls failed" % (len(failed), len(self.light))


def post(body):
    """(seconds, decoded reply) of one POST through nginx."""
    t = time.monotonic()
    status, _, text = stack.http(body.encode() if isinstance(body, str) else body)
    took = time.monotonic() - t
    assert status == 200, "HTTP %d: %r" % (status, text[:300])
    return took, json.loads(text)


def note(what, took, w):
    worst = max(t for t, _ in w.light)
    print("  %s: %.3f s; service RSS peak %d KiB; light client: %d calls, slowest %.1f ms" % (
        what, took, w.peak, len(w.light), 1000 * worst))


def refused(reason):
    return stack.result("collector.stats")["requests_refused"][reason]


@suite.test
def the_store_holds_1000_hosts_and_30000_vms():
    stack.wait_compacted()  # under compacted_test.py: the light client's host.cpu reads chunks
    st = stack.result("collector.stats")["store"]
    assert st["entities"] == HOSTS * (VMS + 1), st
    assert len(stack.result("host.description")) == HOSTS


@suite.test
def the_1400_call_batch_is_refused_whole_within_a_second_with_rss_unchanged():
    # 500 calls with an id and 900 notifications: 1,400 cluster.status calls in 64 KB
    calls = [{"jsonrpc": "2.0", "method": "cluster.status", "id": 1}] * 500 + \
            [{"jsonrpc": "2.0", "method": "cluster.status"}] * 900
    body = json.dumps(calls, separators=(",", ":"))
    assert len(body) <= 65536, len(body)
    before_count, before_rss = refused("batch_too_long"), rss_kib()
    with Watch() as w:
        took, resp = post(body)
    note("1,400-call batch refused", took, w)
    assert isinstance(resp, dict), "one error for the whole batch, not %d answers" % len(resp)
    assert resp["error"]["code"] == -32600, resp
    assert resp["error"]["data"]["max_batch"] == 100, resp
    assert took < WITHIN_S, "refused after %.2f s" % took
    assert refused("batch_too_long") == before_count + 1
    assert rss_kib() - before_rss < 5 * 1024, "RSS %d -> %d KiB" % (before_rss, rss_kib())
    assert w.peak < before_rss + 5 * 1024, "RSS peaked at %d KiB (from %d)" % (w.peak, before_rss)


@suite.test
def a_reply_past_reply_limit_gets_32001_and_the_calls_before_it_keep_their_answers():
    # virt.description lists 30,000 VMs: about 1.5 MB, over the 1 MiB limit
    calls = [{"jsonrpc": "2.0", "method": "host.cpu", "params": {"ip": LIGHT_HOST}, "id": 1},
             {"jsonrpc": "2.0", "method": "virt.description", "id": 2},
             {"jsonrpc": "2.0", "method": "collector.stats", "id": 3}]
    before = refused("reply_limit")
    with Watch() as w:
        took, resp = post(json.dumps(calls))
    note("reply-limit breach", took, w)
    assert [r["id"] for r in resp] == [1, 2, 3], resp
    assert "result" in resp[0], resp[0]
    for r in resp[1:]:
        assert r["error"]["code"] == -32001, r
        assert r["error"]["data"]["reply_limit_bytes"] == 1 << 20, r
    assert "hint" in resp[1]["error"]["data"]
    assert took < WITHIN_S, "answered after %.2f s" % took
    assert refused("reply_limit") == before + 1


@suite.test
def a_batch_past_request_timeout_gets_32002_within_a_second():
    # a hundred calls share one deadline (500 ms), each walking the whole store with a small
    # answer: cluster.status of the crashed hosts and VMs (none) reads all 31,000 from memory,
    # collector.stats finds the oldest sample of each in the store
    calls = [{"jsonrpc": "2.0", "method": "cluster.status", "params": {"state": "crashed"}, "id": i} if i % 2 else
             {"jsonrpc": "2.0", "method": "collector.stats", "id": i} for i in range(100)]
    before = refused("timeout")
    with Watch() as w:
        took, resp = post(json.dumps(calls))
    note("deadline breach", took, w)
    assert len(resp) == 100
    codes = [r["error"]["code"] if "error" in r else 0 for r in resp]
    assert -32002 in codes, codes
    first = codes.index(-32002)
    assert all(c == 0 for c in codes[:first]) and all(c == -32002 for c in codes[first:]), codes
    assert resp[first]["error"]["data"]["request_timeout_ms"] == TIMEOUT_MS
    assert took < WITHIN_S, "answered after %.2f s" % took
    assert refused("timeout") == before + 1


@suite.test
def each_refusal_is_one_warn_line_naming_the_client_and_the_limit():
    log = stack.service_log_text()
    for reason in ("batch_too_long", "reply_limit", "timeout"):
        lines = [l for l in log.splitlines() if "refused (%s)" % reason in l]
        assert len(lines) == 1, (reason, lines)
        assert " warn: request from 127.0.0.1 refused" in lines[0], lines[0]


suite.run()
