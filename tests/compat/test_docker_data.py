"""The real docker CLI and docker-py on ctld's container data endpoints: docker cp both ways
(files, directories, tar streams), docker stats --no-stream, docker diff, docker commit, docker
export; docker-py container.stats(stream=False), get_archive and put_archive."""
import io
import os
import subprocess
import sys
import tarfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness.containers import import_busybox  # noqa: E402

DOCKER = "/usr/local/bin/docker"


@pytest.fixture(scope="module")
def d(shared_daemon):
    import_busybox(shared_daemon)
    return shared_daemon


def docker(d, tmp_path, *args, input=None, text=True):
    if not os.access(DOCKER, os.X_OK):
        pytest.skip("no docker CLI at " + DOCKER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    (tmp_path / "cfg").mkdir(exist_ok=True)
    env.update(DOCKER_HOST=d.host, DOCKER_CONFIG=str(tmp_path / "cfg"))
    return subprocess.run([DOCKER] + list(args), capture_output=True, text=text, env=env, timeout=120, input=input)


def run_detached(d, tmp_path, name, script="trap 'exit 0' TERM; while true; do sleep 0.1; done"):
    out = docker(d, tmp_path, "run", "-d", "--name", name, "busybox", "sh", "-c", script)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_docker_cp_both_ways(d, tmp_path):
    run_detached(d, tmp_path, "cp-box")
    try:
        src = tmp_path / "src"
        (src / "sub").mkdir(parents=True)
        (src / "a.txt").write_text("file a\n")
        (src / "sub" / "b.txt").write_text("file b\n")
        single = tmp_path / "single.txt"
        single.write_text("single\n")

        assert docker(d, tmp_path, "cp", str(single), "cp-box:/tmp/").returncode == 0
        assert docker(d, tmp_path, "cp", str(single), "cp-box:/tmp/renamed.txt").returncode == 0
        out = docker(d, tmp_path, "cp", str(src), "cp-box:/tmp/dir")
        assert out.returncode == 0, out.stderr
        ex = docker(d, tmp_path, "exec", "cp-box", "cat", "/tmp/single.txt", "/tmp/renamed.txt",
                    "/tmp/dir/a.txt", "/tmp/dir/sub/b.txt")
        assert ex.stdout == "single\nsingle\nfile a\nfile b\n", ex.stderr

        back = tmp_path / "back"
        back.mkdir()
        out = docker(d, tmp_path, "cp", "cp-box:/tmp/dir", str(back / "dir-copy"))
        assert out.returncode == 0, out.stderr
        assert (back / "dir-copy" / "sub" / "b.txt").read_text() == "file b\n"
        out = docker(d, tmp_path, "cp", "cp-box:/etc/passwd", str(back))
        assert out.returncode == 0 and (back / "passwd").read_text().startswith("root:"), out.stderr

        # tar streams on stdin/stdout
        out = docker(d, tmp_path, "cp", "cp-box:/tmp/dir/a.txt", "-", text=False)
        assert out.returncode == 0
        with tarfile.open(fileobj=io.BytesIO(out.stdout)) as t:
            assert t.getnames() == ["a.txt"] and t.extractfile("a.txt").read() == b"file a\n"
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            info = tarfile.TarInfo("from-stdin.txt")
            info.size = 6
            t.addfile(info, io.BytesIO(b"stdin\n"))
        out = docker(d, tmp_path, "cp", "-", "cp-box:/tmp", input=buf.getvalue(), text=False)
        assert out.returncode == 0, out.stderr
        assert docker(d, tmp_path, "exec", "cp-box", "cat", "/tmp/from-stdin.txt").stdout == "stdin\n"

        missing = docker(d, tmp_path, "cp", "cp-box:/no/such/file", str(back))
        assert missing.returncode != 0 and "Could not find the file" in missing.stderr
    finally:
        docker(d, tmp_path, "rm", "-f", "cp-box")


def test_docker_cp_on_a_stopped_container(d, tmp_path):
    out = docker(d, tmp_path, "run", "--name", "cp-stopped", "busybox", "sh", "-c", "echo made > /made.txt")
    assert out.returncode == 0, out.stderr
    try:
        f = tmp_path / "in.txt"
        f.write_text("put while stopped\n")
        assert docker(d, tmp_path, "cp", str(f), "cp-stopped:/in.txt").returncode == 0
        out = docker(d, tmp_path, "cp", "cp-stopped:/in.txt", str(tmp_path / "out.txt"))
        assert out.returncode == 0 and (tmp_path / "out.txt").read_text() == "put while stopped\n", out.stderr
        out = docker(d, tmp_path, "cp", "cp-stopped:/made.txt", str(tmp_path / "made.txt"))
        assert (tmp_path / "made.txt").read_text() == "made\n", out.stderr
    finally:
        docker(d, tmp_path, "rm", "-f", "cp-stopped")


def test_docker_stats_no_stream(d, tmp_path):
    cid = run_detached(d, tmp_path, "stats-box")
    try:
        out = docker(d, tmp_path, "stats", "--no-stream", "stats-box")
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert lines[0].split()[:3] == ["CONTAINER", "ID", "NAME"] and "MEM USAGE / LIMIT" in lines[0]
        assert lines[1].startswith(cid[:12]) and "stats-box" in lines[1]
        assert "timeout" not in out.stderr
        out = docker(d, tmp_path, "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}} {{.MemUsage}}", "stats-box")
        name, pids, usage = out.stdout.split()[:3]
        assert name == "stats-box" and int(pids) >= 1 and not usage.startswith("0B"), out.stdout
    finally:
        docker(d, tmp_path, "rm", "-f", "stats-box")


def test_docker_diff_commit_export(d, tmp_path):
    out = docker(d, tmp_path, "run", "--name", "dce-box", "busybox", "sh", "-c",
                 "echo data > /data.txt; rm /etc/nsswitch.conf")
    assert out.returncode == 0, out.stderr
    try:
        diff = docker(d, tmp_path, "diff", "dce-box")
        assert diff.returncode == 0, diff.stderr
        lines = diff.stdout.splitlines()
        assert "A /data.txt" in lines and "D /etc/nsswitch.conf" in lines and "C /etc" in lines

        out = docker(d, tmp_path, "commit", "-c", 'CMD ["cat", "/data.txt"]', "-m", "msg", "-a", "me",
                     "dce-box", "dce-image:v2")
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip().startswith("sha256:")
        run = docker(d, tmp_path, "run", "--rm", "dce-image:v2")
        assert run.returncode == 0 and run.stdout == "data\n", run.stderr
        fmt = docker(d, tmp_path, "inspect", "--format", "{{.Author}} {{.Comment}}", "dce-image:v2")
        assert fmt.stdout.strip() == "me msg"

        export = tmp_path / "export.tar"
        out = docker(d, tmp_path, "export", "-o", str(export), "dce-box")
        assert out.returncode == 0, out.stderr
        with tarfile.open(export) as t:
            names = {n.lstrip("./") for n in t.getnames()}
        assert "bin/busybox" in names and "data.txt" in names and "etc/nsswitch.conf" not in names
        docker(d, tmp_path, "rmi", "dce-image:v2")
    finally:
        docker(d, tmp_path, "rm", "-f", "dce-box")


def test_docker_py_stats_and_archive(d):
    docker_py = pytest.importorskip("docker")
    client = docker_py.DockerClient(base_url=d.host, version="1.41")
    c = client.containers.run("busybox", ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"],
                              detach=True)
    try:
        s = c.stats(stream=False)
        assert s["id"] == c.id and s["memory_stats"]["usage"] > 0 and s["pids_stats"]["current"] >= 1

        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            info = tarfile.TarInfo("py.txt")
            info.size = 3
            t.addfile(info, io.BytesIO(b"py\n"))
        assert c.put_archive("/tmp", buf.getvalue()) is True
        stream, stat = c.get_archive("/tmp/py.txt")
        assert stat["name"] == "py.txt" and stat["size"] == 3
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as t:
            assert t.extractfile("py.txt").read() == b"py\n"
        with pytest.raises(docker_py.errors.NotFound):
            c.get_archive("/no/such")
    finally:
        c.remove(force=True)
        client.close()
