"""`LedgerClient`: what the market reader, the PAR engine and the simulation
need of a ledger, and the in-process implementation behind `--fast`.

`RestClient` (a Sawtooth node or devnet through the REST API) and
`InProcessClient` (every registered family's handler applied to a dict, or
an LMDB file, in this process) both satisfy it, so the same code runs on either. Nothing else
changes between the two, which is what lets a test demand identical contracts
and reports from both.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol, Sequence, runtime_checkable

from sawgrid.clients.sdk.rest import BatchInvalid
from sawgrid.processors import registry
from sawgrid.processors.disk_state import DiskState
from sawgrid.processors.inprocess import InProcessLedger
from sawgrid.protos.envelopes import make_batch
from sawgrid.protos.sawtooth import Batch, Transaction


@runtime_checkable
class LedgerClient(Protocol):
    """Reading state and submitting batches: the part of a ledger client every
    Sawgrid application uses."""

    url: str

    def state(self, address: str, head: str | None = None) -> bytes | None:
        """The data at a full address, or None."""

    def state_prefix(self, prefix: str, head: str | None = None, page_size: int | None = None
                     ) -> Iterator[tuple[str, bytes]]:
        """(address, data) of every entry under `prefix`, in address order."""

    def submit(self, batches: Iterable[Batch]) -> list[str]:
        """Queue batches; return their ids."""

    def submit_and_wait(self, batches: Iterable[Batch], timeout: float = 60.0) -> dict[str, dict]:
        """Submit and wait until committed; BatchInvalid / BatchTimeout otherwise."""

    def wait(self, batch_ids: Sequence[str], timeout: float = 30.0) -> dict[str, dict]:
        """Statuses once none is PENDING (or at the timeout)."""

    def status(self) -> dict:
        """The node's status document."""


SUBMIT_TIMEOUT = 60.0  # seconds a family's `submit` waits for its batch to commit


def submit_transactions(ledger: LedgerClient, signer, transactions: Sequence[Transaction],
                        wait: bool = True, timeout: float = SUBMIT_TIMEOUT) -> list[str]:
    """Sign `transactions` as ONE batch (all or nothing) and submit it; with
    `wait`, return once committed. Returns the transaction ids, in order.
    Every family's `submit` ends here. Raises ValueError for no transactions,
    BatchInvalid (its message carries the processor's reason) or BatchTimeout."""
    if not transactions:
        raise ValueError("submit: no payloads")
    batch = make_batch(signer, list(transactions))
    if wait:
        ledger.submit_and_wait([batch], timeout=timeout)
    else:
        ledger.submit([batch])
    return [t.header_signature for t in transactions]


class InProcessClient:
    """A `LedgerClient` over an `InProcessLedger` running every registered family.

    It stands in for a validator, so by default the batches of each `submit`
    are applied as one block after an injected BlockInfo (`InProcessLedger`'s
    `inject_block_info`), stamped with `clock()` (seconds; default the wall
    clock): handlers reading the chain's time (`processors.block_info.clock`)
    behave as on devnet. `inject_block_info=False` gives the bare ledger.
    `state_dir`: keep the committed state on disk there (`DiskState`, for a
    run larger than memory) instead of in a dict; `close()` closes it."""

    url = "in-process"

    def __init__(self, *, inject_block_info: bool = True, clock: Callable[[], float] | None = None,
                 state_dir: Path | str | None = None) -> None:
        self.ledger = InProcessLedger(registry.handlers(), inject_block_info=inject_block_info,
                                      clock=clock if clock is not None else time.time,
                                      state=DiskState(state_dir) if state_dir is not None else None)

    @classmethod
    @contextmanager
    def on_disk(cls, *, clock: Callable[[], float] | None = None,
                prefix: str = "sawgrid-inprocess-") -> Iterator["InProcessClient"]:
        """A client whose state lives in a new temporary directory (`prefix`
        names it), closed and removed when the `with` block ends."""
        directory = Path(tempfile.mkdtemp(prefix=prefix))
        client = cls(clock=clock, state_dir=directory)
        try:
            yield client
        finally:
            client.close()
            shutil.rmtree(directory, ignore_errors=True)

    def close(self) -> None:
        """Close an on-disk state (`state_dir`); a dict needs nothing."""
        if isinstance(self.ledger.state, DiskState):
            self.ledger.state.close()

    def state(self, address: str, head: str | None = None) -> bytes | None:
        return self.ledger.get(address)

    def state_prefix(self, prefix: str, head: str | None = None, page_size: int | None = None
                     ) -> Iterator[tuple[str, bytes]]:
        yield from self.ledger.items(prefix).items()

    def submit(self, batches: Iterable[Batch]) -> list[str]:
        """Apply batches in order, as one block (one BlockInfo, as devnet puts
        the batches it has gathered into one block); an invalid one raises
        BatchInvalid (and, like a validator, leaves the state as the valid ones
        before it made it)."""
        batches = list(batches)
        for batch, result in zip(batches, self.ledger.block_results(batches)):   # no result is kept
            if not result.valid:
                raise BatchInvalid([{"id": batch.header_signature, "status": "INVALID", "invalid_transactions": [
                    {"id": result.invalid_transaction, "message": result.invalid_message}]}])
        return [batch.header_signature for batch in batches]

    def submit_and_wait(self, batches: Iterable[Batch], timeout: float = 0) -> dict[str, dict]:
        return {batch_id: {"id": batch_id, "status": "COMMITTED"} for batch_id in self.submit(batches)}

    def wait(self, batch_ids: Sequence[str], timeout: float = 0) -> dict[str, dict]:
        return {batch_id: {"id": batch_id, "status": "COMMITTED"} for batch_id in batch_ids}

    def status(self) -> dict:
        return {"endpoint": self.url, "peers": []}
