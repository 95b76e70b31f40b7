"""Client side of sawgrid-archive: payload builders, signing, readers, and the
verification of an archived day against the chain's history.

    from sawgrid.clients.sdk import archive
    archive.submit(rest, operator, archive.archive_day(day))
    record = archive.ArchiveReader(rest).day(day)          # a DayArchive, or None
    result = archive.verify_day(rest, day)                  # Verification(ok, reason, ...)

Verification recomputes the record from the market's records as they were in
the block that committed `archive_day` (REST `/state?head=BLOCK`), with the
very function the processor uses (processors/archive/record.py), and compares
it with the record on chain; it also checks the record's own digest and its
link to the previous archived day. It works after the day was pruned, since
the chain's history keeps the state of every block. On a ledger without
history (the in-process one) it reads the current state instead.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Iterable, TypeVar

from google.protobuf.message import DecodeError, Message
from sawtooth_signing import Signer

from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.sdk.ledger import SUBMIT_TIMEOUT, LedgerClient, submit_transactions
from sawgrid.clients.sdk.rest import RestError
from sawgrid.processors.archive import addresses
from sawgrid.processors.archive import record as rec
from sawgrid.processors.archive.addresses import ARCHIVE
from sawgrid.processors.archive.payload import DEFAULT_RETENTION_DAYS
from sawgrid.processors.market import addresses as market
from sawgrid.processors.market.units import HOURS_PER_DAY, day_date
from sawgrid.protos import archive_pb2 as pb
from sawgrid.protos import market_pb2 as mpb
from sawgrid.protos.envelopes import make_transaction
from sawgrid.protos.sawtooth import Transaction

DEFAULT_TIMEOUT = SUBMIT_TIMEOUT
M = TypeVar("M", bound=Message)


# --------------------------------------------------------------------------
# Payload builders, signing, submitting
# --------------------------------------------------------------------------
def archive_day(day: int) -> pb.ArchivePayload:
    """Archive `day` (operator): all 24 hours closed, every contract SETTLED or DECLINED."""
    return pb.ArchivePayload(archive_day=pb.ArchiveDay(day=day))


def prune_day(day: int) -> pb.ArchivePayload:
    """Delete an archived day's bulky records (operator), once it is older than the retention."""
    return pb.ArchivePayload(prune_day=pb.PruneDay(day=day))


def configure(retention_days: int) -> pb.ArchivePayload:
    """Set the retention (operator): archived days kept unpruned, back from the newest."""
    return pb.ArchivePayload(configure=pb.Configure(retention_days=retention_days))


def archive_transaction(signer: Signer, payload: pb.ArchivePayload) -> Transaction:
    """A signed sawgrid-archive transaction with the inputs/outputs `addresses.access` declares."""
    inputs, outputs = addresses.access(payload, signer.get_public_key().as_hex())
    return make_transaction(signer, ARCHIVE.name, ARCHIVE.versions[0],
                            payload.SerializeToString(deterministic=True), inputs, outputs)


def submit(rest: LedgerClient, signer: Signer, payloads: pb.ArchivePayload | Iterable[pb.ArchivePayload],
           wait: bool = True, timeout: float = DEFAULT_TIMEOUT) -> list[str]:
    """Sign `payloads` as one batch and submit it (waiting for commit with
    `wait`). Returns the transaction ids; raises BatchInvalid or BatchTimeout."""
    if isinstance(payloads, pb.ArchivePayload):
        payloads = [payloads]
    transactions = [archive_transaction(signer, p) for p in payloads]
    return submit_transactions(rest, signer, transactions, wait=wait, timeout=timeout)


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------
def _decode(cls: type[M], data: bytes, address: str) -> M:
    try:
        return cls.FromString(data)
    except DecodeError:
        raise SawgridError(f"state at {address} is not a {cls.__name__}") from None


def _one(ledger: LedgerClient, cls: type[M], address: str, head: str | None = None) -> M | None:
    data = ledger.state(address, head=head) if head is not None else ledger.state(address)
    return None if data is None else _decode(cls, data, address)


class ArchiveReader:
    """Decoded archive records; a missing record is None."""

    def __init__(self, rest: LedgerClient) -> None:
        self.rest = rest

    def config(self) -> pb.Config | None:
        return _one(self.rest, pb.Config, addresses.config_address())

    def retention_days(self) -> int:
        """The retention in force (the default on a chain without a Config)."""
        config = self.config()
        return config.retention_days if config is not None and config.retention_days else DEFAULT_RETENTION_DAYS

    def head(self) -> pb.ArchiveHead | None:
        return _one(self.rest, pb.ArchiveHead, addresses.head_address())

    def day(self, day: int) -> pb.DayArchive | None:
        return _one(self.rest, pb.DayArchive, addresses.day_address(day))

    def days(self) -> list[pb.DayArchive]:
        """Every archived day, oldest first."""
        found = [_decode(pb.DayArchive, data, address)
                 for address, data in self.rest.state_prefix(addresses.days_prefix())]
        return sorted(found, key=lambda r: r.day)


@dataclass
class DayRecords:
    """A day's market records as the archive reads them (at one block, or now)."""

    day: int
    config: mpb.Config | None
    books: list[mpb.Book | None]               # 24
    contracts: list[mpb.Contract]              # canonical order: hour, then HourIndex order
    unindexed: list[str]                       # ids of the day's contracts that no HourIndex lists
    missing: list[str]                         # ids an HourIndex lists that are not on chain
    penalties: mpb.Penalties | None
    grid: mpb.GridPrices | None
    recommendations: list[mpb.RecommendationRecord]

    @property
    def any_book(self) -> bool:
        return any(b is not None for b in self.books)

    def open_hour(self) -> int | None:
        """The first hour whose book is missing or open (None: all 24 closed)."""
        for hour, book in enumerate(self.books):
            if book is None or not book.closed:
                return hour
        return None


def read_day(ledger: LedgerClient, day: int, head: str | None = None) -> DayRecords:
    """The records `archive_day` reads for `day`, as of block `head` (None: now).
    Contracts come from one prefix query of the day and are put in the
    processor's order by the hour indexes."""
    def one(cls, address):
        return _one(ledger, cls, address, head)

    def under(prefix):
        return ledger.state_prefix(prefix, head=head) if head is not None else ledger.state_prefix(prefix)

    books = [one(mpb.Book, a) for a in addresses.book_addresses(day)]
    by_id = {}
    for address, data in under(addresses.contracts_prefix(day)):
        contract = _decode(mpb.Contract, data, address)
        by_id[contract.id] = contract
    ordered, missing, listed = [], [], set()
    for hour in range(HOURS_PER_DAY):
        index = one(mpb.HourIndex, market.hour_index_address(day, hour))
        for contract_id in (index.contracts if index is not None else []):
            listed.add(contract_id)
            if contract_id in by_id:
                ordered.append(by_id[contract_id])
            else:
                missing.append(contract_id)
    unindexed = sorted((i for i in by_id if i not in listed), key=_id_key)
    rec_index = one(mpb.RecommendationIndex, market.recommendation_index_address(day))
    recommendations = []
    if rec_index is not None:
        found = {r.public_key: r for r in (_decode(mpb.RecommendationRecord, data, address)
                                           for address, data in under(addresses.recommendations_prefix(day)))}
        for public_key in rec_index.public_keys:
            if public_key not in found:
                missing.append(f"recommendation of {public_key}")
            else:
                recommendations.append(found[public_key])
    return DayRecords(
        day=day, config=one(mpb.Config, market.config_address()), books=books, contracts=ordered,
        unindexed=unindexed, missing=missing, penalties=one(mpb.Penalties, market.penalties_address(day)),
        grid=one(mpb.GridPrices, market.grid_prices_address(day)), recommendations=recommendations)


def _id_key(contract_id: str) -> tuple:
    try:
        return market.parse_order_id(contract_id)
    except ValueError:
        return (float("inf"), contract_id)


@dataclass(frozen=True)
class DayStatus:
    """Whether `archive_day(day)` would be accepted now, and if not, why."""

    day: int
    ready: bool
    empty: bool                # no book at all: nothing was traded or closed that day
    reason: str = ""
    contracts: int = 0


def day_status(ledger: LedgerClient, day: int) -> DayStatus:
    """The processor's preconditions for archiving `day`, checked client-side
    (no transaction is spent on a day that would be refused)."""
    records = read_day(ledger, day)
    if not records.any_book:
        return DayStatus(day, False, True, f"day {day} has no trading (no book)")
    hour = records.open_hour()
    if hour is not None:
        return DayStatus(day, False, False, f"hour {day}/{hour} is not closed")
    if records.missing:
        return DayStatus(day, False, False, f"{records.missing[0]} is listed in an index but missing")
    unfinal = rec.first_unfinal(records.contracts)
    if unfinal is not None:
        return DayStatus(day, False, False,
                         f"contract {unfinal.id} is not final (stage {rec.stage_name(unfinal.stage)})",
                         len(records.contracts))
    return DayStatus(day, True, False, "", len(records.contracts))


# --------------------------------------------------------------------------
# Verification against the chain's history
# --------------------------------------------------------------------------
@dataclass
class Verification:
    day: int
    ok: bool
    reason: str = ""
    block_id: str | None = None       # the block in which archive_day committed (None: no history)
    block_num: int | None = None
    contracts: int = 0
    digest: str = ""
    contracts_digest: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"day": day_date(self.day).isoformat(), "verified": self.ok, "reason": self.reason,
                "block_id": self.block_id, "block_num": self.block_num, "contracts": self.contracts,
                "digest": self.digest, "contracts_digest": self.contracts_digest}


def find_archive_block(rest, transaction_id: str, day: int) -> tuple[dict | None, str]:
    """(block, "") for the block that committed the archive_day(day)
    transaction `transaction_id`; (None, why) if no block has it or the
    transaction there is something else.

    Archive records are never deleted, so the record exists in the state of
    every block from that one on: a bisection over block numbers (`/blocks?
    start=0x…&limit=1`, then `/state/ADDRESS?head=…`) finds it in about
    log2(blocks) reads. A REST API that cannot list blocks by number (Sawtooth
    1.0 pages by block id) gets the walk from the head back instead."""
    try:
        block = _bisect_record_block(rest, addresses.day_address(day))
    except (RestError, KeyError, ValueError, TypeError):
        block = None
    candidates = [block] if block is not None else rest.blocks()
    for block in candidates:
        for batch in block.get("batches", []):
            for txn in batch.get("transactions", []):
                if txn.get("header_signature") != transaction_id:
                    continue
                header = txn.get("header", {})
                try:
                    payload = pb.ArchivePayload.FromString(base64.b64decode(txn.get("payload", "")))
                except (DecodeError, ValueError):
                    payload = pb.ArchivePayload()
                if header.get("family_name") != ARCHIVE.name or payload.WhichOneof("action") != "archive_day" \
                        or payload.archive_day.day != day:
                    return None, (f"transaction {transaction_id[:16]} in block "
                                  f"{block['header_signature'][:16]} is not archive_day of day {day}")
                return block, ""
    return None, f"the archive_day transaction {transaction_id[:16]} is in no block of the chain"


def _block_at(rest, num: int) -> dict:
    block = rest.block_at(num)
    if block is None:
        raise ValueError(f"block {num} is not on the chain")
    return block


def _bisect_record_block(rest, address: str) -> dict | None:
    """The first block in whose state `address` holds data (None: none does)."""
    head = next(iter(rest.blocks(limit=1)))
    if rest.state(address, head=head["header_signature"]) is None:
        return None
    low, high, found = 0, int(head["header"]["block_num"]), head
    while low < high:
        middle = (low + high) // 2
        block = _block_at(rest, middle)
        if rest.state(address, head=block["header_signature"]) is not None:
            high, found = middle, block
        else:
            low = middle + 1
    return found  # the block at `high`, which is now `low`


def _first_difference(a: Message, b: Message) -> str:
    for descriptor in a.DESCRIPTOR.fields:
        if getattr(a, descriptor.name) != getattr(b, descriptor.name):
            return descriptor.name
    return "(unknown field)"


def verify_day(ledger: LedgerClient, day: int) -> Verification:
    """Recompute day `day`'s record from the chain's history and compare; see the module docstring."""
    reader = ArchiveReader(ledger)
    record = reader.day(day)
    result = Verification(day, False)
    if record is None:
        result.reason = f"day {day} is not archived"
        return result
    result.digest, result.contracts, result.contracts_digest = record.digest, record.contracts, record.contracts_digest
    if rec.record_digest(record) != record.digest:
        result.reason = f"the archive record of day {day} does not match its own digest (the record was altered)"
        return result
    if record.previous_digest:
        previous = reader.day(record.previous_day)
        if previous is None:
            result.reason = f"the previous archived day {record.previous_day} has no archive record"
            return result
        if rec.record_digest(previous) != previous.digest:
            result.reason = (f"the archive record of the previous archived day {record.previous_day} does not match "
                             f"its own digest (the record was altered)")
            return result
        if previous.digest != record.previous_digest:
            result.reason = (f"hash chain broken: the record links to {record.previous_digest[:16]}, the archive "
                             f"record of day {record.previous_day} has digest {previous.digest[:16]}")
            return result
    head = None
    if hasattr(ledger, "blocks"):
        block, why = find_archive_block(ledger, record.transaction_id, day)
        if block is None:
            result.reason = why
            return result
        head = block["header_signature"]
        result.block_id = head
        result.block_num = int(block.get("header", {}).get("block_num", 0))
    records = read_day(ledger, day, head)
    at = f"block {result.block_num}" if head is not None else "the current state"
    if records.missing:
        result.reason = f"{records.missing[0]} is listed in an index at {at} but missing"
        return result
    if records.unindexed:
        result.reason = f"contract {records.unindexed[0]} is on chain at {at} but in no hour index"
        return result
    recomputed = rec.build(
        day, records.contracts, records.penalties, records.grid, records.recommendations,
        records.config.system_operator if records.config is not None else "",
        previous=(record.previous_day, record.previous_digest) if record.previous_digest else None,
        transaction_id=record.transaction_id)
    if recomputed.contracts_digest != record.contracts_digest:
        result.reason = (f"contracts digest differs: the record says {record.contracts_digest[:16]} "
                         f"({record.contracts} contracts), the chain's contracts at {at} hash to "
                         f"{recomputed.contracts_digest[:16]} ({recomputed.contracts} contracts)")
        return result
    if recomputed != record:
        result.reason = (f"record field {_first_difference(record, recomputed)} differs from what the chain's "
                         f"records at {at} give")
        return result
    result.ok = True
    return result


# --------------------------------------------------------------------------
# Machine-readable form: integers with unit-suffixed keys, days as ISO dates
# --------------------------------------------------------------------------
def participant_json(p: pb.ParticipantDay) -> dict[str, Any]:
    return {
        "public_key": p.public_key,
        "bought_p2p_wh": p.bought_p2p_wh, "bought_grid_wh": p.bought_grid_wh,
        "sold_p2p_wh": p.sold_p2p_wh, "sold_grid_wh": p.sold_grid_wh,
        "paid_base_ueur": p.paid_base, "paid_wire_fee_ueur": p.paid_wire_fee,
        "paid_surcharge_ueur": p.paid_surcharge, "paid_guarantee_ueur": p.paid_guarantee,
        "received_base_ueur": p.received_base, "received_wire_fee_ueur": p.received_wire_fee,
        "received_surcharge_ueur": p.received_surcharge,
        "contracts": p.contracts, "declined": p.declined,
        "recommended": p.recommended, "recommended_wh": p.recommended_wh,
        "followed_permille": p.followed_permille if p.recommended else None,
    }


def record_json(r: pb.DayArchive) -> dict[str, Any]:
    return {
        "day": day_date(r.day).isoformat(),
        "previous_day": day_date(r.previous_day).isoformat() if r.previous_digest else None,
        "previous_digest": r.previous_digest or None,
        "digest": r.digest, "contracts_digest": r.contracts_digest, "transaction_id": r.transaction_id,
        "contracts": r.contracts, "settled": r.settled, "declined": r.declined, "contracted_wh": r.contracted_wh,
        "traded_wh": list(r.traded_wh), "load_wh": list(r.load_wh), "par_ppm": r.par_ppm,
        "penalties_set": r.penalties_set, "penalties_permille": list(r.penalties),
        "grid_prices_set": r.grid_prices_set, "grid_buy_ueur_per_kwh": list(r.grid_buy),
        "grid_sell_ueur_per_kwh": list(r.grid_sell),
        "recommendations": r.recommendations, "recommendations_digest": r.recommendations_digest,
        "recommended_wh": r.recommended_wh, "followed_permille": r.followed_permille,
        "system_operator": r.system_operator,
        "participants": [participant_json(p) for p in r.participants],
    }


def head_json(head: pb.ArchiveHead | None, retention_days: int) -> dict[str, Any]:
    return {"newest_day": day_date(head.day).isoformat() if head else None,
            "digest": head.digest if head else None, "days": head.days if head else 0,
            "retention_days": retention_days}


def prunable_through(head: pb.ArchiveHead | None, retention_days: int) -> int | None:
    """The newest day that may be pruned now (None: none yet)."""
    if head is None or head.day < retention_days:
        return None
    return head.day - retention_days

