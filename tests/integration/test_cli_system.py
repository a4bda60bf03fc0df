"""ctl version / info / system df / events against a real ctld, host selection and error exits."""
import json
import os
import re
import socket
import subprocess
import time

import pytest

from harness.ctld import CTL


def run_ctl(*args, env=None, home=None, timeout=60):
    e = dict(os.environ)
    e.pop("CTL_HOST", None)
    e.pop("DOCKER_HOST", None)
    if home:
        e["HOME"] = str(home)
    e.update(env or {})
    return subprocess.run([CTL] + list(args), capture_output=True, text=True, env=e, timeout=timeout)


def one_line(stderr):
    lines = [l for l in stderr.splitlines() if l.strip()]
    assert len(lines) == 1, f"expected one error line, got: {stderr!r}"
    return lines[0]


# --- version ---------------------------------------------------------------------------------------

def test_version_shows_client_and_server(shared_daemon):
    out = shared_daemon.ctl("version")
    assert out.returncode == 0, out.stderr
    client, sep, server = out.stdout.partition("\nServer")
    assert client.startswith("Client:") and sep, out.stdout
    assert re.search(r"API version:\s+1\.41\b", client), client
    assert re.search(r"API version:\s+1\.41\b", server), server
    _, v = shared_daemon.json("GET", "/version")
    assert v["Version"] in server
    assert v["KernelVersion"] in server


def test_version_format_server_version(shared_daemon):
    _, v = shared_daemon.json("GET", "/version")
    out = shared_daemon.ctl("version", "--format", "{{.Server.Version}}")
    assert out.returncode == 0, out.stderr
    assert out.stdout == v["Version"] + "\n"


def test_version_format_json(shared_daemon):
    out = shared_daemon.ctl("version", "--format", "{{json .Server}}")
    assert out.returncode == 0, out.stderr
    server = json.loads(out.stdout)
    assert server["ApiVersion"] == "1.41" and server["Os"] == "linux"
    out = shared_daemon.ctl("version", "--format", "{{json .}}")
    doc = json.loads(out.stdout)
    assert set(doc) >= {"Client", "Server"}


def test_version_format_docker_field_names(shared_daemon):
    """docker's documented form (`docker version --format '{{.Server.APIVersion}}'`) works too."""
    out = shared_daemon.ctl("version", "--format", "{{.Server.APIVersion}} {{.Client.APIVersion}}")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1.41 1.41"


# --- info ------------------------------------------------------------------------------------------

def test_info_plain(shared_daemon):
    out = shared_daemon.ctl("info")
    assert out.returncode == 0, out.stderr
    _, info = shared_daemon.json("GET", "/info")
    assert re.search(r"^\s*Storage Driver: " + re.escape(info["Driver"]) + "$", out.stdout, re.M), out.stdout
    assert re.search(r"^\s*Docker Root Dir: " + re.escape(shared_daemon.data_root) + "$", out.stdout, re.M)
    assert re.search(r"^\s*Server Version: " + re.escape(info["ServerVersion"]) + "$", out.stdout, re.M)
    assert out.stderr == "" or "WARNING" in out.stderr


def test_info_format(shared_daemon):
    _, info = shared_daemon.json("GET", "/info")
    out = shared_daemon.ctl("info", "--format", "{{.DockerRootDir}}")
    assert out.returncode == 0 and out.stdout == shared_daemon.data_root + "\n", out
    out = shared_daemon.ctl("info", "--format", "{{.Driver}}")
    assert out.stdout.strip() == info["Driver"]
    out = shared_daemon.ctl("info", "--format", "{{json .Swarm}}")
    assert json.loads(out.stdout)["LocalNodeState"] == "inactive"
    out = shared_daemon.ctl("info", "--format", "{{.NCPU}} {{.Swarm.LocalNodeState}}")
    assert out.stdout.strip() == f"{info['NCPU']} inactive"
    out = shared_daemon.ctl("system", "info", "--format", "{{.OSType}}")
    assert out.returncode == 0 and out.stdout.strip() == "linux"


def test_bad_template_is_one_error_line(shared_daemon):
    out = shared_daemon.ctl("info", "--format", "{{.Driver")
    assert out.returncode != 0
    assert "template" in one_line(out.stderr)
    assert out.stdout == ""


# --- system df -------------------------------------------------------------------------------------

def test_system_df(shared_daemon):
    out = shared_daemon.ctl("system", "df")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    kinds = [re.split(r"\s{2,}", l.strip())[0] for l in lines[1:] if l.strip()]
    assert kinds == ["Images", "Containers", "Local Volumes", "Build Cache"]


def test_system_df_verbose(shared_daemon):
    out = shared_daemon.ctl("system", "df", "-v")
    assert out.returncode == 0, out.stderr
    assert "Images space usage" in out.stdout


# --- events ----------------------------------------------------------------------------------------

def test_events_until_ends(shared_daemon):
    until = int(time.time()) + 2
    out = shared_daemon.ctl("events", "--until", str(until), timeout=60)
    assert out.returncode == 0, out.stderr
    assert time.time() >= until - 0.2, "ctl events returned before --until"


def test_events_in_the_past(shared_daemon):
    now = int(time.time())
    out = shared_daemon.ctl("events", "--since", str(now - 60), "--until", str(now - 30), timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""


def test_engine_error_is_one_line_and_exit_125(shared_daemon):
    out = shared_daemon.ctl("events", "--filter", "bogus=1", "--until", str(int(time.time())))
    assert out.returncode == 125
    line = one_line(out.stderr)
    assert "invalid filter" in line and "bogus" in line


# --- finding the engine ----------------------------------------------------------------------------

def test_ctl_host_env_is_honoured(shared_daemon, tmp_path):
    out = run_ctl("version", "--format", "{{.Server.Version}}", env={"CTL_HOST": shared_daemon.host}, home=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()


def test_host_flag_wins_over_env(shared_daemon, tmp_path):
    nothing = str(tmp_path / "nothing.sock")
    env = {"CTL_HOST": "unix://" + nothing}
    out = run_ctl("-H", shared_daemon.host, "info", "--format", "{{.DockerRootDir}}", env=env, home=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == shared_daemon.data_root
    out = run_ctl("info", env=env, home=tmp_path)
    assert out.returncode == 125
    assert "unix://" + nothing in out.stderr


def test_missing_engine(tmp_path):
    host = "unix://" + str(tmp_path / "nothing.sock")
    out = run_ctl("-H", host, "info", home=tmp_path)
    assert out.returncode == 125
    line = one_line(out.stderr)
    assert f"cannot connect to the engine at {host}" in line and "is ctld running?" in line, line


def test_stale_socket_file(tmp_path):
    """What a crashed ctld leaves behind: a socket file nobody listens on."""
    path = str(tmp_path / "stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()
    out = run_ctl("-H", "unix://" + path, "system", "df", home=tmp_path)
    assert out.returncode == 125
    line = one_line(out.stderr)
    assert "cannot connect to the engine at unix://" + path in line and "is ctld running?" in line, line


def test_default_host(tmp_path):
    if os.path.exists("/run/ctld.sock"):
        pytest.skip("a ctld is serving the default socket on this machine")
    out = run_ctl("info", home=tmp_path)
    assert out.returncode == 125
    assert "unix:///run/ctld.sock" in one_line(out.stderr)


def test_version_without_engine_still_shows_the_client(tmp_path):
    out = run_ctl("-H", "unix://" + str(tmp_path / "nothing.sock"), "version", home=tmp_path)
    assert out.returncode == 125
    assert out.stdout.startswith("Client:")
    assert "cannot connect to the engine at" in one_line(out.stderr)


def test_unknown_command_is_refused(tmp_path):
    out = run_ctl("frobnicate", home=tmp_path)
    assert out.returncode != 0
    assert out.stderr.strip()
