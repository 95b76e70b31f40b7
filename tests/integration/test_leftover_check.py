"""tests/conftest.py fails a test run that leaves a process running, names
it, and kills it: a child never waited for, and an orphan (reparented away
from pytest, found by the run's SAWGRID_TEST_SESSION variable)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import proc_tree

TESTS = Path(__file__).resolve().parents[1]

LEAKING = '''
import subprocess
from pathlib import Path

OUT = Path({out!r})


def test_leaves_a_child():
    child = subprocess.Popen(["sleep", "300"])
    (OUT / "child.pid").write_text(str(child.pid))


def test_leaves_an_orphan():
    subprocess.run(["sh", "-c", "sleep 301 & echo $! > {out}/orphan.pid"], check=True)
'''

CLEAN = '''
import subprocess


def test_waits_for_its_child():
    subprocess.run(["true"], check=True)
'''


def _run(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    tests = tmp_path / "tests"
    (tests / "integration").mkdir(parents=True)
    shutil.copy(TESTS / "conftest.py", tests / "conftest.py")
    shutil.copy(TESTS / "integration" / "proc_tree.py", tests / "integration" / "proc_tree.py")
    (tests / "test_it.py").write_text(body.format(out=str(tmp_path)))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=180)


def test_a_run_that_leaves_processes_running_fails_and_kills_them(tmp_path):
    result = _run(tmp_path, LEAKING)
    pids = [int((tmp_path / name).read_text()) for name in ("child.pid", "orphan.pid")]
    left = proc_tree.wait_gone(pids, 10)
    proc_tree.kill(left)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "processes left running" in result.stdout
    assert "sleep 300" in result.stdout and "sleep 301" in result.stdout
    assert left == []


def test_a_clean_run_passes(tmp_path):
    result = _run(tmp_path, CLEAN)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "processes left running" not in result.stdout
