"""The read/submit interface that devnet's REST API serves from.

`devnet.ledger.Ledger` implements it; the REST layer (`devnet.rest_api`) only
talks to this protocol, so it can be unit-tested against a small fake.
All ids are lowercase hex strings (header signatures); all records are the
Sawtooth protobuf messages from `sawgrid.protos.sawtooth`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

from sawgrid.protos.sawtooth import Batch, Block, Transaction, TransactionReceipt
from sawgrid.protos.verify import BatchRejected

# Batch status names, exactly as Sawtooth's REST API reports them.
COMMITTED = "COMMITTED"
INVALID = "INVALID"
PENDING = "PENDING"
UNKNOWN = "UNKNOWN"


class QueueFull(Exception):
    """The pending queue is full, or the batch signer's share of it (str()
    says which); the REST API answers 429 (Unable to Accept Batches)."""


# A submitted batch failed structural or signature checks, or repeats a
# transaction id (REST: 400). One exception type for devnet and the
# in-process ledger, defined beside the checks themselves.
SubmitRejected = BatchRejected


@dataclass(frozen=True)
class InvalidTxn:
    """One entry of `invalid_transactions` in a batch status."""

    id: str
    message: str
    extended_data: bytes = b""


@dataclass(frozen=True)
class BatchStatus:
    id: str
    status: str  # COMMITTED | INVALID | PENDING | UNKNOWN
    invalid_transactions: tuple[InvalidTxn, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class StatePage:
    """A page of leaves under a prefix, in address order."""

    head: str  # block id the state was read at
    entries: list[tuple[str, bytes]]  # (address, data)
    next_address: str | None  # start of the next page, None when this is the last


class LedgerReader(Protocol):
    def head_id(self) -> str | None:
        """Id of the chain head; None before genesis is committed."""

    def block_by_id(self, block_id: str) -> Block | None: ...

    def block_by_num(self, block_num: int) -> Block | None: ...

    def head_num(self) -> int:
        """Block number of the head, -1 before genesis."""

    def batch_by_id(self, batch_id: str) -> Batch | None:
        """A committed batch, or None."""

    def transaction_by_id(self, txn_id: str) -> Transaction | None:
        """A committed transaction, or None."""

    def batch_statuses(self, batch_ids: Sequence[str]) -> list[BatchStatus]: ...

    def wait_for_batches(self, batch_ids: Sequence[str], timeout: float) -> list[BatchStatus]:
        """Block until none of the batches is PENDING, or `timeout` seconds pass."""

    def submit(self, batches: Sequence[Batch]) -> None:
        """Queue batches (already parsed). Raises SubmitRejected or QueueFull;
        on either, nothing is queued. Re-submitting a known batch id is a no-op."""

    def state_get(self, address: str, head: str | None = None) -> tuple[bytes | None, str]:
        """(data or None, head id used). Raises KeyError for an unknown head."""

    def state_list(
        self, prefix: str, head: str | None, start: str | None, limit: int
    ) -> StatePage:
        """Leaves whose address starts with `prefix` (may be ''), from `start`
        (an address, inclusive) on, at most `limit`. Raises KeyError for an
        unknown head."""

    def receipts(self, txn_ids: Sequence[str]) -> list[TransactionReceipt | None]: ...

    def peers(self) -> list[str]:
        """Peer endpoints (always empty on devnet)."""

    def endpoint(self) -> str:
        """This node's network endpoint, as /status reports it."""
