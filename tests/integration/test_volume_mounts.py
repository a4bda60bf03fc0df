"""Volumes, binds and tmpfs mounted into real containers on a real ctld: data shared between
containers and surviving container removal, a ctld restart and a ctld SIGKILL; copy-up of image
content into new volumes (ownership and modes kept) and `nocopy`; read-only mounts; 409 for an
in-use volume; `rm -v` removing only anonymous volumes; tmpfs size limits; bind mounts both ways;
refused host paths and destinations; --volumes-from; Mounts in inspect."""
import io
import os
import shutil
import tarfile
import tempfile

import pytest

from harness.containers import busybox_rootfs, create, import_busybox, inspect, q, remove, run, start

SEED_IMAGE = "seeded:latest"


def seeded_image(d):
    """busybox plus /seed/dir/file (uid 1, gid 1, mode 0640) and /seed/top, with VOLUME /seed."""
    fd, path = tempfile.mkstemp(prefix="ctl-seeded-", suffix=".tar")
    os.close(fd)
    try:
        shutil.copyfile(busybox_rootfs(), path)
        with tarfile.open(path, "a") as tar:
            for name, mode, uid in (("seed", 0o755, 0), ("seed/dir", 0o750, 1)):
                info = tarfile.TarInfo(name)
                info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, mode, uid, uid
                tar.addfile(info)
            for name, data, mode, uid in (("seed/dir/file", b"from the image\n", 0o640, 1),
                                          ("seed/top", b"top\n", 0o644, 0)):
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.uid, info.gid = len(data), mode, uid, uid
                tar.addfile(info, io.BytesIO(data))
        r = d.ctl("import", "-c", "VOLUME /seed", "-c", 'CMD ["sh"]', path, SEED_IMAGE)
        assert r.returncode == 0, r.stderr
    finally:
        os.unlink(path)


@pytest.fixture(scope="module")
def d(shared_daemon):
    import_busybox(shared_daemon)
    seeded_image(shared_daemon)
    return shared_daemon


def sh(d, script, **fields):
    """Runs `sh -c script` to completion and removes the container: (exit code, stdout, stderr)."""
    code, out, err, cid = run(d, ["sh", "-c", script], **fields)
    remove(d, cid)
    return code, out, err


def volume_names(d):
    status, doc = d.json("GET", "/volumes")
    assert status == 200
    return {v["Name"] for v in doc["Volumes"] or []}


def remove_volume(d, name):
    d.api("DELETE", f"/volumes/{q(name)}?force=1")


# ---- named volumes: shared and durable ----------------------------------------------------------

def test_named_volume_data_survives_rm_restart_and_sigkill(daemon):
    d = daemon
    import_busybox(d)
    binds = {"HostConfig": {"Binds": ["durable:/data"]}}
    assert sh(d, "echo kept > /data/file; mkdir /data/sub && echo deep > /data/sub/f", **binds)[0] == 0
    assert "durable" in volume_names(d)
    # Another container (the first one is gone) reads what was written.
    assert sh(d, "cat /data/file /data/sub/f", **binds)[:2] == (0, "kept\ndeep\n")
    d.restart()
    assert sh(d, "cat /data/file; echo more >> /data/file", **binds)[:2] == (0, "kept\n")
    d.kill()
    d.start()
    assert sh(d, "cat /data/file", **binds)[:2] == (0, "kept\nmore\n")
    _, vol = d.json("GET", "/volumes/durable")
    assert open(os.path.join(vol["Mountpoint"], "sub", "f")).read() == "deep\n"


def test_data_is_shared_between_running_containers(d):
    binds = {"HostConfig": {"Binds": ["shared-live:/s"]}}
    writer = create(d, ["sh", "-c", "echo ping > /s/msg; while [ ! -f /s/ack ]; do sleep 0.1; done"], **binds)
    start(d, writer)
    try:
        assert sh(d, "for i in $(seq 50); do [ -f /s/msg ] && break; sleep 0.1; done; cat /s/msg; touch /s/ack",
                  **binds)[:2] == (0, "ping\n")
        status, _, body = d.api("POST", f"/containers/{writer}/wait", timeout=30)
        assert status == 200 and b'"StatusCode":0' in body.replace(b" ", b"")
    finally:
        remove(d, writer)
        remove_volume(d, "shared-live")


# ---- copy-up of image content -------------------------------------------------------------------

def test_image_content_is_copied_into_a_new_named_volume(d):
    script = "stat -c '%u:%g:%a' /seed/dir /seed/dir/file; cat /seed/dir/file /seed/top"
    code, out, _ = sh(d, script, image=SEED_IMAGE, HostConfig={"Binds": ["seedvol:/seed"]})
    assert code == 0 and out == "1:1:750\n1:1:640\nfrom the image\ntop\n"
    # Only an empty volume is filled: a second container sees the volume's own (changed) content.
    assert sh(d, "echo changed > /seed/top", image=SEED_IMAGE, HostConfig={"Binds": ["seedvol:/seed"]})[0] == 0
    assert sh(d, "cat /seed/top", image=SEED_IMAGE, HostConfig={"Binds": ["seedvol:/seed"]})[1] == "changed\n"
    remove_volume(d, "seedvol")


def test_nocopy_leaves_the_volume_empty(d):
    mounts = [{"Type": "volume", "Source": "emptyvol", "Target": "/seed", "VolumeOptions": {"NoCopy": True}}]
    code, out, _ = sh(d, "ls -A /seed | wc -l", image=SEED_IMAGE, HostConfig={"Mounts": mounts})
    assert (code, out.strip()) == (0, "0")
    code, out, _ = sh(d, "ls -A /seed | wc -l", image=SEED_IMAGE, HostConfig={"Binds": ["emptyvol2:/seed:nocopy"]})
    assert (code, out.strip()) == (0, "0")
    remove_volume(d, "emptyvol")
    remove_volume(d, "emptyvol2")


def test_image_volume_gets_an_anonymous_volume_with_the_content(d):
    before = volume_names(d)
    cid = create(d, ["sh", "-c", "cat /seed/dir/file; echo new > /seed/new"], image=SEED_IMAGE)
    start(d, cid)
    d.api("POST", f"/containers/{cid}/wait")
    info = inspect(d, cid)
    [m] = [m for m in info["Mounts"] if m["Destination"] == "/seed"]
    assert m["Type"] == "volume" and m["Driver"] == "local" and m["RW"] is True
    assert len(m["Name"]) == 64 and m["Name"] not in before
    assert os.path.exists(os.path.join(m["Source"], "new"))
    assert open(os.path.join(m["Source"], "dir", "file")).read() == "from the image\n"
    # rm -v removes it with the container.
    assert d.api("DELETE", f"/containers/{cid}?v=1")[0] == 204
    assert m["Name"] not in volume_names(d)


# ---- read-only, in use, rm -v -------------------------------------------------------------------

def test_read_only_mounts_refuse_writes(d, tmp_path):
    code, _, err = sh(d, "echo x > /ro/f", HostConfig={"Binds": ["rovol:/ro:ro"]})
    assert code != 0 and "Read-only file system" in err
    mounts = [{"Type": "bind", "Source": str(tmp_path), "Target": "/rb", "ReadOnly": True}]
    code, _, err = sh(d, "echo x > /rb/f", HostConfig={"Mounts": mounts})
    assert code != 0 and "Read-only file system" in err and not os.path.exists(tmp_path / "f")
    cid = create(d, ["true"], HostConfig={"Binds": ["rovol:/ro:ro"]})
    [m] = inspect(d, cid)["Mounts"]
    assert (m["Type"], m["Name"], m["Destination"], m["Mode"], m["RW"]) == ("volume", "rovol", "/ro", "ro", False)
    remove(d, cid)
    remove_volume(d, "rovol")


def test_removing_a_volume_in_use_is_409_until_its_container_is_gone(d):
    cid = create(d, ["sleep", "60"], HostConfig={"Binds": ["busyvol:/b"]})
    start(d, cid)
    status, _, body = d.api("DELETE", "/volumes/busyvol")
    assert status == 409 and b"in use" in body
    d.api("POST", f"/containers/{cid}/stop?t=0")
    assert d.api("DELETE", "/volumes/busyvol")[0] == 409  # a stopped container still uses it
    assert "busyvol" in volume_names(d)
    remove(d, cid)
    assert d.api("DELETE", "/volumes/busyvol")[0] == 204


def test_rm_v_removes_anonymous_volumes_and_keeps_named_ones(d):
    cid = create(d, ["sh", "-c", "echo a > /anon/f; echo n > /named/f"],
                 HostConfig={"Binds": ["keepme:/named"]}, Volumes={"/anon": {}})
    start(d, cid)
    d.api("POST", f"/containers/{cid}/wait")
    anon = next(m["Name"] for m in inspect(d, cid)["Mounts"] if m["Destination"] == "/anon")
    assert {anon, "keepme"} <= volume_names(d)
    assert d.api("DELETE", f"/containers/{cid}?v=1")[0] == 204
    names = volume_names(d)
    assert anon not in names and "keepme" in names
    # Without v the anonymous volume stays (dangling), like Docker.
    cid = create(d, ["true"], Volumes={"/anon2": {}})
    anon2 = inspect(d, cid)["Mounts"][0]["Name"]
    remove(d, cid, force=False)
    assert anon2 in volume_names(d)
    remove_volume(d, anon2)
    remove_volume(d, "keepme")


# ---- tmpfs ---------------------------------------------------------------------------------------

def test_tmpfs_size_limit_is_enforced(d):
    script = ("dd if=/dev/zero of=/t/big bs=1024 count=2048 2>/dev/null; echo rc=$?; "
              "du -k /t/big | cut -f1; grep ' /t ' /proc/mounts")
    code, out, _ = sh(d, script, HostConfig={"Tmpfs": {"/t": "size=1m"}})
    lines = out.splitlines()
    assert code == 0 and lines[0] != "rc=0" and int(lines[1]) <= 1024, out
    assert "tmpfs" in lines[2] and "size=1024k" in lines[2]
    mounts = [{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1 << 20, "Mode": 0o700}}]
    code, out, _ = sh(d, script + "; stat -c %a /t", HostConfig={"Mounts": mounts})
    lines = out.splitlines()
    assert lines[0] != "rc=0" and int(lines[1]) <= 1024 and lines[-1] == "700", out


# ---- bind mounts ---------------------------------------------------------------------------------

def test_bind_mount_both_ways(d, tmp_path):
    (tmp_path / "from-host").write_text("host says hi\n")
    code, out, _ = sh(d, "cat /h/from-host; echo container says hi > /h/from-container",
                      HostConfig={"Binds": [f"{tmp_path}:/h"]})
    assert (code, out) == (0, "host says hi\n")
    assert (tmp_path / "from-container").read_text() == "container says hi\n"


def test_missing_bind_source_is_created_for_binds_and_refused_for_mounts(d, tmp_path):
    missing = tmp_path / "made" / "by-ctld"
    assert sh(d, "echo x > /m/f", HostConfig={"Binds": [f"{missing}:/m"]})[0] == 0
    assert (missing / "f").read_text() == "x\n"
    mounts = [{"Type": "bind", "Source": str(tmp_path / "absent"), "Target": "/m"}]
    status, body = d.json("POST", "/containers/create", {"Image": "busybox", "HostConfig": {"Mounts": mounts}})
    assert status == 400 and "bind source path does not exist" in body["message"]
    assert not (tmp_path / "absent").exists()


@pytest.mark.parametrize("binds,text", [
    (["relative/dir:/x"], "must be absolute"),
    (["/tmp/../etc:/x"], ".."),
    (["vol:relative"], "must be absolute"),
    (["vol:/data/../proc"], "shadow"),  # cleaned first, like Docker
    (["vol:/proc"], "shadow"),
    (["vol:/sys/fs"], "shadow"),
    (["vol:/"], "can't be '/'"),
])
def test_bad_host_paths_and_destinations_are_refused(d, binds, text):
    before = volume_names(d)
    status, body = d.json("POST", "/containers/create", {"Image": "busybox", "HostConfig": {"Binds": binds}})
    assert status == 400 and text in body["message"], body
    assert volume_names(d) == before  # nothing half-made


def test_mount_destination_under_proc_is_refused(d):
    mounts = [{"Type": "tmpfs", "Target": "/proc/x"}]
    status, body = d.json("POST", "/containers/create", {"Image": "busybox", "HostConfig": {"Mounts": mounts}})
    assert status == 400 and "shadow" in body["message"]


# ---- volumes-from and inspect --------------------------------------------------------------------

def test_volumes_from_shares_mounts(d, tmp_path):
    src = create(d, ["sh", "-c", "echo via-from > /vf/f"],
                 HostConfig={"Binds": ["vfvol:/vf", f"{tmp_path}:/hb:ro"]})
    start(d, src)
    d.api("POST", f"/containers/{src}/wait")
    code, out, _ = sh(d, "cat /vf/f; echo x > /hb/f 2>/dev/null || echo ro", HostConfig={"VolumesFrom": [src]})
    assert (code, out) == (0, "via-from\nro\n")
    code, out, _ = sh(d, "echo w > /vf/w && echo ok", HostConfig={"VolumesFrom": [f"{src}:ro"]})
    assert "ok" not in out
    status, body = d.json("POST", "/containers/create", {"Image": "busybox", "HostConfig": {"VolumesFrom": ["nope"]}})
    assert status == 404 or status == 400, body
    remove(d, src)
    remove_volume(d, "vfvol")


def test_inspect_lists_every_mount_kind(d, tmp_path):
    cid = create(d, ["true"], HostConfig={
        "Binds": ["inspvol:/v", f"{tmp_path}:/b:ro"],
        "Tmpfs": {"/t": ""},
    })
    info = inspect(d, cid)
    by_dest = {m["Destination"]: m for m in info["Mounts"]}
    v, b = by_dest["/v"], by_dest["/b"]
    assert (v["Type"], v["Name"], v["Driver"], v["RW"]) == ("volume", "inspvol", "local", True)
    assert v["Source"].endswith("/volumes/inspvol/_data")
    assert (b["Type"], b["Source"], b["RW"], b["Mode"]) == ("bind", str(tmp_path), False, "ro")
    assert "Propagation" in b and b["Propagation"] in ("rprivate", "")
    assert info["HostConfig"]["Binds"] == ["inspvol:/v", f"{tmp_path}:/b:ro"]
    remove(d, cid)
    remove_volume(d, "inspvol")
