"""ctld as a process: data-root lock, signals, crash restart, socket permissions, config file,
TCP with and without mutual TLS."""
import grp
import json
import os
import signal
import socket
import stat
import subprocess
import tempfile
import time

import pytest

from harness.ctld import CTL, CTLD, Daemon


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_second_daemon_on_same_data_root_fails_fast(daemon):
    other = os.path.join(daemon.dir, "other.sock")
    start = time.time()
    out = subprocess.run([CTLD, "--host", "unix://" + other, "--data-root", daemon.data_root,
                          "--exec-root", daemon.exec_root + "2"], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "already" in out.stderr.lower() and daemon.data_root in out.stderr
    assert time.time() - start < 10
    assert not os.path.exists(other)
    assert daemon.api("GET", "/_ping")[0] == 200


def test_sigterm_stops_cleanly_and_removes_socket(daemon):
    assert os.path.exists(daemon.socket)
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(20) == 0
    assert not os.path.exists(daemon.socket)


def test_sigint_stops_cleanly(daemon):
    daemon.proc.send_signal(signal.SIGINT)
    assert daemon.proc.wait(20) == 0
    assert not os.path.exists(daemon.socket)


def test_sigkill_then_restart_opens_store_cleanly(daemon):
    _, before = daemon.json("GET", "/info", expect=200)
    daemon.kill(signal.SIGKILL)
    assert os.path.exists(daemon.socket)  # stale socket left by the crash
    daemon.start()
    _, after = daemon.json("GET", "/info", expect=200)
    assert after["ID"] == before["ID"]  # same store, same engine ID


def test_socket_mode_and_group(daemon):
    st = os.stat(daemon.socket)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660
    assert st.st_uid == 0
    try:
        gid = grp.getgrnam("ctl").gr_gid
        assert st.st_gid == gid
    except KeyError:
        pass


def test_config_file_sets_hosts_and_roots():
    d = Daemon(start=False)
    try:
        cfg = os.path.join(d.dir, "ctld.json")
        with open(cfg, "w") as f:
            json.dump({"hosts": [d.host], "data-root": d.data_root, "exec-root": d.exec_root, "log-level": "debug"}, f)
        d.argv = lambda: [CTLD, "--config", cfg]
        d.start()
        _, info = d.json("GET", "/info", expect=200)
        assert info["DockerRootDir"] == d.data_root
        assert info["Debug"] is True
    finally:
        assert not d.cleanup()


def test_bad_config_file_is_refused():
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        f.write('{"hosts": ["unix:///tmp/x.sock"], "nonsense": 1}')
        f.flush()
        out = subprocess.run([CTLD, "--config", f.name], capture_output=True, text=True, timeout=30)
        assert out.returncode != 0 and "nonsense" in out.stderr


def test_plain_tcp_is_refused_without_tls():
    d = Daemon(start=False)
    try:
        port = free_port()
        out = subprocess.run(d.argv() + ["--host", f"tcp://127.0.0.1:{port}"], capture_output=True, text=True,
                             timeout=30)
        assert out.returncode != 0
        assert "tls" in out.stderr.lower()
        assert not os.path.exists(d.socket)
    finally:
        d.cleanup()


def test_insecure_tcp_serves_and_warns():
    port = free_port()
    d = Daemon(extra_args=["--host", f"tcp://127.0.0.1:{port}", "--insecure-tcp"])
    try:
        out = subprocess.run(["curl", "-s", f"http://127.0.0.1:{port}/_ping"], capture_output=True, text=True,
                             timeout=30)
        assert out.stdout == "OK"
        assert "WITHOUT TLS" in d.log_tail(200)
    finally:
        assert not d.cleanup()


def make_certs(directory):
    def run(*args):
        subprocess.run(args, check=True, capture_output=True, cwd=directory)

    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ctl-test-ca",
        "-keyout", "ca-key.pem", "-out", "ca.pem")
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"),
                      ("client", "extendedKeyUsage=clientAuth")):
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", f"{name}-key.pem",
            "-out", f"{name}.csr")
        with open(os.path.join(directory, f"{name}.ext"), "w") as f:
            f.write(ext + "\n")
        run("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
            "-CAcreateserial", "-days", "2", "-out", f"{name}-cert.pem", "-extfile", f"{name}.ext")


def test_tcp_with_mutual_tls():
    certs = tempfile.mkdtemp(prefix="ctl-certs-")
    make_certs(certs)
    port = free_port()
    p = lambda n: os.path.join(certs, n)  # noqa: E731
    d = Daemon(extra_args=["--host", f"tcp://127.0.0.1:{port}", "--tlsverify", "--tlscacert", p("ca.pem"),
                           "--tlscert", p("server-cert.pem"), "--tlskey", p("server-key.pem")])
    try:
        url = f"https://127.0.0.1:{port}/_ping"
        ok = subprocess.run(["curl", "-s", "--cacert", p("ca.pem"), "--cert", p("client-cert.pem"), "--key",
                             p("client-key.pem"), url], capture_output=True, text=True, timeout=30)
        assert ok.stdout == "OK", ok.stderr
        refused = subprocess.run(["curl", "-s", "--cacert", p("ca.pem"), url], capture_output=True, text=True,
                                 timeout=30)
        assert refused.returncode != 0 and refused.stdout != "OK"
        out = subprocess.run([CTL, "-H", f"tcp://127.0.0.1:{port}", "--tlsverify", "--tlscacert", p("ca.pem"),
                              "--tlscert", p("client-cert.pem"), "--tlskey", p("client-key.pem"), "version"],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert "API version:     1.41" in out.stdout
        assert d.api("GET", "/_ping")[0] == 200  # the unix socket keeps working beside TCP
    finally:
        assert not d.cleanup()
        subprocess.run(["rm", "-rf", certs])
