"""A per-test deadline for suites that drive a real devnet with hostile
input: a test that runs too long fails with TimeoutError instead of hanging
the run (SIGALRM; the main thread only)."""
from __future__ import annotations

import signal

import pytest


def deadline_fixture(seconds: int):
    """An autouse fixture failing any test of the module that runs longer than `seconds`."""

    @pytest.fixture(autouse=True)
    def _deadline():
        def expired(signum, frame):
            raise TimeoutError(f"test exceeded its {seconds} s deadline")

        previous = signal.signal(signal.SIGALRM, expired)
        signal.alarm(seconds)
        yield
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)

    return _deadline
