"""Consensus+innovation negotiation with PTDF line prices, split by who computes what.

Li et al. 2022 (section 3), following Sorin, Bobo & Pinson 2019 and Baroche et al. 2019. The
derivation, the symbols and what differs from the sources are in processors/negotiation/METHOD.md.
One iteration k -> k+1:

1. every agent n, privately: `quantity_update` (eq. 15) -> its proposed trades P_nm, one per
   neighbour m (positive: n sells to m; a consumer's are negative);
2. every pair (n, m): the price update (eq. 17) is a SUM of one term per agent,
   lambda_nm <- lambda_nm + t_nm + t_mn, with t_nm = `price_term(n, m, ...)` computed by n alone
   (on chain: encrypted under n's key and added homomorphically);
3. the line manager: `line_prices` (eqs. 6, 18) -> line flows from the PTDF matrix, line prices,
   and the per-trade charge each pair pays for the lines its transfer uses;
4. the market operator: `residuals` / `converged` (eq. 19).

`run_plain` runs the whole loop in floats. Every price is in USD/kW, every power in kW.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from .agents import Agent, by_name, neighbours
from .cases import Case
from .grid import Grid, load_grid
from .params import Params

Pair = tuple[str, str]  # (producer name, consumer name): one price and one charge per pair


def pair_key(n: Agent | str, m: Agent | str, producers: frozenset[str] | None = None) -> Pair:
    """The key of the pair {n, m}: (producer, consumer). With names, say who the producers are."""
    if isinstance(n, Agent) and isinstance(m, Agent):
        return (n.name, m.name) if n.is_producer else (m.name, n.name)
    if producers is None:
        raise ValueError("pair_key of two names needs the set of producers")
    return (str(n), str(m)) if n in producers else (str(m), str(n))


@dataclass(frozen=True)
class State:
    """What the negotiation has agreed so far (everything here is shared, nothing is private)."""

    iteration: int
    trades: Mapping[str, Mapping[str, float]]  # trades[n][m] = P_nm, n's latest proposal
    previous_trades: Mapping[str, Mapping[str, float]]  # the proposal before it (iteration k-1)
    prices: Mapping[Pair, float]  # lambda per pair
    previous_prices: Mapping[Pair, float]
    charges: Mapping[Pair, float]  # USD/kW the pair's transfer costs in line prices (both halves)
    line_upper: Mapping[str, float] = field(default_factory=dict)  # mu+ per limited line
    line_lower: Mapping[str, float] = field(default_factory=dict)  # mu- per limited line
    line_flows: Mapping[str, float] = field(default_factory=dict)  # kW, every line
    line_violation: float = 0.0  # kW, the largest overload of a limited line

    def price(self, n: str, m: str) -> float:
        """lambda_nm, whichever way round the pair is named."""
        return self.prices[(n, m)] if (n, m) in self.prices else self.prices[(m, n)]

    def charge(self, n: str, m: str) -> float:
        """The pair's line charge, whichever way round it is named."""
        return self.charges[(n, m)] if (n, m) in self.charges else self.charges[(m, n)]


@dataclass(frozen=True)
class LineUpdate:
    """The line manager's output for one iteration (eqs. 6, 18)."""

    flows: dict[str, float]  # kW on every line, signed as the line is named (from -> to)
    upper: dict[str, float]  # mu+ >= 0 per limited line, USD/kW
    lower: dict[str, float]  # mu- >= 0 per limited line, USD/kW
    charges: dict[Pair, float]  # sum_l (mu+_l - mu-_l) * PTDF(l, producer -> consumer)
    violation: float  # kW, largest max(0, |flow| - limit)


@dataclass(frozen=True)
class Residuals:
    """The market operator's stopping quantities (eq. 19)."""

    power_mismatch: float  # kW, max over pairs |P_nm + P_mn|
    price_change: float  # USD/kW, max over pairs |lambda^k - lambda^(k-1)|
    trade_change: float  # kW, max over agents and neighbours |P_nm^k - P_nm^(k-1)|
    line_violation: float  # kW, max overload of a limited line


@dataclass(frozen=True)
class Result:
    """A finished negotiation: what was agreed and how it got there."""

    case: str
    converged: bool
    iterations: int
    trades: dict[Pair, float]  # kW the producer sells the consumer (the pair's agreed quantity)
    prices: dict[Pair, float]  # USD/kW
    powers: dict[str, float]  # kW per agent (net injection)
    line_flows: dict[str, float]  # kW, of the recorded trades
    line_prices: dict[str, float]  # USD/kW, mu+ - mu- per limited line
    welfare: float  # USD, -sum_n C_n(P_n)
    price_mismatch: tuple[float, ...]  # per iteration, USD/kW (Residuals.price_change)
    power_mismatch: tuple[float, ...]  # per iteration, kW (Residuals.power_mismatch)


# --- 1. the agent's private quantity step (eq. 15) -------------------------------------------


def quantity_update(agent: Agent, state: State, params: Params) -> dict[str, float]:
    """Agent n's new trades P_nm with each neighbour m: a proximal step on its local problem.

    P_n.^(k+1) = argmin  C_n(sum_m P_nm) + sum_m (gamma_nm - lambda_nm) P_nm
                         + 1/(2 eta) sum_m (P_nm - P_nm^k)^2
                 s.t.    p_min <= sum_m P_nm <= p_max,  sign(P_nm) = the agent's side,
    where gamma_nm is n's half of the pair's line charge (producer +c/2, consumer -c/2). Solved
    exactly (the problem is a separable quadratic coupled by one sum): see _prox_step.
    """
    own = state.trades[agent.name]
    names = sorted(own)
    sign = 1.0 if agent.is_producer else -1.0
    # in "selling" coordinates y = sign * P >= 0 a consumer looks like a producer with b -> -b
    linear = []
    start = []
    for m in names:
        price = state.price(agent.name, m)
        half_charge = 0.5 * state.charge(agent.name, m)
        # producer: earns lambda - c/2 per kW sold; consumer: pays lambda + c/2 per kW bought
        linear.append(-(price - half_charge) if agent.is_producer else price + half_charge)
        start.append(sign * own[m])
    low, high = (agent.p_min, agent.p_max) if agent.is_producer else (-agent.p_max, -agent.p_min)
    selling = _prox_step(agent.a, sign * agent.b, linear, start, low, high, params.eta)
    return {m: sign * y for m, y in zip(names, selling)}


def _prox_step(
    a: float, b: float, linear: list[float], start: list[float], low: float, high: float, eta: float
) -> list[float]:
    """argmin_y>=0 1/2 a Y^2 + b Y + sum c_m y_m + 1/(2 eta) sum (y_m - y0_m)^2, low <= Y <= high.

    Y = sum y_m. KKT: y_m = max(0, d_m - eta s) with d_m = y0_m - eta c_m and s = a Y + b + mu,
    mu the bound's multiplier. G(s) = sum_m max(0, d_m - eta s) is piecewise linear and
    non-increasing; between breakpoints with the j largest d active, G(s) = S_j - j eta s. Solve
    s = a G(s) + b; if that Y leaves [low, high], solve G(s) = the violated bound instead.
    """
    d = [y0 - eta * c for y0, c in zip(start, linear)]
    order = sorted(d, reverse=True)
    breakpoints = [value / eta for value in order]  # s at which the j-th largest d turns off

    def solve(target: float | None) -> float:
        total = 0.0
        for j in range(1, len(order) + 1):
            total += order[j - 1]
            if target is None:
                s = (a * total + b) / (1.0 + a * j * eta)
            else:
                s = (total - target) / (j * eta)
            upper = breakpoints[j - 1]
            lower = breakpoints[j] if j < len(order) else -math.inf
            slack = 1e-12 * (1.0 + abs(s))  # at a breakpoint both neighbouring pieces agree
            if lower - slack <= s <= upper + slack:
                return s
        # no active trade: Y = 0
        return b if target is None else breakpoints[0]

    s = solve(None)
    total = sum(max(0.0, value - eta * s) for value in d)
    if total > high:
        s = solve(high)
    elif total < low:
        s = solve(low)
    return [max(0.0, value - eta * s) for value in d]


# --- 2. the pair's price update (eq. 17), one term per agent ---------------------------------


def price_term(agent: Agent, m: str, state: State, params: Params) -> float:
    """t_nm, agent n's share of pair (n, m)'s price update: lambda <- lambda + t_nm + t_mn.

    C+I (Sorin et al. 2019): lambda_nm <- lambda_nm - beta (lambda_nm - lambda_mn)
    - alpha (P_nm + P_mn). Both agents of a pair hold the one price the two-party computation
    returns, so lambda_nm = lambda_mn and the consensus term is zero; the innovation term splits
    into one term per agent. Each uses its extrapolated proposal 2 P^(k+1) - P^k (METHOD.md: the
    extrapolation makes the iteration a primal-dual method that provably converges).
    t_nm depends only on n's own proposals and the public alpha.
    """
    now = state.trades[agent.name][m]
    before = state.previous_trades[agent.name][m]
    return -params.alpha * (2.0 * now - before)


# --- 3. the line manager (eqs. 6, 18) ---------------------------------------------------------


def agreed_trades(state: State, producers: frozenset[str]) -> dict[Pair, float]:
    """Each pair's quantity while negotiating, as the line manager reads it: (P_nm - P_mn)/2."""
    agreed = {}
    for n, row in state.trades.items():
        if n in producers:
            for m, p_nm in row.items():
                agreed[(n, m)] = 0.5 * (p_nm - state.trades[m][n])
    return agreed


def recorded_trades(state: State, producers: frozenset[str]) -> dict[Pair, float]:
    """The quantities the market operator records at the stop: the smaller of the two proposals.

    Neither side is recorded for more than it offered, so every agent's recorded total stays
    within the bound it kept its own proposals inside (its p_max, or a consumer's -p_min); a
    lower bound can be missed by at most the stopping tolerance times its number of neighbours.
    """
    return {
        (n, m): max(0.0, min(p_nm, -state.trades[m][n]))
        for n, row in state.trades.items()
        if n in producers
        for m, p_nm in row.items()
    }


def line_prices(state: State, case: Case, params: Params) -> LineUpdate:
    """Line flows from the PTDF matrix (eq. 6) and projected line-price steps (eq. 18).

    flow_l = sum_pairs PTDF(l, producer bus -> consumer bus) * q_pair, q the pair's quantity
    (extrapolated, as in price_term); mu+_l <- max(0, mu+_l + rho (flow_l - F_l)),
    mu-_l <- max(0, mu-_l + rho (-flow_l - F_l)); a pair's charge is
    sum_l (mu+_l - mu-_l) PTDF(l, producer -> consumer), half paid by each side.
    """
    grid = load_grid(case.grid)
    agents = by_name(case.agents)
    producers = frozenset(a.name for a in case.agents if a.is_producer)
    now = agreed_trades(state, producers)
    before = agreed_trades(replace(state, trades=state.previous_trades), producers)
    pairs = sorted(now)
    factors = _factor_matrix(grid, tuple((agents[n].bus, agents[m].bus) for n, m in pairs))
    quantities = np.array([now[p] for p in pairs])
    steered_quantities = np.array([2.0 * now[p] - before[p] for p in pairs])
    flows_vector = quantities @ factors
    steered_vector = steered_quantities @ factors
    flows = {line: float(flows_vector[i]) for i, line in enumerate(grid.lines)}
    upper, lower, violation = {}, {}, 0.0
    limited = sorted(case.line_limits.items())
    for line, limit in limited:
        index = _line_index(grid, line)
        steered = float(steered_vector[index])
        upper[line] = max(0.0, state.line_upper.get(line, 0.0) + params.rho * (steered - limit))
        lower[line] = max(0.0, state.line_lower.get(line, 0.0) + params.rho * (-steered - limit))
        violation = max(violation, abs(flows[line]) - limit)
    net = np.zeros(len(grid.lines))
    for line, _ in limited:
        net[_line_index(grid, line)] = upper[line] - lower[line]
    pair_charges = factors @ net
    charges = {pair: float(pair_charges[k]) for k, pair in enumerate(pairs)}
    return LineUpdate(flows=flows, upper=upper, lower=lower, charges=charges, violation=max(0.0, violation))


@functools.lru_cache(maxsize=64)
def _factor_matrix(grid: Grid, routes: tuple[tuple[int, int], ...]) -> np.ndarray:
    """PTDF of each (producer bus, consumer bus) route, one row per route: shape (routes, lines)."""
    if not routes:
        return np.zeros((0, len(grid.lines)))
    return np.array([grid.transfer_factors(a, b) for a, b in routes])


def _factors(grid: Grid, agents: dict[str, Agent], pair: Pair):
    return grid.transfer_factors(agents[pair[0]].bus, agents[pair[1]].bus)


def _line_index(grid: Grid, line: str) -> int:
    try:
        return grid.lines.index(line)
    except ValueError:
        raise ValueError(f"grid {grid.name} has no line {line!r} (lines: {', '.join(grid.lines)})") from None


# --- 4. the market operator (eq. 19) ----------------------------------------------------------


def residuals(state: State) -> Residuals:
    """Largest bilateral mismatch, price change, trade change and line overload at this state."""
    mismatch = max(
        (abs(p_nm + state.trades[m][n]) for n, row in state.trades.items() for m, p_nm in row.items()),
        default=0.0,
    )
    change = max(
        (abs(p - state.previous_trades[n][m]) for n, row in state.trades.items() for m, p in row.items()),
        default=0.0,
    )
    price_change = max((abs(p - state.previous_prices[k]) for k, p in state.prices.items()), default=0.0)
    return Residuals(mismatch, price_change, change, state.line_violation)


def converged(state: State, params: Params) -> bool:
    """Eq. 19: trades reciprocal, prices and trades settled, no line over its limit."""
    r = residuals(state)
    return (
        state.iteration > 0
        and r.power_mismatch <= params.eps_power
        and r.trade_change <= params.eps_power
        and r.line_violation <= params.eps_power
        and r.price_change <= params.eps_price
    )


# --- the whole loop ---------------------------------------------------------------------------


def initial_state(case: Case, params: Params | None = None) -> State:
    """Iteration 0: no trades, every pair at the opening price, no line prices."""
    params = params or case.params
    trades = {a.name: {m.name: 0.0 for m in neighbours(a, case.agents)} for a in case.agents}
    prices = {
        (n.name, m.name): params.initial_price
        for n in case.agents
        if n.is_producer
        for m in neighbours(n, case.agents)
    }
    line_upper = {line: 0.0 for line in case.line_limits}
    return State(
        iteration=0,
        trades=trades,
        previous_trades=trades,
        prices=prices,
        previous_prices=prices,
        charges={pair: 0.0 for pair in prices},
        line_upper=line_upper,
        line_lower=dict(line_upper),
        line_flows={},
    )


def step(state: State, case: Case, params: Params) -> State:
    """One full iteration: every agent's quantities, every pair's price, the line manager."""
    agents = by_name(case.agents)
    trades = {name: quantity_update(agent, state, params) for name, agent in agents.items()}
    moved = replace(state, trades=trades, previous_trades=state.trades)
    prices = {
        (n, m): price
        + price_term(agents[n], m, moved, params)
        + price_term(agents[m], n, moved, params)
        for (n, m), price in state.prices.items()
    }
    lines = line_prices(moved, case, params)
    return replace(
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


def run_plain(
    case: Case,
    params: Params | None = None,
    on_iteration: Callable[[State, Residuals], None] | None = None,
) -> Result:
    """The whole negotiation in floats, from the opening prices until eq. 19 holds or max_iterations."""
    params = params or case.params
    load_grid(case.grid)  # fail early on an unknown grid or line
    state = initial_state(case, params)
    price_history: list[float] = []
    power_history: list[float] = []
    done = False
    while state.iteration < params.max_iterations and not done:
        state = step(state, case, params)
        r = residuals(state)
        price_history.append(r.price_change)
        power_history.append(r.power_mismatch)
        if on_iteration is not None:
            on_iteration(state, r)
        done = converged(state, params)
    return result_of(state, case, done, price_history, power_history)


def result_of(
    state: State, case: Case, done: bool, price_history: list[float], power_history: list[float]
) -> Result:
    """Summarise a final state: agreed trades, each agent's power, welfare, line prices."""
    producers = frozenset(a.name for a in case.agents if a.is_producer)
    trades = recorded_trades(state, producers)
    grid = load_grid(case.grid)
    agents = by_name(case.agents)
    flows = sum((_factors(grid, agents, pair) * q for pair, q in trades.items()), start=0.0 * grid.ptdf[:, 0])
    powers = {
        a.name: sum(trades[pair_key(a.name, m, producers)] for m in state.trades[a.name])
        * (1.0 if a.is_producer else -1.0)
        for a in case.agents
    }
    welfare = -sum(a.cost(powers[a.name]) for a in case.agents)
    return Result(
        case=case.name,
        converged=done,
        iterations=state.iteration,
        trades=trades,
        prices=dict(state.prices),
        powers=powers,
        line_flows={line: float(flows[i]) for i, line in enumerate(grid.lines)},
        line_prices={line: state.line_upper[line] - state.line_lower[line] for line in state.line_upper},
        welfare=welfare,
        price_mismatch=tuple(price_history),
        power_mismatch=tuple(power_history),
    )
