// Numbers and times for people. The exact value stays in the element's data-value.

export const DASH = '—';

export function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

const isNum = v => typeof v === 'number' && Number.isFinite(v);

export function pct(v) {
    return isNum(v) ? v.toFixed(v !== 0 && Math.abs(v) < 10 ? 1 : 0) + ' %' : DASH;
}

export function fixed(v, digits = 2) {
    return isNum(v) ? v.toFixed(digits) : DASH;
}

export function integer(v) {
    return isNum(v) ? Math.round(v).toLocaleString('en-US') : DASH;
}

export function ratio(v) {
    return isNum(v) ? v.toFixed(2) + '×' : DASH;
}

const IEC = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

export function bytes(v) {
    if (!isNum(v)) return DASH;
    let i = 0, x = Math.abs(v);
    while (x >= 1024 && i < IEC.length - 1) { x /= 1024; i++; }
    const digits = i === 0 || x >= 10 || Number.isInteger(x) ? 0 : 1;
    return (v < 0 ? '-' : '') + x.toFixed(digits) + ' ' + IEC[i];
}

export function rate(v) {
    return isNum(v) ? bytes(v) + '/s' : DASH;
}

const pad = n => String(n).padStart(2, '0');

// Local time: "14:05:09", or with the date when it is not today.
export function time(ms) {
    if (!isNum(ms) || ms <= 0) return DASH;
    const d = new Date(ms), now = new Date();
    const hms = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
    if (d.toDateString() === now.toDateString()) return hms;
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + hms;
}

// An axis tick: "14:05", or "12-07 14:05" over ranges longer than a day.
export function tick(ms, spanMs) {
    const d = new Date(ms);
    const hm = pad(d.getHours()) + ':' + pad(d.getMinutes());
    if (spanMs <= 86400000) return hm;
    const day = pad(d.getMonth() + 1) + '-' + pad(d.getDate());
    return hm === '00:00' ? day : day + ' ' + hm;
}

export function duration(ms) {
    if (!isNum(ms)) return DASH;
    const s = Math.round(ms / 1000);
    if (s < 120) return s + ' s';
    if (s < 7200) return Math.round(s / 60) + ' min';
    if (s < 172800) return (s / 3600).toFixed(1) + ' h';
    return (s / 86400).toFixed(1) + ' d';
}

export function ago(ms, now) {
    return isNum(ms) && ms > 0 ? duration(Math.max(0, now - ms)) + ' ago' : DASH;
}

// For a datetime-local input and back.
export function toLocalInput(ms) {
    const d = new Date(ms);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + 'T' +
        pad(d.getHours()) + ':' + pad(d.getMinutes());
}
