"""The examples of docs/api.md, made by a real run: write them (scripts/api-examples) or check
them (api_examples_test.py, part of `make test`).

A run starts two stacks as the e2e tests do (harness.Stack: nginx, spawn-fcgi, the service):
  - "kvm": every datagram of ../shared/testdata/hsflowd-kvm.pcap (agent 192.0.2.2, VMs web01
    and db01) sent over UDP one at a time, each once the one before is stored and the clock has
    moved on a millisecond, so that every datagram has a receive time of its own and the
    windows of the examples hold the same records in every run;
  - "history": a store filled before the service starts by `bench-fill --history --hosts 1
    --vms 4 --interval-ms 20000 --end-ms 1796676000000` (sflow-gen's fixed traffic, stored at
    fixed times), for the `step` example.
Then each example's request is sent through nginx and its answer kept.

In docs/api.md each example sits between `<!-- example NAME -->` and `<!-- /example -->`: the
curl command, the HTTP status and the answer, indented (numbers exactly as the service wrote
them). Writing replaces what is between the markers of each example that no longer matches
(one that matches keeps its text, so a rewrite changes only what changed); checking parses it
back and compares it with this run's request and answer:
  - exactly, except for what depends on the wall clock in the "kvm" run:
  - receive times and the time of the call (keys `timestamp`, `from`, `to`, `last_seen_ms`,
    `oldest_ms`, in requests and answers; host.node's positional timestamp) are compared by
    shape: each must be an integer, and within one example they must have the same order and
    the same equalities (each distinct value is replaced by its rank: t0 < t1 < ...). The
    "history" example's times come from the input and are compared exactly.
  - what the timing of commits and LMDB's page reuse decide (collector.stats' `uptime_ms`,
    `store_commits`, `store.used_bytes`, `store.map_used_pct`, `store.sample_size_bytes`) is
    compared as "a number".
Everything else (every counter value, rate, percentage, key, key order, record count) must be
what the service answers today.

    python3 test/e2e/api_examples.py --write    # rewrite docs/api.md's examples (BUILD=build)
"""

import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import REPO, Stack, read_pcap, testdata, wait_until  # noqa: E402
from stack import FilledStack  # noqa: E402

API_MD = os.path.join(REPO, "docs", "api.md")
URL = "http://localhost:8080/sflow-monitor/api"
HISTORY_END_MS = 1796676000000
HISTORY_FILL = {"samples": 1000, "hosts": 1, "vms": 4, "interval_ms": 20000, "end_ms": HISTORY_END_MS,
                "fill_args": ["--history"]}  # map-size: the stack's (64)

CLOCK_KEYS = {"timestamp", "from", "to", "last_seen_ms", "oldest_ms"}
MEASURED = {("result",) + p for p in [("uptime_ms",), ("store_commits",), ("store", "used_bytes"),
                                      ("store", "map_used_pct"), ("store", "sample_size_bytes")]}
DISCOVER_CHARS = 600  # rpc.discover is shown by its first characters only


# ---- JSON with numbers kept as the service wrote them ------------------------------------------

class Num(str):
    """A JSON number, as its text."""


class Obj(list):
    """A JSON object, as its (key, value) pairs in order."""


def parse(text):
    return json.loads(text, parse_int=Num, parse_float=Num, parse_constant=Num,
                      object_pairs_hook=Obj)


def dump(v, indent=0):
    """Indented by two spaces, as the examples are shown; numbers as their text."""
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(v, Obj):
        if not v:
            return "{}"
        return "{\n" + ",\n".join(inner + json.dumps(k, ensure_ascii=False) + ": " +
                                  dump(x, indent + 1) for k, x in v) + "\n" + pad + "}"
    if isinstance(v, list):
        if not v:
            return "[]"
        return "[\n" + ",\n".join(inner + dump(x, indent + 1) for x in v) + "\n" + pad + "]"
    if isinstance(v, Num):
        return str(v)
    return json.dumps(v, ensure_ascii=False)


# ---- the examples ----------------------------------------------------------------------------

# name: (stack, method, params); params may be a function of the run's facts (its receive
# times), which the kvm stack learns before the examples are made.
EXAMPLES = [
    ("host.description", "kvm", "host.description", None),
    ("host.cpu", "kvm", "host.cpu", lambda f: {"ip": "192.0.2.2", "timestamp": f["host_first"]}),
    ("host.memory", "kvm", "host.memory", lambda f: {"ip": "192.0.2.2", "timestamp": f["host_first"]}),
    ("host.disk", "kvm", "host.disk", lambda f: {"ip": "192.0.2.2", "timestamp": f["host_first"]}),
    ("host.net", "kvm", "host.net", lambda f: {"ip": "192.0.2.2", "timestamp": f["host_first"]}),
    ("host.node", "kvm", "host.node", lambda f: ["192.0.2.2", f["host_first"]]),
    ("virt.description", "kvm", "virt.description", None),
    ("virt.cpu", "kvm", "virt.cpu", lambda f: {"hostname": "web01", "timestamp": f["web01_first"]}),
    ("virt.memory", "kvm", "virt.memory", lambda f: {"hostname": "web01", "timestamp": f["web01_first"]}),
    ("virt.disk", "kvm", "virt.disk", lambda f: {"hostname": "db01", "timestamp": f["web01_first"]}),
    ("virt.net", "kvm", "virt.net", lambda f: {"hostname": "db01", "timestamp": f["web01_first"]}),
    ("range", "kvm", "host.cpu", lambda f: {"ip": "192.0.2.2", "from": f["host_first"] - 5000,
                                            "to": f["host_first"] + 60000, "limit": 1}),
    ("derive.host.cpu", "kvm", "host.cpu", {"ip": "192.0.2.2", "derive": True, "limit": 2}),
    ("derive.virt.cpu", "kvm", "virt.cpu", {"hostname": "web01", "derive": True, "limit": 2}),
    ("step", "history", "virt.cpu", {"hostname": "vm-001-01", "from": HISTORY_END_MS - 3600000 + 1,
                                     "to": HISTORY_END_MS, "step": "20m", "derive": True}),
    ("cluster.status", "kvm", "cluster.status", None),
    ("cluster.status.filters", "kvm", "cluster.status", {"hosts": ["192.0.2.2"], "include_vms": False}),
    ("host.vms", "kvm", "host.vms", {"ip": "192.0.2.2"}),
    ("virt.history", "kvm", "virt.history", {"hostname": "web01"}),
    ("collector.stats", "kvm", "collector.stats", None),
    ("rpc.discover", "kvm", "rpc.discover", None),
]
NAMES = [e[0] for e in EXAMPLES]
STACK_OF = {e[0]: e[1] for e in EXAMPLES}


def request_text(method, params):
    req = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        req["params"] = params
    req["id"] = 1
    return json.dumps(req)


def stats(stack):
    return stack.result("collector.stats")


def send_one_by_one(stack, datagrams):
    """Each datagram once the one before is stored and the wall clock has passed the
    millisecond in which that was seen stored: every datagram gets a receive time of its own."""
    for i, d in enumerate(datagrams):
        stack.send([d])

        def stored():
            s = stats(stack)
            return s["datagrams_received"] == i + 1 and s["samples_stored"] == s["samples_counter"] and s
        wait_until(stored, "datagram %d to be stored" % (i + 1))
        seen = time.time_ns() // 1000000
        wait_until(lambda: time.time_ns() // 1000000 > seen, "the clock to pass a millisecond",
                   interval=0.0005)


def run():
    """{name: (request text, HTTP status, answer text)} from a fresh run."""
    # the history's samples are stored at fixed past times: a retention that keeps them
    kvm, history = Stack(), FilledStack(**HISTORY_FILL, options={"retention": "36500d"})
    out = {}
    try:
        kvm.start()
        history.start()
        send_one_by_one(kvm, read_pcap(testdata("hsflowd-kvm.pcap")))
        kvm.wait_compacted()  # under compacted_test.py: every example read from chunks
        history.wait_compacted()
        facts = {
            "host_first": kvm.result("host.cpu", {"ip": "192.0.2.2", "limit": 1})[0]["timestamp"],
            "web01_first": kvm.result("virt.cpu", {"hostname": "web01", "limit": 1})[0]["timestamp"],
        }
        for name, which, method, params in EXAMPLES:
            stack = kvm if which == "kvm" else history
            if callable(params):
                params = params(facts)
            req = request_text(method, params)
            status, _, body = stack.http(req.encode())
            out[name] = (req, status, body.decode())
    finally:
        bad = []
        for s in (kvm, history):
            try:
                s.stop()
                bad += s.unexpected_log_lines()
            finally:
                s.cleanup(keep=False)
    assert not bad, "unexpected log lines:\n" + "\n".join(bad)
    return out


# ---- api.md ----------------------------------------------------------------------------------

BLOCK = re.compile(r"(<!-- example (\S+) -->\n)(.*?)(<!-- /example -->)", re.S)


def render(name, req, status, answer):
    curl = ("```\n$ curl -s -X POST -H 'Content-Type: application/json-rpc' \\\n"
            "    -d '%s' \\\n    %s\n```\n\n" % (req, URL))
    if name == "rpc.discover":
        return curl + "HTTP %d, its first %d characters:\n\n```\n%s ...\n```\n" % (
            status, DISCOVER_CHARS, answer[:DISCOVER_CHARS])
    return curl + "HTTP %d:\n\n```json\n%s\n```\n" % (status, dump(parse(answer)))


def blocks(text):
    return {m.group(2): m.group(3) for m in BLOCK.finditer(text)}


def write(results):
    with open(API_MD) as f:
        text = f.read()
    missing = [n for n in NAMES if n not in blocks(text)]
    if missing:
        raise SystemExit("docs/api.md has no markers for: " + ", ".join(missing))
    def block(m):
        name, old = m.group(2), m.group(3)
        try:  # an example that still matches keeps its text (and its times): small diffs
            if canonical(name, *documented(old)) == canonical(name, *results[name]):
                return m.group(0)
        except Exception:
            pass
        return m.group(1) + render(name, *results[name]) + m.group(4)
    text = BLOCK.sub(block, text)
    with open(API_MD, "w") as f:
        f.write(text)


def documented(block):
    """(request text, HTTP status, answer text) as one block of api.md shows them."""
    req = re.search(r"-d '(.*)' \\\n", block).group(1)
    status = int(re.search(r"^HTTP (\d+)", block, re.M).group(1))
    answer = re.search(r"^HTTP \d+[^\n]*:\n\n```(?:json)?\n(.*?)\n```", block, re.S | re.M).group(1)
    return req, status, answer


# ---- comparing -------------------------------------------------------------------------------

def canonical(name, req_text, status, answer_text):
    """The example with what the clock decides replaced (see the module's text)."""
    clock = STACK_OF[name] == "kvm"
    req = parse(req_text)
    if name == "rpc.discover":
        answer = answer_text[:DISCOVER_CHARS]
    else:
        answer = parse(answer_text)
    times = []

    def walk(v, path, mark):
        if isinstance(v, Obj):
            return Obj((k, walk(x, path + (k,), mark or (clock and k in CLOCK_KEYS))) for k, x in v)
        if isinstance(v, list):
            return [walk(x, path, mark) for x in v]
        if name == "collector.stats" and path in MEASURED:
            assert isinstance(v, Num), "%s: %s is not a number: %r" % (name, "/".join(path), v)
            return "<number>"
        if mark:
            assert isinstance(v, Num) and re.fullmatch(r"\d+", v), \
                "%s: %s is not a time in ms: %r" % (name, "/".join(path), v)
            times.append(int(v))
            return ("time", int(v))
        return v

    req = walk(req, (), False)
    params = dict(req).get("params")
    if clock and isinstance(params, list):  # positional: [ip, timestamp]
        for i, x in enumerate(params):
            if isinstance(x, Num):
                times.append(int(x))
                params[i] = ("time", int(x))
    if not isinstance(answer, str):
        answer = walk(answer, (), False)
    rank = {t: "t%d" % i for i, t in enumerate(sorted(set(times)))}

    def ranked(v):
        if isinstance(v, tuple) and v and v[0] == "time":
            return rank[v[1]]
        if isinstance(v, Obj):
            return Obj((k, ranked(x)) for k, x in v)
        if isinstance(v, list):
            return [ranked(x) for x in v]
        return v
    return ranked(req), status, ranked(answer)


def first_difference(a, b, path="$"):
    """Where two canonical values first differ, and how."""
    if isinstance(a, Obj) and isinstance(b, Obj):
        ka, kb = [k for k, _ in a], [k for k, _ in b]
        if ka != kb:
            return "%s: keys %s, answered %s" % (path, ka, kb)
        for (k, x), (_, y) in zip(a, b):
            d = first_difference(x, y, "%s.%s" % (path, k))
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list) and type(a) == type(b):
        if len(a) != len(b):
            return "%s: %d elements, answered %d" % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, "%s[%d]" % (path, i))
            if d:
                return d
        return None
    return None if a == b else "%s: %s, answered %s" % (path, json.dumps(a)[:300], json.dumps(b)[:300])


def differences(results, text):
    """What in api.md's examples differs from this run (empty: they match)."""
    shown = blocks(text)
    out = []
    for name in NAMES:
        if name == "collector.stats" and os.environ.get("SFM_E2E_COMPACT_AFTER"):
            continue  # its compaction counters say what compaction did: on compacted data they differ
        if name not in shown:
            out.append("%s: no `<!-- example %s -->` block in docs/api.md" % (name, name))
            continue
        try:
            doc = canonical(name, *documented(shown[name]))
        except Exception as e:  # an example edited by hand so that it no longer parses
            out.append("%s: the documented example does not parse: %r" % (name, e))
            continue
        now = canonical(name, *results[name])
        for what, a, b in zip(("request", "HTTP status", "answer"), doc, now):
            d = first_difference(a, b)
            if d:
                out.append("%s: the documented %s differs from the service's at %s" % (name, what, d))
    for name in shown:
        if name not in NAMES:
            out.append("%s: a block in docs/api.md that no example makes" % name)
    return out


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit(__doc__)
    write(run())
    print("rewrote the examples in %s" % os.path.relpath(API_MD))
