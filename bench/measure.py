#!/usr/bin/python3
"""`make bench`, part 1: measures sflow-monitor on this machine and writes the figures as JSON
(bench/report.py turns them into docs/performance.md's Results; docs/performance.md says what
each figure means). Each throughput figure sits next to a ceiling measured in the same run.

  ingest      sflow-gen → the service over loopback at stepped rates; ceiling: the same sender
              → build/bench-udp-sink (a recvmmsg loop that only counts)
  compacting  the top steps again while the service compacts (compact-after 10s), when the
              service has the option
  prometheus  the highest lossless step, on a store of CLUSTER_HOSTS hypervisors, without and
              then with Debian's prometheus scraping every target every 5 s (the example
              configuration of etc/prometheus/), when prometheus is installed
  query       wrk → nginx → the service, host.cpu over a full 10-minute window (20 records),
              on a store of about 1 million and of BENCH_SAMPLES samples (filled beforehand by
              build/bench-fill); ceiling: the same wrk → the same nginx config →
              build/bench-fcgi-echo returning a body of the same size; then the query while
              ingesting at 20% of the highest lossless rate, and the service's RSS before and
              after BENCH_RSS_REQUESTS requests
  fair        (issue 16) on a store of CLUSTER_HOSTS hosts × 30 VMs, a light client (wrk -c1,
              host.cpu of 20 records) alone, then while 4 clients hammer cluster.status; and
              cluster.status alone (issue 14): through nginx, and the handler alone (bench-api)
  stepped     (issue 14) a 7-day, 300-step host.cpu derive query of a host polled every 20 s
              (raw samples), and steps of 35 min and 1 h (5-minute and 1-hour roll-ups),
              through nginx (wrk -c1), and the handler alone (bench-api)
  bytes       (issue 14) bytes per host sample and per VM sample (the store's used bytes ÷
              samples), before and after compaction when the service compacts
  rollups     (issue 14) bytes per roll-up bucket (5-minute, 1-hour; host, VM) with LMDB's
              pages, and what a year of 1-hour ones costs at 1,000 hosts × 30 VMs (bench-rollup:
              14 days of sflow-gen's 1 host : 30 VMs, the codec and the chunks as the store writes them)

    bench/measure.py [--only PHASE,...]      writes $BENCH_JSON (default build/bench-results.json)
    bench/measure.py --fair-share            the fair-share row alone (make bench-fair), printed

Environment (defaults in brackets; BENCH_QUICK=1 changes the defaults to a run of about two
minutes that skips the large store, for checking that the bench works, not for the record):
  BENCH_RATES          datagrams/s steps [25000,50000,75000,100000,125000,150000,200000; quick: 25000,50000]
  BENCH_STEP_S         seconds per ingest step and per wrk run [10; quick: 3]
  BENCH_SAMPLES        samples in the large store [10000000; quick: 0 = none]; 50000000 as in issue 4
  BENCH_RSS_REQUESTS   requests between the two RSS readings [1000000; quick: 20000]
  BENCH_CONNECTIONS    wrk connections [50]
  BENCH_QUERY_ROUNDS   wrk runs of the service and of the echo, alternated, per store [3; quick: 1]
  BENCH_CLUSTER_HOSTS  hosts (30 VMs each) of the fair-share, cluster.status and Prometheus
                       stores [1000; quick: 100]
  BENCH_FAIR_S         seconds of each fair-share run [BENCH_STEP_S]
  BENCH_WORKERS        the service's and the echo's worker threads in the query rows [4]
  BENCH_BACKLOG        the service's backlog [its default]
  BENCH_JSON           where the figures go [$BUILD/bench-results.json; quick: $BUILD/bench-quick.json]
Stacks are test/e2e/stack.py's (free loopback ports, temporary directories); everything
started is stopped by PID.
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
from stack import (BUILD, FilledStack, Prometheus, Scraper, Stack, agent_ips, cpu_model, cpu_seconds, cpu_times,  # noqa: E402
                   du_bytes, loadavg, rss_kib, sectors_written, udp_snmp, wait_until)

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")


def env(name, default, quick):
    return os.environ.get(name, quick if QUICK else default)


RATES = [int(r) for r in env("BENCH_RATES", "25000,50000,75000,100000,125000,150000,200000",
                             "25000,50000").split(",")]
STEP_S = float(env("BENCH_STEP_S", "10", "3"))
LARGE = int(env("BENCH_SAMPLES", "10000000", "0"))
SMALL = 1000000
RSS_REQUESTS = int(env("BENCH_RSS_REQUESTS", "1000000", "20000"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "50"))
QUERY_ROUNDS = max(1, int(env("BENCH_QUERY_ROUNDS", "3", "1")))
CLUSTER_HOSTS = int(env("BENCH_CLUSTER_HOSTS", "1000", "100"))
CLUSTER_VMS = 30
FAIR_S = float(os.environ.get("BENCH_FAIR_S", str(STEP_S)))
FAIR_HEAVY = 4
FAIR_ROUNDS = 20  # 20 rounds 30 s apart: host.cpu has 20 records
WORKERS = os.environ.get("BENCH_WORKERS", "4")
JSON_OUT = os.environ.get("BENCH_JSON", os.path.join(BUILD, "bench-quick.json" if QUICK else "bench-results.json"))
LUA = os.path.join(REPO, "bench", "query.lua")

HOSTS, VMS, INTERVAL_MS = 100, 10, 30000  # the fill: 20 rounds in a 10-minute window
GEN_MIX = ["--hosts", str(HOSTS), "--vms", str(VMS), "--rounds", "20", "--interval", str(INTERVAL_MS)]
QUERY_HOST = "10.0.0.1"  # sflow-gen's first agent
DAY_MS = 86400000
PHASES = ["ingest", "compacting", "prometheus", "query", "fair", "stepped", "bytes", "rollups"]


def tool(name):
    return os.path.join(BUILD, name)


def log(text):
    print("bench: " + text, file=sys.stderr, flush=True)


def has_option(name):
    """Whether this build of the service has option `name` (its --help lists every option)."""
    out = subprocess.run([tool("sflow-monitor"), "--help"], capture_output=True, text=True)
    return re.search(r"^\s*--%s\b" % re.escape(name), out.stdout + out.stderr, re.M) is not None


def settle_disk():
    """Writes back what earlier phases left dirty in the page cache (gigabytes after the
    ingest steps and the fills), then waits until the disks have written nothing for a
    second (the filesystem frees a deleted store's extents after the files are gone), so
    that no phase pays for the one before it. BENCH_QUICK: only the writeback."""
    t = time.monotonic()
    os.sync()
    if QUICK:
        return
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


# ---- stacks ----------------------------------------------------------------------------------

def service_options(map_mib, **more):
    opts = {"flush-ms": "1000", "map-size": str(map_mib), "retention": "3650d", "workers": WORKERS}
    if os.environ.get("BENCH_BACKLOG"):
        opts["backlog"] = os.environ["BENCH_BACKLOG"]
    opts.update(more)
    return opts


class ServiceStack(Stack):
    """The stack with production-like options (and an empty store)."""

    def __init__(self, map_mib, **more):
        super().__init__(options=service_options(map_mib, **more))

    def stats(self):
        return self.result("collector.stats")


class FilledServiceStack(FilledStack):
    """The same on a store bench-fill fills first (its summary line is logged)."""

    def __init__(self, map_mib, samples, hosts=HOSTS, vms=VMS, interval_ms=INTERVAL_MS, end_ms=0,
                 fill_args=(), **more):
        super().__init__(samples, hosts, vms, interval_ms, end_ms, fill_args,
                         options=service_options(map_mib, **more))

    def start_service(self):
        filling = not os.path.exists(self.data_dir)
        if filling:
            log(" ".join(self.fill_command()[1:]))
        super().start_service()
        if filling:
            log("%s (%.0f s)" % (self.fill_line, self.fill_seconds))

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


def compaction_idle(stack, want=0, timeout=600):
    """Waits until the service's work in the background — compaction (store.compacted_samples)
    and roll-ups (rollups_built), where it has them — has stood still for 3 s with compaction
    at `want` samples or more (or, short of `want`, for 15 s: what is left is not old enough or
    too little for a chunk), so that a measurement does not share the CPU with it; returns the
    store's figures then."""
    last = {"n": None, "since": time.monotonic()}

    def idle():
        s = stack.stats()
        st = s["store"]
        n = (st.get("compacted_samples"), s.get("rollups_built"))
        if n != last["n"]:
            last["n"], last["since"] = n, time.monotonic()
        still = time.monotonic() - last["since"]
        compacted = n[0] or 0
        return st if (still >= 3 and (n[0] is None or compacted >= want)) or still >= 15 else None
    try:
        return wait_until(idle, "compaction and roll-ups to finish", timeout=timeout, interval=0.5)
    except AssertionError as e:
        log(str(e))
        return stack.stats()["store"]


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


def service_step(stack, rate, settle_first=True):
    if settle_first:
        settle_disk()
    s0 = stack.stats()
    snmp = udp_snmp()
    sent, secs = send(rate, stack.udp_port)
    s1 = settle(stack, s0, sent, "the service to take in step %d/s" % rate)
    step = {"rate": rate, "sent": sent, "secs": secs,
            "received": s1["datagrams_received"] - s0["datagrams_received"],
            "kernel_drops": s1["kernel_drops"] - s0["kernel_drops"],
            "decoded_samples": s1["samples_counter"] - s0["samples_counter"],
            "stored": s1["samples_stored"] - s0["samples_stored"],
            "in_store": s1["store"]["samples"] - s0["store"]["samples"],
            "pauses": s1["receiver_pauses"] - s0["receiver_pauses"],
            "snmp": snmp_delta(snmp)}
    if "compacted_samples" in s1["store"]:
        step["compacted"] = s1["store"]["compacted_samples"] - s0["store"]["compacted_samples"]
    # samples compaction rewrote are not new samples: the store's count is checked against
    # what was stored only where nothing else changed it
    step["lossless"] = lossless(step)
    return step


def lossless(step):
    return (step["received"] == step["sent"] and step["kernel_drops"] == 0 and
            step.get("stored", 0) == step.get("decoded_samples", 0) and
            step.get("in_store", 0) == step.get("stored", 0))


def log_step(step):
    log("  %(rate)d/s: sent %(sent)d received %(received)d drops %(kernel_drops)d stored %(stored)d" % step
        + (" compacted %d" % step["compacted"] if "compacted" in step else ""))


def highest(steps):
    ok = [s["rate"] for s in steps if s["lossless"]]
    return max(ok) if ok else 0


def ingest_phase(r):
    log("ingest ceiling: bench-udp-sink")
    r["sink"] = []
    for rate in RATES:
        r["sink"].append(sink_step(rate))
        log("  %(rate)d/s: sent %(sent)d received %(received)d drops %(kernel_drops)d" % r["sink"][-1])
    log("ingest: the service")
    stack = started(lambda: ServiceStack(ingest_map_mib(RATES)))
    try:
        r["service"] = []
        for rate in RATES:
            r["service"].append(service_step(stack, rate))
            log_step(r["service"][-1])
        st = stack.stats()
        r["samples_per_datagram"] = st["samples_counter"] / max(st["datagrams_decoded"], 1)
        r["ingest_store"] = store_figures(stack)
    finally:
        finished(stack)
    r["lossless_service"] = highest(r["service"])
    ok = [s["rate"] for s in r["sink"] if s["received"] == s["sent"] and s["kernel_drops"] == 0]
    r["lossless_sink"] = max(ok) if ok else 0


def ingest_map_mib(rates):
    return max(4096, int(sum(rates) * STEP_S * 4 * 1200) >> 20)


def top_rates(r):
    """The highest lossless step of the ingest phase and the step above it (or the lowest two
    steps when that phase did not run or found none)."""
    top = r.get("lossless_service") or RATES[0]
    i = RATES.index(top) if top in RATES else 0
    return RATES[max(0, i - 1):i + 2] if i + 1 < len(RATES) else RATES[max(0, i - 1):]


def compacting_phase(r):
    """The top ingest steps while the service compacts: compact-after 10s, and a first step at
    the lowest rate followed by waiting until compaction has begun, so that every measured
    step has a compaction running beside it."""
    if not has_option("compact-after"):
        log("compacting: this service has no compact-after option: n/a")
        r["compacting"] = {"supported": False}
        return
    rates = top_rates(r)
    log("ingest while compacting (compact-after 10s): %s" % ", ".join(map(str, rates)))
    out = {"supported": True, "compact_after": "10s", "steps": []}
    stack = started(lambda: ServiceStack(ingest_map_mib(rates + [RATES[0]]), **{"compact-after": "10s"}))
    try:
        out["warmup"] = service_step(stack, RATES[0])
        wait_until(lambda: stack.stats()["store"].get("compacted_samples", 0) > 0, "compaction to begin",
                   timeout=120, interval=0.5)
        for rate in rates:
            out["steps"].append(service_step(stack, rate, settle_first=False))
            log_step(out["steps"][-1])
        out["store"] = stack.stats()["store"]
    finally:
        finished(stack)
    out["lossless"] = highest(out["steps"])
    r["compacting"] = out


def prometheus_phase(r):
    """The highest lossless step (or the lowest) on a store of CLUSTER_HOSTS hypervisors × 30
    VMs polled every 5 minutes (so every target has fresh metrics throughout): alone; while the
    bench's own client asks for every target every 5 s (the service's share of scraping, with
    little of the scraper's own CPU); and while Debian's Prometheus scrapes every target every
    5 s (on this machine's cores too: its CPU is recorded beside the service's)."""
    if not Prometheus.BINARY:
        log("prometheus: not installed (make deps installs it): skipped")
        r["prometheus"] = {"supported": False}
        return
    rate = r.get("lossless_service") or RATES[0]
    samples = CLUSTER_HOSTS * (CLUSTER_VMS + 1) * 2
    log("ingest at %d/s alone, with scrapes of %d targets every 5 s, and with Prometheus scraping them"
        % (rate, CLUSTER_HOSTS))
    out = {"supported": True, "rate": rate, "targets": CLUSTER_HOSTS, "vms": CLUSTER_VMS, "interval": "5s"}
    stack = started(lambda: FilledServiceStack(ingest_map_mib([rate] * 3) + samples * 1500 // (1 << 20),
                                               samples, CLUSTER_HOSTS, CLUSTER_VMS, 300000))
    prom = None

    def measured(step_key, busy_pids):
        cpu0 = {k: cpu_seconds(pid) for k, pid in busy_pids.items()}
        m0, t0 = cpu_times(), time.monotonic()
        out[step_key] = service_step(stack, rate, settle_first=False)
        log_step(out[step_key])
        m1 = cpu_times()
        out[step_key]["seconds"] = time.monotonic() - t0
        out[step_key]["cpu_s"] = {k: cpu_seconds(pid) - cpu0[k] for k, pid in busy_pids.items()}
        out[step_key]["machine_busy"] = (m1[0] - m0[0]) / max(1, m1[1] - m0[1])
    try:
        settle_disk()
        measured("without", {"service": stack.service_pid()})
        scraper = Scraper(stack, agent_ips(CLUSTER_HOSTS)).start()
        try:
            wait_until(lambda: scraper.rounds >= 1, "a first round of scrapes", timeout=120, interval=0.5)
            measured("scraper", {"service": stack.service_pid()})
        finally:
            scraper.stop()
        out["scraper"]["rounds"] = scraper.rounds
        lat = sorted(scraper.lat)
        out["scraper"]["scrape_p50_s"] = lat[len(lat) // 2]
        out["scraper"]["scrape_p99_s"] = lat[min(len(lat) - 1, len(lat) * 99 // 100)]
        prom = Prometheus([stack.http_port], interval="5s").start()

        def scraped():  # every hypervisor scraped, and not only once
            n = prom.query('count(count_over_time(up{job="sflow"}[1m]) >= 2)')
            return n and n[0][1] >= CLUSTER_HOSTS
        wait_until(scraped, "Prometheus to scrape every target twice", timeout=120, interval=1)
        series0 = prom.query("sum(scrape_samples_scraped)")[0][1]
        measured("with", {"service": stack.service_pid(), "prometheus": prom.proc.pid})
        out["service_cpu_s"] = out["with"]["cpu_s"]["service"]
        out["with_seconds"] = out["with"]["seconds"]
        out["up"] = prom.query('count(up{job="sflow"} == 1)')[0][1]
        out["samples_per_round"] = series0
        out["scrape_p99_s"] = prom.query('max(quantile_over_time(0.99, scrape_duration_seconds{job="sflow"}[1m]))')[0][1]
    finally:
        if prom:
            prom.stop()
        finished(stack)
    r["prometheus"] = out


# ---- query -----------------------------------------------------------------------------------

def rpc(method, params=None):
    req = {"jsonrpc": "2.0", "method": method, "id": 1}
    if params is not None:
        req["params"] = params
    return json.dumps(req, separators=(",", ":"))


def query_body(timestamp):
    return rpc("host.cpu", {"ip": QUERY_HOST, "timestamp": timestamp})


def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    v, unit = float(m.group(1)), m.group(2)
    return v * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def wrk_command(stack, conns, seconds, threads=2):
    return ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % max(1, round(seconds)), "--latency",
            "-s", LUA, stack.url()]


def parse_wrk(out):
    """{'rps', 'p50', 'p99' (ms), 'requests', 'errors' (non-2xx), 'socket_errors'}."""
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
            "p99": to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "errors": int(bad.group(1)) if bad else 0,
            "socket_errors": errs.group(1) if errs else ""}


def wrk(stack, body, seconds=None, conns=None, threads=2):
    """wrk → nginx: parse_wrk's figures and 'cpu_us': CPU time of the responder (the service or
    the echo) per request."""
    pid = stack.service.pid
    cpu0 = cpu_seconds(pid)
    out = subprocess.run(wrk_command(stack, conns or CONNECTIONS, seconds or STEP_S, threads),
                         env=dict(os.environ, BENCH_BODY=body), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, check=True).stdout
    res = parse_wrk(out)
    res["cpu_us"] = 1e6 * (cpu_seconds(pid) - cpu0) / max(res["requests"], 1)
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


def reply_bytes(stack, body, records=20):
    status, _, payload = stack.http(body.encode())
    got = json.loads(payload)["result"]
    assert status == 200 and len(got) == records, "%d records, not %d" % (len(got), records)
    return len(payload)


def store_figures(stack):
    st = stack.stats()["store"]
    disk = du_bytes(stack.data_dir)
    return {"samples": st["samples"], "disk": disk, "per_sample": disk / max(st["samples"], 1),
            "used_bytes": st["used_bytes"]}


def bench_api(data_dir, body, requests):
    """The handler alone on a store (the service stopped): µs per request."""
    out = subprocess.run([tool("bench-api"), "--dir", data_dir, "--body", body, "--requests", str(requests)],
                         check=True, capture_output=True, text=True).stdout
    return float(re.search(r"([\d.]+) us/request", out).group(1))


def query_phase(samples, body, end_ms, with_rss_and_ingest, ingest_rate):
    """One filled store: wrk on the service, then at once on the echo responder (the ceiling,
    its own nginx and spawn-fcgi on other ports, started beforehand), so that both face the
    same machine; then, on the service, the RSS run and the query under ingest."""
    out = {"samples_asked": samples}
    # room for the fill and, with_rss_and_ingest, what the ingest under query load adds (at up to
    # 4 samples a datagram; at 125,000/s lossless that is over a million samples: the 1M store's
    # map filled once, and the step waited for samples that could not be stored)
    extra = ingest_rate * (STEP_S + 3) * 4 if with_rss_and_ingest else 0
    map_mib = max(1024, int(samples + extra) * 1200 // (1 << 20))
    stack = started(lambda: FilledServiceStack(map_mib, samples, end_ms=end_ms))
    try:
        out["fill"] = stack.fill_line
        out["store"] = store_figures(stack)
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
            pid = stack.service_pid()
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


def query_phases(r):
    ingest_rate = max(1000, (r.get("lossless_service") or min(RATES)) // 5)
    end_ms = int(time.time() * 1000) // 1000 * 1000
    body = query_body(end_ms)
    log("query: %d samples" % SMALL)
    r["small"] = query_phase(SMALL, body, end_ms, True, ingest_rate)
    r["large"] = None
    if LARGE > SMALL:
        log("query: %d samples" % LARGE)
        r["large"] = query_phase(LARGE, body, end_ms, False, 0)


# ---- fair share (issue 16) and cluster.status (issue 14) --------------------------------------

def wrk_light_and_heavy(stack, light_body, heavy_body, seconds, heavy_clients):
    """wrk -c1 with light_body, and (when heavy_clients) wrk -c<heavy_clients> with heavy_body
    at the same time; returns (light figures, heavy figures or None)."""
    heavy = None
    if heavy_clients:
        heavy = subprocess.Popen(wrk_command(stack, heavy_clients, round(seconds) + 2, 1),
                                 env=dict(os.environ, BENCH_BODY=heavy_body),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(1)  # the heavy clients are at it before the light one starts
    try:
        light = subprocess.run(wrk_command(stack, 1, seconds, 1), env=dict(os.environ, BENCH_BODY=light_body),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=True).stdout
    finally:
        heavy_out = heavy.communicate(timeout=seconds + 60)[0] if heavy else None
    return parse_wrk(light), (parse_wrk(heavy_out) if heavy_out else None)


def fair_share_phase(settle=True, cluster=False):
    """The light client's latency alone and while FAIR_HEAVY clients hammer cluster.status, with
    the service's own workers and heavy-calls (BENCH_FAIR_WORKERS, BENCH_HEAVY_CALLS to try
    others); settle=False skips waiting for an idle machine (make bench-fair). cluster: also
    cluster.status alone, through nginx (wrk -c1) and the handler alone (bench-api)."""
    end_ms = int(time.time() * 1000) // 1000 * 1000
    samples = CLUSTER_HOSTS * (CLUSTER_VMS + 1) * FAIR_ROUNDS

    def make():
        st = FilledServiceStack(max(1024, samples * 1500 // (1 << 20)), samples, CLUSTER_HOSTS, CLUSTER_VMS,
                                end_ms=end_ms)
        st.options.pop("workers")
        for env_name, opt in (("BENCH_FAIR_WORKERS", "workers"), ("BENCH_HEAVY_CALLS", "heavy-calls")):
            if os.environ.get(env_name):
                st.options[opt] = os.environ[env_name]
        return st
    stack = started(make)
    out = {"hosts": CLUSTER_HOSTS, "vms": CLUSTER_VMS, "heavy_clients": FAIR_HEAVY, "seconds": FAIR_S,
           "heavy_calls": stack.options.get("heavy-calls", "1 (default)"),
           "workers": stack.options.get("workers", "8 (default)")}
    light = query_body(end_ms)
    heavy = rpc("cluster.status")
    try:
        out["fill"] = stack.fill_line
        out["light_bytes"] = reply_bytes(stack, light)
        t = time.monotonic()
        status, _, payload = stack.http(heavy.encode())
        out["heavy_ms"] = 1000 * (time.monotonic() - t)
        out["heavy_bytes"] = len(payload)
        compaction_idle(stack)
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
        if cluster:
            c = {"hosts": CLUSTER_HOSTS, "vms": CLUSTER_VMS, "bytes": out["heavy_bytes"]}
            c["nginx"] = wrk(stack, heavy, STEP_S, conns=1, threads=1)
            stack.stop()
            c["handler_us"] = bench_api(stack.data_dir, heavy, 20)
            out["cluster"] = c
    finally:
        finished(stack)
    return out


def fair_phase(r):
    log("fair share and cluster.status: %d hosts x %d VMs" % (CLUSTER_HOSTS, CLUSTER_VMS))
    f = fair_share_phase(cluster=True)
    r["cluster"] = f.pop("cluster")
    r["fair"] = f


# ---- long ranges and bytes per sample (issue 14) ----------------------------------------------

STEPPED_HOSTS, STEPPED_VMS, STEPPED_INTERVAL_MS = 1, 4, 20000
# issue 14's query: 7 days in 300 steps (2,016,000 ms: not a multiple of an hour, so it reads the
# raw samples), and in 1-hour steps (168), which read the 1-hour roll-ups (docs/api.md: a step of
# whole 5 minutes reads 5-minute roll-ups only where the raw samples are gone)
STEPPED_STEPS = [7 * DAY_MS // 300, "35m", "1h"]  # raw samples, 5-minute and 1-hour roll-ups


def compact_now(stack, samples):
    """Restarts the service with compact-after 1s (a pass every second) and waits until
    compaction has run over at least 90% of `samples` and stands still; the store's figures."""
    stack.stop_service()
    stack.options["compact-after"] = "1s"
    stack.start_service()
    return compaction_idle(stack, want=samples * 9 // 10, timeout=300)


ROLLUP_LINE = re.compile(r"^(5m|1h) buckets, (host|vm)\s*, zstd (\d+):\s+(\d+) buckets in\s+(\d+) chunks\s+plain\s+([\d.]+) B"
                         r"\s+chunk\s+([\d.]+) B\s+with pages\s+([\d.]+) B per bucket.*a write \(one bucket added\)\s+([\d.]+) us")


def rollups_phase(r):
    """bench-rollup: bytes per roll-up bucket as the store writes them (LMDB's overflow pages
    included), per resolution and kind, and the CPU of a write as the roll-up pass makes one."""
    if not os.path.exists(tool("bench-rollup")):
        r["rollups"] = {"supported": False}
        return
    log("rollups: bench-rollup, 14 days of 1 host : 30 VMs")
    out = subprocess.run([tool("bench-rollup")], check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        m = ROLLUP_LINE.match(line)
        if m:
            rows["%s %s" % (m.group(1), m.group(2))] = {
                "zstd": int(m.group(3)), "buckets": int(m.group(4)), "chunks": int(m.group(5)),
                "plain": float(m.group(6)), "packed": float(m.group(7)), "paged": float(m.group(8)),
                "write_us": float(m.group(9))}
    assert len(rows) == 4, out
    r["rollups"] = {"supported": True, "rows": rows}


def stepped_run(stack, bodies):
    """For each body: wrk -c1 through nginx; then the handler alone (bench-api) with the
    service stopped."""
    settle_disk()
    out = []
    for body in bodies:
        wrk(stack, body, 2, conns=1, threads=1)  # warm-up
        out.append({"nginx": wrk(stack, body, STEP_S, conns=1, threads=1)})
    stack.stop_service()
    for body, o in zip(bodies, out):
        o["handler_us"] = bench_api(stack.data_dir, body, 50)
    return out


def stepped_phase(r):
    """host.cpu of one host polled every 20 s over 7 days, with derive, in STEPPED_STEPS: on the
    store as the service keeps it (raw samples and their roll-ups), then (when the service
    compacts) on the same store compacted."""
    compacts = has_option("compact-after")
    end_ms = int(time.time() * 1000) // 1000 * 1000
    samples = STEPPED_HOSTS * (STEPPED_VMS + 1) * (7 * DAY_MS // STEPPED_INTERVAL_MS)
    bodies = [rpc("host.cpu", {"ip": QUERY_HOST, "from": end_ms - 7 * DAY_MS + 1, "to": end_ms, "step": step,
                               "derive": True}) for step in STEPPED_STEPS]
    log("stepped: 7 days of one host every 20 s, steps %s" % ", ".join(map(str, STEPPED_STEPS)))
    out = {"samples": samples, "interval_ms": STEPPED_INTERVAL_MS, "compacted": None,
           "queries": [{"step": step} for step in STEPPED_STEPS]}
    more = {"compact-after": "3650d"} if compacts else {}
    stack = started(lambda: FilledServiceStack(1024, samples, STEPPED_HOSTS, STEPPED_VMS, STEPPED_INTERVAL_MS,
                                               end_ms, ["--history"], **more))
    try:
        out["fill"] = stack.fill_line
        compaction_idle(stack)  # the roll-ups built
        answers = []
        for q, body in zip(out["queries"], bodies):
            status, _, payload = stack.http(body.encode())
            resp = json.loads(payload)
            assert status == 200 and "result" in resp, payload[:300]
            q["records"], q["bytes"] = len(resp["result"]), len(payload)
            answers.append(payload)
        for q, run in zip(out["queries"], stepped_run(stack, bodies)):
            q.update(run)
        if compacts:
            out["compacted"] = compact_now(stack, samples).get("compacted_samples")
            for body, payload in zip(bodies, answers):
                assert stack.http(body.encode())[2] == payload, "the answer changed with compaction"
            for q, run in zip(out["queries"], stepped_run(stack, bodies)):
                q["after_compaction"] = run
    finally:
        finished(stack)
    r["stepped"] = out


def db_bytes(data_dir):
    """Bytes of pages in use per LMDB database (mdb_stat -a): {'samples': n, 'rollups': n (the
    roll-up databases), 'other': n}."""
    text = subprocess.run(["mdb_stat", "-ae", data_dir], check=True, capture_output=True, text=True).stdout
    psize = int(re.search(r"Page size: (\d+)", text).group(1))
    out = {"samples": 0, "rollups": 0, "other": 0}
    for name, block in re.findall(r"Status of (.+)\n((?:  .*\n?)*)", text):
        pages = sum(int(n) for n in re.findall(r"(?:Branch|Leaf|Overflow) pages: (\d+)", block))
        key = "samples" if name == "samples" else "rollups" if name.startswith("rollup") else "other"
        out[key] += pages * psize
    return out


def bytes_store(kind, hosts, vms, rounds, compacts):
    """A store of `rounds` polls 20 s apart (sflow-gen's history: counters move as they do),
    ending a day ago, once the service has built its roll-ups: its used bytes per sample with
    compaction held off, then (when the service compacts) after compaction has run over it;
    each time also per database (the samples, the roll-ups), with the service stopped."""
    samples = hosts * (vms + 1) * rounds
    end_ms = int(time.time() * 1000) - DAY_MS
    more = {"compact-after": "3650d"} if compacts else {}
    stack = started(lambda: FilledServiceStack(1024, samples, hosts, vms, 20000, end_ms, ["--history"], **more))
    out = {"kind": kind, "hosts": hosts, "vms": vms, "rounds": rounds}
    try:
        st = compaction_idle(stack)  # the roll-ups built
        out["samples"], out["used_bytes"] = st["samples"], st["used_bytes"]
        stack.stop_service()
        out["dbs"] = db_bytes(stack.data_dir)
        if compacts:
            st = compact_now(stack, samples)
            out["after_samples"], out["after_used_bytes"] = st["samples"], st["used_bytes"]
            out["compacted"] = st.get("compacted_samples")
            stack.stop_service()
            out["after_dbs"] = db_bytes(stack.data_dir)
    finally:
        finished(stack)
    return out


def bytes_phase(r):
    compacts = has_option("compact-after")
    log("bytes per sample (%s)" % ("before and after compaction" if compacts else "this service does not compact"))
    host = bytes_store("host", 20, 0, 1500, compacts)
    mix = bytes_store("1 host : 30 VMs", 1, 30, 1000, compacts)
    r["bytes"] = {"compacts": compacts, "host_store": host, "vm_store": mix}


# ---- main ------------------------------------------------------------------------------------

def check_tools():
    for name in ("sflow-monitor", "sflow-gen", "bench-udp-sink", "bench-fcgi-echo", "bench-fill", "bench-api"):
        if not os.access(tool(name), os.X_OK):
            sys.exit("bench: %s not built (run make)" % tool(name))
    for cmd in ("wrk", "nginx", "spawn-fcgi"):
        if not shutil.which(cmd) and not os.access("/usr/sbin/" + cmd, os.X_OK):
            sys.exit("bench: %s is not installed (make deps installs it)" % cmd)


def main():
    args = sys.argv[1:]
    check_tools()
    if args[:1] == ["--fair-share"]:  # the fair-share row alone, printed
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import report
        f = fair_share_phase(settle=False)
        print("\n".join(report.fair_rows(f)))
        name, ok, figure = report.fair_goal(f)
        print("\n- %s: %s, %s" % (name, figure, "met" if ok else "missed"))
        with open(os.path.join(BUILD, "bench-fair.json"), "w") as fp:
            json.dump(f, fp, indent=1)
        return
    only = PHASES
    if args[:1] == ["--only"] and len(args) == 2:
        only = args[1].split(",")
        unknown = set(only) - set(PHASES)
        if unknown:
            sys.exit("bench: no phase %s (phases: %s)" % (", ".join(sorted(unknown)), ", ".join(PHASES)))
    elif args:
        sys.exit("usage: bench/measure.py [--only PHASE,...] | --fair-share")
    t0 = time.monotonic()
    r = {"cpu": cpu_model(), "cpus": os.cpu_count(), "load_start": loadavg(),
         "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
         "command": "make bench" + "".join(" %s=%s" % (k, os.environ[k]) for k in (
             "BENCH_QUICK", "BENCH_SAMPLES", "BENCH_RATES", "BENCH_STEP_S", "BENCH_CLUSTER_HOSTS")
             if k in os.environ),
         "quick": QUICK, "phases": only, "step_s": STEP_S, "connections": CONNECTIONS,
         "gen_mix": " ".join(GEN_MIX)}
    run = {"ingest": ingest_phase, "compacting": compacting_phase, "prometheus": prometheus_phase,
           "query": query_phases, "fair": fair_phase, "stepped": stepped_phase, "bytes": bytes_phase,
           "rollups": rollups_phase}
    for phase in PHASES:
        if phase in only:
            run[phase](r)
    r["load_end"] = loadavg()
    r["elapsed"] = time.monotonic() - t0
    with open(JSON_OUT, "w") as f:
        json.dump(r, f, indent=1)
    log("wrote %s (%.0f s); bench/report.py %s writes docs/performance.md from it" % (
        JSON_OUT, r["elapsed"], JSON_OUT))


if __name__ == "__main__":
    main()
