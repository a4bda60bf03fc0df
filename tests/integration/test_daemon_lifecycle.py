"""ctld as a process: the data-root lock, signals, crash and restart, socket permissions, flags and
the config file, TCP with and without mutual TLS."""
import glob
import grp
import hashlib
import json
import os
import signal
import sqlite3
import stat
import subprocess
import threading
import time

import pytest

from harness.ctld import CTL, CTLD, free_port, run_ctld_expecting_failure
from harness.rawhttp import RawConnection


def roots_args(d, socket=None, data_root=None, exec_root=None):
    return ["--host", "unix://" + (socket or d.socket), "--data-root", data_root or d.data_root,
            "--exec-root", exec_root or d.exec_root]


# --- one ctld per data root -------------------------------------------------------------------------

def test_second_daemon_on_same_data_root_fails_fast(daemon):
    other = os.path.join(daemon.dir, "other.sock")
    start = time.monotonic()
    out = run_ctld_expecting_failure(roots_args(daemon, socket=other, exec_root=daemon.exec_root + "2"))
    assert out.returncode != 0
    assert "already" in out.stderr.lower() and daemon.data_root in out.stderr, out.stderr
    assert time.monotonic() - start < 10, "the second ctld should give up at once, not wait for the lock"
    assert not os.path.exists(other), "the refused ctld left its socket behind"
    assert daemon.ping()


def test_second_daemon_on_same_data_root_and_socket_leaves_the_first_alone(daemon):
    out = run_ctld_expecting_failure(roots_args(daemon))
    assert out.returncode != 0
    assert "already" in out.stderr.lower(), out.stderr
    assert os.path.exists(daemon.socket), "the refused ctld removed the running daemon's socket"
    assert daemon.ping()


def test_second_daemon_on_a_socket_in_use_fails(daemon):
    """A different data root but the same socket path: ctld must not steal a live socket."""
    out = run_ctld_expecting_failure(roots_args(daemon, data_root=daemon.data_root + "2",
                                                exec_root=daemon.exec_root + "2"))
    assert out.returncode != 0
    assert daemon.socket in out.stderr, out.stderr
    assert daemon.ping()
    # Refused before it touched the host's networking: no nftables table of its own left behind.
    table = "ctld_" + hashlib.sha256((daemon.data_root + "2").encode()).hexdigest()[:8]
    assert subprocess.run(["nft", "list", "table", "ip", table], capture_output=True).returncode != 0


# --- signals ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_and_removes_socket(daemon, sig):
    assert stat.S_ISSOCK(os.stat(daemon.socket).st_mode)
    daemon.kill(sig, wait=False)
    assert daemon.proc.wait(20) == 0
    assert not os.path.exists(daemon.socket)


def test_sigterm_with_open_connections_and_streams(daemon):
    """In-flight requests (an endless events stream, an idle keep-alive connection, half a
    request) do not keep ctld from stopping."""
    events = RawConnection(daemon.socket, timeout=30)
    idle = RawConnection(daemon.socket)
    half = RawConnection(daemon.socket)
    try:
        events.request("GET", "/v1.41/events")
        assert events.read_head()[0] == 200
        idle.request("GET", "/_ping")
        assert idle.read_response().status == 200
        half.send(b"GET /v1.41/info HTTP/1.1\r\nHost: x\r\n")
        daemon.kill(signal.SIGTERM, wait=False)
        assert daemon.proc.wait(20) == 0
        assert not os.path.exists(daemon.socket)
        # The stream was ended, not left hanging.
        assert events.is_closed(5)
    finally:
        for c in (events, idle, half):
            c.close()


def store_files(data_root):
    return [p for p in glob.glob(os.path.join(data_root, "**", "*.db"), recursive=True)]


def check_store(data_root):
    """The SQLite store is consistent and in WAL mode (read with the daemon stopped)."""
    dbs = store_files(data_root)
    assert dbs, f"no *.db store under {data_root}"
    for path in dbs:
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", path
            assert conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal", path
        finally:
            conn.close()


def test_sigkill_then_restart_opens_store_cleanly(daemon):
    _, before = daemon.json("GET", "/info", expect=200)
    daemon.kill(signal.SIGKILL)
    assert os.path.exists(daemon.socket)  # a crash leaves a stale socket file
    daemon.start()
    _, after = daemon.json("GET", "/info", expect=200)
    assert after["ID"] == before["ID"], "same data root, same store, same engine ID"
    assert after["DockerRootDir"] == daemon.data_root
    daemon.json("GET", "/system/df", expect=200)
    assert daemon.stop() == 0
    check_store(daemon.data_root)


def test_sigkill_under_load_then_restart(daemon):
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            try:
                daemon.api("GET", "/v1.41/info", timeout=5)
            except Exception:  # connections fail while ctld dies; that is the point
                pass

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        daemon.kill(signal.SIGKILL)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    daemon.start()
    _, info = daemon.json("GET", "/info", expect=200)
    assert info["Containers"] == 0
    assert daemon.stop() == 0
    check_store(daemon.data_root)


def test_repeated_crashes_and_restarts(daemon):
    _, first = daemon.json("GET", "/info", expect=200)
    for _ in range(3):
        daemon.kill(signal.SIGKILL)
        daemon.start()
    _, last = daemon.json("GET", "/info", expect=200)
    assert last["ID"] == first["ID"]


# --- the socket ------------------------------------------------------------------------------------

def test_socket_mode_and_owner(daemon):
    st = os.stat(daemon.socket)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660, oct(stat.S_IMODE(st.st_mode))
    assert st.st_uid == 0
    try:
        assert st.st_gid == grp.getgrnam("ctl").gr_gid, "the socket belongs to group ctl when it exists"
    except KeyError:
        assert st.st_gid == 0


def some_other_group():
    for name in ("daemon", "adm", "nogroup", "users"):
        try:
            g = grp.getgrnam(name)
            if g.gr_gid != 0:
                return g
        except KeyError:
            pass
    return None


def test_socket_group_flag(daemon_factory):
    g = some_other_group()
    if g is None:
        pytest.skip("no non-root group on this machine to hand the socket to")
    d = daemon_factory(extra_args=["--group", g.gr_name])
    st = os.stat(d.socket)
    assert st.st_gid == g.gr_gid
    assert stat.S_IMODE(st.st_mode) == 0o660


def test_several_unix_hosts(daemon_factory):
    d = daemon_factory(start=False)
    second = os.path.join(d.dir, "second.sock")
    d.extra_args = ["--host", "unix://" + second]
    d.start()
    status, _, body = d.api("GET", "/_ping")
    assert status == 200
    with RawConnection(second) as c:
        c.request("GET", "/_ping")
        assert c.read_response().body == b"OK"
    assert d.stop() == 0
    assert not os.path.exists(d.socket) and not os.path.exists(second)


# --- flags and the config file ---------------------------------------------------------------------

def test_config_file_sets_hosts_and_roots(daemon_factory):
    d = daemon_factory(start=False)
    cfg = os.path.join(d.dir, "ctld.json")
    with open(cfg, "w") as f:
        json.dump({"hosts": [d.host], "data-root": d.data_root, "exec-root": d.exec_root, "log-level": "debug",
                   "bridge": d.bridge}, f)
    d.args = ["--config", cfg]
    d.start()
    _, info = d.json("GET", "/info", expect=200)
    assert info["DockerRootDir"] == d.data_root
    assert info["Debug"] is True
    assert os.path.isdir(d.exec_root)
    # The command line wins over the file.
    d.stop()
    d.args = ["--config", cfg, "--log-level", "info"]
    d.start()
    _, info = d.json("GET", "/info", expect=200)
    assert info["Debug"] is False


@pytest.mark.parametrize("content,expect", [
    ('{"hosts": ["unix:///tmp/ctl-test-never.sock"], "nonsense": 1}', "nonsense"),
    ('{"hosts": ', "json"),
    ('["not", "an", "object"]', "object"),
    ('{"log-level": 42}', "log-level"),
])
def test_bad_config_file_is_refused(daemon_factory, content, expect):
    d = daemon_factory(start=False)
    cfg = os.path.join(d.dir, "bad.json")
    with open(cfg, "w") as f:
        f.write(content)
    # The roots on the command line keep a wrongly accepted config away from the system's ctld.
    out = run_ctld_expecting_failure(["--config", cfg, "--data-root", d.data_root, "--exec-root", d.exec_root])
    assert out.returncode != 0
    assert expect in out.stderr.lower() or expect in out.stderr, out.stderr
    assert not os.path.exists("/tmp/ctl-test-never.sock")


def test_missing_config_file_is_refused(daemon_factory):
    d = daemon_factory(start=False)
    missing = os.path.join(d.dir, "missing.json")
    out = run_ctld_expecting_failure(["--config", missing] + roots_args(d))
    assert out.returncode != 0 and missing in out.stderr, out.stderr


@pytest.mark.parametrize("args,expect", [
    (["--no-such-flag"], "no-such-flag"),
    (["--log-level", "chatty"], "chatty"),
    (["--data-root=relative/dir"], "data-root"),
])
def test_bad_flags_are_refused(daemon_factory, args, expect):
    d = daemon_factory(start=False)
    base = roots_args(d)
    if "--data-root=relative/dir" in args:
        base = base[:2] + base[4:]
    out = run_ctld_expecting_failure(base + args)
    assert out.returncode != 0
    assert expect in out.stderr, out.stderr
    assert not os.path.exists(d.socket)


def test_version_flag():
    out = subprocess.run([CTLD, "--version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "ctld" in out.stdout


# --- TCP -------------------------------------------------------------------------------------------

def test_plain_tcp_is_refused_without_tls(daemon_factory):
    d = daemon_factory(start=False)
    port = free_port()
    out = run_ctld_expecting_failure(roots_args(d) + ["--host", f"tcp://127.0.0.1:{port}"])
    assert out.returncode != 0
    assert "tls" in out.stderr.lower(), out.stderr
    assert not os.path.exists(d.socket)


def test_insecure_tcp_serves_and_warns(daemon_factory):
    port = free_port()
    d = daemon_factory(extra_args=["--host", f"tcp://127.0.0.1:{port}", "--insecure-tcp"])
    with RawConnection(tcp=("127.0.0.1", port)) as c:
        c.request("GET", "/_ping")
        resp = c.read_response()
        assert resp.status == 200 and resp.body == b"OK"
        assert resp.header("api-version") == "1.41"
    assert d.ping()  # the unix socket keeps working beside TCP
    assert "tls" in d.log_text().lower(), "ctld should warn that its TCP socket has no TLS"


def curl(*args):
    return subprocess.run(["curl", "-sS", "--max-time", "20"] + list(args), capture_output=True, text=True,
                          timeout=60)


def test_tcp_with_mutual_tls(tls_daemon):
    d = tls_daemon
    p = lambda n: os.path.join(d.certs, n)  # noqa: E731
    url = f"https://127.0.0.1:{d.port}/_ping"
    ok = curl("--cacert", p("ca.pem"), "--cert", p("client-cert.pem"), "--key", p("client-key.pem"), url)
    assert ok.returncode == 0 and ok.stdout == "OK", ok.stderr
    ok = curl("--cacert", p("ca.pem"), "--cert", p("client-cert.pem"), "--key", p("client-key.pem"),
              f"https://127.0.0.1:{d.port}/v1.41/version")
    assert json.loads(ok.stdout)["ApiVersion"] == "1.41"
    assert d.ping()  # the unix socket keeps working beside TCP


@pytest.mark.parametrize("client", ["none", "stranger", "plain-http"])
def test_tls_refuses_clients_without_a_trusted_certificate(tls_daemon, client):
    d = tls_daemon
    p = lambda n: os.path.join(d.certs, n)  # noqa: E731
    if client == "none":
        out = curl("--cacert", p("ca.pem"), f"https://127.0.0.1:{d.port}/_ping")
    elif client == "stranger":
        out = curl("--cacert", p("ca.pem"), "--cert", p("stranger-cert.pem"), "--key", p("stranger-key.pem"),
                   f"https://127.0.0.1:{d.port}/_ping")
    else:
        out = curl(f"http://127.0.0.1:{d.port}/_ping")
    assert out.returncode != 0 and out.stdout != "OK", (out.stdout, out.stderr)
    assert d.ping(), "a refused TLS client must not hurt the daemon"


def test_ctl_over_mutual_tls(tls_daemon):
    d = tls_daemon
    p = lambda n: os.path.join(d.certs, n)  # noqa: E731
    out = subprocess.run([CTL, "-H", f"tcp://127.0.0.1:{d.port}", "--tlsverify", "--tlscacert", p("ca.pem"),
                          "--tlscert", p("client-cert.pem"), "--tlskey", p("client-key.pem"), "version",
                          "--format", "{{.Server.ApiVersion}}"],
                         capture_output=True, text=True, timeout=60, env=dict(os.environ, HOME=d.dir))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1.41"
    out = subprocess.run([CTL, "-H", f"tcp://127.0.0.1:{d.port}", "--tlsverify", "--tlscacert", p("ca.pem"),
                          "--tlscert", p("client-cert.pem"), "--tlskey", p("client-key.pem"), "info",
                          "--format", "{{.DockerRootDir}}"],
                         capture_output=True, text=True, timeout=60, env=dict(os.environ, HOME=d.dir))
    assert out.returncode == 0 and out.stdout.strip() == d.data_root, out.stderr
