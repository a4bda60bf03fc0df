"""Local registries and locally made images for pull/push tests.

`Registry` runs Debian's docker-registry (the CNCF distribution registry) on 127.0.0.1 with
its own storage dir, optionally behind htpasswd auth. `ImageBuilder` writes OCI/Docker images
straight to a registry through the distribution API (blobs, manifests, indexes), so a test can
make exactly the layers it needs: whiteouts, opaque dirs, links, multi-arch indexes, or a
hostile layer.
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
import base64
import http.client

REGISTRY_BIN = "/usr/bin/docker-registry"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    def __init__(self, auth=None):
        self.dir = tempfile.mkdtemp(prefix="ctl-registry-")
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.auth = auth  # (user, password) or None
        config = {
            "version": 0.1,
            "log": {"level": "error"},
            "storage": {"filesystem": {"rootdirectory": os.path.join(self.dir, "data")},
                        "delete": {"enabled": True}},
            "http": {"addr": self.host},
        }
        if auth:
            htpasswd = os.path.join(self.dir, "htpasswd")
            out = subprocess.run(["htpasswd", "-Bbn", auth[0], auth[1]], check=True, capture_output=True, text=True)
            with open(htpasswd, "w") as f:
                f.write(out.stdout)
            config["auth"] = {"htpasswd": {"realm": "ctl-test", "path": htpasswd}}
        path = os.path.join(self.dir, "config.yml")
        with open(path, "w") as f:
            json.dump(config, f)  # JSON is YAML
        self.log = open(os.path.join(self.dir, "registry.log"), "w")
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", path], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                status, _, _ = self.request("GET", "/v2/")
                if status in (200, 401):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("docker-registry did not start")

    def headers(self):
        if not self.auth:
            return {}
        token = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
        return {"Authorization": "Basic " + token}

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = self.headers()
        h.update(headers or {})
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, dict(resp.getheaders()), data

    def push_blob(self, repo, data):
        digest = sha256(data)
        status, _, _ = self.request("HEAD", f"/v2/{repo}/blobs/{digest}")
        if status == 200:
            return digest
        status, headers, body = self.request("POST", f"/v2/{repo}/blobs/uploads/")
        assert status == 202, (status, body)
        location = headers.get("Location") or headers.get("location")
        if location.startswith("http"):
            location = "/" + location.split("/", 3)[3]
        sep = "&" if "?" in location else "?"
        status, _, body = self.request("PUT", f"{location}{sep}digest={digest}", body=data,
                                       headers={"Content-Type": "application/octet-stream"})
        assert status == 201, (status, body)
        return digest

    def put_manifest(self, repo, ref, manifest, media_type):
        data = json.dumps(manifest).encode()
        status, headers, body = self.request("PUT", f"/v2/{repo}/manifests/{ref}", body=data,
                                             headers={"Content-Type": media_type})
        assert status == 201, (status, body)
        return sha256(data)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- layers -------------------------------------------------------------------------------

def make_tar(entries):
    """entries: list of dicts {name, type: file|dir|symlink|hardlink|char, data, target, mode}."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            info = tarfile.TarInfo(e["name"])
            info.mtime = 1700000000
            info.mode = e.get("mode", 0o755 if e.get("type") == "dir" else 0o644)
            kind = e.get("type", "file")
            data = None
            if kind == "file":
                data = e.get("data", b"")
                if isinstance(data, str):
                    data = data.encode()
                info.size = len(data)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = e["target"]
            elif kind == "hardlink":
                info.type = tarfile.LNKTYPE
                info.linkname = e["target"]
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def busybox_rootfs_tar(repo_root):
    out = tempfile.mktemp(prefix="ctl-bb-", suffix=".tar")
    subprocess.run([os.path.join(repo_root, "scripts", "make-busybox-rootfs.sh"), out], check=True)
    with open(out, "rb") as f:
        data = f.read()
    os.unlink(out)
    return data


class ImageBuilder:
    """Pushes an image made of the given uncompressed layer tars to `registry`."""

    DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
    DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
    OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
    OCI_INDEX = "application/vnd.oci.image.index.v1+json"

    def __init__(self, registry):
        self.registry = registry

    def push(self, repo, tag, layers, arch="amd64", cmd=None, labels=None, oci=False, env=None):
        """Returns (manifest digest, config digest = image ID)."""
        layer_descs, diff_ids = [], []
        for raw in layers:
            gz = gzip.compress(raw, mtime=0)
            digest = self.registry.push_blob(repo, gz)
            diff_ids.append(sha256(raw))
            layer_descs.append({
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip" if oci
                else "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": len(gz), "digest": digest})
        config = {
            "architecture": arch, "os": "linux", "created": "2024-01-01T00:00:00Z",
            "config": {"Cmd": cmd or ["sh"], "Env": env or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                       "Labels": labels or {}},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"layer {i}"} for i in range(len(layers))],
        }
        config_bytes = json.dumps(config).encode()
        config_digest = self.registry.push_blob(repo, config_bytes)
        manifest = {
            "schemaVersion": 2,
            "mediaType": self.OCI_MANIFEST if oci else self.DOCKER_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json" if oci
                       else "application/vnd.docker.container.image.v1+json",
                       "size": len(config_bytes), "digest": config_digest},
            "layers": layer_descs,
        }
        media = manifest["mediaType"]
        digest = self.registry.put_manifest(repo, tag if tag else sha256(json.dumps(manifest).encode()), manifest, media)
        return digest, config_digest, len(json.dumps(manifest).encode())

    def push_index(self, repo, tag, per_arch):
        """per_arch: {arch: (manifest digest, size)}; pushes a Docker manifest list."""
        index = {"schemaVersion": 2, "mediaType": self.DOCKER_LIST, "manifests": [
            {"mediaType": self.DOCKER_MANIFEST, "size": size, "digest": digest,
             "platform": {"architecture": arch, "os": "linux"}}
            for arch, (digest, size) in per_arch.items()]}
        return self.registry.put_manifest(repo, tag, index, self.DOCKER_LIST)
