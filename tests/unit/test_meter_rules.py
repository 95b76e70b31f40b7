"""The household's day-ahead rules (clients/meter/rules.py): what a day's plan
offers and orders, at which prices, and that the experiment uses the same rules."""
from __future__ import annotations

import pytest

from sawgrid.clients.meter import rules
from sawgrid.clients.simulation import scenarios
from sawgrid.protos import market_pb2 as pb


def hours(**wh: int) -> list[int]:
    out = [0] * 24
    for name, value in wh.items():
        out[int(name[1:])] = value
    return out


def test_a_plan_sells_the_surplus_and_buys_the_shortfall_without_a_recommendation():
    consumption = hours(h0=300, h12=100, h18=900)
    production = hours(h12=700, h18=200)
    plan = rules.plan_day(20000, consumption, production, None)
    assert plan.sells_wh == tuple(hours(h12=600))
    assert plan.buys_wh == tuple(hours(h0=300, h18=700))
    assert plan.day == 20000 and not plan.empty


def test_a_plan_follows_a_recommendation_for_the_same_daily_total():
    consumption, production = hours(h18=1000), [0] * 24
    rec = hours(h2=400, h3=400, h4=400)            # 1200 >= 1000: rule 2, stop once enough
    plan = rules.plan_day(1, consumption, production, rec)
    assert plan.buys_wh == tuple(hours(h2=400, h3=400, h4=200))
    ignored = rules.plan_day(1, consumption, production, rec, follow=False)   # scenario "without"
    assert ignored.buys_wh == tuple(hours(h18=1000))


def test_offers_ask_the_grid_buy_price_and_orders_accept_the_grid_sell_price_with_fallback():
    offer = rules.offer(7, 12, 600, 100_000).place_order
    order = rules.order(7, 18, 700, 300_000, on_credit=True).place_order
    assert (offer.side, offer.day, offer.hour, offer.energy, offer.price, offer.grid_fallback) == \
        (pb.SELL, 7, 12, 600, 100_000, True)
    assert (order.side, order.energy, order.price, order.grid_fallback, order.on_credit) == \
        (pb.BUY, 700, 300_000, True, True)


def test_a_day_needs_24_hours():
    with pytest.raises(ValueError, match="24 hourly values"):
        rules.plan_day(1, [0] * 23, [0] * 23)


def test_the_experiment_uses_the_meters_rules_not_a_copy():
    assert scenarios.purchases_with_recommendation is rules.purchases_with_recommendation
    assert scenarios.shortfall is rules.shortfall and scenarios.surplus is rules.surplus
