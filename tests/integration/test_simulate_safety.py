"""`sawgrid simulate` is safe by default: it never inherits a network from
$SAWGRID_URL, refuses runs too short to compare anything, and leaves no
throw-away ledger behind unless asked to keep it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


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
