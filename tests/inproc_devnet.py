"""devnet's real ledger (Store, Ledger, publisher thread, REST API) in this
process, with a scripted executor standing in for the processors: fast
enough for unit tests and fuzzers, and no child process.

    with InProcDevnet(tmp_path, unrunnable_timeout=0.5) as net:
        net.ledger.submit([batch(signer, [txn(signer, b"set 1")])])
        net.api.url  # Sawtooth's REST API over that ledger

The executor runs transactions of the families in `net.executor.families`
(default: `FAMILY` 1.0) by their payload: `set V` writes V to every output
address, `invalid` is rejected, `internal` is an INTERNAL_ERROR (deferred),
anything else succeeds and writes nothing. Transactions of any other family
are deferred, as devnet's executor defers a family with no processor.
"""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Sequence

from sawgrid.clients.sdk import keys
from sawgrid.devnet.events import EventHub
from sawgrid.devnet.executor import DEFERRED, INVALID, VALID, BatchOutcome
from sawgrid.devnet.ledger import Ledger
from sawgrid.devnet.ledger_api import InvalidTxn
from sawgrid.devnet.rest_api import RestApi
from sawgrid.devnet.store import Store
from sawgrid.protos.envelopes import make_batch, make_transaction
from sawgrid.protos.sawtooth import Batch, Transaction, TransactionHeader

FAMILY = "inproc-test"
VERSION = "1.0"
NAMESPACE = hashlib.sha512(FAMILY.encode()).hexdigest()[:6]


def address(key: str, namespace: str = NAMESPACE) -> str:
    return namespace + hashlib.sha512(key.encode()).hexdigest()[:64]


def txn(signer, payload: bytes = b"ok", key: str = "k", family: str = FAMILY, version: str = VERSION,
        dependencies: Sequence[str] = (), batcher=None) -> Transaction:
    """A signed transaction of `family` that reads and writes `address(key)`."""
    where = [address(key)]
    batcher_key = (batcher or signer).get_public_key().as_hex()
    return make_transaction(signer, family, version, payload, where, where,
                            batcher_public_key=batcher_key, dependencies=dependencies)


def batch(signer, transactions: Sequence[Transaction]) -> Batch:
    return make_batch(signer, transactions)


def one(signer, payload: bytes = b"ok", key: str = "k", **kwargs) -> Batch:
    """A one-transaction batch."""
    return batch(signer, [txn(signer, payload, key, **kwargs)])


def new_signer():
    return keys.signer_for(keys.new_private_key())


class ScriptedExecutor:
    """Stands in for `devnet.executor.Executor` (see the module docstring)."""

    def __init__(self, families: Sequence[tuple[str, str]] = ((FAMILY, VERSION),)) -> None:
        self.families: set[tuple[str, str]] = set(families)
        self.lock = threading.Lock()
        self.runs: dict[str, int] = {}  # batch id -> times executed

    def registered_families(self) -> frozenset[tuple[str, str]]:
        with self.lock:
            return frozenset(self.families)

    def execute_batch(self, batch: Batch, headers: Sequence[TransactionHeader], read_below) -> BatchOutcome:
        with self.lock:
            self.runs[batch.header_signature] = self.runs.get(batch.header_signature, 0) + 1
            families = set(self.families)
        writes: dict[str, bytes | None] = {}
        for t, header in zip(batch.transactions, headers):
            if (header.family_name, header.family_version) not in families:
                return BatchOutcome(DEFERRED, reason=f"no processor for {header.family_name}")
            if t.payload == b"invalid":
                return BatchOutcome(INVALID, invalid=InvalidTxn(t.header_signature, "scripted: invalid"))
            if t.payload == b"internal":
                return BatchOutcome(DEFERRED, reason="internal error: scripted")
            if t.payload.startswith(b"set "):
                for out in header.outputs:
                    writes[out] = t.payload[4:]
        return BatchOutcome(VALID, writes=writes)


class InProcDevnet:
    """Store + Ledger + publisher thread + RestApi on 127.0.0.1 (any free port).
    Keyword arguments go to `Ledger`; `rest` to `RestApi`."""

    def __init__(self, data_dir: Path, executor: ScriptedExecutor | None = None, rest: dict | None = None,
                 **ledger_options) -> None:
        self.data_dir = Path(data_dir)
        self.executor = executor or ScriptedExecutor()
        self._ledger_options = {"block_interval": 0.0, **ledger_options}
        self._rest_options = rest or {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "InProcDevnet":
        self.store = Store(self.data_dir)
        self.signer = new_signer()
        self.events = EventHub(self.store, lambda *args: None)
        self.ledger = Ledger(self.store, self.executor, self.signer, self.events, **self._ledger_options)
        self.ledger.commit_empty_genesis()
        self.api = RestApi(self.ledger, "127.0.0.1", 0, **self._rest_options)
        self.api.start()
        self._thread = threading.Thread(target=self.ledger.run_publisher, args=(self._stop,),
                                        name="inproc-publisher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
            assert not self._thread.is_alive(), "the publisher did not stop"
            self._thread = None
        self.api.stop()
        self.ledger.close()
        self.store.close()

    def __enter__(self) -> "InProcDevnet":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- reading back ------------------------------------------------------
    def status(self, batch_id: str, wait: float = 0.0) -> str:
        return self.ledger.wait_for_batches([batch_id], wait)[0].status

    def wait(self, batches: Sequence[Batch], timeout: float = 30.0) -> list[str]:
        statuses = self.ledger.wait_for_batches([b.header_signature for b in batches], timeout)
        return [s.status for s in statuses]

    def block_of(self, b: Batch) -> int | None:
        where = self.store.batch_location(b.header_signature)
        return where[0] if where else None

    def position(self, b: Batch) -> tuple[int, int] | None:
        return self.store.batch_location(b.header_signature)
