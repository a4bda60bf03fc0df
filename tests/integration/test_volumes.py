"""Named volumes against a real ctld: /volumes create/list/inspect/remove/prune over the raw API,
filters, Docker's JSON shapes and error texts, events, /system/df, `ctl volume ...`, and volumes
(records and data) surviving a restart and a SIGKILL of ctld, with what a crash leaves swept.

Containers using volumes (409 on remove, data through containers, copy-up, rm -v) are tested with
the container suites; mounting (tmpfs size limits, bind volumes) and reference counting are
covered by volumes/*_test.cpp through VolumeService::acquire."""
import json
import os
import re
import time
import urllib.parse

import pytest

from harness.ctld import mounts_under

HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Go's time.RFC3339 as Docker prints a volume's CreatedAt (local time, seconds).
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")


def q(doc):
    return urllib.parse.quote(json.dumps(doc))


def create(d, body, expect=201):
    status, doc = d.json("POST", "/v1.41/volumes/create", body)
    assert status == expect, (status, doc)
    return doc


def names(d, filters=None, prefix="/v1.41"):
    path = f"{prefix}/volumes" + (f"?filters={q(filters)}" if filters is not None else "")
    status, doc = d.json("GET", path, expect=200)
    assert doc["Warnings"] == []
    return sorted(v["Name"] for v in doc["Volumes"])


def error(d, method, path, body=None):
    status, _, data = d.api(method, path, body)
    doc = json.loads(data)
    return status, doc["message"]


def events(d, since):
    status, _, lines = d.stream_lines("GET", f"/v1.41/events?since={since}&until={time.time():.9f}"
                                             f"&filters={q({'type': ['volume']})}")
    assert status == 200
    return [(e["Action"], e["Actor"]["ID"], e["Actor"]["Attributes"].get("driver")) for e in lines]


# --- the raw API -------------------------------------------------------------------------------------

def test_create_inspect_list_remove(daemon):
    d = daemon
    assert names(d) == []
    status, doc = d.json("GET", "/v1.41/volumes", expect=200)
    assert doc == {"Volumes": [], "Warnings": []}

    v = create(d, {"Name": "data", "Labels": {"com.example.app": "web", "empty": ""}})
    assert v["Name"] == "data"
    assert v["Driver"] == "local"
    assert v["Scope"] == "local"
    assert v["Mountpoint"] == os.path.join(d.data_root, "volumes", "data", "_data")
    assert v["Labels"] == {"com.example.app": "web", "empty": ""}
    assert v["Options"] == {}
    assert RFC3339.match(v["CreatedAt"]), v["CreatedAt"]
    assert "Status" not in v or v["Status"] in ({}, None)
    assert os.path.isdir(v["Mountpoint"])
    assert oct(os.stat(v["Mountpoint"]).st_mode & 0o7777) == oct(0o755)

    # Same name again: 201 with the existing volume, unchanged (Docker is idempotent here).
    again = create(d, {"Name": "data", "Labels": {"other": "x"}})
    assert again == v

    status, inspected = d.json("GET", "/volumes/data", expect=200)
    assert inspected == v
    status, listed = d.json("GET", "/volumes", expect=200)
    assert listed["Volumes"] == [v]  # list entries are complete (Ansible finds volumes from the list)

    status, _, body = d.api("DELETE", "/v1.41/volumes/data")
    assert status == 204 and body == b""
    assert not os.path.exists(os.path.dirname(v["Mountpoint"]))
    assert error(d, "GET", "/v1.41/volumes/data") == (404, "get data: no such volume")
    assert error(d, "DELETE", "/v1.41/volumes/data") == (404, "get data: no such volume")
    status, _, _ = d.api("DELETE", "/v1.41/volumes/data?force=1")
    assert status == 204  # force: a missing volume is not an error
    assert names(d) == []


def test_create_body_decoding_and_defaults(daemon):
    d = daemon
    # Ansible/compose style: explicit nulls, lower-case keys, unknown keys.
    v = create(d, {"Name": "nulls", "Driver": None, "DriverOpts": None, "Labels": None})
    assert v["Driver"] == "local" and v["Labels"] == {} and v["Options"] == {}
    v = create(d, {"name": "lower", "driver": "local", "labels": {"a": "1"}, "ClusterVolumeSpec": {"Group": "x"}})
    assert v["Name"] == "lower" and v["Labels"] == {"a": "1"}
    # No body / empty name: a random 64-hex name.
    status, _, data = d.api("POST", "/v1.41/volumes/create")
    assert status == 201, data
    assert HEX64.match(json.loads(data)["Name"])
    anon = create(d, {"Name": ""})
    assert HEX64.match(anon["Name"])
    assert len(names(d)) == 4


def test_options_echoed_and_validated(daemon):
    d = daemon
    opts = {"type": "tmpfs", "device": "tmpfs", "o": "size=10m,uid=1000"}
    v = create(d, {"Name": "ram", "DriverOpts": opts})
    assert v["Options"] == opts
    # Not mounted until a container uses it: nothing mounted under the data root yet.
    assert mounts_under(os.path.join(d.data_root, "volumes")) == []
    bind = create(d, {"Name": "hostdir", "DriverOpts": {"type": "none", "o": "bind", "device": "/srv/nowhere"}})
    assert bind["Options"]["o"] == "bind"

    cases = [
        ({"Name": "bad1", "DriverOpts": {"foo": "bar"}}, 'invalid option: "foo"'),
        ({"Name": "bad2", "DriverOpts": {"type": "tmpfs"}}, 'missing required option: "device"'),
        ({"Name": "bad3", "DriverOpts": {"o": "size=1m"}}, "missing required option"),
        ({"Name": "bad4", "DriverOpts": {"size": "10m"}}, "quota size requested but no quota support"),
        ({"Name": "bad5", "DriverOpts": {"type": "none", "o": "bind", "device": "rel/dir"}}, "absolute host path"),
        ({"Name": "bad6", "DriverOpts": {"type": 5}}, ""),
    ]
    for body, text in cases:
        status, msg = error(d, "POST", "/v1.41/volumes/create", body)
        assert status == 400, (body, status, msg)
        assert text in msg, (body, msg)
    assert names(d) == ["hostdir", "ram"]


@pytest.mark.parametrize("name,text", [
    ("a", "volume name is too short, names should be at least two alphanumeric characters"),
    ("a/b", '"a/b" includes invalid characters for a local volume name'),
    ("../x", "includes invalid characters"),
    (".hidden", "includes invalid characters"),
    ("-dash", "includes invalid characters"),
    ("sp ace", "includes invalid characters"),
    ("/abs/path", "If you intended to pass a host directory, use absolute path"),
])
def test_invalid_names(shared_daemon, name, text):
    status, msg = error(shared_daemon, "POST", "/v1.41/volumes/create", {"Name": name})
    assert status == 400, msg
    assert msg.startswith(f"create {name}: "), msg
    assert text in msg, msg
    assert not os.path.exists(os.path.join(shared_daemon.data_root, "volumes", "x"))


def test_unknown_driver_is_404(shared_daemon):
    status, msg = error(shared_daemon, "POST", "/v1.41/volumes/create", {"Name": "nfsvol", "Driver": "nfs-plugin"})
    assert status == 404
    assert 'plugin "nfs-plugin" not found' in msg
    assert names(shared_daemon) == []


def test_list_filters(daemon):
    d = daemon
    create(d, {"Name": "web-data", "Labels": {"app": "web", "tier": "front"}})
    create(d, {"Name": "db-data", "Labels": {"app": "db"}})
    create(d, {"Name": "scratch", "DriverOpts": {"type": "tmpfs", "device": "tmpfs"}})
    assert names(d) == ["db-data", "scratch", "web-data"]
    assert names(d, {}) == ["db-data", "scratch", "web-data"]
    assert names(d, {"name": ["data"]}) == ["db-data", "web-data"]        # substring / regexp
    assert names(d, {"name": ["^web"]}) == ["web-data"]
    assert names(d, {"name": ["scratch", "^db"]}) == ["db-data", "scratch"]
    assert names(d, {"label": ["app"]}) == ["db-data", "web-data"]
    assert names(d, {"label": ["app=web"]}) == ["web-data"]
    assert names(d, {"label": ["app", "tier=front"]}) == ["web-data"]  # labels are ANDed
    assert names(d, {"label": ["app=web", "app=db"]}) == []
    assert names(d, {"label": {"app=db": True}}) == ["db-data"]         # legacy map form
    assert names(d, {"dangling": ["true"]}) == ["db-data", "scratch", "web-data"]  # no containers yet
    assert names(d, {"dangling": ["1"]}) == ["db-data", "scratch", "web-data"]
    assert names(d, {"dangling": ["false"]}) == []
    assert names(d, {"driver": ["local"]}) == ["db-data", "scratch", "web-data"]
    assert names(d, {"driver": ["other"]}) == []
    assert names(d, {"name": ["data"], "label": ["tier"]}) == ["web-data"]
    assert names(d, {"name": ["data"]}, prefix="") == ["db-data", "web-data"]   # unversioned
    assert names(d, {"name": ["data"]}, prefix="/v1.24") == ["db-data", "web-data"]

    status, msg = error(d, "GET", f"/v1.41/volumes?filters={q({'dangling': ['maybe']})}")
    assert (status, msg) == (400, "invalid filter 'dangling=maybe'")
    status, msg = error(d, "GET", f"/v1.41/volumes?filters={q({'colour': ['red']})}")
    assert (status, msg) == (400, "invalid filter 'colour'")
    status, msg = error(d, "GET", "/v1.41/volumes?filters=%7Bnope")
    assert status == 400


def test_prune(daemon):
    d = daemon
    create(d, {"Name": "keep-me", "Labels": {"keep": "yes"}})
    junk = create(d, {"Name": "junk1", "Labels": {"kind": "junk"}})
    create(d, {"Name": "junk2"})
    with open(os.path.join(junk["Mountpoint"], "blob"), "wb") as f:
        f.write(os.urandom(200_000))

    status, doc = d.json("POST", f"/v1.41/volumes/prune?filters={q({'label': ['kind=junk']})}", expect=200)
    assert doc["VolumesDeleted"] == ["junk1"]
    assert doc["SpaceReclaimed"] >= 200_000
    status, doc = d.json("POST", f"/v1.41/volumes/prune?filters={q({'label!': ['keep']})}", expect=200)
    assert doc == {"VolumesDeleted": ["junk2"], "SpaceReclaimed": 0}
    assert names(d) == ["keep-me"]
    status, msg = error(d, "POST", f"/v1.41/volumes/prune?filters={q({'until': ['10m']})}")
    assert (status, msg) == (400, "invalid filter 'until'")
    # API 1.41: named volumes are pruned too (anonymous-only pruning is 1.42's).
    status, doc = d.json("POST", "/v1.41/volumes/prune", expect=200)
    assert doc["VolumesDeleted"] == ["keep-me"]
    status, doc = d.json("POST", "/volumes/prune", expect=200)
    assert doc == {"VolumesDeleted": [], "SpaceReclaimed": 0}
    assert os.listdir(os.path.join(d.data_root, "volumes")) == []


def test_events(daemon):
    d = daemon
    since = int(time.time()) - 1
    create(d, {"Name": "evvol"})
    create(d, {"Name": "evvol"})  # already there: no second create event
    assert d.api("DELETE", "/volumes/evvol")[0] == 204
    assert events(d, since) == [("create", "evvol", "local"), ("destroy", "evvol", "local")]
    status, _, lines = d.stream_lines("GET", f"/v1.41/events?since={since}&until={time.time():.9f}"
                                             f"&filters={q({'volume': ['evvol'], 'event': ['destroy']})}")
    assert [(e["Type"], e["Action"]) for e in lines] == [("volume", "destroy")]


def test_system_df_lists_volumes(daemon):
    d = daemon
    v = create(d, {"Name": "sized"})
    create(d, {"Name": "ram", "DriverOpts": {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}})
    with open(os.path.join(v["Mountpoint"], "f"), "wb") as f:
        f.write(b"x" * 100_000)
    status, df = d.json("GET", "/v1.41/system/df", expect=200)
    by_name = {x["Name"]: x for x in df["Volumes"]}
    assert set(by_name) == {"sized", "ram"}
    assert by_name["sized"]["UsageData"]["RefCount"] == 0
    assert by_name["sized"]["UsageData"]["Size"] >= 100_000
    assert by_name["sized"]["Mountpoint"] == v["Mountpoint"]
    assert by_name["ram"]["UsageData"] == {"Size": -1, "RefCount": 0}  # mount-backed: not walked

    out = d.ctl("system", "df")
    assert out.returncode == 0, out.stderr
    assert re.search(r"^Local Volumes\s+2\s+0\s", out.stdout, re.M), out.stdout
    out = d.ctl("system", "df", "-v")
    assert out.returncode == 0, out.stderr
    section = out.stdout.split("Local Volumes space usage:")[1]
    assert re.search(r"^sized\s+0\s+\d", section, re.M), section
    assert re.search(r"^ram\s+0\s+N/A", section, re.M), section


# --- restarts and crashes ---------------------------------------------------------------------------

def _populate(d):
    a = create(d, {"Name": "persist", "Labels": {"k": "v"}})
    b = create(d, {"Name": "ram", "DriverOpts": {"type": "tmpfs", "device": "tmpfs", "o": "size=2m"}})
    with open(os.path.join(a["Mountpoint"], "data.txt"), "w") as f:
        f.write("survives\n")
    os.mkdir(os.path.join(a["Mountpoint"], "sub"))
    os.chmod(os.path.join(a["Mountpoint"], "sub"), 0o700)
    return a, b


def _check_populated(d, a, b):
    status, doc = d.json("GET", "/volumes/persist", expect=200)
    assert doc == a
    status, doc = d.json("GET", "/volumes/ram", expect=200)
    assert doc == b
    with open(os.path.join(a["Mountpoint"], "data.txt")) as f:
        assert f.read() == "survives\n"
    assert oct(os.stat(os.path.join(a["Mountpoint"], "sub")).st_mode & 0o777) == oct(0o700)
    assert names(d) == ["persist", "ram"]


def test_volumes_survive_restart(daemon):
    a, b = _populate(daemon)
    daemon.restart()
    _check_populated(daemon, a, b)


def test_volumes_survive_sigkill_and_leftovers_are_swept(daemon):
    d = daemon
    a, b = _populate(d)
    d.kill()
    # What a crash mid-create or mid-remove leaves: a staging dir, a half-deleted dir, and a volume
    # directory whose record never committed.
    root = os.path.join(d.data_root, "volumes")
    for leftover in (".tmp-0123456789abcdef/_data", ".rm-0123456789abcdef/_data/x", "ghost/_data"):
        os.makedirs(os.path.join(root, leftover))
    d.start()
    _check_populated(d, a, b)
    assert sorted(os.listdir(root)) == ["persist", "ram"]
    assert error(d, "GET", "/volumes/ghost")[0] == 404
    # Still fully usable after the crash.
    create(d, {"Name": "after"})
    assert d.api("DELETE", "/volumes/persist")[0] == 204
    assert names(d) == ["after", "ram"]


def test_sigkill_mid_traffic_keeps_store_and_disk_consistent(daemon):
    """Kill ctld while clients create and remove volumes: afterwards every recorded volume has its
    directory and every directory is a recorded volume."""
    import threading

    d = daemon
    stop = threading.Event()

    def churn(prefix):
        i = 0
        while not stop.is_set():
            try:
                name = f"{prefix}{i}"
                d.api("POST", "/v1.41/volumes/create", {"Name": name}, timeout=5)
                if i % 2:
                    d.api("DELETE", f"/v1.41/volumes/{name}", timeout=5)
            except OSError:
                pass
            except Exception:  # noqa: BLE001 - the daemon dies under us; connection errors of any kind
                pass
            i += 1

    threads = [threading.Thread(target=churn, args=(p,)) for p in ("aa", "bb")]
    for t in threads:
        t.start()
    time.sleep(1.0)
    d.kill()
    stop.set()
    for t in threads:
        t.join(30)
    d.start()
    recorded = set(names(d))
    root = os.path.join(d.data_root, "volumes")
    on_disk = set(os.listdir(root))
    assert recorded == on_disk, (recorded ^ on_disk)
    for n in recorded:
        assert os.path.isdir(os.path.join(root, n, "_data"))


# --- ctl volume ----------------------------------------------------------------------------------

def test_ctl_volume_commands(daemon):
    d = daemon
    out = d.ctl("volume", "create", "--label", "app=web", "--label", "flag", "cv1")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "cv1\n"
    out = d.ctl("volume", "create", "-d", "local", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", "cv2")
    assert out.returncode == 0, out.stderr
    out = d.ctl("volume", "create")
    assert out.returncode == 0, out.stderr
    anon = out.stdout.strip()
    assert HEX64.match(anon)

    out = d.ctl("volume", "ls")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert re.match(r"^DRIVER\s+VOLUME NAME$", lines[0]), lines
    # Sorted by name, like docker's: the random anonymous name may sort anywhere.
    assert [l.split() for l in lines[1:]] == sorted([["local", anon], ["local", "cv1"], ["local", "cv2"]],
                                                    key=lambda row: row[1])
    out = d.ctl("volume", "ls", "-q", "--filter", "label=app=web")
    assert out.stdout == "cv1\n", out
    out = d.ctl("volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Labels}} {{.Scope}}", "-f", "name=cv")
    assert out.stdout == "cv1 local app=web,flag= local\ncv2 local  local\n", out
    out = d.ctl("volume", "ls", "--format", "json", "-f", "name=cv1")
    row = json.loads(out.stdout)
    assert row["Name"] == "cv1" and row["Mountpoint"].endswith("/volumes/cv1/_data")
    out = d.ctl("volume", "ls", "-f", "dangling=maybe")
    assert out.returncode == 125
    assert "invalid filter 'dangling=maybe'" in out.stderr

    out = d.ctl("volume", "inspect", "cv1", "cv2")
    assert out.returncode == 0, out.stderr
    docs = json.loads(out.stdout)
    assert [x["Name"] for x in docs] == ["cv1", "cv2"]
    assert docs[0]["Labels"] == {"app": "web", "flag": ""}
    assert docs[1]["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}
    out = d.ctl("volume", "inspect", "--format", "{{.Name}}={{.Options.type}}", "cv2")
    assert out.stdout == "cv2=tmpfs\n", out
    out = d.ctl("volume", "inspect", "cv1", "nope")
    assert out.returncode == 125
    assert "get nope: no such volume" in out.stderr
    assert [x["Name"] for x in json.loads(out.stdout)] == ["cv1"]
    out = d.ctl("inspect", "--format", "{{.Mountpoint}}", "cv1")  # generic inspect finds volumes
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("/volumes/cv1/_data")

    out = d.ctl("volume", "create", "-o", "bogus=1", "cv3")
    assert out.returncode == 125
    assert 'invalid option: "bogus"' in out.stderr

    out = d.ctl("volume", "rm", "cv1", "nope", "cv2")
    assert out.returncode == 125
    assert out.stdout == "cv1\ncv2\n"
    assert "Error response from daemon: get nope: no such volume" in out.stderr
    out = d.ctl("volume", "rm", "-f", "nope")
    assert out.returncode == 0, out.stderr

    out = d.ctl("volume", "prune", input="n\n")
    assert out.returncode == 0
    assert "Are you sure you want to continue? [y/N]" in out.stdout
    assert names(d) == [anon]
    out = d.ctl("volume", "prune", "-f")
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"Deleted Volumes:\n{anon}\n\nTotal reclaimed space: 0B\n"
    out = d.ctl("volume", "prune", "-f")
    assert out.stdout == "Total reclaimed space: 0B\n"
