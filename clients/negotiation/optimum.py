"""The centralised social-welfare optimum the negotiation is checked against (HiGHS, a QP).

    max  SW = -sum_n C_n(P_n)
    s.t. sum_n P_n = 0,  p_min_n <= P_n <= p_max_n,
         -F_l <= sum_n ISF(l, bus of n) P_n <= F_l   (limited lines).

This is the bilateral problem (trades q_nm >= 0 per producer-consumer pair, reciprocity, flows
sum_pairs PTDF(l, producer -> consumer) q_nm) with the trades eliminated: on the full bipartite
market any balanced powers of the right signs split into non-negative pair trades, and the flows
of a balanced injection depend on the powers only. So the optimum's powers, welfare, flows and
line prices are unique, while its pair trades are not (METHOD.md) - which is why the negotiation
is compared with it on welfare and powers. (Stated with pair variables the Hessian is singular
and HiGHS' active-set QP solver fails on some congested cases; in powers it is strictly convex.)

Solved with HiGHS through highspy. No agent could solve this, since it needs everyone's private
a_n, b_n and bounds: that is why the negotiation exists.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass

import highspy
import numpy as np

from .cases import Case
from .grid import load_grid


@dataclass(frozen=True)
class Optimum:
    """The optimal dispatch: per-agent powers, welfare, line flows and congestion prices."""

    welfare: float  # USD
    powers: dict[str, float]  # kW per agent
    line_flows: dict[str, float]  # kW
    line_prices: dict[str, float]  # USD/kW per limited line, as the negotiation's mu+ - mu-
    price: float  # USD/kW, the balance row's dual: the marginal price at the slack bus


def solve(case: Case) -> Optimum:
    """Solve the case's social-welfare QP; RuntimeError if HiGHS finds no optimum."""
    grid = load_grid(case.grid)
    agents = case.agents
    count = len(agents)
    columns = np.arange(count, dtype=np.int32)
    isf = np.array([grid.ptdf[:, grid.column(a.bus)] for a in agents]).T  # lines x agents
    limited = sorted(case.line_limits.items())

    with _quiet_stdout():  # HiGHS prints its banner on stdout when it is created
        highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.addVars(count, np.array([a.p_min for a in agents]), np.array([a.p_max for a in agents]))
    highs.changeColsCost(count, columns, np.array([a.b for a in agents]))
    highs.addRow(0.0, 0.0, count, columns, np.ones(count))
    for line, limit in limited:
        row = _line_index(grid, line)
        highs.addRow(-limit, limit, count, columns, isf[row])
    hessian = highspy.HighsHessian()
    hessian.dim_ = count
    hessian.format_ = highspy.HessianFormat.kTriangular
    hessian.start_ = np.arange(count + 1, dtype=np.int32)
    hessian.index_ = columns
    hessian.value_ = np.array([a.a for a in agents])
    highs.passHessian(hessian)
    highs.run()
    status = highs.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"case {case.name}: HiGHS found no optimum ({highs.modelStatusToString(status)})")
    solution = highs.getSolution()
    powers = {a.name: float(solution.col_value[i]) for i, a in enumerate(agents)}
    flows = isf @ np.array([powers[a.name] for a in agents])
    duals = list(solution.row_dual)
    return Optimum(
        welfare=-sum(a.cost(powers[a.name]) for a in agents),
        powers=powers,
        line_flows={line: float(flows[i]) for i, line in enumerate(grid.lines)},
        # d(cost)/d(limit row) in HiGHS' sign is minus the negotiation's line price
        line_prices={line: -float(duals[1 + i]) for i, (line, _) in enumerate(limited)},
        price=float(duals[0]),
    )


def _line_index(grid, line: str) -> int:
    if line not in grid.lines:
        raise ValueError(f"grid {grid.name} has no line {line!r} (lines: {', '.join(grid.lines)})")
    return grid.lines.index(line)


@contextmanager
def _quiet_stdout():
    """Silence C-level writes to stdout (fd 1) for the block, so --json output stays JSON."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
