"""A wrong-way import is caught: the layer contract is not a formality."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from source_copy import copy_source, env_for

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tmp):
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tmp, env=env_for(tmp),
                          capture_output=True, text=True, timeout=120)


def test_a_wrong_way_import_breaks_the_contract(tmp_path):
    package = copy_source(tmp_path)
    assert _lint(tmp_path).returncode == 0, "the copy itself keeps the contract"
    store = package / "devnet" / "store.py"
    store.write_text(store.read_text() + "\nfrom sawgrid.clients.sdk import rest  # noqa: wrong way\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "sawgrid.devnet is not allowed to import sawgrid.clients.sdk" in result.stdout
    assert "sawgrid.devnet.store -> sawgrid.clients.sdk.rest" in result.stdout
