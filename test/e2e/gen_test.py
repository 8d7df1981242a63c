"""sflow-gen traffic (several hypervisors with VMs, one VM migrating) sent over UDP to the
service, compared with the --expect file sflow-gen writes of what each sample holds."""

import os
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


@suite.test
def every_generated_datagram_is_received():
    path = os.path.join(stack.dir, "expect.jsonl")
    before = stack.datagrams_received()
    subprocess.run([os.path.join(harness.BUILD, "sflow-gen"), "--hosts", "3", "--vms", "2",
                    "--rounds", "6", "--migrate", "--start-near-wrap", "--seed", "7",
                    "--dest", "127.0.0.1:%d" % stack.udp_port, "--expect", path, "--quiet"],
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


if __name__ == "__main__":
    suite.run()
