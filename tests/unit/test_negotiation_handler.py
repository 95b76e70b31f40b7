"""sawgrid-negotiation handler rules on the in-process ledger, with real keys:
secp256k1 signatures, 512-bit Paillier keys (phe), proofs from the SDK's prover.

One producer S and one consumer B negotiate over two ordered pairs: pair 0
(owner S, peer B) and pair 1 (owner B, peer S). The terms are small numbers
chosen by hand; every expected price, residual, energy and amount below is
worked out from them by hand, not by the code under test.
"""
from __future__ import annotations

import pytest

from sawgrid.clients.sdk import keys, market
from sawgrid.clients.sdk import negotiation as neg
from sawgrid.clients.sdk import reputation
from sawgrid.clients.sdk.ledger import InProcessClient
from sawgrid.clients.sdk.rest import BatchInvalid
from sawgrid.processors.market import addresses as maddr
from sawgrid.processors.negotiation.handler import proof_context, quantity_context
from sawgrid.protos import market_pb2 as mpb
from sawgrid.protos import negotiation_pb2 as pb

from ledger_helpers import Clock, pk

DAY, HOUR = 20_000, 10
KEY_BITS = 512
FUNDS = 10**8              # µEUR in each agent's wallet
SESSION = "t1"
EPS_POWER = 1_000          # 0.001 kW
EPS_PRICE = 1_000
LIMIT = 5_000_000          # the one limited line: 5 kW


class World:
    """A market with an operator, a line manager, producer S and consumer B, and an open session."""

    def __init__(self, capacity_s: int = 3_000_000, capacity_b: int = 2_000_000, lines: int = 1) -> None:
        self.clock = Clock(DAY * 86_400 + HOUR * 3600)
        self.ledger = InProcessClient(clock=self.clock)
        self.op, self.lm, self.s, self.b = (keys.signer_for(keys.new_private_key()) for _ in range(4))
        market.submit(self.ledger, self.op, market.init(0))
        for who, name in ((self.s, "S"), (self.b, "B")):
            market.submit(self.ledger, who, market.register(name))
        market.submit(self.ledger, self.op, [p for who in (self.s, self.b)
                                             for p in (market.approve(pk(who)), market.fund(pk(who), FUNDS))])
        self.keys = {pk(self.s): neg.generate_keypair(KEY_BITS), pk(self.b): neg.generate_keypair(KEY_BITS),
                     pk(self.lm): neg.generate_keypair(KEY_BITS)}
        self.quantities: dict[str, int] = {}   # what each agent submitted this iteration (the test knows)
        self.agents = [pb.AgentSpec(public_key=pk(self.s), kind=pb.PRODUCER, capacity=capacity_s),
                       pb.AgentSpec(public_key=pk(self.b), kind=pb.CONSUMER, capacity=capacity_b)]
        self.pairs = [pb.PairSpec(owner=0, peer=1, price=1_000_000), pb.PairSpec(owner=1, peer=0, price=1_000_000)]
        self.lines = lines

    def open(self, signer=None, **changes) -> None:
        fields = dict(session=SESSION, line_manager=pk(self.lm), day=DAY, hour=HOUR, agents=self.agents,
                      pairs=self.pairs, line_limits=[LIMIT] * self.lines, max_iterations=5, eps_power=EPS_POWER,
                      eps_price=EPS_PRICE)
        fields.update(changes)
        neg.submit(self.ledger, signer or self.op, neg.open_session(**fields))

    def publish(self) -> None:
        for who in (self.s, self.b, self.lm):
            neg.submit(self.ledger, who, neg.publish_key(SESSION, self.keys[pk(who)].n))

    def session(self) -> pb.Session:
        return neg.read_session(self.ledger, SESSION)

    def state(self) -> dict:
        return dict(self.ledger.ledger.state)

    def owner_key(self, pair: int):
        return self.keys[self.session().agents[self.session().pairs[pair].owner].public_key]

    def terms(self, who, k: int, quantity: int, values: tuple[int, int]) -> None:
        """`who` submits `quantity` on both pairs (under the line manager's key) and `values`
        (its term for pair 0, pair 1, under each pair owner's key)."""
        cipher = [(j, neg.encrypt(self.owner_key(j).public, v)) for j, v in enumerate(values)]
        lm = self.keys[pk(self.lm)].public
        neg.submit(self.ledger, who, neg.submit_terms(SESSION, k, [neg.encrypt(lm, quantity)] * 2, cipher))
        self.quantities[pk(who)] = quantity

    def finals(self, k: int, values: list[int] | None = None) -> list:
        """The line manager's reveal of every quantity on chain (or of `values` instead, with the true proofs)."""
        lm = self.keys[pk(self.lm)]
        found = []
        for j, pair in enumerate(self.session().pairs):
            for side, cipher in enumerate((pair.owner_quantity_c, pair.peer_quantity_c)):
                c = int.from_bytes(cipher, "big")
                value = neg.decrypt(lm, c)
                proof = neg.prove(lm, c, value, quantity_context(SESSION, k, 2 * j + side))
                found.append((2 * j + side, value if values is None else values[2 * j + side], proof))
        return found

    def line_step(self, k: int, change: int, converged: bool, flow: int = 0, finals=None, mismatch=None) -> None:
        """The line manager: `flow` on the limited line, eq. 19's mismatch (from the quantities
        the test submitted) and `change`, and at convergence the finals."""
        q = self.quantities
        mismatch = abs(q[pk(self.s)] + q[pk(self.b)]) if mismatch is None else mismatch
        finals = (self.finals(k) if converged else []) if finals is None else finals
        neg.submit(self.ledger, self.lm, neg.set_line_prices(SESSION, k, [flow] * self.lines, [0] * self.lines,
                                                             [0] * self.lines, mismatch, change, finals))

    def reveal(self, who, k: int, pair: int, value: int | None = None, proof: pb.Proof | None = None) -> None:
        owner = self.keys[pk(who)]
        aggregate = int.from_bytes(self.session().pairs[pair].aggregate, "big")
        true_value = neg.decrypt(owner, aggregate)
        proof = proof or neg.prove(owner, aggregate, true_value, proof_context(SESSION, k, pair))
        neg.submit(self.ledger, who, neg.reveal(SESSION, k, [(pair, true_value if value is None else value, proof)]))

    def iteration(self, k: int, s_quantity: int, b_quantity: int, s_terms, b_terms, converged: bool,
                  change: int = 0) -> None:
        self.terms(self.s, k, s_quantity, s_terms)
        self.terms(self.b, k, b_quantity, b_terms)
        self.reveal(self.s, k, 0)
        self.reveal(self.b, k, 1)
        self.line_step(k, change, converged)
        neg.submit(self.ledger, self.op, neg.close_iteration(SESSION, k, converged), session=self.session())


def refused(world: World, signer, payload, session=None) -> str:
    """Submit `payload`; it must be INVALID and leave state exactly as it was. Returns the reason."""
    before = world.state()
    with pytest.raises(BatchInvalid) as err:
        neg.submit(world.ledger, signer, payload, session=session)
    assert world.state() == before
    return str(err.value)


@pytest.fixture
def world():
    w = World()
    w.open()
    w.publish()
    return w


def test_keys_open_the_first_iteration(world):
    session = world.session()
    assert (session.phase, session.iteration) == (pb.TERMS, 1)
    assert [int.from_bytes(a.n, "big") for a in session.agents] == [world.keys[pk(world.s)].n,
                                                                    world.keys[pk(world.b)].n]


def test_two_iterations_converge_into_a_market_contract(world):
    # iteration 1: S offers 2 kW, B wants 1.5 kW. Pair 0: 100,000 + 50,000; pair 1: -20,000 + 30,000.
    world.terms(world.s, 1, 2_000_000, (100_000, -20_000))
    assert world.session().phase == pb.TERMS          # B has not submitted yet
    world.terms(world.b, 1, -1_500_000, (50_000, 30_000))
    assert world.session().phase == pb.REVEAL
    world.reveal(world.s, 1, 0)
    world.reveal(world.b, 1, 1)
    session = world.session()
    assert [p.price for p in session.pairs] == [1_150_000, 1_010_000]
    assert session.phase == pb.LINES
    # the line manager decrypts 2,000,000 and −1,500,000: mismatch 500,000, change 2,000,000 (from 0)
    neg.submit(world.ledger, world.lm, neg.set_line_prices(SESSION, 1, [1_500_000], [7], [0], 500_000, 2_000_000))
    assert list(world.session().line_upper) == [7]
    # eq. 19: the mismatch |2,000,000 − 1,500,000| = 500,000 > 1000: not converged, and the chain knows it
    reason = refused(world, world.op, neg.close_iteration(SESSION, 1, True), world.session())
    assert "close_iteration.converged" in reason and "power mismatch 500000" in reason
    neg.submit(world.ledger, world.op, neg.close_iteration(SESSION, 1, False), session=world.session())
    session = world.session()
    assert (session.phase, session.iteration) == (pb.TERMS, 2)
    assert session.residuals == pb.Residuals(power_mismatch=500_000, trade_change=2_000_000, price_change=150_000)

    # iteration 2: both at 1.5 kW, terms that cancel (+400 − 400, −300 + 300): Δλ = 0, but S moved 0.5 kW
    world.iteration(2, 1_500_000, -1_500_000, (400, -300), (-400, 300), converged=False, change=500_000)
    assert world.session().residuals == pb.Residuals(trade_change=500_000)
    # iteration 3: nothing moves: converged
    world.iteration(3, 1_500_000, -1_500_000, (0, 0), (0, 0), converged=True)
    session = world.session()
    assert session.phase == pb.CONVERGED and list(session.contracts) == [f"{DAY}/{HOUR}/1"]
    data = world.ledger.state(maddr.contract_address(DAY, HOUR, f"{DAY}/{HOUR}/1"))
    contract = mpb.Contract.FromString(data)
    # 1.5 kW for an hour = 1500 Wh at the pairs' mean price (1,150,000 + 1,010,000) / 2 = 1,080,000 µEUR/kWh
    assert (contract.seller, contract.buyer, contract.energy, contract.price) == (pk(world.s), pk(world.b),
                                                                                  1500, 1_080_000)
    assert contract.stage == mpb.PREPARED and contract.escrow == contract.total == 1_620_000
    wallet = mpb.Wallet.FromString(world.ledger.state(maddr.wallet_address(pk(world.b))))
    assert (wallet.balance, wallet.locked) == (FUNDS - 1_620_000, 1_620_000)
    index = mpb.HourIndex.FromString(world.ledger.state(maddr.hour_index_address(DAY, HOUR)))
    assert list(index.contracts) == [contract.id]


def test_a_line_over_its_limit_keeps_the_negotiation_going(world):
    world.iteration(1, 1_000_000, -1_000_000, (0, 0), (0, 0), converged=False, change=1_000_000)
    world.terms(world.s, 2, 1_000_000, (0, 0))
    world.terms(world.b, 2, -1_000_000, (0, 0))
    world.reveal(world.s, 2, 0)
    world.reveal(world.b, 2, 1)
    # the flow is 2000 over the limit: eq. 19 fails, so revealing the quantities is refused ...
    reason = refused(world, world.lm, neg.set_line_prices(SESSION, 2, [-(LIMIT + 2_000)], [0], [3], 0, 0,
                                                          world.finals(2)))
    assert "set_line_prices.finals: eq. 19 does not hold" in reason
    # ... and without them the operator cannot call it converged
    neg.submit(world.ledger, world.lm, neg.set_line_prices(SESSION, 2, [-(LIMIT + 2_000)], [0], [3]))
    reason = refused(world, world.op, neg.close_iteration(SESSION, 2, True), world.session())
    assert "line overload 2000" in reason and "no final quantities" in reason


def test_the_line_managers_final_quantities_are_proven_and_checked(world):
    world.iteration(1, 1_000_000, -1_000_000, (0, 0), (0, 0), converged=False, change=1_000_000)
    world.terms(world.s, 2, 1_000_000, (0, 0))
    world.terms(world.b, 2, -1_000_000, (0, 0))
    world.reveal(world.s, 2, 0)
    world.reveal(world.b, 2, 1)
    # a value that is not what the agent encrypted
    wrong = refused(world, world.lm, neg.set_line_prices(SESSION, 2, [0], [0], [0], 0, 0,
                                                         world.finals(2, [900_000, -1_000_000, -1_000_000, 1_000_000])))
    assert "set_line_prices.finals[0]: the proof does not verify" in wrong
    # a mismatch claim the finals contradict
    assert "the final quantities give 0, not 5" in refused(world, world.lm, neg.set_line_prices(
        SESSION, 2, [0], [0], [0], 5, 0, world.finals(2)))
    # half of the finals
    assert "needs both sides of every pair (4)" in refused(world, world.lm, neg.set_line_prices(
        SESSION, 2, [0], [0], [0], 0, 0, world.finals(2)[:2]))
    world.line_step(2, 0, converged=True)
    assert [(p.owner_quantity, p.peer_quantity) for p in world.session().pairs] == [(1_000_000, -1_000_000),
                                                                                   (-1_000_000, 1_000_000)]


def test_the_contract_settles_like_any_other(world):
    world.iteration(1, 1_000_000, -1_000_000, (0, 0), (0, 0), converged=False, change=1_000_000)
    world.iteration(2, 1_000_000, -1_000_000, (0, 0), (0, 0), converged=True)
    contract_id = world.session().contracts[0]
    world.clock.t = DAY * 86_400 + (HOUR + 1) * 3600 + 60          # the delivery hour is over
    reputation.submit(world.ledger, world.s, reputation.reading(DAY, HOUR, delivered_wh=1000))
    reputation.submit(world.ledger, world.b, reputation.reading(DAY, HOUR, received_wh=1000))
    contract = mpb.Contract.FromString(world.ledger.state(maddr.contract_address(DAY, HOUR, contract_id)))
    assert contract.stage == mpb.SETTLED and contract.paid_base == 1_000_000   # 1 kWh at 1,000,000 µEUR/kWh
    seller = mpb.Wallet.FromString(world.ledger.state(maddr.wallet_address(pk(world.s))))
    assert seller.balance == FUNDS + 1_000_000


def test_a_proof_that_does_not_verify_is_refused(world):
    world.terms(world.s, 1, 1_000_000, (5, 6))
    world.terms(world.b, 1, -1_000_000, (7, 8))
    owner = world.keys[pk(world.s)]
    aggregate = int.from_bytes(world.session().pairs[0].aggregate, "big")
    honest = neg.prove(owner, aggregate, 12, proof_context(SESSION, 1, 0))
    # the honest proof for 12, claimed for 13
    reason = refused(world, world.s, neg.reveal(SESSION, 1, [(0, 13, honest)]))
    assert "reveal.sums[0]: the proof does not verify" in reason
    # a proof made for another iteration's context
    other = neg.prove(owner, aggregate, 12, proof_context(SESSION, 2, 0))
    assert "does not verify" in refused(world, world.s, neg.reveal(SESSION, 1, [(0, 12, other)]))
    # z out of range
    bad = pb.Proof(a=honest.a, z=(owner.n + 1).to_bytes((owner.n.bit_length() + 7) // 8, "big"))
    assert "proof.z is out of range" in refused(world, world.s, neg.reveal(SESSION, 1, [(0, 12, bad)]))
    world.reveal(world.s, 1, 0)                                    # the true sum goes through
    assert world.session().pairs[0].price == 1_000_012


def test_a_ciphertext_out_of_range_is_refused(world):
    # each term is encrypted under its pair's owner's key: pair 0 is S's, pair 1 is B's
    n = world.keys[pk(world.s)].n
    good_0 = neg.encrypt(world.keys[pk(world.s)].public, 1)
    good_1 = neg.encrypt(world.keys[pk(world.b)].public, 1)
    q = neg.encrypt(world.keys[pk(world.lm)].public, 1)
    for c in (n * n, n * n + 5, n * 3):                            # ≥ N², and not coprime to N
        payload = neg.submit_terms(SESSION, 1, [q, q], [(0, c), (1, good_1)])
        assert "submit_terms.terms[0].ciphertext: out of range" in refused(world, world.s, payload)
    m = world.keys[pk(world.lm)].n
    for c in (m * m, m * 7):
        payload = neg.submit_terms(SESSION, 1, [q, c], [(0, good_0), (1, good_1)])
        assert "submit_terms.quantities[1]: out of range for the line manager's key" in refused(world, world.s, payload)


def test_a_price_update_from_the_wrong_agent_is_refused(world):
    world.terms(world.s, 1, 1_000_000, (5, 6))
    world.terms(world.b, 1, -1_000_000, (7, 8))
    owner = world.keys[pk(world.s)]
    aggregate = int.from_bytes(world.session().pairs[0].aggregate, "big")
    proof = neg.prove(owner, aggregate, 12, proof_context(SESSION, 1, 0))
    # B reveals pair 0, which S owns (even with S's valid proof)
    reason = refused(world, world.b, neg.reveal(SESSION, 1, [(0, 12, proof)]))
    assert "reveal.sums[0].pair" in reason and "owner" in reason
    stranger = keys.signer_for(keys.new_private_key())
    assert "signer: not an agent" in refused(world, stranger, neg.reveal(SESSION, 1, [(0, 12, proof)]))
    assert "not this session's line manager" in refused(world, world.s, neg.set_line_prices(SESSION, 1, [0], [0], [0]))


def test_steps_out_of_order_are_refused(world):
    # a reveal, the line manager and the operator before the terms are in
    assert "out of order" in refused(world, world.lm, neg.set_line_prices(SESSION, 1, [0], [0], [0]))
    assert "out of order" in refused(world, world.op, neg.close_iteration(SESSION, 1, False), world.session())
    world.terms(world.s, 1, 1_000_000, (5, 6))
    q = neg.encrypt(world.keys[pk(world.lm)].public, 1)
    assert "already submitted" in refused(world, world.s, neg.submit_terms(
        SESSION, 1, [q, q], [(0, neg.encrypt(world.keys[pk(world.s)].public, 1)),
                             (1, neg.encrypt(world.keys[pk(world.b)].public, 1))]))
    # the wrong iteration
    payload = neg.submit_terms(SESSION, 2, [q, q], [(0, neg.encrypt(world.keys[pk(world.s)].public, 1)),
                                                     (1, neg.encrypt(world.keys[pk(world.b)].public, 1))])
    assert "submit_terms.iteration: out of order" in refused(world, world.b, payload)
    # a key after the keys phase
    assert "out of order" in refused(world, world.s, neg.publish_key(SESSION, world.keys[pk(world.s)].n))
    # the operator before the line manager
    world.terms(world.b, 1, -1_000_000, (5, 6))
    world.reveal(world.s, 1, 0)
    world.reveal(world.b, 1, 1)
    assert "out of order" in refused(world, world.op, neg.close_iteration(SESSION, 1, False), world.session())


def test_a_trade_beyond_an_agents_bounds_is_refused(world):
    """The bounds are checked on the final quantities, the only ones the chain sees in plain."""
    def converge_at(s_quantity: int, b_quantity: int, s_quantity_1: int | None = None):
        """Iterations 1 and 2 with S at `s_quantity` (on pair 1: `s_quantity_1`), B at `b_quantity`."""
        for k in (1, 2):
            s_key, b_key = world.keys[pk(world.s)].public, world.keys[pk(world.b)].public
            lm = world.keys[pk(world.lm)].public
            qs = [neg.encrypt(lm, s_quantity), neg.encrypt(lm, s_quantity if s_quantity_1 is None else s_quantity_1)]
            neg.submit(world.ledger, world.s, neg.submit_terms(SESSION, k, qs, [(0, neg.encrypt(s_key, 0)),
                                                                                (1, neg.encrypt(b_key, 0))]))
            world.terms(world.b, k, b_quantity, (0, 0))
            world.reveal(world.s, k, 0)
            world.reveal(world.b, k, 1)
            if k == 1:
                world.line_step(1, abs(s_quantity), False, mismatch=abs(s_quantity + b_quantity))
                neg.submit(world.ledger, world.op, neg.close_iteration(SESSION, 1, False), session=world.session())
        return neg.set_line_prices(SESSION, 2, [0], [0], [0], abs(s_quantity + b_quantity), 0, world.finals(2))

    # S's capacity is 3 kW, B's 2 kW; both at 3.2 kW
    reason = refused(world, world.lm, converge_at(3_200_000, -3_200_000))
    assert "a trade beyond agent 0's bounds: 3200000 in all, its capacity is 3000000" in reason


@pytest.mark.parametrize("s_quantity, b_quantity, s_quantity_1, reason", [
    (-1_000_000, 1_000_000, None, "agent 0 is a producer: it sells (>= 0), got -1000000"),
    (1_000_000, -1_000_000, 1_000_500, "agent 0's pairs with one peer carry one quantity"),
])
def test_final_quantities_keep_to_each_agents_side(s_quantity, b_quantity, s_quantity_1, reason):
    w = World()
    w.open()
    w.publish()
    lm, s_key, b_key = (w.keys[pk(x)].public for x in (w.lm, w.s, w.b))
    for k in (1, 2):
        qs = [neg.encrypt(lm, s_quantity), neg.encrypt(lm, s_quantity if s_quantity_1 is None else s_quantity_1)]
        neg.submit(w.ledger, w.s, neg.submit_terms(SESSION, k, qs, [(0, neg.encrypt(s_key, 0)),
                                                                    (1, neg.encrypt(b_key, 0))]))
        w.terms(w.b, k, b_quantity, (0, 0))
        w.reveal(w.s, k, 0)
        w.reveal(w.b, k, 1)
        if k == 1:
            w.line_step(1, 1_000_000, False, mismatch=0)
            neg.submit(w.ledger, w.op, neg.close_iteration(SESSION, 1, False), session=w.session())
    mismatch = 0 if s_quantity_1 is None else 500      # within eps: eq. 19 holds, the bounds are checked
    payload = neg.set_line_prices(SESSION, 2, [0], [0], [0], mismatch, 0, w.finals(2))
    assert reason in refused(w, w.lm, payload)


def test_only_an_operator_opens_and_only_approved_participants_negotiate():
    w = World()
    assert "signer: not an operator" in refused(w, w.lm, neg.open_session(
        SESSION, pk(w.lm), DAY, HOUR, w.agents, w.pairs, [LIMIT], 5, 1, 1))
    stranger = keys.signer_for(keys.new_private_key())
    agents = [w.agents[0], pb.AgentSpec(public_key=pk(stranger), kind=pb.CONSUMER, capacity=1)]
    assert "open.agents[1].public_key: not an approved market participant" in refused(
        w, w.op, neg.open_session(SESSION, pk(w.lm), DAY, HOUR, agents, w.pairs, [LIMIT], 5, 1, 1))
    agents = [w.agents[0], pb.AgentSpec(public_key=pk(w.lm), kind=pb.CONSUMER, capacity=1)]
    assert "open.line_manager: the line manager is not one of the agents" in refused(
        w, w.op, neg.open_session(SESSION, pk(w.lm), DAY, HOUR, agents, w.pairs, [LIMIT], 5, 1, 1))
    w.open()
    assert "already exists" in refused(w, w.op, neg.open_session(
        SESSION, pk(w.lm), DAY, HOUR, w.agents, w.pairs, [LIMIT], 5, 1, 1))


def test_an_unfunded_buyer_cannot_close_a_converged_session():
    w = World()
    w.open()
    w.publish()
    # B wants 1 kW at 1,000,000 µEUR/kWh but has FUNDS; push the price so that the escrow exceeds them
    w.terms(w.s, 1, 1_000_000, (FUNDS * 2, 0))
    w.terms(w.b, 1, -1_000_000, (0, FUNDS * 2))
    w.reveal(w.s, 1, 0)
    w.reveal(w.b, 1, 1)
    w.line_step(1, 1_000_000, False)
    neg.submit(w.ledger, w.op, neg.close_iteration(SESSION, 1, False), session=w.session())
    w.terms(w.s, 2, 1_000_000, (0, 0))
    w.terms(w.b, 2, -1_000_000, (0, 0))
    w.reveal(w.s, 2, 0)
    w.reveal(w.b, 2, 1)
    w.line_step(2, 0, True)
    reason = refused(w, w.op, neg.close_iteration(SESSION, 2, True), w.session())
    assert "wallet: insufficient funds" in reason


def test_max_iterations_without_convergence_fail_the_session():
    w = World(lines=0)
    w.open(max_iterations=1)
    w.publish()
    w.iteration(1, 1_000_000, -500_000, (0, 0), (0, 0), converged=False, change=1_000_000)
    assert w.session().phase == pb.FAILED
    assert w.ledger.state(maddr.hour_index_address(DAY, HOUR)) is None

