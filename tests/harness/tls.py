"""Test certificates made with the openssl CLI: a CA, a server certificate for 127.0.0.1 and
client certificates, as the TLS tests of ctld, ctl and the docker CLI need them."""
import os
import subprocess

from harness.ctld import free_port


def make_certs(directory, ca="ca", clients=("client",)):
    """Writes <ca>.pem/<ca>-key.pem, server-cert.pem/server-key.pem (SAN IP:127.0.0.1) and
    <client>-cert.pem/<client>-key.pem for each client into directory."""
    def run(*args):
        subprocess.run(args, check=True, capture_output=True, cwd=directory, timeout=60)

    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN=ctl-test-{ca}",
        "-keyout", f"{ca}-key.pem", "-out", f"{ca}.pem")
    names = [("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth")]
    names += [(c, "extendedKeyUsage=clientAuth") for c in clients]
    for name, ext in names:
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", f"{name}-key.pem",
            "-out", f"{name}.csr")
        with open(os.path.join(directory, f"{name}.ext"), "w") as f:
            f.write(ext + "\n")
        run("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}-key.pem",
            "-CAcreateserial", "-days", "2", "-out", f"{name}-cert.pem", "-extfile", f"{name}.ext")


def start_tls_daemon(daemon_factory):
    """A ctld with --tlsverify on tcp://127.0.0.1:<free port> beside its unix socket. Sets
    .port and .certs (ca.pem, server-*, client-* from ca; stranger-* signed by another CA)."""
    d = daemon_factory(start=False)
    certs = os.path.join(d.dir, "certs")
    os.mkdir(certs)
    make_certs(certs)
    other = os.path.join(d.dir, "other-ca")
    os.mkdir(other)
    make_certs(other, ca="other", clients=("stranger",))
    for f in ("stranger-cert.pem", "stranger-key.pem"):
        os.rename(os.path.join(other, f), os.path.join(certs, f))
    d.port = free_port()
    d.certs = certs
    p = lambda n: os.path.join(certs, n)  # noqa: E731
    d.extra_args = ["--host", f"tcp://127.0.0.1:{d.port}", "--tlsverify", "--tlscacert", p("ca.pem"),
                    "--tlscert", p("server-cert.pem"), "--tlskey", p("server-key.pem")]
    d.start()
    return d
