// The console's entry point: the router (the URL's fragment names the view), the data-ready
// flag, the error banner and the 10 s refresh.
//
//   #/                overview        #/host/IP[?range=1h|from=MS&to=MS]
//   #/collector       collector       #/vm/HOSTNAME[?range=…]
//
// document.body.dataset.ready: "0" while a view loads, "1" once its data is rendered,
// "error" when the API failed (the banner names the method and the error).

import * as overview from './views/overview.js';
import * as host from './views/host.js';
import * as vm from './views/vm.js';
import * as collector from './views/collector.js';
import { escapeHtml } from './format.js';

const REFRESH_MS = 10000;
const root = document.getElementById('view');
const banner = document.getElementById('banner');
const updated = document.getElementById('updated');
let current = null;       // {view, token}
let token = 0;
let timer = 0;

function notFound(what) {
    return {
        title: 'Not found',
        mount(el) {
            el.innerHTML = '<div class="not-found" data-not-found><h1>Not found</h1><p>' + escapeHtml(what) +
                '</p><p><a href="#/">Back to the overview</a></p></div>';
            return { load: async () => {} };
        },
    };
}

function route(hash) {
    const [path, query] = (hash.replace(/^#/, '') || '/').split('?');
    const params = new URLSearchParams(query || '');
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts.length === 0) return { module: overview, args: {}, params };
    if (parts[0] === 'host' && parts.length === 2) return { module: host, args: { ip: parts[1] }, params };
    if (parts[0] === 'vm' && parts.length === 2) return { module: vm, args: { hostname: parts[1] }, params };
    if (parts[0] === 'collector' && parts.length === 1) return { module: collector, args: {}, params };
    return { module: notFound('There is no view at ' + hash + '.'), args: {}, params };
}

function setReady(state) {
    document.body.dataset.ready = state;
}

function showError(err) {
    banner.hidden = false;
    banner.dataset.method = err.method || '';
    banner.textContent = 'The API failed: ' + (err.method ? err.method + ': ' + (err.detail || err.message) : err.message) +
        '. Retrying every ' + REFRESH_MS / 1000 + ' s.';
    setReady('error');
}

function clearError() {
    banner.hidden = true;
    banner.textContent = '';
    delete banner.dataset.method;
}

async function load(mine) {
    let failed = false;
    try {
        await mine.view.load();
        if (mine !== current) return;
        clearError();
        updated.textContent = 'updated ' + new Date().toLocaleTimeString('en-GB');
        // For tests and benchmarks: how many renders so far, and when the last one finished
        // (ms since navigation started).
        document.body.dataset.renders = String(Number(document.body.dataset.renders || 0) + 1);
        document.body.dataset.readyAt = String(Math.round(performance.now()));
        setReady('1');
    } catch (err) {
        if (mine !== current) return;
        if (!err.method) console.warn(err);  // a bug of ours, not the API's: keep the trace
        failed = true;
        showError(err);
    } finally {
        if (mine === current && (failed || mine.view.refresh)) schedule(mine);
    }
}

function schedule(mine) {
    clearTimeout(timer);
    timer = setTimeout(() => { if (mine === current) load(mine); }, REFRESH_MS);
}

function navigate() {
    clearTimeout(timer);
    if (current && current.view.destroy) current.view.destroy();
    setReady('0');
    clearError();
    root.innerHTML = '';
    const r = route(location.hash);
    const view = r.module.mount(root, r.args, r.params);
    document.title = (view.title || r.module.title || 'sflow-monitor') + ' · sflow-monitor';
    current = { view, token: ++token };
    document.querySelectorAll('header nav a').forEach(a => {
        a.classList.toggle('active', a.getAttribute('href') === '#' + (location.hash.replace(/^#/, '').split('?')[0] || '/'));
    });
    load(current);
}

window.addEventListener('hashchange', navigate);
navigate();
