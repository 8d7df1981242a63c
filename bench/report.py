#!/usr/bin/python3
"""`make bench`, part 2: docs/performance.md's Results from the figures bench/measure.py wrote
(JSON), so that a run can be reported again without measuring again:

    bench/report.py [FILE]     FILE: BENCH_JSON, or build/bench-results.json
                               (with BENCH_QUICK=1: build/bench-quick.json)

Prints the section and rewrites the part of BENCH_DOC (docs/performance.md; "-" to only print)
between its bench markers; a BENCH_QUICK run's figures only print unless BENCH_DOC is given. A run of only some phases (measure.py --only) reports those.
"""

import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")  # a check of the bench, not a record
DOC = os.environ.get("BENCH_DOC", os.path.join(REPO, "docs", "performance.md"))
JSON_IN = os.environ.get("BENCH_JSON", os.path.join(BUILD, "bench-quick.json" if QUICK else "bench-results.json"))
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
GEN_MIX = "--hosts 100 --vms 10 --rounds 20 --interval 30000"  # runs that did not record theirs

# issue 14's goals
HOST_BYTES_GOAL, VM_BYTES_GOAL, STEPPED_MS_GOAL, CLUSTER_MS_GOAL = 150, 60, 20, 30
YEAR_GB_GOAL, YEAR_HOSTS, YEAR_VMS = 25, 1000, 30  # a year of 1-hour roll-ups of 1,000 × 30 entities


def log(text):
    print("bench: " + text, file=sys.stderr, flush=True)


def yes(flag):
    return "yes" if flag else "no"


def lossless(step):
    if "lossless" in step:
        return step["lossless"]
    return (step["received"] == step["sent"] and step["kernel_drops"] == 0 and
            step.get("stored", 0) == step.get("decoded_samples", 0) and
            step.get("in_store", 0) == step.get("stored", 0))


def fair_rows(f):
    L = ["**Fair share** (issue 16): a light client (wrk -t1 -c1, host.cpu of 20 records, "
         "%d-byte reply) alone, then while %d clients (wrk -t1 -c%d) hammer cluster.status "
         "(%d-byte reply, %.0f ms alone) on a store of %d hosts × %d VMs; %g s each; "
         "workers %s, heavy-calls %s" % (
             f["light_bytes"], f["heavy_clients"], f["heavy_clients"], f["heavy_bytes"], f["heavy_ms"],
             f["hosts"], f["vms"], f["seconds"], f["workers"], f["heavy_calls"]), ""]
    L.append("| light client | requests/s | p50 ms | p99 ms | cluster.status answered /s | "
             "refused busy (-32003) | timed out |")
    L.append("|---|---:|---:|---:|---:|---:|---:|")
    a, l, h = f["alone"], f["loaded"], f["heavy"]
    L.append("| alone | %.0f | %.2f | %.2f | - | - | - |" % (a["rps"], a["p50"], a["p99"]))
    answered = (h["requests"] - f["busy"] - f["timeout"]) / max(f["seconds"], 1)
    L.append("| %d clients hammering cluster.status | %.0f | %.2f | %.2f | %.1f | %d of %d | %d |" % (
        f["heavy_clients"], l["rps"], l["p50"], l["p99"], answered, f["busy"], h["requests"], f["timeout"]))
    return L


def fair_goal(f):
    p99 = f["loaded"]["p99"]
    return ("host.cpu p99 <= 10 ms while %d clients hammer cluster.status (issue 16)" % f["heavy_clients"],
            p99 <= 10, "%.2f ms" % p99)



def pct(a, b):
    return "%.0f%%" % (100.0 * a / b) if b else "n/a"


def report(r):
    L = []
    L.append("Machine: %d CPUs, %s; %s; load average %s at the start, %s at the end." % (
        r.get("cpus", os.cpu_count()), r["cpu"], r["date"], r["load_start"], r["load_end"]))
    step_s, conns = r.get("step_s", 10), r.get("connections", 50)
    mix = ""
    if "samples_per_datagram" in r:
        mix = " Mix: sflow-gen %s (%.2f samples per datagram)." % (r.get("gen_mix", GEN_MIX), r["samples_per_datagram"])
    L.append("Command: `%s` (%.0f s).%s" % (r["command"], r["elapsed"], mix))
    L.append("")
    if "service" in r:
        ingest_rows(r, L, step_s)
    if "small" in r:
        query_rows(r, L, step_s, conns)
    if r.get("fair"):
        L.extend(fair_rows(r["fair"]))
        L.append("")
    if "small" in r or "ingest_store" in r:
        memory_rows(r, L)
    issue14_rows(r, L)
    L.append("**Goals** (issue 4; the fair-share row: issue 16; compaction, long ranges and cluster.status: "
             "issue 14; ingest while Prometheus scrapes: issue 15)")
    L.append("")
    for line in goals(r):
        L.append("- " + line)
    return "\n".join(L)


def ingest_rows(r, L, step_s):
    L.append("**Ingest** (%g s per step; ceiling: bench-udp-sink fed by the same sender)" % step_s)
    L.append("")
    L.append("| rate asked /s | sink: sent (/s) | sink: received | service: sent (/s) | service: received | "
             "received / ceiling | kernel_drops | Udp InErrors / RcvbufErrors (system) | "
             "samples decoded | stored (stats) | stored (store) | receiver pauses | lossless |")
    L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|")
    for c, s in zip(r["sink"], r["service"]):
        L.append("| %d | %d (%.0f) | %d | %d (%.0f) | %d | %s | %d | %d / %d | %d | %d | %d | %s | %s |" % (
            s["rate"], c["sent"], c["sent"] / c["secs"], c["received"], s["sent"], s["sent"] / s["secs"],
            s["received"],
            pct(s["received"] / s["sent"], c["received"] / c["sent"]), s["kernel_drops"],
            s["snmp"]["InErrors"], s["snmp"]["RcvbufErrors"], s["decoded_samples"], s["stored"],
            s["in_store"], s.get("pauses", "-"), "yes" if lossless(s) else "no"))
    L.append("")
    L.append("Highest lossless rate: service %s; ceiling (sink) %s." % tuple(
        "%d datagrams/s" % r[k] if r[k] else "none of the steps" for k in ("lossless_service", "lossless_sink")))
    L.append("")


def query_rows(r, L, step_s, conns):
    rounds = len(r["small"].get("query_rounds", [])) or 1
    L.append("**Query** host.cpu, 20 records (%d-byte reply), wrk -t2 -c%d -d%gs through nginx; "
             "ceiling: bench-fcgi-echo with a %d-byte body behind the same nginx config; %s" % (
                 r["small"]["bytes"], conns, step_s, r["small"]["bytes"],
                 "one run of each" if rounds == 1 else
                 "%d runs of each, alternated; figures are medians over the runs" % rounds))
    L.append("")
    L.append("| store | requests/s | of ceiling | p50 ms | p99 ms | ceiling requests/s | "
             "ceiling p50 / p99 ms | responder CPU µs/request (service / echo) | non-2xx | "
             "each round: of ceiling; p99 ms service / echo |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")

    def qrow(name, q, c, ph=None):
        rounds = "-"
        if ph and ph.get("query_rounds"):
            pairs = list(zip(ph["query_rounds"], ph["ceiling_rounds"]))
            rounds = "%s; %s" % (" ".join(pct(a["rps"], b["rps"]) for a, b in pairs),
                                 " ".join("%.1f/%.1f" % (a["p99"], b["p99"]) for a, b in pairs))
        L.append("| %s | %.0f | %s | %.2f | %.2f | %.0f | %.2f / %.2f | %.0f / %.0f | %d | %s |" % (
            name, q["rps"], pct(q["rps"], c["rps"]), q["p50"], q["p99"], c["rps"], c["p50"], c["p99"],
            q["cpu_us"], c["cpu_us"], q["errors"], rounds))
    sm, lg = r["small"], r.get("large")
    qrow("%d samples" % sm["store"]["samples"], sm["query"], sm["ceiling"], sm)
    ui = sm["under_ingest"]
    qrow("%d samples, ingesting %d datagrams/s" % (sm["store"]["samples"], ui["rate"]), ui, sm["ceiling"])
    if lg:
        qrow("%d samples" % lg["store"]["samples"], lg["query"], lg["ceiling"], lg)
    L.append("")
    L.append("While queried, the ingest at %d datagrams/s received %d of %d datagrams sent "
             "(kernel_drops %d)." % (ui["rate"], ui["received"], ui["sent"], ui["kernel_drops"]))
    if lg:
        L.append("Large store vs 1M: requests/s %s (as a share of each one's own ceiling: %s vs %s)." % (
            pct(lg["query"]["rps"], sm["query"]["rps"]), pct(lg["query"]["rps"], lg["ceiling"]["rps"]),
            pct(sm["query"]["rps"], sm["ceiling"]["rps"])))
    L.append("")


def memory_rows(r, L):
    sm, lg = r.get("small"), r.get("large")
    L.append("**Memory and disk**")
    L.append("")
    if sm:
        L.append("- Service RSS %d KiB before and %d KiB after %d requests: %+d KiB." % (
            sm["rss_before"], sm["rss_after"], sm["rss_requests"], sm["rss_after"] - sm["rss_before"]))
    for name, ph in (("filled", sm), ("filled", lg)):
        if ph:
            st = ph["store"]
            L.append("- Store %s by bench-fill: %d samples, %d bytes on disk (du -sb), %.0f bytes per sample."
                     % (name, st["samples"], st["disk"], st["per_sample"]))
    ig = r.get("ingest_store")
    if ig:
        L.append("- Store written by the ingest steps: %d samples, %d bytes, %.0f bytes per sample." % (
            ig["samples"], ig["disk"], ig["per_sample"]))
    L.append("")


def goals(r):
    """Each goal against this run's figures: 'met', 'missed', or n/a where the run has no figure."""
    sm, lg = r.get("small"), r.get("large")
    share = lambda a, b: 100.0 * a / b if b else 0.0
    rows = []
    if "service" in r:
        rows.append(("lossless ingest >= 100,000 datagrams/s", r["lossless_service"] >= 100000,
                     "%d datagrams/s" % r["lossless_service"]))
    if sm:
        stores = [("1M samples", sm)] + ([("%d samples" % lg["store"]["samples"], lg)] if lg else [])
        for name, ph in stores:
            s = share(ph["query"]["rps"], ph["ceiling"]["rps"])
            rows.append(("query >= 80%% of the ceiling (%s)" % name, s >= 80, "%.1f%%" % s))
        for name, ph in stores:
            rows.append(("p99 < 10 ms (%s)" % name, ph["query"]["p99"] < 10, "%.2f ms" % ph["query"]["p99"]))
        if lg:
            s = share(lg["query"]["rps"], sm["query"]["rps"])
            rows.append(("requests/s with %s >= 90%% of those with 1M" % stores[1][0], s >= 90, "%.1f%%" % s))
    if r.get("fair"):
        rows.append(fair_goal(r["fair"]))
    if sm:
        rss_kib = sm["rss_after"] - sm["rss_before"]
        rows.append(("RSS growth over %d requests < 5 MB" % sm["rss_requests"], rss_kib < 5 * 1024,
                     "%+d KiB" % rss_kib))
    rows.extend(issue14_goals(r))
    if "prometheus" in r:
        p = r["prometheus"]
        name = "ingest lossless rate unchanged while Prometheus scrapes every 5 s (issue 15)"
        if p.get("supported"):
            same = p["without"]["lossless"] == p["with"]["lossless"]
            rows.append((name, same and p["with"]["lossless"], "%d datagrams/s: lossless %s without, %s with" % (
                p["rate"], yes(p["without"]["lossless"]), yes(p["with"]["lossless"]))))
            if "scraper" in p:
                sc = p["scraper"]
                rows.append(("the same, the service's share: lossless while a light client scrapes every "
                             "target every 5 s (issue 15)", p["without"]["lossless"] == sc["lossless"] and
                             sc["lossless"], "%d datagrams/s: lossless %s" % (p["rate"], yes(sc["lossless"]))))
        else:
            rows.append((name, None, "prometheus not installed"))
    return ["%s: n/a (%s)" % (name, figure) if ok is None else
            "%s: %s, %s" % (name, figure, "met" if ok else "missed") for name, ok, figure in rows]


# ---- issue 14 and 15: compaction, long ranges, cluster.status, ingest beside them ----------

def bytes_per_sample(b, part=None):
    """{'host': (before, after or None), 'vm': (before, after or None)} in bytes per sample: a
    host's from the hosts-only store; a VM's from the 1 : 30 store, less its host's samples at
    the host's rate. part: None for the store's used bytes, or one database group of db_bytes
    ('samples', 'rollups'), where the run has them."""
    h, m = b["host_store"], b["vm_store"]
    out = {}
    for key, used, dbs, samples_key in (("before", "used_bytes", "dbs", "samples"),
                                        ("after", "after_used_bytes", "after_dbs", "after_samples")):
        if part:
            hb, mb = (h[dbs][part], m[dbs][part]) if dbs in h and dbs in m else (None, None)
        else:
            hb, mb = h.get(used), m.get(used)
        if hb is None or mb is None:
            out[key] = (None, None)
            continue
        host = hb / max(h[samples_key], 1)
        host_samples = m["hosts"] * m["rounds"]
        vm_samples = m[samples_key] - host_samples
        out[key] = (host, (mb - host * host_samples) / max(vm_samples, 1))
    return {"host": (out["before"][0], out["after"][0]), "vm": (out["before"][1], out["after"][1])}


def num(v, fmt="%.0f"):
    return "n/a" if v is None else fmt % v


def issue14_rows(r, L):
    """The sections of issues 14 and 15, each where the run has its figures."""
    sections = [("bytes", bytes_rows), ("rollups", rollup_rows), ("stepped", stepped_rows), ("cluster", cluster_rows),
                ("compacting", compacting_rows), ("prometheus", prometheus_rows)]
    for key, write in sections:
        if key in r:
            write(r[key], L)
            L.append("")


def bytes_rows(b, L):
    h, m = b["host_store"], b["vm_store"]
    L.append("**Bytes per sample** (issue 14; the store's used bytes ÷ samples, and per LMDB database with "
             "mdb_stat -a: the samples, the roll-ups; bench-fill --history, polls 20 s apart: %d hosts × %d "
             "rounds, and %d host with %d VMs × %d rounds, once the service has built the roll-ups; a VM "
             "sample's bytes are the 1 : %d store's less its host's samples at the host's figure)" % (
                 h["hosts"], h["rounds"], m["hosts"], m["vms"], m["rounds"], m["vms"]))
    L.append("")
    L.append("| sample | what | before compaction | after compaction | goal after |")
    L.append("|---|---|---:|---:|---:|")
    na = "n/a (this build does not compact)" if not b["compacts"] else "n/a"
    parts = [(None, "the store's used bytes")]
    if "dbs" in h:
        parts += [("samples", "of it, the samples database"), ("rollups", "of it, the roll-ups")]
    for kind, goal in (("host", HOST_BYTES_GOAL), ("vm", VM_BYTES_GOAL)):
        for part, what in parts:
            before, after = bytes_per_sample(b, part)[kind]
            L.append("| %s | %s | %s | %s | %s |" % ("host" if kind == "host" else "VM", what, num(before),
                                                     na if after is None else num(after),
                                                     "<= %d" % goal if part == "samples" or (part is None and
                                                                                            "dbs" not in h) else ""))


def step_name(step):
    return "%d ms (7 days / %d)" % (step, 7 * 86400000 // step) if isinstance(step, int) else '"%s"' % step


def stepped_rows(s, L):
    L.append("**Long range** (issue 14): host.cpu of one host polled every %g s over 7 days with derive, "
             "%d samples in the store (and the roll-ups the service built from them); wrk -t1 -c1 through "
             "nginx, and the handler alone (bench-api)%s" % (
                 s["interval_ms"] / 1000, s["samples"],
                 "; then the same store compacted (%s samples compacted), with the same answers" % s["compacted"]
                 if s.get("compacted") is not None else ""))
    L.append("")
    L.append("| step | records | bytes | p50 ms | p99 ms | requests/s | handler ms | compacted: p50 / p99 ms | "
             "compacted: handler ms |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for q in s["queries"]:
        c = q.get("after_compaction")
        L.append("| %s | %d | %d | %.2f | %.2f | %.0f | %.2f | %s | %s |" % (
            step_name(q["step"]), q["records"], q["bytes"], q["nginx"]["p50"], q["nginx"]["p99"], q["nginx"]["rps"],
            q["handler_us"] / 1000, "%.2f / %.2f" % (c["nginx"]["p50"], c["nginx"]["p99"]) if c else "n/a",
            "%.2f" % (c["handler_us"] / 1000) if c else "n/a"))


def year_gb(rows):
    """A year of 1-hour buckets for YEAR_HOSTS hosts with YEAR_VMS VMs each, from the bytes per
    bucket with pages (1 host : 30 VMs per entity mix)."""
    per_entity = (rows["1h host"]["paged"] + YEAR_VMS * rows["1h vm"]["paged"]) / (1 + YEAR_VMS)
    return YEAR_HOSTS * (1 + YEAR_VMS) * 8760 * per_entity / 1e9, per_entity


def rollup_rows(ro, L):
    if not ro.get("supported"):
        L.append("**Roll-up buckets** (issue 14): n/a, this build has no bench-rollup.")
        return
    rows = ro["rows"]
    gb, per = year_gb(rows)
    L.append("**Roll-up buckets** (issue 14; bench-rollup: 14 days of sflow-gen's 1 host : 30 VMs polled every "
             "20 s, each entity's buckets encoded and chunked as the store writes them; *with pages*: a chunk "
             "over ~2 KB takes whole 4 KiB LMDB pages; the store's keys and branch pages come on top)")
    L.append("")
    L.append("| buckets | zstd level | buckets / chunks | plain B | chunk B | with pages B | a write (one bucket added) |")
    L.append("|---|---:|---:|---:|---:|---:|---:|")
    for key in ("5m host", "5m vm", "1h host", "1h vm"):
        x = rows[key]
        L.append("| %s | %d | %d / %d | %.1f | %.1f | %.1f | %.0f us |" % (
            key, x["zstd"], x["buckets"], x["chunks"], x["plain"], x["packed"], x["paged"], x["write_us"]))
    L.append("")
    L.append("A year of 1-hour roll-ups for %d hosts × %d VMs: %d × 8,760 × %.1f bytes = **%.1f GB**." % (
        YEAR_HOSTS, YEAR_VMS, YEAR_HOSTS * (1 + YEAR_VMS), per, gb))


def cluster_rows(c, L):
    n = c["nginx"]
    L.append("**cluster.status** (issue 14) with %d hosts × %d VMs (%d bytes): through nginx (wrk -t1 -c1) "
             "p50 %.1f ms, p99 %.1f ms; the handler alone (bench-api) %.1f ms." % (
                 c["hosts"], c["vms"], c["bytes"], n["p50"], n["p99"], c["handler_us"] / 1000))


def compacting_rows(c, L):
    if not c.get("supported"):
        L.append("**Ingest while compacting** (issue 14): n/a, this build does not compact.")
        return
    L.append("**Ingest while compacting** (issue 14; compact-after %s, compaction running since a first "
             "step at %d datagrams/s)" % (c["compact_after"], c["warmup"]["rate"]))
    L.append("")
    L.append("| rate asked /s | sent (/s) | received | kernel_drops | samples decoded | stored | "
             "compacted meanwhile | receiver pauses | lossless |")
    L.append("|---:|---:|---:|---:|---:|---:|---:|---:|:---:|")
    for s in c["steps"]:
        L.append("| %d | %d (%.0f) | %d | %d | %d | %d | %s | %d | %s |" % (
            s["rate"], s["sent"], s["sent"] / s["secs"], s["received"], s["kernel_drops"],
            s["decoded_samples"], s["stored"], s.get("compacted", "-"), s["pauses"], yes(lossless(s))))
    L.append("")
    L.append("Highest lossless rate while compacting: %s." % (
        "%d datagrams/s" % c["lossless"] if c["lossless"] else "none of the steps"))


def prometheus_rows(p, L):
    if not p.get("supported"):
        L.append("**Ingest while Prometheus scrapes** (issue 15): n/a, prometheus is not installed.")
        return
    w, o = p["without"], p["with"]

    def cpu(step):  # older runs recorded no CPU per step
        c = step.get("cpu_s")
        if not c:
            return ""
        parts = ["the service %.1f s" % c["service"]] + (
            ["Prometheus %.1f s" % c["prometheus"]] if "prometheus" in c else [])
        return "; CPU in the step's %.0f s: %s, the machine %.0f%% busy" % (
            step["seconds"], ", ".join(parts), 100 * step["machine_busy"])
    L.append("**Ingest while Prometheus scrapes** (issue 15): %d datagrams/s on a store of %d hypervisors "
             "× %d VMs." % (p["rate"], p["targets"], p["vms"]))
    L.append("")
    L.append("- alone: %d of %d received, lossless %s%s;" % (w["received"], w["sent"], yes(lossless(w)), cpu(w)))
    if "scraper" in p:
        sc = p["scraper"]
        L.append("- while the bench's own client fetches every target every 5 s (%d full rounds, 4 at once, "
                 "through nginx; the service's share of scraping without Prometheus's): %d of %d received, "
                 "kernel_drops %d, lossless %s%s; a scrape's latency p50 %.1f ms, p99 %.1f ms;" % (
                     sc["rounds"], sc["received"], sc["sent"], sc["kernel_drops"], yes(lossless(sc)), cpu(sc),
                     1000 * sc["scrape_p50_s"], 1000 * sc["scrape_p99_s"]))
    L.append("- while Debian's prometheus (etc/prometheus/prometheus.yml, http_sd) scrapes %d targets every %s "
             "(%.0f samples a round, scrape_duration p99 %.1f ms): %d of %d received, kernel_drops %d, "
             "lossless %s%s." % (
                 p["up"], p["interval"], p["samples_per_round"], 1000 * p["scrape_p99_s"], o["received"],
                 o["sent"], o["kernel_drops"], yes(lossless(o)),
                 cpu(o) or "; the service used %.1f s of CPU in the step's %.0f s" % (
                     p["service_cpu_s"], p["with_seconds"])))


def issue14_goals(r):
    rows = []
    if "bytes" in r:
        b = r["bytes"]
        # compaction's goal is on the samples it compacts; the roll-ups (issue 14 item 3) beside them
        # are shown with the store's total
        has_dbs = "dbs" in b["host_store"]
        per, total = bytes_per_sample(b, "samples" if has_dbs else None), bytes_per_sample(b)
        for kind, goal in (("host", HOST_BYTES_GOAL), ("vm", VM_BYTES_GOAL)):
            after = per[kind][1]
            name = "bytes per %s sample after compaction <= %d" % ("host" if kind == "host" else "VM", goal)
            figure = "%.0f bytes%s" % (after, " in the samples database (%.0f with the roll-ups)" % total[kind][1]
                                       if has_dbs else "") if after is not None else ""
            rows.append((name, None, "this build does not compact") if after is None else
                        (name, after <= goal, figure))
    if r.get("rollups", {}).get("supported"):
        gb, _ = year_gb(r["rollups"]["rows"])
        rows.append(("a year of 1-hour roll-ups for %d x %d entities <= %d GB (bench-rollup)" % (
            YEAR_HOSTS, YEAR_VMS, YEAR_GB_GOAL), gb <= YEAR_GB_GOAL, "%.1f GB" % gb))
    if "stepped" in r:
        for q in r["stepped"]["queries"]:
            for what, ph in (("", q), (", compacted", q.get("after_compaction"))):
                if ph:
                    p50 = ph["nginx"]["p50"]
                    rows.append(("7-day host.cpu derive query, step %s, <= %d ms through nginx%s" % (
                        step_name(q["step"]), STEPPED_MS_GOAL, what), p50 <= STEPPED_MS_GOAL, "%.2f ms (p50)" % p50))
    if "cluster" in r:
        c = r["cluster"]
        ms = c["handler_us"] / 1000
        rows.append(("cluster.status <= %d ms with %d x %d (bench-api)" % (CLUSTER_MS_GOAL, c["hosts"], c["vms"]),
                     ms <= CLUSTER_MS_GOAL, "%.1f ms" % ms))
    if "compacting" in r:
        c = r["compacting"]
        name = "lossless ingest >= 100,000 datagrams/s while compacting"
        rows.append((name, c["lossless"] >= 100000, "%d datagrams/s" % c["lossless"]) if c.get("supported")
                    else (name, None, "this build does not compact"))
    return rows


def write_doc(text):
    if DOC == "-":
        return
    with open(DOC) as f:
        doc = f.read()
    if BEGIN not in doc or END not in doc:
        raise AssertionError("%s has no %s ... %s markers" % (DOC, BEGIN, END))
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(DOC, "w") as f:
        f.write(head + BEGIN + "\n" + text + "\n" + END + tail)
    log("wrote " + DOC)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else JSON_IN
    with open(path) as f:
        r = json.load(f)
    text = report(r)
    print(text)
    if r.get("quick") and "BENCH_DOC" not in os.environ:
        log("a BENCH_QUICK run: %s left alone (BENCH_DOC=FILE to write one anyway)" % DOC)
        return
    write_doc(text)


if __name__ == "__main__":
    main()
