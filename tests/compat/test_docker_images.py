"""Image commands of the real docker CLI and of docker-py against ctld, with a local registry."""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness.registry import ImageBuilder, Registry, busybox_rootfs_tar  # noqa: E402

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOCKER = "/usr/local/bin/docker"


@pytest.fixture(scope="module")
def registry_image():
    r = Registry()
    digest, config, _ = ImageBuilder(r).push("library/busybox", "latest", [busybox_rootfs_tar(REPO_ROOT)])
    yield r, f"{r.host}/library/busybox:latest", digest, config
    r.stop()


def docker(d, tmp_path, *args):
    if not os.access(DOCKER, os.X_OK):
        pytest.skip("no docker CLI at " + DOCKER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    (tmp_path / "cfg").mkdir(exist_ok=True)
    env.update(DOCKER_HOST=d.host, DOCKER_CONFIG=str(tmp_path / "cfg"))
    out = subprocess.run([DOCKER] + list(args), capture_output=True, text=True, env=env, timeout=120)
    return out


def test_docker_cli_pull_images_inspect_tag_push_rmi_save_load(daemon, registry_image, tmp_path):
    registry, ref, digest, image_id = registry_image
    out = docker(daemon, tmp_path, "pull", ref)
    assert out.returncode == 0, out.stderr
    assert f"Digest: {digest}" in out.stdout and f"Status: Downloaded newer image for {ref}" in out.stdout

    out = docker(daemon, tmp_path, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0] == f"{ref} {image_id.split(':')[1][:12]}"

    out = docker(daemon, tmp_path, "image", "inspect", "--format", "{{.Id}} {{.Os}}/{{.Architecture}} {{json .RepoDigests}}", ref)
    assert out.returncode == 0, out.stderr
    repo = ref.rsplit(":", 1)[0]
    assert out.stdout.strip() == f'{image_id} linux/amd64 ["{repo}@{digest}"]'

    pushed = f"{registry.host}/compat/pushed:v1"
    assert docker(daemon, tmp_path, "tag", ref, pushed).returncode == 0
    out = docker(daemon, tmp_path, "push", pushed)
    assert out.returncode == 0, out.stderr
    assert "v1: digest: sha256:" in out.stdout

    saved = str(tmp_path / "saved.tar")
    out = docker(daemon, tmp_path, "save", "-o", saved, pushed)
    assert out.returncode == 0, out.stderr
    out = docker(daemon, tmp_path, "rmi", pushed, ref)
    assert out.returncode == 0, out.stderr
    assert f"Deleted: {image_id}" in out.stdout
    out = docker(daemon, tmp_path, "load", "-i", saved)
    assert out.returncode == 0, out.stderr
    assert f"Loaded image: {pushed}" in out.stdout

    out = docker(daemon, tmp_path, "pull", f"{registry.host}/library/busybox:nope")
    assert out.returncode != 0 and "not found" in out.stderr

    out = docker(daemon, tmp_path, "history", "--format", "{{.CreatedBy}}", pushed)
    assert out.returncode == 0, out.stderr


def test_docker_py_images(daemon, registry_image):
    docker_py = pytest.importorskip("docker")
    registry, ref, digest, image_id = registry_image
    client = docker_py.DockerClient(base_url=daemon.host, version="1.41")
    try:
        repo, tag = ref.rsplit(":", 1)
        image = client.images.pull(repo, tag=tag)
        assert image.id == image_id
        assert ref in image.tags
        assert [i.id for i in client.images.list()] == [image_id]
        assert client.images.get(ref).attrs["Architecture"] == "amd64"
        image.tag("compat/py", "t1")
        assert "compat/py:t1" in client.images.get(image_id).tags
        with pytest.raises(docker_py.errors.ImageNotFound):
            client.images.get("no/such:image")
        client.images.remove("compat/py:t1")
        client.images.remove(ref)
        assert client.images.list() == []
    finally:
        client.close()
