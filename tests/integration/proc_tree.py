"""Processes as /proc shows them (Linux; psutil is not a dependency): who is
alive, whose child it is, what it runs. Used by tests that check that
processes own their children, and by tests/conftest.py's end-of-run check
that the test run left nothing running."""
from __future__ import annotations

import os
import signal
import time
from typing import Iterable


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, ppid) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode(errors="replace")
    except OSError:
        return None
    fields = data.rsplit(")", 1)[1].split()  # the command name may contain spaces and ')'
    return fields[0], int(fields[1])


def pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def alive(pid: int) -> bool:
    """Running (a zombie has exited: it only waits to be reaped)."""
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def descendants(pid: int) -> list[int]:
    """Live children of `pid`, their children, and so on."""
    by_parent: dict[int, list[int]] = {}
    for p in pids():
        stat = _stat(p)
        if stat is not None and stat[0] not in ("Z", "X"):
            by_parent.setdefault(stat[1], []).append(p)
    found, todo = [], list(by_parent.get(pid, []))
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(by_parent.get(p, []))
    return sorted(found)


def catches(pid: int, sig: int) -> bool:
    """True once the process handles `sig` itself (SigCgt in /proc/PID/status)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    except OSError:
        pass
    return False


def describe(pid: int) -> str:
    """Command line, state and thread states: for failure messages."""
    try:
        with open(f"/proc/{pid}/status") as f:
            status = {k: v.strip() for k, _, v in (line.partition(":") for line in f)}
        threads = []
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                threads.append(f.read().rsplit(")", 1)[1].split()[0])
        with open(f"/proc/{pid}/wchan") as f:
            wchan = f.read()
    except OSError:
        return f"{pid}: gone"
    return (f"{pid} [{cmdline(pid)}] state {status.get('State')} ppid {status.get('PPid')} "
            f"threads {''.join(threads)} wchan {wchan}")


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def with_environment(entry: str) -> list[int]:
    """Live processes whose environment holds `entry` ("NAME=value"), orphans included."""
    wanted = entry.encode()
    found = []
    for p in pids():
        try:
            with open(f"/proc/{p}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if wanted in env and alive(p):
            found.append(p)
    return sorted(found)


def wait_gone(targets: Iterable[int], timeout: float) -> list[int]:
    """Wait until none of `targets` is alive, at most `timeout` seconds; return those still alive."""
    targets = list(targets)
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in targets if alive(p)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.1)


def kill(targets: Iterable[int], grace: float = 2.0) -> None:
    """SIGTERM, then SIGKILL whatever is still alive after `grace` seconds."""
    targets = [p for p in targets if alive(p)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in targets:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        targets = wait_gone(targets, grace)
        if not targets:
            return
