"""Shared fixtures: a signer, and real devnet processes."""
from __future__ import annotations

from pathlib import Path

import pytest

from sawgrid.clients.sdk import keys
from sawgrid.clients.sdk.devnet_process import DevnetProcess


@pytest.fixture
def signer():
    return keys.signer_for(keys.new_private_key())


@pytest.fixture
def make_devnet(tmp_path):
    """Factory: make_devnet(processors=True, extra=(...), data_dir=...) -> started DevnetProcess."""
    started: list[DevnetProcess] = []

    def factory(processors: bool = True, extra: tuple[str, ...] = (), data_dir: Path | None = None) -> DevnetProcess:
        net = DevnetProcess(data_dir=data_dir or tmp_path / "data", key_dir=tmp_path / "keys",
                            processors=processors, extra=extra, log_path=tmp_path / "devnet.log")
        started.append(net)
        return net.start()

    yield factory
    for net in started:
        net.stop()


@pytest.fixture
def devnet(make_devnet):
    """A devnet with Sawgrid's processors."""
    return make_devnet(processors=True)


@pytest.fixture(autouse=True)
def _isolated_key_dir(tmp_path, monkeypatch):
    """Never touch the user's ~/.sawtooth/keys from tests."""
    monkeypatch.setenv(keys.KEY_DIR_ENV, str(tmp_path / "keys"))
