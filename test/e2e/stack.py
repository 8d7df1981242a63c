"""Starting sflow-monitor the way the tests, the benchmarks and scripts/ all start it, and
reading /proc: the one helper module they share (test/e2e/harness.py, bench/*.py, scripts/*).

    Stack()          nginx (from nginx/sflow-monitor.conf) + spawn-fcgi + the service, on free
                     loopback ports under a temporary directory
    FilledStack()    the same, on a store build/bench-fill filled before the service starts
    BareService()    the service alone, FastCGI on a free loopback TCP port (no nginx)
    Prometheus()     Debian's prometheus with the example configuration of etc/prometheus/,
                     pointed at collectors, on a free port with a temporary storage directory
    cpu_seconds, rss_kib, proc_status, udp_snmp, cpu_times, loadavg, cpu_model,
    sectors_written, du_bytes   what /proc (and du) say
    sflow_gen, stop_process, wait_until, free_port, fcgi_request, say
    read_pcap, testdata, read_jsonl   the captures of ../shared/testdata (SFLOW_TESTDATA)

Every process started here gets SIGTERM when the Python process that started it dies, and is
stopped by its own PID.
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
import threading
import time
import urllib.parse
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))
NGINX_TEMPLATE = os.path.join(REPO, "nginx", "sflow-monitor.conf")
IS_ROOT = os.geteuid() == 0
TESTDATA = os.environ.get("SFLOW_TESTDATA", os.path.join(REPO, "..", "shared", "testdata"))
TIMEOUT = float(os.environ.get("E2E_TIMEOUT", "20"))  # seconds, for every wait


# ---- waiting and ports -------------------------------------------------------------------------------

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
        # SFM_E2E_COMPACT_AFTER (compacted_test.py): every stack compacts, and a test's
        # wait_compacted() returns only once every stored sample is in a chunk
        if os.environ.get("SFM_E2E_COMPACT_AFTER") and "compact-after" not in self.options:
            self.options["compact-after"] = os.environ["SFM_E2E_COMPACT_AFTER"]
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

    def service_pid(self):
        """The service's PID (spawn-fcgi -n execs it in its own process)."""
        pid = self.service.pid
        with open("/proc/%d/comm" % pid) as f:
            comm = f.read().strip()
        assert comm == os.path.basename(self.service_command()[0])[:15], "pid %d is %s" % (pid, comm)
        return pid

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

    def wait_compacted(self, timeout=TIMEOUT):
        """Under SFM_E2E_COMPACT_AFTER: waits until every sample the store holds has been
        rewritten into a chunk by this run of the service (collector.stats: the samples its
        compaction rewrote equal the store's samples; so call it before a restart, or after
        one that stored new samples). Raises when that does not happen within `timeout` s,
        e.g. with compaction off (compacted_test.py checks that it does)."""
        if not os.environ.get("SFM_E2E_COMPACT_AFTER"):
            return

        def all_compacted():
            r = self.result("collector.stats")["store"]
            return r["samples"] > 0 and r["compacted_samples"] == r["samples"]
        wait_until(all_compacted, "every stored sample to be compacted", timeout=timeout)

    def replay(self, pcap_name):
        self.send_and_wait(read_pcap(testdata(pcap_name)))




class FilledStack(Stack):
    """A Stack whose store build/bench-fill fills before the service first starts (a restart
    keeps it): `samples` samples of `hosts` hosts with `vms` VMs each, `interval_ms` apart,
    the newest at `end_ms` (0: now), map-size from the options. `fill_args` adds bench-fill
    options (e.g. ["--history"]). After start(): fill_line (bench-fill's summary) and
    fill_seconds."""

    def __init__(self, samples, hosts, vms, interval_ms=30000, end_ms=0, fill_args=(), **kw):
        super().__init__(**kw)
        self.fill = {"samples": samples, "hosts": hosts, "vms": vms, "interval_ms": interval_ms,
                     "end_ms": end_ms}
        self.fill_args = list(fill_args)
        self.fill_line, self.fill_seconds = "", 0.0

    def fill_command(self):
        f = self.fill
        cmd = [os.path.join(BUILD, "bench-fill"), "--dir", self.data_dir, "--samples", str(f["samples"]),
               "--hosts", str(f["hosts"]), "--vms", str(f["vms"]), "--interval-ms", str(f["interval_ms"]),
               "--map-size", self.options["map-size"]]
        if f["end_ms"]:
            cmd += ["--end-ms", str(f["end_ms"])]
        return cmd + self.fill_args

    def start_service(self):
        if self.service is None and not os.path.exists(self.data_dir):
            t = time.monotonic()
            self.fill_line = subprocess.run(self.fill_command(), check=True, stdout=subprocess.PIPE,
                                            text=True).stdout.strip()
            self.fill_seconds = time.monotonic() - t
        super().start_service()


class BareService:
    """sflow-monitor alone, on loopback: UDP port and FastCGI TCP port chosen once, so a
    restart on the same data dir listens where the generator already sends."""

    def __init__(self, data_dir, log_path, options=None):
        self.data_dir = data_dir
        self.log_path = log_path
        self.udp_port = free_port(socket.SOCK_DGRAM)
        self.fcgi_port = free_port()
        self.options = dict({"udp-listen": "127.0.0.1", "flush-ms": "50",
                             "max-span": "3650d", "log-level": "info"}, **(options or {}))
        self.proc = None

    def command(self):
        cmd = [os.path.join(BUILD, "sflow-monitor"), "--data-dir", self.data_dir,
               "--udp-port", str(self.udp_port), "--fcgi-listen", "127.0.0.1:%d" % self.fcgi_port]
        for k, v in self.options.items():
            cmd += ["--" + k, v]
        return cmd

    def start(self):
        log = open(self.log_path, "ab")
        offset = log.tell()
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=log, preexec_fn=_die_with_parent)
        log.close()
        wait_until(lambda: " started" in self.log_text()[offset:] or self.proc.poll() is not None,
                   "the service to start")
        if self.proc.poll() is not None:
            raise RuntimeError("the service exited with %d:\n%s" % (self.proc.returncode,
                                                                   self.log_text()[offset:]))
        wait_until(lambda: self.call("collector.stats") is not None, "the API")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def stop(self):
        """SIGTERM; returns the exit status."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=TIMEOUT)
        self.proc = None
        return rc

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def call(self, method, params=None):
        """The result, or raises with the JSON-RPC error."""
        req = {"jsonrpc": "2.0", "method": method, "id": 1}
        if params is not None:
            req["params"] = params
        body = json.dumps(req).encode()
        _, payload = fcgi_request(
            ("127.0.0.1", self.fcgi_port),
            {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": str(len(body)),
             "CONTENT_TYPE": "application/json-rpc", "SCRIPT_NAME": "/sflow-monitor/api"}, body)
        resp = json.loads(payload)
        if "error" in resp:
            raise RuntimeError("%s: %s" % (method, resp["error"]))
        return resp["result"]

    def rss_kib(self):
        return rss_kib(self.proc.pid)


# ---- Prometheus --------------------------------------------------------------------------------

class Prometheus:
    """Debian's prometheus, configured with etc/prometheus/prometheus.yml (its http_sd urls
    pointed at the collectors' HTTP ports, in order; the intervals set to `interval`), on a
    free loopback port with a temporary storage directory. edit(text, directory) may change the
    configuration further before it starts (and put what it starts in that directory)."""

    BINARY = shutil.which("prometheus")
    EXAMPLE = os.path.join(REPO, "etc", "prometheus")

    def __init__(self, http_ports, interval="5s", edit=None):
        self.dir = tempfile.mkdtemp(prefix="sfm-prom-")
        with open(os.path.join(self.EXAMPLE, "prometheus.yml")) as f:
            text = f.read()
        urls = re.findall(r"url: (\S+)", text)
        assert len(urls) >= len(http_ports), urls
        for i, url in enumerate(urls):
            if i < len(http_ports):
                text = text.replace(url, "http://127.0.0.1:%d/prometheus/targets" % http_ports[i])
            else:  # fewer collectors than the example names: leave the others out
                text = re.sub(r"\n\s*- url: %s" % re.escape(url), "", text)
        text = re.sub(r"scrape_interval: \S+", "scrape_interval: " + interval, text)
        text = re.sub(r"evaluation_interval: \S+", "evaluation_interval: " + interval, text)
        if edit:
            text = edit(text, self.dir)
        shutil.copy(os.path.join(self.EXAMPLE, "sflow-monitor.rules.yml"), self.dir)
        self.config = os.path.join(self.dir, "prometheus.yml")
        with open(self.config, "w") as f:
            f.write(text)
        self.port = None
        self.proc = None

    def start(self, timeout=None):
        self.port = free_port()
        log = open(os.path.join(self.dir, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            [self.BINARY, "--config.file=" + self.config,
             "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=_die_with_parent)
        log.close()

        def ready():
            assert self.proc.poll() is None, "prometheus exited"
            with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % self.port, timeout=TIMEOUT) as r:
                return r.status == 200
        wait_until(ready, "prometheus to be ready", timeout=timeout or max(TIMEOUT, 60), interval=0.2)
        return self

    def query(self, expr):
        """Instant query: [(labels, value as float)]."""
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (self.port, urllib.parse.urlencode({"query": expr}))
        with urllib.request.urlopen(url, timeout=TIMEOUT) as r:
            body = json.loads(r.read())
        assert body["status"] == "success", body
        data = body["data"]
        if data["resultType"] == "scalar":
            return [({}, float(data["result"][1]))]
        return [(m["metric"], float(m["value"][1])) for m in data["result"]]

    def stop(self):
        stop_process(self.proc)
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- sflow-gen and processes -------------------------------------------------------------------

def sflow_gen(dest_port, rate, duration, hosts=20, vms=4, rounds=50, extra=()):
    """sflow-gen sending in the background (stdout and stderr together); returns the Popen."""
    cmd = [os.path.join(BUILD, "sflow-gen"), "--hosts", str(hosts), "--vms", str(vms),
           "--rounds", str(rounds), "--dest", "127.0.0.1:%d" % dest_port, "--rate", str(rate),
           "--duration", str(duration)] + list(extra)
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)


def stop_process(p):
    """SIGTERM to p (a Popen), then SIGKILL if it has not ended within TIMEOUT."""
    if p is not None and p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def say(fmt, *args):
    """One line, prefixed with the program's name."""
    print(("%s: " + fmt) % ((os.path.basename(sys.argv[0]),) + args), flush=True)



# ---- scrapes ---------------------------------------------------------------------------------

def agent_ips(hosts):
    """bench-fill's and sflow-gen's agents: 10.0.0.1 + host index."""
    return [".".join(str((0x0A000001 + h) >> s & 255) for s in (24, 16, 8, 0)) for h in range(hosts)]


def scrape_round(stack, targets, clients):
    """GET /metrics?target=IP for every target through nginx, `clients` at once: (the service's
    CPU seconds for the round, the round's wall seconds, sorted latencies, reply sizes)."""
    lat, sizes, lock, todo = [], [], threading.Lock(), list(targets)

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=60)
        while True:
            with lock:
                if not todo:
                    break
                ip = todo.pop()
            t = time.perf_counter()
            conn.request("GET", "/metrics?target=" + ip, headers={"Accept": "text/plain"})
            r = conn.getresponse()
            body = r.read()
            dt = time.perf_counter() - t
            assert r.status == 200 and body, (ip, r.status)
            with lock:
                lat.append(dt)
                sizes.append(len(body))
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    pid = stack.service_pid()
    c0, t0 = cpu_seconds(pid), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return cpu_seconds(pid) - c0, time.perf_counter() - t0, sorted(lat), sizes


class Scraper:
    """A full scrape round every `every_s` seconds in a thread (what Prometheus asks of the
    service, without Prometheus's own work), until stop()."""

    def __init__(self, stack, targets, clients=4, every_s=5.0):
        self.stack, self.targets, self.clients, self.every_s = stack, targets, clients, every_s
        self.rounds, self.lat = 0, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self):
        while not self._stop.is_set():
            t = time.monotonic()
            _, _, lat, _ = scrape_round(self.stack, self.targets, self.clients)
            self.rounds += 1
            self.lat.extend(lat)
            self._stop.wait(max(0.0, self.every_s - (time.monotonic() - t)))

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()

# ---- /proc ----------------------------------------------------------------------------------------

def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status(pid):
    """/proc/PID/status's sizes, in KiB: {'VmRSS': n, 'RssAnon': n, ...}."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            m = re.match(r"(\w+):\s+(\d+) kB$", line)
            if m:
                out[m.group(1)] = int(m.group(2))
    return out


def rss_kib(pid):
    return proc_status(pid)["VmRSS"]


def udp_snmp():
    """The kernel's UDP counters: {'InErrors': n, 'RcvbufErrors': n, ...} (system-wide)."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return dict(zip(rows[0][1:], map(int, rows[1][1:])))


def cpu_times():
    """(busy, total) jiffies of all CPUs, from /proc/stat (iowait counts as idle)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v) - idle, sum(v)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def sectors_written():
    """Sectors written by every block device since boot."""
    with open("/proc/diskstats") as f:
        return sum(int(line.split()[9]) for line in f if len(line.split()) > 9)


def du_bytes(path):
    return int(subprocess.check_output(["du", "-sb", path]).split()[0])
