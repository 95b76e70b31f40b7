"""Integration tests start processes (devnet, processors, the CLI): all are
marked `integration`, so `pytest -m "not integration"` runs the unit tests alone."""
from __future__ import annotations

import pathlib

import pytest

HERE = pathlib.Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in pathlib.Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)
