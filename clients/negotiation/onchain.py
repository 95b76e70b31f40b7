"""The negotiation on chain: agents, line manager and market operator against a LedgerClient.

Each party of algorithm.py's loop runs its own step and talks only through the chain
(sawgrid-negotiation, processors/negotiation/README.md):

* an **agent** reads the public prices and line prices, makes its private quantity step
  (`quantity_update`, eq. 15) from its own trades and its price terms (`price_term`, eq. 17),
  and submits its quantities encrypted under the line manager's Paillier key and each term under
  the pair owner's; a pair's **owner** (the producer) then decrypts the aggregate the chain
  computed and reveals the sum with its zero-knowledge proof;
* the **line manager** (who sees the trades, METHOD.md) decrypts the quantities, computes flows
  and line prices (`line_prices`, eqs. 6, 18) and eq. 19's mismatch and trade change, and posts
  them; once eq. 19 holds it reveals every quantity with a proof, for the contracts;
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
import re
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
from sawgrid.processors.negotiation.handler import is_converged, proof_context, quantity_context, within
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
STATE_CATCH_UP_S = 10.0              # how long a state read may lag behind a commit


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
        name = re.sub(r"[^a-z0-9_-]+", "-", case.name.lower())[:40] or "case"
        self.session_id = session_id or f"{name}-{int(time.time() * 1000)}"
        self.day, self.hour = day_hour or delivery_hour()
        self.progress = progress
        self.timings = Timings()
        self.line_manager = keys.signer_for(keys.new_private_key())
        self.parties = [_Party(agent, keys.signer_for(keys.new_private_key()), i)
                        for i, agent in enumerate(case.agents)]
        self.by_name = {p.agent.name: p for p in self.parties}
        self.pairs = [pair_key(p.agent, c.agent) for p in self.parties if p.agent.is_producer
                      for c in self.parties if not c.agent.is_producer]
        self.lines = sorted(case.line_limits)
        self.grid = load_grid(case.grid)
        self.last_lines = None
        self.scale = u.DEFAULT_SCALE
        # each agent's own trades (its private memory) and the line manager's view of everyone's
        self.own = {p.agent.name: {m: 0.0 for m in self._peers(p)} for p in self.parties}
        self.own_before = {name: dict(trades) for name, trades in self.own.items()}
        self.manager_before: dict[str, dict[str, float]] = {}
        self.manager_fixed = [(0, 0)] * len(self.pairs)
        self.line_keys: neg.Keypair | None = None

    def _peers(self, party: _Party) -> list[str]:
        return [c if s == party.agent.name else s for s, c in self.pairs if party.agent.name in (s, c)]

    # -- chain round trips -------------------------------------------------------------------
    def _submit(self, batches: list) -> None:
        started = time.perf_counter()
        self.ledger.submit_and_wait(batches, timeout=120)
        self.timings.chain += time.perf_counter() - started
        self.timings.transactions += len(batches)

    def session(self, phase: int | None = None, iteration: int | None = None) -> pb.Session:
        """The session as the chain holds it; with `phase` (and `iteration`), once it is there:
        a node may answer a state read from a head just behind the block that committed the
        batches waited for, so a read that still shows the step before is repeated."""
        deadline = time.monotonic() + STATE_CATCH_UP_S
        while True:
            found = neg.read_session(self.ledger, self.session_id)
            if found is None:
                raise SawgridError(f"negotiation session {self.session_id!r} is not on the chain")
            if phase is None or (found.phase == phase and (iteration is None or found.iteration == iteration)):
                return found
            if found.phase in (pb.CONVERGED, pb.FAILED) or time.monotonic() > deadline:
                raise SawgridError(f"negotiation session {self.session_id!r} is in phase "
                                   f"{pb.Phase.Name(found.phase)} of iteration {found.iteration}, expected "
                                   f"{pb.Phase.Name(phase)} of iteration {iteration}")
            time.sleep(0.05)

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
        self.line_keys = neg.generate_keypair(self.key_bits)
        self.timings.keygen += time.perf_counter() - started
        self._submit([neg.batch(p.signer, neg.publish_key(self.session_id, p.keys.n)) for p in owners]
                     + [neg.batch(self.line_manager, neg.publish_key(self.session_id, self.line_keys.n))])

    def fixed(self, value: float) -> int:
        return u.to_fixed(value, self.scale)

    def real(self, value: int) -> float:
        return u.from_fixed(value, self.scale)

    # -- what every party reads from the chain ----------------------------------------------
    def public_view(self, session: pb.Session) -> dict:
        """What the chain shows everyone: each pair's price, the posted line prices and, from
        them and the grid's public PTDF, each pair's line charge."""
        name_of = [p.agent.name for p in self.parties]
        prices = {(name_of[pair.owner], name_of[pair.peer]): self.real(pair.price) for pair in session.pairs}
        upper = {line: self.real(v) for line, v in zip(self.lines, session.line_upper)}
        lower = {line: self.real(v) for line, v in zip(self.lines, session.line_lower)}
        charges = {}
        for s, c in prices:
            factors = self.grid.transfer_factors(self.by_name[s].agent.bus, self.by_name[c].agent.bus)
            charges[(s, c)] = sum((upper[line] - lower[line]) * float(factors[self.grid.lines.index(line)])
                                  for line in self.lines)
        return {"prices": prices, "previous_prices": dict(prices), "charges": charges, "line_upper": upper,
                "line_lower": lower}

    def _state(self, session: pb.Session, trades, previous) -> State:
        return State(iteration=session.iteration, trades=trades, previous_trades=previous,
                     **self.public_view(session))

    # -- one iteration ------------------------------------------------------------------------
    def iterate(self, k: int) -> tuple[pb.Session, bool]:
        session = self.session(pb.TERMS, k)
        manager_key = neg.public_key(u.int_from_bytes(session.line_manager_n))
        owner_key = {j: neg.public_key(u.int_from_bytes(session.agents[pair.owner].n))
                     for j, pair in enumerate(session.pairs)}
        # 1. agents, each from its own trades and the public prices: quantities (eq. 15) and
        #    terms (eq. 17); quantities under the line manager's key, terms under the pair owner's
        batches = []
        for p in self.parties:
            name = p.agent.name
            start = self._state(session, {name: self.own[name]}, {name: self.own_before[name]})
            proposal = {m: self.real(self.fixed(q)) for m, q in quantity_update(p.agent, start, self.params).items()}
            moved = replace(start, trades={name: proposal}, previous_trades={name: self.own[name]})
            quantities, terms = [], []
            for j, pair in enumerate(session.pairs):
                if p.index not in (pair.owner, pair.peer):
                    continue
                other = self.parties[pair.peer if pair.owner == p.index else pair.owner].agent.name
                term = self.fixed(price_term(p.agent, other, moved, self.params))
                started = time.perf_counter()
                quantities.append(neg.encrypt(manager_key, self.fixed(proposal[other])))
                terms.append((j, neg.encrypt(owner_key[j], term)))
                self.timings.encrypt += time.perf_counter() - started
                self.timings.encryptions += 2
            self.own_before[name], self.own[name] = self.own[name], proposal
            batches.append(neg.batch(p.signer, neg.submit_terms(self.session_id, k, quantities, terms)))
        self._submit(batches)
        # 2. owners: decrypt each aggregate, prove, reveal
        session = self.session(pb.REVEAL, k)
        batches = []
        for p in self.parties:
            owned = [j for j, pair in enumerate(session.pairs) if pair.owner == p.index]
            if not owned:
                continue
            sums = []
            for j in owned:
                aggregate = u.int_from_bytes(session.pairs[j].aggregate)
                sums.append((j, *self._open(p.keys, aggregate, proof_context(self.session_id, k, j))))
            batches.append(neg.batch(p.signer, neg.reveal(self.session_id, k, sums)))
        self._submit(batches)
        # 3. the line manager: decrypts the quantities, computes flows, line prices (eqs. 6, 18) and
        #    eq. 19's mismatch and trade change; at convergence it reveals every quantity with a proof
        session = self.session(pb.LINES, k)
        self._submit([neg.batch(self.line_manager, self._line_step(session, k))])
        # 4. the market operator: eq. 19, as the processor will recompute it
        session = self.session(pb.CHECK, k)
        verdict = is_converged(session)
        self._submit([neg.batch(self.operator, neg.close_iteration(self.session_id, k, verdict), session)])
        after = (pb.CONVERGED if verdict else pb.FAILED) if verdict or k >= session.max_iterations else pb.TERMS
        return self.session(after, k if after != pb.TERMS else k + 1), verdict

    def _open(self, keypair: neg.Keypair, ciphertext: int, context: bytes) -> tuple[int, pb.Proof]:
        """Decrypt and prove (timed)."""
        started = time.perf_counter()
        value = neg.decrypt(keypair, ciphertext)
        self.timings.decrypt += time.perf_counter() - started
        started = time.perf_counter()
        proof = neg.prove(keypair, ciphertext, value, context)
        self.timings.prove += time.perf_counter() - started
        self.timings.decryptions += 1
        self.timings.proofs += 1
        return value, proof

    def _line_step(self, session: pb.Session, k: int) -> pb.NegotiationPayload:
        names = [p.agent.name for p in self.parties]
        now: dict[str, dict[str, float]] = {n: {} for n in names}
        fixed_now: list[tuple[int, int]] = []
        for pair in session.pairs:
            values = []
            for cipher in (pair.owner_quantity_c, pair.peer_quantity_c):
                started = time.perf_counter()
                values.append(neg.decrypt(self.line_keys, u.int_from_bytes(cipher)))
                self.timings.decrypt += time.perf_counter() - started
                self.timings.decryptions += 1
            s, c = names[pair.owner], names[pair.peer]
            now[s][c], now[c][s] = self.real(values[0]), self.real(values[1])
            fixed_now.append((values[0], values[1]))
        before = self.manager_before
        update = line_prices(self._state(session, now, {n: dict(before.get(n, {m: 0.0 for m in now[n]}))
                                                        for n in names}), self.case, self.params)
        self.last_lines = update  # every line's flow, for the report
        mismatch = max(abs(a + b) for a, b in fixed_now)
        change = max(max(abs(a - pa), abs(b - pb_)) for (a, b), (pa, pb_) in zip(fixed_now, self.manager_fixed))
        flows = [self.fixed(update.flows[line]) for line in self.lines]
        found = pb.Residuals(power_mismatch=mismatch, trade_change=change,
                             price_change=max((abs(p.change) for p in session.pairs), default=0),
                             line_violation=max((max(0, abs(f) - self.fixed(self.case.line_limits[line]))
                                                 for line, f in zip(self.lines, flows)), default=0))
        finals = []
        if within(session, found):  # eq. 19 holds: reveal the quantities the contracts are made of
            for j, pair in enumerate(session.pairs):
                for side, cipher in enumerate((pair.owner_quantity_c, pair.peer_quantity_c)):
                    index = 2 * j + side
                    finals.append((index, *self._open(self.line_keys, u.int_from_bytes(cipher),
                                                      quantity_context(self.session_id, k, index))))
        self.manager_before, self.manager_fixed = now, fixed_now
        return neg.set_line_prices(self.session_id, k, flows, [self.fixed(update.upper[line]) for line in self.lines],
                                   [self.fixed(update.lower[line]) for line in self.lines], mismatch, change, finals)

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
        names = [p.agent.name for p in self.parties]
        trades: dict[str, dict[str, float]] = {n: {} for n in names}
        for pair in session.pairs:  # the revealed final quantities (zero if it never converged)
            s, c = names[pair.owner], names[pair.peer]
            trades[s][c], trades[c][s] = self.real(pair.owner_quantity), self.real(pair.peer_quantity)
        final = replace(self._state(session, trades, trades), iteration=k,
                        line_flows=dict(self.last_lines.flows) if self.last_lines else {},
                        line_violation=self.real(session.residuals.line_violation))
        result = result_of(final, self.case, converged, price_history, power_history)
        return OnchainRun(result=result, session=session, contracts=list(session.contracts), timings=self.timings,
                          key_bits=self.key_bits)


def run_onchain(case: Case, ledger: LedgerClient, operator: Signer, **options) -> OnchainRun:
    """The whole negotiation of `case` on `ledger` (see `Negotiation` for the options)."""
    return Negotiation(case, ledger, operator, **options).run()


def measure_crypto(key_bits: int, samples: int = 10) -> dict[str, tuple[int, float]]:
    """{operation: (count, seconds)} for `samples` encryptions, decryptions, proofs and the
    processor's proof checks with a fresh `key_bits` key: the paper's section 5.5 comparison
    at key sizes the run itself did not use."""
    from sawgrid.processors.negotiation import zkp

    keypair = neg.generate_keypair(key_bits)
    n = keypair.n
    found = {op: [0, 0.0] for op in ("encrypt", "decrypt", "prove", "verify")}
    for i in range(samples):
        value = (i + 1) * 123_457 * (-1) ** i
        started = time.perf_counter()
        c = neg.encrypt(keypair.public, value)
        found["encrypt"][1] += time.perf_counter() - started
        started = time.perf_counter()
        neg.decrypt(keypair, c)
        found["decrypt"][1] += time.perf_counter() - started
        started = time.perf_counter()
        proof = neg.prove(keypair, c, value, b"measure")
        found["prove"][1] += time.perf_counter() - started
        started = time.perf_counter()
        reason = zkp.verify(n, c, u.encode(value, n), u.int_from_bytes(proof.a), u.int_from_bytes(proof.z), b"measure")
        found["verify"][1] += time.perf_counter() - started
        if reason is not None:
            raise SawgridError(f"a {key_bits}-bit proof did not verify: {reason}")
        for op in found:
            found[op][0] += 1
    return {op: (count, seconds) for op, (count, seconds) in found.items()}
