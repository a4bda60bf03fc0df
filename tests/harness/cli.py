"""Assertions on a finished `ctl` command (a subprocess.CompletedProcess from Daemon.ctl)."""


def ok(r):
    """It succeeded: its stdout."""
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r.stdout


def one_error_line(r, code=125):
    """It failed the way ctl (and docker) fail: exit `code` and one line on stderr, returned."""
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]
