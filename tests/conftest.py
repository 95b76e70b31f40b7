"""Shared fixtures: a signer, and real devnet processes. And the rule that a
test run leaves no process behind (see `pytest_sessionfinish`)."""
from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import pytest

from sawgrid.clients.sdk import keys
from sawgrid.clients.sdk.devnet_process import DevnetProcess

sys.path.append(str(Path(__file__).parent / "integration"))
import proc_tree  # noqa: E402

# Every process this run starts inherits this variable, so the end-of-run
# check finds them even after they were orphaned (reparented away from us).
SESSION_ENV = "SAWGRID_TEST_SESSION"
SESSION_TOKEN = secrets.token_hex(8)
os.environ[SESSION_ENV] = SESSION_TOKEN
EXIT_GRACE = 10.0  # seconds for processes still stopping when the run ends


@pytest.fixture
def signer():
    return keys.signer_for(keys.new_private_key())


@pytest.fixture
def make_devnet(tmp_path):
    """Factory: make_devnet(processors=True, extra=(...), data_dir=...) -> started DevnetProcess.
    At teardown every devnet is stopped, and so is anything it left running."""
    started: list[DevnetProcess] = []

    def factory(processors: bool = True, extra: tuple[str, ...] = (), data_dir: Path | None = None) -> DevnetProcess:
        net = DevnetProcess(data_dir=data_dir or tmp_path / "data", key_dir=tmp_path / "keys",
                            processors=processors, extra=extra, log_path=tmp_path / "devnet.log")
        started.append(net)
        return net.start()

    yield factory
    for net in started:
        children = proc_tree.descendants(net.proc.pid) if net.proc is not None else []
        net.stop()
        proc_tree.kill(proc_tree.wait_gone(children, EXIT_GRACE))


@pytest.fixture
def devnet(make_devnet):
    """A devnet with Sawgrid's processors."""
    return make_devnet(processors=True)


@pytest.fixture(autouse=True)
def _isolated_key_dir(tmp_path, monkeypatch):
    """Never touch the user's ~/.sawtooth/keys from tests."""
    monkeypatch.setenv(keys.KEY_DIR_ENV, str(tmp_path / "keys"))


def _left_running() -> list[int]:
    """Processes this run started that still run: our descendants, and orphans
    that carry this run's SESSION_ENV (never another run's or anyone else's)."""
    me = os.getpid()
    found = set(proc_tree.descendants(me)) | set(proc_tree.with_environment(f"{SESSION_ENV}={SESSION_TOKEN}"))
    found.discard(me)
    return sorted(found)


def pytest_sessionfinish(session, exitstatus):
    """Fail the run if a process it started is still running; then kill it."""
    left = proc_tree.wait_gone(_left_running(), EXIT_GRACE)
    left = [p for p in left if proc_tree.alive(p)]
    if not left:
        return
    described = [proc_tree.describe(p) for p in left]
    proc_tree.kill(left)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"{len(left)} process(es) started by this test run still ran at its end (now killed):",
             *described]
    if reporter is not None:
        reporter.write("\n")
        reporter.write_sep("=", "processes left running", red=True)
        for line in lines:
            reporter.write_line(line)
    else:
        print("\n".join(lines), file=sys.stderr)
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
