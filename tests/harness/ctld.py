"""Starts a real ctld for a test: its own socket, data root and exec root under a short temp dir,
waits for /_ping, and on teardown stops it and checks that nothing it made is left behind."""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("CTL_BUILD_DIR", os.path.join(ROOT, "build"))
CTLD = os.path.join(BUILD, "ctld")
CTL = os.path.join(BUILD, "ctl")


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def mounts_under(*roots):
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4]
            if any(point == r or point.startswith(r.rstrip("/") + "/") for r in roots):
                found.append(point)
    return found


class Daemon:
    def __init__(self, extra_args=(), start=True):
        # Unix socket paths are limited to 108 bytes: keep the temp dir short.
        self.dir = tempfile.mkdtemp(prefix="ctl-test-", dir="/tmp")
        self.socket = os.path.join(self.dir, "ctld.sock")
        self.host = "unix://" + self.socket
        self.data_root = os.path.join(self.dir, "data")
        self.exec_root = os.path.join(self.dir, "exec")
        self.log_path = os.path.join(self.dir, "ctld.log")
        self.extra_args = list(extra_args)
        self.proc = None
        if start:
            self.start()

    def argv(self):
        return [CTLD, "--host", self.host, "--data-root", self.data_root, "--exec-root", self.exec_root,
                "--log-level", "debug"] + self.extra_args

    def start(self, timeout=30):
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(self.argv(), stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ctld exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                status, _, body = self.api("GET", "/_ping", timeout=2)
                if status == 200 and body == b"OK":
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("ctld did not answer /_ping:\n" + self.log_tail())

    def log_tail(self, lines=40):
        try:
            with open(self.log_path) as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def api(self, method, path, body=None, headers=None, timeout=120):
        conn = UnixHTTPConnection(self.socket, timeout=timeout)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            headers = dict(headers or {}, **{"Content-Type": "application/json"})
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        result = (resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        conn.close()
        return result

    def json(self, method, path, body=None, headers=None, expect=None):
        status, headers_out, data = self.api(method, path, body, headers)
        if expect is not None:
            assert status == expect, f"{method} {path}: {status} {data[:500]!r}"
        return status, (json.loads(data) if data.strip() else None)

    def stream_lines(self, method, path, body=None, headers=None):
        """Returns (status, headers, [json objects]) of a JSON-lines stream."""
        status, headers_out, data = self.api(method, path, body, headers)
        lines = [json.loads(l) for l in data.decode(errors="replace").splitlines() if l.strip()]
        return status, headers_out, lines

    def ctl(self, *args, input=None, env=None, check=False, timeout=120):
        e = dict(os.environ)
        e.pop("CTL_HOST", None)
        e["HOME"] = self.dir  # ctl keeps credentials in ~/.config/ctl
        e.update(env or {})
        argv = [CTL, "-H", self.host] + list(args)
        return subprocess.run(argv, input=input, capture_output=True, env=e, check=check, timeout=timeout,
                              text=not isinstance(input, bytes))

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        self.proc.wait(30)

    def stop(self, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
        return self.proc.returncode if self.proc else None

    def restart(self):
        self.stop()
        self.start()

    def cleanup(self):
        """Stops the daemon and removes its dirs; returns leaked mounts (after unmounting them)."""
        self.stop()
        leaked = mounts_under(self.data_root, self.exec_root)
        for m in sorted(leaked, key=len, reverse=True):
            subprocess.run(["umount", "-l", m], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)
        return leaked
