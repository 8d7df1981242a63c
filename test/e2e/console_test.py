"""The web console (www/, docs/console.md) in headless Chromium: after replaying the hsflowd
captures, every view shows what the API answers — every overview row and field, every
chart's data-points — with no error in the browser's console; an unknown host shows "not
found"; a failing fetch and a stopped service show the banner. Screenshots of each view go to
BUILD/test-output/console/ (copies in docs/console/)."""

import json
import os
import shutil
import subprocess

from harness import BUILD, TIMEOUT, Stack, Suite, wait_until
from browser import Browser

OUT = os.path.join(BUILD, "test-output", "console")
BROWSER_TIMEOUT = max(TIMEOUT, 60)  # the ASan build answers several times slower
CAPTURES = ["hsflowd-host.pcap", "hsflowd-kvm.pcap", "hsflowd-kvm-ifpoll.pcap"]
# A capture's host and VM, and bench-fill's (hosts 10.0.0.1-3; vm-001-01 moves to 10.0.0.2).
HOSTS, VMS = ["198.51.100.2", "10.0.0.2"], ["web01", "vm-001-01"]
HOST, VM = "198.51.100.2", "web01"
UNKNOWN_HOST = "192.0.2.250"
RAW_LIMIT = 5000  # www/js/series.js: what the page asks for at most in a raw range

HOST_CHARTS = {"cpu": "host.cpu", "load": "host.cpu", "memory": "host.memory",
               "disk": "host.disk", "net": "host.net"}
VM_CHARTS = {"vcpu": "virt.cpu", "vmemory": "virt.memory", "vdisk": "virt.disk",
             "vnet": "virt.net"}



class LivedInStack(Stack):
    """A stack whose store already holds an hour of sflow-gen history (3 hosts × 3 VMs every
    20 s, one VM migrating half-way; bench-fill --history) before the captures arrive, so that
    the charts and screenshots show what a running cluster looks like."""

    def start_service(self):
        if not os.path.exists(self.data_dir):
            subprocess.run([os.path.join(BUILD, "bench-fill"), "--dir", self.data_dir, "--history",
                            "--migrate", "--hosts", "3", "--vms", "3", "--samples", str(180 * 12),
                            "--interval-ms", "20000", "--map-size", self.options["map-size"]],
                           check=True, stdout=subprocess.DEVNULL, timeout=BROWSER_TIMEOUT)
        super().start_service()


suite = Suite()
stack = LivedInStack()
suite.stacks.append(stack)
browser = None


def page(fragment):
    return stack.url("/sflow-monitor/" + fragment)


# Everything the overview shows, read in one script (so a refresh cannot fall in between).
READ_OVERVIEW = """
const rows = sel => [...document.querySelectorAll(sel)].map(tr => ({
    key: tr.dataset.hostIp || tr.dataset.vm,
    cells: Object.fromEntries([...tr.querySelectorAll('[data-field]')].map(
        c => [c.dataset.field, {value: c.dataset.value, text: c.textContent.trim()}]))}));
return {
    hosts: rows('#hosts tbody tr[data-host-ip]'),
    vms: rows('#vms tbody tr[data-vm]'),
    totals: Object.fromEntries([...document.querySelectorAll('[data-total]')].map(
        e => [e.dataset.total, e.dataset.value])),
};
"""


def overview_mismatches(shown, status):
    """What differs between the page and a cluster.status answer (empty: nothing)."""
    bad = []

    def compare(kind, rows, expected, key):
        by_key = {r[key]: r for r in expected}
        keys = [r["key"] for r in rows]
        if sorted(keys) != sorted(by_key):
            bad.append("%s rows %s, API %s" % (kind, sorted(keys), sorted(by_key)))
            return
        for row in rows:
            want = by_key[row["key"]]
            if not row["cells"]:
                bad.append("%s %s: no data-field cells" % (kind, row["key"]))
            for field, cell in row["cells"].items():
                assert field in want, "%s %s: data-field %r is not a key of cluster.status" % (
                    kind, row["key"], field)
                expected_value = want[field]
                if isinstance(expected_value, list):  # vms: the cell holds the count
                    expected_value = len(expected_value)
                if json.loads(cell["value"]) != expected_value:
                    bad.append("%s %s %s: page %s, API %r" % (kind, row["key"], field,
                                                             cell["value"], expected_value))
                if not cell["text"]:
                    bad.append("%s %s %s: no text" % (kind, row["key"], field))

    compare("host", shown["hosts"], status["hosts"], "host_ip")
    compare("vm", shown["vms"], status["vms"], "hostname")
    for key, value in shown["totals"].items():
        if json.loads(value) != status["totals"][key]:
            bad.append("total %s: page %s, API %r" % (key, value, status["totals"][key]))
    return bad


def errors_in_console(allowed=()):
    return [m for level, m in browser.console()
            if level == "SEVERE" and not any(a in m for a in allowed)]


@suite.test
def the_captures_are_replayed():
    for name in CAPTURES:
        stack.replay(name)
    want = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "192.0.2.2", "198.51.100.2"]
    wait_until(lambda: [h["host_ip"] for h in stack.result("host.description")] == want,
               "every host to be stored")
    wait_until(lambda: stack.result("collector.stats")["samples_stored"] ==
               stack.result("collector.stats")["samples_counter"], "every sample to be stored")


@suite.test
def slash_leads_to_the_console_and_the_chart_library_and_favicon_are_served():
    status, headers, _ = stack.http(method="GET", path="/")
    assert status == 302 and headers["location"].endswith("/sflow-monitor/"), (status, headers)
    for path, kind in [("/sflow-monitor/", "text/html"), ("/sflow-monitor/js/main.js", "text/javascript"),
                       ("/sflow-monitor/lib/chart.js/chart.min.js", "text/javascript"),
                       ("/sflow-monitor/style.css", "text/css"), ("/favicon.ico", "image/svg+xml")]:
        status, headers, body = stack.http(method="GET", path=path)
        assert status == 200 and headers["content-type"].startswith(kind), (path, status, headers)
        assert body
    assert stack.http(method="GET", path="/sflow-monitor/nothing.js")[0] == 404


@suite.test
def the_browser_starts():
    global browser
    shutil.rmtree(OUT, ignore_errors=True)
    browser = Browser(OUT, timeout=BROWSER_TIMEOUT)


@suite.test
def the_overview_shows_every_host_vm_and_total_as_cluster_status_answers():
    browser.open(page("#/"))
    browser.wait_ready()
    # Hosts turn stale and down as time passes after the replay: when a transition falls
    # between the page's call and ours, compare again after the page's next refresh.
    for attempt in range(4):
        renders = browser.renders()
        shown = browser.js(READ_OVERVIEW)
        bad = overview_mismatches(shown, stack.result("cluster.status"))
        if not bad:
            break
        browser.wait_render_after(renders)
    assert not bad, "\n".join(bad)
    status = stack.result("cluster.status")
    assert len(shown["hosts"]) == len(status["hosts"]) == 3 + 2
    assert len(shown["vms"]) == len(status["vms"]) == 9 + 2
    browser.screenshot("overview")


@suite.test
def the_overview_sorts_filters_and_keeps_both_across_a_refresh():
    ips = lambda: browser.js("return [...document.querySelectorAll('#hosts tbody tr[data-host-ip]')]"
                             ".map(tr => tr.dataset.hostIp)")
    assert ips() == sorted(ips()), ips()
    browser.js("document.querySelector('#hosts th button[data-col=\"0\"]').click()")  # descending
    assert ips() == sorted(ips(), reverse=True), ips()
    browser.js("const f = document.querySelector('#vms input.filter');"
               "f.value = 'web01'; f.dispatchEvent(new Event('input'))")
    vms = lambda: browser.js("return [...document.querySelectorAll('#vms tbody tr[data-vm]')]"
                             ".map(tr => tr.dataset.vm)")
    assert vms() == ["web01"], vms()
    browser.wait_render_after(browser.renders())
    assert vms() == ["web01"], vms()
    assert ips() == sorted(ips(), reverse=True), ips()


def chart_points():
    return browser.js("return Object.fromEntries([...document.querySelectorAll('canvas[data-chart]')]"
                      ".map(c => [c.dataset.chart, {points: +c.dataset.points, from: +c.dataset.from,"
                      " to: +c.dataset.to, step: +c.dataset.step}]))")


def service_has_step():
    methods = stack.result("rpc.discover")["methods"]
    return any(p["name"] == "step" for m in methods if m["name"] == "host.cpu" for p in m["params"])


@suite.test
def the_host_view_charts_every_record_of_the_last_hour():
    for ip in HOSTS:
        browser.go("#/host/" + ip)
        browser.wait_ready()
        charts = chart_points()
        assert sorted(charts) == sorted(HOST_CHARTS), charts
        for name, method in HOST_CHARTS.items():
            c = charts[name]
            assert 3599000 <= c["to"] - c["from"] <= 3600000, c  # the default range: 1 h
            records = stack.result(method, {"ip": ip, "from": c["from"], "to": c["to"],
                                            "limit": RAW_LIMIT, "derive": True})
            assert c["points"] == len(records) > 0, (ip, name, c, len(records))
        vms = browser.js("return [...document.querySelectorAll('#host-vms tbody tr[data-vm]')]"
                         ".map(tr => tr.dataset.vm)")
        want = sorted(v["hostname"] for v in stack.result("host.vms", {"ip": ip}))
        assert sorted(vms) == want and vms, (ip, vms, want)
    browser.screenshot("host")


@suite.test
def the_vm_view_charts_every_record_and_where_the_vm_ran():
    for name in VMS:
        browser.go("#/vm/" + name)
        browser.wait_ready()
        charts = chart_points()
        assert sorted(charts) == sorted(VM_CHARTS), charts
        for chart, method in VM_CHARTS.items():
            c = charts[chart]
            records = stack.result(method, {"hostname": name, "from": c["from"], "to": c["to"],
                                            "limit": RAW_LIMIT, "derive": True})
            assert c["points"] == len(records) > 0, (name, chart, c, len(records))
        stays = browser.js("return [...document.querySelectorAll('.stays li')].map(li => li.dataset.hostIp)")
        c = charts["vcpu"]
        history = stack.result("virt.history", {"hostname": name, "from": c["from"], "to": c["to"]})
        assert stays == [s["host_ip"] for s in history] and stays, (name, stays, history)
    assert stays == ["10.0.0.1", "10.0.0.2"], stays  # the migrated VM, shown last
    browser.screenshot("vm")


@suite.test
def long_ranges_render_without_fetching_raw_samples():
    # 6 h is fetched raw; 24 h and 7 d with server-side step when the service has it (then
    # each chart has the records the API gives for that step), else slices capped by limit.
    step = service_has_step()
    for r in ["15m", "6h", "24h", "7d"]:
        browser.go("#/host/%s?range=%s" % (HOSTS[1], r))
        browser.wait_ready()
        charts = chart_points()
        assert all(c["points"] > 0 for c in charts.values()), (r, charts)
        if r in ("24h", "7d"):
            assert all(c["points"] <= 2000 for c in charts.values()), (r, charts)
            assert all(bool(c["step"]) == step for c in charts.values()), (r, step, charts)
        for name, c in charts.items():
            if c["step"]:
                records = stack.result(HOST_CHARTS[name], {"ip": HOSTS[1], "from": c["from"], "to": c["to"],
                                                           "step": c["step"], "derive": True})
                assert c["points"] == len(records), (r, name, c, len(records))
    browser.go("#/vm/%s?range=7d" % VMS[1])
    browser.wait_ready()
    stays = browser.js("return [...document.querySelectorAll('.stays li')].map(li => li.dataset.hostIp)")
    assert stays == ["10.0.0.1", "10.0.0.2"], stays
    browser.screenshot("vm-7d")


@suite.test
def the_keyboard_reaches_the_sort_buttons_and_the_hosts_links():
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    browser.go("#/")
    browser.wait_ready()
    browser.js("document.activeElement.blur()")
    reached = []
    for _ in range(40):
        ActionChains(browser.driver).send_keys(Keys.TAB).perform()
        reached.append(browser.js("const e = document.activeElement;"
                                  "return e.tagName + ' ' + (e.getAttribute('href') || e.textContent.trim())"))
        if reached[-1].startswith("A #/host/"):
            break
    assert reached[-1].startswith("A #/host/"), reached
    assert any(r.startswith("BUTTON Host") for r in reached), reached  # a sortable header
    ActionChains(browser.driver).send_keys(Keys.ENTER).perform()
    browser.wait(lambda: browser.js("return document.title").startswith("Host "), "the host view")
    browser.wait_ready()
    assert browser.js("return location.hash").startswith("#/host/")


@suite.test
def the_collector_view_shows_collector_stats():
    browser.go("#/collector")
    browser.wait_ready()
    shown = browser.js("return Object.fromEntries([...document.querySelectorAll('.kv [data-field]')]"
                       ".map(e => [e.dataset.field, JSON.parse(e.dataset.value)]))")
    stats = stack.result("collector.stats")
    for field in ["datagrams_received", "datagrams_decoded", "samples_stored", "kernel_drops"]:
        assert shown[field] == stats[field], (field, shown[field], stats[field])
    for reason, n in stats["datagrams_rejected"].items():
        assert shown["datagrams_rejected." + reason] == n, reason
    agents = browser.js("return [...new Set([...document.querySelectorAll('tr[data-agent]')].map(tr => tr.dataset.agent))]")
    assert sorted(agents) == sorted(a["agent"] for a in stats["agents"]), agents
    browser.screenshot("collector")


@suite.test
def an_unknown_host_or_vm_or_view_says_not_found():
    for fragment in ["#/host/" + UNKNOWN_HOST, "#/vm/no-such-vm", "#/nothing-here"]:
        browser.go(fragment)
        browser.wait_ready()
        shown = browser.js("const e = document.querySelector('[data-not-found]');"
                           "return e && e.offsetHeight > 0 && e.textContent")
        assert shown and "not found" in shown.lower(), (fragment, shown)
    browser.go("#/host/" + UNKNOWN_HOST)
    browser.wait_ready()
    browser.screenshot("not-found")


@suite.test
def the_browser_console_holds_no_errors():
    errors = errors_in_console()
    assert not errors, "\n".join(errors)


@suite.test
def at_phone_width_and_in_dark_mode_the_views_still_render():
    browser.size(390, 844, mobile=True)
    for fragment, name in [("#/", "overview-phone"), ("#/host/" + HOSTS[1], "host-phone")]:
        browser.go(fragment)
        browser.wait_ready()
        wide = browser.js("return document.documentElement.scrollWidth > window.innerWidth + 1")
        assert not wide, "%s: the page is wider than the phone's screen" % fragment
        browser.screenshot(name)
    browser.size(1280, 800)
    browser.dark()
    for fragment, name in [("#/", "overview-dark"), ("#/host/" + HOSTS[1], "host-dark")]:
        browser.go(fragment)
        browser.wait_ready()
        browser.screenshot(name)
    bg = browser.js("return getComputedStyle(document.body).backgroundColor")
    browser.dark(False)
    assert bg != "rgb(246, 247, 249)", bg  # the dark palette's background, not the light one


@suite.test
def a_failing_fetch_shows_the_banner_and_the_page_recovers():
    browser.go("#/")
    browser.wait_ready()
    browser.block_api()
    try:
        browser.wait_ready("error")  # at the next refresh
        banner = browser.js("const b = document.getElementById('banner'); return !b.hidden && b.textContent")
        assert banner and "cluster.status" in banner, banner
        assert browser.js("return document.querySelectorAll('#hosts tr[data-host-ip]').length") == 5
        browser.screenshot("fetch-failed")
    finally:
        browser.block_api(False)
    browser.wait_ready("1")
    assert browser.js("return document.getElementById('banner').hidden")
    errors = errors_in_console(allowed=["ERR_BLOCKED_BY_CLIENT"])
    assert not errors, "\n".join(errors)


@suite.test
def a_stopped_service_is_named_in_the_banner():
    browser.go("#/collector")
    browser.wait_ready()
    stack.stop_service()
    try:
        browser.wait_ready("error")
        banner = browser.js("return document.getElementById('banner').textContent")
        assert "collector.stats" in banner and "502" in banner, banner
    finally:
        stack.start_service()
    browser.wait_ready("1")
    browser.console()  # the 502s are expected there


@suite.test
def the_browser_stops():
    browser.close()


if __name__ == "__main__":
    suite.run()
