// How a view asks for a series over a range, so that a long range never downloads raw samples:
//  - up to RAW_SPAN: the records themselves (from/to, capped by RAW_LIMIT);
//  - longer, when the service has server-side `step` (rpc.discover lists it): one record per
//    step, about STEPS of them;
//  - longer, without `step`: SLICES evenly spaced slices of the range (each within the
//    service's max-span), LIMIT_PER_SLICE records each — a sample of the range, not an
//    aggregate; the first record of a derived slice, which has no rates, is dropped.

import { batch, call } from './api.js';
import { METHOD, PARAM } from './keys.js';

export const RAW_SPAN = 6 * 3600000;
export const RAW_LIMIT = 5000;
const STEPS = 360;
const SLICES = 48;
const LIMIT_PER_SLICE = 3;
export const MAX_SPAN = 86400000;  // the service's default max-span (raw queries)

let stepSupport = null;

// Whether the series methods take `step` (asked once per page load).
export function hasStep() {
    if (!stepSupport) {
        stepSupport = call(METHOD.discover).then(doc => {
            const m = (doc.methods || []).find(x => x.name === METHOD.hostCpu);
            return !!m && (m.params || []).some(p => p.name === PARAM.step);
        }, () => false);
    }
    return stepSupport;
}

// The step (ms) for a range fetched with `step`: about STEPS of them, whole seconds.
export function stepFor(span) {
    return Math.max(1000, Math.ceil(span / STEPS / 1000) * 1000);
}

// The calls for one series: {calls: [{method, params}], join(results) → records}.
export function seriesCalls(method, id, from, to, derive, step) {
    const span = to - from;
    const stepMs = stepFor(span);
    const base = Object.assign({}, id, derive ? { [PARAM.derive]: true } : {});
    if (span <= RAW_SPAN) {
        return { calls: [{ method, params: Object.assign({ [PARAM.from]: from, [PARAM.to]: to, [PARAM.limit]: RAW_LIMIT }, base) }],
                 join: r => r[0] };
    }
    if (step) {
        return { calls: [{ method, params: Object.assign({ [PARAM.from]: from, [PARAM.to]: to, [PARAM.step]: stepMs }, base) }],
                 join: r => r[0] };
    }
    const calls = [];
    const width = Math.floor(span / SLICES);
    for (let k = 0; k < SLICES; k++) {
        const f = from + k * width, t = k === SLICES - 1 ? to : f + width - 1;
        calls.push({ method, params: Object.assign({ [PARAM.from]: f, [PARAM.to]: t, [PARAM.limit]: LIMIT_PER_SLICE }, base) });
    }
    return { calls, join: r => r.flatMap(part => (derive ? part.slice(1) : part)) };
}

// Runs several series (and extra single calls) in one batch.
// wants: [{method, id, derive}] ; extra: [{method, params}] → {series: [records...], extra: [results...]}
export async function fetchSeries(wants, extra, from, to) {
    const step = to - from > RAW_SPAN ? await hasStep() : false;
    const plans = wants.map(w => seriesCalls(w.method, w.id, from, to, w.derive, step));
    const calls = plans.flatMap(p => p.calls).concat(extra);
    const results = await batch(calls);
    let k = 0;
    const series = plans.map(p => { const part = results.slice(k, k + p.calls.length); k += p.calls.length; return p.join(part); });
    return { series, extra: results.slice(k), capped: series.some(s => s.length >= RAW_LIMIT),
             step: step ? stepFor(to - from) : 0 };
}
