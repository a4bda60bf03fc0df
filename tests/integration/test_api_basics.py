"""The request layer against a real ctld: /_ping, /version, /info, /system/df, /events, API version
prefixes, the JSON error shape, hostile or oversized input, keep-alive and concurrency.

Everything here leaves the engine's state alone, so the module shares one daemon."""
import concurrent.futures
import json
import os
import platform
import re
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest

from harness.ctld import UnixHTTPConnection
from harness.rawhttp import RawConnection, chunked, exchange

SERVER_HEADER = re.compile(r"^Docker/\S+ \(linux\)$")
UNKNOWN = "/v1.41/ctl-test/no/such/route"


def check_common_headers(headers, where=""):
    """Headers moby puts on every response (lower-case keys)."""
    assert SERVER_HEADER.match(headers.get("server", "")), f"{where}: Server header {headers.get('server')!r}"
    assert headers.get("api-version") == "1.41", f"{where}: API-Version {headers.get('api-version')!r}"
    assert headers.get("ostype") == "linux", where
    assert headers.get("docker-experimental") == "false", where


def check_json_error(status, headers, body, where=""):
    """Every error is {"message": "<text>"} with Content-Type application/json."""
    assert headers.get("content-type", "").split(";")[0] == "application/json", \
        f"{where}: Content-Type {headers.get('content-type')!r}"
    doc = json.loads(body)
    assert isinstance(doc, dict) and isinstance(doc.get("message"), str) and doc["message"], f"{where}: {body!r}"
    check_common_headers(headers, where)
    return doc["message"]


def filters(doc):
    return urllib.parse.quote(json.dumps(doc) if not isinstance(doc, str) else doc)


@pytest.fixture(scope="module")
def unknown_route_message(shared_daemon):
    status, _, body = shared_daemon.api("GET", UNKNOWN)
    assert status == 404
    return json.loads(body)["message"]


def route_exists(daemon, method, path, unknown_message):
    """True once the daemon serves method+path (the router's own 404 means it does not yet)."""
    status, _, body = daemon.api(method, path, body=b"{}", headers={"Content-Type": "application/json"})
    if status == 405:
        return False
    if status != 404:
        return True
    try:
        return json.loads(body).get("message") != unknown_message
    except ValueError:
        return True


@pytest.fixture(scope="module")
def body_endpoint(shared_daemon, unknown_route_message):
    """(method, path) of an endpoint taking a small buffered body: POST /auth once it exists,
    else GET /version (every route has the default body limit and reads a body it is sent)."""
    if route_exists(shared_daemon, "POST", "/v1.41/auth", unknown_route_message):
        return "POST", "/v1.41/auth"
    return "GET", "/v1.41/version"


# --- /_ping ---------------------------------------------------------------------------------------

def test_ping_get(shared_daemon):
    status, headers, body = shared_daemon.api("GET", "/_ping")
    assert status == 200 and body == b"OK"
    check_common_headers(headers)
    assert headers["builder-version"] == "1"
    assert headers["content-type"].startswith("text/plain")
    assert headers["cache-control"] == "no-cache, no-store, must-revalidate"
    assert headers["pragma"] == "no-cache"


def test_ping_head(shared_daemon):
    with RawConnection(shared_daemon.socket) as c:
        c.request("HEAD", "/_ping")
        resp = c.read_response("HEAD")
        assert resp.status == 200
        check_common_headers(resp.headers)
        assert resp.header("builder-version") == "1"
        assert "no-cache" in resp.header("cache-control")
        # No body after a HEAD: the next response on this connection starts right away.
        c.request("GET", "/_ping")
        resp = c.read_response()
        assert resp.status == 200 and resp.body == b"OK", resp


def test_ping_versioned(shared_daemon):
    status, headers, body = shared_daemon.api("GET", "/v1.41/_ping")
    assert status == 200 and body == b"OK"
    assert headers["api-version"] == "1.41"


# --- /version and API version prefixes --------------------------------------------------------------

@pytest.fixture(scope="module")
def version_doc(shared_daemon):
    return shared_daemon.json("GET", "/version", expect=200)[1]


def arch():
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def test_version_document(version_doc):
    v = version_doc
    assert v["ApiVersion"] == "1.41"
    assert re.fullmatch(r"1\.\d+", v["MinAPIVersion"])
    assert int(v["MinAPIVersion"].split(".")[1]) <= 24, "docker 20.10 clients need down to 1.24"
    assert isinstance(v["Version"], str) and v["Version"]
    for key in ("GitCommit", "GoVersion", "BuildTime"):
        assert isinstance(v[key], str), key
    assert v["Os"] == "linux"
    assert v["Arch"] == arch()
    assert v["KernelVersion"] == os.uname().release
    assert isinstance(v["Experimental"], bool)
    assert isinstance(v["Platform"]["Name"], str)
    engine = [c for c in v["Components"] if c["Name"] == "Engine"]
    assert len(engine) == 1
    assert engine[0]["Version"] == v["Version"]
    assert engine[0]["Details"]["ApiVersion"] == "1.41"
    assert engine[0]["Details"]["MinAPIVersion"] == v["MinAPIVersion"]


@pytest.mark.parametrize("prefix", ["/v1.41", "/v1.40", "/v1.24", "min"])
def test_version_under_accepted_prefixes(shared_daemon, version_doc, prefix):
    if prefix == "min":
        prefix = "/v" + version_doc["MinAPIVersion"]
    status, headers, body = shared_daemon.api("GET", prefix + "/version")
    assert status == 200, body
    check_common_headers(headers)
    doc = json.loads(body)
    assert doc["ApiVersion"] == "1.41"  # the server's version, whatever the client asked for
    assert doc["Version"] == version_doc["Version"]


@pytest.mark.parametrize("version", ["1.42", "1.50", "2.0"])
def test_versions_above_1_41_are_refused(shared_daemon, version):
    status, headers, body = shared_daemon.api("GET", f"/v{version}/version")
    assert status == 400, body
    msg = check_json_error(status, headers, body, version)
    assert "too new" in msg and "1.41" in msg


def test_versions_below_minimum_are_refused(shared_daemon, version_doc):
    major, minor = version_doc["MinAPIVersion"].split(".")
    below = f"{major}.{int(minor) - 1}"
    status, headers, body = shared_daemon.api("GET", f"/v{below}/version")
    assert status == 400, body
    msg = check_json_error(status, headers, body, below)
    assert version_doc["MinAPIVersion"] in msg


def test_malformed_version_prefix_is_a_json_error(shared_daemon):
    status, headers, body = shared_daemon.api("GET", "/v1.x/version")
    assert status in (400, 404), body
    check_json_error(status, headers, body)


# --- /info and /system/df -------------------------------------------------------------------------

def host_cgroup_version():
    return "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1"


def test_info_fields_and_figures(shared_daemon, version_doc):
    status, headers, body = shared_daemon.api("GET", "/v1.41/info")
    assert status == 200
    check_common_headers(headers)
    assert headers["content-type"].startswith("application/json")
    info = json.loads(body)
    types = {
        "ID": str, "Containers": int, "ContainersRunning": int, "ContainersPaused": int,
        "ContainersStopped": int, "Images": int, "Driver": str, "DriverStatus": list, "Plugins": dict,
        "MemoryLimit": bool, "SwapLimit": bool, "CpuCfsPeriod": bool, "CpuCfsQuota": bool,
        "IPv4Forwarding": bool, "Debug": bool, "NFd": int, "NGoroutines": int, "SystemTime": str,
        "LoggingDriver": str, "CgroupDriver": str, "CgroupVersion": str, "KernelVersion": str,
        "OperatingSystem": str, "OSType": str, "Architecture": str, "NCPU": int, "MemTotal": int,
        "IndexServerAddress": str, "RegistryConfig": dict, "DockerRootDir": str, "HttpProxy": str,
        "HttpsProxy": str, "NoProxy": str, "Name": str, "Labels": list, "ExperimentalBuild": bool,
        "ServerVersion": str, "Runtimes": dict, "DefaultRuntime": str, "Swarm": dict,
        "LiveRestoreEnabled": bool, "Isolation": str, "InitBinary": str, "ContainerdCommit": dict,
        "RuncCommit": dict, "InitCommit": dict, "SecurityOptions": list, "Warnings": list,
    }
    wrong = {k: type(info.get(k)).__name__ for k, t in types.items()
             if not isinstance(info.get(k), t) or (t is int and isinstance(info.get(k), bool))}
    assert not wrong, f"missing or mistyped /info fields: {wrong}"

    with open("/proc/meminfo") as f:
        mem = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemTotal:"))
    swarm = info["Swarm"]
    checks = {
        "ID set": bool(info["ID"]),
        "Containers = running + paused + stopped":
            info["Containers"] == info["ContainersRunning"] + info["ContainersPaused"] + info["ContainersStopped"],
        "no containers or images in a fresh data root": info["Containers"] == 0 and info["Images"] == 0,
        "Driver set": bool(info["Driver"]),
        "DriverStatus is a list of pairs": all(isinstance(p, list) and len(p) == 2 for p in info["DriverStatus"]),
        "Plugins lists": all(isinstance(info["Plugins"].get(k), list) for k in ("Volume", "Network", "Log")),
        "Debug (ctld runs with --log-level debug)": info["Debug"] is True,
        "SystemTime is RFC 3339": bool(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", info["SystemTime"])),
        "LoggingDriver json-file": info["LoggingDriver"] == "json-file",
        "CgroupDriver": info["CgroupDriver"] in ("cgroupfs", "systemd"),
        f"CgroupVersion is the host's ({host_cgroup_version()})": info["CgroupVersion"] == host_cgroup_version(),
        "KernelVersion is uname -r": info["KernelVersion"] == os.uname().release,
        "OSType linux": info["OSType"] == "linux",
        "Architecture is uname -m": info["Architecture"] == platform.machine(),
        f"NCPU is {os.cpu_count()}": info["NCPU"] == os.cpu_count(),
        f"MemTotal close to /proc/meminfo's {mem}": abs(info["MemTotal"] - mem) <= mem // 100,
        "IndexServerAddress": info["IndexServerAddress"] == "https://index.docker.io/v1/",
        "RegistryConfig.IndexConfigs object": isinstance(info["RegistryConfig"].get("IndexConfigs"), dict),
        "RegistryConfig.InsecureRegistryCIDRs list":
            isinstance(info["RegistryConfig"].get("InsecureRegistryCIDRs"), list),
        "DockerRootDir is the data root": info["DockerRootDir"] == shared_daemon.data_root,
        "Name is the host name": info["Name"] == socket.gethostname(),
        "ServerVersion is /version's Version": info["ServerVersion"] == version_doc["Version"],
        "DefaultRuntime is one of Runtimes": info["DefaultRuntime"] in info["Runtimes"],
        "every runtime has a path": all(isinstance(r.get("path"), str) for r in info["Runtimes"].values()),
        "Swarm inactive": swarm.get("LocalNodeState") == "inactive" and swarm.get("ControlAvailable") is False,
        "Swarm ids empty": swarm.get("NodeID") == "" and swarm.get("NodeAddr") == "" and swarm.get("Error") == "",
        "commit objects": all("ID" in info[c] and "Expected" in info[c]
                              for c in ("ContainerdCommit", "RuncCommit", "InitCommit")),
    }
    failed = [name for name, ok in checks.items() if not ok]
    shown = {k: info[k] for k in ("Driver", "CgroupVersion", "NCPU", "MemTotal", "DockerRootDir", "Name",
                                  "Runtimes", "DefaultRuntime", "Debug", "Architecture")}
    assert not failed, f"/info: {failed}; {shown}"


def test_info_is_the_same_under_every_prefix(shared_daemon):
    a = shared_daemon.json("GET", "/info", expect=200)[1]
    b = shared_daemon.json("GET", "/v1.24/info", expect=200)[1]
    for key in ("ID", "Driver", "DockerRootDir", "NCPU", "MemTotal"):
        assert a[key] == b[key], key


def test_system_df_shape(shared_daemon):
    status, headers, body = shared_daemon.api("GET", "/v1.41/system/df")
    assert status == 200
    check_common_headers(headers)
    df = json.loads(body)
    assert isinstance(df["LayersSize"], int) and not isinstance(df["LayersSize"], bool)
    for key in ("Images", "Containers", "Volumes", "BuildCache"):
        assert isinstance(df[key], list), key
    # A fresh data root holds nothing.
    assert df["LayersSize"] == 0
    assert df["Images"] == [] and df["Containers"] == [] and df["Volumes"] == []


# --- the JSON error shape -------------------------------------------------------------------------

@pytest.mark.parametrize("path", [UNKNOWN, "/ctl-test-unknown", "/v1.24/containers/nope/frobnicate"])
def test_unknown_routes_are_404_json(shared_daemon, path):
    status, headers, body = shared_daemon.api("GET", path)
    assert status == 404, body
    check_json_error(status, headers, body, path)


def test_head_of_unknown_route_is_404_without_body(shared_daemon):
    with RawConnection(shared_daemon.socket) as c:
        c.request("HEAD", UNKNOWN)
        resp = c.read_response("HEAD")
        assert resp.status == 404
        check_common_headers(resp.headers)


@pytest.mark.parametrize("path", ["/_ping", "/v1.41/version", "/v1.41/info", "/v1.41/events?until=1", UNKNOWN,
                                  "/v1.50/version"])
def test_head_responses_have_no_body(shared_daemon, path):
    """Whatever a HEAD gets (200, 404, 405...), no body bytes follow the headers."""
    with RawConnection(shared_daemon.socket, timeout=5) as c:
        c.request("HEAD", path)
        resp = c.read_response("HEAD")
        check_common_headers(resp.headers, path)
        if resp.closes():
            rest = c.read_until_close()
            assert rest == b"", f"HEAD {path}: body bytes after the headers: {rest[:100]!r}"
        else:
            c.request("GET", "/_ping")
            nxt = c.read_response()
            assert nxt.status == 200 and nxt.body == b"OK", f"HEAD {path} left bytes on the connection: {nxt!r}"


@pytest.mark.parametrize("method,path", [("DELETE", "/v1.41/version"), ("POST", "/v1.41/info"),
                                         ("PUT", "/_ping"), ("POST", "/system/df")])
def test_wrong_method_is_a_json_error(shared_daemon, method, path):
    status, headers, body = shared_daemon.api(method, path)
    assert status in (404, 405), body
    check_json_error(status, headers, body, f"{method} {path}")


@pytest.mark.parametrize("method,path", [("POST", "/v1.41/auth"), ("POST", "/v1.41/containers/create?name=ctl-test-x"),
                                         ("POST", "/v1.41/networks/create"), ("POST", "/v1.41/volumes/create")])
def test_invalid_json_body(shared_daemon, unknown_route_message, method, path):
    """Malformed JSON is a 400 with a JSON message on every JSON endpoint the daemon serves; an
    endpoint that does not exist yet must still answer with the JSON 404."""
    status, headers, body = shared_daemon.api(method, path, body="{nope",
                                              headers={"Content-Type": "application/json"})
    msg = check_json_error(status, headers, body, path)
    if status == 404 and msg == unknown_route_message:
        return  # not served yet: the router's own JSON 404
    assert status == 400, (status, body)
    assert "json" in msg.lower(), msg


# --- hostile and oversized input ------------------------------------------------------------------

GARBAGE = {
    "binary": b"\x00\xff GARBAGE\r\n\r\n",
    "random": bytes((i * 7919 + 13) % 256 for i in range(4096)) + b"\r\n\r\n",
    "no-version": b"GET /_ping\r\n\r\n",
    "bad-version": b"GET /_ping HTTP/9.9\r\nHost: x\r\n\r\n",
    "space-in-header-name": b"GET /_ping HTTP/1.1\r\nBad Header: x\r\n\r\n",
    "negative-length": b"POST /_ping HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    "two-lengths": b"POST /_ping HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    # RFC 9112 6.3: a request whose Transfer-Encoding does not end in chunked must get 400 and
    # a close, or its body would be read as the next request.
    "te-not-chunked": b"GET /v1.41/version HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nGET /_ping",
    "cl-and-te": b"GET /v1.41/version HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "huge-chunk": b"GET /v1.41/version HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"ffffffffffffffffffff\r\nab",
    "bad-chunk": b"POST /v1.41/version HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n",
}


@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_garbage_gets_a_clean_error_and_the_daemon_stays_up(shared_daemon, name):
    reply = exchange(shared_daemon.socket, GARBAGE[name], timeout=5)
    # The daemon may just close the connection; if it answers, it is a 4xx (or 501 for an
    # unsupported transfer coding) in the JSON shape.
    if reply:
        assert re.match(rb"^HTTP/1\.[01] (4\d\d|501) ", reply), reply[:300]
        head, _, body = reply.partition(b"\r\n\r\n")
        assert b"application/json" in head, reply[:300]
        assert json.loads(body[body.index(b"{"):body.rindex(b"}") + 1])["message"], reply[:300]
    assert shared_daemon.ping()


def test_binary_garbage_is_400(shared_daemon):
    reply = exchange(shared_daemon.socket, GARBAGE["binary"])
    assert reply.startswith(b"HTTP/1.1 400 "), reply[:300]
    assert shared_daemon.ping()


def test_client_vanishing_mid_request(shared_daemon):
    for partial in (b"GET /_pi", b"GET /_ping HTTP/1.1\r\nHost: x\r\n",
                    b"POST /v1.41/version HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\":"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(shared_daemon.socket)
        s.sendall(partial)
        s.close()
    assert shared_daemon.ping()


def test_oversized_header_is_refused(shared_daemon):
    with RawConnection(shared_daemon.socket) as c:
        c.send(b"GET /_ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n")
        resp = c.read_response()
    assert resp.status in (431, 400), resp
    check_json_error(resp.status, resp.headers, resp.body)
    assert shared_daemon.ping()


def test_too_many_headers_are_refused(shared_daemon):
    head = b"GET /_ping HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 60) for i in range(5000))
    with RawConnection(shared_daemon.socket) as c:
        c.send(head + b"\r\n")
        resp = c.read_response()
    assert resp.status in (431, 400), resp
    check_json_error(resp.status, resp.headers, resp.body)
    assert shared_daemon.ping()


HUNDRED_MB = 100 * 1024 * 1024


def send_until_answered(conn, total, framing):
    """Streams up to `total` bytes of body (Content-Length or chunked framing) and stops when the
    daemon answers or stops reading. Returns how many body bytes were sent."""
    block = b"x" * 65536
    sent = 0
    conn.sock.settimeout(0.5)
    while sent < total:
        piece = b"%x\r\n%s\r\n" % (len(block), block) if framing == "chunked" else block
        try:
            conn.sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            break
        except socket.timeout:
            pass  # the daemon stopped reading: it must have answered by now
        sent += len(block)
        if sent % (4 << 20) == 0 or sent >= total:
            try:
                data = conn.sock.recv(65536, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                if data:
                    break
            except (BlockingIOError, InterruptedError, socket.timeout):
                pass
            except ConnectionResetError:
                break
    conn.sock.settimeout(10)
    return sent


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_100mb_body_gets_413(shared_daemon, body_endpoint, framing):
    method, path = body_endpoint
    with RawConnection(shared_daemon.socket) as c:
        headers = {"Content-Type": "application/json"}
        if framing == "chunked":
            headers["Transfer-Encoding"] = "chunked"
        else:
            headers["Content-Length"] = str(HUNDRED_MB)
        c.request(method, path, headers=headers)
        sent = send_until_answered(c, HUNDRED_MB, framing)
        resp = c.read_response()
        assert resp.status == 413, resp
        check_json_error(resp.status, resp.headers, resp.body, f"{framing} {method} {path}")
        assert sent < HUNDRED_MB, "the daemon read the whole 100 MB before refusing it"
        # The unread remainder must not be parsed as a next request: the daemon closes.
        assert resp.closes() or c.is_closed(5)
    assert shared_daemon.ping()


def test_chunked_request_body_is_read_and_connection_kept(shared_daemon, body_endpoint):
    """A chunked body (docker-py's uploads) is decoded, the handler answers, and the connection
    serves the next request."""
    method, path = body_endpoint
    body = json.dumps({"username": "ctl-test", "password": "p", "serveraddress": "127.0.0.1:1"}).encode()
    with RawConnection(shared_daemon.socket, timeout=60) as c:
        c.request(method, path, headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
                  body=chunked(body, size=7))
        first = c.read_response(method)
        check_common_headers(first.headers)
        if path.endswith("/auth"):
            # The body was understood: the answer is about the (unreachable) registry.
            assert first.status in (401, 500, 503), first
            check_json_error(first.status, first.headers, first.body)
        else:
            assert first.status == 200, first
        assert not first.closes(), first
        c.request("GET", "/_ping")
        second = c.read_response()
        assert second.status == 200 and second.body == b"OK", second


# --- keep-alive, pipelining, concurrency ------------------------------------------------------------

def test_keep_alive_serves_several_requests_on_one_connection(shared_daemon):
    with RawConnection(shared_daemon.socket) as c:
        for path in ("/_ping", "/v1.41/version", UNKNOWN, "/v1.41/info", "/_ping"):
            assert c.request("GET", path), f"connection closed before {path}"
            resp = c.read_response()
            assert not resp.closes(), resp
            assert resp.status == (404 if path == UNKNOWN else 200), resp
            check_common_headers(resp.headers, path)


def test_keep_alive_with_http_client(shared_daemon):
    conn = UnixHTTPConnection(shared_daemon.socket)
    conn.auto_open = 0  # fail instead of silently reconnecting
    try:
        conn.connect()
        for _ in range(3):
            conn.request("GET", "/_ping")
            resp = conn.getresponse()
            assert resp.status == 200 and resp.read() == b"OK"
            conn.request("GET", "/v1.41/version")
            resp = conn.getresponse()
            assert json.loads(resp.read())["ApiVersion"] == "1.41"
    finally:
        conn.close()


def test_pipelined_requests_are_answered_in_order(shared_daemon):
    with RawConnection(shared_daemon.socket) as c:
        c.send(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /v1.41/version HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /ctl-test-unknown HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().body == b"OK"
        assert json.loads(c.read_response().body)["ApiVersion"] == "1.41"
        assert c.read_response().status == 404


def test_http_1_0_and_connection_close(shared_daemon):
    with RawConnection(shared_daemon.socket) as c:
        c.send(b"GET /_ping HTTP/1.0\r\n\r\n")
        resp = c.read_response()
        assert resp.status == 200 and resp.body == b"OK"
        assert c.is_closed(5)
    with RawConnection(shared_daemon.socket) as c:
        c.request("GET", "/_ping", headers={"Connection": "close"})
        resp = c.read_response()
        assert resp.status == 200 and resp.body == b"OK"
        assert c.is_closed(5)


def test_fifty_concurrent_connections(shared_daemon):
    n = 50
    barrier = threading.Barrier(n)

    def one(i):
        with RawConnection(shared_daemon.socket, timeout=60) as c:
            barrier.wait(30)  # all 50 connections are open at once
            results = []
            for path in ("/_ping", "/v1.41/version", "/_ping"):
                c.request("GET", path)
                r = c.read_response()
                ok = r.status == 200 and (r.body == b"OK" if path == "/_ping"
                                          else json.loads(r.body)["ApiVersion"] == "1.41")
                results.append(ok)
            return all(results)

    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        results = list(pool.map(one, range(n)))
    assert results == [True] * n
    assert shared_daemon.ping()


def test_idle_and_streaming_connections_do_not_block_others(shared_daemon):
    idle = [RawConnection(shared_daemon.socket) for _ in range(5)]
    events = RawConnection(shared_daemon.socket)
    try:
        events.request("GET", "/v1.41/events")
        assert events.read_head()[0] == 200
        idle[0].send(b"GET /_ping HTTP/1.1\r\n")  # half a request
        for _ in range(5):
            assert shared_daemon.ping()
    finally:
        for c in idle + [events]:
            c.close()


# --- /events --------------------------------------------------------------------------------------

def test_events_with_past_until_ends_as_a_chunked_stream(shared_daemon):
    now = time.time()
    with RawConnection(shared_daemon.socket, timeout=30) as c:
        c.request("GET", f"/v1.41/events?since={int(now) - 60}&until={int(now) - 30}")
        resp = c.read_response()  # checks the chunked framing through to the last chunk
    assert resp.status == 200, resp
    check_common_headers(resp.headers)
    assert resp.header("content-type") == "application/json"
    assert resp.chunked, resp
    for line in resp.body.splitlines():
        if line.strip():
            json.loads(line)


def test_events_until_near_future_ends(shared_daemon):
    until = time.time() + 3
    with RawConnection(shared_daemon.socket, timeout=30) as c:
        c.request("GET", f"/v1.41/events?until={until:.9f}")
        status, reason, header_list, raw = c.read_head()
        assert status == 200
        # Headers come at once; the stream then ends by itself once `until` has passed.
        assert time.time() < until, "headers were held back until the stream ended"
        resp = c.read_body(status, reason, header_list, raw)
    assert resp.chunked
    assert time.time() >= until - 0.5


def test_events_without_until_stays_open_and_client_can_leave(shared_daemon):
    with RawConnection(shared_daemon.socket, timeout=10) as c:
        c.request("GET", "/v1.41/events")
        status, _, header_list, _ = c.read_head()  # the headers arrive before any event
        headers = {k.lower(): v for k, v in header_list}
        assert status == 200
        assert headers.get("transfer-encoding") == "chunked"
        check_common_headers(headers)
        assert not c.is_closed(1.5), "an events stream without until ended by itself"
    assert shared_daemon.ping()


def test_events_via_http_client_and_docker_style_query(shared_daemon):
    until = int(time.time()) - 1
    status, headers, body = shared_daemon.api(
        "GET", f"/events?since={until - 5}&until={until}&filters=" + filters({"type": ["container"]}))
    assert status == 200 and headers.get("transfer-encoding") == "chunked"


@pytest.mark.parametrize("doc", [{}, {"type": ["container", "image"]}, {"type": {"container": True}},
                                 {"label": ["a=b", "c"]}, {"event": ["start"], "container": ["x"]}])
def test_events_accepts_valid_filters(shared_daemon, doc):
    now = int(time.time())
    status, _, body = shared_daemon.api("GET", f"/v1.41/events?since={now - 2}&until={now - 1}&filters={filters(doc)}")
    assert status == 200, body


@pytest.mark.parametrize("raw", ["{bad", "[1,2]", '"text"', '{"type": [1]}'])
def test_events_rejects_malformed_filters(shared_daemon, raw):
    status, headers, body = shared_daemon.api("GET", f"/v1.41/events?until=1&filters={filters(raw)}")
    assert status == 400, body
    check_json_error(status, headers, body, raw)


def test_events_rejects_unknown_filter_keys(shared_daemon):
    status, headers, body = shared_daemon.api("GET", "/v1.41/events?until=1&filters=" + filters({"xyz": ["1"]}))
    assert status == 400, body
    msg = check_json_error(status, headers, body)
    assert "invalid filter" in msg and "xyz" in msg


# --- curl -----------------------------------------------------------------------------------------

def curl(*args):
    return subprocess.run(["curl", "-sS", "--max-time", "30"] + list(args), capture_output=True, text=True,
                          timeout=60)


def test_curl_version_and_ping(shared_daemon):
    out = curl("--unix-socket", shared_daemon.socket, "http://x/v1.41/version")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["ApiVersion"] == "1.41"
    out = curl("-i", "--unix-socket", shared_daemon.socket, "http://x/_ping")
    assert out.returncode == 0, out.stderr
    head, _, body = out.stdout.replace("\r\n", "\n").partition("\n\n")
    assert head.startswith("HTTP/1.1 200")
    assert re.search(r"^API-Version: 1\.41$", head, re.M | re.I)
    assert re.search(r"^OSType: linux$", head, re.M | re.I)
    assert re.search(r"^Server: Docker/\S+ \(linux\)$", head, re.M | re.I)
    assert body == "OK"
    out = curl("-I", "--unix-socket", shared_daemon.socket, "http://x/_ping")
    assert out.returncode == 0 and out.stdout.startswith("HTTP/1.1 200"), out


def test_curl_unknown_route(shared_daemon):
    out = curl("-w", "\n%{http_code}", "--unix-socket", shared_daemon.socket, "http://x/v1.41/ctl-test/nope")
    body, _, code = out.stdout.rpartition("\n")
    assert code == "404"
    assert json.loads(body)["message"]
