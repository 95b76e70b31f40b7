"""Shared fixtures: free ports, a signer, and a real devnet process."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from sawgrid.clients import keys
from sawgrid.clients.rest import RestClient, RestError


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def signer():
    return keys.signer_for(keys.new_private_key())


@dataclass
class DevnetProcess:
    """A `sawgrid devnet` child process and how to reach it."""

    data_dir: Path
    key_dir: Path
    rest_port: int
    component_port: int
    processors: bool
    extra: tuple[str, ...] = ()
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def component(self) -> str:
        return f"tcp://127.0.0.1:{self.component_port}"

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "sawgrid.clients.cli", "--key-dir", str(self.key_dir), "devnet",
               "--data-dir", str(self.data_dir), "--component", self.component,
               "--rest", f"127.0.0.1:{self.rest_port}", *self.extra]
        if self.processors:
            cmd.append("--processors")
        return cmd

    def start(self, timeout: float = 30) -> "DevnetProcess":
        log = open(self.data_dir.parent / "devnet.log", "ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        client = RestClient(self.url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"devnet exited with {self.proc.returncode}: {self.log()[-2000:]}")
            try:
                client.status()
                if client.head_id() is not None:
                    return self
            except RestError:
                pass
            time.sleep(0.1)
        raise RuntimeError("devnet did not come up: " + self.log()[-2000:])

    def log(self) -> str:
        return (self.data_dir.parent / "devnet.log").read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


@pytest.fixture
def make_devnet(tmp_path):
    """Factory: make_devnet(processors=True, extra=(...)) -> started DevnetProcess."""
    started = []

    def factory(processors: bool = True, extra: tuple[str, ...] = (), data_dir: Path | None = None,
                rest_port: int | None = None, component_port: int | None = None) -> DevnetProcess:
        net = DevnetProcess(
            data_dir=data_dir or tmp_path / "data",
            key_dir=tmp_path / "keys",
            rest_port=rest_port or free_port(),
            component_port=component_port or free_port(),
            processors=processors,
            extra=extra,
        )
        net.data_dir.mkdir(parents=True, exist_ok=True)
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
