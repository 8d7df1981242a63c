"""The spec's result keys (../shared/spec/api.md), in order, with the sflowtool name of each
field: the one mapping table the end-to-end tests share."""

# Per method: the sflowtool record and its field names mapped to our keys, in the spec's
# key order (after host_ip, timestamp[, hostname]).
HOST_SERIES = {
    "host.cpu": ("0:2003", [
        ("cpu_load_one", "cpu_load_one"), ("cpu_load_five", "cpu_load_five"),
        ("cpu_load_fifteen", "cpu_load_fifteen"), ("cpu_proc_run", "cpu_proc_run"),
        ("cpu_proc_total", "cpu_proc_total"), ("cpu_num", "cpu_num"),
        ("cpu_speed", "cpu_speed"), ("cpu_uptime", "cpu_uptime"), ("cpu_user", "cpu_user"),
        ("cpu_nice", "cpu_nice"), ("cpu_system", "cpu_system"), ("cpu_idle", "cpu_idle"),
        ("cpu_wio", "cpu_waiting_io"), ("cpuintr", "cpu_intr"), ("cpu_sintr", "cpu_sintr"),
        ("cpuinterrupts", "cpu_interrupts"), ("cpu_contexts", "cpu_contexts")]),
    "host.memory": ("0:2004", [(k, k) for k in (
        "mem_total", "mem_free", "mem_shared", "mem_buffers", "mem_cached", "swap_total",
        "swap_free", "page_in", "page_out", "swap_in", "swap_out")]),
    "host.disk": ("0:2005", [
        ("disk_total", "disk_total"), ("disk_free", "disk_free"),
        ("disk_partition_max_used", "part_max_used"), ("disk_reads", "reads"),
        ("disk_bytes_read", "bytes_read"), ("disk_read_time", "read_time"),
        ("disk_writes", "writes"), ("disk_bytes_written", "bytes_written"),
        ("disk_write_time", "write_time")]),
    "host.net": ("0:2006", [
        ("nio_bytes_in", "bytes_in"), ("nio_pkts_in", "packets_in"),
        ("nio_errs_in", "errs_in"), ("nio_drops_in", "drops_in"),
        ("nio_bytes_out", "bytes_out"), ("nio_pkts_out", "packets_out"),
        ("nio_errs_out", "errs_out"), ("nio_drops_out", "drops_out")]),
    "host.node": ("0:2100", [(k, k) for k in (
        "vnode_mhz", "vnode_cpus", "vnode_memory", "vnode_memory_free", "vnode_num_domains")]),
}
VM_SERIES = {
    "virt.cpu": ("0:2101", [
        ("vcpu_state", "vcpu_state"), ("vcpu_cpu_mS", "vcpu_cpu_time"),
        ("vcpu_cpuCount", "vcpu_cpu_count")]),
    "virt.memory": ("0:2102", [("vmem_memory", "vmem_memory"),
                               ("vmem_maxMemory", "vmem_max_memory")]),
    "virt.disk": ("0:2103", [(k, k) for k in (
        "vdsk_capacity", "vdsk_allocation", "vdsk_available", "vdsk_rd_req", "vdsk_rd_bytes",
        "vdsk_wr_req", "vdsk_wr_bytes", "vdsk_errs")]),
    "virt.net": ("0:2104", [
        ("vnio_bytes_in", "vnio_bytes_in"), ("vnio_pkts_in", "vnio_packets_in"),
        ("vnio_errs_in", "vnio_errs_in"), ("vnio_drops_in", "vnio_drops_in"),
        ("vnio_bytes_out", "vnio_bytes_out"), ("vnio_pkts_out", "vnio_packets_out"),
        ("vnio_errs_out", "vnio_errs_out"), ("vnio_drops_out", "vnio_drops_out")]),
}
MACHINE_TYPES = ["unknown", "other", "x86", "x86_64", "ia64", "sparc", "alpha", "powerpc",
                 "m68k", "mips", "arm", "hppa", "s390"]
OS_NAMES = ["unknown", "other", "linux", "windows", "darwin", "hpux", "aix", "dragonfly",
            "freebsd", "netbsd", "openbsd", "osf", "solaris"]


def keys(method):
    """Our metric keys of a series method, in the spec's order."""
    table = HOST_SERIES if method.startswith("host.") else VM_SERIES
    return [ours for _, ours in table[method][1]]

