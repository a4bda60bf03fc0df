"""Starts a real ctld for a test: its own socket, data root and exec root under a short temp dir,
waits for /_ping, and on teardown stops it and checks that nothing it made is left behind.

    d = Daemon()                      # started, answering /_ping
    status, headers, body = d.api("GET", "/v1.41/info")
    status, doc = d.json("GET", "/info", expect=200)
    d.ctl("info", "--format", "{{.Driver}}")
    problems = d.cleanup()            # [] when the daemon stopped cleanly and left nothing behind

Tests normally get one through the fixtures in tests/conftest.py (`daemon`, `shared_daemon`,
`daemon_factory`), which fail the test when cleanup() reports a problem.
"""
import hashlib
import http.client
import json
import os
import shlex
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

START_TIMEOUT = 20   # seconds until /_ping must answer
STOP_TIMEOUT = 20    # seconds between SIGTERM and SIGKILL


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over an AF_UNIX socket: the tests see exactly what the daemon sends."""

    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.unix_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _unescape_mountinfo(field):
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    out, i = "", 0
    while i < len(field):
        octal = field[i + 1:i + 4]
        if field[i] == "\\" and len(octal) == 3 and all(c in "01234567" for c in octal):
            out += chr(int(octal, 8))
            i += 4
        else:
            out += field[i]
            i += 1
    return out


def mounts_under(*roots):
    """Mount points at or below any of roots, from /proc/self/mountinfo."""
    found = []
    roots = [os.path.realpath(r).rstrip("/") for r in roots]
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = _unescape_mountinfo(line.split()[4])
            if any(point == r or point.startswith(r + "/") for r in roots):
                found.append(point)
    return found


def process_table():
    """{pid: ppid} of every process we can see."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if fields and fields[0] != "Z":
            table[int(entry)] = int(fields[1])
    return table


def descendants(pid):
    table = process_table()
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        for child, parent in table.items():
            if parent == p and child not in out:
                out.add(child)
                todo.append(child)
    return out


def processes_touching(directory):
    """Pids whose command line, cwd or root lies in directory (orphans reparented away from ctld
    are still found this way)."""
    found = set()
    directory = directory.rstrip("/")
    me = os.getpid()
    for pid in process_table():
        if pid == me:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
            places = [os.readlink(f"/proc/{pid}/cwd"), os.readlink(f"/proc/{pid}/root")]
        except OSError:
            continue
        inside = [a for a in argv if a == directory or directory + "/" in a]
        inside += [p for p in places if p == directory or p.startswith(directory + "/")]
        if inside:
            found.add(pid)
    return found


def describe(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f"{pid}: " + f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return f"{pid}: (gone)"


def nft_table_name(data_root):
    """ctld's nftables table for a data root (engine/daemon/main.cpp: ctld_ + sha256[:8])."""
    return "ctld_" + hashlib.sha256(data_root.encode()).hexdigest()[:8]


def forward_rules(table):
    """The iptables FORWARD rules ctld added for its table (tagged with a "ctld <table>" comment)."""
    out = subprocess.run(["iptables", "-w", "-S", "FORWARD"], capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if f"ctld {table}" in l]


def remove_engine_network(table, links):
    """Deletes what a stopped ctld's networking leaves on the host by design (like docker0): the
    links given, its nftables table and its FORWARD rules."""
    for link in links:
        subprocess.run(["ip", "link", "del", link], stderr=subprocess.DEVNULL)
    subprocess.run(["nft", "delete", "table", "ip", table], stderr=subprocess.DEVNULL)
    for rule in forward_rules(table):
        subprocess.run(["iptables", "-w"] + shlex.split(rule.replace("-A FORWARD", "-D FORWARD", 1)),
                       stderr=subprocess.DEVNULL)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    # Extra sweeps later issues add (runtime state, links, nft tables...): callables taking the
    # Daemon after it stopped and returning a list of problems (having removed what they found).
    leak_checks = []

    def __init__(self, extra_args=(), start=True, args=None, env=None):
        """extra_args are appended to the default flags; args, when given, replaces all flags
        (e.g. ["--config", path]) and the caller is responsible for socket and roots matching
        .socket/.data_root/.exec_root."""
        # Unix socket paths are limited to 108 bytes: keep the temp dir short.
        self.dir = tempfile.mkdtemp(prefix="ctl-test-", dir="/tmp")
        self.socket = os.path.join(self.dir, "ctld.sock")
        self.host = "unix://" + self.socket
        self.data_root = os.path.join(self.dir, "data")
        self.exec_root = os.path.join(self.dir, "exec")
        self.log_path = os.path.join(self.dir, "ctld.log")
        # Each daemon gets its own default bridge (names are at most 15 bytes) and, derived
        # from its data root by ctld, its own nftables table.
        self.bridge = "ctlt" + os.urandom(4).hex()
        self.nft_table = nft_table_name(self.data_root)
        self.extra_args = list(extra_args)
        self.args = args
        self.env = env
        self.proc = None
        self.log = None
        self.expected_exit = True   # False while running: an exit we did not ask for is a crash
        self.problems = []          # things noticed on the way (crashes, unclean stops)
        self.seen_pids = set()      # ctld's descendants seen at stop time
        if start:
            try:
                self.start()
            except BaseException:
                self.cleanup()
                raise

    def argv(self):
        if self.args is not None:
            return [CTLD] + list(self.args)
        return [CTLD, "--host", self.host, "--data-root", self.data_root, "--exec-root", self.exec_root,
                "--log-level", "debug", "--bridge", self.bridge] + self.extra_args

    def start(self, timeout=START_TIMEOUT):
        if self.log is None or self.log.closed:
            self.log = open(self.log_path, "a")
        env = dict(os.environ)
        for k in ("CTL_HOST", "DOCKER_HOST"):
            env.pop(k, None)
        env.update(self.env or {})
        self.log.write(f"=== harness: starting {' '.join(self.argv())}\n")
        self.log.flush()
        self.proc = subprocess.Popen(self.argv(), stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     stdin=subprocess.DEVNULL)
        self.expected_exit = False
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.expected_exit = True
                raise RuntimeError(f"ctld exited with {self.proc.returncode} while starting:\n{self.log_tail()}")
            try:
                status, _, body = self.api("GET", "/_ping", timeout=2)
                if status == 200 and body == b"OK":
                    return
                last = f"/_ping answered {status} {body[:200]!r}"
            except (OSError, http.client.HTTPException) as e:
                last = repr(e)
            time.sleep(0.05)
        raise RuntimeError(f"ctld did not answer /_ping within {timeout}s (last: {last}):\n{self.log_tail()}")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # --- HTTP ---------------------------------------------------------------------------------

    def connection(self, timeout=120):
        return UnixHTTPConnection(self.socket, timeout=timeout)

    def api(self, method, path, body=None, headers=None, timeout=120):
        """One request on a fresh connection: (status, {lower-case header: value}, body bytes)."""
        conn = self.connection(timeout)
        try:
            headers = dict(headers or {})
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
                headers.setdefault("Content-Type", "application/json")
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None, expect=None):
        """(status, decoded JSON body or None); with expect, asserts the status first."""
        status, _, data = self.api(method, path, body, headers)
        if expect is not None:
            assert status == expect, f"{method} {path}: {status} {data[:500]!r}"
        return status, (json.loads(data) if data.strip() else None)

    def stream_lines(self, method, path, body=None, headers=None):
        """(status, headers, [json objects]) of a JSON-lines stream read to its end."""
        status, headers_out, data = self.api(method, path, body, headers)
        lines = [json.loads(l) for l in data.decode(errors="replace").splitlines() if l.strip()]
        return status, headers_out, lines

    def ping(self):
        try:
            status, _, body = self.api("GET", "/_ping", timeout=10)
            return status == 200 and body == b"OK"
        except (OSError, http.client.HTTPException):
            return False

    # --- client -------------------------------------------------------------------------------

    def ctl(self, *args, input=None, env=None, check=False, timeout=120, host=True):
        """Runs build/ctl against this daemon (-H unless host=False) with HOME in the test dir."""
        e = dict(os.environ)
        e.pop("CTL_HOST", None)
        e["HOME"] = self.dir  # ctl keeps credentials in ~/.config/ctl
        e.update(env or {})
        argv = [CTL] + (["-H", self.host] if host else []) + list(args)
        return subprocess.run(argv, input=input, capture_output=True, env=e, check=check, timeout=timeout,
                              text=not isinstance(input, bytes))

    # --- lifecycle ----------------------------------------------------------------------------

    def _note_descendants(self):
        if self.running():
            self.seen_pids |= descendants(self.proc.pid)

    def kill(self, sig=signal.SIGKILL, wait=True):
        """Sends sig; for SIGKILL (or wait=True with a deadly signal) waits for the exit."""
        self._note_descendants()
        self.expected_exit = True
        self.proc.send_signal(sig)
        if wait:
            return self.proc.wait(STOP_TIMEOUT)
        return None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, then SIGKILL after timeout; returns the exit code. A daemon that needed
        SIGKILL or exited non-zero on SIGTERM is recorded in .problems."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self._note_descendants()
            self.expected_exit = True
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout)
                if code != 0:
                    self.problems.append(f"ctld exited with {code} on SIGTERM:\n{self.log_tail()}")
            except subprocess.TimeoutExpired:
                self.problems.append(f"ctld did not exit within {timeout}s of SIGTERM; killed:\n{self.log_tail()}")
                self.proc.kill()
                self.proc.wait()
        elif not self.expected_exit:
            self.problems.append(f"ctld died during the test (exit {self.proc.returncode}):\n{self.log_tail()}")
            self.expected_exit = True
        if self.log is not None:
            self.log.close()
        return self.proc.returncode

    def restart(self, timeout=START_TIMEOUT):
        self.stop()
        self.start(timeout)

    def network_leftovers(self):
        """What of this daemon's networking exists on the host: (links, has nft table, iptables
        rules). The default bridge is expected while the daemon exists; veths are not."""
        links = []
        out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
        bridges = self.user_bridges() | {self.bridge}
        for line in out.splitlines():
            name = line.split(":")[1].strip().split("@")[0]
            if name in bridges:
                links.append(name)
            elif name.startswith("veth") and any(f"master {b} " in line for b in bridges):
                links.append(name)
        table = subprocess.run(["nft", "list", "table", "ip", self.nft_table],
                               capture_output=True).returncode == 0
        return links, table, forward_rules(self.nft_table)

    def user_bridges(self):
        """Bridges of user-defined networks recorded in the store (br-<id>)."""
        db = os.path.join(self.data_root, "ctld.db")
        if not os.path.exists(db):
            return set()
        try:
            import sqlite3
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
            rows = con.execute("SELECT record FROM networks").fetchall()
            con.close()
        except Exception:  # noqa: BLE001 - no networks table yet
            return set()
        return {json.loads(r[0]).get("Bridge") for r in rows if json.loads(r[0]).get("Bridge")}

    def _sweep_network(self):
        """After the stop: veths left behind are a problem; bridges, the table and forward rules
        are removed (they outlive ctld by design, like docker0)."""
        problems = []
        try:
            links, table, rules = self.network_leftovers()
        except FileNotFoundError:
            return problems
        veths = [l for l in links if l.startswith("veth")]
        if veths:
            problems.append(f"veths left behind: {veths}")
        if links or table or rules:
            remove_engine_network(self.nft_table, links)
        return problems

    def remove_all_containers(self):
        """Best effort, while the daemon still runs: containers outlive ctld (live restore), so
        a test that failed half-way must not leave them running."""
        if not self.running():
            return
        try:
            status, _, body = self.api("GET", "/containers/json?all=1", timeout=30)
            if status != 200:
                return
            for c in json.loads(body):
                self.api("DELETE", f"/containers/{c['Id']}?force=1&v=1", timeout=60)
        except (OSError, http.client.HTTPException, ValueError):
            pass

    def cleanup(self):
        """Stops the daemon, sweeps what it left and removes its dirs. Returns the list of
        problems: unclean stop or crash, processes left running, mounts left under the roots,
        and whatever Daemon.leak_checks report. Everything found is removed first."""
        self.remove_all_containers()
        self.stop()
        problems = list(self.problems)
        self.problems = []

        # Processes: ctld's children, plus anything still working inside our dirs.
        left = {p for p in self.seen_pids if p in process_table()} | processes_touching(self.dir)
        if self.proc is not None and self.proc.pid in process_table():
            left.add(self.proc.pid)
        if left:
            problems.append("processes left behind:\n  " + "\n  ".join(describe(p) for p in sorted(left)))
            for p in left:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass

        for check in self.leak_checks:
            problems.extend(check(self))
        problems.extend(self._sweep_network())

        leaked = mounts_under(self.data_root, self.exec_root, self.dir)
        if leaked:
            problems.append(f"mounts left behind: {leaked}")
            for m in sorted(leaked, key=len, reverse=True):
                subprocess.run(["umount", "-l", m], stderr=subprocess.DEVNULL)
            still = mounts_under(self.dir)
            if still:
                problems.append(f"could not unmount: {still}")
        if not mounts_under(self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)
        return problems


def run_ctld_expecting_failure(args, timeout=20):
    """Runs ctld with args, expecting it to exit by itself (non-zero) within timeout; a ctld that
    keeps running is killed and reported. Returns the CompletedProcess."""
    env = dict(os.environ)
    env.pop("CTL_HOST", None)
    proc = subprocess.Popen([CTLD] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, stdin=subprocess.DEVNULL)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            out, err = proc.communicate(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        raise AssertionError(f"ctld {' '.join(args)} was expected to fail but kept running:\n{err[-2000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
