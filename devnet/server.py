"""`sawgrid devnet`: wires store, component endpoint, executor, ledger, events
and REST API together, optionally with transaction processors as child
processes. What the chain is set up with and which processors run are given
in `DevnetConfig` by the application that starts devnet; devnet knows no
transaction family.
"""
from __future__ import annotations

import gc
import logging
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from typing import Sequence

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


@dataclass
class DevnetConfig:
    """How to run devnet.

    `validator` signs the blocks; `setup_steps` are queued while their effect
    is missing (see devnet/genesis.py); `processor_command`, when given, is
    started as a child process and restarted if it dies.
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


class Devnet:
    """A running devnet. `start()` returns once the REST API and component endpoint serve."""

    def __init__(self, config: DevnetConfig) -> None:
        self.config = config
        self._stop = threading.Event()
        self._children: list[subprocess.Popen] = []
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
            faults=cfg.faults,
        )
        self.component.start()
        self.rest = RestApi(self.ledger, cfg.rest_host, cfg.rest_port, faults=cfg.faults)
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
        """Keep the child processor process running; restart it if it dies."""
        while not self._stop.is_set():
            child = subprocess.Popen(list(self.config.processor_command))
            self._children.append(child)
            while child.poll() is None and not self._stop.is_set():
                self._stop.wait(0.5)
            if self._stop.is_set():
                return
            LOG.warning("processor process exited with %s; restarting", child.returncode)
            self._children.remove(child)
            self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()
        for child in self._children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        for child in self._children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        for thread in self._threads:
            thread.join(timeout=5)
        self.rest.stop()
        self.component.stop()
        self.store.close()
        LOG.info("devnet stopped")

    def run_forever(self) -> None:
        """Start, then serve until SIGINT or SIGTERM."""
        stop_requested = threading.Event()

        def _handle(signum, frame):
            stop_requested.set()

        signal.signal(signal.SIGINT, _handle)
        signal.signal(signal.SIGTERM, _handle)
        self.start()
        try:
            while not stop_requested.wait(0.5):
                pass
        finally:
            self.stop()
