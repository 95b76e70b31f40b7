"""Section 4.1's collusion attack on plain consensus+innovation: recover a producer's bound.

Li et al. 2022, section 4.1, item 1: if every neighbour of producer n colludes, they raise the
price they offer n little by little until n's trades with them stop changing; n is then at its
upper bound p_max_n, which is the sum of those trades. Lowering the price instead finds p_min_n.

In plain C+I (section 3.2's first bullet) every agent sends each neighbour its price and its
proposed quantity, so the colluders simply read P_nm. `run_attack` plays the attack against
`algorithm.py` (the producer follows the protocol honestly; the colluders replace their price
terms so that each of their pair prices moves by `step` per iteration) and returns what the
colluders saw; `recover_bound` is a pure function of those messages.

`counterparty_quantities` is the other way to get P_nm when the quantity is not sent (the
encrypted mechanism): the pair's new price is public to both sides, so a colluder who knows its
own term recovers n's term and, with the public alpha, n's proposal. METHOD.md ("What each party
sees") explains why the two-party computation cannot prevent that by itself.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from .agents import by_name, neighbours
from .algorithm import initial_state, line_prices, pair_key, price_term, quantity_update
from .cases import Case
from .params import Params

RAISE, LOWER = 1, -1


@dataclass(frozen=True)
class Message:
    """What colluder `colluder` holds about its pair with `producer` after one iteration."""

    iteration: int
    producer: str
    colluder: str
    price: float  # the pair's price after the iteration, USD/kW (public to both sides)
    own_term: float  # the term the colluder itself added to the price this iteration
    quantity: float | None  # P_nm as the producer sent it; None where it is not sent


@dataclass(frozen=True)
class Recovery:
    """The attack's outcome: the bound, or None, and the iteration it was read at."""

    bound: float | None
    iteration: int | None


def recover_bound(
    messages: Sequence[Message],
    direction: int = RAISE,
    patience: int = 3,
    tolerance: float = 1e-9,
    opening_total: float = 0.0,
) -> Recovery:
    """The producer's bound from the colluders' messages, or Recovery(None, None).

    Per iteration, the sum of the quantities the producer sent the colluders; the bound is that
    sum once it has stayed within `tolerance` for `patience` iterations while every colluder's
    price kept moving in `direction` (RAISE: p_max, LOWER: p_min), and after the sum last moved
    the way that price move pushes it (up for RAISE), so a plateau left over from the opening
    prices is not mistaken for the bound being sought. Needs every colluder's
    quantity at every iteration it uses; an iteration with a hidden quantity breaks the run.
    `opening_total` is the sum before the first message (the protocol opens with no trades).
    """
    by_iteration: dict[int, list[Message]] = {}
    for message in messages:
        by_iteration.setdefault(message.iteration, []).append(message)
    colluders = {m.colluder for m in messages}
    previous: dict[str, float] | None = None
    previous_total: float | None = opening_total
    steady = 0
    pushed = False  # has the sum moved the way the price pushes it since the last reset?
    for iteration in sorted(by_iteration):
        seen = by_iteration[iteration]
        if {m.colluder for m in seen} != colluders or any(m.quantity is None for m in seen):
            previous, previous_total, steady, pushed = None, None, 0, False
            continue
        prices = {m.colluder: m.price for m in seen}
        total = sum(m.quantity for m in seen)  # type: ignore[misc]
        moving = previous is not None and all(
            (prices[c] - previous[c]) * direction > 0 for c in colluders
        )
        change = None if previous_total is None else total - previous_total
        if moving and change is not None and abs(change) <= tolerance and pushed:
            steady += 1
            if steady >= patience:
                return Recovery(total, iteration)
        else:
            steady = 0
            if change is not None and abs(change) > tolerance:
                pushed = change * direction > 0
        previous, previous_total = prices, total
    return Recovery(None, None)


def counterparty_quantities(
    opening_price: float, messages: Sequence[Message], alpha: float
) -> list[Message]:
    """Fill in each hidden quantity from the public prices and the colluder's own terms.

    With lambda^(k+1) = lambda^k + t_nm + t_mn and t_nm = -alpha (2 P_nm^(k+1) - P_nm^k), a
    colluder knows lambda^k, lambda^(k+1) and t_mn, so P_nm^(k+1) = (P_nm^k - t_nm / alpha) / 2,
    unrolled from P_nm^0 = 0. Messages must be one colluder's, or several, in iteration order.
    """
    last_price: dict[str, float] = {}
    last_quantity: dict[str, float] = {}
    filled = []
    for message in sorted(messages, key=lambda m: (m.colluder, m.iteration)):
        before = last_price.get(message.colluder, opening_price)
        their_term = message.price - before - message.own_term
        quantity = 0.5 * (last_quantity.get(message.colluder, 0.0) - their_term / alpha)
        last_price[message.colluder] = message.price
        last_quantity[message.colluder] = quantity
        filled.append(replace(message, quantity=quantity))
    return sorted(filled, key=lambda m: (m.iteration, m.colluder))


def run_attack(
    case: Case,
    producer: str,
    direction: int = RAISE,
    step: float = 0.02,
    iterations: int = 400,
    params: Params | None = None,
) -> list[Message]:
    """Play section 4.1's attack on plain C+I; return the messages the colluders received.

    Every neighbour of `producer` colludes: on its pair with the producer it adds, instead of
    its protocol term, whatever moves the price by `step` * direction. The producer and every
    other pair follow the protocol; the line manager runs as usual.
    """
    params = params or case.params
    agents = by_name(case.agents)
    target = agents[producer]
    if not target.is_producer:
        raise ValueError(f"{producer} is not a producer")
    colluders = [m.name for m in neighbours(target, case.agents)]
    state = initial_state(case, params)
    seen: list[Message] = []
    for _ in range(iterations):
        trades = {name: quantity_update(agent, state, params) for name, agent in agents.items()}
        moved = replace(state, trades=trades, previous_trades=state.trades)
        prices = {}
        for (n, m), price in state.prices.items():
            honest = price_term(agents[n], m, moved, params)
            if n == producer:
                own = price + direction * step - price - honest  # the colluder's chosen term
                prices[(n, m)] = price + honest + own
                seen.append(
                    Message(state.iteration + 1, producer, m, prices[(n, m)], own, trades[producer][m])
                )
            else:
                prices[(n, m)] = price + honest + price_term(agents[m], n, moved, params)
        lines = line_prices(moved, case, params)
        state = replace(
            moved,
            iteration=state.iteration + 1,
            prices=prices,
            previous_prices=state.prices,
            charges=lines.charges,
            line_upper=lines.upper,
            line_lower=lines.lower,
            line_flows=lines.flows,
            line_violation=lines.violation,
        )
    assert all(pair_key(producer, c, frozenset([producer])) in state.prices for c in colluders)
    return seen


def hide_quantities(messages: Sequence[Message]) -> list[Message]:
    """The same messages as the encrypted mechanism delivers them: no quantity in the clear."""
    return [replace(m, quantity=None) for m in messages]
