"""Decoding a market payload and checking every field before anything is read.

Each check raises `InvalidTransaction` whose message starts with the field
(`place_order.energy: ...`), so a client sees exactly what to fix.
"""
from __future__ import annotations

from sawgrid.processors.checks import check_public_key, check_range, decode_action, invalid
from sawgrid.processors.market import units as u
from sawgrid.processors.market.addresses import parse_order_id
from sawgrid.protos import market_pb2 as pb


def check_day(field: str, day: int) -> None:
    check_range(field, day, 0, u.MAX_DAY)


def check_hour(field: str, hour: int) -> None:
    check_range(field, hour, 0, u.HOURS_PER_DAY - 1)


def check_vector(field: str, values, low: int, high: int) -> None:
    if len(values) != u.HOURS_PER_DAY:
        raise invalid(field, f"needs {u.HOURS_PER_DAY} values, got {len(values)}")
    for i, value in enumerate(values):
        check_range(f"{field}[{i}]", value, low, high)


def _check_init(m: pb.Init) -> None:
    check_range("init.wire_fee", m.wire_fee, 0, u.MAX_PRICE, "µEUR/kWh")


def _check_operator_key(name: str):
    def check(m) -> None:
        check_public_key(f"{name}.public_key", m.public_key)
    return check


def _check_wire_fee(m: pb.SetWireFee) -> None:
    check_range("set_wire_fee.wire_fee", m.wire_fee, 0, u.MAX_PRICE, "µEUR/kWh")


def _check_register(m: pb.Register) -> None:
    if not 1 <= len(m.name) <= u.MAX_NAME_LENGTH or not m.name.isprintable():
        raise invalid("register.name", f"must be 1..{u.MAX_NAME_LENGTH} printable characters")


def _check_set_role(m: pb.SetRole) -> None:
    check_day("set_role.day", m.day)
    if m.role not in (pb.BUYER, pb.SELLER, pb.BOTH):
        raise invalid("set_role.role", "must be BUYER, SELLER or BOTH")


def _check_fund(m: pb.Fund) -> None:
    check_public_key("fund.public_key", m.public_key)
    check_range("fund.amount", m.amount, 1, u.MAX_FUND, "µEUR")


def _check_grid_prices(m: pb.SetGridPrices) -> None:
    check_day("set_grid_prices.day", m.day)
    check_vector("set_grid_prices.buy", m.buy, 0, u.MAX_PRICE)
    check_vector("set_grid_prices.sell", m.sell, 0, u.MAX_PRICE)


def _check_place_order(m: pb.PlaceOrder) -> None:
    if m.side not in (pb.BUY, pb.SELL):
        raise invalid("place_order.side", "must be BUY or SELL")
    check_day("place_order.day", m.day)
    check_hour("place_order.hour", m.hour)
    check_range("place_order.energy", m.energy, 1, u.MAX_ENERGY_WH, "Wh")
    check_range("place_order.price", m.price, 1, u.MAX_PRICE, "µEUR/kWh")
    if m.on_credit and m.side != pb.BUY:
        raise invalid("place_order.on_credit", "only a BUY order can be on credit")
    check_range("place_order.min_counterparty_score", m.min_counterparty_score, 0, u.MAX_SCORE, "ppm")


def _check_cancel(m: pb.Cancel) -> None:
    try:
        day, hour, _ = parse_order_id(m.order_id)
    except ValueError as err:
        raise invalid("cancel.order_id", str(err)) from None
    check_day("cancel.order_id", day)
    check_hour("cancel.order_id", hour)


def _check_close_hour(m: pb.CloseHour) -> None:
    check_day("close_hour.day", m.day)
    check_hour("close_hour.hour", m.hour)


def _check_penalties(m: pb.SetPenalties) -> None:
    check_day("set_penalties.day", m.day)
    check_vector("set_penalties.multipliers", m.multipliers, u.NO_PENALTY, u.MAX_PENALTY)


def _check_recommendations(m: pb.SetRecommendations) -> None:
    check_day("set_recommendations.day", m.day)
    check_range("set_recommendations.recommendations", len(m.recommendations), 1, u.MAX_RECOMMENDATIONS, "entries")
    seen = set()
    for i, rec in enumerate(m.recommendations):
        field = f"set_recommendations.recommendations[{i}]"
        check_public_key(f"{field}.public_key", rec.public_key)
        if rec.public_key in seen:
            raise invalid(f"{field}.public_key", "appears twice")
        seen.add(rec.public_key)
        check_vector(f"{field}.schedule", rec.schedule, 0, u.MAX_ENERGY_WH)


_CHECKS = {
    "init": _check_init,
    "add_operator": _check_operator_key("add_operator"),
    "remove_operator": _check_operator_key("remove_operator"),
    "set_wire_fee": _check_wire_fee,
    "register": _check_register,
    "approve": _check_operator_key("approve"),
    "set_role": _check_set_role,
    "fund": _check_fund,
    "set_grid_prices": _check_grid_prices,
    "place_order": _check_place_order,
    "cancel": _check_cancel,
    "close_hour": _check_close_hour,
    "set_penalties": _check_penalties,
    "set_recommendations": _check_recommendations,
}


def decode(raw: bytes) -> tuple[str, object]:
    """(action name, its message) of a well-formed payload; InvalidTransaction otherwise."""
    return decode_action(raw, pb.MarketPayload, _CHECKS)


__all__ = ["invalid", "check_public_key", "check_range", "check_day", "check_hour", "check_vector", "decode"]
