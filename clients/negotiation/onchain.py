"""The negotiation on chain: agents, line manager and market operator against a LedgerClient.

Each party of algorithm.py's loop runs its own step and talks only through the chain
(sawgrid-negotiation, processors/negotiation/README.md):

* an **agent** reads the session, makes its private quantity step (`quantity_update`, eq. 15)
  and its price terms (`price_term`, eq. 17), encrypts each term under the pair owner's Paillier
  key and submits quantities and ciphertexts; a pair's **owner** (the producer) then decrypts the
  aggregate the chain computed and reveals the sum with its zero-knowledge proof;
* the **line manager** computes flows and line prices from the quantities on chain
  (`line_prices`, eqs. 6, 18) and posts them for the limited lines;
* the **market operator** closes the iteration with eq. 19's verdict, which the processor
  recomputes; on convergence the trades are market contracts.

Every value crosses the chain in fixed point (`units.to_fixed`), so each party starts each step
from exactly what the chain holds: the run is algorithm.run_plain with its values rounded to
10^-6, and the same on devnet and in process (`--fast`). Timings of encryption, decryption and
proving (the paper's section 5.5) and of the chain round trips are collected per iteration.

The agents' private data (a, b, bounds, Paillier private keys) live in this process, one object
per agent; in a deployment each would be its own process with its own keys. This driver is the
experiment's harness, not a trust boundary.
"""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sawtooth_signing import Signer

from sawgrid.clients.sdk import keys, market
from sawgrid.clients.sdk import negotiation as neg
from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.sdk.ledger import LedgerClient
from sawgrid.processors.market import addresses as market_addresses
from sawgrid.processors.market import units as mu
from sawgrid.processors.negotiation import units as u
from sawgrid.processors.negotiation.handler import is_converged, proof_context, residuals
from sawgrid.protos import negotiation_pb2 as pb
from sawgrid.protos.envelopes import make_batch

from .agents import Agent
from .algorithm import Residuals, Result, State, line_prices, pair_key, price_term, quantity_update, result_of
from .cases import Case
from .grid import load_grid
from .params import Params

DEFAULT_KEY_BITS = 2048
AGENT_FUNDS_UEUR = 10**12            # each agent's wallet, for the contracts' escrow (1,000,000 EUR)
CONNECTION_RATING_KW = 100.0         # every agent's public capacity: one rating for all reveals nothing


@dataclass
class Timings:
    """Seconds spent, in all and per iteration, by kind of work."""

    encrypt: float = 0.0
    decrypt: float = 0.0
    prove: float = 0.0
    chain: float = 0.0               # submitting and waiting for commit (the processor's work included)
    keygen: float = 0.0
    encryptions: int = 0
    decryptions: int = 0
    proofs: int = 0
    transactions: int = 0
    per_iteration: list[float] = field(default_factory=list)  # wall seconds of each iteration
    total: float = 0.0

    def as_dict(self) -> dict:
        per = self.per_iteration
        return {
            "encrypt_s": self.encrypt, "decrypt_s": self.decrypt, "prove_s": self.prove, "chain_s": self.chain,
            "keygen_s": self.keygen, "encryptions": self.encryptions, "decryptions": self.decryptions,
            "proofs": self.proofs, "transactions": self.transactions, "total_s": self.total,
            "iterations": len(per), "per_iteration_s": (sum(per) / len(per)) if per else 0.0,
            "encrypt_ms_each": 1000 * self.encrypt / self.encryptions if self.encryptions else 0.0,
            "decrypt_ms_each": 1000 * self.decrypt / self.decryptions if self.decryptions else 0.0,
            "prove_ms_each": 1000 * self.prove / self.proofs if self.proofs else 0.0,
        }


@dataclass
class OnchainRun:
    """What an on-chain negotiation gives: the algorithm's Result (read back from the chain),
    the session, its contract ids and the timings."""

    result: Result
    session: pb.Session
    contracts: list[str]
    timings: Timings
    key_bits: int


@dataclass
class _Party:
    agent: Agent
    signer: Signer
    index: int
    keys: neg.Keypair | None = None

    @property
    def public_key(self) -> str:
        return self.signer.get_public_key().as_hex()


def delivery_hour(now: float | None = None) -> tuple[int, int]:
    """(day, hour) of the next whole hour after `now` (seconds since the epoch, UTC)."""
    moment = dt.datetime.fromtimestamp(now if now is not None else time.time(), dt.timezone.utc)
    moment = moment.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    return mu.day_number(moment.date()), moment.hour


class Negotiation:
    """One session of `case` on `ledger`, its parties' keys generated here."""

    def __init__(self, case: Case, ledger: LedgerClient, operator: Signer, *, key_bits: int = DEFAULT_KEY_BITS,
                 session_id: str | None = None, params: Params | None = None, day_hour: tuple[int, int] | None = None,
                 progress: Callable[[int, Residuals, Timings], None] | None = None) -> None:
        self.case = case
        self.params = params or case.params
        self.ledger = ledger
        self.operator = operator
        self.key_bits = key_bits
        self.session_id = session_id or f"{case.name.lower()}-{int(time.time() * 1000)}"[:u.MAX_SESSION_LENGTH]
        self.day, self.hour = day_hour or delivery_hour()
        self.progress = progress
        self.timings = Timings()
        self.line_manager = keys.signer_for(keys.new_private_key())
        self.parties = [_Party(agent, keys.signer_for(keys.new_private_key()), i) for i, agent in enumerate(case.agents)]
        self.by_name = {p.agent.name: p for p in self.parties}
        self.pairs = [pair_key(p.agent, c.agent) for p in self.parties if p.agent.is_producer
                      for c in self.parties if not c.agent.is_producer]
        self.lines = sorted(case.line_limits)
        self.grid = load_grid(case.grid)
        self.last_lines = None
        self.scale = u.DEFAULT_SCALE

    # -- chain round trips -------------------------------------------------------------------
    def _submit(self, batches: list) -> None:
        started = time.perf_counter()
        self.ledger.submit_and_wait(batches, timeout=120)
        self.timings.chain += time.perf_counter() - started
        self.timings.transactions += len(batches)

    def session(self) -> pb.Session:
        found = neg.read_session(self.ledger, self.session_id)
        if found is None:
            raise SawgridError(f"negotiation session {self.session_id!r} is not on the chain")
        return found

    # -- setup -------------------------------------------------------------------------------
    def setup(self) -> None:
        """Market participants (registered, approved, funded), the session, the owners' keys."""
        if self.ledger.state(market_addresses.config_address()) is None:  # in process: no genesis
            market.submit(self.ledger, self.operator, market.init(0))
        self._submit([make_batch(p.signer, [market.market_transaction(p.signer, market.register(p.agent.name))])
                      for p in self.parties])
        work = [x for p in self.parties
                for x in (market.approve(p.public_key), market.fund(p.public_key, AGENT_FUNDS_UEUR))]
        market.submit(self.ledger, self.operator, work)
        fp = self.fixed
        specs = [pb.AgentSpec(public_key=p.public_key,
                              kind=pb.PRODUCER if p.agent.is_producer else pb.CONSUMER,
                              capacity=fp(CONNECTION_RATING_KW)) for p in self.parties]
        pairs = [pb.PairSpec(owner=self.by_name[s].index, peer=self.by_name[c].index,
                             price=fp(self.params.initial_price)) for s, c in self.pairs]
        payload = neg.open_session(
            self.session_id, self.line_manager.get_public_key().as_hex(), self.day, self.hour, specs, pairs,
            [fp(self.case.line_limits[line]) for line in self.lines], self.params.max_iterations,
            fp(self.params.eps_power), fp(self.params.eps_price), self.scale)
        self._submit([neg.batch(self.operator, payload)])
        started = time.perf_counter()
        owners = [p for p in self.parties if p.agent.is_producer]
        for p in owners:
            p.keys = neg.generate_keypair(self.key_bits)
        self.timings.keygen += time.perf_counter() - started
        self._submit([neg.batch(p.signer, neg.publish_key(self.session_id, p.keys.n)) for p in owners])

    def fixed(self, value: float) -> int:
        return u.to_fixed(value, self.scale)

    def real(self, value: int) -> float:
        return u.from_fixed(value, self.scale)

    # -- what every party reads from the chain ----------------------------------------------
    def state_of(self, session: pb.Session) -> State:
        """The algorithm's State as the chain holds it: each pair's latest quantities (the
        trades) and the ones before (previous_trades), its price, and each pair's line charge
        from the posted line prices and the grid's (public) PTDF. Before an iteration's terms
        that is the state its quantity step starts from; after them, the moved state its price
        terms and line prices are computed from, as in algorithm.step."""
        names = [a.public_key for a in session.agents]
        name_of = {pk: self.parties[i].agent.name for i, pk in enumerate(names)}
        trades: dict[str, dict[str, float]] = {p.agent.name: {} for p in self.parties}
        previous: dict[str, dict[str, float]] = {p.agent.name: {} for p in self.parties}
        prices, charges = {}, {}
        for pair in session.pairs:
            s, c = name_of[names[pair.owner]], name_of[names[pair.peer]]
            trades[s][c], trades[c][s] = self.real(pair.owner_quantity), self.real(pair.peer_quantity)
            previous[s][c], previous[c][s] = self.real(pair.owner_previous), self.real(pair.peer_previous)
            prices[(s, c)] = self.real(pair.price)
        upper = {line: self.real(v) for line, v in zip(self.lines, session.line_upper)}
        lower = {line: self.real(v) for line, v in zip(self.lines, session.line_lower)}
        for s, c in prices:
            factors = self.grid.transfer_factors(self.by_name[s].agent.bus, self.by_name[c].agent.bus)
            charges[(s, c)] = sum((upper[line] - lower[line]) * float(factors[self.grid.lines.index(line)])
                                  for line in self.lines)
        flows = dict(self.last_lines.flows) if self.last_lines is not None else {}
        violation = max((max(0.0, abs(self.real(f)) - self.case.line_limits[line])
                         for line, f in zip(self.lines, session.line_flows)), default=0.0)
        return State(iteration=session.iteration, trades=trades, previous_trades=previous, prices=prices,
                     previous_prices=dict(prices), charges=charges, line_upper=upper, line_lower=lower,
                     line_flows=flows, line_violation=violation)

    # -- one iteration ------------------------------------------------------------------------
    def iterate(self, k: int) -> tuple[pb.Session, bool]:
        session = self.session()
        start = self.state_of(session)
        # 1. agents: quantities (eq. 15), terms (eq. 17), encrypted under the pair owner's key
        proposals = {p.agent.name: {m: self.real(self.fixed(q)) for m, q in
                                    quantity_update(p.agent, start, self.params).items()} for p in self.parties}
        moved = replace(start, trades=proposals, previous_trades=start.trades)
        owner_key = {j: neg.public_key(u.int_from_bytes(session.agents[pair.owner].n))
                     for j, pair in enumerate(session.pairs)}
        batches = []
        for p in self.parties:
            mine = [j for j, pair in enumerate(session.pairs) if p.index in (pair.owner, pair.peer)]
            quantities, terms = [], []
            for j in mine:
                pair = session.pairs[j]
                other = self.parties[pair.peer if pair.owner == p.index else pair.owner].agent.name
                quantities.append(self.fixed(proposals[p.agent.name][other]))
                term = self.fixed(price_term(p.agent, other, moved, self.params))
                started = time.perf_counter()
                terms.append((j, neg.encrypt(owner_key[j], term)))
                self.timings.encrypt += time.perf_counter() - started
                self.timings.encryptions += 1
            batches.append(neg.batch(p.signer, neg.submit_terms(self.session_id, k, quantities, terms)))
        self._submit(batches)
        # 2. owners: decrypt each aggregate, prove, reveal
        session = self.session()
        batches = []
        for p in self.parties:
            owned = [j for j, pair in enumerate(session.pairs) if pair.owner == p.index]
            if not owned:
                continue
            sums = []
            for j in owned:
                aggregate = u.int_from_bytes(session.pairs[j].aggregate)
                started = time.perf_counter()
                value = neg.decrypt(p.keys, aggregate)
                self.timings.decrypt += time.perf_counter() - started
                started = time.perf_counter()
                proof = neg.prove(p.keys, aggregate, value, proof_context(self.session_id, k, j))
                self.timings.prove += time.perf_counter() - started
                self.timings.decryptions += 1
                self.timings.proofs += 1
                sums.append((j, value, proof))
            batches.append(neg.batch(p.signer, neg.reveal(self.session_id, k, sums)))
        self._submit(batches)
        # 3. the line manager: flows and line prices from the quantities on chain
        session = self.session()
        update = line_prices(self.state_of(session), self.case, self.params)
        self.last_lines = update  # every line's flow, for the report
        if self.lines:
            self._submit([neg.batch(self.line_manager, neg.set_line_prices(
                self.session_id, k, [self.fixed(update.flows[line]) for line in self.lines],
                [self.fixed(update.upper[line]) for line in self.lines],
                [self.fixed(update.lower[line]) for line in self.lines]))])
            session = self.session()
        # 4. the market operator: eq. 19
        verdict = is_converged(session)
        self._submit([neg.batch(self.operator, neg.close_iteration(self.session_id, k, verdict), session)])
        return self.session(), verdict

    def run(self) -> OnchainRun:
        """Set up, iterate until convergence (or max_iterations), read the result back."""
        began = time.perf_counter()
        self.setup()
        price_history: list[float] = []
        power_history: list[float] = []
        converged, k = False, 0
        while not converged and k < self.params.max_iterations:
            k += 1
            started = time.perf_counter()
            session, converged = self.iterate(k)
            self.timings.per_iteration.append(time.perf_counter() - started)
            found = session.residuals
            r = Residuals(power_mismatch=self.real(found.power_mismatch), price_change=self.real(found.price_change),
                          trade_change=self.real(found.trade_change), line_violation=self.real(found.line_violation))
            price_history.append(r.price_change)
            power_history.append(r.power_mismatch)
            if self.progress is not None:
                self.progress(k, r, self.timings)
        self.timings.total = time.perf_counter() - began
        session = self.session()
        final = replace(self.state_of(session), iteration=k)
        result = result_of(final, self.case, converged, price_history, power_history)
        return OnchainRun(result=result, session=session, contracts=list(session.contracts), timings=self.timings,
                          key_bits=self.key_bits)


def run_onchain(case: Case, ledger: LedgerClient, operator: Signer, **options) -> OnchainRun:
    """The whole negotiation of `case` on `ledger` (see `Negotiation` for the options)."""
    return Negotiation(case, ledger, operator, **options).run()
