"""The paper's one-week experiment through the platform (Section 5.2).

Each simulated day, every participant's meter client trades each hour:
sellers offer their surplus, then buyers order what their scenario says,
then the operator closes the hour. Grid fallback makes every order fill:
P2P first, the system operator at the grid price for the rest. Offers ask
the grid's buying price, so nothing is left unsold; orders accept up to the
grid's selling price. After each day from the second on, the PAR engine
issues the next day, so days 1-2 have neither recommendations nor
penalties. Both scenarios run on one ledger, on disjoint chain days (the
scenario "with" starts `days` after "without"), and everything reported is
read back from the contracts on chain.

The ledger is either a REST API (devnet or a real network) or the in-process
ledger (`--fast`). The same code drives both, in the same order, so one
seed gives the same contracts and the same report in either mode.

Progress goes to stderr (:mod:`.progress`): a bar on a terminal, a line per
phase and per simulated day elsewhere. The run quiets third-party INFO logs
(:mod:`.logs`) first.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass

import numpy as np
from sawtooth_signing import Signer

from sawgrid.clients.sdk import keys, market
from sawgrid.clients.sdk.market import MarketReader
from sawgrid.clients.simulation.data import Dataset
from sawgrid.clients.simulation.logs import quiet_third_party_logs
from sawgrid.clients.simulation.progress import Progress
from sawgrid.clients.simulation.results import WITH, WITHOUT, ScenarioResult, SimulationResult
from sawgrid.clients.simulation.scenarios import (
    check_same_daily_energy, purchases_with_recommendation, shortfall, surplus,
)
from sawgrid.protos.envelopes import make_batch
from sawgrid.par_engine import metrics
from sawgrid.par_engine.engine import Engine, EngineConfig
from sawgrid.par_engine.penalties import PAR_PENALTY_THRESHOLD
from sawgrid.par_engine.recommend import make_problem, recommend
from sawgrid.processors.inprocess import unsigned_batch, unsigned_transaction
from sawgrid.processors.market.addresses import MARKET, access
from sawgrid.processors.market.units import HOURS_PER_DAY, NO_PENALTY, day_number
from sawgrid.protos import market_pb2 as pb

SETUP_CHUNK = 100  # transactions per operator setup batch


@dataclass
class SimConfig:
    """A run's settings. Every quantity's unit is in its name (money in µEUR, as
    on chain); the report shows them in EUR, EUR/kWh, Wh and %."""
    seed: int = 0
    grid_buy_ueur_per_kwh: int = 100_000     # the system operator pays for surplus (0.10 EUR/kWh)
    grid_sell_ueur_per_kwh: int = 300_000    # it charges (0.30 EUR/kWh)
    flat_price_ueur_per_kwh: int = 250_000   # the report's flat-price costs (paper: 0.25 EUR/kWh)
    algorithm: str = "optimal"         # the PAR engine's; optimal is deterministic (astar has a time budget)
    flexibility: float = 0.5           # share of each hour's purchase a recommendation may move (0-1)
    threshold: str = f"{float(PAR_PENALTY_THRESHOLD):g}"   # PAR (avg/max), "0.85" as the CLI spells it
    spread_limit_wh: int = 300
    first_recommended_day_index: int = 2   # 0-based: days 0 and 1 have no recommendations or penalties (paper)
    participant_funds_ueur: int = 10**11   # each (100,000 EUR: never the constraint)
    operator_funds_ueur: int = 10**13      # to buy all surplus at the grid price (10,000,000 EUR)


def private_key_for(seed: int, name: str):
    """A deterministic key per (seed, name), so full stack and --fast agree."""
    return keys.private_key_from_hex(hashlib.sha256(f"sawgrid-simulate/{seed}/{name}".encode()).hexdigest())


def signer_for(seed: int, name: str) -> Signer:
    return keys.signer_for(private_key_for(seed, name))


class _Sender:
    """Turns payloads into batches: signed for a REST ledger, unsigned in process."""

    def __init__(self, rest, signed: bool) -> None:
        self.rest = rest
        self.signed = signed

    def batch(self, signer: Signer, payloads: list[pb.MarketPayload]):
        if self.signed:
            return make_batch(signer, [market.market_transaction(signer, p) for p in payloads])
        pk = signer.get_public_key().as_hex()
        txns = []
        for p in payloads:
            inputs, outputs = access(p, pk)
            txns.append(unsigned_transaction(MARKET.name, MARKET.versions[0],
                                             p.SerializeToString(deterministic=True), inputs, outputs, pk))
        return unsigned_batch(txns)

    def run(self, batches: list) -> None:
        """Submit in order and wait for all (raises BatchInvalid with the reason)."""
        if batches:
            self.rest.submit_and_wait(batches, timeout=600)


class Simulation:
    def __init__(self, dataset: Dataset, config: SimConfig, rest, operator: Signer, *, signed: bool,
                 mode: str, progress: bool | Progress | None = None) -> None:
        """`progress`: False for none, None or True for stderr (a bar on a terminal,
        lines elsewhere), or a :class:`Progress` of one's own."""
        self.data = dataset
        self.config = config
        self.rest = rest
        self.reader = MarketReader(rest)
        self.operator = operator
        self.sender = _Sender(rest, signed)
        self.mode = mode
        self.progress = progress
        self.signers = [signer_for(config.seed, p.name) for p in dataset.participants]
        self.keys = [s.get_public_key().as_hex() for s in self.signers]
        self.index = {pk: i for i, pk in enumerate(self.keys)}
        self.engine = Engine(rest, operator, EngineConfig(
            threshold=config.threshold, algorithm=config.algorithm, flexibility=config.flexibility))
        self.base_day = day_number(dataset.start)

    def chain_day(self, scenario: int, d: int) -> int:
        return self.base_day + scenario * self.data.days() + d

    # -- setup ----------------------------------------------------------------------
    def setup(self) -> None:
        c, op = self.config, self.operator
        op_pk = op.get_public_key().as_hex()
        if self.reader.config() is None:
            self.sender.run([self.sender.batch(op, [market.init(10_000)])])
        self.sender.run([self.sender.batch(s, [market.register(p.name[:64])])
                         for s, p in zip(self.signers, self.data.participants)
                         if self.reader.participant(s.get_public_key().as_hex()) is None])
        work = [market.fund(op_pk, c.operator_funds_ueur)]
        for pk in self.keys:
            participant = self.reader.participant(pk)
            if participant.status != pb.APPROVED:
                work.append(market.approve(pk))
            work.append(market.fund(pk, c.participant_funds_ueur))
        for scenario in (0, 1):
            for d in range(self.data.days()):
                work.append(market.set_grid_prices(self.chain_day(scenario, d),
                                                   [c.grid_buy_ueur_per_kwh] * HOURS_PER_DAY,
                                                   [c.grid_sell_ueur_per_kwh] * HOURS_PER_DAY))
        self.sender.run([self.sender.batch(op, work[i:i + SETUP_CHUNK]) for i in range(0, len(work), SETUP_CHUNK)])

    # -- trading ----------------------------------------------------------------------
    def purchases(self, scenario: int, d: int, need: np.ndarray) -> np.ndarray:
        """(n, 24) what each participant orders on day d of the scenario."""
        if scenario == 0 or d < self.config.first_recommended_day_index:
            return need
        out = np.empty_like(need)
        for i, pk in enumerate(self.keys):
            rec = self.reader.recommendation(self.chain_day(scenario, d), pk)
            out[i] = purchases_with_recommendation(need[i], list(rec.schedule) if rec else None,
                                                   self.config.spread_limit_wh)
        return out

    def run_scenario(self, scenario: int, bar: Progress | None = None) -> None:
        """Trade every hour of every day of `scenario` (0 without, 1 with recommendations)."""
        c = self.config
        bar = bar if bar is not None else Progress(enabled=False)
        for d in range(self.data.days()):
            day = self.chain_day(scenario, d)
            consumption, production = self.data.day(d)
            sells = surplus(consumption, production)
            buys = self.purchases(scenario, d, shortfall(consumption, production))
            for h in range(HOURS_PER_DAY):
                batches = [self.sender.batch(s, [market.place_order(pb.SELL, day, h, int(sells[i, h]), c.grid_buy_ueur_per_kwh, True)])
                           for i, s in enumerate(self.signers) if sells[i, h] > 0]
                batches += [self.sender.batch(s, [market.place_order(pb.BUY, day, h, int(buys[i, h]), c.grid_sell_ueur_per_kwh, True)])
                            for i, s in enumerate(self.signers) if buys[i, h] > 0]
                batches.append(self.sender.batch(self.operator, [market.close_hour(day, h)]))
                self.sender.run(batches)
                bar.hour(note=f"{self.data.date(d).isoformat()} {h:02d}:00")
            if d + 1 < self.data.days() and d + 1 >= c.first_recommended_day_index:
                bar.note(f"PAR engine: issuing {self.data.date(d + 1).isoformat()}")
                self.engine.run(day)  # issues day + 1
            bar.day(d, self.data.date(d).isoformat())

    # -- reading back ---------------------------------------------------------------------
    def collect(self, scenario: int) -> ScenarioResult:
        n, days = len(self.keys), self.data.days()
        bought = np.zeros((n, days * HOURS_PER_DAY), dtype=np.int64)
        sold = np.zeros_like(bought)
        paid = np.zeros(n, dtype=np.int64)
        received = np.zeros(n, dtype=np.int64)
        surcharge, count, penalties, ceiling = 0, 0, [], []
        for d in range(days):
            day = self.chain_day(scenario, d)
            for contract in self.reader.contracts(day=day):
                count += 1
                slot = d * HOURS_PER_DAY + contract.hour
                if contract.buyer in self.index:
                    i = self.index[contract.buyer]
                    bought[i, slot] += contract.energy
                    paid[i] += contract.total
                    surcharge += contract.surcharge
                if contract.seller in self.index:
                    j = self.index[contract.seller]
                    sold[j, slot] += contract.energy
                    received[j] += contract.base
            record = self.reader.penalties(day)
            penalties.append(list(record.multipliers) if record else [NO_PENALTY] * HOURS_PER_DAY)
            ceiling.append(self._optimal_par(bought[:, d * HOURS_PER_DAY:(d + 1) * HOURS_PER_DAY]))
        return ScenarioResult(
            name=WITH if scenario else WITHOUT, days=[self.data.date(d).isoformat() for d in range(days)],
            bought_wh=bought, sold_wh=sold, paid_ueur=paid, received_ueur=received, surcharge_ueur=int(surcharge),
            penalties=penalties, optimal_par=ceiling, contracts=count)

    def _optimal_par(self, day_bought: np.ndarray) -> float | None:
        active = day_bought[day_bought.sum(axis=1) > 0]
        if len(active) == 0:
            return None
        result = recommend(make_problem(active, flexibility=self.config.flexibility), "optimal",
                           minimise_movement=False)
        return metrics.par(result.schedules.sum(axis=0))

    def run(self) -> SimulationResult:
        """Set up the market, run both scenarios and read back what the chain recorded."""
        quiet_third_party_logs()
        started = time.perf_counter()
        bar = self.progress if isinstance(self.progress, Progress) else Progress(enabled=self.progress)
        days = self.data.days()
        bar.phase(f"setup: {len(self.keys)} participants, 2 scenarios x {days} days ({self.mode})")
        self.setup()
        results = []
        for scenario, name in ((0, WITHOUT), (1, WITH)):
            bar.begin(name, days, HOURS_PER_DAY)
            self.run_scenario(scenario, bar)
            bar.end()
            bar.phase(f"{name}: reading the contracts back")
            results.append(self.collect(scenario))
        bar.phase(f"simulation done in {time.perf_counter() - started:.1f} s")
        without, with_ = results
        check_same_daily_energy(without.bought_wh, with_.bought_wh, without.sold_wh, with_.sold_wh)
        return SimulationResult(
            config={**asdict(self.config), "participants": len(self.keys), "days": self.data.days(),
                    "mode": self.mode},
            dataset=self.data.source, participants=[p.name for p in self.data.participants],
            without=without, with_=with_, seconds=round(time.perf_counter() - started, 1))
