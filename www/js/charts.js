// Time-series charts on Chart.js (window.Chart, from Debian's libjs-chart.js). x is the
// record's timestamp (ms), on a linear axis over the whole range asked for. A record flagged
// `reset` or `gap` starts a new line: a null point is put just before it, and Chart.js does not
// join lines across nulls (spanGaps: false); a value the record does not have (the first
// record's rates, a reset record's rates) is null too.
//
// A chart's canvas carries data-chart (its name) and data-points: the records plotted in its
// first series (one point per record; a break adds none), data-from/data-to (the range) and
// data-step (the server-side step asked for, 0 when none).

import { SERIES } from './keys.js';
import { tick, time } from './format.js';

const css = name => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
const SPARSE = 60;
const PALETTE = ['--c1', '--c2', '--c3', '--c4', '--c5', '--c6', '--c7'];

function flagged(rec) {
    const f = rec[SERIES.flags];
    return Array.isArray(f) && (f.includes(SERIES.reset) || f.includes(SERIES.gap));
}

function num(v) {
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

// series: [{label, value(rec) → number|null}]
export function points(records, value) {
    const out = [];
    for (const rec of records) {
        const x = rec[SERIES.timestamp];
        if (flagged(rec) && out.length) out.push({ x, y: null });
        out.push({ x, y: num(value(rec)) });
    }
    return out;
}

// Tick positions on whole minutes, hours or days (local time), about six across.
const STEPS_MS = [60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 10800e3, 21600e3, 43200e3, 86400e3];
function roundTimes(min, max) {
    const step = STEPS_MS.find(s => (max - min) / s <= 8) || Math.ceil((max - min) / 8 / 86400e3) * 86400e3;
    const offset = step >= 3600e3 ? new Date(min).getTimezoneOffset() * 60e3 : 0;  // local midnight
    const out = [];
    for (let t = Math.ceil((min - offset) / step) * step + offset; t <= max; t += step) out.push({ value: t });
    return out;
}

// y ticks on round powers-of-1024 multiples (1, 2, 5, 10, … KiB, MiB, GiB) for byte scales.
const MULTIPLES = [1, 2, 5, 10, 20, 50, 100, 200, 500];
function binaryStep(max) {
    let unit = 1;
    while (max / unit >= 1024) unit *= 1024;
    return MULTIPLES.map(m => m * unit).find(s => max / s <= 6) || unit * 1024;
}
const BINARY_AXIS = {
    afterDataLimits: axis => {
        if (axis.max > 0) axis.max = Math.ceil(axis.max / binaryStep(axis.max)) * binaryStep(axis.max);
    },
    afterBuildTicks: axis => {
        if (!(axis.max > 0)) return;
        const step = binaryStep(axis.max), ticks = [];
        for (let v = 0; v <= axis.max + step / 2; v += step) ticks.push({ value: v });
        axis.ticks = ticks;
    },
};

// A chart panel: a titled figure with a canvas, appended to parent.
export class TimeChart {
    constructor(parent, { name, title, series, stacked = false, format, max, binary = false }) {
        this.name = name;
        this.series = series;
        const fig = document.createElement('figure');
        fig.className = 'chart';
        fig.innerHTML = '<figcaption>' + title + '</figcaption><div class="canvas-box"><canvas></canvas></div>';
        parent.appendChild(fig);
        this.canvas = fig.querySelector('canvas');
        this.canvas.dataset.chart = name;
        this.canvas.dataset.points = '0';
        this.canvas.setAttribute('role', 'img');
        this.canvas.setAttribute('aria-label', title);
        const grid = css('--grid'), text = css('--muted');
        this.format = format;
        this.chart = new window.Chart(this.canvas, {
            type: 'line',
            data: {
                datasets: series.map((s, i) => {
                    const color = css(s.color || PALETTE[i % PALETTE.length]);
                    return {
                        label: s.label, data: [], borderColor: color,
                        backgroundColor: stacked ? color + '99' : color,
                        fill: stacked ? (i === 0 ? 'origin' : '-1') : false,
                        borderWidth: 1.5, pointRadius: 0, pointHitRadius: 6, spanGaps: false,
                        tension: 0,
                    };
                }),
            },
            options: {
                animation: false,
                maintainAspectRatio: false,
                interaction: { mode: 'nearest', axis: 'x', intersect: false },
                scales: {
                    x: {
                        type: 'linear', grid: { color: grid },
                        ticks: { color: text, maxRotation: 0, autoSkipPadding: 16,
                                 callback: v => tick(v, this.span || 0) },
                        afterBuildTicks: axis => { axis.ticks = roundTimes(axis.min, axis.max); },
                    },
                    y: Object.assign({
                        stacked, beginAtZero: true, max, grid: { color: grid },
                        ticks: { color: text, callback: v => format(v) },
                    }, binary ? BINARY_AXIS : {}),
                },
                plugins: {
                    legend: { labels: { color: text, boxWidth: 12 } },
                    tooltip: {
                        callbacks: {
                            title: items => items.length ? time(items[0].parsed.x) : '',
                            label: item => item.dataset.label + ': ' + format(item.parsed.y),
                        },
                    },
                },
            },
        });
    }

    // records: the API's answer; from/to: the range asked for (the x axis).
    // step: the server-side step the records were asked with (0: none).
    update(records, from, to, step = 0) {
        this.span = to - from;
        this.chart.options.scales.x.min = from;
        this.chart.options.scales.x.max = to;
        this.series.forEach((s, i) => {
            const ds = this.chart.data.datasets[i];
            ds.data = points(records, s.value);
            ds.pointRadius = records.length <= SPARSE ? 2 : 0;  // few points: show each one
        });
        this.chart.update('none');
        this.canvas.dataset.points = String(records.length);
        this.canvas.dataset.from = String(from);
        this.canvas.dataset.to = String(to);
        this.canvas.dataset.step = String(step);
    }

    destroy() {
        this.chart.destroy();
    }
}
