"""The real docker CLI (28.x) running containers on ctld: run --rm, run -d, ps, logs, exec,
inspect, stop, rm — and docker-py's containers.run."""
import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness.containers import import_busybox  # noqa: E402

DOCKER = "/usr/local/bin/docker"


@pytest.fixture(scope="module")
def d(shared_daemon):
    import_busybox(shared_daemon)
    return shared_daemon


def docker(d, tmp_path, *args, input=None):
    if not os.access(DOCKER, os.X_OK):
        pytest.skip("no docker CLI at " + DOCKER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    (tmp_path / "cfg").mkdir(exist_ok=True)
    env.update(DOCKER_HOST=d.host, DOCKER_CONFIG=str(tmp_path / "cfg"))
    return subprocess.run([DOCKER] + list(args), capture_output=True, text=True, env=env, timeout=120, input=input)


def test_docker_run_rm_prints_and_propagates_exit_code(d, tmp_path):
    out = docker(d, tmp_path, "run", "--rm", "busybox", "sh", "-c", "echo hello; echo warn >&2; exit 3")
    assert out.returncode == 3, out.stderr
    assert out.stdout == "hello\n" and "warn" in out.stderr
    listed = docker(d, tmp_path, "ps", "-aq")
    assert listed.stdout.strip() == ""


def test_docker_run_with_stdin(d, tmp_path):
    out = docker(d, tmp_path, "run", "--rm", "-i", "busybox", "tr", "a-z", "A-Z", input="shout\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "SHOUT\n"


def test_docker_detached_lifecycle(d, tmp_path):
    out = docker(d, tmp_path, "run", "-d", "--name", "compat-web", "busybox", "sh", "-c",
                 "echo started; trap 'exit 0' TERM; while true; do sleep 0.1; done")
    assert out.returncode == 0, out.stderr
    cid = out.stdout.strip()
    assert len(cid) == 64
    ps = docker(d, tmp_path, "ps", "--format", "{{.Names}} {{.Status}}")
    assert ps.returncode == 0 and any(l.startswith("compat-web Up") for l in ps.stdout.splitlines()), ps.stdout
    logs = docker(d, tmp_path, "logs", "compat-web")
    assert logs.stdout == "started\n"
    ex = docker(d, tmp_path, "exec", "compat-web", "sh", "-c", "echo in-exec; exit 5")
    assert ex.returncode == 5 and ex.stdout == "in-exec\n", ex.stderr
    ex = docker(d, tmp_path, "exec", "-i", "compat-web", "cat", input="piped\n")
    assert ex.returncode == 0 and ex.stdout == "piped\n", ex.stderr
    fmt = docker(d, tmp_path, "inspect", "--format", "{{.State.Running}} {{.Config.Image}} {{.Name}}", "compat-web")
    assert fmt.stdout.strip() == "true busybox /compat-web"
    t0 = time.monotonic()
    stop = docker(d, tmp_path, "stop", "compat-web")
    assert stop.returncode == 0 and time.monotonic() - t0 < 8, stop.stderr
    fmt = docker(d, tmp_path, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "compat-web")
    assert fmt.stdout.strip() == "exited 0"
    rm = docker(d, tmp_path, "rm", "compat-web")
    assert rm.returncode == 0
    assert docker(d, tmp_path, "inspect", "compat-web").returncode != 0


def test_docker_run_missing_binary_exits_127(d, tmp_path):
    out = docker(d, tmp_path, "run", "--rm", "busybox", "/no/such/cmd")
    assert out.returncode == 127, (out.returncode, out.stderr)


def test_docker_py_containers_run(d):
    docker_py = pytest.importorskip("docker")
    client = docker_py.DockerClient(base_url=d.host, version="1.41")
    try:
        out = client.containers.run("busybox", ["echo", "from-py"], remove=True)
        assert out == b"from-py\n"
        c = client.containers.run("busybox", ["sleep", "30"], detach=True)
        assert client.containers.get(c.id).status == "running"
        c.stop(timeout=1)
        c.reload()
        assert c.status == "exited"
        c.remove()
    finally:
        client.close()
