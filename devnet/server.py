"""`sawgrid devnet`: wires store, component endpoint, executor, ledger, events
and REST API together, optionally with transaction processors as child
processes. What the chain is set up with and which processors run are given
in `DevnetConfig` by the application that starts devnet; devnet knows no
transaction family.

Processes (see README.md, "Processes"): devnet owns its processor children
however it ends. Each starts in its own session (so a Ctrl-C at the terminal
reaches devnet alone, which then stops it), with `PR_SET_PDEATHSIG` (Linux)
so that it gets SIGTERM if devnet dies, even by SIGKILL, and with
`SAWGRID_PARENT_PID` in its environment for children that also watch their
parent themselves (`sawgrid.processors` does). SIGINT and SIGTERM stop devnet
quietly with exit code 0; if the process has still not exited `EXIT_DEADLINE`
seconds after the stop request, it logs which threads hold it and exits 1.
"""
from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from typing import Callable, Sequence

from sawtooth_signing import Signer

from sawgrid.devnet.component import ComponentServer
from sawgrid.devnet.events import EventHub
from sawgrid.devnet.executor import Executor
from sawgrid.devnet.faults import Faults
from sawgrid.devnet.genesis import SetupStep, pending_steps
from sawgrid.devnet.ledger import Ledger
from sawgrid.devnet.rest_api import RestApi
from sawgrid.devnet.store import Store

LOG = logging.getLogger("sawgrid.devnet")

SWITCH_INTERVAL = 0.0005  # seconds; see Devnet.start
GC_THRESHOLDS = (50_000, 20, 20)  # see Devnet.start

PARENT_PID_ENV = "SAWGRID_PARENT_PID"  # set for devnet's children: the pid they belong to
CHILD_GRACE = 5.0  # seconds a child has to stop after SIGTERM before it is killed
RESTART_DELAY = 1.0  # seconds between a child's exit and its restart
EXIT_DEADLINE = 30.0  # seconds from a stop request to a forced exit
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _load_prctl():
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


_PRCTL = _load_prctl()  # resolved here, not in the forked child


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A `subprocess.Popen(preexec_fn=...)` that makes the child receive `sig`
    when the thread that starts it dies (with its process, however it ends);
    None where prctl is not available. Start children from a thread that
    lives as long as they should (the main thread, or a supervisor's)."""
    if _PRCTL is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        _PRCTL(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), sig)

    return preexec


def stop_child(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
    """Send a running child `sig` and wait for it; SIGKILL it if it has not
    stopped within `timeout` seconds. Its exit code (0 for no child)."""
    if proc is None:
        return 0
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def child_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """`env` (default: ours) plus `SAWGRID_PARENT_PID` naming this process."""
    return {**(os.environ if env is None else env), PARENT_PID_ENV: str(os.getpid())}


@dataclass
class DevnetConfig:
    """How to run devnet.

    `validator` signs the blocks; `setup_steps` are queued while their effect
    is missing (see devnet/genesis.py); `processor_command`, when given, is
    started as a child process and restarted if it dies; `block_info` is when
    blocks start with an injected BlockInfo: "auto", "on" or "off" (see
    devnet/block_info.py).
    """

    data_dir: Path
    validator: Signer
    component: str = "tcp://127.0.0.1:4004"
    rest_host: str = "127.0.0.1"
    rest_port: int = 8008
    setup_steps: Sequence[SetupStep] = ()
    processor_command: Sequence[str] | None = None
    max_batches: int = 100
    block_interval: float = 0.02
    max_queue: int = 10_000
    faults: Faults | None = None  # tests only: misbehave like a loaded validator (devnet/faults.py)
    block_info: str = "auto"  # BlockInfo injection (devnet/block_info.py)
    clock: Callable[[], float] | None = None  # BlockInfo timestamps (default: the wall clock; devnet/replay_clock.py)
    tls: ssl.SSLContext | None = None  # the REST API serves HTTPS with it (clients/sdk/tls.py server_context)


class Devnet:
    """A running devnet. `start()` returns once the REST API and component endpoint serve."""

    def __init__(self, config: DevnetConfig) -> None:
        self.config = config
        self._stop = threading.Event()
        self._children: list[subprocess.Popen] = []
        self._children_lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    @property
    def rest_url(self) -> str:
        return self.rest.url

    def start(self) -> None:
        cfg = self.config
        # Block execution is a chain of short ZMQ round trips between threads;
        # under load, CPU-bound REST threads would make each wake-up wait for
        # the GIL's default 5 ms switch interval (measured: 77 vs 500 tx/s).
        sys.setswitchinterval(SWITCH_INTERVAL)
        # Merkle updates allocate tens of thousands of short-lived nodes per
        # block; the default gen-0 threshold (700) makes the collector a
        # fifth of that cost. State is acyclic, so collect far less often.
        gc.set_threshold(*GC_THRESHOLDS)
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(cfg.data_dir)
        # The component endpoint looks execution contexts up in the executor,
        # and the executor sends through the component endpoint.
        self.component = ComponentServer(cfg.component, lambda context_id: self.executor.context(context_id))
        self.executor = Executor(self.component)
        self.events = EventHub(self.store, self.component.send)
        self.component.client_handler = self.events.handle
        self.component.on_disconnect = self.events.drop
        self.ledger = Ledger(
            self.store, self.executor, cfg.validator, self.events,
            max_batches=cfg.max_batches, max_queue=cfg.max_queue, block_interval=cfg.block_interval,
            faults=cfg.faults, block_info=cfg.block_info, **({"clock": cfg.clock} if cfg.clock else {}),
        )
        self.component.start()
        self.rest = RestApi(self.ledger, cfg.rest_host, cfg.rest_port, faults=cfg.faults, tls=cfg.tls)
        self.rest.start()
        self.ledger.commit_empty_genesis()  # no-op on an existing chain
        for step in pending_steps(cfg.setup_steps, lambda address: self.ledger.state_get(address)[0]):
            self.ledger.submit([step.batch()])
            LOG.info("setup: %s queued (commits once its processor registers)", step.name)
        self._spawn(self.ledger.run_publisher, "devnet-publisher", self._stop)
        if cfg.processor_command:
            self._spawn(self._supervise_processors, "devnet-processors")
        LOG.info("devnet: REST API %s, component %s, data %s", self.rest.url, cfg.component, cfg.data_dir)

    def _spawn(self, target, name: str, *args) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _supervise_processors(self) -> None:
        """Keep the child processor process running; restart it if it dies.

        Runs in its own thread for devnet's lifetime: a child's PDEATHSIG is
        tied to this thread (see `die_with_parent`)."""
        while True:
            with self._children_lock:
                if self._stop.is_set():
                    return
                child = subprocess.Popen(
                    list(self.config.processor_command), start_new_session=True,
                    preexec_fn=die_with_parent(), env=child_environment())
                self._children.append(child)
            while child.poll() is None and not self._stop.is_set():
                self._stop.wait(0.5)
            if self._stop.is_set():
                return
            LOG.warning("processor process exited with %s; restarting", child.returncode)
            with self._children_lock:
                self._children.remove(child)
            self._stop.wait(RESTART_DELAY)

    def stop(self) -> None:
        """Stop children, threads, REST API and component endpoint; close the store.
        Safe after a partial `start()`; every wait in it is bounded."""
        with self._children_lock:
            self._stop.set()
            children = list(self._children)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + CHILD_GRACE
        for child in children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                LOG.warning("processor process %d did not stop within %.0f s; killed", child.pid, CHILD_GRACE)
                child.kill()
                child.wait()
        component = getattr(self, "component", None)
        if component is not None:
            component.stop()  # fails requests still in flight: the publisher finishes its block
        for thread in self._threads:
            thread.join(timeout=5)
        rest = getattr(self, "rest", None)
        if rest is not None:
            rest.stop()
        ledger = getattr(self, "ledger", None)
        publisher_done = not any(thread.is_alive() for thread in self._threads)
        if ledger is not None and publisher_done:
            ledger.close()  # the execution thread pool, once no block is being built
        store = getattr(self, "store", None)
        if store is not None:
            if not publisher_done:
                LOG.warning("devnet threads still running; the store is left to the exit")
            else:
                store.close()
        LOG.info("devnet stopped")

    def run_forever(self) -> None:
        """Start, then serve until SIGINT or SIGTERM; then stop (bounded: see EXIT_DEADLINE)."""
        stop_requested: list[int] = []

        def _handle(signum, frame):
            # Only this: a handler that took a lock (Event.set) could deadlock
            # against the main thread, or against itself on a second signal.
            stop_requested.append(signum)

        signal.signal(signal.SIGINT, _handle)
        signal.signal(signal.SIGTERM, _handle)
        self.start()
        try:
            while not stop_requested:
                time.sleep(0.2)
        finally:
            _exit_watchdog(EXIT_DEADLINE)
            self.stop()
            # Stopped: more signals change nothing. Ignored rather than handled
            # (not before: children started meanwhile would inherit it), because
            # Python gives handled signals their default action back while it
            # finalizes, and one arriving then would kill the process.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _exit_watchdog(seconds: float) -> None:
    """Exit the process (code 1) if it is still alive `seconds` from now: a
    thread that hangs must never keep a stopped devnet from exiting."""

    def watch() -> None:
        time.sleep(seconds)
        holding = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
        LOG.error("devnet has not exited %.0f s after the stop request (threads: %s); exiting now",
                  seconds, ", ".join(holding))
        logging.shutdown()
        os._exit(1)

    threading.Thread(target=watch, name="devnet-exit-watchdog", daemon=True).start()
