#!/usr/bin/python3
"""Prometheus exposition figures for docs/performance.md (not part of make test or make bench):
a store filled by bench-fill with HOSTS hypervisors x VMS VMs, the service and nginx started as
the e2e tests start them, then

  - a full round of per-target scrapes (GET /metrics?target=AGENT_IP for every hypervisor,
    through nginx, CLIENTS at once): the service's CPU time for the round (utime + stime from
    /proc) and the round's wall time;
  - one target's scrape through nginx: latency percentiles over the round's requests;
  - GET /metrics (the collector's own) and GET /prometheus/targets, once each;
  - ingest with and without scrapes: sflow-gen sends INGEST_RATE datagrams/s for
    INGEST_SECONDS, once alone and once while a full round of scrapes runs every 5 s; the
    datagrams lost (sent - received) each time.

    BUILD=build /usr/bin/python3 bench/prometheus.py [--hosts 1000] [--vms 30] [--rounds 3]
"""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "e2e"))
from stack import BUILD, FilledStack, Scraper, agent_ips, scrape_round  # noqa: E402


def pct(xs, p):
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--vms", type=int, default=30)
    ap.add_argument("--samples-per-entity", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--ingest-rate", type=int, default=50000)
    ap.add_argument("--ingest-seconds", type=int, default=10)
    a = ap.parse_args()
    stack = FilledStack(a.hosts * (a.vms + 1) * a.samples_per_entity, a.hosts, a.vms, 30000,
                        options={"map-size": "4096", "workers": "4", "retention": "30d"})
    stack.start()
    print("%s (%.0f s)" % (stack.fill_line, stack.fill_seconds))
    try:
        targets = agent_ips(a.hosts)
        status, _, body = stack.http(method="GET", path="/metrics?target=" + targets[0])
        assert status == 200 and body.count(b"libvirt_domain_info_vstate{") == a.vms, body[:300]
        print("store: %d hosts x %d VMs, %d samples each; %d workers; %d clients at once" % (
            a.hosts, a.vms, a.samples_per_entity, 4, a.clients))
        for r in range(a.rounds):
            cpu, wall, lat, sizes = scrape_round(stack, targets, a.clients)
            print("round %d: %d scrapes, service CPU %.3f s, wall %.2f s; latency median %.2f ms, "
                  "p90 %.2f ms, p99 %.2f ms, max %.2f ms; %d bytes each" % (
                      r + 1, len(lat), cpu, wall, 1000 * pct(lat, 0.5), 1000 * pct(lat, 0.9),
                      1000 * pct(lat, 0.99), 1000 * lat[-1], sum(sizes) // len(sizes)))
        for path in ("/metrics", "/prometheus/targets"):
            t = time.perf_counter()
            status, _, body = stack.http(method="GET", path=path)
            print("%s: %.1f ms, %d bytes" % (path, 1000 * (time.perf_counter() - t), len(body)))
        t = time.perf_counter()
        stack.call("collector.stats")
        print("collector.stats (JSON-RPC, for comparison): %.1f ms" % (1000 * (time.perf_counter() - t)))
        for scraping in (False, True):
            received = stack.datagrams_received()
            scraper = Scraper(stack, targets, a.clients).start() if scraping else None
            gen = subprocess.run([os.path.join(BUILD, "sflow-gen"), "--hosts", "1000", "--vms", "4",
                                  "--rounds", "10", "--rate", str(a.ingest_rate), "--duration",
                                  str(a.ingest_seconds), "--dest", "127.0.0.1:%d" % stack.udp_port],
                                 check=True, capture_output=True, text=True).stderr
            sent = int(gen.rsplit("sent ", 1)[1].split()[0])
            time.sleep(1)  # let the receiver drain the socket (a figure, not an assertion)
            if scraper:
                scraper.stop()
            got = stack.datagrams_received() - received
            print("ingest %d datagrams/s for %d s%s: sent %d, received %d, lost %d (%.3f%%)" % (
                a.ingest_rate, a.ingest_seconds,
                ", %d full scrape rounds meanwhile" % scraper.rounds if scraper else ", no scrapes",
                sent, got, sent - got, 100.0 * (sent - got) / sent))
    finally:
        stack.stop()
        stack.cleanup(False)


if __name__ == "__main__":
    main()
