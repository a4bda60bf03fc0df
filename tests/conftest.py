"""Fixtures every pytest suite under tests/ shares.

- `daemon`: a fresh ctld for one test (function scope).
- `shared_daemon`: one ctld for a whole module of tests that do not change engine state.
- `daemon_factory`: `daemon_factory(extra_args=[...], start=True, args=None)` for tests that need
  their own flags (TCP, TLS, config files); every daemon it made is cleaned up after the test.
- `tls_daemon`: a ctld that also serves tcp://127.0.0.1:<.port> with mutual TLS (certs in .certs).

Each daemon is checked on teardown (see harness.ctld.Daemon.cleanup): it must stop cleanly on
SIGTERM and leave no process or mount behind; otherwise the test errors with what was found
(after it has been removed). When a test fails, the daemon's log tail is printed with it.
"""
import os
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.ctld import CTL, CTLD, Daemon  # noqa: E402
from harness.tls import start_tls_daemon  # noqa: E402

DEFAULT_TIMEOUT = 300


def pytest_sessionstart(session):
    missing = [p for p in (CTLD, CTL) if not os.access(p, os.X_OK)]
    if missing:
        raise pytest.UsageError(f"not built: {', '.join(missing)} (set CTL_BUILD_DIR to the build directory)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


class PhaseTimeout(Exception):
    pass


def _limited(item, phase):
    marker = item.get_closest_marker("timeout")
    seconds = int(marker.args[0]) if marker else DEFAULT_TIMEOUT

    def on_alarm(signum, frame):
        raise PhaseTimeout(f"{phase} of {item.nodeid} took more than {seconds}s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    return old


def _unlimit(old):
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    old = _limited(item, "setup")
    try:
        yield
    finally:
        _unlimit(old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    old = _limited(item, "call")
    try:
        yield
    finally:
        _unlimit(old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item):
    old = _limited(item, "teardown")
    try:
        yield
    finally:
        _unlimit(old)


def _failed(request):
    rep = getattr(request.node, "rep_call", None) or getattr(request.node, "rep_setup", None)
    return rep is not None and rep.failed


def _finish(daemons, show_log):
    problems = []
    for d in daemons:
        if show_log:
            print(f"--- ctld log tail ({d.log_path}) ---\n{d.log_tail(60)}")
        for p in d.cleanup():
            problems.append(f"[{d.dir}] {p}")
    assert not problems, "\n".join(problems)


@pytest.fixture
def daemon(request):
    d = Daemon()
    yield d
    _finish([d], _failed(request))


@pytest.fixture
def daemon_factory(request):
    made = []

    def make(*args, **kwargs):
        d = Daemon(*args, **kwargs)
        made.append(d)
        return d

    yield make
    _finish(made, _failed(request))


@pytest.fixture
def tls_daemon(daemon_factory):
    """A ctld also listening on tcp://127.0.0.1:<.port> with --tlsverify; certificates in .certs
    (see harness.tls.start_tls_daemon)."""
    return start_tls_daemon(daemon_factory)


@pytest.fixture(scope="module")
def shared_daemon():
    d = Daemon()
    yield d
    _finish([d], False)


@pytest.fixture(autouse=True)
def _shared_daemon_survives(request):
    """A test that crashed the shared daemon fails itself, not a later test of the module."""
    yield
    if "shared_daemon" in request.fixturenames:
        d = request.getfixturevalue("shared_daemon")
        if _failed(request):
            print(f"--- shared ctld log tail ({d.log_path}) ---\n{d.log_tail(60)}")
        if not d.running():
            tail, code = d.log_tail(), d.proc.returncode
            d.expected_exit = True
            d.start()  # the module's later tests get a working daemon again
            pytest.fail(f"ctld died during this test (exit {code}):\n{tail}")
