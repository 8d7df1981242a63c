// Pieces shared by the views: state badges (colour and text), the range picker, not-found.

import { escapeHtml as esc, toLocalInput } from '../format.js';

// A host's state (up, stale, down) or any word, coloured by its class and always written out.
export function stateBadge(state, text) {
    const s = String(state || 'unknown');
    return '<span class="badge s-' + esc(s.replace(/[^a-z]/g, '')) + '">' + esc(text === undefined ? s : text) + '</span>';
}

// A VM: its libvirt state, and its presence when it is not up (e.g. "running · stale").
export function vmStateBadge(state, presence) {
    const cls = presence && presence !== 'up' ? presence : state === 'running' ? 'up' : 'other';
    const text = (state || 'unknown') + (presence && presence !== 'up' ? ' · ' + presence : '');
    return stateBadge(cls, text);
}

export function notFound(root, text) {
    root.innerHTML = '<div class="not-found" data-not-found><h1>Not found</h1><p>' + esc(text) +
        '</p><p><a href="#/">Back to the overview</a></p></div>';
}

// ---- the range picker: #/host/IP?range=6h or ?from=MS&to=MS --------------------------------

export const RANGES = [['15m', 900000], ['1h', 3600000], ['6h', 21600000], ['24h', 86400000], ['7d', 604800000]];
export const DEFAULT_RANGE = '1h';

// {key, from, to, live}: live ranges end now and move with each refresh.
export function parseRange(params, now = Date.now()) {
    const f = Number(params.get('from')), t = Number(params.get('to'));
    if (params.has('from') && params.has('to') && Number.isFinite(f) && Number.isFinite(t) && f < t) {
        return { key: 'custom', from: f, to: t, live: false };
    }
    const found = RANGES.find(r => r[0] === params.get('range')) || RANGES.find(r => r[0] === DEFAULT_RANGE);
    return { key: found[0], from: now - found[1], to: now, live: true };
}

export function rangeNow(range) {
    if (!range.live) return range;
    const ms = RANGES.find(r => r[0] === range.key)[1];
    const now = Date.now();
    return Object.assign({}, range, { from: now - ms, to: now });
}

// The picker's HTML; path is the view's fragment without the query (e.g. "#/host/10.0.0.1").
export function rangePicker(path, range) {
    const links = RANGES.map(([key]) => '<a href="' + esc(path + '?range=' + key) + '"' +
        (range.key === key ? ' aria-current="true" class="on"' : '') + '>' + key + '</a>').join('');
    return '<div class="range" role="group" aria-label="time range">' + links +
        '<form class="custom" data-path="' + esc(path) + '">' +
        '<label>from <input type="datetime-local" name="from" value="' + toLocalInput(range.from) + '"></label>' +
        '<label>to <input type="datetime-local" name="to" value="' + toLocalInput(range.to) + '"></label>' +
        '<button type="submit"' + (range.key === 'custom' ? ' class="on"' : '') + '>show</button></form></div>';
}

// Wires the custom from/to form inside el.
export function wireRangePicker(el) {
    const form = el.querySelector('form.custom');
    if (!form) return;
    form.addEventListener('submit', e => {
        e.preventDefault();
        const from = new Date(form.elements.from.value).getTime();
        const to = new Date(form.elements.to.value).getTime();
        if (!(from < to)) return;
        location.hash = form.dataset.path.replace(/^#/, '') + '?from=' + from + '&to=' + to;
    });
}
