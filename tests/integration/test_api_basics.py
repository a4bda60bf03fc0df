"""The request layer against a real ctld: versions, errors, limits, streams, keep-alive."""
import concurrent.futures
import json
import os
import socket
import subprocess
import time

import pytest

from harness.ctld import UnixHTTPConnection


def common_headers_ok(headers):
    assert headers["api-version"] == "1.41"
    assert headers["server"].startswith("Docker/") and headers["server"].endswith("(linux)")
    assert headers["ostype"] == "linux"
    assert headers["docker-experimental"] == "false"


def test_ping_get_and_head(shared_daemon):
    status, headers, body = shared_daemon.api("GET", "/_ping")
    assert status == 200 and body == b"OK"
    common_headers_ok(headers)
    assert headers["builder-version"] == "1"
    assert "no-cache" in headers["cache-control"]
    status, headers, body = shared_daemon.api("HEAD", "/_ping")
    assert status == 200 and body == b""
    assert headers["api-version"] == "1.41"


@pytest.mark.parametrize("prefix", ["", "/v1.41", "/v1.24", "/v1.12"])
def test_version_under_every_prefix(shared_daemon, prefix):
    status, doc = shared_daemon.json("GET", prefix + "/version", expect=200)
    assert doc["ApiVersion"] == "1.41"
    assert doc["MinAPIVersion"] == "1.12"
    assert doc["Os"] == "linux"
    assert doc["Arch"] in ("amd64", "arm64")
    assert doc["KernelVersion"] == os.uname().release
    assert doc["Components"][0]["Name"] == "Engine"


def test_versions_out_of_range_are_refused(shared_daemon):
    status, headers, body = shared_daemon.api("GET", "/v1.50/version")
    assert status == 400
    common_headers_ok(headers)
    msg = json.loads(body)["message"]
    assert "too new" in msg and "1.41" in msg
    status, _, body = shared_daemon.api("GET", "/v1.11/version")
    assert status == 400 and "too old" in json.loads(body)["message"]


def test_info_has_real_figures(shared_daemon):
    _, info = shared_daemon.json("GET", "/v1.41/info", expect=200)
    for key in ("ID", "Containers", "ContainersRunning", "ContainersPaused", "ContainersStopped", "Images",
                "Driver", "DriverStatus", "Plugins", "MemoryLimit", "SwapLimit", "CpuCfsPeriod", "CpuCfsQuota",
                "IPv4Forwarding", "Debug", "NFd", "NGoroutines", "SystemTime", "LoggingDriver", "CgroupDriver",
                "CgroupVersion", "KernelVersion", "OperatingSystem", "OSType", "Architecture", "NCPU", "MemTotal",
                "IndexServerAddress", "RegistryConfig", "DockerRootDir", "Name", "Labels", "ServerVersion",
                "Runtimes", "DefaultRuntime", "Swarm", "LiveRestoreEnabled", "SecurityOptions", "Warnings"):
        assert key in info, key
    assert isinstance(info["Containers"], int) and isinstance(info["Images"], int)
    assert info["NCPU"] == os.cpu_count()
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    assert info["MemTotal"] == mem_kb * 1024
    assert info["DockerRootDir"] == shared_daemon.data_root
    assert info["CgroupVersion"] in ("1", "2")
    assert info["Swarm"]["LocalNodeState"] == "inactive"
    assert isinstance(info["Warnings"], list) and isinstance(info["Labels"], list)
    assert info["LoggingDriver"] == "json-file"


def test_system_df_shape(shared_daemon):
    _, df = shared_daemon.json("GET", "/system/df", expect=200)
    assert isinstance(df["LayersSize"], int)
    for key in ("Images", "Containers", "Volumes", "BuildCache"):
        assert isinstance(df[key], list)


def test_unknown_route_and_wrong_method_are_json_errors(shared_daemon):
    status, headers, body = shared_daemon.api("GET", "/v1.41/no/such/thing")
    assert status == 404
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["message"]
    common_headers_ok(headers)
    status, headers, body = shared_daemon.api("DELETE", "/v1.41/version")
    assert status in (404, 405)
    assert json.loads(body)["message"]


def test_invalid_json_body_is_400(shared_daemon):
    status, _, body = shared_daemon.api("POST", "/v1.41/auth", body="{nope",
                                        headers={"Content-Type": "application/json"})
    assert status == 400
    assert "invalid JSON" in json.loads(body)["message"]


def raw_exchange(sock_path, payload, read_timeout=5):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(read_timeout)
    s.connect(sock_path)
    try:
        s.sendall(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the daemon answered and stopped reading: the reply is still there to read
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return data


def test_garbage_bytes_get_400_and_daemon_survives(shared_daemon):
    reply = raw_exchange(shared_daemon.socket, b"\x00\xff GARBAGE\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400")
    assert b'"message"' in reply
    assert shared_daemon.api("GET", "/_ping")[0] == 200


def test_oversized_header_is_refused(shared_daemon):
    reply = raw_exchange(shared_daemon.socket,
                         b"GET /_ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 431") or reply.startswith(b"HTTP/1.1 400")
    assert shared_daemon.api("GET", "/_ping")[0] == 200


def test_100mb_body_gets_413_without_reading_it(shared_daemon):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(shared_daemon.socket)
    s.sendall(b"POST /v1.41/auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 104857600\r\n\r\n")
    sent = 0
    block = b"x" * 65536
    reply = b""
    try:
        while sent < 104857600:
            s.sendall(block)
            sent += len(block)
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b'"message"' in reply
    assert sent < 104857600, "the daemon read the whole oversized body"
    assert shared_daemon.api("GET", "/_ping")[0] == 200


def test_chunked_request_body_and_keep_alive(shared_daemon):
    conn = UnixHTTPConnection(shared_daemon.socket)
    body = json.dumps({"username": "u", "password": "p", "serveraddress": "127.0.0.1:1"}).encode()
    conn.putrequest("POST", "/v1.41/auth")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()
    conn.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    resp = conn.getresponse()
    data = resp.read()
    # The body was read and decoded: the answer is about the registry, not the request.
    assert resp.status in (401, 404, 500, 503), (resp.status, data)
    assert "message" in json.loads(data)
    # Same connection, next request.
    conn.request("GET", "/_ping")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.read() == b"OK"
    conn.request("GET", "/version")
    resp = conn.getresponse()
    assert resp.status == 200 and json.loads(resp.read())["ApiVersion"] == "1.41"
    conn.close()


def test_fifty_concurrent_connections(shared_daemon):
    def one(i):
        path = "/_ping" if i % 2 else "/v1.41/version"
        return shared_daemon.api("GET", path)[0]

    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(one, range(100)))
    assert statuses == [200] * 100


def test_events_stream_is_chunked_and_ends_at_until(shared_daemon):
    until = time.time() + 1
    start = time.time()
    status, headers, body = shared_daemon.api("GET", f"/v1.41/events?until={until:.3f}")
    assert status == 200
    assert headers.get("transfer-encoding") == "chunked"
    assert headers["content-type"] == "application/json"
    assert time.time() - start < 10


def test_events_headers_arrive_at_once_and_client_can_leave(shared_daemon):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(shared_daemon.socket)
    s.sendall(b"GET /v1.41/events HTTP/1.1\r\nHost: x\r\n\r\n")
    head = s.recv(4096)
    assert head.startswith(b"HTTP/1.1 200")
    assert b"Transfer-Encoding: chunked" in head
    s.close()
    assert shared_daemon.api("GET", "/_ping")[0] == 200


def test_events_filters_are_validated(shared_daemon):
    status, _, body = shared_daemon.api("GET", "/v1.41/events?filters=%7Bbad")
    assert status == 400 and json.loads(body)["message"]
    status, _, body = shared_daemon.api("GET", "/v1.41/events?filters=%7B%22xyz%22%3A%5B%221%22%5D%7D")
    assert status == 400 and "invalid filter" in json.loads(body)["message"]


def test_curl_against_the_socket(shared_daemon):
    out = subprocess.run(["curl", "-s", "--unix-socket", shared_daemon.socket, "http://x/v1.41/version"],
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["ApiVersion"] == "1.41"
    out = subprocess.run(["curl", "-s", "-i", "--unix-socket", shared_daemon.socket, "http://x/_ping"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.startswith("HTTP/1.1 200")
    assert "API-Version: 1.41" in out.stdout
    assert out.stdout.rstrip().endswith("OK")
