// A sortable, filterable table that keeps its sort, filter and scroll position when its rows
// are replaced (the 10 s refresh). Up to VIRTUAL_ABOVE rows every row is in the DOM; above,
// only the rows in view (and a margin) are, between two spacer rows, so that 30,000 VMs
// render and scroll without freezing the page.
//
// columns: [{label, field, get(row) → the API's value (sorting, data-value),
//            html(row, value) → the cell's inner HTML for people, num: right-aligned}]
// rowAttrs(row) → the <tr>'s attributes as HTML (e.g. data-host-ip="…").

import { escapeHtml } from './format.js';

const VIRTUAL_ABOVE = 500;
const ROW_HEIGHT = 32;   // px; fixed by style.css (.grid tbody td)
const OVERSCAN = 30;

// A string's sort key: lower case, every run of digits padded, so that plain comparison puts
// 10.0.0.9 before 10.0.0.10 and vm-2 before vm-10 (fast enough for 30,000 rows, unlike a
// collator's compare).
const natural = s => s.toLowerCase().replace(/\d+/g, d => d.padStart(20, '0'));
// What the filter box searches: the row's values, in lower case (made when first needed).
const text = r => r.text || (r.text = r.values.map(v => (v === null || v === undefined ? '' : String(v))).join(' ').toLowerCase());
const sortKey = v => (v === null || v === undefined ? null : typeof v === 'number' ? v : natural(String(v)));

export class Table {
    constructor(parent, { id, caption, columns, rowAttrs, sort = 0, descending = false, noun }) {
        this.columns = columns;
        this.rowAttrs = rowAttrs;
        this.noun = noun;
        this.sort = { index: sort, descending };
        this.filter = '';
        this.rows = [];
        this.view = [];
        this.virtual = false;

        const block = document.createElement('section');
        block.className = 'table-block';
        block.id = id;
        block.innerHTML =
            '<div class="table-head"><h2>' + escapeHtml(caption) + '</h2>' +
            '<input type="search" class="filter" placeholder="filter" aria-label="filter ' +
            escapeHtml(caption) + '"><span class="count muted"></span></div>' +
            '<div class="scroll" tabindex="0"><table class="grid"><thead><tr>' +
            columns.map((c, i) => '<th scope="col"' + (c.num ? ' class="num"' : '') +
                '><button type="button" data-col="' + i + '">' + escapeHtml(c.label) +
                '<span class="arrow" aria-hidden="true"></span></button></th>').join('') +
            '</tr></thead><tbody></tbody></table></div>';
        parent.appendChild(block);
        this.block = block;
        this.scroll = block.querySelector('.scroll');
        this.tbody = block.querySelector('tbody');
        this.count = block.querySelector('.count');
        this.input = block.querySelector('.filter');

        block.querySelector('thead').addEventListener('click', e => {
            const b = e.target.closest('button[data-col]');
            if (!b) return;
            const i = Number(b.dataset.col);
            if (this.sort.index === i) this.sort.descending = !this.sort.descending;
            else this.sort = { index: i, descending: !!columns[i].num };
            this.apply();
        });
        this.input.addEventListener('input', () => {
            this.filter = this.input.value.trim().toLowerCase();
            this.apply();
        });
        this.scroll.addEventListener('scroll', () => {
            if (!this.virtual || this.pending) return;
            this.pending = requestAnimationFrame(() => { this.pending = 0; this.render(); });
        });
    }

    setRows(rows) {
        this.rows = rows.map(row => ({
            row,
            values: this.columns.map(c => c.get(row)),
            keys: [],
        }));
        this.apply();
    }

    apply() {
        const f = this.filter;
        let view = f ? this.rows.filter(r => text(r).includes(f)) : this.rows.slice();
        const i = this.sort.index, sign = this.sort.descending ? -1 : 1;
        for (const r of view) if (r.keys[i] === undefined) r.keys[i] = sortKey(r.values[i]);
        view.sort((a, b) => {
            const x = a.keys[i], y = b.keys[i];
            if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;  // absent values last
            if (typeof x === 'number' && typeof y === 'number') return sign * (x - y);
            if (typeof x !== typeof y) return sign * (typeof x === 'number' ? -1 : 1);
            return sign * (x < y ? -1 : x > y ? 1 : 0);
        });
        this.view = view;
        this.block.querySelectorAll('th').forEach((th, k) => {
            if (k === i) th.setAttribute('aria-sort', this.sort.descending ? 'descending' : 'ascending');
            else th.removeAttribute('aria-sort');
        });
        this.count.textContent = view.length === this.rows.length
            ? this.rows.length.toLocaleString('en-US') + ' ' + this.noun
            : view.length.toLocaleString('en-US') + ' of ' + this.rows.length.toLocaleString('en-US') + ' ' + this.noun;
        this.virtual = view.length > VIRTUAL_ABOVE;
        this.block.classList.toggle('virtual', this.virtual);
        this.render();
    }

    rowHtml(r) {
        let s = '<tr ' + this.rowAttrs(r.row) + '>';
        this.columns.forEach((c, k) => {
            const v = r.values[k];
            s += '<td data-field="' + c.field + '" data-value="' + escapeHtml(JSON.stringify(v === undefined ? null : v)) +
                '"' + (c.num ? ' class="num"' : '') + '>' + c.html(r.row, v) + '</td>';
        });
        return s + '</tr>';
    }

    render() {
        const view = this.view;
        if (!this.virtual) {
            this.tbody.innerHTML = view.length ? view.map(r => this.rowHtml(r)).join('')
                : '<tr class="empty"><td colspan="' + this.columns.length + '">' +
                  (this.rows.length ? 'no ' + this.noun + ' match the filter' : 'no ' + this.noun) + '</td></tr>';
            return;
        }
        const visible = Math.ceil((this.scroll.clientHeight || 600) / ROW_HEIGHT);
        const first = Math.max(0, Math.floor(this.scroll.scrollTop / ROW_HEIGHT) - OVERSCAN);
        const last = Math.min(view.length, first + visible + 2 * OVERSCAN);
        const spacer = h => '<tr class="spacer" aria-hidden="true"><td colspan="' + this.columns.length +
            '" style="height:' + h + 'px"></td></tr>';
        let s = spacer(first * ROW_HEIGHT);
        for (let k = first; k < last; k++) s += this.rowHtml(view[k]);
        s += spacer((view.length - last) * ROW_HEIGHT);
        this.tbody.innerHTML = s;
    }
}
