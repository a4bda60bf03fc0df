#!/usr/bin/python3
"""Benchmarks ctld against dockerd in the same run and prints ratios.

    sudo /usr/bin/python3 bench/bench.py pull [--runs 5] [--layers 5] [--layer-mb 20]
    sudo /usr/bin/python3 bench/bench.py containers [--runs 10] [--concurrent 50]
    sudo /usr/bin/python3 bench/bench.py network [--runs 10] [--mb 1024]

Each engine gets its own temp data root and socket; dockerd is Debian's docker.io. For `pull` and
`containers` dockerd runs with networking off (those measure other things); for `network` both
engines run with their default bridge. For `containers` and `network` each engine runs inside a
private network namespace, so bridges and firewall rules vanish with it and never touch the
host's (`pull` needs the host's 127.0.0.1 registry; ctld's leftovers are swept after it).
Numbers are medians; a ratio > 1 means ctld is faster. Nothing here is a test: there are no thresholds.
"""
import ctypes
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
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.environ.get("CTL_BUILD_DIR", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from harness.ctld import nft_table_name, remove_engine_network  # noqa: E402
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


# The "host address" inside a private bench namespace: on a veth (no dummy module everywhere), so traffic to it takes the
# same path as traffic to a real host address (local delivery, DNAT in OUTPUT).
NETNS_HOST_ADDR = "10.254.0.1"
NETNS_SETUP = ("ip link set lo up && ip link add ctlbench0 type veth peer name ctlbench1 && ip link set ctlbench1 up && "
               f"ip addr add {NETNS_HOST_ADDR}/24 dev ctlbench0 && ip link set ctlbench0 up && exec \"$@\"")


class Engine:
    def __init__(self, name, argv_fn, private_netns=False):
        self.name = name
        self.private_netns = private_netns
        self.dir = tempfile.mkdtemp(prefix=f"ctl-bench-{name}-")
        self.bridge = "ctlb" + os.urandom(3).hex()  # ctld's default bridge here, never the host's ctl0
        self.sock = os.path.join(self.dir, "api.sock")
        self.log = open(os.path.join(self.dir, "log"), "w")
        argv = argv_fn(self)
        if private_netns:
            argv = ["unshare", "--net", "--", "sh", "-c", NETNS_SETUP, "sh"] + argv
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_ping(self.sock, self.proc)

    def in_netns(self, fn):
        """Runs fn in a thread that has joined the engine's network namespace (setns only moves
        the calling thread), so sockets it opens see the engine's 127.0.0.1 and addresses."""
        result = {}

        def body():
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/proc/{self.proc.pid}/ns/net", os.O_RDONLY)
            try:
                if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
                    raise OSError(ctypes.get_errno(), "setns")
            finally:
                os.close(fd)
            try:
                result["value"] = fn()
            except BaseException as e:  # re-raised in the caller
                result["error"] = e

        t = threading.Thread(target=body)
        t.start()
        t.join()
        if "error" in result:
            raise result["error"]
        return result["value"]

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
        if self.name == "ctld" and not self.private_netns:
            self.sweep_host_network()
        subprocess.run(["umount", "-R", "-l", self.dir], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)

    def sweep_host_network(self):
        """ctld's bridge, nft table and FORWARD rules outlive it by design (like docker0): a
        benchmark in the host's namespace removes them, so runs leave nothing behind."""
        remove_engine_network(nft_table_name(f"{self.dir}/data"), [self.bridge])


def ctld_argv(e):
    return [os.path.join(BUILD, "ctld"), "--host", f"unix://{e.sock}", "--data-root", f"{e.dir}/data",
            "--exec-root", f"{e.dir}/exec", "--log-level", "warn", "--bridge", e.bridge]


def dockerd_argv(e):
    return dockerd_networked_argv(e) + ["--iptables=false", "--ip-forward=false", "--bridge=none"]


def dockerd_networked_argv(e):
    """dockerd as a user has it: default bridge (docker0), iptables NAT and the userland proxy."""
    return ["dockerd", "-H", f"unix://{e.sock}", "--data-root", f"{e.dir}/data", "--exec-root", f"{e.dir}/exec",
            "--pidfile", f"{e.dir}/docker.pid",
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


def each_engine(args, dockerd_argv_fn, measure, private_netns=False):
    """measure(name, engine) for ctld, then dockerd (skipped with --ctld-only or when missing),
    one engine at a time, each stopped afterwards whatever happens. Returns {name: result}."""
    results = {}
    for name, argv in (("ctld", ctld_argv), ("dockerd", dockerd_argv_fn)):
        if name == "dockerd" and args.ctld_only:
            continue
        if name == "dockerd" and not shutil.which("dockerd"):
            print("dockerd not installed (apt-get install docker.io): skipping the comparison")
            continue
        engine = Engine(name, argv, private_netns=private_netns)
        try:
            results[name] = measure(name, engine)
        finally:
            engine.stop()
    return results


def bench_pull(args):
    registry = Registry()
    try:
        layers = [make_tar([{"name": f"layer{i}/data.bin", "data": os.urandom(args.layer_mb << 20)}])
                  for i in range(args.layers)]
        ImageBuilder(registry).push("bench/pull", "latest", layers)
        image = f"{registry.host}/bench/pull:latest"
        size_mb = sum(len(l) for l in layers) / 1e6

        def measure(name, engine):
            times = [pull_once(engine, image) for _ in range(args.runs)]
            print(f"{name:8s} pull {size_mb:.0f} MB / {args.layers} layers: median {statistics.median(times)*1000:.0f} ms "
                  f"over {args.runs} runs ({', '.join(f'{t*1000:.0f}' for t in times)})")
            return statistics.median(times)

        results = each_engine(args, dockerd_argv, measure)
        if "dockerd" in results:
            print(f"ratio pull (dockerd / ctld): {results['dockerd'] / results['ctld']:.2f}x")
    finally:
        registry.stop()


# ---- containers -------------------------------------------------------------------------------

def import_busybox(engine, extra_files=None):
    """Imports busybox:latest; extra_files ({path in image: host file}) are added to its rootfs."""
    rootfs = os.path.join(engine.dir, "busybox.tar")
    subprocess.run([os.path.join(ROOT, "scripts", "make-busybox-rootfs.sh"), rootfs], check=True)
    if extra_files:
        import tarfile
        with tarfile.open(rootfs, "a") as tar:
            for name, src in extra_files.items():
                info = tar.gettarinfo(src, arcname="./" + name)
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                with open(src, "rb") as f:
                    tar.addfile(info, f)
    with open(rootfs, "rb") as f:
        data = f.read()
    status, body = api(engine.sock, "POST", "/v1.41/images/create?fromSrc=-&repo=busybox&tag=latest", body=data,
                       headers={"Content-Type": "application/x-tar"})
    if status != 200 or b'"error"' in body:
        raise RuntimeError(f"{engine.name} import failed: {status} {body[-300:]!r}")


def create_start(engine, cmd, auto_remove=False, network="none", publish=None):
    """publish: {"5000/tcp": host port or ""}; an empty host port asks the engine to pick one."""
    host_config = {"NetworkMode": network, "AutoRemove": auto_remove}
    config = {"Image": "busybox", "Cmd": cmd, "HostConfig": host_config}
    if publish:
        config["ExposedPorts"] = {p: {} for p in publish}
        host_config["PortBindings"] = {p: [{"HostIp": "", "HostPort": str(h)}] for p, h in publish.items()}
    body = json.dumps(config)
    status, out = api(engine.sock, "POST", "/v1.41/containers/create", body=body,
                      headers={"Content-Type": "application/json"})
    if status != 201:
        raise RuntimeError(f"{engine.name} create failed: {status} {out!r}")
    cid = json.loads(out)["Id"]
    status, out = api(engine.sock, "POST", f"/v1.41/containers/{cid}/start")
    if status != 204:
        raise RuntimeError(f"{engine.name} start failed: {status} {out!r}")
    return cid


def run_rm_once(engine, network="none"):
    """What `docker run --rm --network none busybox true` does: create, wait(removed), start, wait for the body."""
    start = time.perf_counter()
    body = json.dumps({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": network, "AutoRemove": True}})
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


RAW_CRUN_TIMER = r"""
import subprocess, sys, time, json
crun, root, bundle, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
# crun 1.8 refuses a hybrid cgroup host; ctld runs it the same way (a private mount namespace
# without the cgroup2 mount), made once here rather than per run.
subprocess.run(["umount", "-l", "/sys/fs/cgroup/unified"], stderr=subprocess.DEVNULL)
times = []
for i in range(runs + 1):
    start = time.perf_counter()
    subprocess.run([crun, "--root", root, "run", "--bundle", bundle, f"ctl-bench-raw-{i}"], check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    times.append(time.perf_counter() - start)
print(json.dumps(times[1:]))
"""


def raw_crun_run(engine, runs):
    """Median of a bare `crun run` (foreground: it also deletes) of the bundle ctld made for a
    busybox `true` container: the floor ctld's own run latency is compared with."""
    crun = shutil.which("crun")
    if not crun:
        return None
    cid = create_start(engine, ["sleep", "3600"])
    try:
        with open(os.path.join(engine.dir, "exec", "containers", cid, "config.json")) as f:
            spec = json.load(f)
    finally:
        api(engine.sock, "DELETE", f"/v1.41/containers/{cid}?force=1")
    bundle = os.path.join(engine.dir, "raw-bundle")
    rootfs = os.path.join(bundle, "rootfs")
    os.makedirs(rootfs)
    tar = os.path.join(engine.dir, "busybox.tar")
    subprocess.run(["tar", "-xf", tar, "-C", rootfs], check=True)
    spec["root"] = {"path": rootfs}
    spec["process"]["args"] = ["true"]
    spec["process"]["terminal"] = False
    spec["linux"]["cgroupsPath"] = "/ctl-bench-raw"
    spec["linux"]["namespaces"] = [{"type": ns["type"]} for ns in spec["linux"]["namespaces"]]
    for m in spec["mounts"]:  # /etc/hosts and friends: files of this bundle instead of ctld's
        if m.get("type") == "bind" and m["destination"].startswith("/etc/"):
            m["source"] = os.path.join(bundle, os.path.basename(m["destination"]))
            with open(m["source"], "w") as f:
                f.write("")
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(spec, f)
    out = subprocess.run(["unshare", "--mount", "--propagation", "slave", "/usr/bin/python3", "-c", RAW_CRUN_TIMER,
                          crun, os.path.join(engine.dir, "raw-state"), bundle, str(runs)],
                         check=True, capture_output=True, text=True).stdout
    return statistics.median(json.loads(out))


def bench_containers(args):
    def measure(name, engine):
        r = {}
        r["idle_rss_mib"] = engine.rss_kib() / 1024
        import_busybox(engine)
        run_rm_once(engine)  # warm-up
        times = [run_rm_once(engine) for _ in range(args.runs)]
        r["run"] = statistics.median(times)
        if name == "ctld":
            r["raw_crun"] = raw_crun_run(engine, args.runs)
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
        return r

    # Private namespaces: nothing of either engine is left on the host.
    results = each_engine(args, dockerd_argv, measure, private_netns=True)
    raw = results.get("ctld", {}).get("raw_crun")
    if raw:
        print(f"raw `crun run` of the same bundle: {raw*1000:.1f} ms; ctld run --rm is "
              f"{results['ctld']['run']/raw:.1f}x that")
    if "dockerd" in results:
        c, dk = results["ctld"], results["dockerd"]
        print(f"ratios (dockerd / ctld): run {dk['run']/c['run']:.1f}x  exec {dk['exec']/c['exec']:.1f}x  "
              f"concurrent {dk['concurrent']/c['concurrent']:.1f}x  ps {c['ps_rps']/dk['ps_rps']:.1f}x  "
              f"memory idle {dk['idle_rss_mib']/c['idle_rss_mib']:.1f}x  busy {dk['busy_rss_mib']/c['busy_rss_mib']:.1f}x")


# ---- network ----------------------------------------------------------------------------------

def build_sink(workdir):
    out = os.path.join(workdir, "sink")
    subprocess.run(["gcc", "-O2", "-static", "-o", out, os.path.join(HERE, "sink.c")], check=True)
    return out


def wait_listening(addr, port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection((addr, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {addr}:{port}")


def send_through(addr, port, megabytes):
    """Sends megabytes MiB to addr:port and waits until the receiver has read them all and closed."""
    chunk = b"\0" * (1 << 20)
    s = socket.create_connection((addr, port), timeout=120)
    start = time.perf_counter()
    for _ in range(megabytes):
        s.sendall(chunk)
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
    elapsed = time.perf_counter() - start
    s.close()
    return megabytes / elapsed


def bench_network(args):
    workdir = tempfile.mkdtemp(prefix="ctl-bench-net-")
    try:
        sink = build_sink(workdir)

        def measure(name, engine):
            r = {}
            import_busybox(engine, {"bin/sink": sink})
            run_rm_once(engine, "bridge")  # warm-up
            r["run"] = statistics.median([run_rm_once(engine, "bridge") for _ in range(args.runs)])
            cid = create_start(engine, ["/bin/sink", "5000"], network="bridge", publish={"5000/tcp": 18080})
            status, out = api(engine.sock, "GET", f"/v1.41/containers/{cid}/json")
            ip = json.loads(out)["NetworkSettings"]["IPAddress"]
            engine.in_netns(lambda: wait_listening(ip, 5000))
            for label, addr in (("loopback", "127.0.0.1"), ("host_addr", NETNS_HOST_ADDR)):
                rates = [engine.in_netns(lambda: send_through(addr, 18080, args.mb)) for _ in range(3)]
                r[label] = statistics.median(rates)
            api(engine.sock, "DELETE", f"/v1.41/containers/{cid}?force=1")
            print(f"{name:8s} run --rm (bridge) true: {r['run']*1000:.1f} ms  published port, {args.mb} MiB: "
                  f"via 127.0.0.1 {r['loopback']:.0f} MiB/s, via host address {r['host_addr']:.0f} MiB/s")
            return r

        results = each_engine(args, dockerd_networked_argv, measure, private_netns=True)
        if "dockerd" in results:
            c, dk = results["ctld"], results["dockerd"]
            print(f"ratios: run with bridge (dockerd / ctld) {dk['run']/c['run']:.1f}x  "
                  f"published-port throughput (ctld / dockerd) via 127.0.0.1 {c['loopback']/dk['loopback']:.2f}x, "
                  f"via host address {c['host_addr']/dk['host_addr']:.2f}x")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ctld-only", action="store_true", help="skip dockerd (quick checks while optimizing)")
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("pull")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--layers", type=int, default=5)
    p.add_argument("--layer-mb", type=int, default=20)
    p = sub.add_parser("containers")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--concurrent", type=int, default=50)
    p = sub.add_parser("network")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--mb", type=int, default=1024, help="MiB sent through the published port per transfer")
    args = parser.parse_args()
    if args.what == "pull":
        bench_pull(args)
    elif args.what == "containers":
        bench_containers(args)
    elif args.what == "network":
        bench_network(args)


if __name__ == "__main__":
    main()
