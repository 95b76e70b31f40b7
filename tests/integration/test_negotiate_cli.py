"""`sawgrid negotiate` end to end: the CLI as a subprocess, on its own devnet and in process
(--fast), with 512-bit keys on a three-agent case whose one limited line binds.

Both runs execute the same transactions through the same handlers, so they must give the same
negotiation: iterations, trades, prices, welfare; the trades must reach the centralised optimum
within 0.1 % and become market contracts. Stopping a devnet run mid-way (SIGTERM, Ctrl-C) leaves
no devnet and no throw-away ledger behind.
"""
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

STOP_BOUND = 30
CASE = {
    "name": "tiny", "grid": "ieee14",
    "description": "two producers, one consumer; line 7-8 (S2's transformer) limited to 3 kW",
    "agents": [
        {"name": "S1", "bus": 2, "kind": "producer", "a": 0.04, "b": 1.0, "p_min": 1.0, "p_max": 7.0},
        {"name": "S2", "bus": 8, "kind": "producer", "a": 0.05, "b": 1.0, "p_min": 1.0, "p_max": 5.0},
        {"name": "B1", "bus": 4, "kind": "consumer", "a": 0.05, "b": 3.0, "p_min": -7.0, "p_max": -1.0},
    ],
    "line_limits_kw": {"7-8": 3.0},
    "params": {"eps_power": 0.001, "eps_price": 0.0001},
}


def negotiate(*args: str, env=None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sawgrid.clients.cli", "negotiate", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def case_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("case") / "tiny.json"
    path.write_text(json.dumps(CASE), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(case_file, tmp_path_factory):
    found = {}
    for mode in ("fast", "devnet"):
        out = tmp_path_factory.mktemp(mode)
        tmp = out / "tmp"
        tmp.mkdir()
        result = negotiate("--case", str(case_file), "--keysize", "512", "--no-sample", "--out", str(out / "run"),
                           "--json", *(["--fast"] if mode == "fast" else []), env={**os.environ, "TMPDIR": str(tmp)})
        assert result.returncode == 0, result.stderr[-3000:]
        found[mode] = (json.loads(result.stdout), result.stderr, out)
    return found


def test_devnet_and_fast_give_the_same_negotiation(runs):
    fast, devnet = runs["fast"][0], runs["devnet"][0]
    assert fast["mode"].startswith("in process") and devnet["mode"] == "devnet"
    for key in ("converged", "iterations", "trades_kw", "prices_usd_per_kw", "welfare_usd", "power_mismatch"):
        assert fast["result"][key] == devnet["result"][key], key
    assert fast["result"]["converged"] and len(fast["contracts"]) == len(devnet["contracts"]) == 2


def test_the_trades_reach_the_optimum_and_the_line_limit_binds(runs):
    doc = runs["devnet"][0]
    assert doc["optimum"]["gap_pct"] < 0.1
    # S2 sits behind line 7-8: without the limit it would sell more than 3 kW
    assert doc["result"]["trades_kw"]["S2-B1"] == pytest.approx(3.0, abs=0.01)
    assert abs(doc["result"]["line_flows_kw"]["7-8"]) <= 3.0 + 0.001
    assert doc["result"]["line_prices_usd_per_kw"]["7-8"] != 0


def test_progress_per_iteration_and_a_report(runs):
    doc, stderr, _ = runs["devnet"]
    lines = [line for line in stderr.splitlines() if line.startswith("iteration ")]
    assert len(lines) == doc["result"]["iterations"] and "power mismatch" in lines[0]
    report = Path(doc["report"])
    assert report.exists() and (report.parent / "convergence.png").exists()
    text = report.read_text()
    assert "encrypt" in text and "prove" in text
    assert doc["timings"]["encryptions"] > 0 and doc["timings"]["proofs"] > 0


def test_nothing_is_left_behind(runs):
    for mode in ("fast", "devnet"):
        assert list((runs[mode][2] / "tmp").iterdir()) == [], mode


def test_bad_input_is_one_line(case_file, tmp_path):
    for args, reason in ((["--case", "nope"], "--case: no case 'nope'"),
                         (["--case", str(case_file), "--keysize", "100"], "--keysize"),
                         (["--case", str(case_file), "--max-iterations", "0"], "--max-iterations")):
        result = negotiate(*args, "--fast", "--out", str(tmp_path / "x"), timeout=120)
        assert result.returncode != 0
        assert result.stderr.strip().splitlines()[-1].startswith("sawgrid: error: ") and reason in result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_stopping_a_devnet_run_stops_its_devnet(case_file, tmp_path, sig):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    log_path = tmp_path / "negotiate.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "sawgrid.clients.cli", "negotiate", "--case", str(case_file),
                                 "--keysize", "512", "--no-sample", "--out", str(tmp_path / "run")],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "TMPDIR": str(tmp)})
    try:
        deadline = time.monotonic() + 180
        while "iteration 3:" not in log_path.read_text(errors="replace"):
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "no third iteration"
            time.sleep(0.2)
        children = proc_tree.descendants(proc.pid)
        assert " devnet " in " ".join(proc_tree.cmdline(pid) for pid in children)
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
    assert list(tmp.iterdir()) == []
