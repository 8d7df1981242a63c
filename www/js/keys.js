// Every JSON-RPC method and result key the console reads, in one place: when the API renames
// a key (docs/api.md), this file is the only one to change. Views never spell a key
// themselves; they say HOST.cpu, not 'cpu_util_pct'.

export const METHOD = {
    status: 'cluster.status',
    hostDescription: 'host.description',
    virtDescription: 'virt.description',
    hostVms: 'host.vms',
    hostCpu: 'host.cpu',
    hostMemory: 'host.memory',
    hostDisk: 'host.disk',
    hostNet: 'host.net',
    virtCpu: 'virt.cpu',
    virtMemory: 'virt.memory',
    virtDisk: 'virt.disk',
    virtNet: 'virt.net',
    virtHistory: 'virt.history',
    stats: 'collector.stats',
    discover: 'rpc.discover',
};

// Parameters of the series methods.
export const PARAM = {
    ip: 'ip', hostname: 'hostname', from: 'from', to: 'to', limit: 'limit', step: 'step',
    derive: 'derive',
};

// cluster.status: result.hosts[], result.vms[], result.totals, result.timestamp.
export const STATUS = { hosts: 'hosts', vms: 'vms', totals: 'totals', timestamp: 'timestamp' };

export const HOST = {
    ip: 'host_ip',
    hostname: 'hostname',
    state: 'presence',
    lastSeen: 'last_seen_ms',
    cpuNum: 'cpu_num',
    cpu: 'cpu_util_pct',
    load: 'cpu_load_one',
    mem: 'mem_used_pct',
    disk: 'part_max_used_pct',
    netIn: 'bytes_in_per_s',
    netOut: 'bytes_out_per_s',
    vms: 'vms',
    vcpuOvercommit: 'vcpu_overcommit_ratio',
    memOvercommit: 'mem_overcommit_ratio',
};

// cluster.status's vms[] and host.vms.
export const VM = {
    hostname: 'hostname',
    host: 'host_ip',
    state: 'state',
    presence: 'presence',
    cpu: 'vcpu_util_pct',
    vcpus: 'vcpu_cpu_count',
    memory: 'vmem_memory_bytes',
    maxMemory: 'vmem_max_memory_bytes',
    lastSeen: 'last_seen_ms',
};

export const TOTALS = {
    hosts: 'hosts', up: 'hosts_up', stale: 'hosts_stale', down: 'hosts_down', vms: 'vms',
    vmsRunning: 'vms_running', cpus: 'cpu_num', vcpus: 'vcpu_cpu_count', memTotal: 'mem_total_bytes',
    vmMaxMemory: 'vmem_max_memory_bytes', vcpuOvercommit: 'vcpu_overcommit_ratio',
    memOvercommit: 'mem_overcommit_ratio',
};

// Series records (host.*, virt.*; derived keys with derive: true).
export const SERIES = {
    timestamp: 'timestamp',
    flags: 'flags',
    reset: 'reset',
    gap: 'gap',
    cpuModes: [  // stacked: every mode but idle
        ['cpu_user_pct', 'user'], ['cpu_nice_pct', 'nice'], ['cpu_system_pct', 'system'],
        ['cpu_waiting_io_pct', 'I/O wait'], ['cpu_intr_pct', 'irq'],
        ['cpu_sintr_pct', 'softirq'], ['cpu_steal_pct', 'steal'],
    ],
    load: [['cpu_load_one', '1 min'], ['cpu_load_five', '5 min'], ['cpu_load_fifteen', '15 min']],
    memTotal: 'mem_total', memFree: 'mem_free', memCached: 'mem_cached',
    memBuffers: 'mem_buffers',
    disk: [['bytes_read_per_s', 'read'], ['bytes_written_per_s', 'write']],
    net: [['bytes_in_per_s', 'in'], ['bytes_out_per_s', 'out']],
    vcpu: [['vcpu_util_pct', 'vCPU']],
    vmemory: [['vmem_memory', 'memory'], ['vmem_max_memory', 'max memory']],
    vdisk: [['vdsk_rd_bytes_per_s', 'read'], ['vdsk_wr_bytes_per_s', 'write']],
    vnet: [['vnio_bytes_in_per_s', 'in'], ['vnio_bytes_out_per_s', 'out']],
};

export const DESCRIPTION = { ip: 'host_ip', hostname: 'hostname', osRelease: 'os_release' };

// virt.history entries.
export const HISTORY = { host: 'host_ip', from: 'from', to: 'to', samples: 'samples' };

// collector.stats.
export const STATS = {
    version: 'version',
    uptime: 'uptime_ms',
    received: 'datagrams_received',
    decoded: 'datagrams_decoded',
    rejected: 'datagrams_rejected',   // an object: reason → count
    kernelDrops: 'kernel_drops',
    samplesStored: 'samples_stored',
    backlogDropped: 'samples_backlog_dropped',
    pauses: 'receiver_pauses',
    storeErrors: 'store_errors',
    purged: 'samples_purged',
    store: 'store',
    mapSize: 'map_size_bytes',
    usedBytes: 'used_bytes',
    mapUsedPct: 'map_used_pct',
    storeSamples: 'samples',
    entities: 'entities',
    oldest: 'oldest_ms',
    agents: 'agents',
    agent: 'agent',
    agentLastSeen: 'last_seen_ms',
    agentDatagrams: 'datagrams',
    subAgents: 'sub_agents',
    subAgentId: 'sub_agent_id',
    lastSequence: 'last_sequence',
    lost: 'lost_datagrams',
    resets: 'sequence_resets',
};
