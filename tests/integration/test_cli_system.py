"""ctl version / info / system df / events against a real ctld."""
import os
import subprocess
import time

from harness.ctld import CTL


def test_version_shows_client_and_server(shared_daemon):
    out = shared_daemon.ctl("version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Client:")
    assert "Server: ctld" in out.stdout
    assert "API version:      1.41" in out.stdout  # client block
    assert "1.41 (minimum version 1.12)" in out.stdout


def test_version_format(shared_daemon):
    _, v = shared_daemon.json("GET", "/version")
    out = shared_daemon.ctl("version", "--format", "{{.Server.Version}}")
    assert out.returncode == 0 and out.stdout.strip() == v["Version"]
    out = shared_daemon.ctl("version", "--format", "{{.Client.ApiVersion}}")
    assert out.stdout.strip() == "1.41"


def test_info_plain_and_format(shared_daemon):
    out = shared_daemon.ctl("info")
    assert out.returncode == 0, out.stderr
    assert "Storage Driver:" in out.stdout
    assert f"Docker Root Dir: {shared_daemon.data_root}" in out.stdout
    out = shared_daemon.ctl("info", "--format", "{{.DockerRootDir}}")
    assert out.stdout.strip() == shared_daemon.data_root
    out = shared_daemon.ctl("info", "--format", "{{json .Swarm}}")
    assert '"LocalNodeState":"inactive"' in out.stdout
    out = shared_daemon.ctl("system", "info", "--format", "{{.OSType}}")
    assert out.stdout.strip() == "linux"


def test_bad_template_is_an_error(shared_daemon):
    out = shared_daemon.ctl("info", "--format", "{{.Driver")
    assert out.returncode == 125
    assert "template parsing error" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_system_df(shared_daemon):
    out = shared_daemon.ctl("system", "df")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert lines[1].startswith("Images")


def test_host_resolution_order(shared_daemon, tmp_path):
    env = dict(os.environ, CTL_HOST=shared_daemon.host, HOME=str(tmp_path))
    out = subprocess.run([CTL, "version", "--format", "{{.Server.ApiVersion}}"], capture_output=True, text=True,
                         env=env, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == "1.41"
    # -H wins over CTL_HOST.
    env["CTL_HOST"] = "unix:///tmp/ctl-test-nothing-here.sock"
    out = subprocess.run([CTL, "-H", shared_daemon.host, "info", "--format", "{{.OSType}}"], capture_output=True,
                         text=True, env=env, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == "linux"
    out = subprocess.run([CTL, "info"], capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 125
    assert "cannot connect to the engine at unix:///tmp/ctl-test-nothing-here.sock" in out.stderr
    assert "is ctld running?" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_engine_errors_are_one_line_and_exit_125(shared_daemon):
    out = shared_daemon.ctl("image", "inspect", "no-such-image-here")
    assert out.returncode != 0
    assert "No such image" in out.stderr
    out = shared_daemon.ctl("rmi", "no-such-image-here")
    assert out.returncode != 0 and "No such image" in out.stderr


def test_events_until_ends(shared_daemon):
    start = time.time()
    out = shared_daemon.ctl("events", "--until", str(int(time.time()) + 1))
    assert out.returncode == 0, out.stderr
    assert time.time() - start < 15


def test_unknown_command_is_refused(shared_daemon):
    out = shared_daemon.ctl("frobnicate")
    assert out.returncode != 0
