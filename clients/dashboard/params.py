"""Query parameters: parsed and bounded, or a 400 that names the parameter.

Nothing a visitor types reaches SQL as text: every parameter becomes an int
or one of a fixed set of words here, and the queries bind them."""
from __future__ import annotations

from flask import abort, request

from sawgrid.clients.sdk import market
from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.dashboard.signin import PUBLIC_KEY_RE

SIDES = ("all", "bought", "sold")
STAGES = ("all", "settled", "pending", "declined")


def _get(name: str) -> str | None:
    values = request.args.getlist(name)
    if len(values) > 1:
        abort(400, description=f"{name}: given more than once")
    value = values[0] if values else None
    return None if value is None or value == "" else value


def day(name: str, default: int | None = None) -> int | None:
    text = _get(name)
    if text is None:
        return default
    if len(text) > 10:
        abort(400, description=f"{name}: expected a date like 2026-01-05")
    try:
        return market.parse_day(text, name)
    except SawgridError as err:
        abort(400, description=str(err))


def hour(name: str = "hour", default: int = 12) -> int:
    text = _get(name)
    if text is None:
        return default
    if not text.isdigit() or not 0 <= int(text[:3]) <= 23 or len(text) > 2:
        abort(400, description=f"{name}: expected an hour 0..23")
    return int(text)


def choice(name: str, choices: tuple[str, ...]) -> str:
    text = _get(name)
    if text is None:
        return choices[0]
    if text not in choices:
        abort(400, description=f"{name}: expected one of {', '.join(choices)}")
    return text


def public_key(text: str) -> str:
    if not PUBLIC_KEY_RE.match(text):
        abort(404, description="no such account: an account is a public key, 66 lowercase hex characters")
    return text


def day_range() -> tuple[int | None, int | None]:
    first, last = day("from"), day("to")
    if first is not None and last is not None and first > last:
        abort(400, description="from: is after to")
    return first, last
