"""The harness checks itself: a daemon's leftovers are found, reported and removed."""
import os
import signal
import subprocess

import pytest

from harness.ctld import Daemon, mounts_under, process_table
from harness.rawhttp import RawConnection


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")
def test_cleanup_reports_and_removes_leaks():
    d = Daemon()
    target = os.path.join(d.data_root, "leak mount")  # a space: mountinfo escapes it
    os.makedirs(target)
    subprocess.run(["mount", "-t", "tmpfs", "ctl-test-leak", target], check=True)
    sleeper = subprocess.Popen(["sleep", "600"], cwd=d.exec_root)
    try:
        problems = d.cleanup()
        text = "\n".join(problems)
        assert "mounts left behind" in text and target in text, problems
        assert "processes left behind" in text and str(sleeper.pid) in text, problems
        assert not mounts_under(target)
        sleeper.wait(10)
        assert sleeper.returncode == -signal.SIGKILL
        assert not os.path.exists(d.dir)
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
        subprocess.run(["umount", "-l", target], stderr=subprocess.DEVNULL)


def test_cleanup_reports_a_crash():
    d = Daemon()
    os.kill(d.proc.pid, signal.SIGSEGV)  # not through d.kill(): the harness did not ask for it
    d.proc.wait(20)
    problems = d.cleanup()
    assert any("died during the test" in p for p in problems), problems


def test_clean_daemon_reports_nothing():
    d = Daemon()
    assert d.ping()
    pid = d.proc.pid
    assert d.cleanup() == []
    assert pid not in process_table()
    assert not os.path.exists(d.dir)


def test_raw_connection_parses_chunked_and_keep_alive(shared_daemon):
    with RawConnection(shared_daemon.socket) as c:
        c.request("GET", "/v1.41/events?since=1&until=2")
        resp = c.read_response()
        assert resp.status == 200 and resp.chunked
        assert resp.raw.endswith(b"0\r\n\r\n")
