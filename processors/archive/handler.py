"""The sawgrid-archive transaction handler.

Every action reads like the spec (processors/archive/README.md): decode and
check the payload, read exactly the records the market names for the day,
decide — raising InvalidTransaction before anything is written — then write
(and delete) in one flush.
"""
from __future__ import annotations

from sawtooth_sdk.processor.exceptions import InvalidTransaction

from sawgrid.processors.archive import addresses as addr
from sawgrid.processors.archive import record as rec
from sawgrid.processors.archive.payload import DEFAULT_RETENTION_DAYS, decode
from sawgrid.processors.checks import invalid
from sawgrid.processors.archive.state import ArchiveState
from sawgrid.processors.base import SawgridHandler
from sawgrid.processors.market import addresses as market
from sawgrid.processors.market.units import HOURS_PER_DAY
from sawgrid.processors.reputation import addresses as reputation
from sawgrid.protos import archive_pb2 as pb
from sawgrid.protos import market_pb2 as mpb


class ArchiveHandler(SawgridHandler):
    FAMILY = addr.ARCHIVE

    def handle(self, transaction, context) -> None:
        action, message = decode(transaction.payload)
        signer = transaction.header.signer_public_key
        st = ArchiveState(context)
        getattr(self, "_" + action)(st, signer, message, transaction.signature)
        st.flush()

    # -- configuration ------------------------------------------------------------------
    def _configure(self, st: ArchiveState, signer: str, m: pb.Configure, txn_id: str) -> None:
        _require_operator(st, signer)
        st.put(addr.config_address(), pb.Config(retention_days=m.retention_days))

    # -- archive_day ---------------------------------------------------------------------
    def _archive_day(self, st: ArchiveState, signer: str, m: pb.ArchiveDay, txn_id: str) -> None:
        day, field = m.day, "archive_day.day"
        st.prefetch([market.config_address(), addr.head_address(), addr.day_address(day),
                     *addr.book_addresses(day), *addr.hour_index_addresses(day),
                     market.penalties_address(day), market.grid_prices_address(day),
                     market.recommendation_index_address(day)])
        config = _require_operator(st, signer)
        head = _head(st)
        if st.raw(addr.day_address(day)) is not None:
            raise invalid(field, f"day {day} is already archived")
        if head is not None and day <= head.day:
            raise invalid(field, f"days are archived in increasing order: the newest archived day is "
                                 f"{head.day}, so only later days can be archived")
        _require_closed(st, day, field)
        contracts = _contracts(st, day, field)
        unfinal = rec.first_unfinal(contracts)
        if unfinal is not None:
            raise invalid(field, f"contract {unfinal.id} is not final (stage {rec.stage_name(unfinal.stage)}): "
                                 f"every contract of the day must be SETTLED or DECLINED")
        record = rec.build(
            day, contracts,
            penalties=st.read(market.penalties_address(day), mpb.Penalties, "penalties"),
            grid=st.read(market.grid_prices_address(day), mpb.GridPrices, "grid prices"),
            recommendations=_recommendations(st, day, field),
            system_operator=config.system_operator,
            previous=(head.day, head.digest) if head is not None else None,
            transaction_id=txn_id,
        )
        st.put(addr.day_address(day), record)
        st.put(addr.head_address(), pb.ArchiveHead(day=day, digest=record.digest,
                                                   days=(head.days if head is not None else 0) + 1))

    # -- prune_day -----------------------------------------------------------------------
    def _prune_day(self, st: ArchiveState, signer: str, m: pb.PruneDay, txn_id: str) -> None:
        day, field = m.day, "prune_day.day"
        st.prefetch([market.config_address(), addr.config_address(), addr.head_address(), addr.day_address(day),
                     *addr.book_addresses(day), *addr.hour_index_addresses(day),
                     market.recommendation_index_address(day)])
        _require_operator(st, signer)
        archived = st.read(addr.day_address(day), pb.DayArchive, "day archive")
        head = _head(st)
        if archived is None or head is None:
            raise invalid(field, f"day {day} is not archived (archive it first; only archived days are pruned)")
        config = st.read(addr.config_address(), pb.Config, "archive config")
        retention = config.retention_days if config is not None and config.retention_days else DEFAULT_RETENTION_DAYS
        if day + retention > head.day:
            oldest = (f"days up to {head.day - retention} may be pruned" if head.day >= retention
                      else "no day may be pruned yet")
            raise invalid(field, f"day {day} is within the retention of {retention} days (the newest archived "
                                 f"day is {head.day}: {oldest})")
        indexed = any(st.raw(a) is not None for a in addr.hour_index_addresses(day))
        contracts = _contracts(st, day, field)
        if indexed and rec.contracts_digest(contracts) != archived.contracts_digest:
            raise invalid(field, f"the contracts of day {day} no longer match its archive record; nothing pruned")

        deletes: list[str] = [*addr.hour_index_addresses(day), market.recommendation_index_address(day)]
        for c in contracts:
            deletes.append(market.contract_address(c.day, c.hour, c.id))
            deletes.append(reputation.settlement_address(c.day, c.hour, c.id))
            for party in (c.buyer, c.seller):
                deletes.append(market.position_address(c.day, c.hour, party))
                deletes.append(reputation.reading_address(c.day, c.hour, party))
        index = st.read(market.recommendation_index_address(day), mpb.RecommendationIndex, "recommendation index")
        if index is not None:
            deletes.extend(market.recommendation_address(day, pk) for pk in index.public_keys)
        st.delete(deletes)
        # A Book is not deleted but left closed and empty: without one, the market would
        # open the hour again for orders, and new contracts would reuse pruned ids.
        for hour in range(HOURS_PER_DAY):
            address = market.book_address(day, hour)
            book = st.read(address, mpb.Book, "book")
            if book is not None:
                st.put(address, mpb.Book(day=day, hour=hour, closed=True, next_seq=book.next_seq))


# -- rules and reads shared by the actions ------------------------------------------------------
def _require_operator(st: ArchiveState, signer: str) -> mpb.Config:
    config = st.read(market.config_address(), mpb.Config, "market config")
    if config is None:
        raise InvalidTransaction("market: not initialised (no operator yet)")
    if signer not in config.operators:
        raise InvalidTransaction("signer: not an operator")
    return config


def _head(st: ArchiveState) -> pb.ArchiveHead | None:
    return st.read(addr.head_address(), pb.ArchiveHead, "archive head")


def _require_closed(st: ArchiveState, day: int, field: str) -> None:
    for hour in range(HOURS_PER_DAY):
        book = st.read(market.book_address(day, hour), mpb.Book, "book")
        if book is None or not book.closed:
            raise invalid(field, f"hour {day}/{hour} is not closed: a day is archived once all 24 hours are closed")


def _contracts(st: ArchiveState, day: int, field: str) -> list[mpb.Contract]:
    """The day's contracts in canonical order: hour by hour, each in its HourIndex's order."""
    contracts: list[mpb.Contract] = []
    for hour in range(HOURS_PER_DAY):
        index = st.read(market.hour_index_address(day, hour), mpb.HourIndex, "hour index")
        if index is None:
            continue
        ids = list(index.contracts)
        if len(set(ids)) != len(ids):
            raise invalid(field, f"the index of hour {day}/{hour} lists a contract twice")
        for contract_id in ids:
            try:
                parsed = market.parse_order_id(contract_id)
            except ValueError:
                parsed = None
            if parsed is None or parsed[:2] != (day, hour):
                raise invalid(field, f"the index of hour {day}/{hour} lists {contract_id!r}, not a contract of that hour")
        addresses = [market.contract_address(day, hour, i) for i in ids]
        st.prefetch(addresses)
        for contract_id, address in zip(ids, addresses):
            contract = st.read(address, mpb.Contract, "contract")
            if contract is None or contract.id != contract_id:
                raise invalid(field, f"contract {contract_id}, listed in the index of hour {day}/{hour}, is missing")
            contracts.append(contract)
    return contracts


def _recommendations(st: ArchiveState, day: int, field: str) -> list[mpb.RecommendationRecord]:
    index = st.read(market.recommendation_index_address(day), mpb.RecommendationIndex, "recommendation index")
    if index is None:
        return []
    addresses = [market.recommendation_address(day, pk) for pk in index.public_keys]
    st.prefetch(addresses)
    found = []
    for public_key, address in zip(index.public_keys, addresses):
        record = st.read(address, mpb.RecommendationRecord, "recommendation")
        if record is None:
            raise invalid(field, f"the recommendation of {public_key}, listed in the day's index, is missing")
        found.append(record)
    return found
