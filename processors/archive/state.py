"""Typed access to the records the archive reads, writes and deletes.

Reads are cached per transaction and fetched many at once; writes and
deletes are buffered and leave in one `set_state` and one `delete_state`
call from `flush()`, after the handler has decided everything. A record that
does not parse is refused naming its address (an InternalError would make the
validator retry the transaction forever).
"""
from __future__ import annotations

from typing import Iterable, TypeVar

from google.protobuf.message import DecodeError, Message

from sawgrid.processors.checks import invalid

M = TypeVar("M", bound=Message)


class ArchiveState:
    def __init__(self, context) -> None:
        self._context = context
        self._cache: dict[str, bytes | None] = {}
        self._writes: dict[str, bytes] = {}
        self._deletes: list[str] = []

    def prefetch(self, addresses: Iterable[str]) -> None:
        """Read several addresses in one round trip to the validator."""
        wanted = [a for a in dict.fromkeys(addresses) if a not in self._cache]
        if not wanted:
            return
        found = {entry.address: entry.data for entry in self._context.get_state(wanted)}
        for address in wanted:
            self._cache[address] = found.get(address) or None

    def raw(self, address: str) -> bytes | None:
        self.prefetch([address])
        return self._cache[address]

    def read(self, address: str, message_type: type[M], what: str) -> M | None:
        """The record at `address`, or None; `what` names it in the refusal if it does not parse."""
        data = self.raw(address)
        if data is None:
            return None
        try:
            return message_type.FromString(data)
        except DecodeError:
            raise invalid("state", f"{what} at {address} is not a {message_type.__name__}") from None

    def put(self, address: str, message: Message) -> None:
        self._writes[address] = message.SerializeToString(deterministic=True)

    def delete(self, addresses: Iterable[str]) -> None:
        self._deletes.extend(addresses)

    def flush(self) -> None:
        """Write every record put(), then delete every address delete()d (sorted, once each)."""
        if self._writes:
            self._context.set_state({a: self._writes[a] for a in sorted(self._writes)})
        deletes = sorted(set(self._deletes) - set(self._writes))
        if deletes:
            self._context.delete_state(deletes)
