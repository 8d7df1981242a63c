"""Stopping the service (SIGTERM) flushes what the ingest holds, and a new service on the same
data directory answers every query exactly as before."""

from harness import Suite, read_pcap, testdata, wait_until
from spec_keys import HOST_SERIES, VM_SERIES

suite = Suite()
# Flushes only on stop (or a full batch): what survives the first restart was flushed by it.
stack = suite.stack(options={"flush-ms": "60000"})

HOST, VMS = "192.0.2.2", ["db01", "web01"]
CPU_RECORDS = 27  # host samples in hsflowd-kvm.pcap (see ../shared/testdata/README.md)


def everything():
    out = {"host.description": stack.result("host.description"),
           "virt.description": stack.result("virt.description")}
    for m in HOST_SERIES:
        out[m] = stack.result(m, {"ip": HOST})
    for m in VM_SERIES:
        for vm in VMS:
            out[m + " " + vm] = stack.result(m, {"hostname": vm})
    return out


def restart():
    stack.stop_service()  # asserts exit status 0
    # later starts flush as usual: compaction (SFM_E2E_COMPACT_AFTER) leaves the samples of the
    # last 2 × flush-ms alone, which the receiver may still hold
    stack.options["flush-ms"] = "50"
    stack.start_service()
    wait_until(lambda: stack.call("host.description")[0] == 200, "the API after the restart")


snapshot = {}


@suite.test
def samples_received_before_sigterm_are_flushed_and_there_after_a_restart():
    datagrams = read_pcap(testdata("hsflowd-kvm.pcap"))
    stack.send_and_wait(datagrams)  # counted by the ingest; not yet due for a flush
    restart()
    stack.wait_compacted()  # what the restart flushed, compacted by the new service
    got = everything()
    assert len(got["host.cpu"]) == CPU_RECORDS, len(got["host.cpu"])
    for vm in VMS:
        assert len(got["virt.cpu " + vm]) == CPU_RECORDS, (vm, len(got["virt.cpu " + vm]))
    assert [h["host_ip"] for h in got["host.description"]] == [HOST]
    assert [v["hostname"] for v in got["virt.description"]] == VMS
    snapshot.update(got)


@suite.test
def every_record_is_still_there_after_another_restart():
    assert snapshot, "the previous test stored a snapshot"
    restart()
    got = everything()
    for k in snapshot:
        assert got[k] == snapshot[k], "%s differs after the restart" % k


if __name__ == "__main__":
    suite.run()
