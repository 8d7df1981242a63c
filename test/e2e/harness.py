"""End-to-end harness: the test runner. The stack itself
(the real nginx from nginx/sflow-monitor.conf, spawn-fcgi and the service, on free loopback
ports under a temporary directory) and reading the captures are test/e2e/stack.py, shared
with bench/ and scripts/.

    suite = Suite()
    stack = suite.stack()          # started before the first test, stopped after the last
    tmp = suite.temp_dir("sfm-x-")  # a directory removed after the last test
    @suite.test
    def hosts_are_listed():        # the name is the sentence: "hosts are listed"
        ...
    suite.run()                    # prints "N passed, N failed", exits non-zero on failure

At teardown the logs are checked (as one more test): nginx's error.log must have no
[alert]/[crit]/[emerg] line and the service's stderr no "error:" line that the test did not
declare with Stack(expected_errors=[regex, ...]).
"""

import os
import shutil
import sys
import tempfile
import traceback

from stack import (BUILD, IS_ROOT, NGINX_TEMPLATE, REPO, TESTDATA, TIMEOUT, Stack,  # noqa: F401 (re-exported)
                   _die_with_parent, fcgi_request, free_port, read_jsonl, read_pcap, testdata, wait_until)


# ---- the test runner -------------------------------------------------------------------------

class Suite:
    def __init__(self):
        self.tests = []
        self.stacks = []
        self.temp_dirs = []

    def stack(self, **kwargs):
        s = Stack(**kwargs)
        self.stacks.append(s)
        return s

    def temp_dir(self, prefix):
        """A fresh directory under /tmp, removed with everything in it when run() ends."""
        d = tempfile.mkdtemp(prefix=prefix)
        self.temp_dirs.append(d)
        return d

    def test(self, fn):
        self.tests.append(fn)
        return fn

    def run(self):
        try:
            self._run()
        finally:
            for d in self.temp_dirs:
                shutil.rmtree(d, ignore_errors=True)

    def _run(self):
        passed = failed = 0

        def record(name, fn):
            nonlocal passed, failed
            try:
                fn()
                passed += 1
                print("ok - %s" % name)
            except Exception:
                failed += 1
                print("FAIL - %s" % name)
                traceback.print_exc(file=sys.stdout)

        started = []
        try:
            for s in self.stacks:
                started.append(s)
                s.start()
        except Exception:
            failed += 1
            print("FAIL - the stack starts")
            traceback.print_exc(file=sys.stdout)
            for s in started:
                if hasattr(s, "service_log") and os.path.exists(s.service_log):
                    print(s.service_log_text())
        else:
            try:
                for fn in self.tests:
                    record(fn.__name__.replace("_", " "), fn)
            except BaseException:  # interrupted (^C, a closed stdout): still stop the stacks
                for s in started:
                    s.stop()
                raise
        for s in started:
            record("the stack stops cleanly", s.stop)

            def logs_clean(s=s):
                bad = s.unexpected_log_lines()
                assert not bad, "unexpected log lines:\n" + "\n".join(bad)
            record("the service and nginx logs hold no unexpected errors", logs_clean)
        for s in started:
            s.cleanup(keep=failed > 0)
        print("%d passed, %d failed" % (passed, failed))
        sys.exit(1 if failed else 0)
