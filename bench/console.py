#!/usr/bin/python3
"""The console with a big cluster: how long the overview takes to render in headless Chromium
with a store of HOSTS hypervisors × VMS VMs (bench-fill), and how long the page is blocked
when it refreshes. A benchmark, not a test: it prints figures (docs/performance.md, "The web
console") and fails only when something does not work.

  BUILD=build bench/console.py [--hosts 1000] [--vms 30] [--runs 5]

What is timed:
  first render   navigation start → data-ready="1" (the page's own performance.now(), so
                 nothing of selenium's is counted): load the page and Chart.js, POST
                 cluster.status, parse the answer, build both tables
                 (and of it, from the answer's last byte to rendered: parse + tables)
  refresh block  the longest main-thread task during a 10 s refresh (a PerformanceObserver
                 of long tasks; tasks under 50 ms are not long tasks and count as 0)
  cluster.status the call alone through nginx, from Python (for comparison)
"""

import argparse
import os
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "test", "e2e"))
from stack import FilledStack  # noqa: E402
from browser import Browser  # noqa: E402


WATCH_LONG_TASKS = """
window.__longest = 0;
new PerformanceObserver(list => {
    for (const e of list.getEntries()) window.__longest = Math.max(window.__longest, e.duration);
}).observe({type: 'longtask'});
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--vms", type=int, default=30)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    # two rounds, so that rates exist
    stack = FilledStack(2 * args.hosts * (1 + args.vms), args.hosts, args.vms, 20000, options={"map-size": "1024"})
    stack.start()
    print(stack.fill_line)
    try:
        calls = []
        for _ in range(args.runs):
            t = time.monotonic()
            status = stack.result("cluster.status")
            calls.append((time.monotonic() - t) * 1000)
        size = len(stack.http(b'{"jsonrpc":"2.0","method":"cluster.status","id":1}')[2])
        assert len(status["hosts"]) == args.hosts and len(status["vms"]) == args.hosts * args.vms

        with Browser(timeout=120) as b:
            firsts, renders, blocks = [], [], []
            for _ in range(args.runs):
                b.open("about:blank")
                b.open(stack.url("/sflow-monitor/#/"))
                b.wait_ready()
                firsts.append(int(b.js("return document.body.dataset.readyAt")))
                # the answer's last byte → rendered: parsing the JSON and building the tables
                renders.append(firsts[-1] - b.js(
                    "const e = performance.getEntriesByType('resource').filter(e => e.name.endsWith('/api'));"
                    "return e[e.length - 1].responseEnd"))
                rows = b.js("return [document.querySelectorAll('#hosts tbody tr[data-host-ip]').length,"
                            " document.querySelectorAll('#vms tbody tr[data-vm]').length,"
                            " document.querySelector('#vms .count').textContent]")
                b.js(WATCH_LONG_TASKS)
                b.wait_render_after(b.renders())
                blocks.append(b.js("return window.__longest"))
        print("store: %d hosts × %d VMs; cluster.status answer %.1f MB" % (
            args.hosts, args.vms, size / 1e6))
        print("rows in the DOM (virtualised): %d hosts, %d VMs; the VM table says %r" % tuple(rows))
        line = lambda name, xs: print("%-34s median %6.0f ms   min %6.0f   max %6.0f   (%d runs)" % (
            name, statistics.median(xs), min(xs), max(xs), len(xs)))
        line("cluster.status through nginx", calls)
        line("overview first render (ready=1)", firsts)
        line("  of which parse + render", renders)
        line("longest blocked task, refresh", blocks)
    finally:
        stack.stop()
        stack.cleanup(keep=False)


if __name__ == "__main__":
    main()
