"""docker-compose 1.29 (Debian's package) against ctld: a two-service stack whose services talk by
service name on the project network, with a published port, then `down` removing everything."""
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness.containers import import_busybox  # noqa: E402

COMPOSE_FILE = """
version: "3.7"
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /w && echo served-by-web > /w/index.html && exec httpd -f -p 80 -h /w"]
  client:
    image: busybox
    depends_on: [web]
    command: ["sh", "-c", "for i in $$(seq 50); do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 web 80 > /tmp/r && break; sleep 0.2; done; tail -1 /tmp/r; exec sleep 60"]
    ports: ["{port}:80"]
"""


def free_port():
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def test_compose_services_talk_by_name(daemon, tmp_path):
    compose = shutil.which("docker-compose")
    if not compose:
        pytest.skip("docker-compose is not installed")
    import_busybox(daemon)
    project = tmp_path / "stack"
    project.mkdir()
    port = free_port()
    (project / "docker-compose.yml").write_text(COMPOSE_FILE.replace("{port}", str(port)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(DOCKER_HOST="unix://" + daemon.socket, COMPOSE_PROJECT_NAME="ctltstack")

    def dc(*args, timeout=180):
        return subprocess.run([compose] + list(args), cwd=project, env=env, capture_output=True, text=True,
                              timeout=timeout)

    try:
        up = dc("up", "-d")
        assert up.returncode == 0, up.stderr
        out = ""
        for _ in range(60):
            out = dc("logs", "--no-color", "client").stdout
            if "served-by-web" in out:
                break
            time.sleep(0.5)
        assert "served-by-web" in out, out
        ps = dc("ps")
        assert ps.returncode == 0 and "ctltstack_web_1" in ps.stdout and "Up" in ps.stdout, ps.stdout
        _, nets = daemon.json("GET", "/networks")
        assert "ctltstack_default" in [n["Name"] for n in nets]
    finally:
        down = dc("down", "-v")
    assert down.returncode == 0, down.stderr
    _, containers = daemon.json("GET", "/containers/json?all=1")
    assert containers == []
    _, nets = daemon.json("GET", "/networks")
    assert "ctltstack_default" not in [n["Name"] for n in nets]
