"""A throw-away copy of Sawgrid's source as a regular `sawgrid` package, for
tests that change the code itself (a wrong-way import, a new family) and run
it in a child process with the copy first on PYTHONPATH."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOP_LEVEL = ("processors", "protos", "clients", "par_engine", "devnet")


def copy_source(tmp: Path) -> Path:
    """Copy the packages into `tmp/sawgrid/` (and pyproject.toml into `tmp`); return `tmp/sawgrid`."""
    package = tmp / "sawgrid"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""A test copy of Sawgrid."""\n')
    for top in TOP_LEVEL:
        shutil.copytree(ROOT / top, package / top, ignore=shutil.ignore_patterns("__pycache__"))
    # The installed package is a namespace of five folders, so the real
    # config names them as root packages; the copy is one regular package.
    config = re.sub(r"^root_packages = .*$", 'root_packages = ["sawgrid"]',
                    (ROOT / "pyproject.toml").read_text(), count=1, flags=re.M)
    (tmp / "pyproject.toml").write_text(config)
    return package


def env_for(tmp: Path) -> dict[str, str]:
    """The environment that makes a child import the copy instead of the installed package."""
    return {**os.environ, "PYTHONPATH": str(tmp)}
