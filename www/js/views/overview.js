// #/ — the cluster at a glance: totals, every host, every VM (cluster.status, one call).

import { batch } from '../api.js';
import { METHOD, STATUS, HOST, VM, TOTALS } from '../keys.js';
import { Table } from '../table.js';
import { escapeHtml as esc, pct, fixed, rate, integer, bytes, ratio, DASH } from '../format.js';
import { stateBadge, vmStateBadge } from './common.js';

export const title = 'Overview';

const hostLink = ip => '<a href="#/host/' + encodeURIComponent(ip) + '">' + esc(ip) + '</a>';
const vmLink = name => '<a href="#/vm/' + encodeURIComponent(name) + '">' + esc(name) + '</a>';

const HOST_COLUMNS = [
    { label: 'Host', field: HOST.ip, get: h => h[HOST.ip], html: (h, v) => hostLink(v) },
    { label: 'Hostname', field: HOST.hostname, get: h => h[HOST.hostname], html: (h, v) => esc(v || DASH) },
    { label: 'State', field: HOST.state, get: h => h[HOST.state], html: (h, v) => stateBadge(v) },
    { label: 'CPU', field: HOST.cpu, num: true, get: h => h[HOST.cpu], html: (h, v) => pct(v) },
    { label: 'Load', field: HOST.load, num: true, get: h => h[HOST.load], html: (h, v) => fixed(v) },
    { label: 'Memory used', field: HOST.mem, num: true, get: h => h[HOST.mem], html: (h, v) => pct(v) },
    { label: 'Disk max', field: HOST.disk, num: true, get: h => h[HOST.disk], html: (h, v) => pct(v) },
    { label: 'Net in', field: HOST.netIn, num: true, get: h => h[HOST.netIn], html: (h, v) => rate(v) },
    { label: 'Net out', field: HOST.netOut, num: true, get: h => h[HOST.netOut], html: (h, v) => rate(v) },
    // data-value of this cell is the number of names in the host's vms list.
    { label: 'VMs', field: HOST.vms, num: true, get: h => (h[HOST.vms] || []).length, html: (h, v) => integer(v) },
    { label: 'vCPU over-commit', field: HOST.vcpuOvercommit, num: true, get: h => h[HOST.vcpuOvercommit], html: (h, v) => ratio(v) },
];

export const VM_COLUMNS = [
    { label: 'VM', field: VM.hostname, get: v => v[VM.hostname], html: (v, x) => vmLink(x) },
    { label: 'Host', field: VM.host, get: v => v[VM.host], html: (v, x) => (x ? hostLink(x) : DASH) },
    { label: 'State', field: VM.state, get: v => v[VM.state], html: v => vmStateBadge(v[VM.state], v[VM.presence]) },
    { label: 'CPU', field: VM.cpu, num: true, get: v => v[VM.cpu], html: (v, x) => pct(x) },
    { label: 'vCPUs', field: VM.vcpus, num: true, get: v => v[VM.vcpus], html: (v, x) => integer(x) },
    { label: 'Memory', field: VM.memory, num: true, get: v => v[VM.memory], html: (v, x) => bytes(x) },
];

function card(label, value, detail) {
    return '<div class="card"><div class="label">' + label + '</div><div class="big">' + value +
        '</div><div class="detail">' + detail + '</div></div>';
}

const total = (t, key, html) =>
    '<span data-total="' + key + '" data-value="' + esc(JSON.stringify(t[key] === undefined ? null : t[key])) + '">' + html(t[key]) + '</span>';

function renderTotals(el, t) {
    el.innerHTML =
        card('Hosts', total(t, TOTALS.hosts, integer),
            total(t, TOTALS.up, v => stateBadge(v ? 'up' : 'none', integer(v) + ' up')) + ' ' +
            total(t, TOTALS.stale, v => stateBadge(v ? 'stale' : 'none', integer(v) + ' stale')) + ' ' +
            total(t, TOTALS.down, v => stateBadge(v ? 'down' : 'none', integer(v) + ' down'))) +
        card('VMs running', total(t, TOTALS.vmsRunning, integer),
            'of ' + total(t, TOTALS.vms, integer) + ' known') +
        card('vCPU over-commit', total(t, TOTALS.vcpuOvercommit, ratio),
            total(t, TOTALS.vcpus, integer) + ' vCPUs on ' + total(t, TOTALS.cpus, integer) + ' CPUs') +
        card('Memory over-commit', total(t, TOTALS.memOvercommit, ratio),
            total(t, TOTALS.vmMaxMemory, bytes) + ' for VMs of ' + total(t, TOTALS.memTotal, bytes));
}

export function mount(root) {
    root.innerHTML = '<h1>Cluster</h1><div class="cards" id="totals" aria-live="polite"></div>';
    const totals = root.querySelector('#totals');
    const hosts = new Table(root, {
        id: 'hosts', caption: 'Hosts', noun: 'hosts', columns: HOST_COLUMNS,
        rowAttrs: h => 'data-host-ip="' + esc(h[HOST.ip]) + '"',
    });
    const vms = new Table(root, {
        id: 'vms', caption: 'Virtual machines', noun: 'VMs', columns: VM_COLUMNS,
        rowAttrs: v => 'data-vm="' + esc(v[VM.hostname]) + '"',
    });
    return {
        refresh: true,
        async load() {
            const [status] = await batch([{ method: METHOD.status }]);
            renderTotals(totals, status[STATUS.totals] || {});
            hosts.setRows(status[STATUS.hosts] || []);
            await new Promise(resolve => setTimeout(resolve, 0));  // let the page breathe between the two
            vms.setRows(status[STATUS.vms] || []);
            root.dataset.timestamp = String(status[STATUS.timestamp]);
        },
    };
}
