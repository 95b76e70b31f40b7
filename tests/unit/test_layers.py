"""The layer contract in pyproject.toml holds for the code as it is."""
from __future__ import annotations

import logging
from pathlib import Path

from importlinter import cli

ROOT = Path(__file__).resolve().parents[2]


def test_layers_point_one_way(capsys):
    # import-linter's CLI configures logging with dictConfig, which disables
    # every logger that exists already; give them back to the other tests.
    loggers = [logging.getLogger(name) for name in logging.root.manager.loggerDict]
    disabled = {logger: logger.disabled for logger in loggers if isinstance(logger, logging.Logger)}
    try:
        code = cli.lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    finally:
        for logger, was in disabled.items():
            logger.disabled = was
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Sawgrid's layers KEPT" in out
