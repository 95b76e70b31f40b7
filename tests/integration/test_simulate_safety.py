"""`sawgrid simulate` is safe by default: it never inherits a network from
$SAWGRID_URL, refuses runs too short to compare anything, and leaves no
throw-away ledger behind unless asked to keep it; the devnet and the ledger
sync it starts stop with it however it ends."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import proc_tree

STOP_BOUND = 30  # seconds: a process that takes longer has hung


def _simulate(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sawgrid.clients.cli", "simulate", *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def test_too_few_days_are_refused_with_the_reason():
    result = _simulate("--fast", "--days", "2")
    assert result.returncode == 1
    assert result.stderr.strip() == ("sawgrid: error: --days: at least 3, got 2 (the PAR engine recommends from "
                                     "day 3 on, after two days of history, so shorter runs compare nothing)")


def test_sawgrid_url_is_ignored_and_the_chain_is_thrown_away(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    # A network that would be used if the variable were honoured: nothing listens there,
    # so a run against it would fail instead of completing on its own devnet.
    env = {**os.environ, "SAWGRID_URL": "http://127.0.0.1:9", "TMPDIR": str(tmp)}
    out = tmp_path / "run"
    result = _simulate("--participants", "3", "--days", "3", "--out", str(out), "--json", env=env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["config"]["mode"] == "full stack (devnet)"
    assert "ignoring $SAWGRID_URL" in result.stderr
    assert not (out / "chain").exists(), "the ledger is not kept in the results"
    assert list(tmp.iterdir()) == [], "the temporary ledger is removed at the end"


def test_keep_chain_keeps_the_ledger_in_the_results(tmp_path):
    out = tmp_path / "run"
    result = _simulate("--participants", "2", "--days", "3", "--out", str(out), "--keep-chain", "--json")
    assert result.returncode == 0, result.stderr
    assert (out / "chain" / "data").is_dir()
    assert any(Path(out / "chain" / "data").iterdir())


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_the_devnet_and_the_ledger_sync_stop_with_the_simulation(tmp_path, sig):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it), SIGTERM
    or kill -9 of the simulation mid-run: its devnet (and devnet's processors)
    and its `sawgrid sync` child are gone afterwards."""
    out = tmp_path / "run"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    with open(tmp_path / "simulate.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "sawgrid.clients.cli", "simulate", "--participants", "3",
                                 "--days", "3", "--out", str(out)], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, "TMPDIR": str(tmp)})
    try:
        deadline = time.monotonic() + 120
        sync_log = out / "sync.log"
        while not (sync_log.exists() and "subscribed to" in sync_log.read_text(errors="replace")):
            assert proc.poll() is None, (tmp_path / "simulate.log").read_text()
            assert time.monotonic() < deadline, "the ledger sync did not subscribe"
            time.sleep(0.1)
        children = proc_tree.descendants(proc.pid)
        commands = " ".join(proc_tree.cmdline(pid) for pid in children)
        assert " sync " in commands and " devnet " in commands, commands
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        proc.wait(STOP_BOUND)
        assert proc_tree.wait_gone(children, STOP_BOUND) == [], [proc_tree.describe(p) for p in children]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if sig != signal.SIGKILL:   # it could clean up: no traceback, and the throw-away ledger is gone
        text = (tmp_path / "simulate.log").read_text(errors="replace")
        assert "Traceback" not in text, text
        assert list(tmp.iterdir()) == []
        assert proc.returncode == (130 if sig == signal.SIGINT else 128 + signal.SIGTERM), text


@pytest.mark.parametrize("sig", [None, signal.SIGTERM], ids=["to the end", "SIGTERM"])
def test_fast_keeps_its_chain_on_disk_and_removes_it(tmp_path, sig):
    """`--fast` keeps the in-process chain's state in an LMDB file under
    $TMPDIR while it runs (a town's week is more than memory), and removes
    it when the run ends, at its end or on SIGTERM."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    with open(tmp_path / "simulate.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "sawgrid.clients.cli", "simulate", "--fast", "--participants",
                                 "3", "--days", "3", "--out", str(tmp_path / "run")], stdout=log,
                                stderr=subprocess.STDOUT, env={**os.environ, "TMPDIR": str(tmp)})
    try:
        deadline = time.monotonic() + 120
        while not list(tmp.glob("sawgrid-simulate-fast-*/data.mdb")):
            assert proc.poll() is None, (tmp_path / "simulate.log").read_text()
            assert time.monotonic() < deadline, "no state file appeared"
            time.sleep(0.05)
        if sig is not None:
            proc.send_signal(sig)
        proc.wait(300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = (tmp_path / "simulate.log").read_text(errors="replace")
    assert "Traceback" not in text, text
    assert proc.returncode == (0 if sig is None else 128 + sig), text
    assert list(tmp.iterdir()) == [], "the in-process chain is removed"
