"""End-to-end harness: the real nginx (from nginx/sflow-monitor.conf), spawn-fcgi and the
service, on free loopback ports under a temporary directory.

    suite = Suite()
    stack = suite.stack()          # started before the first test, stopped after the last
    @suite.test
    def hosts_are_listed():        # the name is the sentence: "hosts are listed"
        ...
    suite.run()                    # prints "N passed, N failed", exits non-zero on failure

At teardown the logs are checked (as one more test): nginx's error.log must have no
[alert]/[crit]/[emerg] line and the service's stderr no "error:" line that the test did not
declare with Stack(expected_errors=[regex, ...]).
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))
TESTDATA = os.environ.get("SFLOW_TESTDATA", os.path.join(REPO, "..", "shared", "testdata"))
NGINX_TEMPLATE = os.path.join(REPO, "nginx", "sflow-monitor.conf")
IS_ROOT = os.geteuid() == 0
TIMEOUT = float(os.environ.get("E2E_TIMEOUT", "20"))  # seconds, for every wait


# ---- waiting -------------------------------------------------------------------------------

def wait_until(condition, what, timeout=TIMEOUT, interval=0.02):
    """Polls condition() until it returns something truthy, which is returned."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception as e:  # the thing polled may not be up yet
            last_error = e
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0fs waiting for %s%s" % (
                timeout, what, " (last error: %r)" % last_error if last_error else ""))
        time.sleep(interval)


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- pcap ------------------------------------------------------------------------------------

def read_pcap(path):
    """UDP payloads of a classic pcap (Ethernet, raw IP or Linux cooked), in capture order."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        order = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        order = ">"
    else:
        raise ValueError("%s: not a classic pcap" % path)
    linktype = struct.unpack(order + "I", data[20:24])[0]
    out, pos = [], 24
    while pos + 16 <= len(data):
        incl = struct.unpack(order + "IIII", data[pos:pos + 16])[2]
        pkt = data[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        if linktype == 1:  # Ethernet, maybe 802.1Q tagged
            ethertype, off = struct.unpack(">H", pkt[12:14])[0], 14
            while ethertype == 0x8100:
                ethertype, off = struct.unpack(">H", pkt[off + 2:off + 4])[0], off + 4
        elif linktype == 113:  # Linux cooked
            ethertype, off = struct.unpack(">H", pkt[14:16])[0], 16
        elif linktype in (101, 12, 14):  # raw IP
            ethertype, off = (0x0800 if pkt[0] >> 4 == 4 else 0x86DD), 0
        else:
            raise ValueError("%s: link type %d not handled" % (path, linktype))
        if ethertype == 0x0800 and pkt[off + 9] == 17:
            udp = off + (pkt[off] & 0x0F) * 4
        elif ethertype == 0x86DD and pkt[off + 6] == 17:
            udp = off + 40
        else:
            continue
        length = struct.unpack(">H", pkt[udp + 4:udp + 6])[0]
        out.append(pkt[udp + 8:udp + length])
    return out


def testdata(name):
    return os.path.join(TESTDATA, name)


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


# ---- a minimal FastCGI client (to reach the responder without nginx) -------------------------

def _fcgi_record(rtype, content, request_id=1):
    return struct.pack(">BBHHBB", 1, rtype, request_id, len(content), 0, 0) + content


def _fcgi_pairs(params):
    out = b""
    for k, v in params.items():
        k, v = k.encode(), v.encode()
        for n in (len(k), len(v)):
            out += struct.pack(">B", n) if n < 128 else struct.pack(">I", n | 0x80000000)
        out += k + v
    return out


def fcgi_request(address, params, body=b"", timeout=TIMEOUT, end_stdin=True):
    """Sends one FastCGI request to a unix socket path or a (host, port); returns
    (headers with lowercase names, body bytes) from its stdout once the responder ends the
    request. end_stdin=False leaves the body stream open (its end never sent): the answer then
    shows what the responder decided without reading the rest."""
    s = socket.socket(socket.AF_UNIX if isinstance(address, str) else socket.AF_INET,
                      socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(address)
    try:
        msg = _fcgi_record(1, struct.pack(">HB5x", 1, 0))  # BEGIN_REQUEST, responder, no keep
        pairs = _fcgi_pairs(params)
        msg += _fcgi_record(4, pairs) + _fcgi_record(4, b"")
        for i in range(0, len(body), 65535):
            msg += _fcgi_record(5, body[i:i + 65535])
        if end_stdin:
            msg += _fcgi_record(5, b"")
        try:
            s.sendall(msg)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the responder may answer and close before reading everything
        raw, stdout, pos, ended = b"", b"", 0, False
        while not ended:
            chunk = s.recv(65536)
            if not chunk:
                break
            raw += chunk
            while not ended and pos + 8 <= len(raw):
                _, rtype, _, clen, plen, _ = struct.unpack(">BBHHBB", raw[pos:pos + 8])
                if pos + 8 + clen + plen > len(raw):
                    break
                if rtype == 6:
                    stdout += raw[pos + 8:pos + 8 + clen]
                ended = rtype == 3  # END_REQUEST
                pos += 8 + clen + plen
    finally:
        s.close()
    head, _, payload = stdout.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode().split("\r\n"):
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return headers, payload


def _die_with_parent():
    """preexec_fn: the child gets SIGTERM if this test process dies without its teardown."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


# ---- the stack -------------------------------------------------------------------------------

class Stack:
    """nginx + spawn-fcgi + sflow-monitor under one temporary directory."""

    # Service options for tests: loopback only, small map, quick flushes.
    DEFAULT_OPTIONS = {"udp-listen": "127.0.0.1", "flush-ms": "50", "map-size": "64"}

    def __init__(self, options=None, expected_errors=()):
        self.options = dict(self.DEFAULT_OPTIONS, **(options or {}))
        self.expected_errors = [re.compile(e) for e in expected_errors]
        self.service = None
        self.nginx = None

    # -- lifecycle
    def start(self):
        self.dir = tempfile.mkdtemp(prefix="sfm-e2e-")
        os.chmod(self.dir, 0o755)  # nginx workers (nobody, when we are root) traverse it
        self.run_dir = os.path.join(self.dir, "run")
        self.data_dir = os.path.join(self.dir, "data")
        self.nginx_dir = os.path.join(self.dir, "nginx")
        for d in (self.run_dir, os.path.join(self.nginx_dir, "logs"),
                  os.path.join(self.nginx_dir, "tmp")):
            os.makedirs(d)
        if IS_ROOT:
            shutil.chown(self.run_dir, group="nogroup")
            os.chmod(self.run_dir, 0o750)
        self.socket = os.path.join(self.run_dir, "fcgi.sock")
        self.service_log = os.path.join(self.dir, "service.log")
        self.error_log = os.path.join(self.nginx_dir, "logs", "error.log")
        self.http_port = free_port()
        self.udp_port = free_port(socket.SOCK_DGRAM)
        self.write_nginx_conf()
        self.start_service()
        self.start_nginx()
        wait_until(lambda: self.call("host.description")[0] == 200, "the API through nginx")

    def write_nginx_conf(self):
        with open(NGINX_TEMPLATE) as f:
            text = f.read()
        fill = {
            "USER_LINE": "user nobody nogroup;" if IS_ROOT else "",
            "LISTEN": "127.0.0.1:%d" % self.http_port,
            "FCGI_SOCKET": self.socket,
            "ERROR_LOG": self.error_log,
            "WWW_DIR": os.path.join(REPO, "www"),
        }
        for k, v in fill.items():
            text = text.replace("@%s@" % k, v)
        assert "@" not in re.sub(r"#.*", "", text), "unfilled template field"
        self.nginx_conf = os.path.join(self.nginx_dir, "nginx.conf")
        with open(self.nginx_conf, "w") as f:
            f.write(text)

    def service_command(self):
        cmd = [os.path.join(BUILD, "sflow-monitor"), "--data-dir", self.data_dir,
               "--udp-port", str(self.udp_port)]
        for k, v in self.options.items():
            cmd += ["--" + k, v]
        return cmd

    def start_service(self):
        cmd = ["spawn-fcgi", "-n", "-s", self.socket, "-M", "0660"]
        if IS_ROOT:
            cmd += ["-G", "nogroup"]
        cmd += ["--"] + self.service_command()
        log = open(self.service_log, "ab")
        offset = log.tell()
        self.service = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                        preexec_fn=_die_with_parent)
        log.close()
        wait_until(lambda: " started" in self.service_log_text()[offset:]
                   or self.service.poll() is not None, "the service to start")
        if self.service.poll() is not None:
            raise AssertionError("the service exited with %d:\n%s" % (
                self.service.returncode, self.service_log_text()))

    def stop_service(self):
        """SIGTERM; the service must exit 0 (it flushes and closes the store first)."""
        if self.service is None:
            return
        self.service.send_signal(signal.SIGTERM)
        try:
            rc = self.service.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.service.kill()
            self.service.wait()
            raise AssertionError("the service did not stop within %ds of SIGTERM" % TIMEOUT)
        finally:
            self.service = None
        assert rc == 0, "the service exited with %d after SIGTERM" % rc

    def start_nginx(self):
        self.nginx = subprocess.Popen(
            ["nginx", "-p", self.nginx_dir, "-c", self.nginx_conf, "-e", self.error_log,
             "-g", "daemon off;"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent)

    def stop_nginx(self):
        if self.nginx is None:
            return
        self.nginx.send_signal(signal.SIGQUIT)  # graceful
        try:
            self.nginx.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.nginx.kill()
            self.nginx.wait()
        self.nginx = None

    def stop(self):
        try:
            self.stop_service()
        finally:
            self.stop_nginx()

    def cleanup(self, keep):
        if keep:
            print("kept %s for inspection" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- logs
    def service_log_text(self):
        with open(self.service_log, errors="replace") as f:
            return f.read()

    def unexpected_log_lines(self):
        bad = []
        for line in self.service_log_text().splitlines():
            if "Sanitizer" in line or (" error: " in line and
                                       not any(e.search(line) for e in self.expected_errors)):
                bad.append("service: " + line)
        if os.path.exists(self.error_log):
            with open(self.error_log, errors="replace") as f:
                for line in f:
                    if re.search(r"\[(alert|crit|emerg)\]", line):
                        bad.append("nginx: " + line.rstrip())
        return bad

    # -- HTTP
    def url(self, path="/sflow-monitor/api"):
        return "http://127.0.0.1:%d%s" % (self.http_port, path)

    def proxy(self, path="/sflow-monitor/api"):
        import jsonrpclib
        return jsonrpclib.ServerProxy(self.url(path))

    def http(self, body=b"", method="POST", path="/sflow-monitor/api", headers=None):
        """(status, headers with lowercase names, body bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=TIMEOUT)
        try:
            h = {"Content-Type": "application/json-rpc"}
            h.update(headers or {})
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def call(self, method, params=None, id=1, path="/sflow-monitor/api"):
        """One JSON-RPC call; (HTTP status, the decoded response, its raw text)."""
        req = {"jsonrpc": "2.0", "method": method, "id": id}
        if params is not None:
            req["params"] = params
        status, _, body = self.http(json.dumps(req).encode(), path=path)
        text = body.decode()
        return status, (json.loads(text) if text else None), text

    def result(self, method, params=None, path="/sflow-monitor/api"):
        status, resp, text = self.call(method, params, path=path)
        assert status == 200, "%s: HTTP %d" % (method, status)
        assert "result" in resp, "%s: %s" % (method, text)
        return resp["result"]

    # -- sFlow
    def send(self, datagrams):
        """Sends each datagram to the service over UDP, from 127.0.0.1."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            for d in datagrams:
                s.sendto(d, ("127.0.0.1", self.udp_port))

    def datagrams_received(self):
        return self.result("collector.stats").get("datagrams_received", 0)

    def send_and_wait(self, datagrams):
        """Sends, then waits until the ingest has counted them and stored every sample."""
        before = self.datagrams_received()
        self.send(datagrams)
        wait_until(lambda: self.datagrams_received() >= before + len(datagrams),
                   "%d datagrams to be received" % len(datagrams))

    def replay(self, pcap_name):
        self.send_and_wait(read_pcap(testdata(pcap_name)))


# ---- the test runner -------------------------------------------------------------------------

class Suite:
    def __init__(self):
        self.tests = []
        self.stacks = []
        self.temp_dirs = []

    def temp_dir(self, prefix):
        """A fresh directory under /tmp, removed with everything in it when run() ends."""
        d = tempfile.mkdtemp(prefix=prefix)
        self.temp_dirs.append(d)
        return d

    def stack(self, **kwargs):
        s = Stack(**kwargs)
        self.stacks.append(s)
        return s

    def test(self, fn):
        self.tests.append(fn)
        return fn

    def run(self):
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
        for d in self.temp_dirs:
            shutil.rmtree(d, ignore_errors=True)
        print("%d passed, %d failed" % (passed, failed))
        sys.exit(1 if failed else 0)
