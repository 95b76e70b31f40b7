"""Run `sawgrid devnet` as a child process: for tests, benchmarks and
`sawgrid simulate`, which all need a throw-away ledger on free loopback ports."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.sdk.rest import RestClient, RestError
from sawgrid.devnet.server import die_with_parent, stop_child
from sawgrid.processors import registry


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class DevnetProcess:
    """A devnet child process. `start()` returns once block 0 is committed and,
    with processors, once every family's setup (the market's operator) is on chain.

    The child gets SIGTERM when the thread that called `start()` dies (Linux
    PR_SET_PDEATHSIG), even if this process is killed with SIGKILL; devnet then
    stops its own processor children. Call `start()` from a thread that lives as
    long as the devnet should (normally the main thread)."""

    data_dir: Path
    key_dir: Path
    processors: bool = True
    extra: tuple[str, ...] = ()
    rest_port: int = field(default_factory=free_port)
    component_port: int = field(default_factory=free_port)
    log_path: Path | None = None
    env: dict[str, str] | None = None  # the child's environment (default: ours)
    new_session: bool = False  # own session and process group (then os.killpg(proc.pid, ...) is a Ctrl-C)
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

    def start(self, timeout: float = 60) -> "DevnetProcess":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.log_path is None:
            self.log_path = self.data_dir.parent / f"{self.data_dir.name}-devnet.log"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                         start_new_session=self.new_session, preexec_fn=die_with_parent())
        client = RestClient(self.url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SawgridError(f"devnet exited with code {self.proc.returncode}; log: {self.log_path}")
            try:
                if client.head_id() is not None and (not self.processors or not any(
                        step.needed(client.state) for step in registry.genesis_steps())):
                    return self
            except RestError:
                pass
            time.sleep(0.1)
        self.stop(signal.SIGKILL)
        raise SawgridError(f"devnet did not come up within {timeout:.0f} s; log: {self.log_path}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        """Signal the process and wait; kill it if it does not stop in time."""
        return stop_child(self.proc, sig, timeout)

    def __enter__(self) -> "DevnetProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
