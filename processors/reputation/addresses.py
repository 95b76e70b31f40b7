"""Where the reputation family keeps its records.

    namespace(6) | kind(2) | key(62)

| kind | record | key / scope |
|---|---|---|
| 00 | Config (the on-chain Settings) | fixed |
| 01 | Score | public key |
| 02 | Pool (volunteers and their Q-score snapshot) | fixed |
| 03 | Reading | scope: day + hour (10 hex), key: public key |
| 04 | Settlement (attestations, outcome) | scope: day + hour, key: contract id |

The market reads Config, Score and Pool when an order arrives (eligibility,
the counterparty's Q-score, the cluster draw); settlement writes market
records (contracts, wallets) as well as these, so the family's transactions
declare addresses in both namespaces (see README.md, "Namespaces").
"""
from __future__ import annotations

import functools

from sawgrid.processors.addressing import Family

REPUTATION = Family("sawgrid-reputation")

CONFIG = "00"
SCORE = "01"
POOL = "02"
READING = "03"
SETTLEMENT = "04"


def hour_scope(day: int, hour: int) -> str:
    return f"{day:08x}{hour:02x}"


def config_address() -> str:
    return REPUTATION.address(CONFIG, "config")


# Memoized (pure functions of their arguments): settlement derives the same
# hour's readings and settlements, and its parties' and members' scores, again
# for every transaction that may close a contract and in the handler that
# applies it; with the market's contract and position addresses they were
# about a tenth of a `simulate --fast` run.
_memo = functools.lru_cache(maxsize=1 << 16)


@_memo
def score_address(public_key: str) -> str:
    return REPUTATION.address(SCORE, public_key)


def pool_address() -> str:
    return REPUTATION.address(POOL, "pool")


@_memo
def reading_address(day: int, hour: int, public_key: str) -> str:
    return REPUTATION.scoped_address(READING, hour_scope(day, hour), public_key)


@_memo
def settlement_address(day: int, hour: int, contract_id: str) -> str:
    return REPUTATION.scoped_address(SETTLEMENT, hour_scope(day, hour), contract_id)


def scores_prefix() -> str:
    return REPUTATION.prefix(SCORE)
