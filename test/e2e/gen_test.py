"""sflow-gen traffic (several hypervisors with VMs, one VM migrating) sent over UDP to the
service, compared two ways:

- with the --expect file sflow-gen writes of what each sample holds. That file comes from the
  same record structs and JsonWriter as the service's answers: a round trip, which catches
  loss, reordering and mix-ups between hosts, not a field the structs got wrong on both sides;
- with the same datagrams written to a pcap and walked here by hand, XDR item by item, from
  ../shared/spec/sflow-host.md, against hand-written values (version 5, sub-agent 100001,
  sources 2:1 and 3:100000+k, hsflowd's record order, the 80-byte host_cpu, ...): an
  independent oracle for the wire format and for host.cpu and host.memory field by field."""

import ipaddress
import os
import struct
import subprocess

import harness
from harness import Suite, read_jsonl, wait_until
from spec_keys import keys

suite = Suite()
stack = suite.stack()

# method -> the record (sflow-gen's --expect names them as records.h does)
HOST_METHODS = {"host.cpu": "host_cpu", "host.memory": "host_memory", "host.disk": "host_disk_io",
                "host.net": "host_net_io", "host.node": "virt_node"}
VM_METHODS = {"virt.cpu": "virt_cpu", "virt.memory": "virt_memory", "virt.disk": "virt_disk_io",
              "virt.net": "virt_net_io"}
# the spec's host.description keys, in order, all from host_descr
DESCRIPTION_KEYS = ["hostname", "machine_type", "os_name", "os_release"]

expect = []
GEN_ARGS = ["--hosts", "3", "--vms", "2", "--rounds", "6", "--migrate", "--start-near-wrap",
            "--seed", "7"]


@suite.test
def every_generated_datagram_is_received():
    path = os.path.join(stack.dir, "expect.jsonl")
    before = stack.datagrams_received()
    subprocess.run([os.path.join(harness.BUILD, "sflow-gen")] + GEN_ARGS +
                   ["--dest", "127.0.0.1:%d" % stack.udp_port, "--expect", path, "--quiet"],
                   check=True, timeout=harness.TIMEOUT)
    expect.extend(read_jsonl(path))
    n = max(s["datagram"] for s in expect) + 1
    wait_until(lambda: stack.datagrams_received() >= before + n, "%d datagrams" % n)
    # and every sample is stored: the last host and VM sample of each entity is visible
    for method, rec in HOST_METHODS.items():
        for agent in agents():
            want = len(host_samples(agent, rec))
            wait_until(lambda: len(stack.result(method, {"ip": agent})) == want,
                       "%d %s records of %s" % (want, method, agent))
    for method, rec in VM_METHODS.items():
        for vm in vms():
            want = len(vm_samples(vm, rec))
            wait_until(lambda: len(stack.result(method, {"hostname": vm})) == want,
                       "%d %s records of %s" % (want, method, vm))
    stack.wait_compacted()  # under compacted_test.py: what follows reads chunks


def agents():
    return sorted({s["agent"] for s in expect if s["kind"] == "host"},
                  key=lambda a: tuple(int(x) for x in a.split(".")))


def vms():
    return sorted({s["name"] for s in expect if s["kind"] == "vm"})


def host_samples(agent, rec):
    return [s for s in expect if s["kind"] == "host" and s["agent"] == agent and rec in s["records"]]


def vm_samples(vm, rec):
    return [s for s in expect if s["kind"] == "vm" and s["name"] == vm and rec in s["records"]]


def same_records(what, got, want):
    """got (API records, timestamp dropped) == want, or an error naming the first difference."""
    got = [{k: v for k, v in g.items() if k != "timestamp"} for g in got]
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, "%s: record %d of %d differs:\n got %s\nwant %s" % (what, i, len(want), g, w)
    assert len(got) == len(want), "%s: %d records, want %d" % (what, len(got), len(want))


@suite.test
def host_series_hold_exactly_the_generated_values():
    for method, rec in HOST_METHODS.items():
        for agent in agents():
            got = stack.result(method, {"ip": agent})
            want = [dict([("host_ip", agent)] + [(k, s["records"][rec][k]) for k in keys(method)])
                    for s in host_samples(agent, rec)]
            same_records("%s %s" % (method, agent), got, want)
            assert all(list(g)[:2] == ["host_ip", "timestamp"] for g in got)


@suite.test
def vm_series_hold_exactly_the_generated_values_with_the_reporting_hypervisor():
    for method, rec in VM_METHODS.items():
        for vm in vms():
            got = stack.result(method, {"hostname": vm})
            want = [dict([("host_ip", s["agent"]), ("hostname", vm)] +
                         [(k, s["records"][rec][k]) for k in keys(method)])
                    for s in vm_samples(vm, rec)]
            same_records("%s %s" % (method, vm), got, want)


@suite.test
def host_description_has_each_generated_hypervisor():
    want = []
    for agent in agents():
        d = [s for s in expect if s["kind"] == "host" and s["agent"] == agent][-1]["records"]["host_descr"]
        want.append(dict([("host_ip", agent)] + [(k, d[k]) for k in DESCRIPTION_KEYS]))
    assert stack.result("host.description") == want


@suite.test
def a_migrated_vm_is_described_on_its_new_host_and_its_series_shows_both():
    moved = [vm for vm in vms() if len({s["agent"] for s in vm_samples(vm, "virt_cpu")}) > 1]
    assert len(moved) == 1, "sflow-gen --migrate moves one VM: %s" % moved
    vm = moved[0]
    samples = vm_samples(vm, "virt_cpu")
    old, new = samples[0]["agent"], samples[-1]["agent"]
    desc = {d["hostname"]: d["host_ip"] for d in stack.result("virt.description")}
    assert desc[vm] == new, desc
    assert sorted(desc) == vms()
    seen = [r["host_ip"] for r in stack.result("virt.cpu", {"hostname": vm})]
    assert seen[0] == old and seen[-1] == new, seen


def cpu_util(prev, cur):
    """Busy share of all modes (steal included) between two host_cpu records, 32-bit modular."""
    d = {k: (cur[k] - prev[k]) % 2**32 for k in ("cpu_user", "cpu_nice", "cpu_system", "cpu_idle",
                                               "cpu_waiting_io", "cpu_intr", "cpu_sintr", "cpu_steal")}
    return 100.0 * (sum(d.values()) - d["cpu_idle"] - d["cpu_waiting_io"]) / sum(d.values())


@suite.test
def cluster_status_and_derived_series_match_utilisation_computed_from_the_generated_counters():
    status = stack.result("cluster.status")
    hosts = {h["host_ip"]: h for h in status["hosts"]}
    assert sorted(hosts) == agents(), hosts
    last_vm = {}  # VM name -> its newest sample
    for s in expect:
        if s["kind"] == "vm":
            last_vm[s["name"]] = s
    for agent in agents():
        cpus = [s["records"]["host_cpu"] for s in host_samples(agent, "host_cpu")]
        want = cpu_util(cpus[-2], cpus[-1])  # --start-near-wrap: the counters wrap on the way
        h = hosts[agent]
        assert abs(h["cpu_util_pct"] - want) <= 0.01, (agent, h["cpu_util_pct"], want)
        m = [s["records"]["host_memory"] for s in host_samples(agent, "host_memory")][-1]
        used = 100.0 * (m["mem_total"] - m["mem_free"] - m["mem_buffers"] - m["mem_cached"]) / m["mem_total"]
        assert abs(h["mem_used_pct"] - used) <= 0.01, (agent, h["mem_used_pct"], used)
        on_it = sorted(n for n, s in last_vm.items() if s["agent"] == agent)
        assert sorted(h["vms"]) == on_it, (agent, h["vms"], on_it)
        vcpus = sum(last_vm[n]["records"]["virt_cpu"]["vcpu_cpu_count"] for n in on_it)
        assert abs(h["vcpu_overcommit_ratio"] - vcpus / cpus[-1]["cpu_num"]) <= 0.01, (agent, h)
        derived = stack.result("host.cpu", {"ip": agent, "derive": True})
        assert "cpu_util_pct" not in derived[0] and "flags" not in derived[0]
        for i in range(1, len(derived)):
            assert abs(derived[i]["cpu_util_pct"] - cpu_util(cpus[i - 1], cpus[i])) <= 0.001, (agent, i)
            assert derived[i]["flags"] == [], derived[i]
    assert status["totals"]["hosts"] == len(agents())
    assert status["totals"]["vms"] == len(vms())


def newest_vm_samples():
    last = {}  # VM name -> its newest sample
    for s in expect:
        if s["kind"] == "vm":
            last[s["name"]] = s
    return last


@suite.test
def cluster_status_filters_keep_only_the_hosts_states_and_vms_asked_for():
    last_vm = newest_vm_samples()
    full = stack.result("cluster.status")
    for asked in ([agents()[1]], agents()[1], [agents()[2], "192.0.2.99", agents()[0], agents()[2]]):
        listed = [asked] if isinstance(asked, str) else asked
        got = stack.result("cluster.status", {"hosts": asked})
        want_hosts = [a for a in agents() if a in listed]
        want_vms = sorted(n for n, s in last_vm.items() if s["agent"] in listed)
        assert [h["host_ip"] for h in got["hosts"]] == want_hosts, (asked, got["hosts"])
        assert [v["hostname"] for v in got["vms"]] == want_vms, (asked, got["vms"])
        assert got["totals"]["hosts"] == len(want_hosts) and got["totals"]["vms"] == len(want_vms), got["totals"]
        for h in got["hosts"]:  # a host's own entry is as in the whole answer
            assert sorted(h["vms"]) == sorted(n for n, s in last_vm.items() if s["agent"] == h["host_ip"]), h
    nothing = stack.result("cluster.status", {"hosts": ["192.0.2.99"]})
    assert nothing["hosts"] == [] and nothing["vms"] == [] and nothing["totals"]["vms"] == 0, nothing
    lean = stack.result("cluster.status", {"include_vms": False})
    assert list(lean) == ["hosts", "totals", "timestamp"], list(lean)
    assert [h["host_ip"] for h in lean["hosts"]] == agents()
    assert lean["totals"]["vms"] == len(vms()) == len(full["vms"]), lean["totals"]
    # state: where two whole answers around the filtered one agree on an entity's presence and
    # state, the filtered answer has it exactly when one of them is asked for
    for asked in (["up"], ["down", "stale"], ["running"], "up", ["crashed", "down"]):
        listed = [asked] if isinstance(asked, str) else asked
        before = stack.result("cluster.status")
        got = stack.result("cluster.status", {"state": asked})
        after = stack.result("cluster.status")
        shown_hosts = {h["host_ip"] for h in got["hosts"]}
        shown_vms = {v["hostname"] for v in got["vms"]}
        assert all(h["presence"] in listed for h in got["hosts"]), (asked, got["hosts"])
        assert all(v["presence"] in listed or v["state"] in listed for v in got["vms"]), (asked, got["vms"])
        for b, a in zip(before["hosts"], after["hosts"]):
            if b["presence"] == a["presence"]:
                assert (b["host_ip"] in shown_hosts) == (b["presence"] in listed), (asked, b)
        for b, a in zip(before["vms"], after["vms"]):
            if (b["presence"], b["state"]) == (a["presence"], a["state"]):
                assert (b["hostname"] in shown_vms) == (b["presence"] in listed or b["state"] in listed), (asked, b)
        assert got["totals"]["hosts"] == len(got["hosts"]) and got["totals"]["vms"] == len(got["vms"])
    assert len(stack.result("cluster.status", {"state": ["up"]})["hosts"]) == len(agents())  # sent just now


@suite.test
def virt_history_shows_the_migration_and_host_vms_the_vms_now():
    moved = [vm for vm in vms() if len({s["agent"] for s in vm_samples(vm, "virt_cpu")}) > 1][0]
    hist = stack.result("virt.history", {"hostname": moved})
    agents_in_order = []
    for s in vm_samples(moved, "virt_cpu"):
        if not agents_in_order or agents_in_order[-1] != s["agent"]:
            agents_in_order.append(s["agent"])
    assert [h["host_ip"] for h in hist] == agents_in_order, hist
    assert sum(h["samples"] for h in hist) == len(vm_samples(moved, "virt_cpu"))
    new_host = agents_in_order[-1]
    assert moved in [v["hostname"] for v in stack.result("host.vms", {"ip": new_host})]
    assert moved not in [v["hostname"] for v in stack.result("host.vms", {"ip": agents_in_order[0]})]


# ---- the independent reading: the spec's XDR, walked by hand --------------------------------

# host_cpu and host_memory as sflow-host.md lays them out (f = f32, I = u32, Q = u64), named by
# the API's keys (spec_keys.py, in the spec's order); host_cpu's last three (steal, guest,
# guest_nice) come only in the 80-byte form and the API does not show them.
HOST_CPU_XDR = ">fff" + "I" * 14
HOST_CPU_80_XDR = HOST_CPU_XDR + "III"
HOST_MEMORY_XDR = ">" + "Q" * 7 + "I" * 4
HOST_RECORDS = [2100, 2001, 2010, 2009, 2008, 2007, 2005, 2004, 2003, 2006, 2000]  # hsflowd's order
VM_RECORDS = [2001, 2103, 2102, 2101, 2104, 2002, 2000]
pcap_datagrams = []


def xdr_string(b, pos):
    n = struct.unpack_from(">I", b, pos)[0]
    return b[pos + 4:pos + 4 + n].decode(), pos + 4 + (n + 3) // 4 * 4


def walk(payload):
    """One datagram by the spec: its header and samples, each with its records' raw bytes."""
    version, addr_type = struct.unpack_from(">II", payload, 0)
    assert version == 5 and addr_type == 1, (version, addr_type)
    d = {"agent": str(ipaddress.ip_address(payload[8:12])), "samples": []}
    d["sub_agent"], d["sequence"], d["uptime"], n = struct.unpack_from(">IIII", payload, 12)
    pos = 28
    for _ in range(n):
        fmt, length = struct.unpack_from(">II", payload, pos)
        body = payload[pos + 8:pos + 8 + length]
        pos += 8 + length
        assert fmt == 4, "an expanded counter sample (0:4), as hsflowd sends: %d" % fmt
        seq, cls, idx, nrec = struct.unpack_from(">IIII", body, 0)
        at, records = 16, []
        for _ in range(nrec):
            rfmt, rlen = struct.unpack_from(">II", body, at)
            records.append((rfmt, body[at + 8:at + 8 + rlen]))
            at += 8 + rlen
        assert at == len(body), "the records fill the sample exactly"
        d["samples"].append({"sequence": seq, "source": (cls, idx), "records": records})
    assert pos == len(payload) and len(payload) <= 1400, len(payload)
    return d


@suite.test
def the_generated_datagrams_have_the_spec_and_hsflowd_framing_read_by_hand():
    path = os.path.join(stack.dir, "gen.pcap")
    subprocess.run([os.path.join(harness.BUILD, "sflow-gen")] + GEN_ARGS + ["--pcap", path],
                   check=True, timeout=harness.TIMEOUT)
    pcap_datagrams.extend(walk(p) for p in harness.read_pcap(path))
    assert len(pcap_datagrams) == max(s["datagram"] for s in expect) + 1
    assert sorted({d["agent"] for d in pcap_datagrams}) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    last_seq, hosts = {}, 0
    for d in pcap_datagrams:
        assert d["sub_agent"] == 100001
        assert d["sequence"] == last_seq.get(d["agent"], 0) + 1, d  # per agent, from 1
        last_seq[d["agent"]] = d["sequence"]
        for s in d["samples"]:
            formats = [f for f, _ in s["records"]]
            recs = dict(s["records"])
            if s["source"] == (2, 1):  # the host
                hosts += 1
                assert formats == HOST_RECORDS, formats
                assert len(recs[2003]) == 80  # hsflowd's host_cpu, with steal, guest, guest_nice
                cpu = struct.unpack(HOST_CPU_80_XDR, recs[2003])
                assert cpu[7] == d["uptime"] // 1000, (cpu[7], d["uptime"])  # uptime in s
                name, at = xdr_string(recs[2000], 0)
                assert name == "kvm-%03d" % int(d["agent"].split(".")[3]), name
                assert struct.unpack_from(">II", recs[2000], at + 16) == (3, 2)  # x86_64, linux
            else:  # a VM: logical entity 3, index 100000 + k
                assert s["source"][0] == 3 and s["source"][1] > 100000, s["source"]
                assert formats == VM_RECORDS, formats
                assert struct.unpack(">II", recs[2002]) == (2, 1)  # its parent: the host's 2:1
                assert struct.unpack(">I", recs[2101][:4])[0] == 1  # running
                assert xdr_string(recs[2000], 0)[0].startswith("vm-")
    assert hosts == 3 * 6


def host_records(agent, fmt):
    return [dict(s["records"])[fmt] for d in pcap_datagrams if d["agent"] == agent
            for s in d["samples"] if s["source"] == (2, 1)]


def same_as_xdr(method, xdr, fmt):
    names = keys(method)
    for agent in agents():
        got = stack.result(method, {"ip": agent})
        raw = host_records(agent, fmt)
        assert len(got) == len(raw) == 6, (method, agent, len(got), len(raw))
        for i, (g, r) in enumerate(zip(got, raw)):
            assert list(g) == ["host_ip", "timestamp"] + names, list(g)
            want = struct.unpack_from(xdr, r)
            # a float is right when it packs back to the same 4 bytes
            as_sent = tuple(struct.unpack(">f", struct.pack(">f", g[k]))[0] if t == "f" else g[k]
                            for k, t in zip(names, xdr[1:]))
            assert as_sent == want, "%s %s record %d:\n got %s\nwant %s" % (method, agent, i, as_sent, want)


@suite.test
def host_cpu_and_host_memory_hold_the_values_read_by_hand_from_the_datagrams():
    same_as_xdr("host.cpu", HOST_CPU_XDR, 2003)
    same_as_xdr("host.memory", HOST_MEMORY_XDR, 2004)


if __name__ == "__main__":
    suite.run()
