// #/vm/HOSTNAME — one VM over a range: vCPU %, memory, disk and network rates, and where it
// ran (virt.history: a live migration shows as two stays).

import { METHOD, PARAM, SERIES, VM, HISTORY } from '../keys.js';
import { TimeChart } from '../charts.js';
import { fetchSeries, MAX_SPAN } from '../series.js';
import { escapeHtml as esc, pct, bytes, rate, time, duration, integer } from '../format.js';
import { notFound, parseRange, rangeNow, rangePicker, wireRangePicker } from './common.js';

export const title = 'VM';

const field = key => rec => rec[key];

// virt.history over the range, in slices of at most the service's max-span; a stay cut by
// a slice boundary is joined again.
function historyCalls(hostname, from, to) {
    const calls = [];
    for (let t = to; t > from; t -= MAX_SPAN) {
        calls.unshift({ method: METHOD.virtHistory, params: { [PARAM.hostname]: hostname, [PARAM.from]: Math.max(from, t - MAX_SPAN + 1), [PARAM.to]: t } });
    }
    return calls;
}

function joinStays(parts) {
    const out = [];
    for (const s of parts.flat()) {
        const last = out[out.length - 1];
        if (last && last[HISTORY.host] === s[HISTORY.host]) {
            last[HISTORY.to] = s[HISTORY.to];
            last[HISTORY.samples] += s[HISTORY.samples];
        } else {
            out.push(Object.assign({}, s));
        }
    }
    return out;
}

function historyHtml(stays) {
    if (!stays.length) return '<p class="muted">No samples in this range.</p>';
    return '<ol class="stays">' + stays.map(s =>
        '<li data-host-ip="' + esc(s[HISTORY.host]) + '"><a href="#/host/' + encodeURIComponent(s[HISTORY.host]) + '">' +
        esc(s[HISTORY.host]) + '</a> from ' + time(s[HISTORY.from]) + ' to ' + time(s[HISTORY.to]) +
        ' <span class="muted">(' + duration(s[HISTORY.to] - s[HISTORY.from]) + ', ' + integer(s[HISTORY.samples]) + ' samples)</span></li>').join('') +
        '</ol>';
}

export function mount(root, { hostname }, params) {
    let range = parseRange(params);
    const path = '#/vm/' + encodeURIComponent(hostname);
    let built = null;

    function build() {
        root.innerHTML = '<h1>VM ' + esc(hostname) + ' <span class="muted host"></span></h1>' +
            rangePicker(path, range) + '<p class="note" hidden></p><div class="charts"></div>' +
            '<section class="history"><h2>Where it ran</h2><div class="stays-box"></div></section>';
        wireRangePicker(root);
        const charts = root.querySelector('.charts');
        return {
            charts: {
                vcpu: new TimeChart(charts, { name: 'vcpu', title: 'vCPU %', format: pct,
                    series: SERIES.vcpu.map(([k, label]) => ({ label, value: field(k) })) }),
                vmemory: new TimeChart(charts, { name: 'vmemory', title: 'Memory', format: bytes, binary: true,
                    series: SERIES.vmemory.map(([k, label]) => ({ label, value: field(k) })) }),
                vdisk: new TimeChart(charts, { name: 'vdisk', title: 'Disk I/O', format: rate, binary: true,
                    series: SERIES.vdisk.map(([k, label]) => ({ label, value: field(k) })) }),
                vnet: new TimeChart(charts, { name: 'vnet', title: 'Network', format: rate, binary: true,
                    series: SERIES.vnet.map(([k, label]) => ({ label, value: field(k) })) }),
            },
            host: root.querySelector('h1 .host'),
            stays: root.querySelector('.stays-box'),
            note: root.querySelector('.note'),
        };
    }

    return {
        title: 'VM ' + hostname,
        refresh: range.live,
        async load() {
            range = rangeNow(range);
            const id = { [PARAM.hostname]: hostname };
            const history = historyCalls(hostname, range.from, range.to);
            const got = await fetchSeries(
                [{ method: METHOD.virtCpu, id, derive: true }, { method: METHOD.virtMemory, id, derive: true },
                 { method: METHOD.virtDisk, id, derive: true }, { method: METHOD.virtNet, id, derive: true }],
                [{ method: METHOD.virtDescription }].concat(history), range.from, range.to);
            const [cpu, memory, disk, net] = got.series;
            const [descriptions, ...stays] = got.extra;
            const description = descriptions.find(d => d[VM.hostname] === hostname);
            if (!description) {
                if (built) { Object.values(built.charts).forEach(ch => ch.destroy()); built = null; }
                notFound(root, 'No VM ' + hostname + ' is known to the collector.');
                return;
            }
            if (!built) built = build();
            built.charts.vcpu.update(cpu, range.from, range.to, got.step);
            built.charts.vmemory.update(memory, range.from, range.to, got.step);
            built.charts.vdisk.update(disk, range.from, range.to, got.step);
            built.charts.vnet.update(net, range.from, range.to, got.step);
            const ip = description[VM.host];
            built.host.innerHTML = ip ? 'on <a href="#/host/' + encodeURIComponent(ip) + '">' + esc(ip) + '</a>' : '';
            built.stays.innerHTML = historyHtml(joinStays(stays));
            built.note.hidden = !got.capped;
            built.note.textContent = got.capped ? 'Only the first records of the range are shown: choose a shorter range.' : '';
        },
        destroy() {
            if (built) Object.values(built.charts).forEach(ch => ch.destroy());
        },
    };
}
