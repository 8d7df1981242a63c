"""Headless Chromium through selenium (Debian's chromium, chromium-driver, python3-selenium),
for the console's end-to-end test and benchmark.

    with Browser(out_dir) as b:
        b.open(stack.url("/sflow-monitor/#/"))
        b.wait_ready()
        b.js("return document.title")
        b.screenshot("overview")          # out_dir/overview.png

Each Browser has a fresh profile (--user-data-dir) in a temporary directory, removed on close.
"""

import os
import shutil
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


class Browser:
    def __init__(self, out_dir=None, width=1280, height=800, timeout=60):
        self.out_dir = out_dir
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="sfm-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS + ["--user-data-dir=" + self.profile]:
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        try:
            self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        except Exception:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise
        self.driver.set_page_load_timeout(timeout)
        self.driver.set_script_timeout(timeout)
        self.size(width, height)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    # -- page
    def size(self, width, height, mobile=False):
        """The viewport's size in CSS pixels (a phone: mobile=True, device scale 2)."""
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 2 if mobile else 1,
            "mobile": mobile})

    def dark(self, on=True):
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
            "features": [{"name": "prefers-color-scheme", "value": "dark" if on else "light"}]})

    def open(self, url):
        self.driver.get(url)

    def go(self, fragment):
        """Another view of the page already open: only the fragment changes (no reload)."""
        self.js("location.hash = arguments[0]", fragment)

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def ready(self):
        return self.js("return document.body && document.body.dataset.ready")

    def wait(self, condition, what, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError("timed out after %.0fs waiting for %s (data-ready=%r)" % (
                    timeout or self.timeout, what, self.ready()))
            time.sleep(0.05)

    def wait_ready(self, state="1"):
        return self.wait(lambda: self.ready() == state, "data-ready=%r" % state)

    def renders(self):
        return int(self.js("return document.body.dataset.renders || '0'"))

    def wait_render_after(self, count):
        """Waits until the page has rendered more than `count` times (the 10 s refresh)."""
        return self.wait(lambda: self.renders() > count and self.ready() == "1", "a refresh")

    # -- what the browser said
    def console(self):
        """The browser console's entries since the last call: [(level, message)]."""
        return [(e["level"], e["message"]) for e in self.driver.get_log("browser")]

    def screenshot(self, name):
        path = os.path.join(self.out_dir, name + ".png")
        os.makedirs(self.out_dir, exist_ok=True)
        self.driver.save_screenshot(path)
        return path

    # -- the network
    def block_api(self, on=True):
        """Makes every fetch of the API fail (as a dropped network would), or not any more."""
        self.driver.execute_cdp_cmd("Network.enable", {})
        self.driver.execute_cdp_cmd("Network.setBlockedURLs",
                                    {"urls": ["*/sflow-monitor/api"] if on else []})
