"""ctl's container commands end to end: the real ctl against a real ctld running busybox
containers (run/create/start/stop/..., ps, logs, exec, attach, inspect, top, prune), with the
docker CLI's output and exit codes."""
import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time

import pytest

from harness.cli import ok, one_error_line
from harness.containers import REPO_ROOT, import_busybox
from harness.ctld import CTL


@pytest.fixture(scope="module")
def d(shared_daemon):
    import_busybox(shared_daemon)
    return shared_daemon


def state(d, name):
    return ok(d.ctl("inspect", "--format", "{{.State.Status}}", name)).strip()


def wait_for(predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return None


def run_detached(d, *args):
    cid = ok(d.ctl("run", "-d", *args)).strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid), cid
    return cid


# ---- run ----------------------------------------------------------------------------------------

def test_run_prints_both_streams_and_propagates_the_exit_code(d):
    r = d.ctl("run", "--name", "streams", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")
    assert state(d, "streams") == "exited"
    ok(d.ctl("rm", "streams"))


def test_run_passes_flags_through_to_the_container(d):
    r = d.ctl("run", "--rm", "-e", "FOO=bar", "-w", "/tmp", "-u", "1:1", "-h", "box1", "busybox",
              "sh", "-c", "echo $FOO $(hostname); pwd; id -u")
    assert ok(r) == "bar box1\n/tmp\n1\n"
    r = d.ctl("run", "--rm", "--entrypoint", "echo", "busybox", "entry", "-n", "x")
    assert ok(r) == "entry -n x\n"  # everything after the image is the command, flags included


def test_run_create_flags_reach_the_host_config(d, tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nFROM_FILE=1\n\n")
    cid = ok(d.ctl("create", "--name", "flags", "-l", "app=web", "--env-file", str(env_file), "-m", "64m",
                   "--memory-swap", "-1", "--cpus", "0.5", "--cpu-shares", "512", "--pids-limit", "50",
                   "--ulimit", "nofile=100:200", "--cap-add", "NET_ADMIN", "--cap-drop", "MKNOD",
                   "--read-only", "--init", "--add-host", "db:10.0.0.2", "--dns", "9.9.9.9", "--restart",
                   "on-failure:3", "--stop-signal", "SIGUSR1", "--stop-timeout", "7", "--tmpfs", "/run:size=1m",
                   "--log-opt", "max-size=1m", "-p", "127.0.0.1:8080:80", "--expose", "443",
                   "--health-cmd", "true", "--health-interval", "30s", "-v", "/anon", "busybox", "true")).strip()
    info = json.loads(ok(d.ctl("container", "inspect", "--format", "{{json .}}", cid)))
    hc, cfg = info["HostConfig"], info["Config"]
    assert cfg["Labels"]["app"] == "web" and "FROM_FILE=1" in cfg["Env"]
    assert hc["Memory"] == 64 << 20 and hc["MemorySwap"] == -1 and hc["NanoCpus"] == 500000000
    assert hc["CpuShares"] == 512 and hc["PidsLimit"] == 50 and hc["ReadonlyRootfs"] is True
    assert hc["Ulimits"] == [{"Name": "nofile", "Soft": 100, "Hard": 200}]
    assert hc["CapAdd"] == ["NET_ADMIN"] and hc["CapDrop"] == ["MKNOD"] and hc["Init"] is True
    assert hc["ExtraHosts"] == ["db:10.0.0.2"] and hc["Dns"] == ["9.9.9.9"]
    assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert hc["Tmpfs"] == {"/run": "size=1m"} and hc["LogConfig"]["Config"] == {"max-size": "1m"}
    assert hc["PortBindings"]["80/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": "8080"}]
    assert set(cfg["ExposedPorts"]) >= {"80/tcp", "443/tcp"} and "/anon" in cfg["Volumes"]
    assert cfg["StopSignal"] == "SIGUSR1" and cfg["StopTimeout"] == 7
    assert cfg["Healthcheck"]["Test"] == ["CMD-SHELL", "true"] and cfg["Healthcheck"]["Interval"] == 30 * 10**9
    assert state(d, "flags") == "created"
    ok(d.ctl("container", "rm", "flags"))


def test_run_interactive_copies_piped_stdin(d):
    r = d.ctl("run", "-i", "--rm", "busybox", "sh", "-c", "cat; echo done", input="hello\nworld\n")
    assert ok(r) == "hello\nworld\ndone\n"
    # Far more than the socket buffers: stdin must not stop when the engine's read finds nothing yet.
    r = d.ctl("run", "-i", "--rm", "busybox", "wc", "-c", input=b"x" * 300000)
    assert r.returncode == 0 and r.stdout.strip() == b"300000"


def test_run_rm_leaves_nothing(d):
    r = d.ctl("run", "--rm", "--name", "gone", "busybox", "sh", "-c", "echo bye; exit 4")
    assert (r.returncode, r.stdout) == (4, "bye\n")
    assert ok(d.ctl("ps", "-a", "-q", "--filter", "name=gone")) == ""
    assert d.json("GET", "/containers/gone/json")[0] == 404


def test_run_start_failures_exit_127_and_125(d):
    r = d.ctl("run", "--name", "nobin", "busybox", "/no/such/binary")
    assert r.returncode == 127 and len(r.stderr.strip().splitlines()) == 1, (r.returncode, r.stderr)
    r = d.ctl("run", "-d", "busybox", "/no/such/binary")
    assert r.returncode == 127 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    ok(d.ctl("rm", "nobin"))
    line = one_error_line(d.ctl("run", "--pull", "never", "no-such-image:1"))
    assert "No such image" in line


def test_run_detached_then_ps_formats_and_filters(d):
    cid = run_detached(d, "--name", "web1", "-l", "tier=front", "busybox", "sleep", "300")
    try:
        out = ok(d.ctl("ps"))
        header = out.splitlines()[0]
        assert re.match(r"CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$", header), header
        row = [l for l in out.splitlines() if l.startswith(cid[:12])]
        assert row and "busybox" in row[0] and '"sleep 300"' in row[0] and row[0].endswith("web1")
        assert re.search(r"\bUp (Less than a second|\d+ seconds?)", row[0]), row[0]
        assert cid[:12] in ok(d.ctl("ps", "-q")).split()
        assert cid in ok(d.ctl("ps", "-q", "--no-trunc")).split()
        assert ok(d.ctl("ps", "--filter", "label=tier=front", "--format", "{{.Names}} {{.Image}} {{.State}}")) == \
            "web1 busybox running\n"
        assert ok(d.ctl("container", "ls", "--filter", "label=tier=back", "-q")) == ""
        table = ok(d.ctl("ps", "--filter", "name=web1", "--format", "table {{.ID}}\t{{.Names}}")).splitlines()
        assert re.match(r"CONTAINER ID\s+NAMES$", table[0]) and table[1].split() == [cid[:12], "web1"]
        doc = json.loads(ok(d.ctl("ps", "--filter", "name=web1", "--format", "json")))
        assert doc["Names"] == "web1" and doc["ID"] == cid[:12]
        assert ok(d.ctl("ps", "-l", "-q")).strip() == cid[:12]
    finally:
        ok(d.ctl("rm", "-f", "web1"))


def test_ps_all_shows_exited_and_size(d):
    r = d.ctl("run", "--name", "done1", "busybox", "sh", "-c", "exit 2")
    assert r.returncode == 2
    assert "done1" not in ok(d.ctl("ps", "--format", "{{.Names}}")).split()
    row = ok(d.ctl("ps", "-a", "--filter", "name=done1", "--format", "{{.Status}}|{{.State}}")).strip()
    assert re.match(r"Exited \(2\) .* ago\|exited$", row), row
    sized = ok(d.ctl("ps", "-a", "-s", "--filter", "name=done1")).splitlines()
    assert sized[0].rstrip().endswith("SIZE") and re.search(r"B( \(virtual .*B\))?$", sized[1]), sized
    ok(d.ctl("rm", "done1"))


# ---- logs, wait ---------------------------------------------------------------------------------

def test_logs_tail_streams_and_wait(d):
    cid = run_detached(d, "--name", "logger", "busybox", "sh", "-c",
                       "for i in 1 2 3 4 5; do echo line$i; done; echo oops >&2; exit 6")
    assert ok(d.ctl("wait", cid)) == "6\n"
    r = d.ctl("logs", "logger")
    assert ok(r) == "line1\nline2\nline3\nline4\nline5\n" and r.stderr == "oops\n"
    r = d.ctl("logs", "--tail", "2", "logger")
    assert r.stdout + r.stderr in ("line5\noops\n", "oops\nline5\n") and "line4" not in r.stdout
    stamped = ok(d.ctl("logs", "-t", "logger")).splitlines()
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line1$", stamped[0]), stamped[0]
    assert ok(d.ctl("logs", "--since", "2000-01-01", "--until", "1h", "logger")) == ""
    ok(d.ctl("rm", "logger"))


def test_logs_follow_ends_when_the_container_exits(d):
    run_detached(d, "--name", "follow", "busybox", "sh", "-c", "echo a; sleep 1; echo b")
    r = d.ctl("logs", "-f", "follow", timeout=30)
    assert ok(r) == "a\nb\n"
    ok(d.ctl("rm", "follow"))


# ---- exec ---------------------------------------------------------------------------------------

def test_exec_exit_codes_stdin_and_options(d):
    run_detached(d, "--name", "ex", "busybox", "sleep", "300")
    try:
        assert d.ctl("exec", "ex", "sh", "-c", "exit 7").returncode == 7
        r = d.ctl("exec", "ex", "sh", "-c", "echo o; echo e >&2")
        assert (r.returncode, r.stdout, r.stderr) == (0, "o\n", "e\n")
        assert ok(d.ctl("exec", "-i", "ex", "cat", input="piped\n")) == "piped\n"
        assert ok(d.ctl("exec", "-e", "FOO=bar", "-w", "/tmp", "-u", "2", "ex", "sh", "-c",
                        "echo $FOO; pwd; id -u")) == "bar\n/tmp\n2\n"
        assert ok(d.ctl("exec", "-d", "ex", "touch", "/tmp/detached")) == ""
        assert wait_for(lambda: d.ctl("exec", "ex", "test", "-f", "/tmp/detached").returncode == 0)
        assert d.ctl("exec", "ex", "/no/such").returncode in (126, 127)
        assert "PID" in ok(d.ctl("top", "ex")).splitlines()[0]
        assert "sleep 300" in ok(d.ctl("top", "ex"))
        top = ok(d.ctl("top", "ex", "-o", "pid,comm")).splitlines()
        assert top[0].split() == ["PID", "COMMAND"] and any(l.split()[1:] == ["sleep"] for l in top[1:]), top
    finally:
        ok(d.ctl("rm", "-f", "ex"))
    one_error_line(d.ctl("exec", "ex", "true"))


# ---- lifecycle ----------------------------------------------------------------------------------

def test_stop_kill_restart_pause_unpause(d):
    run_detached(d, "--name", "life", "busybox", "sleep", "300")
    assert ok(d.ctl("pause", "life")) == "life\n" and state(d, "life") == "paused"
    assert ok(d.ctl("ps", "--filter", "name=life", "--format", "{{.Status}}")).strip().endswith("(Paused)")
    assert ok(d.ctl("unpause", "life")) == "life\n" and state(d, "life") == "running"
    assert ok(d.ctl("stop", "-t", "1", "life")) == "life\n" and state(d, "life") == "exited"
    assert ok(d.ctl("stop", "life")) == "life\n"  # already stopped: not an error
    assert ok(d.ctl("start", "life")) == "life\n" and state(d, "life") == "running"
    pid = ok(d.ctl("inspect", "-f", "{{.State.Pid}}", "life")).strip()
    assert ok(d.ctl("restart", "-t", "1", "life")) == "life\n" and state(d, "life") == "running"
    assert ok(d.ctl("inspect", "-f", "{{.State.Pid}}", "life")).strip() != pid
    ok(d.ctl("kill", "life"))
    assert ok(d.ctl("container", "wait", "life")) == "137\n"
    ok(d.ctl("container", "rm", "life"))
    # -s: the signal reaches the process (a shell as PID 1 needs a trap to act on it).
    run_detached(d, "--name", "sig", "busybox", "sh", "-c", "trap 'exit 42' USR1; while :; do sleep 0.1; done")
    assert ok(d.ctl("kill", "-s", "USR1", "sig")) == "sig\n"
    assert ok(d.ctl("wait", "sig")) == "42\n"
    ok(d.ctl("rm", "sig"))


def test_create_then_start_attached(d):
    cid = ok(d.ctl("create", "--name", "later", "busybox", "sh", "-c", "echo started; exit 5")).strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid)
    assert ok(d.ctl("ps", "-a", "--filter", "name=later", "--format", "{{.State}}")) == "created\n"
    r = d.ctl("start", "-a", "later")
    assert (r.returncode, r.stdout) == (5, "started\n")
    r = d.ctl("container", "start", "later")
    assert ok(r) == "later\n"
    assert ok(d.ctl("wait", "later")) == "5\n"
    ok(d.ctl("rm", "later"))


def test_attach_sends_stdin_and_returns_the_exit_code(d):
    run_detached(d, "-i", "--name", "att", "busybox", "sh", "-c", "read x; echo got $x; exit 9")
    r = d.ctl("attach", "att", input="hello\n", timeout=30)
    assert (r.returncode, r.stdout) == (9, "got hello\n"), (r.returncode, r.stdout, r.stderr)
    line = one_error_line(d.ctl("attach", "att"))
    assert "stopped container" in line
    ok(d.ctl("rm", "att"))


def test_rm_force_volumes_and_several_names(d):
    run_detached(d, "--name", "rm1", "-v", "/anon", "busybox", "sleep", "300")
    vol = json.loads(ok(d.ctl("inspect", "-f", "{{json .Mounts}}", "rm1")))[0]["Name"]
    r = d.ctl("rm", "rm1")
    assert r.returncode == 125 and "rm1" not in r.stdout
    ok(d.ctl("create", "--name", "rm2", "busybox"))
    r = d.ctl("rm", "-f", "-v", "rm1", "nosuch", "rm2")
    assert r.returncode == 125 and r.stdout == "rm1\nrm2\n", (r.stdout, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1 and "No such container: nosuch" in r.stderr
    assert d.json("GET", "/containers/rm1/json")[0] == 404 and d.json("GET", "/containers/rm2/json")[0] == 404
    assert d.json("GET", f"/volumes/{vol}")[0] == 404


def test_rename_inspect_and_generic_inspect(d):
    cid = ok(d.ctl("create", "--name", "old", "busybox", "true")).strip()
    assert ok(d.ctl("rename", "old", "new")) == ""
    assert ok(d.ctl("container", "inspect", "--format", "{{.Name}} {{.Config.Image}}", "new")) == "/new busybox\n"
    docs = json.loads(ok(d.ctl("inspect", "new")))
    assert docs[0]["Id"] == cid
    assert ok(d.ctl("inspect", "-f", "{{.Id}}", "busybox")).startswith("sha256:")  # falls through to images
    line = one_error_line(d.ctl("container", "inspect", "busybox"))
    assert "No such container" in line
    one_error_line(d.ctl("rename", "old", "x"))
    ok(d.ctl("rm", "new"))


def test_container_prune(d):
    gone = ok(d.ctl("create", "--name", "p1", "busybox")).strip()
    keep = run_detached(d, "--name", "p2", "busybox", "sleep", "300")
    out = ok(d.ctl("container", "prune", "-f"))
    assert out.startswith("Deleted Containers:\n") and gone in out.splitlines() and "Total reclaimed space:" in out
    left = ok(d.ctl("ps", "-aq", "--no-trunc")).split()
    assert keep in left and gone not in left
    ok(d.ctl("rm", "-f", "p2"))


def test_errors_exit_125_with_one_line(d):
    for args in (["start", "nosuch"], ["stop", "nosuch"], ["logs", "nosuch"], ["top", "nosuch"],
                 ["run", "--memory", "lots", "busybox"], ["run", "--restart", "always", "--rm", "busybox"],
                 ["ps", "--filter", "nonsense"], ["container", "wait", "nosuch"]):
        line = one_error_line(d.ctl(*args))
        assert not line.startswith("ctl: internal"), (args, line)
    assert "No such container: nosuch" in one_error_line(d.ctl("kill", "nosuch"))
    assert "input device is not a TTY" in one_error_line(d.ctl("run", "-it", "busybox", "true", input=""))


# ---- terminals ----------------------------------------------------------------------------------

def run_in_pty(d, *args, send=b"", after_text=b"ready", timeout=30):
    """Runs ctl with a pty as its terminal; returns (exit code, output, terminal modes before, after).
    `send` is typed once `after_text` was printed (the container is up and reading)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    before = termios.tcgetattr(slave)
    env = dict(os.environ, HOME=d.dir)
    env.pop("CTL_HOST", None)
    proc = subprocess.Popen([CTL, "-H", d.host] + list(args), stdin=slave, stdout=slave, stderr=slave, env=env,
                            close_fds=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every slave end closed
                break
            if not chunk:
                break
            out += chunk
            if send and after_text in out:
                time.sleep(0.2)
                os.write(master, send)
                send = b""
        elif proc.poll() is not None:
            break
    code = proc.wait(timeout=10)
    after = None
    try:
        after = termios.tcgetattr(master)
    except termios.error:
        pass
    os.close(master)
    return code, out.decode(errors="replace"), before, after


def test_run_tty_through_a_pty(d):
    code, out, before, after = run_in_pty(d, "run", "-it", "--rm", "busybox", "sh", "-c",
                                          "test -t 0 && test -t 1 && echo is-a-tty; sleep 1; stty size; exit 3")
    assert code == 3, out
    assert "is-a-tty\r\n" in out
    assert "40 100\r\n" in out, out  # ctl sent its terminal's size
    if after is not None:
        assert after[3] == before[3], "terminal left in raw mode"


def test_run_tty_interactive_input_and_exec_tty(d):
    code, out, _, _ = run_in_pty(d, "run", "-it", "--rm", "busybox", "sh", "-c", "echo ready; read line; echo got:$line",
                                 send=b"typed\r")
    assert code == 0 and "got:typed" in out, out
    run_detached(d, "--name", "ttyexec", "busybox", "sleep", "300")
    try:
        code, out, _, _ = run_in_pty(d, "exec", "-it", "ttyexec", "sh", "-c", "test -t 1 && echo exec-tty; exit 4")
        assert code == 4 and "exec-tty" in out, out
    finally:
        ok(d.ctl("rm", "-f", "ttyexec"))


def test_run_tty_detach_keys_leave_the_container_running(d):
    code, out, _, _ = run_in_pty(d, "run", "-it", "--name", "detachme", "busybox", "sh", "-c", "echo ready; sleep 300",
                                 send=b"\x10\x11")
    assert code == 0, out
    assert state(d, "detachme") == "running"
    ok(d.ctl("rm", "-f", "detachme"))


# ---- pull on a missing image ---------------------------------------------------------------------

@pytest.mark.skipif(not os.access("/usr/bin/docker-registry", os.X_OK), reason="docker-registry not installed")
def test_run_pulls_a_missing_image(d):
    from harness.registry import ImageBuilder, Registry, busybox_rootfs_tar
    registry = Registry()
    try:
        ImageBuilder(registry).push("library/pulled", "v1", [busybox_rootfs_tar(REPO_ROOT)], cmd=["sh"])
        ref = f"{registry.host}/library/pulled:v1"
        r = d.ctl("run", "--rm", ref, "echo", "pulled-ok")
        assert r.returncode == 0 and r.stdout.endswith("pulled-ok\n"), (r.stdout, r.stderr)
        assert f"Unable to find image '{ref}' locally" in r.stderr
        r = d.ctl("run", "--rm", ref, "echo", "again")  # present now: no pull
        assert (r.returncode, r.stdout, r.stderr) == (0, "again\n", "")
        ok(d.ctl("rmi", ref))
    finally:
        registry.stop()
