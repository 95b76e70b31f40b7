"""Recommended schedules: time and flatness of each algorithm on synthetic household days.

    python bench/par_bench.py [--sizes 100,1000,10000] [--flexibility 0.5,0.9]
                              [--budget 2.0] [--seed 1] [--json]

For every size n and flexibility (`make_problem`'s share of each hour that may
move), one seeded synthetic day of n evening-peaked households (standby load,
a morning bump, an evening peak whose hour and size vary by household, some
daytime use, ±15 % hourly jitter; whole Wh, no base load) is scheduled by:

* optimal            — `recommend(p, "optimal")`: the certified peak, then
                       the movement-minimising phase (automatic up to
                       optimal.MOVEMENT_MAX_PARTICIPANTS) by its automatic
                       method: a min-cost flow from
                       optimal.FLOW_MIN_PARTICIPANTS, dual simplex below;
* optimal/lp         — the same with the movement phase as the linear
                       program (`movement_method="lp"`, the method before
                       the flow: interior point and rounding from
                       optimal.IPM_MIN_PARTICIPANTS), side by side;
* optimal/peak-only  — the same without the movement phase;
* astar              — default threshold (V >= 98) and `--budget` seconds;
* astar/threshold100 — threshold 100 (unreachable in whole Wh): runs until
                       the budget or until no move improves.

Reported per run: wall seconds, peak (Wh), PAR = metrics.par (avg/max, the
paper's eq. 11) and PAR as a fraction of the optimum's PAR (= optimal peak /
peak), V(S), energy moved as a share of the day's energy, and for astar the
expansions, why it stopped, and the gap to the optimum it reports itself
(`recommend(..., yardstick=True)`: peak / optimal peak − 1, the optimal peak
certified by flows, its seconds not counted in astar's), and the 1-minute load
average before and after each size and flexibility (the machine may be shared).
Speed is measured here, never asserted in tests.
"""
from __future__ import annotations

import argparse
import json
import os
import platform

import numpy as np
import scipy

from sawgrid.par_engine.recommend import VS_ACCEPT_THRESHOLD, make_problem, recommend
from sawgrid.processors.market.units import HOURS_PER_DAY

RUNS = {   # label -> (algorithm, keyword arguments)
    "optimal": ("optimal", {}),
    "optimal/lp": ("optimal", {"movement_method": "lp"}),
    "optimal/peak-only": ("optimal", {"minimise_movement": False}),
    "astar": ("astar", {"threshold": VS_ACCEPT_THRESHOLD}),
    "astar/threshold100": ("astar", {"threshold": 100.0}),
}


def households(n: int, seed: int) -> np.ndarray:
    """(n, 24) Wh of evening-peaked household days, seeded."""
    rng = np.random.default_rng(seed)
    hours = np.arange(HOURS_PER_DAY)

    def bump(height_lo, height_hi, centre, spread, width):
        height = rng.uniform(height_lo, height_hi, (n, 1))
        return height * np.exp(-0.5 * ((hours - rng.normal(centre, spread, (n, 1))) / width) ** 2)

    standby = rng.uniform(150, 300, (n, 1))
    daytime = rng.uniform(0, 250, (n, 1)) * ((hours >= 9) & (hours <= 16))
    load = standby + daytime + bump(200, 600, 7.5, 0.7, 1.0) + bump(600, 1500, 19.5, 1.0, 1.5)
    return np.rint(load * rng.uniform(0.85, 1.15, (n, HOURS_PER_DAY))).astype(np.int64)


def run(n: int, flexibility: float, budget: float, seed: int) -> dict:
    problem = make_problem(households(n, seed), flexibility=flexibility)
    energy = int(problem.energy.sum())
    out: dict = {"participants": n, "flexibility": flexibility, "load_before": os.getloadavg()[0]}
    optimum = None
    for label, (algorithm, kw) in RUNS.items():
        # astar reports its own gap to the optimum: recommend's yardstick solves the peak (flows) beside it
        result = recommend(problem, algorithm, time_budget=budget, yardstick=algorithm != "optimal", **kw)
        if optimum is None:
            optimum = result.peak
            out.update(input_peak=result.extra["input_peak"], input_par=result.extra["input_par"],
                       input_balance=result.extra["input_balance"], optimal_peak=optimum)
        row = {"seconds": result.seconds, "peak": result.peak, "par": result.par,
               "par_of_optimal": optimum / result.peak, "balance": result.balance,
               "moved_share": result.extra["moved_wh"] / energy}
        for key in ("phase_seconds", "expansions", "stop", "gap_to_optimal", "yardstick_seconds"):
            if key in result.extra:
                row[key] = result.extra[key]
        out[label] = row
    out["load_after"] = os.getloadavg()[0]
    return out


def table(runs: list[dict]) -> str:
    lines = ["| n | flex | input PAR | algorithm | seconds | PAR | × optimal PAR | gap (reported) | V(S) | moved "
             "| search |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        for label in RUNS:
            row = r[label]
            search = f"{row['expansions']} exp., {row['stop']}" if "stop" in row else \
                " + ".join(f"{s:.2f}" for s in row["phase_seconds"]) + " s"
            if label == "optimal":
                search += f" (load {r['load_before']:.1f} → {r['load_after']:.1f})"
            lines.append(f"| {r['participants']:,} | {r['flexibility']} | {r['input_par']:.3f} | {label} | "
                         f"{row['seconds']:.2f} | {row['par']:.4f} | {row['par_of_optimal']:.4f} | "
                         f"{row['gap_to_optimal']:.2%} | " if "gap_to_optimal" in row else
                         f"{row['seconds']:.2f} | {row['par']:.4f} | {row['par_of_optimal']:.4f} | exact | ")
            lines[-1] += f"{row['balance']:.2f} | {row['moved_share']:.2%} | {search} |"
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--flexibility", default="0.5,0.9")
    parser.add_argument("--budget", type=float, default=2.0, help="astar's time budget, seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    runs = []
    for n in (int(s) for s in args.sizes.split(",")):
        for flexibility in (float(f) for f in args.flexibility.split(",")):
            runs.append(run(n, flexibility, args.budget, args.seed))
            if not args.json:
                print(f"done: n={n:,} flexibility={flexibility}", flush=True)
    if args.json:
        print(json.dumps({"cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
                          "scipy": scipy.__version__, "budget": args.budget, "seed": args.seed, "runs": runs},
                         indent=2))
    else:
        print(table(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
