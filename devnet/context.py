"""Execution contexts: the view of state one transaction sees while a processor applies it.

Reads fall through: this transaction's own writes, then everything written
earlier in the block being built (including earlier transactions of the same
batch), then the parent block's state root. Access is limited to the
transaction header's declared inputs (reads) and outputs (writes/deletes), by
prefix, exactly as a Sawtooth validator enforces it.
"""
from __future__ import annotations

from typing import Callable

from sawgrid.processors.addressing import is_address
from sawgrid.protos.sawtooth import Event

Reader = Callable[[str], "bytes | None"]
DELETED = None  # a write of None deletes the address


class ExecutionContext:
    def __init__(self, context_id: str, inputs: list[str], outputs: list[str], read_below: Reader) -> None:
        self.context_id = context_id
        self._inputs = tuple(inputs)
        self._outputs = tuple(outputs)
        self._read_below = read_below
        self.writes: dict[str, bytes | None] = {}
        self.receipt_data: list[bytes] = []
        self.events: list[Event] = []

    def may_read(self, address: str) -> bool:
        return is_address(address) and address.startswith(self._inputs)

    def may_write(self, address: str) -> bool:
        return is_address(address) and address.startswith(self._outputs)

    def get(self, address: str) -> bytes | None:
        if address in self.writes:
            return self.writes[address]
        return self._read_below(address)

    def set(self, address: str, data: bytes) -> None:
        self.writes[address] = data

    def delete(self, address: str) -> None:
        self.writes[address] = DELETED
