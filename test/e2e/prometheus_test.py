"""sflow-monitor against a real Prometheus (Debian's `prometheus`): two collectors, each sent a
different fleet by sflow-gen; Prometheus configured with the example etc/prometheus/prometheus.yml
(http_sd against both collectors); what it scraped checked against the collectors' own
JSON-RPC answers; with Debian's victoria-metrics, Prometheus also remote-writes into it and
the same query is asked of both (docs/scaling.md). Also: promtool check config / rules / metrics, the alerting rules' unit tests,
and every PromQL expression of the Grafana dashboard (etc/grafana/sflow-monitor.json).

Skipped, with a message, only where prometheus cannot be installed (`make deps` installs it)."""

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request

from harness import BUILD, REPO, TIMEOUT, Suite, _die_with_parent, free_port, wait_until
from stack import Prometheus, stop_process

PROMETHEUS = shutil.which("prometheus")
VICTORIA = shutil.which("victoria-metrics")  # optional: the remote_write case (docs/scaling.md)
PROMTOOL = shutil.which("promtool")
if not PROMETHEUS or not PROMTOOL:
    print("skipped: prometheus/promtool not installed (apt-get install prometheus, or make deps)")
    print("0 passed, 0 failed")
    sys.exit(0)

ETC = os.path.join(REPO, "etc", "prometheus")
DASHBOARD = os.path.join(REPO, "etc", "grafana", "sflow-monitor.json")
WAIT = max(TIMEOUT, 60)  # Prometheus's discovery and first scrapes take seconds

suite = Suite()
# Two sites: collector a holds 3 hypervisors with 2 VMs each, collector b 2 with 3 VMs each.
FLEETS = [
    {"stack": suite.stack(), "hosts": 3, "vms": 2, "base": "10.1.0.1", "per_round": 3},
    {"stack": suite.stack(), "hosts": 2, "vms": 3, "base": "10.2.0.1", "per_round": 4},
]
INTERVAL_S = 2  # sflow-gen's polling interval; Prometheus scrapes every second
AGENTS = sum(f["hosts"] for f in FLEETS)
state = {}


def promtool(*args, stdin=None, cwd=None):
    r = subprocess.run([PROMTOOL] + list(args), input=stdin, capture_output=True, cwd=cwd)
    return r.returncode, (r.stdout + r.stderr).decode()


def api(path, **params):
    url = "http://127.0.0.1:%d%s?%s" % (state["port"], path, urllib.parse.urlencode(params))
    with urllib.request.urlopen(url, timeout=TIMEOUT) as r:
        body = json.loads(r.read())
    assert body["status"] == "success", body
    return body["data"]


def query(expr, **params):
    """Instant query: [(labels, value as float)]."""
    data = api("/api/v1/query", query=expr, **params)
    if data["resultType"] == "scalar":
        return [({}, float(data["result"][1]))]
    return [(r["metric"], float(r["value"][1])) for r in data["result"]]


def series_by(expr, label):
    out = {}
    for labels, v in query(expr):
        assert labels[label] not in out, "two series for %s=%s: %s" % (label, labels[label], expr)
        out[labels[label]] = v
    return out


def collector_of(host_ip):
    return next(f for f in FLEETS if host_ip.startswith(f["base"].rsplit(".", 1)[0] + "."))["stack"]


# ---- the example configuration -------------------------------------------------------------

@suite.test
def the_example_configuration_and_rules_pass_promtool():
    rc, out = promtool("check", "config", os.path.join(ETC, "prometheus.yml"))
    assert rc == 0, out
    rc, out = promtool("check", "rules", os.path.join(ETC, "sflow-monitor.rules.yml"))
    assert rc == 0, out


@suite.test
def every_alerting_rule_passes_its_promtool_unit_test():
    rc, out = promtool("test", "rules", "sflow-monitor.rules.test.yml", cwd=ETC)
    assert rc == 0, out
    with open(os.path.join(ETC, "sflow-monitor.rules.yml")) as f:
        alerts = set(re.findall(r"^\s*- alert: (\w+)", f.read(), re.M))
    with open(os.path.join(ETC, "sflow-monitor.rules.test.yml")) as f:
        tested = set(re.findall(r"alertname: (\w+)", f.read()))
    assert alerts and alerts == tested, "alerts without a test: %s" % (alerts - tested)


# ---- two collectors, two fleets --------------------------------------------------------------

@suite.test
def each_collector_receives_its_own_fleet_from_sflow_gen():
    state["senders"] = []
    for f in FLEETS:
        # paced so that the agents' clocks (uptime) run with the wall clock: one round per
        # INTERVAL_S, for longer than the test needs (stopped at the end)
        p = subprocess.Popen(
            [os.path.join(BUILD, "sflow-gen"), "--hosts", str(f["hosts"]), "--vms", str(f["vms"]),
             "--rounds", "300", "--interval", str(INTERVAL_S * 1000), "--agent-base", f["base"],
             "--rate", str(f["per_round"] / INTERVAL_S), "--quiet",
             "--dest", "127.0.0.1:%d" % f["stack"].udp_port],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        state["senders"].append(p)
    for f in FLEETS:
        s = f["stack"]
        wait_until(lambda: len(s.result("virt.description")) == f["hosts"] * f["vms"] and
                   all(len(s.result("host.cpu", {"ip": h["host_ip"]})) >= 2 for h in s.result("host.description")),
                   "every host with two samples and every VM", timeout=WAIT)


@suite.test
def prometheus_starts_with_the_example_configuration_pointed_at_both_collectors():
    with open(os.path.join(ETC, "prometheus.yml")) as f:
        assert len(re.findall(r"url: (\S+)", f.read())) == 2, "the example names two collectors"

    def global_view(text, d):  # the global view: remote_write into a single-node VictoriaMetrics
        if not VICTORIA:
            return text
        state["vm_port"] = free_port()
        state["vm"] = subprocess.Popen(
            [VICTORIA, "-storageDataPath=" + os.path.join(d, "vm"),
             "-httpListenAddr=127.0.0.1:%d" % state["vm_port"], "-search.latencyOffset=1s",
             "-loggerLevel=ERROR"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent)
        text = text.replace("global:\n", "global:\n  external_labels: {site: test}\n", 1)
        return text + "\nremote_write:\n  - url: http://127.0.0.1:%d/api/v1/write\n" % state["vm_port"]
    prom = state["prometheus"] = Prometheus([f["stack"].http_port for f in FLEETS], interval="1s",
                                            edit=global_view)
    rc, out = promtool("check", "config", prom.config)
    assert rc == 0, out
    prom.start(timeout=WAIT)
    state["port"] = prom.port


@suite.test
def every_hypervisor_is_discovered_and_scraped_twice():
    # one target per hypervisor (job "sflow") and each collector's own (job "sflow-monitor")
    def scraped_twice():
        n = query('count(count_over_time(up{job="sflow"}[1m]) >= 2)')
        m = query('count(count_over_time(up{job="sflow-monitor"}[1m]) >= 2)')
        return n and m and n[0][1] == AGENTS and m[0][1] == 2
    wait_until(scraped_twice, "two scrapes of %d hypervisors and 2 collectors" % AGENTS, timeout=WAIT,
               interval=0.5)
    assert query('count(up{job="sflow"})')[0][1] == AGENTS
    assert query('count(up{job="sflow"} == 1)')[0][1] == AGENTS
    assert query('count(up{job="sflow-monitor"} == 1)')[0][1] == 2
    instances = {l["instance"] for l, _ in query('up{job="sflow"}')}
    hosts = {h["host_ip"] for f in FLEETS for h in f["stack"].result("host.description")}
    assert instances == hosts, (instances, hosts)


@suite.test
def every_hosts_memtotal_is_what_host_memory_says():
    got = series_by("node_memory_MemTotal_bytes", "host_ip")
    assert len(got) == AGENTS, got
    for ip, v in got.items():
        want = collector_of(ip).result("host.memory", {"ip": ip})[-1]["mem_total"]
        assert v == want, "%s: %r, host.memory says %r" % (ip, v, want)
    names = {l["host_ip"]: l["hostname"] for l, _ in query("node_memory_MemTotal_bytes")}
    for f in FLEETS:
        for h in f["stack"].result("host.description"):
            assert names[h["host_ip"]] == h["hostname"], (names, h)


@suite.test
def a_vms_cpu_time_is_a_value_virt_cpu_returned():
    for f in FLEETS:
        vm = f["stack"].result("virt.description")[-1]
        data = api("/api/v1/query", query='libvirt_domain_info_cpu_time_seconds_total{domain="%s"}[30s]' % vm["hostname"])
        assert len(data["result"]) == 1, data
        r = data["result"][0]
        assert r["metric"]["host_ip"] == vm["host_ip"] and "hostname" not in r["metric"], r["metric"]
        known = {rec["vcpu_cpu_time"] for rec in f["stack"].result("virt.cpu", {"hostname": vm["hostname"]})}
        values = [round(float(v) * 1000) for _, v in r["values"]]
        assert values and all(v in known for v in values), (values, sorted(known)[-5:])


def rate_against_derive(s, ip):
    """(rate()'s utilisation, derive's) for the newest interval between two consecutive samples
    of host ip that Prometheus scraped both of; None while it has not."""
    data = api("/api/v1/query", query='node_cpu_seconds_total{host_ip="%s",mode="idle"}[60s]' % ip)
    points = [(float(t), float(v)) for t, v in data["result"][0]["values"]]
    derived = s.result("host.cpu", {"ip": ip, "derive": True})
    by_idle = {rec["cpu_idle"]: i for i, rec in enumerate(derived)}
    for j in range(len(points) - 1, 0, -1):
        prev, cur = points[j - 1][1], points[j][1]
        if prev == cur:
            continue
        k = by_idle.get(round(cur * 1000))
        if k is None or k == 0 or derived[k - 1]["cpu_idle"] != round(prev * 1000):
            continue  # not consecutive samples (one came and went between two scrapes)
        i = j - 1
        while i > 0 and points[i - 1][1] == prev:
            i -= 1
        if i == 0:
            return None  # the window would not start before the first scrape of prev
        t = points[j][0]
        # (t - w, t] holds the scrapes of prev and the first of cur, and nothing older
        w_ms = round((t - points[i][0]) * 1000 + min(500, (points[i][0] - points[i - 1][0]) * 500))
        expr = ('100 * sum(rate(node_cpu_seconds_total{host_ip="%s",mode!~"idle|iowait"}[%dms]))'
                ' / sum(rate(node_cpu_seconds_total{host_ip="%s"}[%dms]))' % (ip, w_ms, ip, w_ms))
        got = query(expr, time="%.3f" % t)
        assert len(got) == 1, got
        return got[0][1], derived[k]["cpu_util_pct"]
    return None


@suite.test
def rate_of_node_cpu_seconds_gives_derives_utilisation_for_the_same_interval():
    hosts = [(f["stack"], h["host_ip"]) for f in FLEETS for h in f["stack"].result("host.description")]

    def compared():
        out = {ip: rate_against_derive(s, ip) for s, ip in hosts}
        return out if all(out.values()) else None
    pairs = wait_until(compared, "an interval of every host scraped on both sides", timeout=WAIT, interval=1)
    for ip, (got, want) in pairs.items():
        print("  %s: rate() %.3f%%, derive %.3f%%" % (ip, got, want))
        assert abs(got - want) <= 0.01 * want, "%s: rate() says %.3f%%, derive %.3f%%" % (ip, got, want)


@suite.test
def sum_by_host_ip_spans_both_collectors():
    got = series_by("sum by (host_ip) (libvirt_domain_info_virtual_cpus)", "host_ip")
    want = {}
    for f in FLEETS:
        status = f["stack"].result("cluster.status")
        vcpus = {vm["hostname"]: vm["vcpu_cpu_count"] for vm in status["vms"]}
        for h in status["hosts"]:
            want[h["host_ip"]] = sum(vcpus[n] for n in h["vms"])
    assert got == want, (got, want)
    total = query("sum(node_memory_MemTotal_bytes)")[0][1]
    assert total == sum(f["stack"].result("cluster.status")["totals"]["mem_total_bytes"] for f in FLEETS)


@suite.test
def the_collectors_own_metrics_match_collector_stats():
    got = series_by('sflow_monitor_store_map_size_bytes', "instance")
    assert len(got) == 2, got
    for f in FLEETS:
        inst = "127.0.0.1:%d" % f["stack"].http_port
        assert got[inst] == f["stack"].result("collector.stats")["store"]["map_size_bytes"]
    seen = series_by('sflow_monitor_agent_last_seen_timestamp_seconds', "agent")
    assert len(seen) == AGENTS, seen


@suite.test
def promtool_finds_no_error_in_any_exposition():
    for f in FLEETS:
        s = f["stack"]
        paths = ["/metrics"] + ["/metrics?target=" + h["host_ip"] for h in s.result("host.description")]
        for p in paths:
            status, _, body = s.http(method="GET", path=p, headers={"Accept": "text/plain"})
            assert status == 200 and body, (p, status)
            rc, out = promtool("check", "metrics", stdin=body)
            lines = [l for l in out.splitlines() if l.strip() and not re.match(
                r"node_memory_\w+_bytes metric names should be written in 'snake_case' not 'camelCase'", l)]
            assert rc in (0, 3) and not lines, "%s: promtool exit %d:\n%s" % (p, rc, out)


@suite.test
def every_promql_expression_of_the_grafana_dashboard_parses_and_answers():
    with open(DASHBOARD) as f:
        dash = json.load(f)
    exprs = []

    def walk(o):
        if isinstance(o, dict):
            for k, v in o.items():
                if k == "expr" and isinstance(v, str):
                    exprs.append(v)
                elif k == "query" and isinstance(v, dict) and "query" in v:
                    exprs.append(v["query"])
                else:
                    walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(dash)
    assert len(exprs) >= 10, exprs
    host = FLEETS[0]["stack"].result("host.description")[0]["host_ip"]
    vm = FLEETS[0]["stack"].result("virt.description")[0]["hostname"]
    answered = 0
    for e in exprs:
        if e.startswith("label_values("):  # a variable's query: Grafana's, not PromQL
            m = re.match(r"label_values\((.*),\s*\w+\)$", e)
            e = m.group(1) if m else e
            if not m:
                continue
        e = (e.replace("$__rate_interval", "10s").replace("$__interval", "2s").replace("$__range", "1m")
             .replace("$host_ip", host).replace("$domain", vm).replace("$instance", ".*"))
        got = query(e)  # raises on a parse error
        answered += bool(got)
    assert answered >= len(exprs) * 0.8, "only %d of %d expressions had data" % (answered, len(exprs))


@suite.test
def remote_write_carries_the_same_answers_into_victoria_metrics():
    if not VICTORIA:
        print("  skipped: victoria-metrics not installed (apt-get install victoria-metrics)")
        return
    def vm_query(expr):
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (state["vm_port"], urllib.parse.urlencode({"query": expr}))
        with urllib.request.urlopen(url, timeout=TIMEOUT) as r:
            body = json.loads(r.read())
        assert body["status"] == "success", body
        return {r["metric"].get("host_ip", ""): float(r["value"][1]) for r in body["data"]["result"]}
    wait_until(lambda: vm_query('count(up{job="sflow",site="test"})') == {"": AGENTS},
               "the remote-written series in VictoriaMetrics", timeout=WAIT, interval=1)
    expr = "sum by (host_ip) (node_memory_MemTotal_bytes)"
    assert vm_query(expr) == series_by(expr, "host_ip")


@suite.test
def prometheus_and_the_senders_stop():
    stop_everything()


def stop_everything():
    for p in state.get("senders", []):
        stop_process(p)
    stop_process(state.get("vm"))  # first: its data is in Prometheus's directory
    if state.get("prometheus"):
        state["prometheus"].stop()


try:
    suite.run()
finally:
    stop_everything()
