"""The negotiation's tuning: step sizes of each party's update and the market operator's tolerances.

Symbols follow METHOD.md (processors/negotiation/METHOD.md): alpha is the innovation step of the
bilateral price update (eq. 17), eta the tuning parameter of the agents' quantity step (eq. 15),
rho the line manager's step on line prices (eq. 18), eps_* the stopping criterion (eq. 19).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Params:
    """Public parameters every party of a negotiation agrees on before it starts."""

    alpha: float = 0.05  # USD/kW per kW of bilateral mismatch (innovation step, eq. 17)
    eta: float = 2.0  # kW per USD/kW (proximal quantity step, eq. 15)
    rho: float = 0.05  # USD/kW per kW of line overload (line price step, eq. 18)
    initial_price: float = 2.0  # USD/kW: every pair's opening price
    eps_power: float = 1e-4  # kW: largest bilateral mismatch, trade change and overload at the stop
    eps_price: float = 1e-5  # USD/kW: largest price change between two iterations at the stop
    max_iterations: int = 20000

    def __post_init__(self) -> None:
        for name in ("alpha", "eta", "rho", "eps_power", "eps_price"):
            if not getattr(self, name) > 0:
                raise ValueError(f"params.{name} must be > 0")
        if self.max_iterations < 1:
            raise ValueError("params.max_iterations must be >= 1")
