"""Typed access to market records through a Sawtooth context.

Reads are cached per transaction (and can be fetched many at once); writes
are buffered and leave in one `set_state` call from `flush()`, after the
handler has decided everything. Records are serialized deterministically,
so every validator computes the same state root.
"""
from __future__ import annotations

from typing import Iterable, TypeVar

from google.protobuf.message import DecodeError, Message
from sawtooth_sdk.processor.exceptions import InternalError

from sawgrid.processors.market import addresses as addr
from sawgrid.protos import market_pb2 as pb

M = TypeVar("M", bound=Message)


class MarketState:
    def __init__(self, context) -> None:
        self._context = context
        self._cache: dict[str, bytes | None] = {}
        self._dirty: dict[str, Message] = {}  # decoded records, shared by later reads
        self._written: set[str] = set()

    # -- raw ---------------------------------------------------------------------
    def prefetch(self, addresses: Iterable[str]) -> None:
        """Read several addresses in one round trip to the validator."""
        wanted = [a for a in dict.fromkeys(addresses) if a not in self._cache]
        if not wanted:
            return
        found = {entry.address: entry.data for entry in self._context.get_state(wanted)}
        for address in wanted:
            self._cache[address] = found.get(address) or None

    def _read(self, address: str, message_type: type[M]) -> M | None:
        if address in self._dirty:
            return self._dirty[address]
        self.prefetch([address])
        raw = self._cache[address]
        if raw is None:
            return None
        try:
            message = message_type.FromString(raw)
        except DecodeError:
            # State is only ever written by this handler: this is corruption, not bad input.
            raise InternalError(f"state at {address} is not a {message_type.__name__}") from None
        self._dirty[address] = message  # later reads see (and may mutate) the same object
        return message

    def put(self, address: str, message: Message) -> None:
        self._dirty[address] = message
        self._written.add(address)

    def flush(self) -> None:
        """Write every record put() in this transaction (one set_state call)."""
        if self._written:
            self._context.set_state(
                {a: self._dirty[a].SerializeToString(deterministic=True) for a in sorted(self._written)})

    # -- records -------------------------------------------------------------------
    def config(self) -> pb.Config | None:
        return self._read(addr.config_address(), pb.Config)

    def participant(self, public_key: str) -> pb.Participant | None:
        return self._read(addr.participant_address(public_key), pb.Participant)

    def role(self, public_key: str, day: int) -> pb.DayRole | None:
        return self._read(addr.role_address(public_key, day), pb.DayRole)

    def wallet(self, public_key: str) -> pb.Wallet | None:
        return self._read(addr.wallet_address(public_key), pb.Wallet)

    def wallet_or_new(self, public_key: str) -> pb.Wallet:
        return self.wallet(public_key) or pb.Wallet(public_key=public_key)

    def grid_prices(self, day: int) -> pb.GridPrices | None:
        return self._read(addr.grid_prices_address(day), pb.GridPrices)

    def penalties(self, day: int) -> pb.Penalties | None:
        return self._read(addr.penalties_address(day), pb.Penalties)

    def book(self, day: int, hour: int) -> pb.Book | None:
        return self._read(addr.book_address(day, hour), pb.Book)

    # -- writes ----------------------------------------------------------------------
    def put_config(self, config: pb.Config) -> None:
        self.put(addr.config_address(), config)

    def put_participant(self, participant: pb.Participant) -> None:
        self.put(addr.participant_address(participant.public_key), participant)

    def put_role(self, role: pb.DayRole) -> None:
        self.put(addr.role_address(role.public_key, role.day), role)

    def put_wallet(self, wallet: pb.Wallet) -> None:
        self.put(addr.wallet_address(wallet.public_key), wallet)

    def put_grid_prices(self, prices: pb.GridPrices) -> None:
        self.put(addr.grid_prices_address(prices.day), prices)

    def put_penalties(self, penalties: pb.Penalties) -> None:
        self.put(addr.penalties_address(penalties.day), penalties)

    def put_recommendation(self, record: pb.RecommendationRecord) -> None:
        self.put(addr.recommendation_address(record.day, record.public_key), record)

    def put_book(self, book: pb.Book) -> None:
        self.put(addr.book_address(book.day, book.hour), book)

    def put_contract(self, contract: pb.Contract) -> None:
        self.put(addr.contract_address(contract.day, contract.hour, contract.id), contract)
