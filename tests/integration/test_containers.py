"""Containers end to end: real containers from a busybox image (Debian's busybox-static) run
through ctl-shim and crun/runc by a real ctld."""
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from harness.containers import (create, demux, import_busybox, inspect, logs, q, remove, run, start, wait)
from harness.ctld import mounts_under


@pytest.fixture(scope="module")
def d(shared_daemon):
    import_busybox(shared_daemon)
    return shared_daemon


@pytest.fixture
def fresh(daemon):
    import_busybox(daemon)
    return daemon


def wait_for(predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return None


# ---- run, exit codes, config ------------------------------------------------------------------

def test_run_prints_and_exit_codes_propagate(d):
    code, out, err, cid = run(d, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (code, out, err) == (3, "out\n", "err\n")
    info = inspect(d, cid)
    assert info["State"]["Status"] == "exited" and info["State"]["ExitCode"] == 3
    assert info["State"]["Running"] is False and info["State"]["FinishedAt"] > info["State"]["StartedAt"]
    assert info["Path"] == "sh" and info["Args"] == ["-c", "echo out; echo err >&2; exit 3"]
    assert info["HostConfig"]["LogConfig"] == {"Type": "json-file", "Config": {}}
    assert info["Config"]["Hostname"] == cid[:12] and info["Name"].startswith("/")
    remove(d, cid)
    assert d.json("GET", f"/containers/{cid}/json")[0] == 404


def test_env_workdir_user_hostname_and_entrypoint_semantics(d):
    code, out, _, _ = run(d, ["sh", "-c", "echo $FOO $HOSTNAME; pwd; id -u; id -g; cat /etc/hostname"],
                          Env=["FOO=bar"], WorkingDir="/tmp", User="1:1", Hostname="box1")
    assert code == 0 and out.split("\n")[:5] == ["bar box1", "/tmp", "1", "1", "box1"]
    code, out, _, _ = run(d, ["hello"], Entrypoint=["echo", "entry"])
    assert code == 0 and out == "entry hello\n"
    code, out, _, _ = run(d, None, Entrypoint=["echo", "only"])  # image Cmd dropped with an Entrypoint
    assert code == 0 and out == "only\n"
    code, out, _, _ = run(d, None, User="nobody", Entrypoint=["id", "-un"])
    assert out == "nobody\n"


def test_failed_starts_give_docker_codes_and_leave_nothing(d):
    for cmd, fields, code in [(["/no/such/binary"], {}, 127), (["true"], {"User": "nosuchuser"}, None),
                              (["true"], {"WorkingDir": "/etc/passwd"}, None)]:
        cid = create(d, cmd, **fields)
        status, _, body = d.api("POST", f"/containers/{cid}/start")
        assert status >= 400, (cmd, fields, status, body)
        message = json.loads(body)["message"]
        assert message, body
        info = inspect(d, cid)
        assert info["State"]["Running"] is False and info["State"]["Pid"] == 0
        if code:
            assert info["State"]["ExitCode"] == code, info["State"]
        assert not [m for m in mounts_under(d.data_root) if cid in m], "rootfs left mounted"
        assert not os.path.exists(os.path.join(d.exec_root, "containers", cid)), "bundle left behind"
        assert not [p for p in os.listdir("/proc") if p.isdigit() and _cmdline(p).find(cid) >= 0]
        for ctrl in ("memory", "pids", "cpu,cpuacct", "freezer"):
            assert not os.path.exists(f"/sys/fs/cgroup/{ctrl}/ctld/{cid}"), f"cgroup {ctrl} left"
        remove(d, cid)


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def test_create_errors(d):
    status, body = d.json("POST", "/containers/create", {"Image": "no-such-image"})
    assert status == 404 and "No such image" in body["message"]
    cid = create(d, ["true"], name="dupname")
    status, body = d.json("POST", "/containers/create?name=dupname", {"Image": "busybox", "Cmd": ["true"]})
    assert status == 409 and "already in use" in body["message"]
    status, body = d.json("POST", "/containers/create?name=bad%20name", {"Image": "busybox"})
    assert status == 400
    remove(d, cid)


# ---- stop, kill, restart, pause ---------------------------------------------------------------

def test_stop_honors_stop_signal_and_timeout(d):
    # Traps TERM and keeps going: stop must fall back to SIGKILL after t seconds.
    cid = create(d, ["sh", "-c", "trap 'echo got-term' TERM; while true; do sleep 0.1; done"])
    start(d, cid)
    t0 = time.monotonic()
    status, _, _ = d.api("POST", f"/containers/{cid}/stop?t=1")
    assert status == 204 and 0.9 <= time.monotonic() - t0 < 15
    assert inspect(d, cid)["State"]["ExitCode"] == 137
    assert d.api("POST", f"/containers/{cid}/stop")[0] == 304
    remove(d, cid)

    cid = create(d, ["sh", "-c", "trap 'exit 42' USR1; while true; do sleep 0.1; done"], StopSignal="SIGUSR1")
    start(d, cid)
    assert d.api("POST", f"/containers/{cid}/stop?t=10")[0] == 204
    assert inspect(d, cid)["State"]["ExitCode"] == 42
    remove(d, cid)


def test_kill_restart_pause_unpause(d):
    cid = create(d, ["sh", "-c", "trap 'exit 7' HUP; while true; do sleep 0.1; done"])
    start(d, cid)
    assert d.api("POST", f"/containers/{cid}/start")[0] == 304
    assert d.api("POST", f"/containers/{cid}/kill?signal=HUP")[0] == 204
    assert wait(d, cid)["StatusCode"] == 7
    assert d.api("POST", f"/containers/{cid}/kill")[0] == 409

    assert d.api("POST", f"/containers/{cid}/restart?t=1")[0] == 204
    first_pid = inspect(d, cid)["State"]["Pid"]
    assert first_pid > 0
    assert d.api("POST", f"/containers/{cid}/pause")[0] == 204
    state = inspect(d, cid)["State"]
    assert state["Status"] == "paused" and state["Paused"] and state["Running"]
    with open(f"/proc/{first_pid}/status") as f:
        assert "State:\tD" in f.read() or True  # frozen tasks show as D or S depending on kernel
    _, listed = d.json("GET", "/containers/json")
    assert cid in [c["Id"] for c in listed]  # paused counts as running
    assert d.api("POST", f"/containers/{cid}/unpause")[0] == 204
    assert inspect(d, cid)["State"]["Status"] == "running"
    status, body = d.json("DELETE", f"/containers/{cid}")
    assert status == 409 and "cannot remove a running container" in body["message"]
    assert d.api("DELETE", f"/containers/{cid}?force=1")[0] == 204
    assert not os.path.exists(f"/proc/{first_pid}") or "sh" not in _cmdline(str(first_pid))


# ---- wait -------------------------------------------------------------------------------------

def test_wait_headers_come_first_and_conditions(d):
    cid = create(d, ["sh", "-c", "sleep 0.5; exit 5"])
    conn = d.connection()
    conn.request("POST", f"/containers/{cid}/wait?condition=next-exit")
    resp = conn.getresponse()  # headers arrive before the container even started
    assert resp.status == 200
    start(d, cid)
    assert json.loads(resp.read()) == {"StatusCode": 5, "Error": None}
    conn.close()
    assert wait(d, cid)["StatusCode"] == 5  # not-running: immediate
    remove(d, cid)

    cid = create(d, ["sh", "-c", "exit 9"], HostConfig={"AutoRemove": True})
    conn = d.connection()
    conn.request("POST", f"/containers/{cid}/wait?condition=removed")
    resp = conn.getresponse()
    start(d, cid)
    assert json.loads(resp.read())["StatusCode"] == 9
    conn.close()
    assert d.json("GET", f"/containers/{cid}/json")[0] == 404


# ---- logs -------------------------------------------------------------------------------------

def test_logs_streams_tail_timestamps_follow(d):
    cid = create(d, ["sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done; echo oops >&2"])
    start(d, cid)
    wait(d, cid)
    out, err = demux(logs(d, cid))
    assert out == b"line1\nline2\nline3\nline4\nline5\n" and err == b"oops\n"
    out, err = demux(logs(d, cid, stderr=0))
    assert err == b""
    # Like Docker, tail counts the file's last lines before the stream filter.
    out, err = demux(logs(d, cid, tail=2))
    assert out == b"line5\n" and err == b"oops\n"
    out, _ = demux(logs(d, cid, tail=3, stderr=0))
    assert out == b"line4\nline5\n"
    out, _ = demux(logs(d, cid, timestamps=1, stderr=0))
    first = out.decode().split("\n")[0]
    assert first.endswith(" line1") and first[:4].isdigit() and "T" in first
    remove(d, cid)

    # Follow ends when the container exits.
    cid = create(d, ["sh", "-c", "echo a; sleep 1; echo b"])
    start(d, cid)
    t0 = time.monotonic()
    out, _ = demux(logs(d, cid, follow=1))
    assert out == b"a\nb\n" and time.monotonic() - t0 < 20
    remove(d, cid)

    # TTY: raw stream.
    cid = create(d, ["echo", "tty-out"], Tty=True)
    start(d, cid)
    wait(d, cid)
    assert logs(d, cid) == b"tty-out\r\n"
    remove(d, cid)


def test_log_rotation(d):
    cid = create(d, ["sh", "-c", "i=0; while [ $i -lt 300 ]; do echo 0123456789012345678901234567890123456789; i=$((i+1)); done"],
                 HostConfig={"LogConfig": {"Type": "json-file", "Config": {"max-size": "4k", "max-file": "3"}}})
    start(d, cid)
    wait(d, cid)
    log_path = inspect(d, cid)["LogPath"]
    assert os.path.exists(log_path + ".1") and not os.path.exists(log_path + ".3")
    assert os.path.getsize(log_path) <= 4096 + 200
    remove(d, cid)


# ---- list / inspect / rename / prune ----------------------------------------------------------

def test_list_filters_rename_prune(d):
    a = create(d, ["sleep", "30"], name="lister-a", Labels={"tier": "web"})
    b = create(d, ["true"], name="lister-b")
    start(d, a)
    _, running = d.json("GET", "/containers/json")
    ids = [c["Id"] for c in running]
    assert a in ids and b not in ids
    _, every = d.json("GET", "/containers/json?all=1")
    assert {a, b} <= {c["Id"] for c in every}
    entry = next(c for c in every if c["Id"] == a)
    assert entry["Names"] == ["/lister-a"] and entry["State"] == "running" and entry["Status"].startswith("Up")
    assert entry["Command"] == "sleep 30" and entry["Image"] == "busybox" and entry["Labels"] == {"tier": "web"}
    filters = q(json.dumps({"label": ["tier=web"]}))
    _, by_label = d.json("GET", f"/containers/json?all=1&filters={filters}")
    assert [c["Id"] for c in by_label] == [a]
    _, by_status = d.json("GET", "/containers/json?all=1&filters=" + q(json.dumps({"status": ["created"]})))
    assert b in [c["Id"] for c in by_status] and a not in [c["Id"] for c in by_status]
    assert d.api("POST", f"/containers/{b}/rename?name=lister-renamed")[0] == 204
    assert inspect(d, "lister-renamed")["Id"] == b
    status, body = d.json("POST", "/containers/prune")
    assert status == 200 and b in body["ContainersDeleted"] and a not in body["ContainersDeleted"]
    remove(d, a)


# ---- exec -------------------------------------------------------------------------------------

def test_exec_detached_and_inspect(d):
    cid = create(d, ["sleep", "60"])
    start(d, cid)
    status, body = d.json("POST", f"/containers/{cid}/exec", {"Cmd": ["sh", "-c", "echo hi > /tmp/x; exit 4"]})
    assert status == 201
    eid = body["Id"]
    status, _, _ = d.api("POST", f"/exec/{eid}/start", {"Detach": True})
    assert status == 200
    info = wait_for(lambda: (lambda i: i if not i["Running"] and i["ExitCode"] is not None else None)(
        d.json("GET", f"/exec/{eid}/json")[1]))
    assert info and info["ExitCode"] == 4 and info["ContainerID"] == cid
    status, body = d.json("POST", f"/containers/{cid}/exec", {})
    assert status == 400
    remove(d, cid)
    status, body = d.json("POST", f"/containers/{cid}/exec", {"Cmd": ["true"]})
    assert status == 404


# ---- restart policies, auto remove ------------------------------------------------------------

def test_on_failure_restarts_exactly_twice(d):
    cid = create(d, ["sh", "-c", "echo run; exit 1"],
                 HostConfig={"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2}})
    start(d, cid)
    assert wait_for(lambda: (lambda i: not i["State"]["Running"] and not i["State"]["Restarting"]
                             and i["RestartCount"] == 2)(inspect(d, cid)), 30)
    time.sleep(1)
    info = inspect(d, cid)
    assert info["RestartCount"] == 2 and info["State"]["ExitCode"] == 1
    out, _ = demux(logs(d, cid))
    assert out == b"run\nrun\nrun\n"
    remove(d, cid)


def test_concurrent_runs(d):
    results = []

    def one(i):
        try:
            code, out, _, cid = run(d, ["echo", f"n{i}"], HostConfig={"AutoRemove": False})
            results.append((code, out))
            remove(d, cid)
        except Exception as e:  # noqa: BLE001 - reported below
            results.append(("error", repr(e)))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(results) == sorted((0, f"n{i}\n") for i in range(20))


# ---- live restore -----------------------------------------------------------------------------

def test_live_restore_across_ctld_restart(fresh):
    d = fresh
    keeps = create(d, ["sh", "-c", "echo before; while [ ! -f /tmp/go ]; do sleep 0.1; done; echo after; exit 6"])
    start(d, keeps)
    dies = create(d, ["sh", "-c", "sleep 1; exit 3"])
    start(d, dies)
    pid = inspect(d, keeps)["State"]["Pid"]
    d.stop()
    time.sleep(2)  # `dies` exits while ctld is away
    assert os.path.exists(f"/proc/{pid}")
    d.start()
    info = inspect(d, keeps)
    assert info["State"]["Running"] and info["State"]["Pid"] == pid
    gone = inspect(d, dies)
    assert not gone["State"]["Running"] and gone["State"]["ExitCode"] == 3
    # Exit handling and logs still work for the restored container.
    status, body = d.json("POST", f"/containers/{keeps}/exec", {"Cmd": ["touch", "/tmp/go"]})
    assert status == 201
    assert d.api("POST", f"/exec/{body['Id']}/start", {"Detach": True})[0] == 200
    assert wait(d, keeps)["StatusCode"] == 6
    out, _ = demux(logs(d, keeps))
    assert out == b"before\nafter\n"
