import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness.ctld import Daemon  # noqa: E402


@pytest.fixture
def daemon():
    d = Daemon()
    try:
        yield d
    finally:
        leaked = d.cleanup()
        assert not leaked, f"mounts left behind: {leaked}"


@pytest.fixture(scope="module")
def shared_daemon():
    """One daemon for a module of read-only tests."""
    d = Daemon()
    try:
        yield d
    finally:
        leaked = d.cleanup()
        assert not leaked, f"mounts left behind: {leaked}"
