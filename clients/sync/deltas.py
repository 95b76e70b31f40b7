"""A block's state changes → decoded records → the mirror's rows.

Which addresses are Sawgrid's, and how a record decodes, come from
`processors.registry` alone: a family added there is mirrored into
`state_entries` (JSON) without a change here. The typed tables get rows from
`PROJECTIONS`, one entry per (family, record kind) that has a table.

An address in a Sawgrid namespace whose kind the registry does not know (a
family or kind newer than this mirror), or whose bytes do not parse, is still
kept: as `{"raw": base64}` (plus `"error"`), so nothing on chain is lost and a
later version can decode it again.
"""
from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from sawgrid.clients.sync import models as m
from sawgrid.processors import registry
from sawgrid.processors.addressing import NAMESPACE_LENGTH, KIND_LENGTH

LOG = logging.getLogger("sawgrid.sync.deltas")

Row = dict[str, Any]
Rows = dict[type[m.Versioned], list[Row]]


@dataclass(frozen=True)
class Change:
    """One address as a block left it: its bytes, or None when it was deleted."""

    address: str
    value: bytes | None


@dataclass(frozen=True)
class Record:
    """A change, decoded: family and kind names (from the registry), the
    JSON kept in `state_entries`, and the message for the typed tables."""

    address: str
    family: str
    kind: str
    data: dict | None                   # None: deleted
    message: Message | bytes | None = field(default=None, compare=False)


def namespaces() -> list[str]:
    """Every registered family's namespace, in registry order."""
    return [spec.family.namespace for spec in registry.FAMILIES]


def address_regex() -> str:
    """The state-delta filter: an address in any Sawgrid namespace."""
    return "^(" + "|".join(namespaces()) + ")"


_BY_NAMESPACE = {spec.family.namespace: spec.short for spec in registry.FAMILIES}


def is_ours(address: str) -> bool:
    return address[:NAMESPACE_LENGTH] in _BY_NAMESPACE


def decode(change: Change) -> Record:
    """The record at a Sawgrid address (see the module docstring for what is
    kept of one that does not decode)."""
    address = change.address
    found = registry.record_kind(address)
    if found is None:
        family = _BY_NAMESPACE.get(address[:NAMESPACE_LENGTH], "?")
        kind = address[NAMESPACE_LENGTH:NAMESPACE_LENGTH + KIND_LENGTH]
    else:
        family, kind = found[0].short, found[1].name
    if change.value is None:
        return Record(address, family, kind, None)
    if found is None:
        return Record(address, family, kind, {"raw": _b64(change.value)})
    try:
        decoded = registry.decode_record(address, change.value)
    except DecodeError as err:
        LOG.warning("%s %s at %s does not decode (%s): kept as raw bytes", family, kind, address, err)
        return Record(address, family, kind, {"raw": _b64(change.value), "error": str(err)})
    assert decoded is not None
    message = decoded[2]
    data = to_json(message) if isinstance(message, Message) else {"raw": _b64(message)}
    return Record(address, family, kind, data, message)


def to_json(message: Message) -> dict:
    """Every field of a message (defaults included), integers as integers
    (protobuf's own JSON writes 64-bit ones as strings), enums by name, bytes
    in base64."""
    out: dict[str, Any] = {}
    for fd in message.DESCRIPTOR.fields:
        value = getattr(message, fd.name)
        if fd.is_repeated:
            out[fd.name] = [_value(fd, v) for v in value]
        else:
            out[fd.name] = _value(fd, value)
    return out


def _value(fd: FieldDescriptor, value: Any) -> Any:
    if fd.type == FieldDescriptor.TYPE_MESSAGE:
        return to_json(value)
    if fd.type == FieldDescriptor.TYPE_ENUM:
        return _enum(fd, value)
    if fd.type == FieldDescriptor.TYPE_BYTES:
        return _b64(value)
    return value


def _enum(fd: FieldDescriptor, number: int) -> str:
    known = fd.enum_type.values_by_number.get(number)
    return known.name if known is not None else str(number)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _named(message: Message, name: str) -> str:
    return _enum(message.DESCRIPTOR.fields_by_name[name], getattr(message, name))


# ---------------------------------------------------------------- typed rows
def _participant(p) -> Rows:
    return {m.Participant: [{"public_key": p.public_key, "name": p.name, "status": _named(p, "status")}]}


def _wallet(w) -> Rows:
    return {m.Wallet: [{"public_key": w.public_key, "balance": w.balance, "locked": w.locked,
                        "credit_used": w.credit_used}]}


def _grid_prices(g) -> Rows:
    return {m.GridPrice: [{"day": g.day, "hour": hour, "buy": buy, "sell": sell}
                          for hour, (buy, sell) in enumerate(zip(g.buy, g.sell))]}


_ORDER_FIELDS = ("owner", "price", "energy", "remaining", "seq", "penalty", "locked", "wire_fee",
                 "grid_fallback", "credit", "owner_score", "min_counterparty_score")


def _book(b) -> Rows:
    orders = [{"order_id": o.id, "day": b.day, "hour": b.hour, "side": _named(o, "side"),
               **{name: getattr(o, name) for name in _ORDER_FIELDS}}
              for o in (*b.offers, *b.orders)]
    if b.HasField("page"):  # a page of the hour's book (processors/market/book.py): entries, no books row
        return {m.Order: orders}
    return {m.Book: [{"day": b.day, "hour": b.hour, "closed": b.closed, "next_seq": b.next_seq}],
            m.Order: orders}


_CONTRACT_FIELDS = ("day", "hour", "seller", "buyer", "energy", "price", "penalty", "base", "surcharge",
                    "wire_fee", "total", "grid", "buy_order", "sell_order", "leader", "escrow", "credit",
                    "quorum", "delivered", "paid_base", "paid_surcharge", "paid_wire_fee", "refunded",
                    "guarantee", "cause_detail")


def _contract(c) -> Rows:
    return {m.Contract: [{"contract_id": c.id, **{name: getattr(c, name) for name in _CONTRACT_FIELDS},
                          "cluster": list(c.cluster), "stage": _named(c, "stage"),
                          "declined_at": _named(c, "declined_at"), "cause": _named(c, "cause")}]}


def _penalties(p) -> Rows:
    return {m.Penalty: [{"day": p.day, "hour": hour, "multiplier": value}
                        for hour, value in enumerate(p.multipliers)]}


def _recommendation(r) -> Rows:
    return {m.Recommendation: [{"public_key": r.public_key, "day": r.day, "hour": hour, "energy": wh}
                               for hour, wh in enumerate(r.schedule)]}


def _score(s) -> Rows:
    return {m.ReputationScore: [{"public_key": s.public_key, "score": s.score, "first_day": s.first_day,
                                 "settled": s.settled, "faults": s.faults, "validated": s.validated,
                                 "missed": s.missed}]}


def _settlement(s) -> Rows:
    votes = [{"member": v.member, "delivered_wh": v.delivered_wh, "paid": v.paid} for v in s.votes]
    return {m.ReputationSettlement: [{"contract_id": s.contract_id, "votes": votes, "final": s.final,
                                      "qot": s.qot, "timestamp": s.timestamp}]}


_ARCHIVE_DAY_FIELDS = ("day", "previous_day", "previous_digest", "contracts_digest", "contracts", "settled",
                       "declined", "contracted_wh", "par_ppm", "penalties_set", "grid_prices_set",
                       "recommendations", "recommendations_digest", "recommended_wh", "followed_permille",
                       "system_operator", "transaction_id", "digest")
_ARCHIVE_SERIES = ("traded_wh", "load_wh", "penalties", "grid_buy", "grid_sell")
_PARTICIPANT_DAY_FIELDS = ("public_key", "bought_p2p_wh", "bought_grid_wh", "sold_p2p_wh", "sold_grid_wh",
                           "paid_base", "paid_wire_fee", "paid_surcharge", "paid_guarantee", "received_base",
                           "received_wire_fee", "received_surcharge", "contracts", "declined", "recommended",
                           "recommended_wh", "followed_permille")


def _archive_day(a) -> Rows:
    day = {**{name: getattr(a, name) for name in _ARCHIVE_DAY_FIELDS},
           **{name: list(getattr(a, name)) for name in _ARCHIVE_SERIES}}
    participants = [{"day": a.day, **{name: getattr(p, name) for name in _PARTICIPANT_DAY_FIELDS}}
                    for p in a.participants]
    return {m.ArchiveDay: [day], m.ArchiveParticipantDay: participants}


@dataclass(frozen=True)
class Projection:
    """The typed tables a record kind feeds, and its rows there."""

    tables: tuple[type[m.Versioned], ...]
    rows: Callable[[Any], Rows]


PROJECTIONS: dict[tuple[str, str], Projection] = {
    ("market", "participant"): Projection((m.Participant,), _participant),
    ("market", "wallet"): Projection((m.Wallet,), _wallet),
    ("market", "grid_prices"): Projection((m.GridPrice,), _grid_prices),
    ("market", "book"): Projection((m.Book, m.Order), _book),
    ("market", "contract"): Projection((m.Contract,), _contract),
    ("market", "penalties"): Projection((m.Penalty,), _penalties),
    ("market", "recommendation"): Projection((m.Recommendation,), _recommendation),
    ("reputation", "score"): Projection((m.ReputationScore,), _score),
    ("reputation", "settlement"): Projection((m.ReputationSettlement,), _settlement),
    ("archive", "day"): Projection((m.ArchiveDay, m.ArchiveParticipantDay), _archive_day),
}


def typed_rows(records: Iterable[Record]) -> dict[type[m.Versioned], dict[str, list[Row]]]:
    """table → address → the rows that address holds now (an empty list for
    a deleted record, or one whose bytes did not decode: its old rows end)."""
    out: dict[type[m.Versioned], dict[str, list[Row]]] = {}
    for record in records:
        projection = PROJECTIONS.get((record.family, record.kind))
        if projection is None:
            continue
        rows: Mapping[type[m.Versioned], list[Row]] = (
            projection.rows(record.message) if isinstance(record.message, Message) else {})
        for table in projection.tables:
            out.setdefault(table, {})[record.address] = list(rows.get(table, []))
    return out
