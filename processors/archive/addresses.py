"""Where the archive keeps its records, which market and reputation records make
up a day, and what each action may touch.

    namespace(6) | kind(2) | key(62)

| kind | record | key / scope |
|---|---|---|
| 00 | Config (retention_days) | fixed |
| 01 | ArchiveHead (newest archived day, its digest) | fixed |
| 02 | DayArchive (one per archived day) | scope: day (8 hex) |

A processor cannot list addresses. `archive_day` reads what the market names
for a day: its 24 Books and 24 HourIndex records, then exactly the contracts
those indexes list, the RecommendationIndex and exactly the recommendations it
lists, the day's Penalties and GridPrices, and the market's Config (who is an
operator, who is the system operator). The contract ids cannot be known from
the payload alone, so the transaction declares the day's contract and
recommendation prefixes (scoped to the one day) rather than single addresses;
`prune_day` declares the day-scoped prefixes of everything it deletes, in the
market's and the reputation family's namespaces (see README.md, "Namespaces").
`access()` is the one place that decides inputs and outputs.
"""
from __future__ import annotations

from sawgrid.processors.addressing import Family
from sawgrid.processors.market import addresses as market
from sawgrid.processors.market.units import HOURS_PER_DAY
from sawgrid.processors.reputation import addresses as reputation
from sawgrid.protos import archive_pb2 as pb

ARCHIVE = Family("sawgrid-archive")

CONFIG = "00"
HEAD = "01"
DAY = "02"


def day_scope(day: int) -> str:
    return f"{day:08x}"


def config_address() -> str:
    return ARCHIVE.address(CONFIG, "config")


def head_address() -> str:
    return ARCHIVE.address(HEAD, "head")


def day_address(day: int) -> str:
    return ARCHIVE.scoped_address(DAY, day_scope(day), "archive")


def days_prefix() -> str:
    """Prefix of every DayArchive record, in day order."""
    return ARCHIVE.prefix(DAY)


# -- the market's and the reputation family's records of one day -----------------------------
def book_addresses(day: int) -> list[str]:
    return [market.book_address(day, h) for h in range(HOURS_PER_DAY)]


def hour_index_addresses(day: int) -> list[str]:
    return [market.hour_index_address(day, h) for h in range(HOURS_PER_DAY)]


def day_prefix(family_kind_prefix: str, day: int) -> str:
    """A kind prefix narrowed to one day (every hour-scoped or day-scoped record of it)."""
    return family_kind_prefix + day_scope(day)


def contracts_prefix(day: int) -> str:
    return market.contracts_prefix(day)


def positions_prefix(day: int) -> str:
    return day_prefix(market.MARKET.prefix(market.POSITION), day)


def recommendations_prefix(day: int) -> str:
    return market.recommendations_prefix(day)


def readings_prefix(day: int) -> str:
    return day_prefix(reputation.REPUTATION.prefix(reputation.READING), day)


def settlements_prefix(day: int) -> str:
    return day_prefix(reputation.REPUTATION.prefix(reputation.SETTLEMENT), day)


def access(payload: pb.ArchivePayload, signer: str) -> tuple[list[str], list[str]]:
    """(inputs, outputs) the transaction for `payload` needs (signer: unused,
    kept for the families' common signature). ValueError for a payload with
    no action."""
    action = payload.WhichOneof("action")
    operators = market.config_address()
    if action == "configure":
        return [operators, config_address()], [config_address()]
    if action == "archive_day":
        day = payload.archive_day.day
        inputs = [
            operators, head_address(), day_address(day),
            *book_addresses(day), *hour_index_addresses(day), contracts_prefix(day),
            market.penalties_address(day), market.grid_prices_address(day),
            market.recommendation_index_address(day), recommendations_prefix(day),
        ]
        return inputs, [head_address(), day_address(day)]
    if action == "prune_day":
        day = payload.prune_day.day
        deleted = [
            *book_addresses(day), *hour_index_addresses(day), contracts_prefix(day), positions_prefix(day),
            market.recommendation_index_address(day), recommendations_prefix(day),
            readings_prefix(day), settlements_prefix(day),
        ]
        inputs = [operators, config_address(), head_address(), day_address(day), *deleted]
        return inputs, deleted
    raise ValueError("payload has no action")
