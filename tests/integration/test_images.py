"""Images end to end against real registries (Debian's docker-registry on 127.0.0.1, plain and
htpasswd), with images this suite makes itself: pull by tag and digest, multi-arch selection,
whiteouts/opaque dirs/links applied, push/rmi/pull round trips, login, save/load, digest
verification, hostile layers, missing tags, interrupted pulls.

Every test runs once per storage driver (overlay2 and vfs)."""
import hashlib
import gzip
import io
import json
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.parse

import pytest

from harness.ctld import Daemon, mounts_under
from harness.registry import ImageBuilder, Registry, busybox_rootfs_tar, make_tar, sha256
from harness.throttle import ThrottleProxy

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DRIVERS = ["overlay2", "vfs"]


# ---- fixtures ---------------------------------------------------------------------------------

def repo_token(ctld):
    """A per-daemon suffix valid in a repository name: mkdtemp's suffix may hold '_' where
    the distribution spec forbids it (at an end, or doubled)."""
    return hashlib.sha256(ctld.dir.encode()).hexdigest()[:8]


@pytest.fixture(scope="module")
def registry():
    r = Registry()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def auth_registry():
    r = Registry(auth=("ctluser", "s3cret-pass"))
    yield r
    r.stop()


@pytest.fixture(scope="module")
def busybox_tar():
    return busybox_rootfs_tar(REPO_ROOT)


@pytest.fixture(scope="module")
def images(registry, busybox_tar):
    """The suite's images, pushed once: name -> dict(ref, digest, id, ...)."""
    b = ImageBuilder(registry)
    out = {}
    digest, config, size = b.push("library/busybox", "latest", [busybox_tar], cmd=["sh"])
    out["busybox"] = dict(ref=f"{registry.host}/library/busybox:latest", digest=digest, id=config)

    base = make_tar([
        {"name": "a", "type": "dir"},
        {"name": "a/gone", "data": "to be whited out\n"},
        {"name": "a/kept", "data": "kept\n"},
        {"name": "opq", "type": "dir"},
        {"name": "opq/old1", "data": "old\n"},
        {"name": "opq/sub", "type": "dir"},
        {"name": "opq/sub/old2", "data": "old\n"},
        {"name": "top-gone", "data": "x\n"},
    ])
    upper = make_tar([
        {"name": "a", "type": "dir"},
        {"name": "a/.wh.gone", "data": ""},
        {"name": ".wh.top-gone", "data": ""},
        {"name": "opq", "type": "dir"},
        {"name": "opq/.wh..wh..opq", "data": ""},
        {"name": "opq/new", "data": "new\n"},
        {"name": "target", "data": "linked content\n", "mode": 0o640},
        {"name": "hard", "type": "hardlink", "target": "target"},
        {"name": "soft", "type": "symlink", "target": "target"},
        {"name": "dangling", "type": "symlink", "target": "/nowhere/at/all"},
    ])
    digest, config, size = b.push("test/layers", "v1", [base, upper], oci=True)
    out["layers"] = dict(ref=f"{registry.host}/test/layers:v1", digest=digest, id=config)

    per_arch = {}
    for arch in ("amd64", "arm64"):
        layer = make_tar([{"name": "arch", "data": arch + "\n"}])
        digest, config, size = b.push("test/multi", None, [layer], arch=arch, labels={"arch": arch})
        per_arch[arch] = (digest, size)
        out["multi-" + arch] = dict(digest=digest, id=config)
    index_digest = b.push_index("test/multi", "latest", per_arch)
    out["multi"] = dict(ref=f"{registry.host}/test/multi:latest", digest=index_digest)
    return out


@pytest.fixture(scope="module", params=DRIVERS)
def driver(request):
    return request.param


@pytest.fixture
def ctld(daemon_factory, driver):
    return daemon_factory(["--storage-driver", driver])


# ---- helpers ----------------------------------------------------------------------------------

def q(value):
    return urllib.parse.quote(value, safe="")


def pull(d, ref, platform=None, auth=None):
    """POST /images/create; returns (status, progress lines, error message or None)."""
    name, tag = ref, ""
    if "@" not in ref and ":" in ref.rsplit("/", 1)[-1]:
        name, tag = ref.rsplit(":", 1)
    path = f"/images/create?fromImage={q(name)}"
    if tag:
        path += f"&tag={q(tag)}"
    if platform:
        path += f"&platform={q(platform)}"
    headers = {"X-Registry-Auth": auth} if auth else None
    status, _, lines = d.stream_lines("POST", path, headers=headers)
    if status != 200:  # failed before any progress was sent: a plain JSON error
        return status, lines, lines[0]["message"]
    errors = [l for l in lines if "error" in l]
    if errors:
        assert errors[0].get("errorDetail", {}).get("message") == errors[0]["error"]
    return status, lines, (errors[0]["error"] if errors else None)


def pull_ok(d, ref, **kw):
    status, lines, error = pull(d, ref, **kw)
    assert status == 200 and error is None, (status, error, lines[-3:], d.log_tail(15))
    return lines


def inspect(d, name):
    return d.json("GET", f"/images/{q(name)}/json", expect=200)[1]


def db_rows(d, sql):
    con = sqlite3.connect(f"file:{d.data_root}/ctld.db?mode=ro", uri=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


class merged_view:
    """The image's root file system as a container would see it, read-only, from the storage
    driver's own on-disk layout: vfs keeps each layer as a full tree; overlay2 stacks diff dirs."""

    def __init__(self, d, driver, image_id):
        self.d, self.driver, self.image_id = d, driver, image_id
        self.mounted = None

    def __enter__(self):
        layers = db_rows(self.d, "SELECT l.cache_id FROM image_layers il JOIN layers l ON l.chain_id = il.chain_id "
                                 f"WHERE il.image_id = '{self.image_id}' ORDER BY il.idx")
        cache_ids = [r[0] for r in layers]
        assert cache_ids, "image has no layers in the store"
        storage = os.path.join(self.d.data_root, "storage")
        if self.driver == "vfs":
            return os.path.join(storage, "vfs", "dir", cache_ids[-1])
        diffs = [os.path.join(storage, "overlay2", c, "diff") for c in reversed(cache_ids)]
        if len(diffs) == 1:
            return diffs[0]
        self.mounted = tempfile.mkdtemp(prefix="ctl-merged-")
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o", "ro,lowerdir=" + ":".join(diffs), self.mounted],
                       check=True)
        return self.mounted

    def __exit__(self, *exc):
        if self.mounted:
            subprocess.run(["umount", self.mounted], check=True)
            os.rmdir(self.mounted)


def layer_dirs(d, driver):
    base = os.path.join(d.data_root, "storage", "overlay2" if driver == "overlay2" else "vfs/dir")
    if not os.path.isdir(base):
        return []
    return sorted(n for n in os.listdir(base) if n not in ("l",) and not n.startswith("."))


def blobs(d):
    base = os.path.join(d.data_root, "image", "blobs", "sha256")
    return sorted(os.listdir(base)) if os.path.isdir(base) else []


# ---- pull -------------------------------------------------------------------------------------

def test_pull_by_tag_then_by_digest(ctld, images):
    img = images["busybox"]
    lines = pull_ok(ctld, img["ref"])
    statuses = [l.get("status", "") for l in lines]
    assert any(s.startswith("Pulling from") for s in statuses)
    assert any(s == "Pull complete" for s in statuses)
    assert f"Digest: {img['digest']}" in statuses
    assert statuses[-1].startswith("Status: Downloaded newer image for")

    info = inspect(ctld, img["ref"])
    assert info["Id"] == img["id"]
    assert info["RepoTags"] == [img["ref"]]
    repo = img["ref"].rsplit(":", 1)[0]
    assert info["RepoDigests"] == [f"{repo}@{img['digest']}"]
    assert info["Os"] == "linux" and info["Architecture"] == "amd64"
    assert info["Config"]["Cmd"] == ["sh"]
    assert len(info["RootFS"]["Layers"]) == 1

    # The same image by digest: nothing downloaded again, same ID.
    lines = pull_ok(ctld, f"{repo}@{img['digest']}")
    assert lines[-1]["status"].startswith("Status: Image is up to date") or \
        lines[-1]["status"].startswith("Status: Downloaded newer image")
    assert not any(l.get("status") == "Pull complete" for l in lines)
    assert inspect(ctld, f"{repo}@{img['digest']}")["Id"] == img["id"]

    # The listing shows it once, with tag and digest.
    _, listed = ctld.json("GET", "/images/json", expect=200)
    assert [i["Id"] for i in listed] == [img["id"]]


def test_layers_apply_whiteouts_opaque_dirs_and_links(ctld, driver, images):
    img = images["layers"]
    pull_ok(ctld, img["ref"])
    info = inspect(ctld, img["ref"])
    assert len(info["RootFS"]["Layers"]) == 2
    with merged_view(ctld, driver, info["Id"]) as root:
        assert sorted(os.listdir(os.path.join(root, "a"))) == ["kept"]
        assert not os.path.lexists(os.path.join(root, "top-gone"))
        assert sorted(os.listdir(os.path.join(root, "opq"))) == ["new"]
        target = os.lstat(os.path.join(root, "target"))
        hard = os.lstat(os.path.join(root, "hard"))
        assert (target.st_ino, target.st_dev) == (hard.st_ino, hard.st_dev) and target.st_nlink == 2
        assert stat.S_IMODE(target.st_mode) == 0o640
        assert target.st_mtime == 1700000000
        assert os.readlink(os.path.join(root, "soft")) == "target"
        assert os.readlink(os.path.join(root, "dangling")) == "/nowhere/at/all"
        with open(os.path.join(root, "soft")) as f:
            assert f.read() == "linked content\n"
    if driver == "overlay2":
        # The driver's own form of a whiteout and an opaque dir, in the upper layer's diff.
        top = db_rows(ctld, "SELECT l.cache_id FROM image_layers il JOIN layers l ON l.chain_id = il.chain_id "
                            f"WHERE il.image_id = '{info['Id']}' ORDER BY il.idx DESC LIMIT 1")[0][0]
        diff = os.path.join(ctld.data_root, "storage", "overlay2", top, "diff")
        wh = os.lstat(os.path.join(diff, "a", "gone"))
        assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == 0
        assert os.getxattr(os.path.join(diff, "opq"), "trusted.overlay.opaque") == b"y"
        assert not os.path.lexists(os.path.join(diff, "opq", ".wh..wh..opq"))


def test_multi_arch_index_gives_amd64_unless_asked(ctld, images):
    img = images["multi"]
    pull_ok(ctld, img["ref"])
    info = inspect(ctld, img["ref"])
    assert info["Architecture"] == "amd64"
    assert info["Id"] == images["multi-amd64"]["id"]
    assert info["Config"]["Labels"] == {"arch": "amd64"}
    repo = img["ref"].rsplit(":", 1)[0]
    assert f"{repo}@{img['digest']}" in info["RepoDigests"]

    pull_ok(ctld, img["ref"], platform="linux/arm64")
    info = inspect(ctld, img["ref"])
    assert info["Architecture"] == "arm64" and info["Id"] == images["multi-arm64"]["id"]

    status, _, error = pull(ctld, img["ref"], platform="linux/s390x")
    assert error and "s390x" in error


def test_missing_tag_and_repo_give_clear_errors(ctld, registry, images):
    status, lines, error = pull(ctld, f"{registry.host}/library/busybox:no-such-tag")
    assert error and "not found" in error and "no-such-tag" in error, error
    status, body = ctld.json("POST", f"/images/create?fromImage={q(registry.host + '/nobody/here')}&tag=x")
    assert (status == 404 and "not found" in body["message"]) or status == 200
    status, body = ctld.json("POST", "/images/create?fromImage=Bad%20Name&tag=latest")
    assert status == 400 and "invalid reference format" in body["message"]
    status, body = ctld.json("GET", "/images/nothing-like-this/json")
    assert status == 404 and body["message"] == "No such image: nothing-like-this:latest"
    r = ctld.ctl("pull", f"{registry.host}/library/busybox:no-such-tag")
    assert r.returncode != 0 and "not found" in r.stderr and len(r.stderr.strip().splitlines()) == 1


# ---- push -------------------------------------------------------------------------------------

def test_push_rmi_pull_gives_the_same_digest(ctld, registry, images):
    img = images["layers"]
    pull_ok(ctld, img["ref"])
    new_ref = f"{registry.host}/pushed/copy-{repo_token(ctld)}:v2"
    new_repo, new_tag = new_ref.rsplit(":", 1)
    status, _, body = ctld.api("POST", f"/images/{q(img['ref'])}/tag?repo={q(new_repo)}&tag={new_tag}")
    assert status == 201, body

    status, _, lines = ctld.stream_lines("POST", f"/images/{q(new_repo)}/push?tag={new_tag}")
    assert status == 200 and not any("error" in l for l in lines), lines
    statuses = [l.get("status", "") for l in lines]
    assert any(s in ("Mounted from test/layers", "Layer already exists", "Pushed") for s in statuses), statuses
    aux = [l["aux"] for l in lines if "aux" in l]
    assert aux and aux[0]["Tag"] == new_tag
    pushed_digest = aux[0]["Digest"]
    assert any(s.startswith(f"{new_tag}: digest: {pushed_digest}") for s in statuses)

    # The registry holds exactly what we said.
    status, headers, manifest = registry.request("GET", f"/v2/{new_repo.split('/', 1)[1]}/manifests/{new_tag}",
                                                 headers={"Accept": ImageBuilder.DOCKER_MANIFEST + "," + ImageBuilder.OCI_MANIFEST})
    assert status == 200 and sha256(manifest) == pushed_digest

    status, body = ctld.json("DELETE", f"/images/{q(new_ref)}")
    assert status == 200 and {"Untagged": new_ref} in body
    status, body = ctld.json("DELETE", f"/images/{q(img['ref'])}")
    assert status == 200 and any("Deleted" in e for e in body), body
    assert ctld.json("GET", "/images/json", expect=200)[1] == []

    pull_ok(ctld, new_ref)
    info = inspect(ctld, new_ref)
    assert info["Id"] == img["id"]
    assert f"{new_repo}@{pushed_digest}" in info["RepoDigests"]


def test_rmi_conflicts_and_prune(ctld, images):
    img = images["busybox"]
    pull_ok(ctld, img["ref"])
    status, _, _ = ctld.api("POST", f"/images/{q(img['ref'])}/tag?repo=local/alias&tag=one")
    assert status == 201
    # An image with two names is not deleted by ID without force.
    status, body = ctld.json("DELETE", f"/images/{img['id']}")
    assert status == 409 and "must be forced" in body["message"], body
    status, body = ctld.json("DELETE", "/images/local/alias:one")
    assert status == 200 and body == [{"Untagged": "local/alias:one"}]
    # Untag the last name through ctl: the image and its layer go.
    r = ctld.ctl("rmi", img["ref"])
    assert r.returncode == 0, r.stderr
    assert "Deleted: " + img["id"] in r.stdout
    assert layer_dirs(ctld, ctld.extra_args[1]) == []
    status, body = ctld.json("POST", "/images/prune", expect=200)
    assert body["ImagesDeleted"] in (None, []) and body["SpaceReclaimed"] == 0


# ---- auth -------------------------------------------------------------------------------------

def test_login_then_pull_from_the_auth_registry(ctld, auth_registry, busybox_tar):
    b = ImageBuilder(auth_registry)
    digest, config, _ = b.push("private/busybox", "latest", [busybox_tar])
    ref = f"{auth_registry.host}/private/busybox:latest"

    status, _, error = pull(ctld, ref)
    assert error and ("no basic auth credentials" in error or "unauthorized" in error or "denied" in error), error

    status, body = ctld.json("POST", "/auth", {"username": "ctluser", "password": "wrong",
                                              "serveraddress": auth_registry.host})
    assert status == 401 and "unauthorized" in body["message"].lower(), body
    status, body = ctld.json("POST", "/auth", {"username": "ctluser", "password": "s3cret-pass",
                                              "serveraddress": auth_registry.host})
    assert status == 200 and body["Status"] == "Login Succeeded", body

    r = ctld.ctl("login", "-u", "ctluser", "--password-stdin", auth_registry.host, input="s3cret-pass\n")
    assert r.returncode == 0 and "Login Succeeded" in r.stdout, r.stderr
    with open(os.path.join(ctld.dir, ".config", "ctl", "config.json")) as f:
        assert auth_registry.host in json.load(f)["auths"]
    r = ctld.ctl("pull", ref)
    assert r.returncode == 0, r.stderr
    assert inspect(ctld, ref)["Id"] == config

    r = ctld.ctl("logout", auth_registry.host)
    assert r.returncode == 0
    with open(os.path.join(ctld.dir, ".config", "ctl", "config.json")) as f:
        assert auth_registry.host not in json.load(f).get("auths", {})
    ctld.api("DELETE", f"/images/{q(ref)}")
    r = ctld.ctl("pull", ref)
    assert r.returncode != 0


# ---- save / load / import ---------------------------------------------------------------------

def test_save_load_round_trip(ctld, images):
    img = images["layers"]
    pull_ok(ctld, img["ref"])
    out = os.path.join(ctld.dir, "saved.tar")
    r = ctld.ctl("save", "-o", out, img["ref"])
    assert r.returncode == 0, r.stderr
    with tarfile.open(out) as t:
        names = t.getnames()
        manifest = json.load(t.extractfile("manifest.json"))
    assert "repositories" in names
    assert manifest[0]["RepoTags"] == [img["ref"]]
    assert manifest[0]["Config"] in names and len(manifest[0]["Layers"]) == 2

    status, body = ctld.json("DELETE", f"/images/{q(img['ref'])}", expect=200)
    r = ctld.ctl("load", "-i", out)
    assert r.returncode == 0, r.stderr
    assert f"Loaded image: {img['ref']}" in r.stdout
    info = inspect(ctld, img["ref"])
    assert info["Id"] == img["id"] and len(info["RootFS"]["Layers"]) == 2


def test_load_a_docker_save_archive(ctld):
    """The legacy layout `docker save` writes (one dir per layer with VERSION/json/layer.tar)."""
    layer = make_tar([{"name": "hello", "data": "from docker save\n"}])
    diff_id = sha256(layer)
    config = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["cat", "/hello"]},
              "rootfs": {"type": "layers", "diff_ids": [diff_id]},
              "created": "2024-01-01T00:00:00Z", "history": [{"created": "2024-01-01T00:00:00Z"}]}
    config_bytes = json.dumps(config).encode()
    image_id = sha256(config_bytes)
    layer_dir = "a" * 64
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        add(f"{layer_dir}/VERSION", b"1.0")
        add(f"{layer_dir}/json", json.dumps({"id": layer_dir}).encode())
        add(f"{layer_dir}/layer.tar", layer)
        add(image_id.split(":")[1] + ".json", config_bytes)
        add("manifest.json", json.dumps([{"Config": image_id.split(":")[1] + ".json",
                                          "RepoTags": ["saved/by-docker:1"],
                                          "Layers": [f"{layer_dir}/layer.tar"]}]).encode())
        add("repositories", json.dumps({"saved/by-docker": {"1": layer_dir}}).encode())
    status, _, lines = ctld.stream_lines("POST", "/images/load", body=buf.getvalue(),
                                         headers={"Content-Type": "application/x-tar"})
    assert status == 200 and {"stream": "Loaded image: saved/by-docker:1\n"} in lines, lines
    assert inspect(ctld, "saved/by-docker:1")["Id"] == image_id

    # And back out: GET /images/get gives the same config and layer bytes.
    status, _, saved = ctld.api("GET", "/images/get?names=saved/by-docker:1")
    assert status == 200
    with tarfile.open(fileobj=io.BytesIO(saved)) as t:
        manifest = json.load(t.extractfile("manifest.json"))
        assert t.extractfile(manifest[0]["Config"]).read() == config_bytes
        assert t.extractfile(manifest[0]["Layers"][0]).read() == layer


def test_import_a_rootfs_tar_and_history(ctld, busybox_tar):
    path = os.path.join(ctld.dir, "rootfs.tar")
    with open(path, "wb") as f:
        f.write(busybox_tar)
    r = ctld.ctl("import", "-c", "CMD [\"sh\"]", path, "busybox:latest")
    assert r.returncode == 0, r.stderr
    image_id = r.stdout.strip()
    assert image_id.startswith("sha256:")
    info = inspect(ctld, "busybox")
    assert info["Id"] == image_id and info["Config"]["Cmd"] == ["sh"] and info["RepoTags"] == ["busybox:latest"]
    _, history = ctld.json("GET", "/images/busybox/history", expect=200)
    assert history[0]["Id"] == image_id and history[0]["Size"] > 1000000
    r = ctld.ctl("images", "-q")
    assert r.stdout.split() == [image_id.split(":")[1][:12]]
    r = ctld.ctl("images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference=busybox")
    assert r.stdout.split() == ["busybox:latest"]


# ---- hostile input ----------------------------------------------------------------------------

def test_blob_with_wrong_digest_is_refused(ctld, registry, busybox_tar):
    b = ImageBuilder(registry)
    layer = make_tar([{"name": "payload", "data": os.urandom(4096).hex()}])
    repo = f"corrupt/img-{repo_token(ctld)}"
    digest, config, _ = b.push(repo, "latest", [layer])
    # Swap the stored layer blob's bytes for a gzip of the same tar and the same length (only
    # the header's mtime differs): size and content check out, only the digest betrays it.
    status, _, raw = registry.request("GET", f"/v2/{repo}/manifests/latest",
                                      headers={"Accept": ImageBuilder.DOCKER_MANIFEST})
    layer_digest = json.loads(raw)["layers"][0]["digest"]
    hexd = layer_digest.split(":")[1]
    path = os.path.join(registry.dir, "data", "docker", "registry", "v2", "blobs", "sha256", hexd[:2], hexd, "data")
    forged = gzip.compress(layer, mtime=12345)
    assert len(forged) == os.path.getsize(path) and sha256(forged) != layer_digest
    with open(path, "wb") as f:
        f.write(forged)

    status, lines, error = pull(ctld, f"{registry.host}/{repo}:latest")
    assert error and "digest" in error.lower(), (error, lines[-3:])
    assert ctld.json("GET", "/images/json", expect=200)[1] == []
    assert db_rows(ctld, "SELECT COUNT(*) FROM layers")[0][0] == 0
    assert layer_dirs(ctld, ctld.extra_args[1]) == []
    assert hexd not in blobs(ctld)


@pytest.mark.parametrize("case", ["dotdot", "absolute-symlink", "relative-symlink", "hardlink-out"])
def test_hostile_layer_writes_nothing_outside(ctld, registry, case):
    canary = tempfile.mkdtemp(prefix="ctl-canary-")
    try:
        rel_up = "../" * 12 + canary.lstrip("/")
        entries = {
            "dotdot": [{"name": "ok", "data": "fine"}, {"name": f"{rel_up}/dotdot-pwned", "data": "pwned"}],
            "absolute-symlink": [{"name": "link", "type": "symlink", "target": canary},
                                 {"name": "link/abs-pwned", "data": "pwned"}],
            "relative-symlink": [{"name": "rlink", "type": "symlink", "target": rel_up},
                                 {"name": "rlink/rel-pwned", "data": "pwned"}],
            "hardlink-out": [{"name": "hl", "type": "hardlink", "target": rel_up + "/../../etc/hostname"}],
        }[case]
        layer = make_tar(entries)
        repo = f"hostile/{case}-{repo_token(ctld)}"
        ImageBuilder(registry).push(repo, "latest", [layer])
        status, lines, error = pull(ctld, f"{registry.host}/{repo}:latest")
        assert os.listdir(canary) == [], f"{case}: wrote outside the layer root"
        if case in ("dotdot", "hardlink-out"):
            assert error and ("escapes" in error or "invalid" in error), (error, lines[-3:])
            assert ctld.json("GET", "/images/json", expect=200)[1] == []
            assert layer_dirs(ctld, ctld.extra_args[1]) == []
        else:
            # Either refused, or the write landed inside the layer (symlink resolved in the root).
            if error is None:
                info = inspect(ctld, f"{registry.host}/{repo}:latest")
                assert info["RootFS"]["Layers"]
        assert ctld.ping()
    finally:
        for n in os.listdir(canary):
            os.unlink(os.path.join(canary, n))
        os.rmdir(canary)


# ---- interrupted pulls ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def big_image(registry):
    """Three incompressible layers of 3 MB: slow enough through the throttling proxy."""
    b = ImageBuilder(registry)
    layers = [make_tar([{"name": f"blob{i}", "data": os.urandom(3 << 20)}]) for i in range(3)]
    digest, config, _ = b.push("test/big", "latest", layers)
    return dict(repo="test/big", digest=digest, id=config)


def _wait_for(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _assert_nothing_half_made(d, driver):
    assert d.json("GET", "/images/json", expect=200)[1] == []
    assert db_rows(d, "SELECT COUNT(*) FROM layers")[0][0] == 0
    assert layer_dirs(d, driver) == []
    ingest = os.path.join(d.data_root, "image", "ingest")
    assert not os.path.isdir(ingest) or os.listdir(ingest) == []


def test_ctld_killed_mid_pull_leaves_no_half_layer(ctld, driver, registry, big_image):
    proxy = ThrottleProxy(("127.0.0.1", registry.port), rate=2 << 20)
    try:
        ref = f"{proxy.host}/{big_image['repo']}:latest"
        def pull_until_killed():
            try:
                pull(ctld, ref)
            except Exception:  # the connection dies with ctld: expected
                pass
        t = threading.Thread(target=pull_until_killed, daemon=True)
        t.start()
        assert _wait_for(lambda: proxy.bytes_down > (2 << 20)), "the pull never started downloading"
        ctld.kill(signal.SIGKILL)
        t.join(30)
        ctld.start()
        _assert_nothing_half_made(ctld, driver)
        pull_ok(ctld, ref)
        assert inspect(ctld, ref)["Id"] == big_image["id"]
    finally:
        proxy.close()


def test_client_gone_mid_pull_cancels_cleanly(ctld, driver, registry, big_image):
    proxy = ThrottleProxy(("127.0.0.1", registry.port), rate=2 << 20)
    try:
        ref = f"{proxy.host}/{big_image['repo']}:latest"
        repo, tag = ref.rsplit(":", 1)
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(ctld.socket)
        sock.sendall(f"POST /images/create?fromImage={q(repo)}&tag={tag} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 200")
        assert _wait_for(lambda: proxy.bytes_down > (2 << 20))
        sock.close()
        # The engine stops the pull and drops what it had; nothing half-made stays.
        assert _wait_for(lambda: not os.path.isdir(os.path.join(ctld.data_root, "image", "ingest"))
                         or os.listdir(os.path.join(ctld.data_root, "image", "ingest")) == [], 30)
        assert ctld.ping()
        pull_ok(ctld, ref)
        assert inspect(ctld, ref)["Id"] == big_image["id"]
        _, listed = ctld.json("GET", "/images/json", expect=200)
        assert len(listed) == 1
    finally:
        proxy.close()
