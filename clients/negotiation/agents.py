"""The negotiating agents: quadratic cost (producers) or utility (consumers) and power bounds.

An agent's cost is C_n(P_n) = 1/2 a_n P_n^2 + b_n P_n (Sorin, Bobo & Pinson 2019, eq. 2), with
P_n its net injection in kW: positive for a producer (it sells), negative for a consumer (it
buys; -C_n is then its utility). `a`, `b`, `p_min` and `p_max` are private to the agent: the
negotiation (algorithm.py) never shows them to anyone else, and collusion.py shows how plain
consensus+innovation leaks a producer's bound anyway.

Units as in Li et al. 2022's agent table: kW, USD/kW^2 (a), USD/kW (b).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PRODUCER = "producer"
CONSUMER = "consumer"

Kind = Literal["producer", "consumer"]


@dataclass(frozen=True)
class Agent:
    """One participant: where it is on the grid, what it costs or is worth, and its bounds."""

    name: str
    bus: int
    kind: Kind
    a: float
    b: float
    p_min: float
    p_max: float

    def __post_init__(self) -> None:
        if self.kind not in (PRODUCER, CONSUMER):
            raise ValueError(f"agent {self.name}: kind must be producer or consumer, not {self.kind!r}")
        if self.a <= 0:
            raise ValueError(f"agent {self.name}: a must be > 0 USD/kW^2 (strictly convex cost)")
        if self.p_min > self.p_max:
            raise ValueError(f"agent {self.name}: p_min {self.p_min} kW exceeds p_max {self.p_max} kW")
        if self.kind == PRODUCER and self.p_min < 0:
            raise ValueError(f"agent {self.name}: a producer's p_min must be >= 0 kW")
        if self.kind == CONSUMER and self.p_max > 0:
            raise ValueError(f"agent {self.name}: a consumer's p_max must be <= 0 kW")

    @property
    def is_producer(self) -> bool:
        return self.kind == PRODUCER

    def cost(self, power: float) -> float:
        """C_n(P_n) in USD for a net injection of `power` kW (negative: a consumer's -utility)."""
        return 0.5 * self.a * power * power + self.b * power

    def marginal_cost(self, power: float) -> float:
        """dC_n/dP_n in USD/kW: a producer's marginal cost, a consumer's marginal utility."""
        return self.a * power + self.b


def neighbours(agent: Agent, agents: tuple[Agent, ...]) -> tuple[Agent, ...]:
    """Who `agent` trades with: every agent of the other kind (the paper's full bipartite market)."""
    return tuple(other for other in agents if other.kind != agent.kind)


def by_name(agents: tuple[Agent, ...]) -> dict[str, Agent]:
    """The agents keyed by name; refuses duplicate names."""
    named = {agent.name: agent for agent in agents}
    if len(named) != len(agents):
        raise ValueError("agent names must be unique")
    return named


# Li et al. 2022, the agent table (section 5.1): sellers S1-S4, buyers B1-B3. Buses are IEEE
# 14-bus numbers (grid.py places them on pandapower's case14).
PAPER_AGENTS: tuple[Agent, ...] = (
    Agent("S1", 2, PRODUCER, 0.04, 1.0, 1.0, 7.0),
    Agent("S2", 5, PRODUCER, 0.046, 1.0, 1.0, 4.0),
    Agent("S3", 8, PRODUCER, 0.04, 1.0, 1.0, 6.0),
    Agent("S4", 10, PRODUCER, 0.05, 1.0, 1.0, 5.0),
    Agent("B1", 3, CONSUMER, 0.05, 3.0, -7.0, -1.0),
    Agent("B2", 4, CONSUMER, 0.056, 3.0, -6.0, -1.0),
    Agent("B3", 9, CONSUMER, 0.05, 3.0, -8.0, -1.0),
)

# Li et al. 2022, the trades table (section 5.2): kW and USD/kW per (seller, buyer). Supply and
# demand each total 19.39 kW; the report sets our trades beside these.
PAPER_TRADES: dict[tuple[str, str], tuple[float, float]] = {
    ("S1", "B1"): (1.75, 1.21), ("S1", "B2"): (1.50, 1.19), ("S1", "B3"): (2.00, 1.24),
    ("S2", "B1"): (1.33, 2.74), ("S2", "B2"): (1.27, 2.72), ("S2", "B3"): (1.37, 2.74),
    ("S3", "B1"): (1.75, 1.21), ("S3", "B2"): (1.50, 1.19), ("S3", "B3"): (2.00, 1.24),
    ("S4", "B1"): (1.67, 2.66), ("S4", "B2"): (1.50, 1.24), ("S4", "B3"): (1.75, 2.65),
}
