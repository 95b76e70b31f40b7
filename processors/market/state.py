"""Typed access to market records through a Sawtooth context.

Reads are cached per transaction (and can be fetched many at once); writes
are buffered and leave in one `set_state` call from `flush()`, after the
handler has decided everything (deletions, which only the book's records
have, in one `delete_state` call). Records are serialized deterministically,
so every validator computes the same state root.
"""
from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Iterable, TypeVar

from google.protobuf.message import DecodeError, Message
from sawtooth_sdk.processor.exceptions import InternalError

from sawgrid.processors.market import addresses as addr
from sawgrid.processors.reputation import addresses as rep
from sawgrid.processors.reputation import cluster
from sawgrid.processors.reputation.settings import DEFAULTS as REPUTATION_DEFAULTS
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos import reputation_pb2 as rpb

M = TypeVar("M", bound=Message)


def _memo(function):
    return functools.lru_cache(maxsize=16_384, typed=True)(function)


# The address functions the handler and the record accessors call, memoized:
# each is a few string joins, a regex check and a digest lookup, and a
# place_order derives about fifteen addresses, mostly the same few over and
# over (the config, a participant's records, a busy hour's book).
ADDR = SimpleNamespace(**{name: _memo(getattr(addr, name)) for name in (
    "config_address", "participant_address", "role_address", "wallet_address", "grid_prices_address",
    "penalties_address", "recommendation_address", "book_address", "contract_address", "hour_index_address",
    "position_address", "recommendation_index_address", "page_address", "node_address", "level_address",
    "order_ref_address")})
REP = SimpleNamespace(**{name: _memo(getattr(rep, name)) for name in (
    "config_address", "score_address", "pool_address")})
_MISSING = object()


class MarketState:
    def __init__(self, context) -> None:
        self._context = context
        self._cache: dict[str, bytes | None] = {}
        self._dirty: dict[str, Message] = {}  # decoded records, shared by later reads
        self._written: set[str] = set()
        self._deleted: set[str] = set()

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
        raw = self._cache.get(address, _MISSING)
        if raw is _MISSING:
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
        self._deleted.discard(address)

    def delete(self, address: str) -> None:
        """Remove the record at `address` (reads in this transaction see it gone)."""
        self._dirty.pop(address, None)
        self._written.discard(address)
        self._cache[address] = None
        self._deleted.add(address)

    def deletes(self) -> list[str]:
        """Every address delete()d in this transaction, in address order."""
        return sorted(self._deleted)

    def writes(self) -> dict[str, bytes]:
        """Every record put() in this transaction, serialized, in address order."""
        return {a: self._dirty[a].SerializeToString(deterministic=True) for a in sorted(self._written)}

    def flush(self) -> None:
        """Write every record put() in this transaction (one set_state call),
        then delete what was delete()d (one delete_state call)."""
        if self._written:
            self._context.set_state(self.writes())
        if self._deleted:
            self._context.delete_state(self.deletes())

    # -- records -------------------------------------------------------------------
    def config(self) -> pb.Config | None:
        return self._read(ADDR.config_address(), pb.Config)

    def participant(self, public_key: str) -> pb.Participant | None:
        return self._read(ADDR.participant_address(public_key), pb.Participant)

    def role(self, public_key: str, day: int) -> pb.DayRole | None:
        return self._read(ADDR.role_address(public_key, day), pb.DayRole)

    def wallet(self, public_key: str) -> pb.Wallet | None:
        return self._read(ADDR.wallet_address(public_key), pb.Wallet)

    def wallet_or_new(self, public_key: str) -> pb.Wallet:
        return self.wallet(public_key) or pb.Wallet(public_key=public_key)

    def grid_prices(self, day: int) -> pb.GridPrices | None:
        return self._read(ADDR.grid_prices_address(day), pb.GridPrices)

    def penalties(self, day: int) -> pb.Penalties | None:
        return self._read(ADDR.penalties_address(day), pb.Penalties)

    def book(self, day: int, hour: int) -> pb.Book | None:
        return self._read(ADDR.book_address(day, hour), pb.Book)

    def page(self, day: int, hour: int, side: int, price: int, number: int) -> pb.Book | None:
        return self._read(ADDR.page_address(day, hour, side, price, number), pb.Book)

    def book_index(self, address: str) -> pb.BookIndex | None:
        """A record of an hour's price index (a node, a level or an order ref)."""
        return self._read(address, pb.BookIndex)

    def _read_or_new(self, address: str, message: M) -> M:
        """The record at `address`, or `message` as its empty first version; later
        reads in this transaction see (and may mutate) the same object."""
        found = self._read(address, type(message))
        if found is None:
            self._dirty[address] = found = message
        return found

    def hour_index(self, day: int, hour: int) -> pb.HourIndex:
        return self._read_or_new(ADDR.hour_index_address(day, hour), pb.HourIndex(day=day, hour=hour))

    def position(self, day: int, hour: int, public_key: str) -> pb.Position:
        return self._read_or_new(ADDR.position_address(day, hour, public_key),
                                 pb.Position(public_key=public_key, day=day, hour=hour))

    def recommendation_index(self, day: int) -> pb.RecommendationIndex:
        return self._read_or_new(ADDR.recommendation_index_address(day), pb.RecommendationIndex(day=day))

    # -- the reputation family's records (read only) -----------------------------------
    def reputation_settings(self) -> rpb.Settings:
        """The on-chain reputation Settings, or their DEFAULTS on a chain without them."""
        config = self._read(REP.config_address(), rpb.Config)
        return config.settings if config is not None and config.HasField("settings") else REPUTATION_DEFAULTS

    def score(self, public_key: str) -> rpb.Score | None:
        return self._read(REP.score_address(public_key), rpb.Score)

    def pool(self) -> rpb.Pool:
        return self._read(REP.pool_address(), rpb.Pool) or rpb.Pool()

    def pool_ranking(self, min_score: int) -> cluster.Ranking:
        """The cluster draw's ranking of the Pool snapshot (reputation's
        `cluster.ranking`), from the record's bytes through a memo: every order
        of the day draws from the same snapshot, so it is neither decoded nor
        sorted again per order."""
        address = REP.pool_address()
        if address in self._dirty:
            return cluster.ranking(self._dirty[address].snapshot, min_score)
        if address not in self._cache:
            self.prefetch([address])
        try:
            return cluster.pool_ranking(self._cache[address] or b"", min_score)
        except cluster.BadPool:
            raise InternalError(f"state at {address} is not a {rpb.Pool.__name__}") from None

    # -- writes ----------------------------------------------------------------------
    def put_config(self, config: pb.Config) -> None:
        self.put(ADDR.config_address(), config)

    def put_participant(self, participant: pb.Participant) -> None:
        self.put(ADDR.participant_address(participant.public_key), participant)

    def put_role(self, role: pb.DayRole) -> None:
        self.put(ADDR.role_address(role.public_key, role.day), role)

    def put_wallet(self, wallet: pb.Wallet) -> None:
        self.put(ADDR.wallet_address(wallet.public_key), wallet)

    def put_grid_prices(self, prices: pb.GridPrices) -> None:
        self.put(ADDR.grid_prices_address(prices.day), prices)

    def put_penalties(self, penalties: pb.Penalties) -> None:
        self.put(ADDR.penalties_address(penalties.day), penalties)

    def put_recommendation(self, record: pb.RecommendationRecord) -> None:
        self.put(ADDR.recommendation_address(record.day, record.public_key), record)

    def put_book(self, book: pb.Book) -> None:
        self.put(ADDR.book_address(book.day, book.hour), book)

    def put_contract(self, contract: pb.Contract) -> None:
        self.put(ADDR.contract_address(contract.day, contract.hour, contract.id), contract)

    def put_hour_index(self, index: pb.HourIndex) -> None:
        self.put(ADDR.hour_index_address(index.day, index.hour), index)

    def put_position(self, position: pb.Position) -> None:
        self.put(ADDR.position_address(position.day, position.hour, position.public_key), position)

    def put_recommendation_index(self, index: pb.RecommendationIndex) -> None:
        self.put(ADDR.recommendation_index_address(index.day), index)
