"""What the PAR engine reads from the chain and what it writes back.

Reads day D's contracts through the REST API (P2P trades and grid purchases
alike) and turns them into each buyer's hourly purchases. Energy the system
operator buys (grid sales by prosumers) is not load, so it is left out.
Writes day D+1 as ONE batch: the recommendations first, then the penalties.
The market then refuses further recommendations for that day (see
processors/market/README.md, "The PAR engine's window").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from sawgrid.clients.sdk import market
from sawgrid.clients.sdk.market import MarketReader
from sawgrid.processors.market.units import HOURS_PER_DAY, MAX_RECOMMENDATIONS
from sawgrid.protos import market_pb2 as pb


@dataclass(frozen=True)
class DayLoad:
    day: int
    buyers: list[str]           # public keys, sorted
    purchases: list[list[int]]  # per buyer (same order), Wh bought in each hour
    totals: list[int]           # S: Wh bought in each hour by all buyers


def day_load(reader: MarketReader, day: int) -> DayLoad:
    """Hourly purchases of day `day`, from its contracts on chain (read an hour
    at a time: a town's day is hundreds of thousands of contracts)."""
    config = reader.config()
    operator = config.system_operator if config else ""
    per_buyer: dict[str, list[int]] = {}
    for contract in reader.day_contracts(day):
        if contract.buyer == operator:
            continue
        per_buyer.setdefault(contract.buyer, [0] * HOURS_PER_DAY)[contract.hour] += contract.energy
    buyers = sorted(per_buyer)
    purchases = [per_buyer[b] for b in buyers]
    totals = [sum(row[h] for row in purchases) for h in range(HOURS_PER_DAY)]
    return DayLoad(day, buyers, purchases, totals)


def is_issued(reader: MarketReader, day: int) -> bool:
    """True once the day's penalties (and so its recommendations) are on chain."""
    return reader.penalties(day) is not None


def issue_payloads(day: int, penalties: Sequence[int],
                   schedules: Mapping[str, Sequence[int]]) -> list[pb.MarketPayload]:
    """The payloads of one atomic batch that issues `day`: recommendations
    (in chunks the market accepts), then the penalties that close the window."""
    keys = sorted(schedules)
    payloads = [
        market.set_recommendations(day, {k: schedules[k] for k in keys[i:i + MAX_RECOMMENDATIONS]})
        for i in range(0, len(keys), MAX_RECOMMENDATIONS)
    ]
    payloads.append(market.set_penalties(day, penalties))
    return payloads
