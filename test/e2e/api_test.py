"""Every method of the API through nginx, on the real hsflowd captures, compared with
sflowtool's decodes of the same captures (../shared/testdata)."""

import time

from harness import Suite, read_jsonl, testdata, wait_until
from spec_keys import HOST_SERIES, MACHINE_TYPES, OS_NAMES, VM_SERIES

suite = Suite()
stack = suite.stack()

# Two agents: 192.0.2.2 (kvm) then 198.51.100.2 (kvm-ifpoll); the VMs web01 and db01 are in
# both, so they show up on one hypervisor and then the other.
CAPTURES = ["hsflowd-kvm.pcap", "hsflowd-kvm-ifpoll.pcap"]
HOSTS = ["192.0.2.2", "198.51.100.2"]
VMS = ["db01", "web01"]


def decoded_samples():
    """(agent, 'host' or 'vm', vm hostname, {record tag: sflowtool element}) in replay order."""
    out = []
    for cap in CAPTURES:
        for dg in read_jsonl(testdata(cap.replace(".pcap", ".sflowtool.jsonl"))):
            for s in dg["samples"]:
                records = {e["counterBlock_tag"]: e for e in s["elements"]}
                ds_class = s["sourceId"].split(":")[0]
                if ds_class == "2":
                    out.append((dg["agent"], "host", None, records))
                elif ds_class == "3" and "0:2000" in records:
                    out.append((dg["agent"], "vm", records["0:2000"]["hostname"], records))
    return out


SAMPLES = decoded_samples()


def value(text):
    return float(text) if "." in text else int(text)


def expected_series(kind, name, tag, mapping):
    """The records one method must return for a host (by agent) or VM, oldest first."""
    rows = []
    for agent, k, vm, records in SAMPLES:
        if k != kind or (agent if kind == "host" else vm) != name or tag not in records:
            continue
        rows.append((agent, {ours: value(records[tag][theirs]) for theirs, ours in mapping}))
    return rows


def check_series(got, expected, lead_keys, t_from, t_to):
    assert len(got) == len(expected), "%d records, expected %d" % (len(got), len(expected))
    last_t = 0
    for i, (rec, (agent, values)) in enumerate(zip(got, expected)):
        keys = list(rec.keys())
        assert keys == lead_keys + list(values), "record %d keys %s" % (i, keys)
        assert rec["host_ip"] == agent, "record %d host_ip %s, expected %s" % (i, rec["host_ip"], agent)
        t = rec["timestamp"]
        assert isinstance(t, int) and t_from <= t <= t_to and t >= last_t, \
            "record %d timestamp %r outside [%d, %d] or out of order" % (i, t, t_from, t_to)
        last_t = t
        for k, v in values.items():
            assert rec[k] == v and type(rec[k]) == type(v), \
                "record %d %s = %r, sflowtool says %r" % (i, k, rec[k], v)


times = {}


@suite.test
def every_sample_of_the_replayed_captures_becomes_visible_through_the_api():
    times["from"] = int(time.time() * 1000)
    for cap in CAPTURES:
        stack.replay(cap)
    for method, (tag, mapping) in HOST_SERIES.items():
        for ip in HOSTS:
            n = len(expected_series("host", ip, tag, mapping))
            wait_until(lambda: len(stack.result(method, {"ip": ip})) == n,
                       "%d %s records of %s" % (n, method, ip))
    for method, (tag, mapping) in VM_SERIES.items():
        for vm in VMS:
            n = len(expected_series("vm", vm, tag, mapping))
            wait_until(lambda: len(stack.result(method, {"hostname": vm})) == n,
                       "%d %s records of %s" % (n, method, vm))
    times["to"] = int(time.time() * 1000)
    stack.wait_compacted()  # under compacted_test.py: what follows reads chunks


@suite.test
def host_description_lists_each_agent_with_its_host_descr_sorted_by_host_ip():
    expected = []
    for ip in HOSTS:
        d = [r["0:2000"] for a, k, _, r in SAMPLES if a == ip and k == "host"][-1]
        expected.append({"host_ip": ip, "hostname": d["hostname"],
                         "machine_type": MACHINE_TYPES[int(d["machine_type"])],
                         "os_name": OS_NAMES[int(d["os_name"])],
                         "os_release": d.get("os_release", "")})
    for path in ("/sflow-monitor/api", "/api"):
        status, resp, text = stack.call("host.description", path=path)
        got = resp["result"]
        assert got == expected, got
        assert [list(h) for h in got] == [list(h) for h in expected], "key order: %s" % text
        assert stack.proxy(path).host.description() == expected
    assert expected[0]["machine_type"] == "x86_64" and expected[0]["os_name"] == "linux"


def make_series_test(method, kind, tag, mapping):
    param = "ip" if kind == "host" else "hostname"
    names = HOSTS if kind == "host" else VMS

    def test():
        for name in names:
            expected = expected_series(kind, name, tag, mapping)
            assert expected, "the capture has %s records for %s" % (tag, name)
            if kind == "vm":  # hostname comes right after host_ip, timestamp
                expected = [(a, dict([("hostname", name)] + list(v.items()))) for a, v in expected]
            for path in ("/sflow-monitor/api", "/api"):
                status, resp, text = stack.call(method, {param: name}, path=path)
                check_series(resp["result"], expected, ["host_ip", "timestamp"],
                             times["from"], times["to"])
                proxy = stack.proxy(path)
                via_proxy = getattr(getattr(proxy, method.split(".")[0]),
                                    method.split(".")[1])(**{param: name})
                assert via_proxy == resp["result"], "ServerProxy got other records"
    test.__name__ = ("%s returns every %s record of the capture with sflowtool's values in the "
                     "spec's key order, on both paths" % (method, tag)).replace(" ", "_")
    return test


for m, (tag, mapping) in HOST_SERIES.items():
    suite.test(make_series_test(m, "host", tag, mapping))
for m, (tag, mapping) in VM_SERIES.items():
    suite.test(make_series_test(m, "vm", tag, mapping))


STEPPED = [(m, "ip", n) for m in HOST_SERIES for n in HOSTS] + \
          [(m, "hostname", n) for m in VM_SERIES for n in VMS]


@suite.test
def a_stepped_series_is_each_steps_last_record_with_its_count_and_derives_as_the_raw_series():
    rng = {"from": times["from"], "to": times["to"]}
    for method, param, name in STEPPED:
        raw = stack.result(method, dict(rng, **{param: name}))
        raw_derived = stack.result(method, dict(rng, derive=True, **{param: name}))
        for step in (1, 7, "1s"):
            ms = 1000 if step == "1s" else step
            got = stack.result(method, dict(rng, step=step, **{param: name}))
            steps = {}
            for r in raw:
                steps.setdefault((r["timestamp"] - 1) // ms, []).append(r)
            expected = [dict(rs[-1], samples=len(rs)) for _, rs in sorted(steps.items())]
            assert got == expected, (method, name, step, got[:2], expected[:2])
        # derive: each step's extremes are those of the raw series' records in it (the
        # intervals ending in the step), its flags theirs, and its rates lie between them
        for step in (7, 50):
            got = stack.result(method, dict(rng, step=step, derive=True, **{param: name}))
            steps = {}
            for r in raw_derived:
                steps.setdefault((r["timestamp"] - 1) // step, []).append(r)
            assert len(got) == len(steps), (method, name, step)
            for rec, (_, rs) in zip(got, sorted(steps.items())):
                assert rec["samples"] == len(rs)
                derived = sorted({k for r in rs for k, v in r.items()
                                  if k.endswith(("_pct", "_per_s")) and isinstance(v, (int, float))})
                for k in derived:
                    vals = [r[k] for r in rs if k in r]
                    assert rec[k + "_min"] == min(vals) and rec[k + "_max"] == max(vals), \
                        (method, name, step, k, rec, vals)
                    if k in rec:
                        assert min(vals) - 0.001 <= rec[k] <= max(vals) + 0.001, (method, k, rec, vals)
                extremes = {k[:-4] for k in rec if k.endswith(("_min", "_max"))}
                assert extremes == set(derived), (method, extremes, derived)
                flags = {f for r in rs for f in r.get("flags", [])}
                assert set(rec.get("flags", [])) == flags, (method, rec, flags)


@suite.test
def floats_are_written_as_the_shortest_decimal_of_the_32_bit_value():
    _, _, text = stack.call("host.cpu", {"ip": "192.0.2.2"})
    first = SAMPLES[[k for _, k, _, _ in SAMPLES].index("host")][3]["0:2003"]
    assert first["cpu_load_one"] == "0.790", "the capture starts with load 0.79"
    assert '"cpu_load_one":0.79,' in text.replace(" ", ""), text[:300]
    _, _, text = stack.call("host.disk", {"ip": "192.0.2.2"})
    assert '"part_max_used":68.63,' in text.replace(" ", ""), text[:300]


@suite.test
def virt_description_lists_each_vm_on_the_hypervisor_it_was_last_seen_on():
    expected = [{"host_ip": "198.51.100.2", "hostname": "db01"},
                {"host_ip": "198.51.100.2", "hostname": "web01"}]
    for path in ("/sflow-monitor/api", "/api"):
        got = stack.result("virt.description", path=path)
        assert got == expected and [list(v) for v in got] == [list(v) for v in expected], got
        assert stack.proxy(path).virt.description() == expected


@suite.test
def a_vm_series_shows_both_hypervisors_it_was_reported_by():
    got = stack.result("virt.cpu", {"hostname": "web01"})
    seen = [r["host_ip"] for r in got]
    assert seen[0] == "192.0.2.2" and seen[-1] == "198.51.100.2", seen
    assert sorted(set(seen)) == HOSTS


@suite.test
def the_window_is_the_ten_minutes_up_to_and_including_timestamp():
    full = stack.result("host.cpu", {"ip": "192.0.2.2"})
    stamps = [r["timestamp"] for r in full]
    mid = stamps[len(stamps) // 2]
    upto_mid = [r for r in full if r["timestamp"] <= mid]
    assert stack.result("host.cpu", {"ip": "192.0.2.2", "timestamp": mid}) == upto_mid
    assert stack.result("host.cpu", {"ip": "192.0.2.2", "timestamp": str(mid)}) == upto_mid
    assert stack.result("host.cpu", ["192.0.2.2", mid]) == upto_mid
    assert stack.result("host.cpu", {"ip": "192.0.2.2", "timestamp": stamps[0] - 1}) == []
    # the lower bound is exclusive: timestamp - 600000 < t
    later = [r for r in full if r["timestamp"] > stamps[0]]
    assert stack.result("host.cpu", {"ip": "192.0.2.2",
                                     "timestamp": stamps[0] + 600000}) == later
    assert stack.result("host.cpu", {"ip": "192.0.2.2",
                                     "timestamp": stamps[-1] + 600000 - 1}) == \
        [r for r in full if r["timestamp"] == stamps[-1]]
    assert stack.result("host.cpu", {"ip": "192.0.2.2",
                                     "timestamp": stamps[-1] + 600000}) == []
    vm = stack.result("virt.memory", {"hostname": "db01"})
    t = vm[0]["timestamp"]
    assert stack.result("virt.memory", ["db01", t]) == [r for r in vm if r["timestamp"] <= t]


@suite.test
def positional_parameters_give_the_same_records_as_named_ones():
    assert stack.result("host.memory", ["198.51.100.2"]) == \
        stack.result("host.memory", {"ip": "198.51.100.2"})
    assert stack.result("virt.disk", ["web01"]) == stack.result("virt.disk", {"hostname": "web01"})


@suite.test
def an_unknown_host_or_vm_has_no_records():
    for method in HOST_SERIES:
        assert stack.result(method, {"ip": "203.0.113.9"}) == []
        assert stack.result(method, {"ip": "2001:db8::9"}) == []
    for method in VM_SERIES:
        assert stack.result(method, {"hostname": "no-such-vm"}) == []
    assert stack.proxy("/api").host.cpu(ip="203.0.113.9") == []


@suite.test
def a_host_is_named_by_the_ipv6_agent_address_in_rfc_5952_form():
    import harness
    dg = harness.read_pcap(testdata("hsflowd-host.pcap"))[0]
    # agent address type 1 (IPv4) at offset 4, address at 8: rewrite as IPv6 2001:db8::2
    v6 = dg[:4] + b"\x00\x00\x00\x02" + bytes.fromhex("20010db8000000000000000000000002") + dg[12:]
    stack.send_and_wait([v6])
    wait_until(lambda: stack.result("host.cpu", {"ip": "2001:db8::2"}), "the IPv6 host's record")
    stack.wait_compacted()
    hosts = [h["host_ip"] for h in stack.result("host.description")]
    assert "2001:db8::2" in hosts, hosts


if __name__ == "__main__":
    suite.run()
