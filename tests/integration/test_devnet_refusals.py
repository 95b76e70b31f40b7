"""Devnet refuses, in one line naming the cause, what would corrupt or confuse:
a second devnet on the same data folder, and a REST port that is taken."""
from __future__ import annotations

import socket
import subprocess
import sys

from sawgrid.clients.sdk.devnet_process import free_port


def _devnet(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sawgrid.clients.cli", "devnet", *args],
                          capture_output=True, text=True, timeout=60)


def test_a_second_devnet_on_the_same_data_folder_is_refused(make_devnet):
    net = make_devnet(processors=False)
    result = _devnet("--data-dir", str(net.data_dir), "--component", f"tcp://127.0.0.1:{free_port()}",
                     "--rest", f"127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert result.stderr.strip() == (f"sawgrid: error: another devnet (pid {net.proc.pid}) is using the data folder "
                                     f"{net.data_dir}; stop it or choose another --data-dir")
    assert net.proc.poll() is None, "the first devnet keeps running"


def test_a_taken_rest_port_is_named(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _devnet("--data-dir", str(tmp_path / "data"), "--component", f"tcp://127.0.0.1:{free_port()}",
                         "--rest", f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert result.stderr.strip() == (f"sawgrid: error: cannot serve the REST API on 127.0.0.1:{port}: the port is "
                                     f"in use (another devnet?); choose another with --rest HOST:PORT")
