"""An in-process ledger: Sawgrid's handlers applied to a dict, without a validator.

    ledger = InProcessLedger([KvHandler(), MarketHandler()])
    result = ledger.apply_batch(batch)          # a signed Batch, as clients build it
    result.valid, result.invalid_message, result.receipts, result.events
    ledger.get(address), ledger.state           # committed state: {address: bytes}
    InProcessLedger(handlers, state=DiskState(directory))   # the same, kept on disk (disk_state.py)

What it is for: handler unit tests, fuzz and property tests, the `apply()`
benchmark (`bench/market_bench.py`) and `sawgrid simulate --fast`. It runs the
very same `TransactionHandler.apply(transaction, context)` a validator drives
over ZMQ, with a context that behaves like the SDK's `Context` talking to a
Sawtooth validator (and to devnet, whose rules it copies):

* **Context interface.** `get_state(addresses)` returns the entries
  (`.address`, `.data`) of the addresses that hold data, in request order;
  `set_state({address: bytes})` returns the addresses set;
  `delete_state(addresses)` returns those that existed; `add_event(type,
  attributes=[(k, v)], data=b"")`; `add_receipt_data(bytes)`. The optional
  `timeout` argument is accepted and ignored.
* **Authorization.** Reads must fall under one of the transaction header's
  `inputs`, writes and deletes under one of its `outputs` (prefix match, and
  the address must be 70 lowercase hex characters). A call that breaks this
  raises the SDK's `AuthorizationException` with the SDK's message, as the
  SDK does when a validator answers AUTHORIZATION_ERROR; nothing of the call
  is applied. Escaping `apply()`, it makes the transaction invalid, as the
  SDK's `TransactionProcessor` reports it (INVALID_TRANSACTION).
* **Reads fall through**: this transaction's own writes, then the writes of
  earlier transactions of the same batch, then committed state.
* **Batches are atomic.** Writes are committed only when every transaction of
  the batch is valid. An `InvalidTransaction` (or `AuthorizationException`)
  from any transaction discards the whole batch's writes, events and receipts
  and the result names the transaction and its message.
* **Anything else a handler raises propagates** (after the batch is
  discarded): `InternalError`, or a bug that escaped `SawgridHandler`'s net.
  A validator would retry such a transaction forever; a test wants to see it.

* **BlockInfo, optionally** (`inject_block_info=True`; `InProcessClient`
  turns it on): each batch is applied as if it were a block of its own
  (`apply_batch`), or a list of batches as one block (`apply_block`, what
  `InProcessClient.submit` does with the batches of one call, as devnet puts
  the batches it has gathered into one block), after
  the BlockInfo transaction a Sawtooth validator with the block_info batch
  injector puts first in every block. It describes the previous "block"
  (number, previous id, a stand-in validator key and block id) with the
  timestamp `int(clock())` (default: the wall clock, seconds), and commits
  only together with the block's first batch: an invalid one leaves no BlockInfo either,
  as a validator publishes no block of injected batches alone. So a handler
  that calls `processors.block_info.clock.chain_time` sees the same as on
  devnet or a real network. The block_info handler must be among `handlers`;
  its sync_tolerance check sees the same clock reading (validator and
  processor share a machine's clock). A BlockInfo the handler refuses (a
  clock that went backwards, say) raises `BlockInfoRejected`; a batch that
  itself carries a block_info transaction is invalid (only the validator
  injects them, as `block_validation_rules` enforce on a network).

What it does not do: block ids and headers beyond BlockInfo's, state roots, dependencies, duplicate-id checks,
and signature checks unless `verify_signatures=True` (then each batch must
pass the same structural and secp256k1 checks devnet applies on submit, and
`BatchRejected` is raised otherwise). Unsigned transactions for tests and the
simulator come from `unsigned_transaction()` / `unsigned_batch()`.
"""
from __future__ import annotations

import bisect
import hashlib
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, NamedTuple, Sequence

from sawgrid.protos import sdk_compat

sdk_compat.install()

from sawtooth_sdk.processor.exceptions import AuthorizationException, InvalidTransaction  # noqa: E402

from sawgrid.processors.block_info import addresses as block_info  # noqa: E402
from sawgrid.processors.disk_state import DiskState  # noqa: E402
from sawgrid.protos.block_info_pb2 import BlockInfo, BlockInfoConfig, BlockInfoTxn  # noqa: E402
from sawgrid.protos.receipts import transaction_receipt  # noqa: E402
from sawgrid.protos.txn_view import DELETED as _DELETED, TransactionView  # noqa: E402
from sawgrid.protos.envelopes import unsigned_batch, unsigned_transaction  # noqa: E402,F401 (re-exported)
from sawgrid.protos.verify import BatchRejected, check_batch  # noqa: E402
from sawgrid.protos.sawtooth import (  # noqa: E402
    Batch,
    Event,
    Transaction,
    TransactionHeader,
    TransactionReceipt,
    processor_pb2,
)

__all__ = [
    "InProcessLedger", "InProcessContext", "BatchResult", "Entry",
    "NoProcessorError", "BatchRejected", "BlockInfoRejected", "unsigned_transaction", "unsigned_batch",
]

# The stand-ins for what a validator's blocks would give the injected
# BlockInfo: a validator key and block ids (66 and 128 hex characters).
IN_PROCESS_VALIDATOR_KEY = "02" + hashlib.sha256(b"sawgrid in-process validator").hexdigest()
NULL_BLOCK_ID = "0" * 16



class NoProcessorError(LookupError):
    """No registered handler serves the transaction's family name and version."""


class BlockInfoRejected(RuntimeError):
    """The block_info handler refused the BlockInfo injected before a batch
    (a validator would publish no block until it is valid again)."""




class Entry(NamedTuple):
    """One state entry, as the SDK's `get_state` returns them (`TpStateEntry`)."""
    address: str
    data: bytes


class InProcessContext(TransactionView):
    """The SDK `Context` of one transaction over a `TransactionView` (the same
    read-through view and input/output rules as devnet's contexts)."""

    # -- the SDK Context interface ----------------------------------------------
    def get_state(self, addresses, timeout=None) -> list[Entry]:
        addresses = _str_list(addresses, "addresses")
        if not all(self.may_read(a) for a in addresses):
            raise AuthorizationException(f"Tried to get unauthorized address: {addresses}")
        entries = []
        for address in addresses:
            data = self.get(address)
            if data:  # the SDK drops entries whose data is empty
                entries.append(Entry(address, data))
        return entries

    def set_state(self, entries, timeout=None) -> list[str]:
        items = list(entries.items())
        for address, data in items:
            if not isinstance(address, str):
                raise TypeError(f"address must be str, got {type(address).__name__}")
            if not isinstance(data, bytes):
                raise TypeError(f"state data must be bytes, got {type(data).__name__}")
        if not all(self.may_write(a) for a, _ in items):
            raise AuthorizationException(f"Tried to set unauthorized address: {[a for a, _ in items]}")
        for address, data in items:
            self.writes[address] = data
        return [a for a, _ in items]

    def delete_state(self, addresses, timeout=None) -> list[str]:
        addresses = _str_list(addresses, "addresses")
        if not all(self.may_write(a) for a in addresses):
            raise AuthorizationException(f"Tried to delete unauthorized address: {addresses}")
        deleted = []
        for address in addresses:
            if self.get(address) is not None:
                self.writes[address] = _DELETED
                deleted.append(address)
        return deleted

    def add_receipt_data(self, data, timeout=None) -> None:
        if not isinstance(data, bytes):
            raise TypeError(f"receipt data must be bytes, got {type(data).__name__}")
        self.receipt_data.append(data)

    def add_event(self, event_type, attributes=None, data=None, timeout=None) -> None:
        self.events.append(Event(
            event_type=event_type,
            attributes=[Event.Attribute(key=k, value=v) for k, v in (attributes or [])],
            data=data,
        ))


def _str_list(addresses, what: str) -> list[str]:
    if isinstance(addresses, (str, bytes)):
        raise TypeError(f"{what} must be a list of addresses, not a single {type(addresses).__name__}")
    addresses = list(addresses)
    for address in addresses:
        if not isinstance(address, str):
            raise TypeError(f"address must be str, got {type(address).__name__}")
    return addresses


@dataclass
class BatchResult:
    """What applying one batch did. On an invalid batch nothing was committed."""
    valid: bool
    invalid_message: str = ""
    invalid_transaction: str = ""          # header_signature of the failing transaction
    extended_data: bytes = b""
    receipts: list[TransactionReceipt] = field(default_factory=list)   # valid batches only
    writes: dict[str, bytes | None] = field(default_factory=dict)      # committed (None: deleted), BlockInfo's too
    block_info: TransactionReceipt | None = None  # the injected BlockInfo transaction's, if any

    @property
    def events(self) -> list[Event]:
        return [event for receipt in self.receipts for event in receipt.events]

    @property
    def receipt_data(self) -> list[bytes]:
        return [data for receipt in self.receipts for data in receipt.data]

    def __bool__(self) -> bool:
        return self.valid


class CommittedState(dict):
    """The in-process ledger's committed state: a plain `{address: bytes}` dict
    that also keeps its addresses in order, so a prefix query (`keys_under`)
    is a binary search instead of sorting the whole state each time.

    The order is brought up to date lazily: new addresses are appended and
    sorted in at the next query (one merge of a sorted list with a short
    tail); a removal re-sorts from scratch. Every way of changing a dict goes
    through the overrides below, so tests may still write `ledger.state[a] = b`."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._order: list[str] | None = None   # None: sort from scratch at the next query
        self._tail = False                     # addresses appended to _order since its last sort

    def _added(self, address: str) -> None:
        if self._order is not None and address not in self:
            self._order.append(address)
            self._tail = True

    def _reset(self) -> None:
        self._order, self._tail = None, False

    def __setitem__(self, address, data) -> None:
        self._added(address)
        super().__setitem__(address, data)

    def setdefault(self, address, default=None):
        self._added(address)
        return super().setdefault(address, default)

    def __delitem__(self, address) -> None:
        super().__delitem__(address)
        self._reset()

    def pop(self, address, *default):
        if address in self:
            self._reset()
        return super().pop(address, *default)

    def popitem(self):
        self._reset()
        return super().popitem()

    def clear(self) -> None:
        self._reset()
        super().clear()

    def update(self, *args, **kwargs) -> None:
        self._reset()
        super().update(*args, **kwargs)

    def __ior__(self, other):
        self.update(other)
        return self

    def commit(self, writes: dict[str, bytes | object]) -> None:
        """Apply one batch's writes: bytes set an address, `DELETED` removes it."""
        for address, data in writes.items():
            if data is _DELETED:
                self.pop(address, None)
            else:
                self[address] = data

    def items_under(self, prefix: str) -> list[tuple[str, bytes]]:
        """`(address, data)` of the addresses starting with `prefix`, sorted."""
        return [(a, self[a]) for a in self.keys_under(prefix)]

    def keys_under(self, prefix: str) -> list[str]:
        """The addresses starting with `prefix`, sorted."""
        if self._order is None:
            self._order, self._tail = sorted(self), False
        elif self._tail:
            self._order.sort()
            self._tail = False
        order = self._order
        start = bisect.bisect_left(order, prefix)
        end = start
        while end < len(order) and order[end].startswith(prefix):
            end += 1
        return order[start:end]


class InProcessLedger:
    """Committed state in a dict, changed one atomic batch at a time by `handlers`."""

    def __init__(self, handlers: Iterable, state: dict[str, bytes] | None = None,
                 verify_signatures: bool = False, *, inject_block_info: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        self.handlers: dict[tuple[str, str], object] = {}
        for handler in handlers:
            for version in handler.family_versions:
                self.handlers[(handler.family_name, version)] = handler
        self.state = state if state is not None else {}
        self.verify_signatures = verify_signatures
        self.inject_block_info = inject_block_info
        self.clock = clock
        if inject_block_info and (block_info.FAMILY_NAME, block_info.FAMILY_VERSION) not in self.handlers:
            raise ValueError("inject_block_info needs the block_info handler among the handlers")

    @property
    def state(self) -> CommittedState | DiskState:
        """Committed state, {address: bytes}; assigning a dict replaces it
        (copied into a `CommittedState`), assigning a `DiskState` uses it."""
        return self._state

    @state.setter
    def state(self, entries: dict[str, bytes] | DiskState) -> None:
        self._state = entries if isinstance(entries, DiskState) else CommittedState(entries)

    # -- reading ------------------------------------------------------------------
    def get(self, address: str) -> bytes | None:
        return self._state.get(address)

    def items(self, prefix: str = "") -> dict[str, bytes]:
        """Committed entries whose address starts with `prefix`, sorted by address."""
        return dict(self.state.items_under(prefix))

    # -- applying -----------------------------------------------------------------
    def handler_for(self, header: TransactionHeader):
        handler = self.handlers.get((header.family_name, header.family_version))
        if handler is None:
            raise NoProcessorError(f"no handler for {header.family_name} {header.family_version}")
        return handler

    def apply(self, transaction: Transaction) -> BatchResult:
        """Apply one transaction as a batch of its own."""
        return self.apply_transactions([transaction])

    def apply_batch(self, batch: Batch, *, new_block: bool = True) -> BatchResult:
        """Apply `batch` atomically; commit its writes only if every transaction
        is valid. `new_block=False`: it joins the block of the batch before
        (no BlockInfo of its own; see `apply_block`)."""
        if self.verify_signatures:
            check_batch(batch)
        return self.apply_transactions(batch.transactions, new_block=new_block)

    def apply_batches(self, batches: Iterable[Batch]) -> list[BatchResult]:
        """Each batch as a block of its own; an invalid one does not stop the rest."""
        return [self.apply_batch(batch) for batch in batches]

    def apply_block(self, batches: Iterable[Batch]) -> list[BatchResult]:
        """Apply `batches` in order as one block, as a validator publishes the
        batches it has gathered: one injected BlockInfo (`inject_block_info`),
        committed with the first batch, then each batch atomically, seeing the
        ones before it. Stops at the first invalid batch, whose result is the
        last one returned (an invalid first batch leaves no BlockInfo)."""
        return list(self.block_results(batches))

    def block_results(self, batches: Iterable[Batch]) -> Iterator[BatchResult]:
        """`apply_block`, one result at a time: each batch is applied when its
        result is asked for, and nothing of a result is kept once the caller
        drops it (an hour of a town's market is thousands of batches, each
        result with its writes and receipts)."""
        first = True
        for batch in batches:
            result = self.apply_batch(batch, new_block=first)
            first = False
            yield result
            if not result.valid:
                return

    def apply_transactions(self, transactions: Sequence[Transaction], *, new_block: bool = True) -> BatchResult:
        """Apply `transactions` atomically, as one batch (no batch header needed);
        `new_block`: as apply_batch's."""
        headers = [TransactionHeader.FromString(txn.header) for txn in transactions]
        handlers = [self.handler_for(header) for header in headers]  # before anything runs
        batch_writes: dict[str, bytes | None] = {}
        state = self.state

        def read(address: str) -> bytes | None:
            if address in batch_writes:
                return batch_writes[address]
            return state.get(address)

        injected = None
        if self.inject_block_info:
            for txn, header in zip(transactions, headers):
                if header.family_name == block_info.FAMILY_NAME:
                    return BatchResult(False, invalid_transaction=txn.header_signature, invalid_message=(
                        "block_info transactions are injected by the validator, never submitted "
                        "(block_validation_rules NofX:1,block_info; XatY:block_info,0)"))
            if new_block:
                injected = self._inject(read)
                batch_writes.update(injected[1])

        receipts = []
        for txn, header, handler in zip(transactions, headers, handlers):
            context = InProcessContext(header.inputs, header.outputs, read)
            request = processor_pb2.TpProcessRequest(
                header=header, payload=txn.payload, signature=txn.header_signature)
            try:
                handler.apply(request, context)
            except (InvalidTransaction, AuthorizationException) as err:
                return BatchResult(False, invalid_message=str(err), invalid_transaction=txn.header_signature,
                                   extended_data=getattr(err, "extended_data", None) or b"")
            batch_writes.update(context.writes)
            receipts.append(transaction_receipt(txn.header_signature, context.writes, context.events, context.receipt_data))
        state.commit(batch_writes)
        return BatchResult(True, receipts=receipts, writes=batch_writes,
                           block_info=injected[0] if injected is not None else None)

    # -- BlockInfo injection ---------------------------------------------------------
    def block_info_transaction(self, timestamp: int, read: Callable[[str], bytes | None] | None = None
                               ) -> Transaction:
        """The BlockInfo transaction a validator would put first in the next
        block: it describes the previous one (block 0, a stand-in genesis, on
        a chain without BlockInfo), stamped `timestamp`."""
        read = read or self.state.get
        config_data = read(block_info.CONFIG_ADDRESS)
        if config_data is None:
            block_num, previous_id = 0, NULL_BLOCK_ID
        else:
            latest = BlockInfoConfig.FromString(config_data).latest_block
            previous = BlockInfo.FromString(read(block_info.block_info_address(latest)) or b"")
            block_num, previous_id = latest + 1, previous.header_signature
        block_id = hashlib.sha512(f"sawgrid in-process block {block_num} after {previous_id}".encode()).hexdigest()
        payload = BlockInfoTxn(block=BlockInfo(
            block_num=block_num, previous_block_id=previous_id, signer_public_key=IN_PROCESS_VALIDATOR_KEY,
            header_signature=block_id, timestamp=timestamp)).SerializeToString()
        where = [block_info.CONFIG_ADDRESS, block_info.BLOCK_INFO_PREFIX]
        return unsigned_transaction(block_info.FAMILY_NAME, block_info.FAMILY_VERSION, payload, where, where,
                                    IN_PROCESS_VALIDATOR_KEY, nonce="")

    def _inject(self, read) -> tuple[TransactionReceipt, dict[str, bytes | None]]:
        now = int(self.clock())  # one reading per block: the validator's stamp is the processor's "now"
        txn = self.block_info_transaction(now, read)
        header = TransactionHeader.FromString(txn.header)
        context = InProcessContext(header.inputs, header.outputs, read)
        request = processor_pb2.TpProcessRequest(header=header, payload=txn.payload, signature=txn.header_signature)
        handler = self.handler_for(header)
        own_clock = getattr(handler, "clock", None)
        if own_clock is not None:
            handler.clock = lambda: now
        try:
            handler.apply(request, context)
        except (InvalidTransaction, AuthorizationException) as err:
            raise BlockInfoRejected(f"the injected BlockInfo was refused: {err}") from None
        finally:
            if own_clock is not None:
                handler.clock = own_clock
        receipt = transaction_receipt(txn.header_signature, context.writes, context.events, context.receipt_data)
        return receipt, dict(context.writes)
