"""devnet's execution context: the view of state one transaction sees while a
processor applies it over ZMQ (see `processors.txn_view` for the rules), plus
the context id the processor's TP_STATE_* requests name.

Below a transaction lie everything written earlier in the block being built
(including earlier transactions of the same batch), then the parent block's
state root.
"""
from __future__ import annotations

from sawgrid.protos.txn_view import DELETED, Reader, TransactionView


class ExecutionContext(TransactionView):
    def __init__(self, context_id: str, inputs: list[str], outputs: list[str], read_below: Reader) -> None:
        super().__init__(inputs, outputs, read_below)
        self.context_id = context_id

    def set(self, address: str, data: bytes) -> None:
        self.writes[address] = data

    def delete(self, address: str) -> None:
        self.writes[address] = DELETED
