"""What a simulation run produces: per scenario, what the chain recorded.

Everything here is read back from the ledger (contracts), not from the
simulator's intentions, so the report shows what the platform actually did.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from sawgrid.processors.market.units import HOURS_PER_DAY

WITHOUT = "without recommendations"
WITH = "with recommendations"


@dataclass
class ScenarioResult:
    name: str                      # WITHOUT or WITH
    days: list[str]                # ISO dates of the simulated days (as the dataset labels them)
    bought_wh: np.ndarray          # (participants, days*24) energy each participant bought per hour
    sold_wh: np.ndarray            # (participants, days*24) energy each participant sold per hour
    paid_ueur: np.ndarray          # (participants,) µEUR paid for purchases (base + penalty surcharge + wire fee)
    received_ueur: np.ndarray      # (participants,) µEUR received for sales
    surcharge_ueur: int            # µEUR of penalty surcharges paid in total
    penalties: list[list[int]]     # per day, the 24 multipliers in force (permille)
    optimal_par: list[float | None]  # per day, PAR of the optimal schedule of that day's purchases (the ceiling)
    contracts: int                 # number of contracts concluded

    @property
    def hourly_load_wh(self) -> np.ndarray:
        """(days, 24) the microgrid's purchases per hour."""
        return self.bought_wh.sum(axis=0).reshape(-1, HOURS_PER_DAY)


@dataclass
class SimulationResult:
    config: dict                   # seed, participants, days, mode ("full stack" | "fast"), prices, ...
    dataset: str                   # where the data came from
    participants: list[str]        # names, in row order
    without: ScenarioResult
    with_: ScenarioResult
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)
    #: settlement: declined contracts, losses, malicious participants (runner.collect_reputation); None without
    reputation: dict | None = None
    #: "<run>-<scenario>" -> (participants, days*24) Q-score ppm after each hour
    trajectories: dict[str, np.ndarray] = field(default_factory=dict)
    #: every simulated day's archive record and its verification (runner.collect_archive); None: not read
    archive: dict | None = None
    #: how the participants joined: the enrollment protocol's blocks and slots (enrollment.py); None: approved
    enrollment: dict | None = None

    def save(self, folder: Path) -> None:
        """results.json (scalars) + results.npz (arrays), enough to redo the report."""
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {}
        meta = {"config": self.config, "dataset": self.dataset, "participants": self.participants,
                "seconds": self.seconds, "extra": self.extra, "scenarios": {}}
        for key, s in (("without", self.without), ("with", self.with_)):
            for name in ("bought_wh", "sold_wh", "paid_ueur", "received_ueur"):
                arrays[f"{key}_{name}"] = getattr(s, name)
            meta["scenarios"][key] = {k: v for k, v in asdict(s).items()
                                      if k not in ("bought_wh", "sold_wh", "paid_ueur", "received_ueur")}
        for key, scores in self.trajectories.items():
            arrays[f"scores_{key}"] = scores
        meta["reputation"] = self.reputation
        meta["archive"] = self.archive
        meta["enrollment"] = self.enrollment
        np.savez_compressed(folder / "results.npz", **arrays)
        (folder / "results.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, folder: Path) -> "SimulationResult":
        meta = json.loads((folder / "results.json").read_text())
        arrays = np.load(folder / "results.npz")
        scenarios = {}
        for key in ("without", "with"):
            fields_ = dict(meta["scenarios"][key])
            for name in ("bought_wh", "sold_wh", "paid_ueur", "received_ueur"):
                fields_[name] = arrays[f"{key}_{name}"]
            scenarios[key] = ScenarioResult(**fields_)
        trajectories = {name[len("scores_"):]: arrays[name] for name in arrays.files if name.startswith("scores_")}
        return cls(meta["config"], meta["dataset"], meta["participants"], scenarios["without"],
                   scenarios["with"], meta["seconds"], meta["extra"], meta.get("reputation"), trajectories,
                   meta.get("archive"), meta.get("enrollment"))
