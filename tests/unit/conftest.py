"""Unit tests run in this process only: a test here that starts a child
process belongs in tests/integration, where it is marked `integration`.
The guard lets the standard library's `uname` probe through (pandas and
pvlib ask `platform` for the processor name on import)."""
from __future__ import annotations

import subprocess

import pytest

_ALLOWED = {"uname"}
_real_init = subprocess.Popen.__init__


@pytest.fixture(autouse=True)
def _no_child_processes(monkeypatch):
    def guarded(self, args, *rest, **kwargs):
        program = args[0] if isinstance(args, (list, tuple)) and args else args
        if str(program).rsplit("/", 1)[-1] not in _ALLOWED:
            raise AssertionError(f"a unit test started {program!r}; move it to tests/integration")
        _real_init(self, args, *rest, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "__init__", guarded)
