"""The `sawgrid` command: exit codes and one-line errors, never a traceback."""
from __future__ import annotations

import json
import subprocess
import sys


def sawgrid(*args: str, env_key_dir=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sawgrid.clients.cli", *args],
                          capture_output=True, text=True, timeout=60)


def test_keygen_then_refuses_to_overwrite(tmp_path):
    ok = sawgrid("keygen", "--key-dir", str(tmp_path), "alice", "--json")
    assert ok.returncode == 0
    info = json.loads(ok.stdout)
    assert (tmp_path / "alice.pub").read_text().strip() == info["public_key"]
    again = sawgrid("--key-dir", str(tmp_path), "keygen", "alice")
    assert again.returncode == 1
    assert again.stderr.strip().count("\n") == 0 and "already exist" in again.stderr
    assert "Traceback" not in again.stderr


def test_unknown_family_is_a_one_line_error():
    result = sawgrid("tp", "no-such-family")
    assert result.returncode == 1
    from sawgrid.processors.registry import names

    assert result.stderr.strip() == f"sawgrid: error: unknown family 'no-such-family' (known: {', '.join(names())})"


def test_devnet_refuses_a_busy_port(make_devnet, tmp_path):
    net = make_devnet(processors=False)
    result = sawgrid("devnet", "--data-dir", str(tmp_path / "other"), "--component", net.component,
                     "--rest", "127.0.0.1:0")
    assert result.returncode == 1
    assert "cannot bind the component endpoint" in result.stderr and "Traceback" not in result.stderr
