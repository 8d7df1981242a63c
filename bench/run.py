#!/usr/bin/python3
"""`make bench`: ingest and query throughput of sflow-monitor, each figure as a ratio to a
ceiling measured on this machine in the same run (docs/performance.md says what each means).

  1. ingest   sflow-gen → the service over loopback at stepped rates; ceiling: the same sender
              → build/bench-udp-sink (a recvmmsg loop that only counts).
  2. query    wrk → nginx → the service, host.cpu over a full 10-minute window (20 records),
              with a store of about 1 million and of BENCH_SAMPLES samples (filled beforehand
              by build/bench-fill); ceiling: the same wrk → the same nginx config →
              build/bench-fcgi-echo returning a body of the same size.
  3. query while ingesting at 20% of the highest lossless rate.
  4. service RSS before and after BENCH_RSS_REQUESTS requests; bytes on disk per sample.
  5. fair share (issue 16): on a store of 1,000 hosts × 30 VMs, a light client (wrk -c1,
     host.cpu of 20 records) alone, then while 4 clients (wrk -c4) hammer cluster.status;
     `bench/run.py --fair-share` (make bench-fair) runs this row alone and prints it.

Prints one table and rewrites the part of docs/performance.md between its bench markers.
The stacks (nginx + spawn-fcgi + service, or + the echo responder) are test/e2e/harness.py's,
on free loopback ports under temporary directories; everything started is stopped by PID.

Environment (defaults in brackets):
  BENCH_RATES          datagrams/s steps [25000,50000,75000,100000,125000,150000,200000]
  BENCH_STEP_S         seconds per ingest step and per wrk run [10]
  BENCH_SAMPLES        samples in the large store [10000000]; 50000000 as in issue 4
  BENCH_RSS_REQUESTS   requests between the two RSS readings [1000000]
  BENCH_CONNECTIONS    wrk connections [50]
  BENCH_QUERY_ROUNDS   wrk runs of the service and of the echo, alternated, per store [3]
  BENCH_FAIR_S         seconds of each fair-share run [BENCH_STEP_S]
  BENCH_DOC            the file to update [docs/performance.md]; "-" for none
Every run also saves its figures to $BUILD/bench-results.json;
`bench/run.py --report FILE` prints (and writes into BENCH_DOC) the table from such a file.
"""

import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "test", "e2e"))
from harness import BUILD, Stack, free_port, wait_until  # noqa: E402

RATES = [int(r) for r in os.environ.get("BENCH_RATES", "25000,50000,75000,100000,125000,150000,200000").split(",")]
STEP_S = float(os.environ.get("BENCH_STEP_S", "10"))
LARGE = int(os.environ.get("BENCH_SAMPLES", "10000000"))
SMALL = 1000000
RSS_REQUESTS = int(os.environ.get("BENCH_RSS_REQUESTS", "1000000"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "50"))
QUERY_ROUNDS = max(1, int(os.environ.get("BENCH_QUERY_ROUNDS", "3")))
DOC = os.environ.get("BENCH_DOC", os.path.join(REPO, "docs", "performance.md"))
LUA = os.path.join(REPO, "bench", "query.lua")

HOSTS, VMS, INTERVAL_MS = 100, 10, 30000  # the fill: 20 rounds in a 10-minute window
GEN_MIX = ["--hosts", str(HOSTS), "--vms", str(VMS), "--rounds", "20", "--interval", str(INTERVAL_MS)]
QUERY_HOST = "10.0.0.1"  # sflow-gen's first agent
WORKERS = os.environ.get("BENCH_WORKERS", "4")  # the service's and the echo responder's in the query rows
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def tool(name):
    return os.path.join(BUILD, name)


def log(text):
    print("bench: " + text, file=sys.stderr, flush=True)


# ---- machine ---------------------------------------------------------------------------------

def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def udp_snmp():
    """The kernel's UDP counters: {'InErrors': n, 'RcvbufErrors': n, ...} (system-wide)."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return dict(zip(rows[0][1:], map(int, rows[1][1:])))


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def cpu_times():
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
    return sum(v) - idle, sum(v)


def sectors_written():
    with open("/proc/diskstats") as f:
        return sum(int(line.split()[9]) for line in f if len(line.split()) > 9)


def settle_disk():
    """Writes back what earlier phases left dirty in the page cache (gigabytes after the
    ingest steps and the fills), then waits until the disks have written nothing for a
    second (the filesystem frees a deleted store's extents after the files are gone), so
    that no phase pays for the one before it."""
    t = time.monotonic()
    os.sync()
    last = {"n": sectors_written(), "since": time.monotonic()}

    def quiet():
        n = sectors_written()
        if n != last["n"]:
            last["n"], last["since"] = n, time.monotonic()
        return time.monotonic() - last["since"] >= 1.0
    cpu = {"last": cpu_times()}

    def idle():  # and the CPUs: the kernel frees a deleted store's memory in the background
        now = cpu_times()
        busy, total = now[0] - cpu["last"][0], now[1] - cpu["last"][1]
        cpu["last"] = now
        return total > 0 and busy <= 0.05 * total
    try:
        wait_until(quiet, "the disks to go quiet", timeout=60, interval=0.2)
        cpu["last"] = cpu_times()
        wait_until(idle, "the CPUs to go idle", timeout=120, interval=1.0)
    except AssertionError as e:
        log("  %s" % e)
    if time.monotonic() - t > 2:
        log("  (writeback: %.1f s)" % (time.monotonic() - t))


def du_bytes(path):
    return int(subprocess.check_output(["du", "-sb", path]).split()[0])


# ---- stacks ----------------------------------------------------------------------------------

class ServiceStack(Stack):
    """The harness's stack with production-like options; optionally a store filled first."""

    def __init__(self, map_mib, fill_samples=0, fill_end_ms=0, hosts=HOSTS, vms=VMS):
        super().__init__(options={"flush-ms": "1000", "map-size": str(map_mib), "retention": "3650d",
                                  "workers": WORKERS, **({"backlog": os.environ["BENCH_BACKLOG"]} if os.environ.get("BENCH_BACKLOG") else {})})
        self.map_mib, self.fill_samples, self.fill_end_ms = map_mib, fill_samples, fill_end_ms
        self.hosts, self.vms = hosts, vms
        self.fill_line = ""

    def start_service(self):
        if self.fill_samples and self.service is None and not os.path.exists(self.data_dir):
            cmd = [tool("bench-fill"), "--dir", self.data_dir, "--samples", str(self.fill_samples),
                   "--hosts", str(self.hosts), "--vms", str(self.vms), "--interval-ms", str(INTERVAL_MS),
                   "--end-ms", str(self.fill_end_ms), "--map-size", str(self.map_mib)]
            log(" ".join(cmd[1:]))
            self.fill_line = subprocess.check_output(cmd, text=True).strip()
            log(self.fill_line)
        super().start_service()

    def pid(self):
        pid = self.service.pid  # spawn-fcgi -n execs the service in its own process
        with open("/proc/%d/comm" % pid) as f:
            assert f.read().strip() == "sflow-monitor", "pid %d is not the service" % pid
        return pid

    def stats(self):
        return self.result("collector.stats")


class EchoStack(Stack):
    """The same nginx and spawn-fcgi, with bench-fcgi-echo in the service's place."""

    def __init__(self, body_bytes):
        super().__init__()
        self.body_bytes = body_bytes

    def service_command(self):
        return [tool("bench-fcgi-echo"), "--bytes", str(self.body_bytes), "--workers", WORKERS]


def started(make, attempts=3):
    """make() → a Stack, started; a start that fails (e.g. a free port taken meanwhile by
    another process) is retried on new ports."""
    for attempt in range(attempts):
        stack = make()
        try:
            stack.start()
            return stack
        except BaseException as e:
            try:
                stack.stop()
            except Exception:
                pass
            stack.cleanup(keep=False)
            if attempt + 1 == attempts or not isinstance(e, AssertionError):
                raise
            log("start failed, retrying: %s" % str(e).splitlines()[-1])


def finished(stack):
    try:
        stack.stop()
        bad = stack.unexpected_log_lines()
        if bad:
            log("unexpected log lines:\n  " + "\n  ".join(bad))
    finally:
        stack.cleanup(keep=False)


# ---- ingest ----------------------------------------------------------------------------------

def gen_command(rate, port, seconds):
    return [tool("sflow-gen")] + GEN_MIX + ["--rate", str(rate), "--duration", str(seconds),
                                            "--dest", "127.0.0.1:%d" % port]


def parse_gen(stderr):
    m = re.search(r"sent (\d+) datagrams in ([\d.]+) s", stderr)
    if not m:
        raise AssertionError("sflow-gen said: " + stderr)
    return int(m.group(1)), float(m.group(2))


def send(rate, port, seconds=None):
    out = subprocess.run(gen_command(rate, port, seconds or STEP_S), stderr=subprocess.PIPE,
                         text=True, check=True)
    return parse_gen(out.stderr)


def snmp_delta(before):
    after = udp_snmp()
    return {k: after[k] - before[k] for k in ("InErrors", "RcvbufErrors")}


def sink_step(rate):
    sink = subprocess.Popen([tool("bench-udp-sink"), "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(re.search(r"port (\d+)", sink.stdout.readline()).group(1))
        snmp = udp_snmp()
        sent, secs = send(rate, port)
    finally:
        sink.send_signal(signal.SIGTERM)
        out, _ = sink.communicate(timeout=30)
    m = re.search(r"received (\d+) datagrams \d+ bytes kernel_drops (\d+)", out)
    received, drops = int(m.group(1)), int(m.group(2))
    return {"rate": rate, "sent": sent, "secs": secs, "received": received, "kernel_drops": drops,
            "snmp": snmp_delta(snmp)}


def settle(stack, s0, sent, what):
    """Waits until the service has taken in `sent` datagrams (received, or dropped by the
    kernel) and stored every sample it decoded. The kernel's drop count reaches the service
    only with a datagram received after the drops, so once the counts stand still for a second
    one probe datagram (a single byte: counted as received and malformed) is sent, and not
    counted here."""
    last = {"n": -1, "since": time.monotonic()}

    def taken_in():
        s = stack.stats()
        got = s["datagrams_received"] - s0["datagrams_received"]
        arrived = got + s["kernel_drops"] - s0["kernel_drops"]
        stored_all = s["samples_stored"] + s["samples_ignored"] >= s["samples_counter"]
        if got != last["n"]:
            last["n"], last["since"] = got, time.monotonic()
        quiet = time.monotonic() - last["since"] > 1.0
        return s if stored_all and (arrived >= sent or quiet) else None
    try:
        wait_until(taken_in, what, timeout=120, interval=0.2)
    except AssertionError as e:
        log(str(e))
    before = stack.stats()["datagrams_received"]
    stack.send([b"\0"])
    wait_until(lambda: stack.stats()["datagrams_received"] > before, "the probe datagram")
    wait_until(taken_in, what, timeout=60, interval=0.2)
    s1 = stack.stats()
    s1["datagrams_received"] -= 1
    return s1


def service_step(stack, rate):
    settle_disk()
    s0 = stack.stats()
    snmp = udp_snmp()
    sent, secs = send(rate, stack.udp_port)
    s1 = settle(stack, s0, sent, "the service to take in step %d/s" % rate)
    return {"rate": rate, "sent": sent, "secs": secs,
            "received": s1["datagrams_received"] - s0["datagrams_received"],
            "kernel_drops": s1["kernel_drops"] - s0["kernel_drops"],
            "decoded_samples": s1["samples_counter"] - s0["samples_counter"],
            "stored": s1["samples_stored"] - s0["samples_stored"],
            "in_store": s1["store"]["samples"] - s0["store"]["samples"],
            "pauses": s1["receiver_pauses"] - s0["receiver_pauses"],
            "snmp": snmp_delta(snmp)}


def lossless(step):
    return (step["received"] == step["sent"] and step["kernel_drops"] == 0 and
            step.get("stored", 0) == step.get("decoded_samples", 0) and
            step.get("in_store", 0) == step.get("stored", 0))


# ---- query -----------------------------------------------------------------------------------

def query_body(timestamp):
    return json.dumps({"jsonrpc": "2.0", "method": "host.cpu",
                       "params": {"ip": QUERY_HOST, "timestamp": timestamp}, "id": 1},
                      separators=(",", ":"))


def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    v, unit = float(m.group(1)), m.group(2)
    return v * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def wrk(stack, body, seconds=None):
    """wrk → nginx: {'rps', 'p50', 'p99' (ms), 'requests', 'errors', 'cpu_us': CPU time of the
    responder (the service or the echo) per request}."""
    pid = stack.service.pid
    cpu0 = cpu_seconds(pid)
    cmd = ["wrk", "-t2", "-c%d" % CONNECTIONS, "-d%ds" % round(seconds or STEP_S), "--latency",
           "-s", LUA, stack.url()]
    out = subprocess.run(cmd, env=dict(os.environ, BENCH_BODY=body), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, check=True).stdout
    res = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
           "p50": to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
           "p99": to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
           "requests": int(re.search(r"(\d+) requests in", out).group(1))}
    res["cpu_us"] = 1e6 * (cpu_seconds(pid) - cpu0) / max(res["requests"], 1)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    res["errors"] = (int(bad.group(1)) if bad else 0)
    res["socket_errors"] = errs.group(1) if errs else ""
    return res


def median_run(runs):
    """Each figure's median over the rounds (requests and errors: summed)."""
    def med(xs):
        xs = sorted(xs)
        n = len(xs)
        return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2
    out = {k: med([r[k] for r in runs]) for k in ("rps", "p50", "p99", "cpu_us")}
    out["requests"] = sum(r["requests"] for r in runs)
    out["errors"] = sum(r["errors"] for r in runs)
    out["socket_errors"] = "; ".join(r["socket_errors"] for r in runs if r["socket_errors"])
    return out


def reply_bytes(stack, body):
    status, _, payload = stack.http(body.encode())
    records = json.loads(payload)["result"]
    assert status == 200 and len(records) == 20, "host.cpu gave %d records, not 20" % len(records)
    return len(payload)


def store_figures(stack, samples_hint):
    st = stack.stats()["store"]
    disk = du_bytes(stack.data_dir)
    return {"samples": st["samples"], "disk": disk, "per_sample": disk / max(st["samples"], 1)}


def query_phase(samples, body, end_ms, with_rss_and_ingest, ingest_rate):
    """One filled store: wrk on the service, then at once on the echo responder (the ceiling,
    its own nginx and spawn-fcgi on other ports, started beforehand), so that both face the
    same machine; then, on the service, the RSS run and the query under ingest."""
    out = {"samples_asked": samples}
    map_mib = max(1024, samples * 1200 // (1 << 20))
    stack = started(lambda: ServiceStack(map_mib, samples, end_ms))
    try:
        out["fill"] = stack.fill_line
        out["store"] = store_figures(stack, samples)
        out["bytes"] = reply_bytes(stack, body)
        echo = started(lambda: EchoStack(out["bytes"]))
        try:
            assert len(echo.http(body.encode())[2]) == out["bytes"], "echo body size"
            settle_disk()
            wrk(stack, body, 2)  # warm-ups
            wrk(echo, body, 2)
            # service and echo alternate, so that a slow moment of the machine falls on one
            # round of one of them, and the medians below leave it out
            out["query_rounds"], out["ceiling_rounds"] = [], []
            for _ in range(QUERY_ROUNDS):
                out["query_rounds"].append(wrk(stack, body))
                out["ceiling_rounds"].append(wrk(echo, body))
            out["query"] = median_run(out["query_rounds"])
            out["ceiling"] = median_run(out["ceiling_rounds"])
        finally:
            finished(echo)
        if with_rss_and_ingest:
            pid = stack.pid()
            out["rss_before"] = rss_kib(pid)
            done = 0
            while done < RSS_REQUESTS:
                secs = max(2, min(120, (RSS_REQUESTS - done) / max(out["query"]["rps"], 1) + 1))
                done += wrk(stack, body, secs)["requests"]
            out["rss_requests"] = done
            out["rss_after"] = rss_kib(pid)
            # the query load while ingesting at 20% of the highest lossless rate
            s0 = stack.stats()
            gen = subprocess.Popen(gen_command(ingest_rate, stack.udp_port, STEP_S + 2),
                                   stderr=subprocess.PIPE, text=True)
            try:
                time.sleep(1)  # let the sender reach its rate before wrk starts
                out["under_ingest"] = wrk(stack, body)
            finally:
                _, err = gen.communicate(timeout=60)
            sent, _ = parse_gen(err)
            s1 = settle(stack, s0, sent, "the ingest under query load")
            out["under_ingest"].update(rate=ingest_rate, sent=sent,
                                       received=s1["datagrams_received"] - s0["datagrams_received"],
                                       kernel_drops=s1["kernel_drops"] - s0["kernel_drops"])
    finally:
        finished(stack)
    return out


# ---- fair share (issue 16) -------------------------------------------------------------------

FAIR_HOSTS, FAIR_VMS, FAIR_ROUNDS = 1000, 30, 20  # 20 rounds 30 s apart: host.cpu has 20 records
FAIR_S = float(os.environ.get("BENCH_FAIR_S", str(STEP_S)))
FAIR_HEAVY = 4


def wrk_light_and_heavy(stack, light_body, heavy_body, seconds, heavy_clients):
    """wrk -c1 with light_body, and (when heavy_clients) wrk -c<heavy_clients> with heavy_body
    at the same time; returns (light figures, heavy figures or None)."""
    def cmd(conns, secs):
        return ["wrk", "-t1", "-c%d" % conns, "-d%ds" % secs, "--latency", "-s", LUA, stack.url()]
    heavy = None
    if heavy_clients:
        heavy = subprocess.Popen(cmd(heavy_clients, round(seconds) + 2),
                                 env=dict(os.environ, BENCH_BODY=heavy_body),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(1)  # the heavy clients are at it before the light one starts
    try:
        light = subprocess.run(cmd(1, round(seconds)), env=dict(os.environ, BENCH_BODY=light_body),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=True).stdout
    finally:
        heavy_out = heavy.communicate(timeout=seconds + 60)[0] if heavy else None

    def figures(out):
        return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
                "p50": to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
                "p99": to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
                "requests": int(re.search(r"(\d+) requests in", out).group(1))}
    return figures(light), (figures(heavy_out) if heavy_out else None)


def fair_share_phase(settle=True):
    """The light client's latency alone and while FAIR_HEAVY clients hammer cluster.status, with
    the service's own workers and heavy-calls (BENCH_FAIR_WORKERS, BENCH_HEAVY_CALLS to try
    others); settle=False skips waiting for an idle machine (make bench-fair)."""
    end_ms = int(time.time() * 1000) // 1000 * 1000
    samples = FAIR_HOSTS * (FAIR_VMS + 1) * FAIR_ROUNDS
    def make():
        st = ServiceStack(max(1024, samples * 1500 // (1 << 20)), samples, end_ms, FAIR_HOSTS, FAIR_VMS)
        st.options.pop("workers")
        for env, opt in (("BENCH_FAIR_WORKERS", "workers"), ("BENCH_HEAVY_CALLS", "heavy-calls")):
            if os.environ.get(env):
                st.options[opt] = os.environ[env]
        return st
    stack = started(make)
    out = {"hosts": FAIR_HOSTS, "vms": FAIR_VMS, "heavy_clients": FAIR_HEAVY, "seconds": FAIR_S,
           "heavy_calls": stack.options.get("heavy-calls", "1 (default)"),
           "workers": stack.options.get("workers", "8 (default)")}
    try:
        out["fill"] = stack.fill_line
        light = query_body(end_ms)
        heavy = json.dumps({"jsonrpc": "2.0", "method": "cluster.status", "id": 1})
        out["light_bytes"] = reply_bytes(stack, light)
        t = time.monotonic()
        status, _, payload = stack.http(heavy.encode())
        out["heavy_ms"] = 1000 * (time.monotonic() - t)
        out["heavy_bytes"] = len(payload)
        if settle:
            settle_disk()
        else:
            os.sync()
        wrk_light_and_heavy(stack, light, heavy, 2, 0)  # warm-up
        out["alone"], _ = wrk_light_and_heavy(stack, light, heavy, FAIR_S, 0)
        s0 = stack.stats()["requests_refused"]
        out["loaded"], out["heavy"] = wrk_light_and_heavy(stack, light, heavy, FAIR_S, FAIR_HEAVY)
        s1 = stack.stats()["requests_refused"]
        out["busy"] = s1["busy"] - s0["busy"]
        out["timeout"] = s1["timeout"] - s0["timeout"]
    finally:
        finished(stack)
    return out


def fair_rows(f):
    L = ["**Fair share** (issue 16): a light client (wrk -t1 -c1, host.cpu of 20 records, "
         "%d-byte reply) alone, then while %d clients (wrk -t1 -c%d) hammer cluster.status "
         "(%d-byte reply, %.0f ms alone) on a store of %d hosts × %d VMs; %g s each; "
         "workers %s, heavy-calls %s" % (
             f["light_bytes"], f["heavy_clients"], f["heavy_clients"], f["heavy_bytes"], f["heavy_ms"],
             f["hosts"], f["vms"], f["seconds"], f["workers"], f["heavy_calls"]), ""]
    L.append("| light client | requests/s | p50 ms | p99 ms | cluster.status answered /s | "
             "refused busy (-32003) | timed out |")
    L.append("|---|---:|---:|---:|---:|---:|---:|")
    a, l, h = f["alone"], f["loaded"], f["heavy"]
    L.append("| alone | %.0f | %.2f | %.2f | - | - | - |" % (a["rps"], a["p50"], a["p99"]))
    answered = (h["requests"] - f["busy"] - f["timeout"]) / max(f["seconds"], 1)
    L.append("| %d clients hammering cluster.status | %.0f | %.2f | %.2f | %.1f | %d of %d | %d |" % (
        f["heavy_clients"], l["rps"], l["p50"], l["p99"], answered, f["busy"], h["requests"], f["timeout"]))
    return L


def fair_goal(f):
    p99 = f["loaded"]["p99"]
    return ("host.cpu p99 <= 10 ms while %d clients hammer cluster.status (issue 16)" % f["heavy_clients"],
            p99 <= 10, "%.2f ms" % p99)


# ---- report ----------------------------------------------------------------------------------

def pct(a, b):
    return "%.0f%%" % (100.0 * a / b) if b else "n/a"


def report(r):
    L = []
    L.append("Machine: %d CPUs, %s; %s; load average %s at the start, %s at the end." % (
        os.cpu_count(), r["cpu"], r["date"], r["load_start"], r["load_end"]))
    L.append("Command: `%s` (%.0f s). Mix: sflow-gen %s (%.2f samples per datagram)." % (
        r["command"], r["elapsed"], " ".join(GEN_MIX), r["samples_per_datagram"]))
    L.append("")
    L.append("**Ingest** (%g s per step; ceiling: bench-udp-sink fed by the same sender)" % STEP_S)
    L.append("")
    L.append("| rate asked /s | sink: sent (/s) | sink: received | service: sent (/s) | service: received | "
             "received / ceiling | kernel_drops | Udp InErrors / RcvbufErrors (system) | "
             "samples decoded | stored (stats) | stored (store) | receiver pauses | lossless |")
    L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|")
    for c, s in zip(r["sink"], r["service"]):
        L.append("| %d | %d (%.0f) | %d | %d (%.0f) | %d | %s | %d | %d / %d | %d | %d | %d | %s | %s |" % (
            s["rate"], c["sent"], c["sent"] / c["secs"], c["received"], s["sent"], s["sent"] / s["secs"],
            s["received"],
            pct(s["received"] / s["sent"], c["received"] / c["sent"]), s["kernel_drops"],
            s["snmp"]["InErrors"], s["snmp"]["RcvbufErrors"], s["decoded_samples"], s["stored"],
            s["in_store"], s.get("pauses", "-"), "yes" if lossless(s) else "no"))
    L.append("")
    L.append("Highest lossless rate: service %s; ceiling (sink) %s." % tuple(
        "%d datagrams/s" % r[k] if r[k] else "none of the steps" for k in ("lossless_service", "lossless_sink")))
    L.append("")
    rounds = len(r["small"].get("query_rounds", [])) or 1
    L.append("**Query** host.cpu, 20 records (%d-byte reply), wrk -t2 -c%d -d%gs through nginx; "
             "ceiling: bench-fcgi-echo with a %d-byte body behind the same nginx config; %s" % (
                 r["small"]["bytes"], CONNECTIONS, STEP_S, r["small"]["bytes"],
                 "one run of each" if rounds == 1 else
                 "%d runs of each, alternated; figures are medians over the runs" % rounds))
    L.append("")
    L.append("| store | requests/s | of ceiling | p50 ms | p99 ms | ceiling requests/s | "
             "ceiling p50 / p99 ms | responder CPU µs/request (service / echo) | non-2xx | "
             "each round: of ceiling; p99 ms service / echo |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")

    def qrow(name, q, c, ph=None):
        rounds = "-"
        if ph and ph.get("query_rounds"):
            pairs = list(zip(ph["query_rounds"], ph["ceiling_rounds"]))
            rounds = "%s; %s" % (" ".join(pct(a["rps"], b["rps"]) for a, b in pairs),
                                 " ".join("%.1f/%.1f" % (a["p99"], b["p99"]) for a, b in pairs))
        L.append("| %s | %.0f | %s | %.2f | %.2f | %.0f | %.2f / %.2f | %.0f / %.0f | %d | %s |" % (
            name, q["rps"], pct(q["rps"], c["rps"]), q["p50"], q["p99"], c["rps"], c["p50"], c["p99"],
            q["cpu_us"], c["cpu_us"], q["errors"], rounds))
    sm, lg = r["small"], r["large"]
    qrow("%d samples" % sm["store"]["samples"], sm["query"], sm["ceiling"], sm)
    ui = sm["under_ingest"]
    qrow("%d samples, ingesting %d datagrams/s" % (sm["store"]["samples"], ui["rate"]), ui, sm["ceiling"])
    if lg:
        qrow("%d samples" % lg["store"]["samples"], lg["query"], lg["ceiling"], lg)
    L.append("")
    L.append("While queried, the ingest at %d datagrams/s received %d of %d datagrams sent "
             "(kernel_drops %d)." % (ui["rate"], ui["received"], ui["sent"], ui["kernel_drops"]))
    if lg:
        L.append("Large store vs 1M: requests/s %s (as a share of each one's own ceiling: %s vs %s)." % (
            pct(lg["query"]["rps"], sm["query"]["rps"]), pct(lg["query"]["rps"], lg["ceiling"]["rps"]),
            pct(sm["query"]["rps"], sm["ceiling"]["rps"])))
    L.append("")
    if r.get("fair"):
        L.extend(fair_rows(r["fair"]))
        L.append("")
    L.append("**Memory and disk**")
    L.append("")
    L.append("- Service RSS %d KiB before and %d KiB after %d requests: %+d KiB." % (
        sm["rss_before"], sm["rss_after"], sm["rss_requests"], sm["rss_after"] - sm["rss_before"]))
    for name, ph in (("filled", sm), ("filled", lg)):
        if ph:
            st = ph["store"]
            L.append("- Store %s by bench-fill: %d samples, %d bytes on disk (du -sb), %.0f bytes per sample."
                     % (name, st["samples"], st["disk"], st["per_sample"]))
    ig = r["ingest_store"]
    L.append("- Store written by the ingest steps: %d samples, %d bytes, %.0f bytes per sample." % (
        ig["samples"], ig["disk"], ig["per_sample"]))
    L.append("")
    L.append("**Goals** (issue 4; the fair-share row: issue 16)")
    L.append("")
    for line in goals(r):
        L.append("- " + line)
    return "\n".join(L)


def goals(r):
    """Each goal of issue 4 against this run's figures: 'met' or 'missed'."""
    sm, lg = r["small"], r["large"]
    stores = [("1M samples", sm)] + ([("%d samples" % lg["store"]["samples"], lg)] if lg else [])
    share = lambda a, b: 100.0 * a / b if b else 0.0
    rows = [("lossless ingest >= 100,000 datagrams/s", r["lossless_service"] >= 100000,
             "%d datagrams/s" % r["lossless_service"])]
    for name, ph in stores:
        s = share(ph["query"]["rps"], ph["ceiling"]["rps"])
        rows.append(("query >= 80%% of the ceiling (%s)" % name, s >= 80, "%.1f%%" % s))
    for name, ph in stores:
        rows.append(("p99 < 10 ms (%s)" % name, ph["query"]["p99"] < 10, "%.2f ms" % ph["query"]["p99"]))
    if lg:
        s = share(lg["query"]["rps"], sm["query"]["rps"])
        rows.append(("requests/s with %s >= 90%% of those with 1M" % stores[1][0], s >= 90, "%.1f%%" % s))
    if r.get("fair"):
        rows.append(fair_goal(r["fair"]))
    rss_kib = sm["rss_after"] - sm["rss_before"]
    rows.append(("RSS growth over %d requests < 5 MB" % sm["rss_requests"], rss_kib < 5 * 1024,
                 "%+d KiB" % rss_kib))
    return ["%s: %s, %s" % (name, figure, "met" if ok else "missed") for name, ok, figure in rows]


def write_doc(text):
    if DOC == "-":
        return
    with open(DOC) as f:
        doc = f.read()
    if BEGIN not in doc or END not in doc:
        raise AssertionError("%s has no %s ... %s markers" % (DOC, BEGIN, END))
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(DOC, "w") as f:
        f.write(head + BEGIN + "\n" + text + "\n" + END + tail)
    log("wrote " + DOC)


def main():
    if sys.argv[1:2] == ["--report"]:  # the table again from a saved run
        with open(sys.argv[2]) as f:
            text = report(json.load(f))
        print(text)
        write_doc(text)
        return
    if sys.argv[1:2] == ["--fair-share"]:  # the fair-share row alone, printed, no doc written
        f = fair_share_phase(settle=False)
        print("\n".join(fair_rows(f)))
        name, ok, figure = fair_goal(f)
        print("\n- %s: %s, %s" % (name, figure, "met" if ok else "missed"))
        with open(os.path.join(BUILD, "bench-fair.json"), "w") as fp:
            json.dump(f, fp, indent=1)
        return
    for name in ("sflow-monitor", "sflow-gen", "bench-udp-sink", "bench-fcgi-echo", "bench-fill"):
        if not os.access(tool(name), os.X_OK):
            sys.exit("bench: %s not built (run make)" % tool(name))
    for cmd in ("wrk", "nginx", "spawn-fcgi"):
        if not shutil.which(cmd) and not os.access("/usr/sbin/" + cmd, os.X_OK):
            sys.exit("bench: %s is not installed (make deps installs it)" % cmd)
    t0 = time.monotonic()
    r = {"cpu": cpu_model(), "load_start": loadavg(),
         "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
         "command": "make bench" + (" BENCH_SAMPLES=%d" % LARGE if "BENCH_SAMPLES" in os.environ else "")}

    log("ingest ceiling: bench-udp-sink")
    r["sink"] = []
    for rate in RATES:
        r["sink"].append(sink_step(rate))
        log("  %(rate)d/s: sent %(sent)d received %(received)d drops %(kernel_drops)d" % r["sink"][-1])

    log("ingest: the service")
    ingest_map = max(4096, int(sum(RATES) * STEP_S * 4 * 1200) >> 20)
    stack = started(lambda: ServiceStack(ingest_map))
    try:
        r["service"] = []
        for rate in RATES:
            r["service"].append(service_step(stack, rate))
            log("  %(rate)d/s: sent %(sent)d received %(received)d drops %(kernel_drops)d "
                "stored %(stored)d" % r["service"][-1])
        st = stack.stats()
        r["samples_per_datagram"] = st["samples_counter"] / max(st["datagrams_decoded"], 1)
        r["ingest_store"] = store_figures(stack, 0)
    finally:
        finished(stack)
    ok = [s["rate"] for s in r["service"] if lossless(s)]
    r["lossless_service"] = max(ok) if ok else 0
    ok = [s["rate"] for s in r["sink"] if s["received"] == s["sent"] and s["kernel_drops"] == 0]
    r["lossless_sink"] = max(ok) if ok else 0
    ingest_rate = max(1000, (r["lossless_service"] or min(RATES)) // 5)

    end_ms = int(time.time() * 1000) // 1000 * 1000
    body = query_body(end_ms)
    log("query: %d samples" % SMALL)
    r["small"] = query_phase(SMALL, body, end_ms, True, ingest_rate)
    r["large"] = None
    if LARGE > SMALL:
        log("query: %d samples" % LARGE)
        r["large"] = query_phase(LARGE, body, end_ms, False, 0)
    log("fair share: %d hosts x %d VMs" % (FAIR_HOSTS, FAIR_VMS))
    r["fair"] = fair_share_phase()
    r["load_end"] = loadavg()
    r["elapsed"] = time.monotonic() - t0
    with open(os.path.join(BUILD, "bench-results.json"), "w") as f:
        json.dump(r, f, indent=1)  # report() again from it: bench/run.py --report FILE
    text = report(r)
    print(text)
    write_doc(text)


if __name__ == "__main__":
    main()
