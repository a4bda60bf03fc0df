"""Bridge networking on a real ctld with real containers: addresses and routes inside, published
ports reachable through 127.0.0.1 and the host's own address (TCP and UDP, ranges, -P), port
conflicts failing cleanly, user-defined networks isolated from each other, none/host/container:
modes, NAT to a server in another network namespace (also with an iptables FORWARD policy of
DROP, as dockerd sets it), the /networks API, a ctld restart keeping published ports, and nothing
of a removed container left in links, rules or the store."""
import json
import os
import socket
import subprocess
import time

import pytest

from harness.containers import create, import_busybox, inspect, logs, demux, q, remove, run, start, wait


@pytest.fixture(scope="module")
def d(shared_daemon):
    import_busybox(shared_daemon)
    return shared_daemon


def host_address():
    """The host's first global IPv4 address (not loopback)."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        return line.split()[3].split("/")[0]
    pytest.skip("no global IPv4 address on this host")


def http_get(host, port, timeout=5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=2) as s:
                s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                if data:
                    return data.split(b"\r\n\r\n", 1)[-1].decode()
        except OSError as e:
            last = e
        time.sleep(0.1)
    raise AssertionError(f"no HTTP answer from {host}:{port}: {last}")


def web_server(d, text="hello-web", port=8000, **fields):
    """A running busybox httpd serving `text` on `port`."""
    cid = create(d, ["sh", "-c", f"mkdir -p /w && echo {text} > /w/index.html && exec httpd -f -p {port} -h /w"],
                 **fields)
    start(d, cid)
    return cid


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def fetch(ip, port):
    """A shell line printing the body of http://ip:port/ (Debian's static busybox wget crashes on
    name lookups, so: nc). Fails when nothing answers within 3 s."""
    return (f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {ip} {port} > /tmp/r && grep -q 200 /tmp/r && "
            "sed '1,/^\\r$/d' /tmp/r")


def sh(d, script, **fields):
    code, out, err, cid = run(d, ["sh", "-c", script], **fields)
    remove(d, cid)
    return code, out, err


def network_settings(d, cid):
    return inspect(d, cid)["NetworkSettings"]


# ---- the default bridge ----------------------------------------------------------------------

def test_default_bridge_gives_an_address_route_and_hosts_entry(d):
    _, bridge = d.json("GET", "/networks/bridge")
    subnet, gateway = bridge["IPAM"]["Config"][0]["Subnet"], bridge["IPAM"]["Config"][0]["Gateway"]
    cid = create(d, ["sh", "-c", "ip -4 -o addr show eth0; ip route; tail -1 /etc/hosts; hostname; "
                                 "ping -c1 -W2 $(ip route | awk '/default/{print $3}') >/dev/null && echo gw-ok; "
                                 "sleep 30"])
    start(d, cid)
    try:
        ns = network_settings(d, cid)
        ip = ns["IPAddress"]
        assert ip and ns["Networks"]["bridge"]["IPAddress"] == ip and ns["Gateway"] == gateway
        assert ns["IPPrefixLen"] == int(subnet.split("/")[1])
        assert ns["MacAddress"].startswith("02:42:") and ns["SandboxKey"]
        assert ns["Networks"]["bridge"]["NetworkID"] == bridge["Id"]
        for _ in range(50):
            out, _ = demux(logs(d, cid))
            if b"gw-ok" in out:
                break
            time.sleep(0.1)
        text = out.decode()
        assert f"inet {ip}/" in text and f"default via {gateway}" in text and "gw-ok" in text, text
        assert f"{ip}\t{cid[:12]}" in text
        # inspect of the network lists the container.
        _, bridge = d.json("GET", "/networks/bridge")
        assert bridge["Containers"][cid]["IPv4Address"].startswith(ip + "/")
    finally:
        remove(d, cid)
    # Stopped containers have no address, and the endpoint is gone.
    _, bridge = d.json("GET", "/networks/bridge")
    assert cid not in bridge["Containers"]


def test_addresses_are_unique_and_reused_after_release(d):
    ids = [create(d, ["sleep", "30"]) for _ in range(3)]
    try:
        for cid in ids:
            start(d, cid)
        ips = [network_settings(d, cid)["IPAddress"] for cid in ids]
        assert len(set(ips)) == 3, ips
    finally:
        for cid in ids:
            remove(d, cid)


def test_published_tcp_port_from_localhost_and_the_host_address(d):
    port = free_tcp_port()
    cid = web_server(d, HostConfig={"PortBindings": {"8000/tcp": [{"HostPort": str(port)}]}},
                     ExposedPorts={"8000/tcp": {}})
    try:
        assert http_get("127.0.0.1", port).strip() == "hello-web"
        assert http_get(host_address(), port).strip() == "hello-web"
        ports = network_settings(d, cid)["Ports"]
        assert ports["8000/tcp"] == [{"HostIp": "0.0.0.0", "HostPort": str(port)}]
        _, listed = d.json("GET", "/containers/json?filters=" + q(json.dumps({"id": [cid]})))
        assert {"IP": "0.0.0.0", "PrivatePort": 8000, "PublicPort": port, "Type": "tcp"} in listed[0]["Ports"]
    finally:
        remove(d, cid)
    # The rule went with the container.
    with pytest.raises(AssertionError):
        http_get("127.0.0.1", port, timeout=1)


def test_published_port_bound_to_localhost_only(d):
    port = free_tcp_port()
    cid = web_server(d, HostConfig={"PortBindings": {"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}})
    try:
        assert http_get("127.0.0.1", port).strip() == "hello-web"
        with pytest.raises(AssertionError):
            http_get(host_address(), port, timeout=1)
    finally:
        remove(d, cid)


UDP_ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5000))
print("ready", flush=True)
for _ in range(2):
    data, peer = s.recvfrom(100)
    s.sendto(b"echo:" + data, peer)
"""


def test_published_udp_port(d):
    """busybox has no UDP server: a Python echo server runs in the container's network namespace
    (nsenter), so the datagrams take the real path: DNAT, the bridge, the veth."""
    port = free_tcp_port()
    cid = create(d, ["sleep", "60"], HostConfig={"PortBindings": {"5000/udp": [{"HostPort": str(port)}]}})
    start(d, cid)
    server = subprocess.Popen(["nsenter", f"--net={network_settings(d, cid)['SandboxKey']}", "/usr/bin/python3", "-c",
                               UDP_ECHO], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        for target in ("127.0.0.1", host_address()):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(5)
                s.sendto(b"udp-hello", (target, port))
                assert s.recvfrom(100)[0] == b"echo:udp-hello"
    finally:
        server.kill()
        server.wait()
        remove(d, cid)


def test_publish_all_picks_free_ports_and_ranges_map_one_to_one(d):
    cid = web_server(d, ExposedPorts={"8000/tcp": {}, "9000/tcp": {}}, HostConfig={"PublishAllPorts": True})
    try:
        ports = network_settings(d, cid)["Ports"]
        host_port = int(ports["8000/tcp"][0]["HostPort"])
        assert host_port > 0 and int(ports["9000/tcp"][0]["HostPort"]) not in (0, host_port)
        assert http_get("127.0.0.1", host_port).strip() == "hello-web"
    finally:
        remove(d, cid)
    base = free_tcp_port()
    bindings = {f"{8000 + i}/tcp": [{"HostPort": str(base + i)}] for i in range(3)}
    cid = web_server(d, port=8001, HostConfig={"PortBindings": bindings})
    try:
        assert http_get("127.0.0.1", base + 1).strip() == "hello-web"
    finally:
        remove(d, cid)


def test_port_conflict_fails_the_start_and_leaves_nothing(d):
    holder = socket.socket()
    holder.bind(("0.0.0.0", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        links_before = d.network_leftovers()[0]
        cid = create(d, ["sleep", "30"], HostConfig={"PortBindings": {"80/tcp": [{"HostPort": str(port)}]}})
        status, _, body = d.api("POST", f"/containers/{cid}/start")
        assert status in (409, 500) and b"port is already allocated" in body, (status, body)
        info = inspect(d, cid)
        assert not info["State"]["Running"] and info["NetworkSettings"]["IPAddress"] == ""
        assert d.network_leftovers()[0] == links_before
        assert not os.listdir(os.path.join(d.exec_root, "netns"))
        _, bridge = d.json("GET", "/networks/bridge")
        assert cid not in bridge["Containers"]
        remove(d, cid)
    finally:
        holder.close()


# ---- modes -----------------------------------------------------------------------------------

def test_network_none_has_only_loopback(d):
    code, out, _ = sh(d, "ip -o link | cut -d: -f2", HostConfig={"NetworkMode": "none"})
    assert code == 0 and out.split() == ["lo"]


def test_network_host_sees_the_host_interfaces(d):
    host_links = len(subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout.splitlines())
    code, out, _ = sh(d, "ip -o link | wc -l", HostConfig={"NetworkMode": "host"})
    assert code == 0 and abs(int(out) - host_links) <= 2  # links may come and go meanwhile


def test_container_mode_shares_the_namespace(d):
    first = create(d, ["sleep", "30"])
    start(d, first)
    try:
        ip = network_settings(d, first)["IPAddress"]
        code, out, _ = sh(d, "ip -4 -o addr show eth0", HostConfig={"NetworkMode": f"container:{first}"})
        assert code == 0 and f"inet {ip}/" in out
    finally:
        remove(d, first)


def test_unknown_network_is_404_at_create(d):
    status, body = d.json("POST", "/containers/create", {"Image": "busybox", "HostConfig": {"NetworkMode": "nosuchnet"}})
    assert status == 404 and "nosuchnet" in body["message"]


# ---- user-defined networks ---------------------------------------------------------------------

def test_user_networks_reach_members_and_are_isolated_from_each_other(d):
    status, a = d.json("POST", "/networks/create", {"Name": "ctlt-front", "IPAM": {"Config": [{"Subnet": "10.231.1.0/24"}]},
                                                      "Labels": {"tier": "front"}})
    assert status == 201, a
    status, b = d.json("POST", "/networks/create", {"Name": "ctlt-back"})
    assert status == 201, b
    members = []
    try:
        server = web_server(d, HostConfig={"NetworkMode": "ctlt-front"})
        members.append(server)
        ip = network_settings(d, server)["Networks"]["ctlt-front"]["IPAddress"]
        assert ip.startswith("10.231.1.")
        code, out, _ = sh(d, fetch(ip, 8000), HostConfig={"NetworkMode": "ctlt-front"})
        assert (code, out.strip()) == (0, "hello-web")
        code, out, _ = sh(d, fetch(ip, 8000) + " || echo blocked", HostConfig={"NetworkMode": "ctlt-back"})
        assert out.strip() == "blocked"
        # A fixed address.
        code, out, _ = sh(d, "ip -4 -o addr show eth0", HostConfig={"NetworkMode": "ctlt-front"},
                          NetworkingConfig={"EndpointsConfig": {"ctlt-front": {"IPAMConfig": {"IPv4Address": "10.231.1.77"}}}})
        assert "inet 10.231.1.77/24" in out
        # In use: 409; listed with filters; inspect shows the member.
        status, body = d.json("DELETE", "/networks/ctlt-front")
        assert status == 409, body
        _, listed = d.json("GET", "/networks?filters=" + q(json.dumps({"label": ["tier=front"]})))
        assert [n["Name"] for n in listed] == ["ctlt-front"]
        _, info = d.json("GET", "/networks/ctlt-front")
        assert server in info["Containers"] and info["Driver"] == "bridge" and info["Scope"] == "local"
    finally:
        for cid in members:
            remove(d, cid)
        d.api("DELETE", "/networks/ctlt-front")
        d.api("DELETE", "/networks/ctlt-back")
    assert d.json("GET", "/networks/ctlt-front")[0] == 404
    bridges = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert f"br-{a['Id'][:12]}" not in bridges and f"br-{b['Id'][:12]}" not in bridges


@pytest.mark.parametrize("body,status,text", [
    ({"Name": "bridge"}, 409, "already exists"),
    ({"Name": "bad name!"}, 400, "invalid network name"),
    ({"Name": "ctlt-x", "Driver": "overlay"}, 404, "not found"),
    ({"Name": "ctlt-x", "IPAM": {"Config": [{"Subnet": "10.232.0.1/16"}]}}, 400, "10.232.0.0/16"),
    ({"Name": "ctlt-x", "IPAM": {"Config": [{"Subnet": "nonsense"}]}}, 400, "invalid"),
])
def test_bad_network_requests(d, body, status, text):
    got, out = d.json("POST", "/networks/create", body)
    assert got == status and text in out["message"], out
    assert d.json("GET", "/networks/ctlt-x")[0] == 404


def test_predefined_networks_and_prune(d):
    _, nets = d.json("GET", "/networks")
    names = {n["Name"]: n["Driver"] for n in nets}
    assert names["bridge"] == "bridge" and names["host"] == "host" and names["none"] == "null"
    status, body = d.json("DELETE", "/networks/bridge")
    assert status == 403, body
    assert d.json("POST", "/networks/create", {"Name": "ctlt-prune"})[0] == 201
    status, body = d.json("POST", "/networks/prune")
    assert status == 200 and body["NetworksDeleted"] == ["ctlt-prune"]


# ---- NAT to another network namespace ----------------------------------------------------------

@pytest.fixture
def outside_host():
    """A 'remote host': a network namespace joined to the host by a veth, serving HTTP."""
    tag = os.urandom(3).hex()
    ns, host_if, ns_if = f"ctlt-ext-{tag}", f"ctltx{tag}", f"ctlty{tag}"
    subnet_host, subnet_ns = "10.233.7.1", "10.233.7.2"
    cmds = [["ip", "netns", "add", ns],
            ["ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if],
            ["ip", "link", "set", ns_if, "netns", ns],
            ["ip", "addr", "add", f"{subnet_host}/24", "dev", host_if],
            ["ip", "link", "set", host_if, "up"],
            ["ip", "netns", "exec", ns, "ip", "addr", "add", f"{subnet_ns}/24", "dev", ns_if],
            ["ip", "netns", "exec", ns, "ip", "link", "set", ns_if, "up"],
            ["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"]]
    server = None
    try:
        for c in cmds:
            subprocess.run(c, check=True)
        root = f"/tmp/{ns}"
        os.makedirs(root, exist_ok=True)
        with open(f"{root}/index.html", "w") as f:
            f.write("from-outside\n")
        server = subprocess.Popen(["ip", "netns", "exec", ns, "busybox", "httpd", "-f", "-v", "-p", "8080", "-h", root],
                                  stderr=subprocess.PIPE, text=True)
        yield subnet_ns, server
    finally:
        if server:
            server.kill()
            server.wait()
        subprocess.run(["ip", "link", "del", host_if], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        subprocess.run(["rm", "-rf", f"/tmp/{ns}"])


def test_outbound_nat_reaches_another_namespace(d, outside_host):
    addr, _ = outside_host
    code, out, _ = sh(d, fetch(addr, 8080))
    assert (code, out) == (0, "from-outside\n")


def test_outbound_nat_works_with_forward_policy_drop(d, outside_host):
    """dockerd sets the iptables FORWARD policy to DROP; ctld's bridges keep working beside it."""
    addr, _ = outside_host
    policy = "ACCEPT"
    for line in subprocess.run(["iptables", "-w", "-S", "FORWARD"], capture_output=True, text=True).stdout.splitlines():
        if line.startswith("-P FORWARD"):
            policy = line.split()[2]
    subprocess.run(["iptables", "-w", "-P", "FORWARD", "DROP"], check=True)
    try:
        code, out, _ = sh(d, fetch(addr, 8080))
        assert (code, out) == (0, "from-outside\n")
    finally:
        subprocess.run(["iptables", "-w", "-P", "FORWARD", policy], check=True)


# ---- restart and cleanup -----------------------------------------------------------------------

def test_restart_keeps_published_ports_and_addresses(daemon):
    import_busybox(daemon)
    port = free_tcp_port()
    cid = web_server(daemon, HostConfig={"PortBindings": {"8000/tcp": [{"HostPort": str(port)}]}})
    ip = network_settings(daemon, cid)["IPAddress"]
    assert http_get("127.0.0.1", port).strip() == "hello-web"
    daemon.restart()
    assert http_get("127.0.0.1", port).strip() == "hello-web"
    assert network_settings(daemon, cid)["IPAddress"] == ip
    # The address is still taken: a new container gets another one.
    other = create(daemon, ["sleep", "30"])
    start(daemon, other)
    assert network_settings(daemon, other)["IPAddress"] != ip
    # And the port is still held: publishing it again conflicts.
    third = create(daemon, ["sleep", "30"], HostConfig={"PortBindings": {"80/tcp": [{"HostPort": str(port)}]}})
    status, _, body = daemon.api("POST", f"/containers/{third}/start")
    assert status != 204 and b"already allocated" in body
    for c in (cid, other, third):
        remove(daemon, c)
    links, _, _ = daemon.network_leftovers()
    assert [l for l in links if l.startswith("veth")] == []
    rules = subprocess.run(["nft", "list", "table", "ip", daemon.nft_table], capture_output=True, text=True).stdout
    assert "dnat" not in rules


def test_nothing_remains_after_rm_f(d):
    port = free_tcp_port()
    ids = [web_server(d, HostConfig={"PortBindings": {"8000/tcp": [{"HostPort": str(port)}]}})]
    ids += [create(d, ["sleep", "30"]) for _ in range(2)]
    for cid in ids[1:]:
        start(d, cid)
    for cid in ids:
        assert d.api("DELETE", f"/containers/{cid}?force=1")[0] == 204
    links, _, _ = d.network_leftovers()
    assert [l for l in links if l.startswith("veth")] == []
    rules = subprocess.run(["nft", "list", "table", "ip", d.nft_table], capture_output=True, text=True).stdout
    assert f"dport {port}" not in rules
    assert not os.listdir(os.path.join(d.exec_root, "netns"))
    _, bridge = d.json("GET", "/networks/bridge")
    assert not set(ids) & set(bridge["Containers"])


# ---- name resolution -----------------------------------------------------------------------------

def test_names_and_aliases_resolve_on_user_networks_only(d):
    assert d.json("POST", "/networks/create", {"Name": "ctlt-dns"})[0] == 201
    assert d.json("POST", "/networks/create", {"Name": "ctlt-dns-other"})[0] == 201
    server = None
    try:
        server = web_server(d, text="by-name", port=80, name="ctlt-named",
                            HostConfig={"NetworkMode": "ctlt-dns"},
                            NetworkingConfig={"EndpointsConfig": {"ctlt-dns": {"Aliases": ["backend"]}}})
        ip = network_settings(d, server)["Networks"]["ctlt-dns"]["IPAddress"]
        script = ("cat /etc/resolv.conf; nslookup ctlt-named | grep Address: | tail -1; "
                  "nslookup BACKEND | grep Address: | tail -1; "
                  + fetch("backend", 80))
        code, out, _ = sh(d, script, HostConfig={"NetworkMode": "ctlt-dns"})
        assert code == 0, out
        assert out.startswith("nameserver 127.0.0.11\n")
        assert out.count(f"Address: {ip}") == 2 and out.rstrip().endswith("by-name"), out
        # Another network does not see the name; the default bridge has no embedded DNS.
        code, out, _ = sh(d, "nslookup ctlt-named 127.0.0.11 >/dev/null 2>&1 && echo found || echo missing",
                          HostConfig={"NetworkMode": "ctlt-dns-other"})
        assert out.strip() == "missing"
        code, out, _ = sh(d, "grep -c 127.0.0.11 /etc/resolv.conf || true")
        assert out.strip() == "0"
    finally:
        if server:
            remove(d, server)
        d.api("DELETE", "/networks/ctlt-dns")
        d.api("DELETE", "/networks/ctlt-dns-other")


FAKE_DNS = """
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
print("ready", flush=True)
while True:
    q, peer = s.recvfrom(512)
    # Header: same id, response + recursion available, one question, one answer.
    end = 12
    while q[end] != 0:
        end += q[end] + 1
    question = q[12:end + 5]
    answer = b"\\xc0\\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton("10.99.88.77")
    s.sendto(q[:2] + b"\\x81\\x80" + struct.pack(">HHHH", 1, 1, 0, 0) + question + answer, peer)
"""


def test_other_names_are_forwarded_to_the_upstream_resolvers(daemon_factory):
    """ctld --dns: an upstream resolver on a loopback address answers what the engine does not know."""
    upstream = "127.77.0.1"
    server = subprocess.Popen(["/usr/bin/python3", "-c", FAKE_DNS, upstream], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        d = daemon_factory(["--dns", upstream])
        import_busybox(d)
        assert d.json("POST", "/networks/create", {"Name": "ctlt-fwd"})[0] == 201
        code, out, _ = sh(d, "nslookup upstream.example 2>&1 | grep Address: | tail -1",
                          HostConfig={"NetworkMode": "ctlt-fwd"})
        assert "10.99.88.77" in out, out
        d.api("DELETE", "/networks/ctlt-fwd")
    finally:
        server.kill()
        server.wait()


def test_connect_and_disconnect_a_running_container(d):
    assert d.json("POST", "/networks/create", {"Name": "ctlt-join"})[0] == 201
    server = client = None
    try:
        server = web_server(d, text="joined", port=80, name="ctlt-joined", HostConfig={"NetworkMode": "ctlt-join"})
        client = create(d, ["sleep", "60"], name="ctlt-joiner")
        start(d, client)
        status, body = d.json("POST", "/networks/ctlt-join/connect",
                              {"Container": "ctlt-joiner", "EndpointConfig": {"Aliases": ["late"]}})
        assert status == 200, body
        nets = network_settings(d, client)["Networks"]
        assert set(nets) == {"bridge", "ctlt-join"} and nets["ctlt-join"]["IPAddress"]
        # The new interface and name resolution work inside the running container.
        script = "(ip -o link | grep -c eth1; " + fetch("ctlt-joined", 80) + ") > /proc/1/fd/1 2>&1"
        ex = d.json("POST", f"/containers/{client}/exec", {"Cmd": ["sh", "-c", script]})[1]
        assert d.api("POST", f"/exec/{ex['Id']}/start", {"Detach": True})[0] == 200
        for _ in range(50):
            out, _ = demux(logs(d, client))
            if b"joined" in out:
                break
            time.sleep(0.1)
        assert out == b"1\njoined\n", out
        # Twice: 403; then disconnect removes the endpoint and the interface.
        assert d.json("POST", "/networks/ctlt-join/connect", {"Container": client})[0] == 403
        status, body = d.json("POST", "/networks/ctlt-join/disconnect", {"Container": client})
        assert status == 200, body
        assert set(network_settings(d, client)["Networks"]) == {"bridge"}
        _, info = d.json("GET", "/networks/ctlt-join")
        assert client not in info["Containers"]
        # Connected while stopped: joined at the next start.
        stopped = create(d, ["sh", "-c", "ip -o link | cut -d: -f2"], name="ctlt-later")
        assert d.json("POST", "/networks/ctlt-join/connect", {"Container": stopped})[0] == 200
        start(d, stopped)
        wait(d, stopped)
        out, _ = demux(logs(d, stopped))
        assert [name.split(b"@")[0] for name in out.split()] == [b"lo", b"eth0", b"eth1"], out
        remove(d, stopped)
    finally:
        for cid in (server, client):
            if cid:
                remove(d, cid)
        d.api("DELETE", "/networks/ctlt-join")


def test_mac_address_and_generated_etc_files(d):
    code, out, _ = sh(d, "cat /sys/class/net/eth0/address; hostname; cat /etc/hostname; grep -v '^#' /etc/hosts | tail -2",
                      Hostname="ctlt-host", MacAddress="02:42:ac:99:00:07",
                      HostConfig={"ExtraHosts": ["db.local:10.1.2.3"], "Dns": ["10.9.9.9"], "DnsSearch": ["corp.example"]})
    lines = out.splitlines()
    assert code == 0 and lines[0] == "02:42:ac:99:00:07" and lines[1] == lines[2] == "ctlt-host", out
    assert "10.1.2.3\tdb.local" in out and out.rstrip().endswith("ctlt-host"), out
    code, out, _ = sh(d, "cat /etc/resolv.conf", HostConfig={"Dns": ["10.9.9.9"], "DnsSearch": ["corp.example"]})
    assert "nameserver 10.9.9.9" in out and "search corp.example" in out, out
