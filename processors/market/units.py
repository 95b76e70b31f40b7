"""Units, limits and money arithmetic of the market — integers only.

* energy: Wh;  money: micro-euros (µEUR);  prices: µEUR per kWh;
* penalty multipliers: permille (1000 = 1.000 = none, 1500 = 1.5x);
* days: days since 1970-01-01 (UTC); hours: 0..23.

Every amount that reaches state is checked against these limits first, so
nothing overflows a uint64 field and every error names its field.
"""
from __future__ import annotations

import datetime as _dt

WH_PER_KWH = 1000
PERMILLE = 1000            # multiplier scale: 1000 = 1.000
NO_PENALTY = PERMILLE
MAX_PENALTY = 3 * PERMILLE  # sanity bound; the PAR engine uses 1.1x..1.5x
HOURS_PER_DAY = 24

MAX_ENERGY_WH = 10**9           # 1 GWh in one order
MAX_PRICE = 10**9               # µEUR/kWh, i.e. 1,000 EUR/kWh
MAX_FUND = 10**15               # µEUR in one funding, i.e. 1e9 EUR
MAX_BALANCE = 2**63 - 1         # µEUR in one wallet
MAX_DAY = 2_932_896             # 9999-12-31
# Resting entries per side of one hour's book. Not a cost limit (an order's cost does not grow with
# the book, book.py): gate closure handles every resting entry, and returns every BUY's lock, in one
# transaction, so this bounds that transaction (10 entries per participant at 10,000 participants).
MAX_BOOK_ORDERS = 100_000
MAX_NAME_LENGTH = 64
MAX_RECOMMENDATIONS = 1_000     # per transaction
MAX_SCORE = 10**12              # ppm, a Q-score bound for min_counterparty_score (1,000,000.0)

EPOCH = _dt.date(1970, 1, 1)


def trade_amounts(energy_wh: int, price: int, penalty: int, wire_fee: int) -> tuple[int, int, int, int]:
    """(base, surcharge, fee, total) in µEUR for `energy_wh` at `price` µEUR/kWh.

    base = energy × price; surcharge = base × (penalty − 1); fee = energy ×
    wire_fee; each floored to whole µEUR. Flooring each part makes the sum
    over partial fills never exceed the amount for the whole, which is what
    lets a buy order's lock (computed for the whole at its limit price) cover
    every fill.
    """
    base = energy_wh * price // WH_PER_KWH
    surcharge = base * (penalty - PERMILLE) // PERMILLE
    fee = energy_wh * wire_fee // WH_PER_KWH
    return base, surcharge, fee, base + surcharge + fee


def day_number(date: _dt.date) -> int:
    """Days since 1970-01-01."""
    return (date - EPOCH).days


def day_date(day: int) -> _dt.date:
    return EPOCH + _dt.timedelta(days=day)


def parse_day(text: str) -> int:
    """'2026-01-05' (or a plain day number) -> day number; ValueError otherwise."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    return day_number(_dt.date.fromisoformat(text))
