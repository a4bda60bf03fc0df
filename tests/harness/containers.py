"""Helpers for container tests: a busybox image imported from Debian's busybox-static, and thin
wrappers over the container API that return what a test asserts on."""
import atexit
import json
import os
import struct
import subprocess
import tempfile
import urllib.parse

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
_ROOTFS = None


def busybox_rootfs():
    """Path of a busybox rootfs tar (made once per test process)."""
    global _ROOTFS
    if _ROOTFS is None or not os.path.exists(_ROOTFS):
        fd, path = tempfile.mkstemp(prefix="ctl-busybox-", suffix=".tar")
        os.close(fd)
        subprocess.run([os.path.join(REPO_ROOT, "scripts", "make-busybox-rootfs.sh"), path], check=True)
        _ROOTFS = path
        atexit.register(lambda: os.path.exists(path) and os.unlink(path))
    return _ROOTFS


def import_busybox(d, tag="busybox:latest"):
    r = d.ctl("import", "-c", 'CMD ["sh"]', busybox_rootfs(), tag)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def q(value):
    return urllib.parse.quote(str(value), safe="")


def create(d, cmd=None, image="busybox", name=None, expect=201, **fields):
    body = {"Image": image}
    if cmd is not None:
        body["Cmd"] = cmd
    body.update(fields)
    path = "/containers/create" + (f"?name={q(name)}" if name else "")
    status, out = d.json("POST", path, body)
    assert status == expect, (status, out, d.log_tail(20))
    return out["Id"] if status == 201 else out


def start(d, cid, expect=204):
    status, _, body = d.api("POST", f"/containers/{cid}/start")
    assert status == expect, (status, body, d.log_tail(20))
    return body


def wait(d, cid, condition=None, timeout=60):
    path = f"/containers/{cid}/wait" + (f"?condition={condition}" if condition else "")
    status, _, body = d.api("POST", path, timeout=timeout)
    assert status == 200, (status, body)
    return json.loads(body)


def inspect(d, cid):
    status, out = d.json("GET", f"/containers/{cid}/json")
    assert status == 200, (status, out)
    return out


def demux(data):
    """Splits Docker's 8-byte framed stream into (stdout bytes, stderr bytes)."""
    out, err = b"", b""
    i = 0
    while i + 8 <= len(data):
        stream, size = data[i], struct.unpack(">I", data[i + 4:i + 8])[0]
        payload = data[i + 8:i + 8 + size]
        if stream == 2:
            err += payload
        else:
            out += payload
        i += 8 + size
    return out, err


def logs(d, cid, **params):
    params.setdefault("stdout", 1)
    params.setdefault("stderr", 1)
    query = "&".join(f"{k}={q(v)}" for k, v in params.items())
    status, _, body = d.api("GET", f"/containers/{cid}/logs?{query}")
    assert status == 200, (status, body)
    return body


def run(d, cmd, **fields):
    """create + start + wait: (exit code, stdout, stderr, id)."""
    cid = create(d, cmd, **fields)
    start(d, cid)
    code = wait(d, cid)["StatusCode"]
    out, err = demux(logs(d, cid))
    return code, out.decode(), err.decode(), cid


def remove(d, cid, force=True):
    d.api("DELETE", f"/containers/{cid}?force={1 if force else 0}")
