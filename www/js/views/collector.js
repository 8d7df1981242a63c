// #/collector — the collector itself (collector.stats): what arrived, what was dropped and
// why, sequence gaps per agent (agents losing datagrams stand out), the store's use.

import { batch } from '../api.js';
import { METHOD, STATS as S } from '../keys.js';
import { escapeHtml as esc, integer, bytes, pct, time, duration } from '../format.js';
import { stateBadge } from './common.js';

export const title = 'Collector';

const val = (key, v, html) =>
    '<span data-field="' + esc(key) + '" data-value="' + esc(JSON.stringify(v === undefined ? null : v)) + '">' + html(v) + '</span>';

function row(label, key, v, html = integer, warn = false) {
    return '<tr' + (warn ? ' class="warn"' : '') + '><th scope="row">' + esc(label) + '</th><td class="num">' +
        val(key, v, html) + '</td></tr>';
}

function lost(agent) {
    return (agent[S.subAgents] || []).reduce((n, s) => n + (s[S.lost] || 0), 0);
}

function render(root, st) {
    const store = st[S.store] || {};
    const rejected = st[S.rejected] || {};
    const agents = (st[S.agents] || []).slice().sort((a, b) => lost(b) - lost(a) || String(a[S.agent]).localeCompare(String(b[S.agent])));
    const losing = agents.filter(a => lost(a) > 0).length;
    root.innerHTML =
        '<h1>Collector <span class="muted">version ' + esc(st[S.version] || '') + ', up ' + duration(st[S.uptime]) + '</span></h1>' +
        '<div class="columns">' +
        '<section><h2>Datagrams</h2><table class="kv">' +
        row('received', S.received, st[S.received]) +
        row('decoded', S.decoded, st[S.decoded]) +
        Object.keys(rejected).map(r => row('rejected: ' + r.replace(/_/g, ' '), S.rejected + '.' + r, rejected[r], integer, rejected[r] > 0)).join('') +
        row('dropped by the kernel (socket full)', S.kernelDrops, st[S.kernelDrops], integer, st[S.kernelDrops] > 0) +
        row('receiver pauses (store behind)', S.pauses, st[S.pauses], integer, st[S.pauses] > 0) +
        '</table></section>' +
        '<section><h2>Store</h2><table class="kv">' +
        row('samples stored', S.samplesStored, st[S.samplesStored]) +
        row('samples dropped (backlog full)', S.backlogDropped, st[S.backlogDropped], integer, st[S.backlogDropped] > 0) +
        row('store errors', S.storeErrors, st[S.storeErrors], integer, st[S.storeErrors] > 0) +
        row('samples purged', S.purged, st[S.purged]) +
        row('samples held', S.store + '.' + S.storeSamples, store[S.storeSamples]) +
        row('hosts and VMs', S.store + '.' + S.entities, store[S.entities]) +
        row('used', S.store + '.' + S.usedBytes, store[S.usedBytes], bytes) +
        row('map size', S.store + '.' + S.mapSize, store[S.mapSize], bytes) +
        row('map used', S.store + '.' + S.mapUsedPct, store[S.mapUsedPct], pct, store[S.mapUsedPct] > 90) +
        row('oldest sample', S.store + '.' + S.oldest, store[S.oldest], time) +
        '</table></section></div>' +
        '<section><h2>Agents <span class="muted">' + integer(agents.length) + (losing ? ', ' + stateBadge('stale', losing + ' losing datagrams') : '') +
        '</span></h2><div class="scroll"><table class="grid agents"><thead><tr><th scope="col">Agent</th><th scope="col">Sub-agent</th>' +
        '<th scope="col" class="num">Datagrams</th><th scope="col" class="num">Last sequence</th><th scope="col" class="num">Lost</th>' +
        '<th scope="col" class="num">Resets</th><th scope="col">Last seen</th></tr></thead><tbody>' +
        (agents.length ? agents.flatMap(a => (a[S.subAgents] || [{}]).map((s, k) =>
            '<tr data-agent="' + esc(a[S.agent]) + '"' + (s[S.lost] > 0 ? ' class="warn"' : '') + '>' +
            '<td>' + (k ? '' : '<a href="#/host/' + encodeURIComponent(a[S.agent]) + '">' + esc(a[S.agent]) + '</a>') + '</td>' +
            '<td>' + val(S.subAgentId, s[S.subAgentId], v => esc(v === undefined ? '' : v)) + '</td>' +
            '<td class="num">' + (k ? '' : val(S.agentDatagrams, a[S.agentDatagrams], integer)) + '</td>' +
            '<td class="num">' + val(S.lastSequence, s[S.lastSequence], integer) + '</td>' +
            '<td class="num">' + val(S.lost, s[S.lost], v => (v > 0 ? stateBadge('stale', integer(v) + ' lost') : integer(v))) + '</td>' +
            '<td class="num">' + val(S.resets, s[S.resets], integer) + '</td>' +
            '<td>' + (k ? '' : time(a[S.agentLastSeen])) + '</td></tr>')).join('')
            : '<tr class="empty"><td colspan="7">no agent has sent anything yet</td></tr>') +
        '</tbody></table></div></section>';
}

export function mount(root) {
    return {
        refresh: true,
        async load() {
            const [stats] = await batch([{ method: METHOD.stats }]);
            render(root, stats);
        },
    };
}
