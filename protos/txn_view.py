"""The state one transaction sees while a handler applies it, and the rules on it.

Reads fall through: this transaction's own writes, then `read_below` (the
writes of earlier transactions of the batch or block, then committed state).
Reads must fall under one of the header's `inputs`, writes and deletes under
one of its `outputs` (prefix match on a well-formed address), as a Sawtooth
validator enforces it. devnet's execution contexts and the in-process
ledger's both build on this class, so `--fast` and devnet cannot drift apart.
"""
from __future__ import annotations

from typing import Callable, Sequence

from sawgrid.protos.sawtooth import Event, is_address

Reader = Callable[[str], "bytes | None"]
DELETED = None  # a write of None deletes the address


class TransactionView:
    def __init__(self, inputs: Sequence[str], outputs: Sequence[str], read_below: Reader) -> None:
        self._inputs = tuple(inputs)
        self._outputs = tuple(outputs)
        self._read_below = read_below
        self.writes: dict[str, bytes | None] = {}
        self.events: list[Event] = []
        self.receipt_data: list[bytes] = []

    def may_read(self, address: str) -> bool:
        return is_address(address) and address.startswith(self._inputs)

    def may_write(self, address: str) -> bool:
        return is_address(address) and address.startswith(self._outputs)

    def get(self, address: str) -> bytes | None:
        if address in self.writes:
            return self.writes[address]
        return self._read_below(address)
