"""ctl's network commands end to end: the real ctl against a real ctld with busybox containers:
network create/ls/inspect/rm/prune/connect/disconnect, ctl port, and --add-host host-gateway,
with docker's output shapes and exit codes (125 plus one line on stderr for engine errors)."""
import json
import re
import time

import pytest

from harness.cli import ok, one_error_line
from harness.containers import import_busybox


@pytest.fixture(scope="module")
def d(shared_daemon):
    import_busybox(shared_daemon)
    return shared_daemon


def unique(prefix):
    return f"{prefix}{time.monotonic_ns() % 10**9}"


@pytest.fixture
def cleanup(d):
    """Containers and networks a test made, removed even when it fails."""
    made = {"containers": [], "networks": []}
    yield made
    for c in made["containers"]:
        d.ctl("rm", "-f", c)
    for n in made["networks"]:
        d.ctl("network", "rm", n)


def test_network_create_ls_inspect_rm(d, cleanup):
    name = unique("ctlnet")
    cleanup["networks"].append(name)
    nid = ok(d.ctl("network", "create", "--subnet", "10.231.7.0/24", "--gateway", "10.231.7.1",
                   "--label", "team=blue", name)).strip()
    assert re.fullmatch(r"[0-9a-f]{64}", nid), nid

    # ls: a table with the short id, and -q / --filter / --format like docker's.
    table = ok(d.ctl("network", "ls"))
    assert table.splitlines()[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    row = [l for l in table.splitlines() if name in l]
    assert row and row[0].split()[:4] == [nid[:12], name, "bridge", "local"], table
    assert nid[:12] in ok(d.ctl("network", "ls", "-q")).split()
    assert ok(d.ctl("network", "ls", "-q", "--filter", "label=team=blue")).split() == [nid[:12]]
    assert ok(d.ctl("network", "ls", "--filter", f"name={name}", "--format", "{{.Name}} {{.Driver}}")).strip() == \
        f"{name} bridge"
    # The built-in networks are listed too.
    names = ok(d.ctl("network", "ls", "--format", "{{.Name}}")).split()
    assert {"bridge", "host", "none"} <= set(names)

    info = json.loads(ok(d.ctl("network", "inspect", name)))
    assert isinstance(info, list) and len(info) == 1
    assert info[0]["Id"] == nid and info[0]["Name"] == name and info[0]["Labels"] == {"team": "blue"}
    assert info[0]["IPAM"]["Config"][0]["Subnet"] == "10.231.7.0/24"
    assert info[0]["IPAM"]["Config"][0]["Gateway"] == "10.231.7.1"
    assert ok(d.ctl("network", "inspect", "--format", "{{.Driver}}", name)).strip() == "bridge"

    # A second network with the same name is refused; so is a clashing subnet.
    assert "already exists" in one_error_line(d.ctl("network", "create", name))
    other = unique("ctlclash")
    cleanup["networks"].append(other)
    assert one_error_line(d.ctl("network", "create", "--subnet", "10.231.7.0/24", other))

    assert ok(d.ctl("network", "rm", name)).strip() == name
    assert "not found" in one_error_line(d.ctl("network", "inspect", name)).lower()
    assert "not found" in one_error_line(d.ctl("network", "rm", name)).lower()


def test_connect_disconnect_and_rm_in_use(d, cleanup):
    net = unique("ctlconn")
    cleanup["networks"].append(net)
    ok(d.ctl("network", "create", "--subnet", "10.231.8.0/24", net))
    box = unique("ctlbox")
    cleanup["containers"].append(box)
    ok(d.ctl("run", "-d", "--name", box, "busybox", "sleep", "600"))

    ok(d.ctl("network", "connect", "--alias", "db", "--ip", "10.231.8.50", net, box))
    nets = json.loads(ok(d.ctl("inspect", "--format", "{{json .NetworkSettings.Networks}}", box)))
    assert nets[net]["IPAddress"] == "10.231.8.50"
    assert "db" in nets[net]["Aliases"]
    # The address really is inside the container.
    assert "10.231.8.50/24" in ok(d.ctl("exec", box, "ip", "-4", "addr"))
    members = json.loads(ok(d.ctl("network", "inspect", "--format", "{{json .Containers}}", net)))
    assert any(m["Name"] == box for m in members.values()), members

    # In use: rm refuses with a clear line and keeps the network.
    line = one_error_line(d.ctl("network", "rm", net))
    assert "active endpoints" in line
    assert ok(d.ctl("network", "inspect", "--format", "{{.Name}}", net)).strip() == net

    ok(d.ctl("network", "disconnect", net, box))
    nets = json.loads(ok(d.ctl("inspect", "--format", "{{json .NetworkSettings.Networks}}", box)))
    assert net not in nets
    assert "10.231.8.50" not in ok(d.ctl("exec", box, "ip", "-4", "addr"))
    ok(d.ctl("network", "rm", net))

    # Unknown names are one clear line each.
    assert "not found" in one_error_line(d.ctl("network", "connect", "no-such-net", box)).lower()
    assert one_error_line(d.ctl("network", "disconnect", "bridge", "no-such-container"))


def test_network_prune(d, cleanup):
    unused, used = unique("ctlprune"), unique("ctlkeep")
    cleanup["networks"] += [unused, used]
    ok(d.ctl("network", "create", unused))
    ok(d.ctl("network", "create", used))
    box = unique("ctlpbox")
    cleanup["containers"].append(box)
    ok(d.ctl("run", "-d", "--name", box, "--network", used, "busybox", "sleep", "600"))

    out = ok(d.ctl("network", "prune", "-f"))
    assert unused in out and used not in out
    remaining = ok(d.ctl("network", "ls", "--format", "{{.Name}}")).split()
    assert unused not in remaining and used in remaining
    assert {"bridge", "host", "none"} <= set(remaining)  # never pruned


def test_ctl_port(d, cleanup):
    box = unique("ctlport")
    cleanup["containers"].append(box)
    ok(d.ctl("run", "-d", "--name", box, "-p", "127.0.0.1::80", "-p", "18931:81/udp", "busybox", "sleep", "600"))
    lines = ok(d.ctl("port", box)).splitlines()
    tcp = [l for l in lines if l.startswith("80/tcp -> ")]
    assert len(tcp) == 1 and re.fullmatch(r"80/tcp -> 127\.0\.0\.1:\d+", tcp[0]), lines
    assert "81/udp -> 0.0.0.0:18931" in lines
    host_port = tcp[0].rsplit(":", 1)[1]
    # One port (and its protocol) answers with just the bindings, like docker port.
    assert ok(d.ctl("port", box, "80")).strip() == f"127.0.0.1:{host_port}"
    assert ok(d.ctl("port", box, "81/udp")).strip() == "0.0.0.0:18931"
    # Same as inspect says.
    ports = json.loads(ok(d.ctl("inspect", "--format", "{{json .NetworkSettings.Ports}}", box)))
    assert ports["80/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": host_port}]
    r = d.ctl("port", box, "9999")
    assert r.returncode != 0 and "no public port" in r.stderr.lower()


def test_add_host_host_gateway_is_the_bridge_gateway(d, cleanup):
    gateway = json.loads(ok(d.ctl("network", "inspect", "bridge")))[0]["IPAM"]["Config"][0]["Gateway"]
    box = unique("ctlgw")
    cleanup["containers"].append(box)
    out = ok(d.ctl("run", "--name", box, "--add-host", "host.docker.internal:host-gateway", "busybox",
                   "cat", "/etc/hosts"))
    assert f"{gateway}\thost.docker.internal" in out.splitlines(), out
