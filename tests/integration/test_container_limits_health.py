"""Resource limits, health checks, attach and restart policies on a real ctld: memory and pids
limits visible in the container's cgroup and enforced (OOM kill recorded in State.OOMKilled),
health checks reaching healthy and unhealthy with their events, exec with stdin, and restart
policies honored again after a ctld restart."""
import json
import socket
import time

import pytest

from harness.containers import create, demux, import_busybox, inspect, logs, q, remove, run, start, wait

MS = 1_000_000  # nanoseconds


@pytest.fixture(scope="module")
def d(shared_daemon):
    import_busybox(shared_daemon)
    return shared_daemon


def wait_for(predicate, timeout=30, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return None


def test_memory_and_pids_limits_are_in_the_cgroup_and_enforced(d):
    code, out, _, cid = run(d, ["sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
                                            "/sys/fs/cgroup/pids/pids.max 2>/dev/null || "
                                            "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max"],
                            HostConfig={"Memory": 32 << 20, "PidsLimit": 20})
    remove(d, cid)
    assert code == 0 and out.split() == [str(32 << 20), "20"], out
    # Allocating past the limit: the kernel kills it and the engine says so.
    code, _, _, cid = run(d, ["sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived"],
                          HostConfig={"Memory": 16 << 20, "MemorySwap": 16 << 20})
    info = inspect(d, cid)
    remove(d, cid)
    assert code == 137 and info["State"]["OOMKilled"] is True and info["State"]["ExitCode"] == 137
    # Forking past the pids limit fails; without the limit the same script runs.
    script = "for i in $(seq 30); do sleep 5 & done; echo started"
    code, out, err, cid = run(d, ["sh", "-c", script], HostConfig={"PidsLimit": 10})
    remove(d, cid)
    assert code != 0 and "started" not in out and "fork" in err.lower(), (code, out, err)
    code, out, err, cid = run(d, ["sh", "-c", script + "; kill $(jobs -p)"])
    remove(d, cid)
    assert "started" in out, (code, out, err)


def test_health_check_goes_healthy_then_unhealthy_with_events(d):
    since = time.time()
    cid = create(d, ["sh", "-c", "touch /tmp/ok; sleep 60"],
                 Healthcheck={"Test": ["CMD-SHELL", "test -f /tmp/ok && echo fine"], "Interval": 200 * MS,
                              "Timeout": 2000 * MS, "Retries": 2})
    start(d, cid)
    try:
        health = wait_for(lambda: (lambda h: h if h and h["Status"] == "healthy" else None)(
            inspect(d, cid)["State"].get("Health")))
        assert health and health["FailingStreak"] == 0 and health["Log"][-1]["ExitCode"] == 0
        assert "fine" in health["Log"][-1]["Output"]
        ex = d.json("POST", f"/containers/{cid}/exec", {"Cmd": ["rm", "/tmp/ok"]})[1]
        d.api("POST", f"/exec/{ex['Id']}/start", {"Detach": True})
        health = wait_for(lambda: (lambda h: h if h["Status"] == "unhealthy" else None)(
            inspect(d, cid)["State"]["Health"]))
        assert health and health["FailingStreak"] >= 2 and health["Log"][-1]["ExitCode"] == 1
        filters = q(json.dumps({"container": [cid], "event": ["health_status"]}))
        status, _, body = d.api("GET", f"/events?since={since}&until={time.time()}&filters={filters}")
        actions = [json.loads(line)["Action"] for line in body.decode().splitlines() if line]
        assert "health_status: healthy" in actions and "health_status: unhealthy" in actions, actions
        # docker ps filter by health.
        _, listed = d.json("GET", "/containers/json?filters=" + q(json.dumps({"health": ["unhealthy"]})))
        assert cid in [c["Id"] for c in listed]
    finally:
        remove(d, cid)


def test_exec_with_stdin_over_a_hijacked_connection(d):
    cid = create(d, ["sleep", "60"])
    start(d, cid)
    try:
        ex = d.json("POST", f"/containers/{cid}/exec",
                    {"Cmd": ["sh", "-c", "tr a-z A-Z; exit 7"], "AttachStdin": True, "AttachStdout": True,
                     "AttachStderr": True})[1]
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(d.socket)
            body = json.dumps({"Detach": False, "Tty": False}).encode()
            s.sendall(b"POST /v1.41/exec/" + ex["Id"].encode() + b"/start HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                      b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            head = b""
            while b"\r\n\r\n" not in head:
                head += s.recv(1)
            assert head.startswith(b"HTTP/1.1 101"), head
            s.sendall(b"shout\n")
            s.shutdown(socket.SHUT_WR)
            data = b""
            s.settimeout(20)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        out, _ = demux(data)
        assert out == b"SHOUT\n"
        info = wait_for(lambda: (lambda i: i if not i["Running"] else None)(d.json("GET", f"/exec/{ex['Id']}/json")[1]))
        assert info["ExitCode"] == 7
    finally:
        remove(d, cid)


def test_restart_policies_are_honored_after_a_ctld_restart(daemon):
    import_busybox(daemon)
    always = create(daemon, ["sleep", "300"], HostConfig={"RestartPolicy": {"Name": "always"}})
    stopped = create(daemon, ["sleep", "300"], HostConfig={"RestartPolicy": {"Name": "unless-stopped"}})
    plain = create(daemon, ["sleep", "300"])
    for cid in (always, stopped, plain):
        start(daemon, cid)
    assert daemon.api("POST", f"/containers/{stopped}/stop?t=0")[0] == 204
    # The engine goes away; the containers it left running are killed meanwhile.
    pids = {cid: inspect(daemon, cid)["State"]["Pid"] for cid in (always, plain)}
    daemon.stop()
    import os
    import signal
    for pid in pids.values():
        os.kill(pid, signal.SIGKILL)
    daemon.start()
    assert wait_for(lambda: inspect(daemon, always)["State"]["Running"], 20)
    assert inspect(daemon, always)["RestartCount"] >= 1
    time.sleep(1)
    assert not inspect(daemon, stopped)["State"]["Running"]  # stopped by hand: stays stopped
    assert not inspect(daemon, plain)["State"]["Running"] and inspect(daemon, plain)["State"]["ExitCode"] == 137
    for cid in (always, stopped, plain):
        remove(daemon, cid)
