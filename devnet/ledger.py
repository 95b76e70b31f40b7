"""The ledger: pending queue, block publishing, chain head, and the read API.

One publisher thread builds blocks: it takes up to `max_batches` queued
batches in arrival order, executes them (each batch atomic; batches that do
not conflict run concurrently, see `scheduler`), computes
the new Merkle state root, signs the block with devnet's validator key and
commits block + state + receipts in one store transaction. Batches that fail
are INVALID; batches that cannot run yet (no processor) stay PENDING.
"""
from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections import OrderedDict
from itertools import islice
from typing import Sequence

from sawtooth_signing import Signer

from sawgrid.devnet import executor as ex
from sawgrid.devnet import scheduler
from sawgrid.devnet.events import EventHub, NULL_BLOCK_ID
from sawgrid.devnet.faults import FALLBACK_MESSAGE, Faults, InvalidFaults
from sawgrid.devnet.ledger_api import (
    COMMITTED,
    INVALID,
    PENDING,
    UNKNOWN,
    BatchStatus,
    InvalidTxn,
    QueueFull,
    StatePage,
    SubmitRejected,
)
from sawgrid.devnet.merkle import EMPTY_ROOT, MerkleTrie
from sawgrid.devnet.store import Store
from sawgrid.protos.verify import check_batch
from sawgrid.protos.sawtooth import (
    Batch,
    Block,
    BlockHeader,
    Transaction,
    TransactionHeader,
    TransactionReceipt,
)

LOG = logging.getLogger("sawgrid.devnet.ledger")

CONSENSUS = b"Devmode"
MAX_INVALID_REMEMBERED = 100_000


class Ledger:
    """Implements `devnet.ledger_api.LedgerReader` and publishes blocks."""

    def __init__(
        self,
        store: Store,
        executor: ex.Executor,
        signer: Signer,
        events: EventHub,
        endpoint: str = "tcp://127.0.0.1:8800",
        max_batches: int = 100,
        max_queue: int = 10_000,
        block_interval: float = 0.02,
        parallelism: int = 8,
        faults: Faults | None = None,
    ) -> None:
        self._store = store
        self._trie = MerkleTrie(store)
        self._executor = executor
        self._signer = signer
        self._events = events
        self._endpoint = endpoint
        self.max_batches = max_batches
        self.max_queue = max_queue
        self.block_interval = block_interval
        self.parallelism = parallelism
        self._pool = concurrent.futures.ThreadPoolExecutor(parallelism, thread_name_prefix="devnet-exec")
        self._cond = threading.Condition()
        self._pending: OrderedDict[str, tuple[Batch, list[TransactionHeader]]] = OrderedDict()
        self._pending_txns: set[str] = set()
        self._invalid: OrderedDict[str, BatchStatus] = OrderedDict()
        self._deferred_reason: dict[str, str] = {}
        # test-only: batches falsely reported INVALID (devnet/faults.py)
        self._faults = InvalidFaults(faults) if faults is not None and faults.invalid else None
        num = store.head_num()
        self._head: Block | None = store.block_by_num(num) if num >= 0 else None
        self._head_num = num
        self._head_root = BlockHeader.FromString(self._head.header).state_root_hash if self._head else EMPTY_ROOT

    # -- LedgerReader: chain ------------------------------------------------------
    def head_id(self) -> str | None:
        head = self._head
        return head.header_signature if head else None

    def head_num(self) -> int:
        return self._head_num

    def block_by_id(self, block_id: str) -> Block | None:
        return self._store.block_by_id(block_id)

    def block_by_num(self, block_num: int) -> Block | None:
        return self._store.block_by_num(block_num)

    def batch_by_id(self, batch_id: str) -> Batch | None:
        where = self._store.batch_location(batch_id)
        if where is None:
            return None
        return self._store.block_by_num(where[0]).batches[where[1]]

    def transaction_by_id(self, txn_id: str) -> Transaction | None:
        where = self._store.transaction_location(txn_id)
        if where is None:
            return None
        return self._store.block_by_num(where[0]).batches[where[1]].transactions[where[2]]

    def receipts(self, txn_ids: Sequence[str]) -> list[TransactionReceipt | None]:
        return [self._store.receipt(txn_id) for txn_id in txn_ids]

    def peers(self) -> list[str]:
        return []

    def endpoint(self) -> str:
        return self._endpoint

    # -- LedgerReader: batches ----------------------------------------------------
    def batch_statuses(self, batch_ids: Sequence[str]) -> list[BatchStatus]:
        committed = self._store.committed_batches(batch_ids)
        out = []
        with self._cond:
            for batch_id in batch_ids:
                if batch_id in committed:
                    out.append(BatchStatus(batch_id, COMMITTED))
                elif batch_id in self._pending:
                    faulty = self._faults.status(batch_id) if self._faults else None
                    out.append(faulty or BatchStatus(batch_id, PENDING))
                elif batch_id in self._invalid:
                    out.append(self._invalid[batch_id])
                else:
                    out.append(BatchStatus(batch_id, UNKNOWN))
        return out

    def wait_for_batches(self, batch_ids: Sequence[str], timeout: float) -> list[BatchStatus]:
        deadline = time.monotonic() + timeout
        while True:
            statuses = self.batch_statuses(batch_ids)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or all(s.status != PENDING for s in statuses):
                return statuses
            with self._cond:
                if any(b in self._pending for b in batch_ids):
                    self._cond.wait(min(remaining, 0.5))

    def submit(self, batches: Sequence[Batch]) -> None:
        checked = [(batch, check_batch(batch)) for batch in batches]  # signatures: outside the lock
        with self._cond:
            accepted = []
            new_txns: set[str] = set()
            for batch, headers in checked:
                if batch.header_signature in self._pending or self._store.batch_location(batch.header_signature):
                    continue  # a known batch: re-submission is a no-op
                for txn in batch.transactions:
                    tid = txn.header_signature
                    if tid in new_txns or tid in self._pending_txns or self._store.has_transaction(tid):
                        raise SubmitRejected(f"transaction {tid[:16]} is already pending or committed (duplicate id)")
                    new_txns.add(tid)
                accepted.append((batch, headers))
            if len(self._pending) + len(accepted) > self.max_queue:
                raise QueueFull(f"{len(self._pending)} batches pending (limit {self.max_queue})")
            for batch, headers in accepted:
                self._pending[batch.header_signature] = (batch, headers)
                self._invalid.pop(batch.header_signature, None)
            self._pending_txns |= new_txns
            self._cond.notify_all()

    # -- LedgerReader: state -------------------------------------------------------
    def _root_at(self, head: str | None) -> tuple[str, str]:
        if head is None:
            current = self._head
            if current is None:
                return EMPTY_ROOT, ""
            return self._head_root, current.header_signature
        block = self._store.block_by_id(head)
        if block is None:
            raise KeyError(head)
        return BlockHeader.FromString(block.header).state_root_hash, head

    def state_get(self, address: str, head: str | None = None) -> tuple[bytes | None, str]:
        root, head_id = self._root_at(head)
        return self._trie.get(root, address), head_id

    def state_list(self, prefix: str, head: str | None, start: str | None, limit: int) -> StatePage:
        root, head_id = self._root_at(head)
        entries = []
        next_address = None
        for address, data in self._trie.leaves(root, prefix, start):
            if len(entries) == limit:
                next_address = address
                break
            entries.append((address, data))
        return StatePage(head_id, entries, next_address)

    # -- publishing ------------------------------------------------------------------
    def pending_count(self) -> int:
        return len(self._pending)

    def run_publisher(self, stop: threading.Event) -> None:
        """Publish blocks until `stop` is set (the publisher thread's body)."""
        while not stop.is_set():
            with self._cond:
                if not self._pending:
                    self._cond.wait(0.2)
                    continue
            if self.block_interval:
                time.sleep(self.block_interval)  # let a few more batches arrive
            progressed = self.publish_block()
            if not progressed:
                stop.wait(0.1)  # everything pending is waiting for a processor

    def publish_block(self) -> bool:
        """Build and commit one block from the queue. False when nothing could run."""
        with self._cond:
            # a few more than fit in a block, so that deferred batches do not starve it
            candidates = list(islice(self._pending.items(), 2 * self.max_batches))
        if self._faults is not None:
            candidates = self._inject_invalid(candidates)
        parent_root = self._head_root
        block_writes: dict[str, bytes | None] = {}

        def read_below(address: str) -> bytes | None:
            if address in block_writes:
                return block_writes[address]
            return self._trie.get(parent_root, address)

        outcomes = scheduler.run_block(
            [entry for _, entry in candidates],
            lambda batch, headers: self._executor.execute_batch(batch, headers, read_below),
            self._pool,
            max_valid=self.max_batches,
            parallelism=self.parallelism,
            on_valid=lambda outcome: block_writes.update(outcome.writes),
        )
        included: list[Batch] = []
        receipts: list[TransactionReceipt] = []
        invalid: list[BatchStatus] = []
        for (batch_id, (batch, _)), outcome in zip(candidates, outcomes):
            if outcome is None:
                continue
            if outcome.status == ex.VALID:
                included.append(batch)
                receipts.extend(outcome.receipts)
            elif outcome.status == ex.INVALID:
                invalid.append(BatchStatus(batch_id, INVALID, (outcome.invalid,)))
            else:
                if self._deferred_reason.get(batch_id) != outcome.reason:
                    self._deferred_reason[batch_id] = outcome.reason
                    LOG.warning("batch %s stays PENDING: %s", batch_id[:16], outcome.reason)

        if included:
            self._commit(included, receipts, block_writes)
        with self._cond:
            for batch in included:
                self._forget(batch.header_signature)
            for status in invalid:
                self._forget(status.id)
                self._invalid[status.id] = status
                LOG.info("batch %s INVALID: %s", status.id[:16], status.invalid_transactions[0].message)
            while len(self._invalid) > MAX_INVALID_REMEMBERED:
                self._invalid.popitem(last=False)
            self._cond.notify_all()
        return bool(included or invalid)

    def commit_empty_genesis(self) -> None:
        """Block 0 with no batches, on a chain that has none yet."""
        if self._head is None:
            self._commit([], [], {})

    def _inject_invalid(
        self, candidates: list[tuple[str, tuple[Batch, list[TransactionHeader]]]]
    ) -> list[tuple[str, tuple[Batch, list[TransactionHeader]]]]:
        """Test-only (`--faults invalid=P`, devnet/faults.py): report some
        batches INVALID as a loaded Sawtooth validator does, with what their
        processor says on empty state, and keep them out of a few rounds.
        Returns the candidates that may run in this round."""
        faults = self._faults
        assert faults is not None
        with self._cond:
            faults.new_round()
            candidates = [c for c in candidates if not faults.held(c[0])]
            chosen = [c for c in candidates if faults.choose(c[0])]
        for batch_id, (batch, headers) in chosen:
            outcome = self._executor.execute_batch(batch, headers, lambda address: None)
            if outcome.status == ex.DEFERRED:  # no processor: it stays PENDING anyway
                with self._cond:
                    faults.forget(batch_id)  # decide again once it can run
                continue
            invalid = outcome.invalid if outcome.status == ex.INVALID else None
            invalid = invalid or InvalidTxn(batch.transactions[0].header_signature, FALLBACK_MESSAGE)
            with self._cond:
                faults.fail(batch_id, invalid)
                self._cond.notify_all()
            LOG.warning("fault injection: batch %s reported INVALID (%s); it re-runs later",
                        batch_id[:16], invalid.message)
        return [c for c in candidates if not faults.held(c[0])]

    def _forget(self, batch_id: str) -> None:
        entry = self._pending.pop(batch_id, None)
        self._deferred_reason.pop(batch_id, None)
        if self._faults is not None:
            self._faults.forget(batch_id)
        if entry is not None:
            for txn in entry[0].transactions:
                self._pending_txns.discard(txn.header_signature)

    def _commit(self, batches: list[Batch], receipts: list[TransactionReceipt], writes: dict[str, bytes | None]) -> None:
        sets = {a: v for a, v in writes.items() if v is not None}
        deletes = [a for a, v in writes.items() if v is None]
        new_root, nodes = self._trie.update(self._head_root, sets, deletes)
        block_num = self._head_num + 1
        header = BlockHeader(
            block_num=block_num,
            previous_block_id=self._head.header_signature if self._head else NULL_BLOCK_ID,
            signer_public_key=self._signer.get_public_key().as_hex(),
            batch_ids=[b.header_signature for b in batches],
            consensus=CONSENSUS,
            state_root_hash=new_root,
        ).SerializeToString()
        block = Block(header=header, header_signature=self._signer.sign(header), batches=batches)
        with self._events.lock:
            self._store.commit_block(block, block_num, nodes, receipts)
            self._head, self._head_num, self._head_root = block, block_num, new_root
            self._events.block_committed(block, receipts)
        LOG.info("block %d committed: %d batches, state root %s", block_num, len(batches), new_root[:12])
