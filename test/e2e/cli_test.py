"""The sflow-monitor binary on its own: --help/--version, exit status 2 for configuration
errors and 1 for start-up failures (each with one clear line on stderr), and --fcgi-listen."""

import json
import os
import re
import signal
import socket
import stat
import subprocess

import harness
from harness import Suite, fcgi_request, free_port, wait_until

suite = Suite()
BINARY = os.path.join(harness.BUILD, "sflow-monitor")
CONF = os.path.join(harness.REPO, "etc", "sflow-monitor.conf")
tmp = suite.temp_dir("sfm-cli-")


def run(*args, stdin=subprocess.DEVNULL):
    p = subprocess.run([BINARY] + list(args), stdin=stdin, capture_output=True, text=True,
                       timeout=harness.TIMEOUT)
    return p.returncode, p.stdout, p.stderr


def service_args(**overrides):
    """Options for a service that would start fine: loopback, private dirs, free ports."""
    opts = {"data-dir": os.path.join(tmp, "data-%d" % free_port()), "udp-listen": "127.0.0.1",
            "udp-port": str(free_port(socket.SOCK_DGRAM)), "map-size": "16",
            "fcgi-listen": "unix:" + os.path.join(tmp, "fcgi-%d.sock" % free_port())}
    opts.update(overrides)
    out = []
    for k, v in opts.items():
        out += ["--" + k, v]
    return out


def conf_keys():
    with open(CONF) as f:
        return re.findall(r"^(?:# )?([a-z][a-z-]*) =", f.read(), re.M)


@suite.test
def help_lists_every_option_of_the_shipped_config_file_and_exits_0():
    rc, out, err = run("--help")
    assert rc == 0 and err == "", (rc, err)
    keys = conf_keys()
    assert len(keys) >= 15, keys
    for k in keys:
        assert "--" + k in out, k


@suite.test
def version_prints_the_name_and_exits_0():
    rc, out, _ = run("--version")
    assert rc == 0 and out.startswith("sflow-monitor "), out


@suite.test
def configuration_errors_exit_2_with_a_message_naming_the_culprit():
    bad_file = os.path.join(tmp, "bad.conf")
    with open(bad_file, "w") as f:
        f.write("retention = forever\n")
    unknown_file = os.path.join(tmp, "unknown.conf")
    with open(unknown_file, "w") as f:
        f.write("colour = blue\n")
    cases = [(["--no-such-option"], "no-such-option"),
             (["--retention", "soon"], "retention"),
             (["--udp-port", "70000"], "udp-port"),
             (["--workers", "many"], "workers"),
             (["--config", "/nonexistent/x.conf"], "/nonexistent/x.conf"),
             (["--config", bad_file], "retention"),
             (["--config", unknown_file], "colour"),
             (["stray-argument"], "stray-argument")]
    for args, culprit in cases:
        rc, out, err = run(*args)
        assert rc == 2, (args, rc, err)
        assert culprit in err, (args, err)
        assert out == "", (args, out)


@suite.test
def the_shipped_config_file_is_accepted():
    # parse it, then fail at start-up on purpose (fd 0 is not a socket): status 1, not 2
    rc, _, err = run("--config", CONF, *service_args(**{"fcgi-listen": ""}))
    assert rc == 1, (rc, err)


def one_error_line(err):
    lines = [l for l in err.splitlines() if " error: " in l]
    assert len(lines) == 1, err
    return lines[0]


@suite.test
def without_a_socket_on_fd_0_or_fcgi_listen_it_exits_1_saying_so():
    rc, _, err = run(*service_args(**{"fcgi-listen": ""}))
    assert rc == 1, (rc, err)
    assert "spawn-fcgi" in one_error_line(err), err


@suite.test
def a_udp_port_in_use_is_a_start_up_failure_with_exit_1():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        rc, _, err = run(*service_args(**{"udp-port": str(port)}))
    assert rc == 1, (rc, err)
    assert str(port) in one_error_line(err), err


@suite.test
def a_data_dir_that_cannot_be_opened_is_a_start_up_failure_with_exit_1():
    not_a_dir = os.path.join(tmp, "plain-file")
    with open(not_a_dir, "w") as f:
        f.write("x")
    rc, _, err = run(*service_args(**{"data-dir": not_a_dir}))
    assert rc == 1, (rc, err)
    assert not_a_dir in one_error_line(err), err


def start(args, env=None):
    log = open(os.path.join(tmp, "service-%d.log" % free_port()), "w+")
    p = subprocess.Popen([BINARY] + args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
    return p, log


def log_text(log):
    log.seek(0)
    return log.read()


def stop(p, log):
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=harness.TIMEOUT)
    text = log_text(log)
    log.close()
    assert rc == 0, (rc, text)
    assert " error: " not in text, text
    return text


DESCRIBE = b'{"jsonrpc":"2.0","method":"host.description","id":1}'
POST = {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": str(len(DESCRIBE)), "REQUEST_URI": "/api"}


@suite.test
def fcgi_listen_unix_serves_on_a_socket_of_mode_0660_and_removes_it_at_stop():
    path = os.path.join(tmp, "own.sock")
    p, log = start(service_args(**{"fcgi-listen": "unix:" + path}))
    try:
        wait_until(lambda: " started" in log_text(log) or p.poll() is not None, "start-up")
        assert p.poll() is None, log_text(log)
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode == 0o660, oct(mode)
        headers, body = fcgi_request(path, POST, DESCRIBE)
        assert headers["content-type"] == "application/json-rpc", headers
        assert body == b'{"jsonrpc":"2.0","result":[],"id":1}', body
        # a second service on the same socket refuses to start, and leaves it alone
        rc, _, err = run(*service_args(**{"fcgi-listen": "unix:" + path}))
        assert rc == 1 and "in use" in one_error_line(err), (rc, err)
        assert fcgi_request(path, POST, DESCRIBE)[1] == body
    finally:
        stop(p, log)
    assert not os.path.exists(path)


def thread_names(pid):
    """{name: [nice, ...]} of the process's threads, from /proc/PID/task/*/{comm,stat}."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        base = "/proc/%d/task/%s/" % (pid, tid)
        with open(base + "comm") as f:
            name = f.read().strip()
        with open(base + "stat") as f:
            stat_line = f.read()
        nice = int(stat_line[stat_line.rindex(")") + 2:].split()[16])  # field 19
        out.setdefault(name, []).append(nice)
    return out


@suite.test
def its_threads_are_named_for_top_and_the_writer_runs_10_nice_levels_down():
    workers = 3
    p, log = start(service_args(**{"fcgi-listen": "unix:" + os.path.join(tmp, "names.sock"),
                                   "workers": str(workers)}))
    try:
        wait_until(lambda: " started" in log_text(log) or p.poll() is not None, "start-up")
        assert p.poll() is None, log_text(log)
        base = os.getpriority(os.PRIO_PROCESS, 0)
        # each thread names itself once it runs: wait for every name (the writer's too)
        wait_until(lambda: len(thread_names(p.pid).get("sfm-fcgi", [])) == workers and
                   "sfm-writer" in thread_names(p.pid) and "sfm-receiver" in thread_names(p.pid),
                   "named threads")
        names = thread_names(p.pid)
        assert names["sfm-fcgi"] == [base] * workers, names
        assert names["sfm-receiver"] == [base], names
        assert names["sfm-writer"] == [min(base + 10, 19)], names
    finally:
        stop(p, log)


@suite.test
def fcgi_listen_host_port_serves_fastcgi_over_tcp():
    port = free_port()
    p, log = start(service_args(**{"fcgi-listen": "127.0.0.1:%d" % port}))
    try:
        wait_until(lambda: " started" in log_text(log) or p.poll() is not None, "start-up")
        assert p.poll() is None, log_text(log)
        headers, body = fcgi_request(("127.0.0.1", port), POST, DESCRIBE)
        assert body == b'{"jsonrpc":"2.0","result":[],"id":1}', body
    finally:
        stop(p, log)


def store_map_size(sock):
    body = b'{"jsonrpc":"2.0","method":"collector.stats","id":1}'
    params = dict(POST, CONTENT_LENGTH=str(len(body)))
    return json.loads(fcgi_request(sock, params, body)[1])["result"]["store"]["map_size_bytes"]


@suite.test
def without_map_size_a_new_store_takes_half_the_free_disk_and_keeps_it_after():
    data = os.path.join(tmp, "data-derived")
    sock = os.path.join(tmp, "derived.sock")
    args = [a for a in service_args(**{"data-dir": data, "fcgi-listen": "unix:" + sock})]
    i = args.index("--map-size")
    del args[i:i + 2]
    fs = os.statvfs(tmp)
    half_free = fs.f_bavail * fs.f_frsize // 2
    sizes = []
    for run_no in range(2):
        p, log = start(args)
        try:
            wait_until(lambda: " started" in log_text(log) or p.poll() is not None, "start-up")
            assert p.poll() is None, log_text(log)
            m = re.search(r"store \S+: map size (\d+) MiB \(([^)]*)\)", log_text(log))
            assert m, log_text(log)
            sizes.append(int(m.group(1)) << 20)
            assert store_map_size(sock) == sizes[-1]
            assert m.group(2) == ("half the free space of its file system, at most 1 TiB",
                                  "the store's own; map-size changes it")[run_no], m.group(2)
        finally:
            stop(p, log)
    # other processes use this disk too: within 10% of half of what was free
    assert abs(sizes[0] - min(half_free, 1 << 40)) < half_free / 10, (sizes, half_free)
    assert sizes[1] == sizes[0], sizes


@suite.test
def sigint_stops_the_service_cleanly_too():
    p, log = start(service_args())
    wait_until(lambda: " started" in log_text(log) or p.poll() is not None, "start-up")
    p.send_signal(signal.SIGINT)
    assert p.wait(timeout=harness.TIMEOUT) == 0, log_text(log)
    assert "stopped" in log_text(log)
    log.close()


@suite.test
def a_receiver_thread_that_throws_stops_the_service_with_exit_3():
    """SFM_TEST_FAULT=receiver makes the receiver throw at its first datagram: the service logs
    it once and stops with exit 3 (systemd's Restart= brings it back), instead of answering
    on without ingest."""
    args = service_args()
    port = int(args[args.index("--udp-port") + 1])
    p, log = start(args, env=dict(os.environ, SFM_TEST_FAULT="receiver"))
    wait_until(lambda: " started" in log_text(log) or p.poll() is not None, "start-up")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"not sflow", ("127.0.0.1", port))
    rc = p.wait(timeout=harness.TIMEOUT)
    text = log_text(log)
    log.close()
    assert rc == 3, (rc, text)
    assert text.count(" error: ") == 1, text
    assert "test fault injected in the receiver" in text, text
    assert "stopping: the ingest stopped" in text, text


suite.run()
