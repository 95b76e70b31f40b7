"""Sawgrid's processes own their children and stop cleanly: SIGINT (Ctrl-C,
sent to the whole process group as a terminal does) and SIGTERM stop
`sawgrid devnet --processors` and `sawgrid tp` with exit code 0 and no
traceback; `kill -9` of devnet takes its processor children with it; a
processor exits when the validator stays away only if asked to.

Waits are bounded so that a hang fails the test; nothing here measures speed."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

import proc_tree
from sawgrid.clients.sdk.devnet_process import DevnetProcess, free_port
from sawgrid.clients.sdk.kv import kv_batch
from sawgrid.clients.sdk.rest import RestClient

STOP_BOUND = 30  # seconds: a process that takes longer has hung
GONE_BOUND = 15  # seconds for orphaned children to notice and exit


def _tp(command: str, component: str, *extra: str, log) -> subprocess.Popen:
    """`sawgrid tp kv` or `python -m sawgrid.processors kv`, in its own process group."""
    prefix = {"sawgrid tp": [sys.executable, "-m", "sawgrid.clients.cli", "tp"],
              "python -m sawgrid.processors": [sys.executable, "-m", "sawgrid.processors"]}[command]
    return subprocess.Popen([*prefix, "kv", "--connect", component, *extra],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(STOP_BOUND)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_devnet_with_processors_stops_cleanly(tmp_path, signer, sig):
    net = DevnetProcess(data_dir=tmp_path / "data", key_dir=tmp_path / "keys", processors=True,
                        log_path=tmp_path / "devnet.log", new_session=True)
    net.start()
    try:
        RestClient(net.url).submit_and_wait([kv_batch(signer, "before-stop")], timeout=30)
        children = proc_tree.descendants(net.proc.pid)
        assert children, "devnet --processors runs a processor child"
        os.killpg(net.proc.pid, sig)  # as Ctrl-C does: the whole foreground group
        assert net.proc.wait(STOP_BOUND) == 0
        assert proc_tree.wait_gone(children, GONE_BOUND) == []
    finally:
        net.stop(signal.SIGKILL)
    log = net.log()
    assert "Traceback" not in log, log
    assert "KeyboardInterrupt" not in log, log
    assert "processors stopped" in log and "devnet stopped" in log


def test_ctrl_c_while_the_processors_start(tmp_path):
    """Ctrl-C reaches devnet alone (its children run in their own session), so
    a processor still importing is stopped by devnet, not interrupted mid-import."""
    net = DevnetProcess(data_dir=tmp_path / "data", key_dir=tmp_path / "keys", processors=True)
    log_path = tmp_path / "devnet.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(net.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # the moment the child's Python handles SIGINT, while it is still importing
        deadline = time.monotonic() + STOP_BOUND
        children: list[int] = []
        while time.monotonic() < deadline and proc.poll() is None:
            children = proc_tree.descendants(proc.pid)
            if (children and "sawgrid.processors" in proc_tree.cmdline(children[0])
                    and proc_tree.catches(children[0], signal.SIGINT)):
                break
            time.sleep(0.002)
        assert children, "devnet started its processor child"
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(STOP_BOUND) == 0
        assert proc_tree.wait_gone(children, GONE_BOUND) == []
    finally:
        _stop(proc)
    log = log_path.read_text()
    assert "Traceback" not in log and "KeyboardInterrupt" not in log, log


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
@pytest.mark.parametrize("command", ["sawgrid tp", "python -m sawgrid.processors"])
def test_processor_stops_cleanly(make_devnet, tmp_path, signer, command, sig):
    net = make_devnet(processors=False)
    log_path = tmp_path / "tp.log"
    with open(log_path, "wb") as log:
        tp = _tp(command, net.component, log=log)
    try:
        RestClient(net.url).submit_and_wait([kv_batch(signer, "served")], timeout=30)  # registered
        os.killpg(tp.pid, sig)
        assert tp.wait(STOP_BOUND) == 0
    finally:
        _stop(tp)
    log = log_path.read_text()
    assert "Traceback" not in log, log
    assert " ERROR " not in log, log
    assert "processors stopped" in log


def test_kill_9_of_devnet_takes_its_processors_with_it(make_devnet):
    net = make_devnet(processors=True)
    children = proc_tree.descendants(net.proc.pid)
    assert children
    net.stop(signal.SIGKILL)
    left = proc_tree.wait_gone(children, GONE_BOUND)
    described = [proc_tree.describe(p) for p in left]
    proc_tree.kill(left)  # clean up before failing
    assert left == [], described


def test_processor_leaves_when_the_parent_that_started_it_is_gone(tmp_path):
    """SAWGRID_PARENT_PID names the parent (devnet sets it); a processor whose
    parent is no longer that process (it was reparented) exits."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    env = dict(os.environ, SAWGRID_PARENT_PID=str(gone.pid))
    with open(tmp_path / "tp.log", "wb") as log:
        tp = subprocess.Popen([sys.executable, "-m", "sawgrid.processors", "kv", "--connect",
                               f"tcp://127.0.0.1:{free_port()}"], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        assert tp.wait(STOP_BOUND) == 1
    finally:
        _stop(tp)
    assert "parent process" in (tmp_path / "tp.log").read_text()


@pytest.mark.parametrize("command", ["sawgrid tp", "python -m sawgrid.processors"])
def test_exit_after_disconnect_when_no_validator_answers(tmp_path, command):
    with open(tmp_path / "tp.log", "wb") as log:
        tp = _tp(command, f"tcp://127.0.0.1:{free_port()}", "--exit-after-disconnect", "1", log=log)
    try:
        assert tp.wait(STOP_BOUND) == 1
    finally:
        _stop(tp)
    text = (tmp_path / "tp.log").read_text()
    assert "unreachable" in text and "Traceback" not in text, text


def test_exit_after_disconnect_when_the_validator_goes_away(make_devnet, tmp_path, signer):
    net = make_devnet(processors=False)
    with open(tmp_path / "tp.log", "wb") as log:
        tp = _tp("sawgrid tp", net.component, "--exit-after-disconnect", "2", log=log)
    try:
        RestClient(net.url).submit_and_wait([kv_batch(signer, "served")], timeout=30)
        assert tp.poll() is None, "connected and registered: it stays"
        net.stop(signal.SIGKILL)
        assert tp.wait(STOP_BOUND) == 1
    finally:
        _stop(tp)


def test_without_exit_after_disconnect_it_keeps_retrying(tmp_path, signer):
    """The SDK's behaviour: a processor waits for its validator, however long."""
    port = free_port()
    with open(tmp_path / "tp.log", "wb") as log:
        tp = _tp("sawgrid tp", f"tcp://127.0.0.1:{port}", log=log)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            tp.wait(3)
        late = DevnetProcess(data_dir=tmp_path / "late", key_dir=tmp_path / "keys", processors=False,
                             component_port=port, log_path=tmp_path / "late.log")
        with late:
            RestClient(late.url).submit_and_wait([kv_batch(signer, "late")], timeout=30)
        os.killpg(tp.pid, signal.SIGTERM)
        assert tp.wait(STOP_BOUND) == 0
    finally:
        _stop(tp)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_processor_stops_after_its_validator_died(make_devnet, tmp_path, signer, sig):
    """The SDK's own shutdown waits for the validator to come back before it
    unregisters, forever; Sawgrid's does not."""
    net = make_devnet(processors=False)
    with open(tmp_path / "tp.log", "wb") as log:
        tp = _tp("python -m sawgrid.processors", net.component, log=log)
    try:
        RestClient(net.url).submit_and_wait([kv_batch(signer, "served")], timeout=30)
        net.stop(signal.SIGKILL)
        os.killpg(tp.pid, sig)
        assert tp.wait(STOP_BOUND) == 0
    finally:
        _stop(tp)
    assert "Traceback" not in (tmp_path / "tp.log").read_text()


@pytest.mark.parametrize("target", ["devnet", "processor"])
def test_a_burst_of_signals_still_stops_cleanly(make_devnet, tmp_path, signer, target):
    """Signals can arrive together (devnet's SIGTERM and the parent-death
    SIGTERM; Ctrl-C pressed twice): a handler that takes a lock deadlocks."""
    if target == "devnet":
        net = DevnetProcess(data_dir=tmp_path / "data", key_dir=tmp_path / "keys", processors=True,
                            log_path=tmp_path / "out.log", new_session=True).start()
        proc, log_path = net.proc, net.log_path
    else:
        net = make_devnet(processors=False)
        log_path = tmp_path / "out.log"
        with open(log_path, "wb") as log:
            proc = _tp("python -m sawgrid.processors", net.component, log=log)
    try:
        RestClient(net.url).submit_and_wait([kv_batch(signer, "served")], timeout=30)
        deadline = time.monotonic() + STOP_BOUND
        while proc.poll() is None and time.monotonic() < deadline:  # signals until it has exited
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                break
            time.sleep(0.0005)
        assert proc.wait(STOP_BOUND) == 0
    finally:
        _stop(proc)
    assert "Traceback" not in log_path.read_text()


def test_stop_child_kills_a_child_that_ignores_sigterm_and_reports_exit_codes():
    """The helper every child's `stop()` uses (devnet, the sync child): a child
    that stops on SIGTERM gives its exit code; one that ignores it is killed
    once the grace period is over; a child already gone is not signalled."""
    from sawgrid.devnet.server import stop_child

    obeys = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    ignores = subprocess.Popen([sys.executable, "-c", "import signal, sys, time\n"
                                "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                                "sys.stdout.write('ready\\n'); sys.stdout.flush(); time.sleep(60)"],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert ignores.stdout.readline() == "ready\n"  # SIGTERM is ignored from here on
        assert stop_child(obeys) == -signal.SIGTERM
        assert stop_child(ignores, timeout=0.5) == -signal.SIGKILL
        assert stop_child(obeys) == -signal.SIGTERM  # gone already: its code again
        assert stop_child(None) == 0
    finally:
        for proc in (obeys, ignores):
            _stop(proc)
