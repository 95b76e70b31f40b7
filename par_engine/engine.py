"""One run of the PAR engine: day D's trades in, day D+1's penalties and
recommendations out, as one signed batch.

    engine = Engine(RestClient(url), operator_signer, EngineConfig())
    report = engine.run(day)        # idempotent: an issued day is reported, not re-issued

No wall clock inside: the day is explicit, so `sawgrid simulate` can drive
simulated days and `par serve` drives real ones.

Each run first does the system operator's settlement duties for
sawgrid-reputation (`Engine.settle`, `clients.sdk.reputation.settle_round`):
it expires every contract past its deadline by the chain's time and
refreshes the validator pool, so that days whose leftovers were due can be
archived in the same run. Then it archives the finished days (`Engine.archive`): from the day
after the newest archived one up to the day it read, in order, each day whose
24 hours are closed and whose contracts are all SETTLED or DECLINED. It stops
at the first day that is not finished yet and logs why (typically: contracts
still being settled); that day is archived by a later run.
"""
from __future__ import annotations

import logging
import time
import tomllib
from dataclasses import asdict, dataclass, field, fields
from fractions import Fraction
from pathlib import Path

import numpy as np
from sawtooth_signing import Signer

from sawgrid.clients.sdk import archive, market, reputation
from sawgrid.clients.sdk.archive import ArchiveReader
from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.sdk.market import MarketReader
from sawgrid.clients.sdk.rest import BatchInvalid
from sawgrid.clients.sdk.ledger import LedgerClient
from sawgrid.par_engine import chain, metrics
from sawgrid.par_engine.penalties import PAR_PENALTY_THRESHOLD, penalty_vector
from sawgrid.par_engine.recommend import ALGORITHMS, make_problem, recommend
from sawgrid.processors.market.addresses import BOOK, MARKET
from sawgrid.processors.market.units import HOURS_PER_DAY, day_date

LOG = logging.getLogger("sawgrid.par_engine")


@dataclass
class EngineConfig:
    """Settings, from a TOML file (`[par]` table) or the command line."""

    threshold: str = str(PAR_PENALTY_THRESHOLD)  # PAR (avg/max) at or above which nothing is penalised
    algorithm: str = "optimal"               # "optimal" or "astar"
    flexibility: float = 0.5                 # share of each hour's purchase a recommendation may move
    time_budget: float = 2.0                 # seconds, for astar
    cron: str = "0 23 * * *"                 # when `par serve` runs (UTC)
    archive: bool = True                     # archive the finished days after issuing
    settle: bool = True                      # before archiving: expire what is past its deadline
    refresh_pool: bool = True                # ... and refresh the validator pool (with settle)

    def __post_init__(self) -> None:
        try:
            threshold = Fraction(self.threshold)
        except (ValueError, ZeroDivisionError):
            raise SawgridError(f"threshold: not a number: {self.threshold!r}") from None
        if not 0 < threshold <= 1:
            raise SawgridError(f"threshold: must be in (0, 1], got {self.threshold}")
        if self.algorithm not in ALGORITHMS:
            raise SawgridError(f"algorithm: must be one of {', '.join(ALGORITHMS)}, got {self.algorithm!r}")
        if not 0 <= self.flexibility <= 1:
            raise SawgridError(f"flexibility: must be in [0, 1], got {self.flexibility}")
        if self.time_budget <= 0:
            raise SawgridError(f"time_budget: must be positive, got {self.time_budget}")

    @classmethod
    def from_toml(cls, path: Path, **overrides) -> "EngineConfig":
        try:
            data = tomllib.loads(path.read_text()).get("par", {})
        except OSError as err:
            raise SawgridError(f"cannot read {path}: {err.strerror}") from None
        except tomllib.TOMLDecodeError as err:
            raise SawgridError(f"{path}: {err}") from None
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise SawgridError(f"{path}: unknown setting(s) in [par]: {', '.join(sorted(unknown))}")
        data = {k: (str(v) if k == "threshold" else v) for k, v in data.items()}
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**data)


@dataclass
class RunReport:
    day: str                      # the day whose trades were read (ISO)
    target_day: str               # the day issued (ISO), day + 1
    status: str                   # "issued" | "already issued" | "dry run"
    participants: int
    totals_wh: list[int]
    par: float                    # avg/max of day's load (the paper's PAR)
    peak_to_average: float
    balance: float                # V(S)
    penalties: list[int]          # permille, for target_day
    algorithm: str
    recommended_par: float | None = None
    optimal_par: float | None = None
    gap_to_optimal: float | None = None
    seconds: float = 0.0
    transaction_ids: list[str] = field(default_factory=list)
    archive: list[dict] = field(default_factory=list)   # what the archive step did, one entry per day it tried
    settle: dict | None = None    # what the settlement step did (None: not run)

    def to_json(self) -> dict:
        return asdict(self)


class Engine:
    def __init__(self, rest: LedgerClient, signer: Signer, config: EngineConfig | None = None) -> None:
        self.rest = rest
        self.reader = MarketReader(rest)
        self.signer = signer
        self.config = config or EngineConfig()
        self.last_report: RunReport | None = None

    def run(self, day: int, dry_run: bool = False) -> RunReport:
        """Issue day+1 from day's trades (or only compute it, with `dry_run`)."""
        started = time.perf_counter()
        target = day + 1
        load = chain.day_load(self.reader, day)
        penalties = penalty_vector(load.totals, Fraction(self.config.threshold))
        report = RunReport(
            day=day_date(day).isoformat(), target_day=day_date(target).isoformat(), status="issued",
            participants=len(load.buyers), totals_wh=load.totals, par=metrics.par(load.totals),
            peak_to_average=metrics.peak_to_average(load.totals), balance=metrics.balance(load.totals),
            penalties=penalties, algorithm=self.config.algorithm,
        )
        if chain.is_issued(self.reader, target):
            return self._already_issued(report, day, started, act=not dry_run)
        schedules: dict[str, list[int]] = {}
        if load.buyers:
            problem = make_problem(np.array(load.purchases, dtype=np.int64), flexibility=self.config.flexibility)
            result = recommend(problem, self.config.algorithm, time_budget=self.config.time_budget,
                               yardstick=True)
            schedules = {pk: [int(v) for v in row] for pk, row in zip(load.buyers, result.schedules)}
            report.recommended_par = result.par
            if result.optimal_peak:
                aggregate_total = int(np.asarray(result.schedules).sum())
                report.optimal_par = aggregate_total / HOURS_PER_DAY / result.optimal_peak
                report.gap_to_optimal = result.peak / result.optimal_peak - 1
        if dry_run:
            report.status = "dry run"
            return self._done(report, started, day)
        payloads = chain.issue_payloads(target, penalties, schedules)
        try:
            report.transaction_ids = market.submit(self.rest, self.signer, payloads)
        except BatchInvalid:
            # A concurrent run may have issued the day between our check and our
            # submit: the market then refuses our batch (the day is final) and
            # the chain holds the other run's issue. That is the same outcome as
            # finding the day issued; any other refusal is an error.
            if not chain.is_issued(self.reader, target):
                raise
            return self._already_issued(report, day, started)
        return self._done(report, started, day)

    def _already_issued(self, report: RunReport, day: int, started: float, act: bool = True) -> RunReport:
        """Report day + 1 as on chain already: its penalties as issued, nothing of ours."""
        report.status = "already issued"
        report.penalties = list(self.reader.penalties(day + 1).multipliers)
        report.recommended_par = report.optimal_par = report.gap_to_optimal = None
        report.transaction_ids = []
        return self._done(report, started, day, act)

    def _done(self, report: RunReport, started: float, day: int, act: bool = True) -> RunReport:
        """Settle, then archive (not on a dry run: it writes nothing)."""
        act = act and report.status != "dry run"
        if act and self.config.settle:
            report.settle = self.settle()
        if act and self.config.archive:
            report.archive = self.archive(day)
        report.seconds = round(time.perf_counter() - started, 3)
        self.last_report = report
        return report

    # -- the settlement step ---------------------------------------------------------------
    def settle(self) -> dict:
        """The system operator's settlement duties (reputation.settle_round):
        expire what is due by the chain's time, then (config.refresh_pool)
        refresh the validator pool. {"status": "done", "expired": n,
        "refreshed_pool": bool, "chain_time"}, or {"status": "skipped" |
        "error", "reason"}: logged, and the run's own result stands."""
        try:
            doc = reputation.settle_round(self.rest, self.signer, refresh=self.config.refresh_pool)
        except BatchInvalid as err:
            reason = "; ".join(m for m in err.messages if m) or str(err)
            LOG.warning("settle: refused: %s", reason)
            return {"status": "error", "reason": reason}
        except reputation.NoChainTime as err:
            LOG.info("settle: skipped: %s", err)
            return {"status": "skipped", "reason": str(err)}
        except SawgridError as err:
            LOG.warning("settle: stopped: %s", err)
            return {"status": "error", "reason": str(err)}
        if doc["expired"]:
            LOG.info("settle: expired %d contract(s) due by %s", len(doc["expired"]),
                     reputation.format_time(doc["chain_time"]))
        return {"status": "done", "expired": len(doc["expired"]), "refreshed_pool": doc["refreshed_pool"],
                "chain_time": doc["chain_time"]}

    # -- the archive step ------------------------------------------------------------------
    def archive(self, through: int) -> list[dict]:
        """Archive every finished day not archived yet, oldest first, up to
        `through`; one entry per day tried: {"day", "status", ...} with status
        "archived" (and "digest", "contracts"), "not finished" (and "reason":
        the run stops there; a later run retries it) or "error" (a refusal or
        an unreachable ledger: logged, and the run's own result stands). Days
        without any Book (nothing traded, no hour closed) are passed over."""
        reader = ArchiveReader(self.rest)
        outcomes: list[dict] = []
        try:
            head = reader.head()
            start = head.day + 1 if head is not None else self._first_traded_day()
            if start is None:
                return outcomes
            for day in range(start, through + 1):
                status = archive.day_status(self.rest, day)
                if status.empty:
                    continue
                iso = day_date(day).isoformat()
                if not status.ready:
                    LOG.info("archive: %s not archived yet: %s", iso, market.explain(status.reason))
                    outcomes.append({"day": iso, "status": "not finished", "reason": status.reason})
                    break
                try:
                    archive.submit(self.rest, self.signer, archive.archive_day(day))
                except BatchInvalid as err:
                    if reader.day(day) is None:  # not a concurrent run that archived it first
                        raise SawgridError("; ".join(m for m in err.messages if m) or str(err)) from None
                record = reader.day(day)
                LOG.info("archive: %s archived (%d contracts, digest %s)", iso, record.contracts, record.digest[:16])
                outcomes.append({"day": iso, "status": "archived", "contracts": record.contracts,
                                 "digest": record.digest})
        except SawgridError as err:
            LOG.warning("archive: stopped: %s", err)
            outcomes.append({"day": None, "status": "error", "reason": str(err)})
        return outcomes

    def _first_traded_day(self) -> int | None:
        """The earliest day that has a Book (books are addressed by day first)."""
        for address, _ in self.rest.state_prefix(MARKET.prefix(BOOK), page_size=1):
            return int(address[8:16], 16)
        return None
