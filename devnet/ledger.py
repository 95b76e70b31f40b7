"""The ledger: pending queue, block publishing, chain head, and the read API.

One publisher thread builds blocks. Each round it walks the pending queue in
arrival order and takes up to `CANDIDATE_WINDOW * max_batches` batches that
can run now, skipping those that cannot (no processor registered for their
family, a dependency not yet committed, a retry not yet due) without letting
them take a place. It executes the candidates until `max_batches` are valid
(each batch atomic; batches that do not conflict run concurrently, see
`scheduler`), computes the new Merkle state root, signs the block with
devnet's validator key and commits block + state + receipts in one store
transaction.

What becomes of a batch:

* valid: committed in the block;
* invalid (a processor rejected a transaction, or a dependency is INVALID):
  INVALID, with the processor's message or the dependency named;
* deferred (its processor answered INTERNAL_ERROR, timed out or went away):
  PENDING, retried after a delay that doubles up to `RETRY_DELAY_MAX`, as a
  Sawtooth validator retries it forever;
* blocked (no processor for its family version, or a transaction it depends
  on is not committed): PENDING. Once it has been blocked for
  `unrunnable_timeout` seconds while at least one processor was connected,
  it is INVALID ("no transaction processor for family X version Y registered
  within N s", "dependency ID was not committed within N s"). A Sawtooth
  validator would hold it forever; devnet reports it (README.md, "Deliberate
  differences"). While no processor at all is connected nothing is judged,
  so the families' setup batches of a devnet started without processors
  still commit when a processor comes.

BlockInfo (`block_info`, see `devnet.block_info`): like a Sawtooth validator
with the block_info batch injector, each block may start with a batch the
publisher makes itself, describing the previous block with the wall clock's
time; it runs before the block's other batches and is committed only with
at least one of them. A submitted block_info transaction is then INVALID.

Limits at submission (each a keyword of `Ledger`, see README.md "Limits"):
at most `max_batch_transactions` transactions per batch (checked before any
signature is verified), `max_queue` pending batches in all and
`max_pending_per_signer` per batch signer.
"""
from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Callable, Sequence

from sawtooth_signing import Signer

from sawgrid.devnet import block_info as bi
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
MAX_INVALID_REMEMBERED = 100_000  # INVALID statuses kept (oldest forgotten first)

# Limits (README.md, "Limits"). Sawtooth's validator has none of the first
# three besides the REST API's 10 MB body limit.
MAX_BATCH_TRANSACTIONS = 100  # transactions in one batch
MAX_PENDING_PER_SIGNER = 2_500  # pending batches of one batch signer (a quarter of the default queue)
UNRUNNABLE_TIMEOUT = 60.0  # seconds a batch may stay blocked, processors connected, before it is INVALID

CANDIDATE_WINDOW = 2  # runnable batches tried per round, in blocks' worth (room for invalid ones)
RETRY_DELAY_FIRST = 0.05  # seconds before a deferred batch is retried; doubles with each deferral ...
RETRY_DELAY_MAX = 2.0  # ... up to this
FULL_SCAN_INTERVAL = 1.0  # seconds between walks of the whole queue (clocks of blocked batches)
STATUS_QUERY_CHUNK = 500  # batch ids per SQLite query (SQLite bounds the parameters of one)
MAX_BLOCK_NUM = 2**63 - 1  # SQLite's largest INTEGER: no block number beyond it is looked up
HEAD_VALUES_MAX = 100_000  # head-state values the publisher keeps decoded (then it starts afresh)


@dataclass(eq=False)
class _Pending:
    """A queued batch and what the publisher knows about it."""

    batch: Batch
    headers: list[TransactionHeader]
    signer: str  # the batch signer's public key
    families: frozenset[tuple[str, str]]  # (family name, version) of its transactions
    deps: dict[str, str]  # dependency not yet committed -> id of its first transaction that names it
    doomed: InvalidTxn | None  # a dependency no order can meet (itself, or later in its own batch)
    retries: int = 0  # times deferred
    not_before: float = 0.0  # monotonic time before which a deferred batch is not retried
    blocked_since: float | None = None  # blocked, processors connected, since (monotonic)
    reason: str = ""  # why it last stayed PENDING (logged when it changes)
    checked: tuple | None = None  # (epoch, registered) at which it was last found blocked
    block_info_txn: str | None = None  # its first block_info transaction (the validator's to inject)

    @property
    def id(self) -> str:
        return self.batch.header_signature

    @property
    def txn_ids(self) -> list[str]:
        return [t.header_signature for t in self.batch.transactions]


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
        *,
        max_batch_transactions: int = MAX_BATCH_TRANSACTIONS,
        max_pending_per_signer: int = MAX_PENDING_PER_SIGNER,
        unrunnable_timeout: float = UNRUNNABLE_TIMEOUT,
        block_info: str = bi.AUTO,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if block_info not in bi.MODES:
            raise ValueError(f"block_info must be one of {', '.join(bi.MODES)}, got {block_info!r}")
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
        self.max_batch_transactions = max_batch_transactions
        self.max_pending_per_signer = max_pending_per_signer
        self.unrunnable_timeout = unrunnable_timeout
        self.block_info = block_info
        self._clock = clock  # the injected BlockInfo's timestamp (seconds since 1970)
        self._block_info_note = ""  # why the last block could not get its BlockInfo (logged when it changes)
        self._pool = concurrent.futures.ThreadPoolExecutor(parallelism, thread_name_prefix="devnet-exec")
        self._cond = threading.Condition()
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._pending_txns: dict[str, str] = {}  # transaction id -> its pending batch's id
        self._by_signer: Counter[str] = Counter()  # pending batches per batch signer
        self._dependents: dict[str, set[str]] = {}  # transaction id -> pending batches that depend on it
        self._invalid: OrderedDict[str, tuple[BatchStatus, tuple[str, ...]]] = OrderedDict()
        self._invalid_txns: dict[str, str] = {}  # transaction id -> its INVALID batch's id
        self._epoch = 0  # changes whenever what a blocked batch waits for may have changed
        self._next_full_scan = 0.0
        # test-only: batches falsely reported INVALID (devnet/faults.py)
        self._faults = InvalidFaults(faults) if faults is not None and faults.invalid else None
        num = store.head_num()
        self._head: Block | None = store.block_by_num(num) if num >= 0 else None
        self._head_num = num
        self._head_root = BlockHeader.FromString(self._head.header).state_root_hash if self._head else EMPTY_ROOT
        # Values at the head's state root that transactions have read, or that
        # the last blocks wrote: a read is then one dict lookup instead of a
        # walk of 35 trie nodes. Only the publisher changes it, in _commit,
        # when the head moves by exactly the block's writes.
        self._head_values: dict[str, bytes | None] = {}
        self._head_values_root = self._head_root

    def close(self) -> None:
        """Stop the execution threads (after the publisher has stopped)."""
        self._pool.shutdown(wait=True)

    # -- LedgerReader: chain ------------------------------------------------------
    def head_id(self) -> str | None:
        head = self._head
        return head.header_signature if head else None

    def head_num(self) -> int:
        return self._head_num

    def block_by_id(self, block_id: str) -> Block | None:
        return self._store.block_by_id(block_id)

    def block_by_num(self, block_num: int) -> Block | None:
        if not 0 <= block_num <= MAX_BLOCK_NUM:
            return None
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
        ids = list(batch_ids)
        committed: set[str] = set()
        for i in range(0, len(ids), STATUS_QUERY_CHUNK):
            committed |= self._store.committed_batches(ids[i:i + STATUS_QUERY_CHUNK])
        out = []
        with self._cond:
            for batch_id in ids:
                # Still queued is PENDING even when the store has it: the publisher writes a block to
                # the store, then moves the head (and the head state REST reads), then takes its
                # batches off the queue. COMMITTED before the head moved would let a client read the
                # state from before its batches (a round's transactions built on a stale Position).
                if batch_id in self._pending:
                    faulty = self._faults.status(batch_id) if self._faults else None
                    out.append(faulty or BatchStatus(batch_id, PENDING))
                elif batch_id in committed:
                    out.append(BatchStatus(batch_id, COMMITTED))
                elif batch_id in self._invalid:
                    out.append(self._invalid[batch_id][0])
                else:
                    out.append(BatchStatus(batch_id, UNKNOWN))
        # The store was read before the lock: a batch committed in between has
        # left the queue by now and must not read as UNKNOWN. The publisher
        # writes a block to the store before it takes its batches off the
        # queue, so a second look at the store settles it.
        unknown = [status.id for status in out if status.status == UNKNOWN]
        if unknown:
            late = self._store.committed_batches(unknown)
            out = [BatchStatus(s.id, COMMITTED) if s.id in late else s for s in out]
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
        for batch in batches:  # before any signature is verified
            count = len(batch.transactions)
            if count > self.max_batch_transactions:
                raise SubmitRejected(f"batch {batch.header_signature[:16] or '<no id>'}: {count} transactions; "
                                     f"at most {self.max_batch_transactions} per batch")
        checked = [(batch, check_batch(batch)) for batch in batches]  # signatures: outside the lock
        named = {dep for _, headers in checked for header in headers for dep in header.dependencies}
        committed = {dep for dep in named if self._store.has_transaction(dep)}  # committed stays committed
        with self._cond:
            accepted: list[_Pending] = []
            new_txns: dict[str, str] = {}
            for batch, headers in checked:
                batch_id = batch.header_signature
                if batch_id in self._pending or self._store.batch_location(batch_id) or any(
                        e.id == batch_id for e in accepted):
                    continue  # a known batch: re-submission is a no-op
                for txn in batch.transactions:
                    tid = txn.header_signature
                    if tid in new_txns or tid in self._pending_txns or self._store.has_transaction(tid):
                        raise SubmitRejected(f"transaction {tid[:16]} is already pending or committed (duplicate id)")
                    new_txns[tid] = batch_id
                accepted.append(_entry(batch, headers, committed))
            if len(self._pending) + len(accepted) > self.max_queue:
                raise QueueFull(f"{len(self._pending)} batches pending (limit {self.max_queue})")
            for signer, count in Counter(e.signer for e in accepted).items():
                held = self._by_signer[signer]
                if held + count > self.max_pending_per_signer:
                    raise QueueFull(f"batch signer {signer[:16]} has {held} batches pending; "
                                    f"at most {self.max_pending_per_signer} per signer")
            for entry in accepted:
                for dep in list(entry.deps):  # committed since the look outside the lock?
                    if dep not in self._pending_txns and dep not in new_txns and self._store.has_transaction(dep):
                        del entry.deps[dep]
                self._pending[entry.id] = entry
                self._by_signer[entry.signer] += 1
                for dep in entry.deps:
                    self._dependents.setdefault(dep, set()).add(entry.id)
                self._forget_invalid(entry.id)
            self._pending_txns.update(new_txns)
            self._epoch += 1
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
                stop.wait(0.1)  # everything pending is waiting (for a processor, a dependency, a retry)

    def publish_block(self) -> bool:
        """Build and commit one block from the queue. False when nothing could run."""
        registered = self._executor.registered_families()
        parent_root = self._head_root
        injection = bi.NONE
        if self._head is not None:
            injection = bi.decide(self.block_info, registered,
                                  lambda: self._trie.get(parent_root, bi.CONFIG_ADDRESS) is not None)
        if injection == bi.WAIT:
            self._note_block_info("no block_info processor is registered; blocks wait for it "
                                  "(each must start with its BlockInfo)")
            return False
        with self._cond:
            candidates, invalid = self._select(time.monotonic(), registered)
        if self._faults is not None:
            candidates = self._inject_invalid(candidates)
        runnable, depends_on = _in_block_order(candidates)
        block_writes: dict[str, bytes | None] = {}

        head_values = self._head_values if self._head_values_root == parent_root else {}

        def read_below(address: str) -> bytes | None:
            if address in block_writes:
                return block_writes[address]
            try:
                return head_values[address]
            except KeyError:
                value = head_values[address] = self._trie.get(parent_root, address)
                return value

        injected: list[Batch] = []
        injected_receipts: list[TransactionReceipt] = []
        if injection == bi.INJECT and runnable:
            batch = bi.block_info_batch(self._signer, self._head, int(self._clock()))
            headers = [TransactionHeader.FromString(t.header) for t in batch.transactions]
            outcome = self._executor.execute_batch(batch, headers, read_below)
            if outcome.status != ex.VALID:
                why = outcome.invalid.message if outcome.invalid is not None else outcome.reason
                self._note_block_info(f"the injected BlockInfo batch is {outcome.status} ({why}); "
                                      f"no block until it is valid")
                runnable, depends_on = [], []
            else:
                self._note_block_info("")
                injected, injected_receipts = [batch], outcome.receipts
                block_writes.update(outcome.writes)

        outcomes = scheduler.run_block(
            [(entry.batch, entry.headers) for entry in runnable],
            lambda batch, headers: self._executor.execute_batch(batch, headers, read_below),
            self._pool,
            max_valid=self.max_batches,
            parallelism=self.parallelism,
            on_valid=lambda outcome: block_writes.update(outcome.writes),
            depends_on=depends_on,
        )
        included: list[Batch] = []
        receipts: list[TransactionReceipt] = []
        for entry, outcome in zip(runnable, outcomes):
            if outcome is None:
                continue
            if outcome.status == ex.VALID:
                included.append(entry.batch)
                receipts.extend(outcome.receipts)
            elif outcome.status == ex.INVALID:
                invalid.append(BatchStatus(entry.id, INVALID, (outcome.invalid,)))
            else:
                entry.retries += 1
                entry.not_before = time.monotonic() + min(RETRY_DELAY_MAX, RETRY_DELAY_FIRST * 2 ** (entry.retries - 1))
                _note_pending(entry, outcome.reason)

        if included:
            self._commit(injected + included, injected_receipts + receipts, block_writes)
        with self._cond:
            for batch in included:
                self._forget(batch.header_signature, committed=True)
            for status in invalid:
                entry = self._pending.get(status.id)
                self._forget(status.id)
                self._remember_invalid(status, tuple(entry.txn_ids) if entry else ())
                LOG.info("batch %s INVALID: %s", status.id[:16], status.invalid_transactions[0].message)
            if included or invalid:
                self._epoch += 1
            self._cond.notify_all()
        return bool(included or invalid)

    def _note_block_info(self, why: str) -> None:
        if why != self._block_info_note:
            self._block_info_note = why
            if why:
                LOG.warning("block_info: %s", why)

    def commit_empty_genesis(self) -> None:
        """Block 0 with no batches, on a chain that has none yet."""
        if self._head is None:
            self._commit([], [], {})

    def _select(self, now: float, registered: frozenset[tuple[str, str]]) -> tuple[list[_Pending], list[BatchStatus]]:
        """Under the lock: this round's candidates (queue order, each runnable
        now), and the batches found INVALID without running (a dependency is
        INVALID, or blocked for `unrunnable_timeout`)."""
        window = CANDIDATE_WINDOW * self.max_batches
        full_scan = now >= self._next_full_scan
        if full_scan:
            self._next_full_scan = now + FULL_SCAN_INTERVAL
        key = (self._epoch, registered)
        candidates: list[_Pending] = []
        invalid: list[BatchStatus] = []
        in_window: set[str] = set()  # transactions of the candidates so far
        for entry in self._pending.values():
            if len(candidates) >= window and not full_scan:
                break
            if entry.checked == key and not full_scan:
                continue  # blocked, and nothing it waits for has changed since
            verdict = self._verdict(entry, registered, in_window)
            if verdict is None:
                entry.blocked_since = entry.checked = None
                if entry.not_before <= now and len(candidates) < window:
                    candidates.append(entry)
                    in_window.update(entry.txn_ids)
            elif isinstance(verdict, InvalidTxn):
                invalid.append(BatchStatus(entry.id, INVALID, (verdict,)))
            else:
                txn_id, why = verdict
                entry.checked = key
                _note_pending(entry, why)
                if not registered:  # no processor connected at all: nothing is judged
                    entry.blocked_since = None
                elif entry.blocked_since is None:
                    entry.blocked_since = now
                elif now - entry.blocked_since >= self.unrunnable_timeout:
                    message = f"{why} within {self.unrunnable_timeout:g} s"
                    invalid.append(BatchStatus(entry.id, INVALID, (InvalidTxn(txn_id, message),)))
        return candidates, invalid

    def _verdict(
        self, entry: _Pending, registered: frozenset[tuple[str, str]], in_window: set[str]
    ) -> None | InvalidTxn | tuple[str, str]:
        """None: it can run now. InvalidTxn: it never can. (transaction id, why): blocked."""
        if entry.doomed is not None:
            return entry.doomed
        if entry.block_info_txn is not None and bi.refuses_submitted(self.block_info):
            return InvalidTxn(entry.block_info_txn, bi.REFUSED_MESSAGE)
        if not entry.families <= registered:
            for txn, header in zip(entry.batch.transactions, entry.headers):
                if (header.family_name, header.family_version) not in registered:
                    return txn.header_signature, (f"no transaction processor for family {header.family_name} "
                                                  f"version {header.family_version} registered")
        for dep, txn_id in entry.deps.items():
            if dep in in_window:
                continue  # an earlier candidate of this block
            if dep in self._invalid_txns:
                return InvalidTxn(txn_id, f"depends on transaction {dep}, which is INVALID")
            return txn_id, f"dependency {dep} was not committed"
        return None

    def _inject_invalid(self, candidates: list[_Pending]) -> list[_Pending]:
        """Test-only (`--faults invalid=P`, devnet/faults.py): report some
        batches INVALID as a loaded Sawtooth validator does, with what their
        processor says on empty state, and keep them out of a few rounds.
        Returns the candidates that may run in this round."""
        faults = self._faults
        assert faults is not None
        with self._cond:
            faults.new_round()
            candidates = [c for c in candidates if not faults.held(c.id)]
            chosen = [c for c in candidates if faults.choose(c.id)]
        for entry in chosen:
            batch_id, batch = entry.id, entry.batch
            outcome = self._executor.execute_batch(batch, entry.headers, lambda address: None)
            if outcome.status == ex.DEFERRED:  # cannot run now: it stays PENDING anyway
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
        return [c for c in candidates if not faults.held(c.id)]

    def _forget(self, batch_id: str, committed: bool = False) -> None:
        """Under the lock: the batch leaves the queue (`committed`: in a block)."""
        entry = self._pending.pop(batch_id, None)
        if self._faults is not None:
            self._faults.forget(batch_id)
        if entry is None:
            return
        self._by_signer[entry.signer] -= 1
        if self._by_signer[entry.signer] <= 0:
            del self._by_signer[entry.signer]
        txn_ids = entry.txn_ids
        for tid in txn_ids:
            self._pending_txns.pop(tid, None)
        for dep in entry.deps:
            waiting = self._dependents.get(dep)
            if waiting is not None:
                waiting.discard(batch_id)
                if not waiting:
                    del self._dependents[dep]
        if committed:
            for tid in txn_ids:
                for waiting_id in self._dependents.pop(tid, ()):
                    waiting_entry = self._pending.get(waiting_id)
                    if waiting_entry is not None:
                        waiting_entry.deps.pop(tid, None)

    def _remember_invalid(self, status: BatchStatus, txn_ids: tuple[str, ...]) -> None:
        self._invalid[status.id] = (status, txn_ids)
        for tid in txn_ids:
            self._invalid_txns[tid] = status.id
        while len(self._invalid) > MAX_INVALID_REMEMBERED:
            old_id, (_, old_txns) = self._invalid.popitem(last=False)
            for tid in old_txns:
                if self._invalid_txns.get(tid) == old_id:
                    del self._invalid_txns[tid]

    def _forget_invalid(self, batch_id: str) -> None:
        """A re-submitted INVALID batch is pending again."""
        _, txn_ids = self._invalid.pop(batch_id, (None, ()))
        for tid in txn_ids:
            if self._invalid_txns.get(tid) == batch_id:
                del self._invalid_txns[tid]

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
            if self._head_values_root != self._head_root or len(self._head_values) > HEAD_VALUES_MAX:
                self._head_values = {}
            self._head_values.update(writes)
            self._head_values_root = new_root
            self._head, self._head_num, self._head_root = block, block_num, new_root
            self._events.block_committed(block, receipts)
        LOG.info("block %d committed: %d batches, state root %s", block_num, len(batches), new_root[:12])


def _entry(batch: Batch, headers: list[TransactionHeader], committed: set[str]) -> _Pending:
    """A checked batch as the queue keeps it; `committed`: dependencies known committed."""
    ids = [txn.header_signature for txn in batch.transactions]
    position = {tid: i for i, tid in enumerate(ids)}
    deps: dict[str, str] = {}
    doomed: InvalidTxn | None = None
    for i, (tid, header) in enumerate(zip(ids, headers)):
        for dep in header.dependencies:
            at = position.get(dep)
            if at is not None:  # in its own batch: met by an earlier transaction, never by a later one
                if at >= i and doomed is None:
                    doomed = InvalidTxn(tid, f"depends on transaction {dep}, which does not come before it "
                                             f"in its batch")
            elif dep not in committed:
                deps.setdefault(dep, tid)
    families = frozenset((h.family_name, h.family_version) for h in headers)
    block_info_txn = next((tid for tid, h in zip(ids, headers) if h.family_name == bi.FAMILY_NAME), None)
    # check_batch has made sure every transaction's batcher key is the batch signer's key
    return _Pending(batch, headers, headers[0].batcher_public_key, families, deps, doomed,
                    block_info_txn=block_info_txn)


def _in_block_order(candidates: list[_Pending]) -> tuple[list[_Pending], list[list[int]]]:
    """The candidates whose uncommitted dependencies are all earlier
    candidates, and for each the indices of those candidates."""
    index: dict[str, int] = {}
    runnable: list[_Pending] = []
    depends_on: list[list[int]] = []
    for entry in candidates:
        needs: set[int] = set()
        for dep in entry.deps:
            at = index.get(dep)
            if at is None:
                break  # its dependency was held back this round (fault injection)
            needs.add(at)
        else:
            for tid in entry.txn_ids:
                index[tid] = len(runnable)
            runnable.append(entry)
            depends_on.append(sorted(needs))
    return runnable, depends_on


def _note_pending(entry: _Pending, why: str) -> None:
    if entry.reason != why:
        entry.reason = why
        LOG.warning("batch %s stays PENDING: %s", entry.id[:16], why)
