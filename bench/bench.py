#!/usr/bin/python3
"""Benchmarks ctld against dockerd in the same run and prints ratios.

    sudo /usr/bin/python3 bench/bench.py pull [--runs 5] [--layers 5] [--layer-mb 20]

Each engine gets its own temp data root and socket; dockerd is Debian's docker.io, started with
networking off (pulls need none). Numbers are medians; a ratio > 1 means ctld is faster.
Nothing here is a test: there are no thresholds.
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
from harness.registry import Registry, ImageBuilder, make_tar  # noqa: E402


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=600):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def api(sock, method, path, body=None, headers=None):
    conn = UnixHTTPConnection(sock)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def wait_ping(sock, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("engine exited early")
        try:
            if api(sock, "GET", "/_ping")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("engine did not answer /_ping")


class Engine:
    def __init__(self, name, argv_fn):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix=f"ctl-bench-{name}-")
        self.sock = os.path.join(self.dir, "api.sock")
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(argv_fn(self), stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_ping(self.sock, self.proc)

    def rss_kib(self):
        """RSS of the engine, its descendants (containerd) and its per-container shims. Shims
        daemonize (ctl-shim, containerd-shim-runc-v2), so they are found by their command line,
        which names this engine's directory; the containers' own processes are not counted."""
        seen = set()
        pids = [str(self.proc.pid)]
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        argv = f.read().split(b"\0")
                except OSError:
                    continue
                if b"shim" in os.path.basename(argv[0]) and any(self.dir.encode() in a for a in argv):
                    pids.append(pid)
        total = 0
        while pids:
            pid = pids.pop()
            if pid in seen:
                continue
            seen.add(pid)
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
                with open(f"/proc/{pid}/task/{pid}/children") as f:
                    if not os.path.basename(open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0]).count(b"shim"):
                        pids.extend(f.read().split())
            except OSError:
                pass
        return total

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(20)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()
        subprocess.run(["umount", "-R", "-l", self.dir], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)


def ctld_argv(e):
    return [os.path.join(ROOT, "build", "ctld"), "--host", f"unix://{e.sock}", "--data-root", f"{e.dir}/data",
            "--exec-root", f"{e.dir}/exec", "--log-level", "warn"]


def dockerd_argv(e):
    return ["dockerd", "-H", f"unix://{e.sock}", "--data-root", f"{e.dir}/data", "--exec-root", f"{e.dir}/exec",
            "--pidfile", f"{e.dir}/docker.pid", "--iptables=false", "--ip-forward=false", "--bridge=none",
            "--containerd-namespace", "ctlbench", "--containerd-plugins-namespace", "ctlbench-plugins"]


def pull_once(engine, image):
    repo, tag = image.rsplit(":", 1)
    start = time.perf_counter()
    status, body = api(engine.sock, "POST", f"/v1.41/images/create?fromImage={repo}&tag={tag}")
    elapsed = time.perf_counter() - start
    if status != 200 or b'"error"' in body:
        raise RuntimeError(f"{engine.name} pull failed: {status} {body[-300:]!r}")
    status, body = api(engine.sock, "DELETE", f"/v1.41/images/{image}?force=1")
    if status != 200:
        raise RuntimeError(f"{engine.name} rmi failed: {status} {body!r}")
    return elapsed


def bench_pull(args):
    registry = Registry()
    engines = []
    try:
        layers = [make_tar([{"name": f"layer{i}/data.bin", "data": os.urandom(args.layer_mb << 20)}])
                  for i in range(args.layers)]
        ImageBuilder(registry).push("bench/pull", "latest", layers)
        image = f"{registry.host}/bench/pull:latest"
        size_mb = sum(len(l) for l in layers) / 1e6
        results = {}
        for name, argv in (("ctld", ctld_argv), ("dockerd", dockerd_argv)):
            if name == "dockerd" and not shutil.which("dockerd"):
                print("dockerd not installed (apt-get install docker.io): skipping the comparison")
                continue
            engine = Engine(name, argv)
            engines.append(engine)
            times = [pull_once(engine, image) for _ in range(args.runs)]
            results[name] = statistics.median(times)
            print(f"{name:8s} pull {size_mb:.0f} MB / {args.layers} layers: median {results[name]*1000:.0f} ms "
                  f"over {args.runs} runs ({', '.join(f'{t*1000:.0f}' for t in times)})")
            engine.stop()
            engines.remove(engine)
        if "dockerd" in results:
            print(f"ratio pull (dockerd / ctld): {results['dockerd'] / results['ctld']:.2f}x")
    finally:
        for e in engines:
            e.stop()
        registry.stop()


# ---- containers -------------------------------------------------------------------------------

def import_busybox(engine):
    rootfs = os.path.join(engine.dir, "busybox.tar")
    subprocess.run([os.path.join(ROOT, "scripts", "make-busybox-rootfs.sh"), rootfs], check=True)
    with open(rootfs, "rb") as f:
        data = f.read()
    status, body = api(engine.sock, "POST", "/v1.41/images/create?fromSrc=-&repo=busybox&tag=latest", body=data,
                       headers={"Content-Type": "application/x-tar"})
    if status != 200 or b'"error"' in body:
        raise RuntimeError(f"{engine.name} import failed: {status} {body[-300:]!r}")


def create_start(engine, cmd, auto_remove=False):
    body = json.dumps({"Image": "busybox", "Cmd": cmd,
                       "HostConfig": {"NetworkMode": "none", "AutoRemove": auto_remove}})
    status, out = api(engine.sock, "POST", "/v1.41/containers/create", body=body,
                      headers={"Content-Type": "application/json"})
    if status != 201:
        raise RuntimeError(f"{engine.name} create failed: {status} {out!r}")
    cid = json.loads(out)["Id"]
    status, out = api(engine.sock, "POST", f"/v1.41/containers/{cid}/start")
    if status != 204:
        raise RuntimeError(f"{engine.name} start failed: {status} {out!r}")
    return cid


def run_rm_once(engine):
    """What `docker run --rm --network none busybox true` does: create, wait(removed), start, wait for the body."""
    start = time.perf_counter()
    body = json.dumps({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": "none", "AutoRemove": True}})
    status, out = api(engine.sock, "POST", "/v1.41/containers/create", body=body,
                      headers={"Content-Type": "application/json"})
    cid = json.loads(out)["Id"]
    conn = UnixHTTPConnection(engine.sock)
    conn.request("POST", f"/v1.41/containers/{cid}/wait?condition=removed")
    resp = conn.getresponse()
    status, out = api(engine.sock, "POST", f"/v1.41/containers/{cid}/start")
    if status != 204:
        raise RuntimeError(f"{engine.name} start failed: {status} {out!r}")
    resp.read()
    conn.close()
    return time.perf_counter() - start


def exec_once(engine, cid):
    start = time.perf_counter()
    status, out = api(engine.sock, "POST", f"/v1.41/containers/{cid}/exec", body=json.dumps({"Cmd": ["true"]}),
                      headers={"Content-Type": "application/json"})
    eid = json.loads(out)["Id"]
    conn = UnixHTTPConnection(engine.sock)
    conn.request("POST", f"/v1.41/exec/{eid}/start", body=json.dumps({"Detach": False, "Tty": False}),
                 headers={"Content-Type": "application/json", "Connection": "Upgrade", "Upgrade": "tcp"})
    resp = conn.getresponse()
    resp.read() if resp.status == 200 else None
    try:
        while conn.sock and conn.sock.recv(65536):
            pass
    except OSError:
        pass
    conn.close()
    return time.perf_counter() - start


def bench_containers(args):
    results = {}
    engines = []
    try:
        for name, argv in (("ctld", ctld_argv), ("dockerd", dockerd_argv)):
            if name == "dockerd" and not shutil.which("dockerd"):
                print("dockerd not installed (apt-get install docker.io): skipping the comparison")
                continue
            engine = Engine(name, argv)
            engines.append(engine)
            r = results[name] = {}
            r["idle_rss_mib"] = engine.rss_kib() / 1024
            import_busybox(engine)
            run_rm_once(engine)  # warm-up
            times = [run_rm_once(engine) for _ in range(args.runs)]
            r["run"] = statistics.median(times)
            sleeper = create_start(engine, ["sleep", "3600"])
            exec_once(engine, sleeper)
            r["exec"] = statistics.median([exec_once(engine, sleeper) for _ in range(args.runs)])
            api(engine.sock, "DELETE", f"/v1.41/containers/{sleeper}?force=1")
            start = time.perf_counter()
            import concurrent.futures
            with concurrent.futures.ThreadPoolExecutor(max_workers=args.concurrent) as pool:
                ids = list(pool.map(lambda _: create_start(engine, ["sleep", "3600"]), range(args.concurrent)))
            r["concurrent"] = time.perf_counter() - start
            r["busy_rss_mib"] = engine.rss_kib() / 1024
            start = time.perf_counter()
            n = 0
            while time.perf_counter() - start < 2:
                api(engine.sock, "GET", "/v1.41/containers/json")
                n += 1
            r["ps_rps"] = n / (time.perf_counter() - start)
            with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(lambda cid: api(engine.sock, "DELETE", f"/v1.41/containers/{cid}?force=1"), ids))
            print(f"{name:8s} run --rm true: {r['run']*1000:.1f} ms  exec: {r['exec']*1000:.1f} ms  "
                  f"{args.concurrent} concurrent starts: {r['concurrent']*1000:.0f} ms  ps: {r['ps_rps']:.0f} req/s  "
                  f"RSS idle {r['idle_rss_mib']:.1f} MiB, with {args.concurrent} containers {r['busy_rss_mib']:.1f} MiB")
            engine.stop()
            engines.remove(engine)
        if "dockerd" in results:
            c, dk = results["ctld"], results["dockerd"]
            print(f"ratios (dockerd / ctld): run {dk['run']/c['run']:.1f}x  exec {dk['exec']/c['exec']:.1f}x  "
                  f"concurrent {dk['concurrent']/c['concurrent']:.1f}x  ps {c['ps_rps']/dk['ps_rps']:.1f}x  "
                  f"memory idle {dk['idle_rss_mib']/c['idle_rss_mib']:.1f}x  busy {dk['busy_rss_mib']/c['busy_rss_mib']:.1f}x")
    finally:
        for e in engines:
            e.stop()


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("pull")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--layers", type=int, default=5)
    p.add_argument("--layer-mb", type=int, default=20)
    p = sub.add_parser("containers")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--concurrent", type=int, default=50)
    args = parser.parse_args()
    if args.what == "pull":
        bench_pull(args)
    elif args.what == "containers":
        bench_containers(args)


if __name__ == "__main__":
    main()
