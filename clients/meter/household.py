"""One household's decisions, without the daemon around them: what to offer
and order on a delivery day, what its meter reads after an hour, what it
attests as a validation-cluster member. The agent (agent.py) runs them
against a network; the experiment (clients/simulation/runner.py) runs N of
them in process, so both trade by the same code.

    home = Household(public_key, source)
    plan = home.plan(day, home.recommendation(reader, day))
    payloads = home.offers(plan, hours, grid.buy) + home.orders(plan, hours, grid.sell)
"""
from __future__ import annotations

from typing import Sequence

from sawgrid.clients.meter import rules
from sawgrid.clients.meter.sources import Source
from sawgrid.clients.sdk import reputation
from sawgrid.clients.sdk.market import MarketReader
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos import reputation_pb2 as rpb


class Household:
    """A participant's key and meter data, and the paper's trading rules."""

    def __init__(self, public_key: str, source: Source,
                 spread_limit_wh: int = rules.DEFAULT_SPREAD_LIMIT_WH) -> None:
        self.public_key = public_key
        self.source = source
        self.spread_limit_wh = spread_limit_wh

    def recommendation(self, reader: MarketReader, day: int) -> list[int] | None:
        """The PAR engine's recommended schedule for `day`, if it issued one."""
        record = reader.recommendation(day, self.public_key)
        return list(record.schedule) if record is not None else None

    def plan(self, day: int, recommendation: Sequence[int] | None, follow: bool = True) -> rules.DayPlan | None:
        """The day's plan (rules.plan_day), or None when the source has no data for it."""
        data = self.source.day(day)
        if data is None:
            return None
        consumption, production = data
        return rules.plan_day(day, consumption, production, recommendation, follow=follow,
                              spread_limit_wh=self.spread_limit_wh)

    def offers(self, plan: rules.DayPlan, hours: Sequence[int], grid_buy: Sequence[int]) -> list[pb.MarketPayload]:
        """Sell offers for `hours` (those with a surplus), at the grid's buying price of each hour."""
        return [rules.offer(plan.day, h, plan.sells_wh[h], grid_buy[h]) for h in hours if plan.sells_wh[h] > 0]

    def orders(self, plan: rules.DayPlan, hours: Sequence[int], grid_sell: Sequence[int]) -> list[pb.MarketPayload]:
        """Buy orders for `hours` (those with a purchase), up to the grid's selling price of each hour."""
        return [rules.order(plan.day, h, plan.buys_wh[h], grid_sell[h]) for h in hours if plan.buys_wh[h] > 0]

    def reading(self, view: reputation.Hour) -> rpb.ReputationPayload | None:
        """The meter's reading of a delivery hour it has contracts in (None: it has none).
        A source that measures gives its numbers; a replayed household consumed as it traded."""
        if self.public_key not in view.positions or self.public_key == view.operator:
            return None   # no contracts that hour (the grid's side needs no meter): Hour.parties
        measured = self.source.reading(view.day, view.hour)
        delivered, received = measured if measured is not None else view.honest_reading(self.public_key)
        return reputation.reading(view.day, view.hour, delivered, received)

    def attestations(self, view: reputation.Hour) -> list[rpb.ReputationPayload]:
        """Honest verdicts on the hour's contracts whose cluster it sits in (those it can judge now)."""
        return reputation.attest_payloads(view.verdicts(self.public_key))
