"""The Prometheus endpoints through nginx: /metrics, /sflow-monitor/metrics, /metrics?target=,
/prometheus/targets; GET only; the Accept header picks OpenMetrics; promtool finds no error
in what they answer (docs/prometheus.md)."""

import json
import os
import re
import shutil
import subprocess

from harness import BUILD, Suite, wait_until

suite = Suite()
stack = suite.stack()
OPENMETRICS = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"


def get(path, accept="*/*"):
    return stack.http(method="GET", path=path, headers={"Accept": accept})


def promtool_errors(text):
    """promtool check metrics' complaints that are not the camelCase lint of node_exporter's
    own node_memory_* names."""
    if not shutil.which("promtool"):
        return []
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True)
    out = (r.stdout + r.stderr).decode().splitlines()
    bad = [l for l in out if l.strip() and not re.match(
        r"node_memory_\w+_bytes metric names should be written in 'snake_case' not 'camelCase'", l)]
    assert r.returncode in (0, 3), "promtool exit %d: %s" % (r.returncode, out)
    return bad


@suite.test
def two_hypervisors_with_vms_arrive():
    subprocess.run([os.path.join(BUILD, "sflow-gen"), "--hosts", "2", "--vms", "3", "--rounds", "3",
                    "--interval", "1000", "--quiet", "--dest", "127.0.0.1:%d" % stack.udp_port], check=True)
    wait_until(lambda: len(stack.result("virt.description")) == 6, "6 VMs")


@suite.test
def the_collectors_own_metrics_are_at_metrics_and_sflow_monitor_metrics():
    for path in ("/metrics", "/sflow-monitor/metrics"):
        status, headers, body = get(path)
        assert status == 200, status
        assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8", headers
        text = body.decode()
        n = stack.datagrams_received()
        assert re.search(r"^sflow_monitor_datagrams_received_total %d$" % n, text, re.M), text[:2000]
        assert 'sflow_monitor_agent_last_seen_timestamp_seconds{agent="10.0.0.2"} ' in text
        assert not promtool_errors(body), promtool_errors(body)


@suite.test
def a_target_is_one_hypervisor_and_its_vms():
    status, headers, body = get("/metrics?target=10.0.0.2")
    assert status == 200, status
    text = body.decode()
    hosts = set(re.findall(r'^node_memory_MemTotal_bytes\{host_ip="([^"]+)",hostname="([^"]+)"\}', text, re.M))
    assert hosts == {("10.0.0.2", "kvm-002")}, hosts
    vms = set(re.findall(r'^libvirt_domain_info_virtual_cpus\{host_ip="10.0.0.2",domain="([^"]+)"', text, re.M))
    assert vms == {"vm-002-01", "vm-002-02", "vm-002-03"}, vms
    assert not promtool_errors(body), promtool_errors(body)
    assert get("/metrics?target=192.0.2.77")[2] == b""
    assert get("/metrics?target=nonsense")[0] == 400


@suite.test
def openmetrics_when_the_scraper_asks_for_it():
    status, headers, body = get("/metrics?target=10.0.0.1", OPENMETRICS)
    assert status == 200
    assert headers["content-type"].startswith("application/openmetrics-text; version=1.0.0"), headers
    text = body.decode()
    assert text.endswith("# EOF\n")
    assert "# TYPE node_cpu_seconds counter\n" in text


@suite.test
def prometheus_targets_lists_every_hypervisor_at_the_address_asked():
    status, headers, body = get("/prometheus/targets")
    assert status == 200
    assert headers["content-type"] == "application/json"
    groups = json.loads(body)
    me = "127.0.0.1:%d" % stack.http_port
    assert all(g["targets"] == [me] for g in groups), groups
    assert [g["labels"].get("__param_target") for g in groups] == [None, "10.0.0.1", "10.0.0.2"], groups


@suite.test
def only_get_reaches_them():
    for path in ("/metrics", "/sflow-monitor/metrics", "/prometheus/targets"):
        for method in ("POST", "PUT", "DELETE"):
            status, headers, _ = stack.http(b"{}", method=method, path=path)
            assert status == 405 and headers.get("allow") == "GET", (path, method, status, headers)
    assert get("/metrics/x")[0] == 404


suite.run()
