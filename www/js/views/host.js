// #/host/IP — one host over a range: CPU by mode, load, memory, disk and network rates, and
// its VMs now.

import { METHOD, PARAM, SERIES, DESCRIPTION, VM } from '../keys.js';
import { TimeChart } from '../charts.js';
import { fetchSeries } from '../series.js';
import { Table } from '../table.js';
import { escapeHtml as esc, pct, fixed, bytes, rate } from '../format.js';
import { notFound, parseRange, rangeNow, rangePicker, wireRangePicker } from './common.js';
import { VM_COLUMNS } from './overview.js';

export const title = 'Host';

const field = key => rec => rec[key];

function memoryUsed(rec) {
    const t = rec[SERIES.memTotal], f = rec[SERIES.memFree], b = rec[SERIES.memBuffers], c = rec[SERIES.memCached];
    return [t, f, b, c].every(v => typeof v === 'number') ? t - f - b - c : null;
}

export function mount(root, { ip }, params) {
    let range = parseRange(params);
    const path = '#/host/' + encodeURIComponent(ip);
    let built = null;

    function build(description) {
        root.innerHTML = '<h1>Host ' + esc(ip) + ' <span class="muted">' + esc(description[DESCRIPTION.hostname] || '') +
            '</span></h1><p class="muted">' + esc(description[DESCRIPTION.osRelease] || '') + '</p>' +
            rangePicker(path, range) + '<p class="note" hidden></p><div class="charts"></div>';
        wireRangePicker(root);
        const charts = root.querySelector('.charts');
        const c = {
            cpu: new TimeChart(charts, { name: 'cpu', title: 'CPU % by mode', stacked: true, max: 100, format: pct,
                series: SERIES.cpuModes.map(([k, label]) => ({ label, value: field(k) })) }),
            load: new TimeChart(charts, { name: 'load', title: 'Load average', format: v => fixed(v),
                series: SERIES.load.map(([k, label]) => ({ label, value: field(k) })) }),
            memory: new TimeChart(charts, { name: 'memory', title: 'Memory', stacked: true, format: bytes, binary: true,
                series: [{ label: 'used', value: memoryUsed }, { label: 'buffers', value: field(SERIES.memBuffers) },
                         { label: 'cached', value: field(SERIES.memCached) }, { label: 'free', value: field(SERIES.memFree), color: '--c6' }] }),
            disk: new TimeChart(charts, { name: 'disk', title: 'Disk I/O', format: rate, binary: true,
                series: SERIES.disk.map(([k, label]) => ({ label, value: field(k) })) }),
            net: new TimeChart(charts, { name: 'net', title: 'Network', format: rate, binary: true,
                series: SERIES.net.map(([k, label]) => ({ label, value: field(k) })) }),
        };
        const vms = new Table(root, { id: 'host-vms', caption: 'Virtual machines on this host', noun: 'VMs',
            columns: VM_COLUMNS, rowAttrs: v => 'data-vm="' + esc(v[VM.hostname]) + '"' });
        return { charts: c, vms, note: root.querySelector('.note') };
    }

    return {
        title: 'Host ' + ip,
        refresh: range.live,
        async load() {
            range = rangeNow(range);
            const id = { [PARAM.ip]: ip };
            const got = await fetchSeries(
                [{ method: METHOD.hostCpu, id, derive: true }, { method: METHOD.hostMemory, id, derive: true },
                 { method: METHOD.hostDisk, id, derive: true }, { method: METHOD.hostNet, id, derive: true }],
                [{ method: METHOD.hostDescription }, { method: METHOD.hostVms, params: { [PARAM.ip]: ip } }],
                range.from, range.to);
            const [cpu, memory, disk, net] = got.series;
            const [descriptions, vms] = got.extra;
            const description = descriptions.find(d => d[DESCRIPTION.ip] === ip);
            if (!description) {
                if (built) { Object.values(built.charts).forEach(ch => ch.destroy()); built = null; }
                notFound(root, 'No host ' + ip + ' is known to the collector.');
                return;
            }
            if (!built) built = build(description);
            built.charts.cpu.update(cpu, range.from, range.to, got.step);
            built.charts.load.update(cpu, range.from, range.to, got.step);
            built.charts.memory.update(memory, range.from, range.to, got.step);
            built.charts.disk.update(disk, range.from, range.to, got.step);
            built.charts.net.update(net, range.from, range.to, got.step);
            built.vms.setRows(vms);
            built.note.hidden = !got.capped;
            built.note.textContent = got.capped ? 'Only the first records of the range are shown: choose a shorter range.' : '';
        },
        destroy() {
            if (built) Object.values(built.charts).forEach(ch => ch.destroy());
        },
    };
}
