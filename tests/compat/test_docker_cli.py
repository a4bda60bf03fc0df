"""The real docker CLI (28.x at /usr/local/bin/docker, and Debian's 20.10 when installed) and
docker-py (Debian's python3-docker) against ctld."""
import json
import os
import re
import shutil
import subprocess
import time

import pytest


def docker_binaries():
    found = []
    for path in ("/usr/local/bin/docker", shutil.which("docker"), "/usr/bin/docker"):
        if path and os.access(path, os.X_OK) and os.path.realpath(path) not in [os.path.realpath(p) for p in found]:
            found.append(path)
    return found


DOCKERS = docker_binaries()
PRIMARY = DOCKERS[:1]


def run_docker(binary, host, *args, tmp_path, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    config = tmp_path / "docker-config"
    config.mkdir(exist_ok=True)
    e.update(DOCKER_HOST=host, DOCKER_CONFIG=str(config))
    e.update(env or {})
    return subprocess.run([binary] + list(args), capture_output=True, text=True, env=e, timeout=120)


@pytest.fixture(params=DOCKERS or [None], ids=lambda p: p.strip("/").replace("/", "-") if p else "none")
def docker_cli(request):
    if request.param is None:
        pytest.skip("no docker CLI binary on this machine (/usr/local/bin/docker, docker on PATH, /usr/bin/docker)")
    return request.param


# --- docker CLI ------------------------------------------------------------------------------------

def test_docker_version(shared_daemon, docker_cli, tmp_path):
    out = run_docker(docker_cli, shared_daemon.host, "version", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    _, v = shared_daemon.json("GET", "/version")
    client, sep, server = out.stdout.partition("\nServer")
    assert sep, out.stdout
    assert re.search(r"^\s*Version:\s+" + re.escape(v["Version"]) + "$", server, re.M), server
    assert re.search(r"^\s*API version:\s+1\.41 \(minimum version " + re.escape(v["MinAPIVersion"]) + r"\)$",
                     server, re.M), server
    assert re.search(r"^\s*API version:\s+1\.41\b", client, re.M), client  # negotiated down to 1.41


def test_docker_version_format(shared_daemon, docker_cli, tmp_path):
    out = run_docker(docker_cli, shared_daemon.host, "version", "--format", "{{.Server.APIVersion}}",
                     tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1.41"
    out = run_docker(docker_cli, shared_daemon.host, "version", "--format", "{{.Server.Os}}/{{.Server.Arch}}",
                     tmp_path=tmp_path)
    assert out.stdout.strip().startswith("linux/")


def test_docker_info(shared_daemon, docker_cli, tmp_path):
    out = run_docker(docker_cli, shared_daemon.host, "info", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    _, info = shared_daemon.json("GET", "/info")
    assert re.search(r"^\s*Storage Driver: " + re.escape(info["Driver"]) + "$", out.stdout, re.M), out.stdout
    assert re.search(r"^\s*Docker Root Dir: " + re.escape(shared_daemon.data_root) + "$", out.stdout, re.M)
    assert re.search(r"^\s*Server Version: " + re.escape(info["ServerVersion"]) + "$", out.stdout, re.M)
    # Only warnings on stderr: nothing the CLI failed to decode or print.
    bad = [l for l in out.stderr.splitlines() if l.strip() and not l.startswith("WARNING:")]
    assert not bad, out.stderr


def test_docker_info_format(shared_daemon, docker_cli, tmp_path):
    out = run_docker(docker_cli, shared_daemon.host, "info", "--format", "{{.DockerRootDir}} {{.Swarm.LocalNodeState}}",
                     tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{shared_daemon.data_root} inactive"
    out = run_docker(docker_cli, shared_daemon.host, "info", "--format", "{{json .}}", tmp_path=tmp_path)
    assert json.loads(out.stdout)["DockerRootDir"] == shared_daemon.data_root


def test_docker_system_df(shared_daemon, docker_cli, tmp_path):
    out = run_docker(docker_cli, shared_daemon.host, "system", "df", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[:5] == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]


def test_docker_events_until(shared_daemon, docker_cli, tmp_path):
    now = int(time.time())
    out = run_docker(docker_cli, shared_daemon.host, "events", "--since", str(now - 60), "--until", str(now + 1),
                     tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr


def test_docker_error_from_daemon(shared_daemon, docker_cli, tmp_path):
    """An error answer reaches the user as `Error response from daemon: <message>`."""
    out = run_docker(docker_cli, shared_daemon.host, "events", "--filter", "bogus=1", "--until", "1",
                     tmp_path=tmp_path)
    assert out.returncode != 0
    assert "Error response from daemon" in out.stderr and "bogus" in out.stderr, out.stderr


@pytest.mark.skipif(not PRIMARY, reason="no docker CLI binary on this machine")
def test_docker_over_mutual_tls(tls_daemon, tmp_path):
    certs = tmp_path / "docker-certs"
    certs.mkdir()
    for src, dst in (("ca.pem", "ca.pem"), ("client-cert.pem", "cert.pem"), ("client-key.pem", "key.pem")):
        shutil.copy(os.path.join(tls_daemon.certs, src), certs / dst)
    out = run_docker(PRIMARY[0], f"tcp://127.0.0.1:{tls_daemon.port}", "version", "--format",
                     "{{.Server.APIVersion}}", tmp_path=tmp_path,
                     env={"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1.41"
    out = run_docker(PRIMARY[0], f"tcp://127.0.0.1:{tls_daemon.port}", "info", "--format", "{{.DockerRootDir}}",
                     tmp_path=tmp_path, env={"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs)})
    assert out.returncode == 0 and out.stdout.strip() == tls_daemon.data_root, out.stderr


# --- docker-py -------------------------------------------------------------------------------------

@pytest.fixture(params=[None, "auto"], ids=["default-version", "auto-version"])
def docker_py(shared_daemon, request):
    import docker
    client = docker.DockerClient(base_url=shared_daemon.host, version=request.param, timeout=60)
    yield client
    client.close()


def test_docker_py_system_calls(shared_daemon, docker_py):
    assert docker_py.version()["ApiVersion"] == "1.41"
    assert docker_py.api.api_version == "1.41"
    assert docker_py.ping() is True
    info = docker_py.info()
    assert info["DockerRootDir"] == shared_daemon.data_root
    assert info["Swarm"]["LocalNodeState"] == "inactive"
    df = docker_py.df()
    assert isinstance(df["LayersSize"], int)
    assert df["Images"] == [] and df["Containers"] == [] and df["Volumes"] == []


def test_docker_py_events_stream_ends(shared_daemon, docker_py):
    now = int(time.time())
    events = list(docker_py.events(since=now - 60, until=now - 30, decode=True))
    assert events == []


def test_docker_py_sees_daemon_errors_as_text(shared_daemon, docker_py):
    """docker-py takes `message` out of every JSON error; a non-JSON error would become bytes."""
    import docker
    with pytest.raises(docker.errors.APIError) as err:
        docker_py.api._raise_for_status(docker_py.api._get(docker_py.api._url("/ctl-test/no/such/route")))
    assert err.value.status_code == 404
    assert isinstance(err.value.explanation, str) and err.value.explanation
    with pytest.raises(docker.errors.APIError) as err:
        docker_py.api._result(docker_py.api._get(docker_py.api._url("/v1.50/version", versioned_api=False)))
    assert err.value.status_code == 400 and "too new" in err.value.explanation


def test_docker_py_low_level_client(shared_daemon):
    import docker
    api = docker.APIClient(base_url=shared_daemon.host, version="auto", timeout=60)
    try:
        assert api.api_version == "1.41"
        assert api.version(api_version=False)["ApiVersion"] == "1.41"  # unversioned GET /version
        assert api.info()["Driver"]
        # docker-py pools connections: many calls, one pool.
        for _ in range(20):
            assert api.ping() is True
    finally:
        api.close()
