"""The paper's one-week experiment through the platform (Section 5.2).

Every participant joins first through the enrollment protocol: the
operator's CA certifies the first verifiers, who enroll everyone else
(:mod:`.enrollment`; operator approval only against ``--url``, whose clock
the run cannot move). Each simulated day, every participant's meter agent trades each hour:
sellers offer their surplus, then buyers order what their scenario says,
then the operator closes the hour. The agents are the meter's own
(`clients.meter.household.Household`, one per participant and scenario, its
data an `ArraySource` over the dataset's rows): the same day plans, payloads,
readings and attestations as `sawgrid meter`, driven in process in this fixed
order, which is the order `sawgrid meter --turn` takes at the day-ahead gate. Grid fallback makes every order fill:
P2P first, the system operator at the grid price for the rest. Offers ask
the grid's buying price, so nothing is left unsold; orders accept up to the
grid's selling price. After each day from the second on, the PAR engine
issues the next day, so days 1-2 have neither recommendations nor
penalties. Both scenarios run on one ledger, on disjoint chain days (the
scenario "with" starts `days` after "without"), and everything reported is
read back from the contracts on chain.

**Settlement** (processors/reputation/README.md). After each hour closes,
the chain's clock moves to the hour's end (:mod:`.replay`); every party's
meter submits its reading (one transaction per meter, all in one round),
then every cluster member attests the hour's contracts it sits on, with the
verdict an honest member computes from the readings on chain
(`clients.sdk.reputation.Hour`; one transaction per member, another round).
After each day the operator expires what the previous day left (its
deadline has then passed) and refreshes the validator pool; at setup every
participant volunteered (the first MAX_VOLUNTEERS of them, the pool's cap,
above 1,000 participants) and the operator configured the run's settings
(:mod:`.settlement`). Malicious sellers read 0 Wh, malicious buyers buy on
credit and never pay; orders the chain would refuse (a Q-score below the
minimum) are not placed, and the hour is recorded. With malicious
participants the whole experiment runs a second time on later chain days
with eligibility disabled: the baseline of the report's reputation section.
A network's clock (`--url`) cannot be replayed, so there the run trades but
does not settle.

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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
from sawtooth_signing import Signer

from sawgrid.clients.meter.household import Household
from sawgrid.clients.meter.sources import ArraySource
from sawgrid.clients.sdk import archive, keys, market, reputation
from sawgrid.clients.sdk.market import MarketReader
from sawgrid.clients.simulation.data import Dataset
from sawgrid.clients.simulation.logs import quiet_third_party_logs
from sawgrid.clients.simulation import enrollment as enroll_
from sawgrid.clients.simulation import settlement
from sawgrid.clients.simulation import statistics as stats_
from sawgrid.clients.simulation.progress import Progress
from sawgrid.clients.simulation.replay import ReplayClock
from sawgrid.clients.simulation.results import WITH, WITHOUT, ScenarioResult, SimulationResult
from sawgrid.clients.simulation.scenarios import check_same_daily_energy, shortfall, surplus
from sawgrid.protos.envelopes import make_batch
from sawgrid.par_engine import metrics
from sawgrid.par_engine.engine import Engine, EngineConfig
from sawgrid.par_engine.penalties import PAR_PENALTY_THRESHOLD
from sawgrid.par_engine.recommend import make_problem, recommend
from sawgrid.processors.inprocess import unsigned_batch, unsigned_transaction
from sawgrid.processors.market.addresses import MARKET, access
from sawgrid.processors.market.units import HOURS_PER_DAY, NO_PENALTY, day_date, day_number, trade_amounts
from sawgrid.processors.reputation import eligibility
from sawgrid.processors.reputation.payload import MAX_VOLUNTEERS
from sawgrid.processors.reputation import settle as rules
from sawgrid.processors.reputation.settings import DAY_SECONDS, HOUR_SECONDS
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos import reputation_pb2 as rpb

SETUP_CHUNK = 100  # transactions per operator setup batch
BATCH_TRANSACTIONS = 100  # devnet's (and our) limit of transactions per batch

#: the two runs of an experiment with malicious participants: the one
#: reported, and the baseline with eligibility disabled (settlement.py)
REPUTATION_RUN, BASELINE_RUN = 0, 1
RUN_LABELS = {REPUTATION_RUN: "with reputation", BASELINE_RUN: "baseline (eligibility disabled)"}


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
    malicious_sellers: int = 0         # participants whose meters read 0 Wh exported (never deliver)
    malicious_buyers: int = 0          # participants who buy on credit and never pay
    settlement: bool = True            # readings, attestations, expire (needs a clock the run moves: replay.py)
    baseline: bool = True              # with malicious participants, run it again with eligibility disabled
    enrollment: bool = True            # join by the enrollment protocol (enrollment.py), else operator approval


def private_key_for(seed: int, name: str):
    """A deterministic key per (seed, name), so full stack and --fast agree."""
    return keys.private_key_from_hex(hashlib.sha256(f"sawgrid-simulate/{seed}/{name}".encode()).hexdigest())


def signer_for(seed: int, name: str) -> Signer:
    return keys.signer_for(private_key_for(seed, name))


def start_time(dataset: Dataset) -> int:
    """Chain seconds the replay starts at: the day before the first simulated day."""
    return (day_number(dataset.start) - 1) * DAY_SECONDS


class _Sender:
    """Turns payloads into batches: signed for a REST ledger, unsigned in process."""

    def __init__(self, rest, signed: bool) -> None:
        self.rest = rest
        self.signed = signed
        self._keys: dict[int, str] = {}   # id(signer) -> its public key (derived once: 2-3 % of a --fast run)

    def _key(self, signer: Signer) -> str:
        pk = self._keys.get(id(signer))
        if pk is None:
            pk = self._keys[id(signer)] = signer.get_public_key().as_hex()
        return pk

    def batch(self, signer: Signer, payloads: list[pb.MarketPayload]):
        if self.signed:
            return make_batch(signer, [market.market_transaction(signer, p) for p in payloads])
        pk = self._key(signer)
        txns = []
        for p in payloads:
            inputs, outputs = access(p, pk)
            txns.append(unsigned_transaction(MARKET.name, MARKET.versions[0],
                                             p.SerializeToString(deterministic=True), inputs, outputs, pk))
        return unsigned_batch(txns, pk)

    def reputation_batch(self, signer: Signer, payloads: list[rpb.ReputationPayload], read):
        """Reputation transactions declare what access() derives from committed state (`read`)."""
        if self.signed:
            return make_batch(signer, [reputation.reputation_transaction(signer, p, read) for p in payloads])
        pk = self._key(signer)
        return unsigned_batch([reputation.unsigned_reputation_transaction(pk, p, read) for p in payloads], pk)

    def run(self, batches: list) -> None:
        """Submit in order and wait for all (raises BatchInvalid with the reason)."""
        if batches:
            self.rest.submit_and_wait(batches, timeout=600)


@dataclass
class _Track:
    """What one (run, scenario) recorded as it went: who could not trade, or buy on
    credit, from when; and every participant's Q-score after each hour."""
    excluded: dict[str, tuple[int, int, str]]       # key -> (chain day, hour, the market's refusal)
    credit_ended: dict[str, tuple[int, int, str]]   # malicious buyer key -> (chain day, hour, why)
    scores: np.ndarray                              # (participants, days*24) ppm after each hour


class Simulation:
    def __init__(self, dataset: Dataset, config: SimConfig, rest, operator: Signer, *, signed: bool,
                 mode: str, progress: bool | Progress | None = None, clock: ReplayClock | None = None,
                 mirror: Callable[[list[int]], dict[int, list]] | None = None) -> None:
        """`progress`: False for none, None or True for stderr (a bar on a terminal,
        lines elsewhere), or a :class:`Progress` of one's own. `clock`: the
        chain clock the run moves (replay.py; the one the in-process ledger or
        devnet's --clock-file reads); settlement needs it. `mirror`: where the
        report's statistics are read at the end (chain days -> {day: contract
        rows}: the ledger mirror's, caught up with the chain; see
        statistics.py); None reads them from the chain."""
        self.data = dataset
        self.config = config
        self.rest = rest
        self.reader = MarketReader(rest)
        self.operator = operator
        self.operator_key = operator.get_public_key().as_hex()
        self.sender = _Sender(rest, signed)
        self.mode = mode
        self.progress = progress
        self.clock = clock
        if config.settlement and clock is None:
            raise ValueError("settlement needs the replay clock the ledger reads (replay.ReplayClock)")
        if config.enrollment and clock is None:
            raise ValueError("enrollment needs the replay clock the ledger reads (its slots are chain time)")
        self.signers = [signer_for(config.seed, p.name) for p in dataset.participants]
        self.keys = [s.get_public_key().as_hex() for s in self.signers]
        self.index = {pk: i for i, pk in enumerate(self.keys)}
        # the engine settles before it archives; the run refreshes the pool itself at the end of each day
        self.engine = Engine(rest, operator, EngineConfig(
            threshold=config.threshold, algorithm=config.algorithm, flexibility=config.flexibility,
            settle=config.settlement, refresh_pool=False))
        self.mirror = mirror
        self.base_day = day_number(dataset.start)
        self.roles = settlement.Roles()
        if config.malicious_sellers or config.malicious_buyers:
            consumption, production = dataset.consumption, dataset.production
            self.roles = settlement.choose_roles(surplus(consumption, production), shortfall(consumption, production),
                                                 config.malicious_sellers, config.malicious_buyers)
        self.runs = [REPUTATION_RUN] + ([BASELINE_RUN] if self.roles.any and config.baseline else [])
        # every identity of every (run, scenario): the honest keep theirs, the malicious get a fresh one
        self.populations: dict[tuple[int, int], list[Signer]] = {}
        self.signer_of: dict[str, Signer] = dict(zip(self.keys, self.signers))
        self.role_of: dict[str, str] = {}
        for run in self.runs:
            for scenario in (0, 1):
                signers = [self._identity(i, run, scenario) for i in range(dataset.n)]
                self.populations[(run, scenario)] = signers
                for i, signer in enumerate(signers):
                    pk = signer.get_public_key().as_hex()
                    self.signer_of[pk] = signer
                    self.index[pk] = i
                    if self.roles.role(i) != settlement.HONEST:
                        self.role_of[pk] = self.roles.role(i)
        # each identity's meter agent, per (run, scenario): its data start on the scenario's first chain day
        self.households: dict[tuple[int, int], list[Household]] = {}
        self.household_of: dict[str, Household] = {}
        for (run, scenario), signers in self.populations.items():
            first = self.chain_day(scenario, 0, run)
            homes = [Household(s.get_public_key().as_hex(),
                               ArraySource(dataset.participants[i].name, dataset.consumption[i],
                                           dataset.production[i], first), config.spread_limit_wh)
                     for i, s in enumerate(signers)]
            self.households[(run, scenario)] = homes
            self.household_of.update((h.public_key, h) for h in homes)
        self.tracks: dict[tuple[int, int], _Track] = {}
        self.settings = settlement.experiment_settings()
        self.scores: dict[str, rpb.Score] = {}
        self.wire_fee = 10_000
        self.enrollment: dict | None = None   # the report's enrollment section (enrollment.py)

    def _identity(self, i: int, run: int, scenario: int) -> Signer:
        if i not in self.roles.malicious() or (run, scenario) == (REPUTATION_RUN, 0):
            return self.signers[i]
        return signer_for(self.config.seed, f"{self.data.participants[i].name}#run{run}-scenario{scenario}")

    def chain_day(self, scenario: int, d: int, run: int = REPUTATION_RUN) -> int:
        """The ledger day of simulated day d; each run leaves one day free after the last."""
        return self.base_day + run * (2 * self.data.days() + 1) + scenario * self.data.days() + d

    def _keys(self, run: int, scenario: int) -> list[str]:
        return [s.get_public_key().as_hex() for s in self.populations[(run, scenario)]]

    def _volunteers(self, run: int, scenario: int) -> list[str]:
        """Who of this population volunteers as a validator: everyone, up to the
        pool's cap (MAX_VOLUNTEERS, processors/reputation/payload.py: every
        order reads the pool), then the first in participant order. The rest
        trade and are scored alike; they are only never drawn into a cluster."""
        return self._keys(run, scenario)[:MAX_VOLUNTEERS]

    def _all_identities(self) -> list[Signer]:
        """Honest keys in participant order, then the malicious ones' other identities."""
        seen, out = set(), []
        for run in self.runs:
            for scenario in (0, 1):
                for signer in self.populations[(run, scenario)]:
                    pk = signer.get_public_key().as_hex()
                    if pk not in seen:
                        seen.add(pk)
                        out.append(signer)
        return out

    def _name_of(self, signer: Signer) -> str:
        pk = signer.get_public_key().as_hex()
        name = self.data.participants[self.index[pk]].name
        return name if pk == self.keys[self.index[pk]] else f"{name} ({pk[:8]})"

    # -- setup ----------------------------------------------------------------------
    def setup(self) -> None:
        c, op = self.config, self.operator
        op_pk = self.operator_key
        if self.reader.config() is None:
            self.sender.run([self.sender.batch(op, [market.init(10_000)])])
        self.wire_fee = (self.reader.config() or pb.Config(wire_fee=10_000)).wire_fee
        identities = self._all_identities()
        if c.enrollment:
            self.enrollment = self._enroll(identities)
        self.sender.run([self.sender.batch(s, [market.register(self._name_of(s)[:64])])
                         for s in identities if self.reader.participant(s.get_public_key().as_hex()) is None])
        work = [market.fund(op_pk, c.operator_funds_ueur)]
        for s in identities:
            pk = s.get_public_key().as_hex()
            participant = self.reader.participant(pk)
            if participant.status != pb.APPROVED:
                work.append(market.approve(pk))
            work.append(market.fund(pk, c.participant_funds_ueur))
        for run in self.runs:
            for scenario in (0, 1):
                for d in range(self.data.days()):
                    work.append(market.set_grid_prices(self.chain_day(scenario, d, run),
                                                       [c.grid_buy_ueur_per_kwh] * HOURS_PER_DAY,
                                                       [c.grid_sell_ueur_per_kwh] * HOURS_PER_DAY))
        self.sender.run([self.sender.batch(op, work[i:i + SETUP_CHUNK]) for i in range(0, len(work), SETUP_CHUNK)])
        if c.settlement:
            self._enter(REPUTATION_RUN, 0)

    def _enroll(self, identities: list[Signer]) -> dict:
        """Every identity joins through the enrollment protocol: the first
        honest participants are the CA's first verifiers, the rest new meters
        they enroll (enrollment.py)."""
        honest = [self.signers[i] for i in range(self.data.n) if self.roles.role(i) == settlement.HONEST]
        first = honest[:enroll_.FIRST_VERIFIERS]
        firsts = {s.get_public_key().as_hex() for s in first}
        newcomers = []
        for signer in identities:
            pk = signer.get_public_key().as_hex()
            participant = self.reader.participant(pk)
            if pk in firsts or (participant is not None and participant.status == pb.APPROVED):
                continue  # a first verifier, or a member already
            name = self.data.participants[self.index[pk]].name
            label = name if pk == self.keys[self.index[pk]] else f"{name}-{pk[:8]}"
            newcomers.append((signer, enroll_.meter_serial(self.config.seed, label)))
        doc = enroll_.enroll_participants(self.rest, self.operator, first, newcomers, self.clock)
        doc["first_verifiers"] = [self._name_of(s) for s in first]
        return doc

    def _enter(self, run: int, scenario: int) -> None:
        """Before a scenario: the run's settings; this population in the pool, the
        previous one's other identities out; a fresh snapshot."""
        settings = settlement.experiment_settings() if run == REPUTATION_RUN else settlement.baseline_settings()
        view = reputation.StateView(self.rest)
        current = reputation.ReputationReader(view)
        batches = []
        if current.settings() != settings:
            batches.append(self.sender.reputation_batch(self.operator, [reputation.configure(settings)], view))
        pool = set(current.pool().volunteers)
        wanted = self._volunteers(run, scenario)
        for pk in sorted(pool - set(wanted)):
            if pk in self.signer_of:
                batches.append(self.sender.reputation_batch(self.signer_of[pk], [reputation.withdraw()], view))
        for pk in wanted:
            if pk not in pool:
                batches.append(self.sender.reputation_batch(self.signer_of[pk], [reputation.volunteer()], view))
        self.sender.run(batches)
        self.sender.run([self.sender.reputation_batch(self.operator, [reputation.refresh_pool()],
                                                      reputation.StateView(self.rest))])
        self.settings = settings
        self._read_scores(self._keys(run, scenario))

    # -- trading ----------------------------------------------------------------------
    def plans(self, scenario: int, d: int, run: int = REPUTATION_RUN) -> list:
        """Each participant's meter agent's plan for day d of the scenario (rules.DayPlan):
        "with" follows the recommendations from the first recommended day on."""
        day = self.chain_day(scenario, d, run)
        follow = scenario == 1 and d >= self.config.first_recommended_day_index
        return [home.plan(day, home.recommendation(self.reader, day) if follow else None, follow=follow)
                for home in self.households[(run, scenario)]]

    def run_scenario(self, scenario: int, bar: Progress | None = None, run: int = REPUTATION_RUN) -> None:
        """Trade (and settle) every hour of every day of `scenario` (0 without,
        1 with recommendations) in `run`."""
        c = self.config
        bar = bar if bar is not None else Progress(enabled=False)
        signers = self.populations[(run, scenario)]
        keys = self._keys(run, scenario)
        track = self.tracks.setdefault((run, scenario), _Track(
            {}, {}, np.zeros((len(keys), self.data.days() * HOURS_PER_DAY), dtype=np.int64)))
        if c.settlement and (run, scenario) != (REPUTATION_RUN, 0):
            self._enter(run, scenario)
        grid_buy = [c.grid_buy_ueur_per_kwh] * HOURS_PER_DAY     # the prices setup() put on chain
        grid_sell = [c.grid_sell_ueur_per_kwh] * HOURS_PER_DAY
        for d in range(self.data.days()):
            day = self.chain_day(scenario, d, run)
            plans = self.plans(scenario, d, run)
            homes = self.households[(run, scenario)]
            penalties = self.reader.penalties(day) if c.settlement else None
            for h in range(HOURS_PER_DAY):
                if self.clock is not None:
                    self.clock.set(day * DAY_SECONDS + h * HOUR_SECONDS)
                batches = [self.sender.batch(s, offers) for i, s in enumerate(signers)
                           if (offers := homes[i].offers(plans[i], (h,), grid_buy))
                           and self._may_trade(track, keys[i], day, h)]
                for i, s in enumerate(signers):
                    orders = homes[i].orders(plans[i], (h,), grid_sell)
                    if orders and self._may_trade(track, keys[i], day, h):
                        orders[0].place_order.on_credit = self._on_credit(
                            track, keys[i], day, h, orders[0].place_order.energy, penalties)
                        batches.append(self.sender.batch(s, orders))
                batches.append(self.sender.batch(self.operator, [market.close_hour(day, h)]))
                self.sender.run(batches)
                if c.settlement:
                    self._settle_hour(day, h)
                    track.scores[:, d * HOURS_PER_DAY + h] = [
                        eligibility.score_of(self.scores.get(pk), self.settings) for pk in keys]
                bar.hour(note=f"{self.data.date(d).isoformat()} {h:02d}:00")
            if c.settlement:
                bar.note(f"operator: expiring {self.data.date(d).isoformat()}'s leftovers, refreshing the pool")
                self._end_of_day(day, keys)
            if d + 1 < self.data.days() and d + 1 >= c.first_recommended_day_index:
                bar.note(f"PAR engine: issuing {self.data.date(d + 1).isoformat()}")
                self.engine.run(day)  # issues day + 1
            bar.day(d, self.data.date(d).isoformat())

    def _may_trade(self, track: _Track, key: str, day: int, hour: int) -> bool:
        """Whether the market would take an order of `key` for `day` now (the
        handler's own eligibility rule on the scores just read); the first
        refusal is recorded."""
        refused = eligibility.refusal(self.scores.get(key), self.settings, day)
        if refused is not None and key not in track.excluded:
            track.excluded[key] = (day, hour, refused)
        return refused is None

    def _on_credit(self, track: _Track, key: str, day: int, hour: int, energy: int,
                   penalties: pb.Penalties | None) -> bool:
        """A malicious buyer buys on credit whenever the chain lets it."""
        if self.role_of.get(key) != settlement.MALICIOUS_BUYER:
            return False
        score = eligibility.score_of(self.scores.get(key), self.settings)
        why = None
        if not eligibility.may_buy_on_credit(score, self.settings):
            why = (f"Q-score {reputation.format_score(score)} below the credit score "
                   f"{reputation.format_score(self.settings.credit_score)}")
        else:
            penalty = penalties.multipliers[hour] if penalties is not None else NO_PENALTY
            *_, total = trade_amounts(energy, self.config.grid_sell_ueur_per_kwh, penalty, self.wire_fee)
            wallet = self.reader.wallet(key) or pb.Wallet()
            if total > self.settings.credit_limit - min(self.settings.credit_limit, wallet.credit_used):
                why = f"credit line full ({market.format_eur(wallet.credit_used)} used)"
        if why is not None:
            track.credit_ended.setdefault(key, (day, hour, why))
            return False
        return True

    # -- settlement -----------------------------------------------------------------
    def _settle_hour(self, day: int, hour: int) -> None:
        """The hour is over: every meter reads, then every cluster member attests."""
        self.clock.set(rules.hour_end(day, hour))
        view = reputation.Hour(self.rest, day, hour)
        batches = []
        for pk in view.parties():
            payload = self.household_of[pk].reading(view)
            if self.role_of.get(pk) == settlement.MALICIOUS_SELLER:
                payload.reading.delivered_wh = 0  # never delivers
            batches.append(self.sender.reputation_batch(self.signer_of[pk], [payload], view.read))
        self.sender.run(batches)
        if not batches:
            return
        view = reputation.Hour(self.rest, day, hour)
        batches = []
        for member in view.members():
            payloads = self.household_of[member].attestations(view) if member in self.household_of else []
            if payloads and member in self.signer_of:
                batches.append(self.sender.reputation_batch(self.signer_of[member], payloads, view.read))
        self.sender.run(batches)
        self._read_scores(self.scores.keys() | {pk for c in view.contracts.values() for pk in
                                                (c.seller, c.buyer, *c.cluster)})

    def _end_of_day(self, day: int, keys: list[str]) -> None:
        """The previous day's deadline has passed: expire what it left; refresh the pool."""
        self.clock.set(rules.hour_end(day, HOURS_PER_DAY - 1) + 1)
        self._expire_due([day - 1])
        self.sender.run([self.sender.reputation_batch(self.operator, [reputation.refresh_pool()],
                                                      reputation.StateView(self.rest))])
        self._read_scores(keys)

    def _expire_due(self, days: list[int]) -> int:
        """Expire every contract of `days` that is due at the clock's time; how many."""
        now = self.clock.seconds
        view = reputation.StateView(self.rest)
        due = [cid for day in days for cid in reputation.due(view, day, now, self.settings)]
        if not due:
            return 0
        payloads = reputation.expire_payloads(due)
        self.sender.run([self.sender.reputation_batch(self.operator, payloads[i:i + BATCH_TRANSACTIONS], view)
                         for i in range(0, len(payloads), BATCH_TRANSACTIONS)])
        return len(due)

    def _finish_run(self, run: int) -> None:
        """After a run's last day: its last day's deadline passes; expire the rest."""
        last = self.chain_day(1, self.data.days() - 1, run)
        self.clock.set(rules.deadline(last, HOURS_PER_DAY - 1, self.settings) + 1)
        self._expire_due([last - 1, last])
        self._read_scores(self.scores.keys())

    def _read_scores(self, keys) -> None:
        self.scores.update(reputation.ReputationReader(self.rest).scores(list(keys)))

    # -- reading back ---------------------------------------------------------------------
    def days_of(self, scenario: int, run: int = REPUTATION_RUN) -> list[int]:
        """The chain days of a scenario, in order."""
        return [self.chain_day(scenario, d, run) for d in range(self.data.days())]

    def chain_contracts(self, days: list[int]) -> dict[int, Iterator[pb.Contract]]:
        """The contracts of each of `days` as the chain has them now, each day
        read only when iterated, an hour at a time (what reads them back, the
        statistics and the reputation section, keeps none of them)."""
        return {day: self.reader.day_contracts(day) for day in days}

    def statistics(self, scenario: int, run: int = REPUTATION_RUN,
                   source: Callable[[list[int]], Mapping[int, Iterable]] | None = None) -> stats_.Tally:
        """The scenario's per-participant energy and money, contract count and
        surcharges (statistics.tally) from `source` (chain days -> each day's
        contract rows; default: the chain, one hour in memory at a time)."""
        days = self.days_of(scenario, run)
        rows = (source or self.chain_contracts)(days)
        return stats_.tally([(stats_.facts_of(c) for c in rows.get(day, ())) for day in days], self.index,
                            len(self.keys))

    def collect(self, scenario: int, run: int = REPUTATION_RUN) -> ScenarioResult:
        days = self.data.days()
        t = self.statistics(scenario, run)
        penalties, ceiling = [], []
        for d in range(days):
            record = self.reader.penalties(self.chain_day(scenario, d, run))
            penalties.append(list(record.multipliers) if record else [NO_PENALTY] * HOURS_PER_DAY)
            ceiling.append(self._optimal_par(t.bought_wh[:, d * HOURS_PER_DAY:(d + 1) * HOURS_PER_DAY]))
        return ScenarioResult(
            name=WITH if scenario else WITHOUT, days=[self.data.date(d).isoformat() for d in range(days)],
            bought_wh=t.bought_wh, sold_wh=t.sold_wh, paid_ueur=t.paid_ueur, received_ueur=t.received_ueur,
            surcharge_ueur=t.surcharge_ueur, penalties=penalties, optimal_par=ceiling, contracts=t.contracts)

    def _use(self, result: ScenarioResult, t: stats_.Tally) -> None:
        result.bought_wh, result.sold_wh = t.bought_wh, t.sold_wh
        result.paid_ueur, result.received_ueur = t.paid_ueur, t.received_ueur
        result.surcharge_ueur, result.contracts = t.surcharge_ueur, t.contracts

    def _optimal_par(self, day_bought: np.ndarray) -> float | None:
        active = day_bought[day_bought.sum(axis=1) > 0]
        if len(active) == 0:
            return None
        result = recommend(make_problem(active, flexibility=self.config.flexibility), "optimal",
                           minimise_movement=False)
        return metrics.par(result.schedules.sum(axis=0))

    def _contracts_keeping(self, scenario: int, run: int, parties: set[str], kept: list) -> Iterator[pb.Contract]:
        """Every contract of the (run, scenario), a day at a time; those a key of
        `parties` is buyer or seller of are also appended to `kept`."""
        for day in self.days_of(scenario, run):
            for c in self.reader.day_contracts(day):
                if c.seller in parties or c.buyer in parties:
                    kept.append(c)
                yield c

    def collect_reputation(self) -> dict:
        """The report's reputation section, from the contracts on chain and what the run tracked."""
        runs = {}
        for run in self.runs:
            scenarios = {}
            for scenario in (0, 1):
                track = self.tracks.get((run, scenario))
                keys = self._keys(run, scenario)
                theirs: list[pb.Contract] = []   # the malicious participants' contracts, all that is kept
                outcomes = settlement.tally(
                    self._contracts_keeping(scenario, run, {keys[i] for i in self.roles.malicious()}, theirs),
                    self.operator_key, self.role_of)
                participants = []
                for i in self.roles.malicious():
                    pk = keys[i]
                    excluded = track.excluded.get(pk) if track else None
                    ended = track.credit_ended.get(pk) if track else None
                    mine = [c for c in theirs if pk in (c.seller, c.buyer)]
                    participants.append({
                        "index": i, "name": self.data.participants[i].name, "public_key": pk,
                        "role": self.roles.role(i),
                        "trades": len(mine),
                        "faults": sum(1 for c in mine if c.stage == pb.DECLINED and (
                            (c.cause == pb.SELLER_SHORTFALL and c.seller == pk) or
                            (c.cause in (pb.BUYER_DEFAULT, pb.RELEASE_MISMATCH) and c.buyer == pk))),
                        "excluded": _when(self, excluded, run, scenario),
                        "trades_before_excluded": settlement.trades_before(
                            mine, pk, excluded[:2] if excluded else None) if excluded else None,
                        "credit_ended": _when(self, ended, run, scenario),
                        "trades_before_credit_ended": settlement.trades_before(
                            mine, pk, ended[:2] if ended else None) if ended else None,
                        "final_score_ppm": int(track.scores[i, -1]) if track is not None else None,
                    })
                scenarios[WITH if scenario else WITHOUT] = {
                    **outcomes,
                    "malicious": participants,
                }
            runs[RUN_LABELS[run]] = {
                "settings": reputation.settings_json(settlement.experiment_settings() if run == REPUTATION_RUN
                                                     else settlement.baseline_settings()),
                "scenarios": scenarios,
            }
        return {
            "malicious_sellers": [self.data.participants[i].name for i in self.roles.sellers],
            "malicious_buyers": [self.data.participants[i].name for i in self.roles.buyers],
            "runs": runs,
            "roles": [self.roles.role(i) for i in range(self.data.n)],
        }

    def collect_archive(self) -> dict:
        """The report's archive section: each simulated day of each run and
        scenario, its archive record (digest, contracts digest, contracts) and
        whether `archive.verify_day` recomputes it from the chain."""
        reader = archive.ArchiveReader(self.rest)
        days = []
        for run in self.runs:
            for scenario in (0, 1):
                for d, day in enumerate(self.days_of(scenario, run)):
                    entry = {"run": RUN_LABELS[run], "scenario": WITH if scenario else WITHOUT, "day": d + 1,
                             "chain_day": day_date(day).isoformat(), "archived": False, "contracts": None,
                             "digest": None, "contracts_digest": None, "verified": False, "reason": ""}
                    record = reader.day(day)
                    if record is None:
                        status = archive.day_status(self.rest, day)
                        entry["reason"] = "not archived" + (f": {status.reason}" if status.reason else "")
                    else:
                        check = archive.verify_day(self.rest, day)
                        entry.update(archived=True, contracts=record.contracts, digest=record.digest,
                                     contracts_digest=record.contracts_digest, verified=check.ok,
                                     reason=check.reason)
                    days.append(entry)
        head = reader.head()
        return {"days": days, "archived": sum(e["archived"] for e in days),
                "verified": sum(e["verified"] for e in days),
                "head": {"day": day_date(head.day).isoformat(), "digest": head.digest, "days": head.days}
                if head is not None else None}

    def run(self) -> SimulationResult:
        """Set up the market, run both scenarios (and the baseline run, with
        malicious participants) and read back what the chain recorded."""
        quiet_third_party_logs()
        started = time.perf_counter()
        bar = self.progress if isinstance(self.progress, Progress) else Progress(enabled=self.progress)
        days = self.data.days()
        bar.phase(f"setup: {len(self.keys)} participants, 2 scenarios x {days} days ({self.mode})"
                  + (f"; {len(self.roles.sellers)} malicious seller(s), {len(self.roles.buyers)} malicious "
                     f"buyer(s), then a baseline run with eligibility disabled" if len(self.runs) > 1 else ""))
        self.setup()
        if self.enrollment:
            e = self.enrollment
            bar.phase(f"enrollment: {e['enrolled']} meter(s) enrolled by {len(e['first_verifiers'])} first "
                      f"verifier(s) in {e['verification_blocks']} verification block(s), {e['slots']} slot(s) "
                      f"of {e['slot_seconds']} s, {e['ledger_blocks']} ledger block(s)")
        results = []
        for run in self.runs:
            for scenario, name in ((0, WITHOUT), (1, WITH)):
                bar.begin(name if run == REPUTATION_RUN else f"{RUN_LABELS[run]}: {name}", days, HOURS_PER_DAY)
                self.run_scenario(scenario, bar, run)
                bar.end()
                if run == REPUTATION_RUN:
                    bar.phase(f"{name}: reading the contracts back")
                    results.append(self.collect(scenario))
            if self.config.settlement:
                bar.phase(f"{RUN_LABELS[run]}: expiring what the last day left, archiving the last day")
                self._finish_run(run)
                self.engine.archive(self.chain_day(1, days - 1, run))
        # the statistics as finally released (a day's leftovers are expired the day after), from the
        # mirror when there is one (it is caught up with the chain first), else from the chain
        bar.phase("statistics: reading them from the ledger mirror" if self.mirror is not None else
                  "statistics: reading the contracts back")
        for scenario, result in enumerate(results):
            self._use(result, self.statistics(scenario, source=self.mirror))
        reputation_doc = None
        if self.config.settlement:
            bar.phase("reputation: reading the settlement back")
            reputation_doc = self.collect_reputation()
        bar.phase("archive: verifying every day's record")
        archive_doc = self.collect_archive()
        bar.phase(f"simulation done in {time.perf_counter() - started:.1f} s")
        without, with_ = results
        honest = [i for i in range(self.data.n) if self.roles.role(i) == settlement.HONEST]
        check_same_daily_energy(without.bought_wh[honest], with_.bought_wh[honest],
                                without.sold_wh[honest], with_.sold_wh[honest])
        return SimulationResult(
            config={**asdict(self.config), "participants": len(self.keys), "days": self.data.days(),
                    "mode": self.mode, "validator_pool": len(self._volunteers(REPUTATION_RUN, 0)),
                    "statistics_from": "the ledger mirror (sawgrid sync)" if self.mirror is not None else "the chain"},
            dataset=self.data.source, participants=[p.name for p in self.data.participants],
            without=without, with_=with_, seconds=round(time.perf_counter() - started, 1),
            reputation=reputation_doc, archive=archive_doc, enrollment=self.enrollment,
            trajectories={f"{run}-{scenario}": track.scores for (run, scenario), track in self.tracks.items()}
            if self.config.settlement else {})


def _when(sim: Simulation, found: tuple[int, int, str] | None, run: int, scenario: int) -> dict | None:
    """A (chain day, hour, why) as the simulated day it was and its reason."""
    if found is None:
        return None
    day, hour, why = found
    d = day - sim.chain_day(scenario, 0, run)
    return {"day": d + 1, "date": sim.data.date(d).isoformat(), "hour": hour, "reason": why}
