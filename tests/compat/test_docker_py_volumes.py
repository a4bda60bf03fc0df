"""Volumes through real clients: Debian's docker-py (python3-docker) and the docker CLI (28.x at
/usr/local/bin/docker, Debian's 20.10 when installed) against ctld."""
import json
import os
import re
import shutil
import subprocess

import pytest

docker = pytest.importorskip("docker")

from harness.containers import import_busybox  # noqa: E402


def docker_binaries():
    found = []
    for path in ("/usr/local/bin/docker", shutil.which("docker"), "/usr/bin/docker"):
        if path and os.access(path, os.X_OK) and os.path.realpath(path) not in [os.path.realpath(p) for p in found]:
            found.append(path)
    return found


DOCKERS = docker_binaries()


@pytest.fixture(params=DOCKERS or [None], ids=lambda p: p.strip("/").replace("/", "-") if p else "none")
def docker_cli(request):
    if request.param is None:
        pytest.skip("no docker CLI binary on this machine")
    return request.param


def run_docker(binary, host, *args, tmp_path, input=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    config = tmp_path / "docker-config"
    config.mkdir(exist_ok=True)
    env.update(DOCKER_HOST=host, DOCKER_CONFIG=str(config))
    return subprocess.run([binary] + list(args), capture_output=True, text=True, env=env, timeout=120, input=input)


@pytest.fixture
def client(daemon):
    c = docker.DockerClient(base_url="unix://" + daemon.socket, timeout=60)
    yield c
    c.close()


# --- docker-py ------------------------------------------------------------------------------------

def test_docker_py_volume_lifecycle(daemon, client):
    v = client.volumes.create(name="pyvol", driver="local", labels={"com.example": "yes"})
    assert v.name == "pyvol"
    assert v.attrs["Driver"] == "local"
    assert v.attrs["Labels"] == {"com.example": "yes"}
    assert v.attrs["Mountpoint"] == os.path.join(daemon.data_root, "volumes", "pyvol", "_data")

    opts = {"type": "tmpfs", "device": "tmpfs", "o": "size=8m"}
    t = client.volumes.create(name="pytmpfs", driver_opts=opts)
    assert t.attrs["Options"] == opts

    anon = client.volumes.create()
    assert re.match(r"^[0-9a-f]{64}$", anon.name)

    listed = sorted(x.name for x in client.volumes.list())
    assert listed == sorted(["pyvol", "pytmpfs", anon.name])
    assert [x.name for x in client.volumes.list(filters={"label": "com.example=yes"})] == ["pyvol"]
    assert sorted(x.name for x in client.volumes.list(filters={"name": "py"})) == ["pytmpfs", "pyvol"]
    assert len(client.volumes.list(filters={"dangling": True})) == 3

    got = client.volumes.get("pyvol")
    assert got.id == "pyvol" and got.attrs == v.attrs
    got.reload()

    # The low-level API as compose and Ansible use it.
    api = client.api
    assert api.inspect_volume("pytmpfs")["Options"] == opts
    assert api.create_volume("pyvol")["Name"] == "pyvol"  # idempotent
    assert api.volumes()["Warnings"] == []

    with pytest.raises(docker.errors.NotFound) as e:
        client.volumes.get("missing")
    assert "get missing: no such volume" in str(e.value.explanation)
    with pytest.raises(docker.errors.NotFound) as e:
        client.volumes.create(name="x1", driver="nosuchplugin")
    assert 'plugin "nosuchplugin" not found' in str(e.value.explanation)
    with pytest.raises(docker.errors.APIError) as e:
        client.volumes.create(name="x2", driver_opts={"bogus": "1"})
    assert e.value.status_code == 400
    assert 'invalid option: "bogus"' in e.value.explanation

    v.remove()
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get("pyvol")
    # docker-py 5 builds the URL without its `force` parameter (it never reaches the daemon), so
    # this is a plain remove of a missing volume: 404, as from dockerd.
    with pytest.raises(docker.errors.NotFound):
        api.remove_volume("pyvol", force=True)

    report = client.volumes.prune(filters={"label": "nothing=matches"})
    assert report["VolumesDeleted"] == [] and report["SpaceReclaimed"] == 0
    report = client.volumes.prune()
    assert sorted(report["VolumesDeleted"]) == sorted(["pytmpfs", anon.name])
    assert client.volumes.list() == []


def test_docker_py_df_lists_volumes(daemon, client):
    client.volumes.create(name="dfvol")
    df = client.df()
    assert [v["Name"] for v in df["Volumes"]] == ["dfvol"]
    assert df["Volumes"][0]["UsageData"]["RefCount"] == 0


# --- docker CLI -------------------------------------------------------------------------------------

def test_docker_cli_volume_commands(daemon, docker_cli, tmp_path):
    def dk(*args, input=None):
        return run_docker(docker_cli, daemon.host, *args, tmp_path=tmp_path, input=input)

    out = dk("volume", "create", "--label", "team=a", "clivol")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "clivol"
    out = dk("volume", "create", "--driver", "local", "--opt", "type=tmpfs", "--opt", "device=tmpfs",
             "--opt", "o=size=4m", "clitmp")
    assert out.returncode == 0, out.stderr

    out = dk("volume", "ls")
    assert out.returncode == 0, out.stderr
    rows = [l.split() for l in out.stdout.splitlines()]
    assert rows[0] == ["DRIVER", "VOLUME", "NAME"]
    assert sorted(rows[1:]) == [["local", "clitmp"], ["local", "clivol"]]
    out = dk("volume", "ls", "-q", "--filter", "label=team=a")
    assert out.stdout.split() == ["clivol"], out
    out = dk("volume", "ls", "--filter", "dangling=true", "--format", "{{.Name}}:{{.Driver}}")
    assert sorted(out.stdout.split()) == ["clitmp:local", "clivol:local"], out

    out = dk("volume", "inspect", "clivol", "clitmp")
    assert out.returncode == 0, out.stderr
    docs = json.loads(out.stdout)
    assert [x["Name"] for x in docs] == ["clivol", "clitmp"]
    assert docs[0]["Labels"] == {"team": "a"}
    assert docs[1]["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=4m"}
    out = dk("volume", "inspect", "--format", "{{.Driver}} {{.Scope}} {{.Mountpoint}}", "clivol")
    assert out.stdout.strip() == f"local local {daemon.data_root}/volumes/clivol/_data", out
    out = dk("volume", "inspect", "nope")
    assert out.returncode != 0
    assert "no such volume" in out.stderr.lower(), out.stderr
    out = dk("inspect", "--type", "volume", "--format", "{{.Name}}", "clivol")
    assert out.stdout.strip() == "clivol", out

    out = dk("volume", "create", "-o", "bogus=1", "clibad")
    assert out.returncode != 0
    assert 'invalid option: \\"bogus\\"' in out.stderr or 'invalid option: "bogus"' in out.stderr, out.stderr

    out = dk("system", "df")
    assert out.returncode == 0, out.stderr
    assert re.search(r"^Local Volumes\s+2\s+0\s", out.stdout, re.M), out.stdout

    out = dk("volume", "rm", "clivol")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "clivol"
    out = dk("volume", "rm", "clivol")
    assert out.returncode != 0
    assert "no such volume" in out.stderr.lower(), out.stderr
    out = dk("volume", "rm", "-f", "clivol")
    assert out.returncode == 0, out.stderr

    out = dk("volume", "prune", "-f")
    assert out.returncode == 0, out.stderr
    assert "clitmp" in out.stdout
    assert "Total reclaimed space" in out.stdout
    out = dk("volume", "ls", "-q")
    assert out.stdout.strip() == ""


# --- containers with volumes ----------------------------------------------------------------------

def test_docker_py_container_with_named_volume(daemon, client):
    import_busybox(daemon)
    out = client.containers.run("busybox", ["sh", "-c", "echo from-py > /v/f; cat /v/f"],
                                volumes={"pydata": {"bind": "/v", "mode": "rw"}}, remove=True)
    assert out == b"from-py\n"
    # A second container, and a read-only mount of the same volume.
    out = client.containers.run("busybox", ["cat", "/v/f"], volumes=["pydata:/v:ro"], remove=True)
    assert out == b"from-py\n"
    c = client.containers.run("busybox", ["sleep", "30"], detach=True, volumes={"pydata": {"bind": "/v", "mode": "ro"}})
    try:
        [m] = client.containers.get(c.id).attrs["Mounts"]
        assert (m["Type"], m["Name"], m["Destination"], m["RW"]) == ("volume", "pydata", "/v", False)
        with pytest.raises(docker.errors.APIError) as busy:
            client.volumes.get("pydata").remove()
        assert busy.value.status_code == 409
    finally:
        c.remove(force=True)
    client.volumes.get("pydata").remove()
    assert "pydata" not in [v.name for v in client.volumes.list()]


def test_docker_cli_run_with_volume_and_bind(daemon, docker_cli, tmp_path):
    import_busybox(daemon)
    host_dir = tmp_path / "bind"
    host_dir.mkdir()
    (host_dir / "in").write_text("host\n")

    def dk(*args, **kw):
        return run_docker(docker_cli, "unix://" + daemon.socket, *args, tmp_path=tmp_path, **kw)

    out = dk("run", "--rm", "-v", "clidata:/data", "-v", f"{host_dir}:/h", "busybox",
             "sh", "-c", "cat /h/in; echo vol > /data/f; echo back > /h/out")
    assert out.returncode == 0 and out.stdout == "host\n", out.stderr
    assert (host_dir / "out").read_text() == "back\n"
    out = dk("run", "--rm", "--mount", "type=volume,src=clidata,dst=/d,readonly", "busybox", "cat", "/d/f")
    assert out.returncode == 0 and out.stdout == "vol\n", out.stderr
    out = dk("run", "--rm", "--tmpfs", "/t:size=1m", "busybox", "sh", "-c",
             "dd if=/dev/zero of=/t/x bs=1024 count=2048 2>/dev/null || echo full")
    assert out.stdout.strip() == "full", (out.stdout, out.stderr)
    out = dk("run", "--rm", "-v", "relative:/x:zz", "busybox", "true")
    assert out.returncode == 125 and "invalid" in out.stderr.lower(), out.stderr
    out = dk("run", "-d", "--name", "clivol-user", "-v", "clidata:/data", "-v", "/anon", "busybox", "sleep", "30")
    assert out.returncode == 0, out.stderr
    out = dk("volume", "rm", "clidata")
    assert out.returncode != 0 and "in use" in out.stderr, out.stderr
    out = dk("rm", "-f", "-v", "clivol-user")
    assert out.returncode == 0, out.stderr
    out = dk("volume", "ls", "-q")
    assert out.stdout.split() == ["clidata"], out.stdout
    assert dk("volume", "rm", "clidata").returncode == 0
