"""The real docker CLI and docker-py against ctld."""
import os
import shutil
import subprocess

import pytest

DOCKER = "/usr/local/bin/docker" if os.path.exists("/usr/local/bin/docker") else shutil.which("docker")


def docker(daemon, *args, tmp_path):
    env = dict(os.environ, DOCKER_HOST=daemon.host, DOCKER_CONFIG=str(tmp_path))
    return subprocess.run([DOCKER] + list(args), capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.skipif(DOCKER is None, reason="no docker CLI binary on this machine")
def test_docker_version(shared_daemon, tmp_path):
    out = docker(shared_daemon, "version", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    _, v = shared_daemon.json("GET", "/version")
    assert v["Version"] in out.stdout
    assert "1.41" in out.stdout
    out = docker(shared_daemon, "version", "--format", "{{.Server.APIVersion}}", tmp_path=tmp_path)
    assert out.returncode == 0 and out.stdout.strip() == "1.41"


@pytest.mark.skipif(DOCKER is None, reason="no docker CLI binary on this machine")
def test_docker_info(shared_daemon, tmp_path):
    out = docker(shared_daemon, "info", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Storage Driver:" in out.stdout
    assert f"Docker Root Dir: {shared_daemon.data_root}" in out.stdout


def test_docker_py_system_calls(shared_daemon):
    import docker as docker_py
    client = docker_py.DockerClient(base_url=shared_daemon.host)
    try:
        assert client.version()["ApiVersion"] == "1.41"
        assert client.ping() is True
        info = client.info()
        assert info["DockerRootDir"] == shared_daemon.data_root
        df = client.df()
        assert "Images" in df and "LayersSize" in df
    finally:
        client.close()
