"""`sawgrid simulate --fast`: the same handlers, in process, behind the part
of the REST client's interface the simulation, the market reader and the PAR
engine use. Nothing else changes between the two modes, which is what lets a
test demand identical contracts and reports from both."""
from __future__ import annotations

from typing import Iterable, Iterator, Sequence

from sawgrid.clients.rest import BatchInvalid
from sawgrid.processors.inprocess import InProcessLedger
from sawgrid.processors.market.handler import MarketHandler
from sawgrid.protos.sawtooth import Batch


class InProcessRest:
    """state / state_prefix / submit / submit_and_wait over an InProcessLedger."""

    url = "in-process"

    def __init__(self) -> None:
        self.ledger = InProcessLedger([MarketHandler()])

    def state(self, address: str, head: str | None = None) -> bytes | None:
        return self.ledger.get(address)

    def state_prefix(self, prefix: str, head: str | None = None, page_size: int | None = None
                     ) -> Iterator[tuple[str, bytes]]:
        yield from self.ledger.items(prefix).items()

    def submit(self, batches: Iterable[Batch]) -> list[str]:
        """Apply batches in order; an invalid one raises BatchInvalid (and, like
        a validator, leaves the state as the valid ones before it made it)."""
        ids = []
        for batch in batches:
            result = self.ledger.apply_batch(batch)
            if not result.valid:
                raise BatchInvalid([{"id": batch.header_signature, "status": "INVALID", "invalid_transactions": [
                    {"id": result.invalid_transaction, "message": result.invalid_message}]}])
            ids.append(batch.header_signature)
        return ids

    def submit_and_wait(self, batches: Iterable[Batch], timeout: float = 0) -> dict[str, dict]:
        return {batch_id: {"id": batch_id, "status": "COMMITTED"} for batch_id in self.submit(batches)}

    def wait(self, batch_ids: Sequence[str], timeout: float = 0) -> dict[str, dict]:
        return {batch_id: {"id": batch_id, "status": "COMMITTED"} for batch_id in batch_ids}

    def status(self) -> dict:
        return {"endpoint": self.url, "peers": []}
