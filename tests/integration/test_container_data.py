"""Container data endpoints against a real ctld: stats (one-shot and streamed), the archive
endpoints behind `docker cp` (HEAD/GET/PUT on running and stopped containers, hostile tars and
paths), export, changes and commit."""
import base64
import io
import json
import os
import shutil
import tarfile
import tempfile
import time

import pytest

from harness.containers import create, import_busybox, inspect, q, remove, run, start, wait
from harness.ctld import mounts_under


@pytest.fixture(scope="module")
def d(shared_daemon):
    import_busybox(shared_daemon)
    return shared_daemon


def running(d, cmd=None, **fields):
    cid = create(d, cmd or ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"], **fields)
    start(d, cid)
    return cid


def stopped(d, script):
    """A container that ran `script` and exited 0."""
    code, out, err, cid = run(d, ["sh", "-c", script])
    assert code == 0, (out, err)
    return cid


def make_tar(entries):
    """entries: (name, kind, data) with kind "file", "dir" or "symlink" (data = target)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                t.addfile(info)
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, data
                t.addfile(info)
            else:
                payload = data.encode() if isinstance(data, str) else data
                info.size, info.mode = len(payload), 0o644
                t.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def path_stat(headers):
    return json.loads(base64.b64decode(headers["x-docker-container-path-stat"]))


def get_file(d, cid, path):
    """Content of one file through GET /archive, or the status when it is not 200."""
    status, headers, body = d.api("GET", f"/containers/{cid}/archive?path={q(path)}")
    if status != 200:
        return status
    with tarfile.open(fileobj=io.BytesIO(body)) as t:
        member = t.getmembers()[0]
        return t.extractfile(member).read().decode() if member.isfile() else member


@pytest.fixture
def canary():
    """A host directory with one file, which no container operation may touch."""
    path = tempfile.mkdtemp(prefix="ctl-canary-", dir="/tmp")
    with open(os.path.join(path, "secret"), "w") as f:
        f.write("host secret\n")
    yield path
    entries = sorted(os.listdir(path))
    with open(os.path.join(path, "secret")) as f:
        content = f.read()
    shutil.rmtree(path)
    assert entries == ["secret"] and content == "host secret\n", (entries, content)


# ---- stats ----------------------------------------------------------------------------------

def test_stats_one_shot_fields(d):
    cid = running(d, ["sh", "-c", "while true; do :; done"], name="stats-busy")
    try:
        status, s = d.json("GET", f"/containers/{cid}/stats?stream=false")
        assert status == 200, s
        assert s["id"] == cid and s["name"] == "/stats-busy"
        assert s["read"] > s["preread"] and not s["preread"].startswith("0001")
        cpu, pre = s["cpu_stats"], s["precpu_stats"]
        assert cpu["cpu_usage"]["total_usage"] > pre["cpu_usage"]["total_usage"] > 0
        assert cpu["system_cpu_usage"] > pre["system_cpu_usage"] > 0
        assert cpu["online_cpus"] >= 1 and "throttling_data" in cpu
        assert "usage_in_usermode" in cpu["cpu_usage"] and "usage_in_kernelmode" in cpu["cpu_usage"]
        mem = s["memory_stats"]
        assert mem["usage"] > 0 and mem["limit"] >= mem["usage"] and isinstance(mem["stats"], dict)
        assert s["pids_stats"]["current"] >= 1
        assert isinstance(s["blkio_stats"]["io_service_bytes_recursive"], list)
        assert isinstance(s["networks"], dict)
        # docker-py sends Python booleans; one-shot skips the second reading
        status, one = d.json("GET", f"/containers/{cid}/stats?stream=False&one-shot=True")
        assert status == 200 and one["precpu_stats"]["cpu_usage"]["total_usage"] == 0
        assert one["cpu_stats"]["cpu_usage"]["total_usage"] >= cpu["cpu_usage"]["total_usage"]
    finally:
        remove(d, cid)


def test_stats_stream_sends_a_sample_per_second(d):
    cid = running(d, ["sh", "-c", "while true; do :; done"])
    try:
        t0 = time.monotonic()
        samples = read_stream_samples(d, cid, 3)
        assert time.monotonic() - t0 < 10
        totals = [s["cpu_stats"]["cpu_usage"]["total_usage"] for s in samples]
        assert totals[0] < totals[1] < totals[2], totals
        for prev, cur in zip(samples, samples[1:]):
            assert cur["precpu_stats"] == prev["cpu_stats"] and cur["preread"] == prev["read"]
        assert all(s["memory_stats"]["usage"] > 0 and s["pids_stats"]["current"] >= 1 for s in samples)
    finally:
        remove(d, cid)


def read_stream_samples(d, cid, count):
    """`count` objects from a stats stream, read with http.client's chunked decoding."""
    conn = d.connection(timeout=30)
    try:
        conn.request("GET", f"/containers/{cid}/stats?stream=1")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.getheader("Transfer-Encoding") == "chunked"
        buf, out = b"", []
        while len(out) < count:
            chunk = resp.read1(65536)
            assert chunk, "stream ended early"
            buf += chunk
            while b"\n" in buf and len(out) < count:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    out.append(json.loads(line))
        return out
    finally:
        conn.close()


def test_stats_of_stopped_and_missing_containers(d):
    cid = stopped(d, "true")
    status, s = d.json("GET", f"/containers/{cid}/stats?stream=0")
    assert status == 200 and s["id"] == cid and s["name"].startswith("/")
    assert s["read"] == "0001-01-01T00:00:00Z" and s["cpu_stats"]["cpu_usage"]["total_usage"] == 0
    assert d.json("GET", "/containers/nope-missing/stats?stream=0")[0] == 404
    assert d.api("GET", "/containers/nope-missing/stats")[0] == 404
    remove(d, cid)


# ---- archive --------------------------------------------------------------------------------

def test_archive_head_and_get_running(d):
    cid = running(d)
    try:
        status, headers, _ = d.api("HEAD", f"/containers/{cid}/archive?path=/bin/sh")
        assert status == 200
        st = path_stat(headers)
        assert st["name"] == "sh" and st["mode"] & (1 << 27) and st["linkTarget"] == "/bin/busybox"
        status, headers, _ = d.api("HEAD", f"/containers/{cid}/archive?path=/etc")
        assert status == 200 and path_stat(headers)["mode"] & (1 << 31) and path_stat(headers)["name"] == "etc"
        status, headers, body = d.api("GET", f"/containers/{cid}/archive?path=/etc")
        assert status == 200 and headers["content-type"] == "application/x-tar"
        with tarfile.open(fileobj=io.BytesIO(body)) as t:
            names = t.getnames()
            assert "etc" in names and "etc/passwd" in names
            assert b"root:x:0:0" in t.extractfile("etc/passwd").read()
        assert get_file(d, cid, "/etc/passwd").startswith("root:x:0:0")
        assert d.api("HEAD", f"/containers/{cid}/archive?path=/no/such")[0] == 404
        assert d.api("GET", f"/containers/{cid}/archive?path=/no/such")[0] == 404
        assert d.api("GET", f"/containers/{cid}/archive")[0] == 400
        assert d.api("HEAD", "/containers/nope-missing/archive?path=/")[0] == 404
    finally:
        remove(d, cid)


def test_archive_put_running_and_stopped(d):
    cid = running(d)
    try:
        tar = make_tar([("newdir", "dir", None), ("newdir/hello.txt", "file", "hello running\n")])
        status, _, body = d.api("PUT", f"/containers/{cid}/archive?path=/tmp&noOverwriteDirNonDir=true", tar)
        assert status == 200, body
        assert get_file(d, cid, "/tmp/newdir/hello.txt") == "hello running\n"
        # not a directory / missing destination
        assert d.api("PUT", f"/containers/{cid}/archive?path=/etc/passwd", tar)[0] == 400
        assert d.api("PUT", f"/containers/{cid}/archive?path=/no/such/dir", tar)[0] == 404
        # noOverwriteDirNonDir: a file may not replace a directory
        clash = make_tar([("newdir", "file", "x")])
        status, _, body = d.api("PUT", f"/containers/{cid}/archive?path=/tmp&noOverwriteDirNonDir=1", clash)
        assert status == 400 and b"cannot overwrite directory" in body
    finally:
        remove(d, cid)

    cid = stopped(d, "echo before > /before.txt")
    mounted_before = sorted(mounts_under(d.data_root))
    tar = make_tar([("after.txt", "file", "written while stopped\n")])
    status, _, body = d.api("PUT", f"/containers/{cid}/archive?path=/", tar)
    assert status == 200, body
    status, headers, _ = d.api("HEAD", f"/containers/{cid}/archive?path=/after.txt")
    assert status == 200 and path_stat(headers)["size"] == len("written while stopped\n")
    assert get_file(d, cid, "/before.txt") == "before\n"
    assert sorted(mounts_under(d.data_root)) == mounted_before, "a stopped container's rootfs stayed mounted"
    # the container sees the file when it runs again
    status, _, _ = d.api("POST", f"/containers/{cid}/start")
    assert wait(d, cid)["StatusCode"] == 0
    remove(d, cid)


def test_archive_put_hostile_tars_land_inside(d, canary):
    # A link to a directory missing inside the container is refused as an extraction parent
    cid = stopped(d, "mkdir -p /target")
    status, _, body = d.api("PUT", f"/containers/{cid}/archive?path=/target",
                            make_tar([("dangling", "symlink", canary), ("dangling/x", "file", "x")]))
    assert status == 400 and b"not a directory" in body, body
    remove(d, cid)
    # The same path exists in the container: links are followed inside its root, never the host's
    cid = stopped(d, f"mkdir -p /target {canary}")
    # ../ climbing out is refused
    status, _, body = d.api("PUT", f"/containers/{cid}/archive?path=/target",
                            make_tar([("../../../../../../.." + canary + "/dotdot", "file", "x")]))
    assert status == 400, body
    # absolute names and symlinks that point out are confined to the container's root
    evil = make_tar([
        (canary + "/absolute", "file", "abs"),
        ("link-abs", "symlink", canary),
        ("link-abs/through-abs", "file", "through abs link"),
        ("link-rel", "symlink", "../../../../../../../../.." + canary),
        ("link-rel/through-rel", "file", "through rel link"),
    ])
    status, _, body = d.api("PUT", f"/containers/{cid}/archive?path=/target", evil)
    assert status == 200, body
    # the entries exist inside the container instead
    assert get_file(d, cid, "/target" + canary + "/absolute") == "abs"
    assert get_file(d, cid, canary + "/through-abs") == "through abs link"
    assert get_file(d, cid, canary + "/through-rel") == "through rel link"
    remove(d, cid)


def test_archive_path_traversal_stays_inside(d, canary):
    cid = running(d, ["sh", "-c", f"ln -s {canary} /escape; ln -s ../../../../{canary}/secret /relsecret; "
                                  "trap 'exit 0' TERM; while true; do sleep 0.1; done"])
    try:
        for path in ["/../../../../.." + canary + "/secret", "/escape/secret", "/escape/", "/relsecret/"]:
            assert d.api("HEAD", f"/containers/{cid}/archive?path={q(path)}")[0] == 404, path
            assert d.api("GET", f"/containers/{cid}/archive?path={q(path)}")[0] == 404, path
        status, headers, _ = d.api("HEAD", f"/containers/{cid}/archive?path=/escape")
        assert status == 200 and path_stat(headers)["linkTarget"] == canary
        tar = make_tar([("pwned", "file", "x")])
        assert d.api("PUT", f"/containers/{cid}/archive?path=/escape", tar)[0] == 404
        assert d.api("PUT", f"/containers/{cid}/archive?path={q('/../../..' + canary)}", tar)[0] == 404
        # an entry below the link: the link leads nowhere inside the container, so it is refused
        status, _, body = d.api("PUT", f"/containers/{cid}/archive?path=/",
                                make_tar([("escape/pwned", "file", "inside")]))
        assert status == 400, body
    finally:
        remove(d, cid)


# ---- export, changes, commit ----------------------------------------------------------------

def test_export_contains_the_rootfs(d):
    cid = stopped(d, "echo exported > /exported.txt")
    status, headers, body = d.api("GET", f"/containers/{cid}/export")
    assert status == 200 and headers["content-type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(body)) as t:
        names = {n.lstrip("./") for n in t.getnames()}
        assert "bin/busybox" in names and "exported.txt" in names
    assert d.api("GET", "/containers/nope-missing/export")[0] == 404
    remove(d, cid)


def test_changes_after_write_and_delete(d):
    cid = stopped(d, "echo new > /added.txt; rm /etc/nsswitch.conf; echo x >> /etc/passwd; mkdir /newdir")
    status, changes = d.json("GET", f"/containers/{cid}/changes")
    assert status == 200
    kinds = {c["Path"]: c["Kind"] for c in changes}
    assert kinds.get("/added.txt") == 1 and kinds.get("/newdir") == 1
    assert kinds.get("/etc/nsswitch.conf") == 2
    assert kinds.get("/etc/passwd") == 0 and kinds.get("/etc") == 0
    assert d.json("GET", "/containers/nope-missing/changes")[0] == 404
    remove(d, cid)


def test_commit_then_run_the_new_image(d):
    cid = stopped(d, "echo committed-content > /hello.txt; rm /etc/nsswitch.conf")
    changes = q('CMD ["cat", "/hello.txt"]') + "&changes=" + q("ENV COMMITTED=yes") + "&changes=" + q("LABEL stage=two")
    status, out = d.json("POST", f"/commit?container={cid}&repo=committed&tag=v1&comment=first&author=tester"
                                 f"&changes={changes}", {})
    assert status == 201, out
    image_id = out["Id"]
    assert image_id.startswith("sha256:")
    status, img = d.json("GET", "/images/committed:v1/json")
    assert status == 200 and img["Id"] == image_id
    assert img["Config"]["Cmd"] == ["cat", "/hello.txt"] and "COMMITTED=yes" in img["Config"]["Env"]
    assert img["Config"]["Labels"] == {"stage": "two"} and img["Author"] == "tester" and img["Comment"] == "first"
    assert len(img["RootFS"]["Layers"]) == 2
    code, out, err, cid2 = run(d, None, image="committed:v1")
    assert (code, out) == (0, "committed-content\n"), err
    code, out, _, cid3 = run(d, ["sh", "-c", "test -e /etc/nsswitch.conf && echo present || echo gone; echo $COMMITTED"],
                             image="committed:v1")
    assert out == "gone\nyes\n"
    status, hist = d.json("GET", "/images/committed:v1/history")
    assert status == 200 and len(hist) >= 2
    for c in (cid, cid2, cid3):
        remove(d, c)
    assert d.json("DELETE", "/images/committed:v1")[0] == 200
    assert d.json("POST", "/commit?container=nope-missing", {})[0] == 404
    assert d.json("POST", "/commit", {})[0] == 400


def test_commit_running_container_pauses_and_resumes(d):
    cid = running(d, ["sh", "-c", "echo live > /live.txt; trap 'exit 0' TERM; while true; do sleep 0.1; done"])
    try:
        time.sleep(0.3)
        status, out = d.json("POST", f"/commit?container={cid}&pause=1", None)
        assert status == 201, out
        assert inspect(d, cid)["State"]["Status"] == "running"
        code, out2, _, cid2 = run(d, ["cat", "/live.txt"], image=out["Id"])
        assert out2 == "live\n"
        remove(d, cid2)
        d.json("DELETE", f"/images/{out['Id']}")
    finally:
        remove(d, cid)
