"""The sawgrid-negotiation transaction handler: the paper's smart contract (section 4.3).

Every action reads like the spec (processors/negotiation/README.md): decode and
check the payload, read the session, check that it is this signer's turn in
this phase of this iteration, decide — raising InvalidTransaction before
anything is written — then write the session (and, on convergence, the market
contracts) in one call. Integers only: Paillier values are Python ints, the
aggregation is one multiplication mod N², the proof check is `zkp.verify`.
"""
from __future__ import annotations

from sawtooth_sdk.processor.exceptions import InvalidTransaction

from sawgrid.processors.base import SawgridHandler, write_outcome
from sawgrid.processors.checks import invalid
from sawgrid.processors.market import addresses as maddr
from sawgrid.processors.market import units as mu
from sawgrid.processors.negotiation import addresses as addr
from sawgrid.processors.negotiation import units as u
from sawgrid.processors.negotiation import zkp
from sawgrid.processors.negotiation.payload import decode
from sawgrid.processors.negotiation.state import NegotiationState
from sawgrid.processors.reputation import cluster
from sawgrid.protos import market_pb2 as mpb
from sawgrid.protos import negotiation_pb2 as pb


def proof_context(session: str, iteration: int, pair: int) -> bytes:
    """What a reveal's proof is bound to (zkp.transcript's context)."""
    return f"{session}/{iteration}/{pair}".encode()


def pairs_of(session: pb.Session, agent: int) -> list[int]:
    """Indexes of the pairs `agent` is in (as owner or peer), in pair order."""
    return [j for j, p in enumerate(session.pairs) if agent in (p.owner, p.peer)]


def owned_by(session: pb.Session, agent: int) -> list[int]:
    return [j for j, p in enumerate(session.pairs) if p.owner == agent]


def line_violation(session: pb.Session) -> int:
    """The largest overload max(0, |flow| − limit) of a limited line, as posted."""
    return max((max(0, abs(flow) - limit) for flow, limit in zip(session.line_flows, session.line_limits)),
               default=0)


def price_change(session: pb.Session) -> int:
    """The largest price change |Δλ| of this iteration."""
    return max((abs(p.change) for p in session.pairs), default=0)


def final_mismatch(session: pb.Session) -> int:
    """max |p_nm + p_mn| over the pairs' revealed (final) quantities."""
    return max((abs(p.owner_quantity + p.peer_quantity) for p in session.pairs), default=0)


def within(session: pb.Session, r: pb.Residuals) -> bool:
    """Eq. 19's thresholds: trades reciprocal, trades and prices settled, no line over its limit."""
    return (max(r.power_mismatch, r.trade_change, r.line_violation) <= session.eps_power
            and r.price_change <= session.eps_price)


def is_converged(session: pb.Session) -> bool:
    """Eq. 19 holds for this iteration and its quantities are revealed (contracts need them)."""
    return session.final and within(session, session.residuals)


def _saturate(value: int) -> int:
    return min(value, u.MAX_RESIDUAL)


class NegotiationHandler(SawgridHandler):
    FAMILY = addr.NEGOTIATION

    def handle(self, transaction, context) -> None:
        action, message = decode(transaction.payload)
        signer = transaction.header.signer_public_key
        st = NegotiationState(context)
        events = getattr(self, "_" + action)(st, signer, message) or []
        write_outcome(context, st.writes(), events, ())

    # -- open ------------------------------------------------------------------------------
    def _open(self, st: NegotiationState, signer: str, m: pb.Open):
        st.prefetch([addr.session_address(m.session), maddr.config_address(),
                     *(maddr.participant_address(a.public_key) for a in m.agents)])
        config = st.config()
        if config is None:
            raise InvalidTransaction("market: not initialised (no operator yet)")
        if signer not in config.operators:
            raise InvalidTransaction("signer: not an operator (the market operator opens a negotiation)")
        if st.session(m.session) is not None:
            raise invalid("open.session", f"session {m.session!r} already exists")
        for i, agent in enumerate(m.agents):
            participant = st.participant(agent.public_key)
            if participant is None or participant.status != mpb.APPROVED:
                raise invalid(f"open.agents[{i}].public_key", "not an approved market participant")
        in_pairs = {p.owner for p in m.pairs} | {p.peer for p in m.pairs}
        for i in range(len(m.agents)):
            if i not in in_pairs:
                raise invalid(f"open.agents[{i}]", "in no pair (every agent trades with someone)")
        st.put_session(pb.Session(
            id=m.session, operator=signer, line_manager=m.line_manager, day=m.day, hour=m.hour,
            agents=[pb.Agent(public_key=a.public_key, kind=a.kind, capacity=a.capacity) for a in m.agents],
            pairs=[pb.Pair(owner=p.owner, peer=p.peer, price=p.price) for p in m.pairs],
            line_limits=m.line_limits, max_iterations=m.max_iterations, eps_power=m.eps_power,
            eps_price=m.eps_price, scale=m.scale, phase=pb.KEYS, iteration=0,
            line_flows=[0] * len(m.line_limits), line_upper=[0] * len(m.line_limits),
            line_lower=[0] * len(m.line_limits),
        ))

    # -- keys ------------------------------------------------------------------------------
    def _publish_key(self, st: NegotiationState, signer: str, m: pb.PublishKey):
        session = _session(st, m.session, "publish_key")
        _require_phase(session, pb.KEYS, None, "publish_key")
        if signer == session.line_manager:
            if session.line_manager_n:
                raise invalid("publish_key", "the line manager's key is already published")
            session.line_manager_n = m.n
        else:
            i = _agent(session, signer, "publish_key")
            if not owned_by(session, i):
                raise invalid("publish_key", "the signer owns no pair: it needs no key")
            if session.agents[i].n:
                raise invalid("publish_key", "this agent's key is already published")
            session.agents[i].n = m.n
        owners = {p.owner for p in session.pairs}
        if session.line_manager_n and all(session.agents[o].n for o in owners):
            session.phase, session.iteration = pb.TERMS, 1
        st.put_session(session)

    # -- terms -----------------------------------------------------------------------------
    def _submit_terms(self, st: NegotiationState, signer: str, m: pb.SubmitTerms):
        session = _session(st, m.session, "submit_terms")
        _require_phase(session, pb.TERMS, m.iteration, "submit_terms")
        i = _agent(session, signer, "submit_terms")
        agent = session.agents[i]
        if agent.submitted >= m.iteration:
            raise invalid("submit_terms", f"this agent already submitted its terms for iteration {m.iteration}")
        mine = pairs_of(session, i)
        for name in ("quantities", "terms"):
            if len(getattr(m, name)) != len(mine):
                raise invalid(f"submit_terms.{name}", f"needs one per pair the signer is in ({len(mine)}), "
                                                      f"got {len(getattr(m, name))}")
        manager_n = u.int_from_bytes(session.line_manager_n)
        for k, (j, q, term) in enumerate(zip(mine, m.quantities, m.terms)):
            if term.pair != j:
                raise invalid(f"submit_terms.terms[{k}].pair", f"must be {j} (the signer's pairs, in order)")
            if not zkp.is_ciphertext(manager_n, u.int_from_bytes(q)):
                raise invalid(f"submit_terms.quantities[{k}]",
                              "out of range for the line manager's key (must be in [1, N^2) and coprime to N)")
            owner_n = u.int_from_bytes(session.agents[session.pairs[j].owner].n)
            if not zkp.is_ciphertext(owner_n, u.int_from_bytes(term.ciphertext)):
                raise invalid(f"submit_terms.terms[{k}].ciphertext",
                              "out of range for the pair owner's key (must be in [1, N^2) and coprime to N)")
        for j, q, term in zip(mine, m.quantities, m.terms):
            pair = session.pairs[j]
            if pair.owner == i:
                pair.owner_quantity_c, pair.owner_term = q, term.ciphertext
            else:
                pair.peer_quantity_c, pair.peer_term = q, term.ciphertext
            if pair.owner_term and pair.peer_term:  # both halves in: add them under the owner's key
                n = u.int_from_bytes(session.agents[pair.owner].n)
                pair.aggregate = u.int_to_bytes(
                    u.int_from_bytes(pair.owner_term) * u.int_from_bytes(pair.peer_term) % (n * n))
                pair.owner_term = pair.peer_term = b""
        agent.submitted = m.iteration
        if all(a.submitted >= m.iteration for a in session.agents):
            session.phase = pb.REVEAL
        st.put_session(session)

    # -- reveal ----------------------------------------------------------------------------
    def _reveal(self, st: NegotiationState, signer: str, m: pb.Reveal):
        session = _session(st, m.session, "reveal")
        _require_phase(session, pb.REVEAL, m.iteration, "reveal")
        i = _agent(session, signer, "reveal")
        owned = owned_by(session, i)
        for k, revealed in enumerate(m.sums):
            if revealed.pair < len(session.pairs) and session.pairs[revealed.pair].owner != i:
                owner = session.agents[session.pairs[revealed.pair].owner].public_key
                raise invalid(f"reveal.sums[{k}].pair", f"pair {revealed.pair}'s price is updated by its owner "
                                                        f"{owner[:12]}…, not by the signer")
        if not owned:
            raise invalid("reveal", "the signer owns no pair: it has no price update to reveal")
        agent = session.agents[i]
        if agent.revealed >= m.iteration:
            raise invalid("reveal", f"this agent already revealed its sums for iteration {m.iteration}")
        if [s.pair for s in m.sums] != owned:
            raise invalid("reveal.sums", f"needs the signer's pairs {owned}, in order")
        n = u.int_from_bytes(agent.n)
        for k, (j, revealed) in enumerate(zip(owned, m.sums)):
            pair = session.pairs[j]
            reason = zkp.verify(n, u.int_from_bytes(pair.aggregate), u.encode(revealed.value, n),
                                u.int_from_bytes(revealed.proof.a), u.int_from_bytes(revealed.proof.z),
                                proof_context(session.id, m.iteration, j))
            if reason is not None:
                raise invalid(f"reveal.sums[{k}]", reason)
            if abs(pair.price + revealed.value) > u.MAX_VALUE:
                raise invalid(f"reveal.sums[{k}].value", "the new price would be out of range")
        for j, revealed in zip(owned, m.sums):
            pair = session.pairs[j]
            pair.price += revealed.value
            pair.change = revealed.value
            pair.aggregate = b""
        agent.revealed = m.iteration
        owners = {p.owner for p in session.pairs}
        if all(session.agents[o].revealed >= m.iteration for o in owners):
            session.phase = pb.LINES
        st.put_session(session)

    # -- line manager -------------------------------------------------------------------------
    def _set_line_prices(self, st: NegotiationState, signer: str, m: pb.SetLinePrices):
        session = _session(st, m.session, "set_line_prices")
        if signer != session.line_manager:
            raise InvalidTransaction("signer: not this session's line manager")
        _require_phase(session, pb.LINES, m.iteration, "set_line_prices")
        lines = len(session.line_limits)
        for name in ("flows", "upper", "lower"):
            if len(getattr(m, name)) != lines:
                raise invalid(f"set_line_prices.{name}", f"needs one per limited line ({lines}), "
                                                         f"got {len(getattr(m, name))}")
        for name, values in (("line_flows", m.flows), ("line_upper", m.upper), ("line_lower", m.lower)):
            del getattr(session, name)[:]
            getattr(session, name).extend(values)
        found = pb.Residuals(power_mismatch=min(m.power_mismatch, u.MAX_RESIDUAL),
                             trade_change=min(m.trade_change, u.MAX_RESIDUAL),
                             price_change=_saturate(price_change(session)),
                             line_violation=_saturate(line_violation(session)))
        if m.finals:
            if not within(session, found):
                raise invalid("set_line_prices.finals", "eq. 19 does not hold: the quantities are revealed only "
                                                        "at convergence")
            _reveal_quantities(session, m)
            if final_mismatch(session) != m.power_mismatch:
                raise invalid("set_line_prices.power_mismatch", f"the final quantities give "
                                                                f"{final_mismatch(session)}, not {m.power_mismatch}")
            session.final = True
        session.residuals.CopyFrom(found)
        session.phase = pb.CHECK
        st.put_session(session)

    # -- market operator ----------------------------------------------------------------------
    def _close_iteration(self, st: NegotiationState, signer: str, m: pb.CloseIteration):
        session = _session(st, m.session, "close_iteration")
        if signer != session.operator:
            raise InvalidTransaction("signer: not this session's market operator")
        _require_phase(session, pb.CHECK, m.iteration, "close_iteration")
        found = session.residuals
        converged = is_converged(session)
        if m.converged != converged:
            raise invalid("close_iteration.converged",
                          f"the chain's residuals say {'' if converged else 'not '}converged (eq. 19: power "
                          f"mismatch {found.power_mismatch}, trade change {found.trade_change}, line overload "
                          f"{found.line_violation} against {session.eps_power}; price change "
                          f"{found.price_change} against {session.eps_price}"
                          f"{'' if session.final else '; no final quantities revealed'})")
        events = []
        if converged:
            contracts = _write_contracts(st, session)
            session.contracts.extend(c.id for c in contracts)
            session.phase = pb.CONVERGED
            events = [(maddr.CONTRACT_EVENT, [("id", c.id), ("buyer", c.buyer), ("seller", c.seller),
                                              ("day", str(c.day)), ("hour", str(c.hour))],
                       c.SerializeToString(deterministic=True)) for c in contracts]
            events.append((addr.CONVERGED_EVENT, [("session", session.id), ("contracts", str(len(contracts)))],
                           b""))
        elif m.iteration >= session.max_iterations:
            session.phase = pb.FAILED
        else:
            session.iteration += 1
            session.phase = pb.TERMS
        for pair in session.pairs:  # this iteration's ciphertexts are spent
            pair.owner_quantity_c = pair.peer_quantity_c = b""
        st.put_session(session)
        return events


def quantity_context(session: str, iteration: int, index: int) -> bytes:
    """What the line manager's proof of a final quantity is bound to (index 2j: pair j's
    owner side, 2j + 1: its peer's)."""
    return f"{session}/{iteration}/q{index}".encode()


def _reveal_quantities(session: pb.Session, m: pb.SetLinePrices) -> None:
    """Check the line manager's final quantities (one proof each against the agents' ciphertexts)
    and every agent's bounds; set them in plain on the pairs."""
    if len(m.finals) != 2 * len(session.pairs):
        raise invalid("set_line_prices.finals", f"needs both sides of every pair ({2 * len(session.pairs)}), "
                                                f"got {len(m.finals)}")
    n = u.int_from_bytes(session.line_manager_n)
    for k, revealed in enumerate(m.finals):
        if revealed.pair != k:
            raise invalid(f"set_line_prices.finals[{k}].pair", f"must be {k} (2j: pair j's owner, 2j + 1: its peer)")
        pair = session.pairs[k // 2]
        cipher = pair.owner_quantity_c if k % 2 == 0 else pair.peer_quantity_c
        reason = zkp.verify(n, u.int_from_bytes(cipher), u.encode(revealed.value, n),
                            u.int_from_bytes(revealed.proof.a), u.int_from_bytes(revealed.proof.z),
                            quantity_context(session.id, session.iteration, k))
        if reason is not None:
            raise invalid(f"set_line_prices.finals[{k}]", reason)
        if k % 2 == 0:
            pair.owner_quantity = revealed.value
        else:
            pair.peer_quantity = revealed.value
    for i, agent in enumerate(session.agents):
        per_peer: dict[int, int] = {}
        for j in pairs_of(session, i):
            pair = session.pairs[j]
            q, peer = (pair.owner_quantity, pair.peer) if pair.owner == i else (pair.peer_quantity, pair.owner)
            field = f"set_line_prices.finals[{2 * j + (0 if pair.owner == i else 1)}]"
            if (agent.kind == pb.PRODUCER and q < 0) or (agent.kind == pb.CONSUMER and q > 0):
                raise invalid(field, f"agent {i} is a {pb.AgentKind.Name(agent.kind).lower()}: it "
                                     f"{'sells (>= 0)' if agent.kind == pb.PRODUCER else 'buys (<= 0)'}, got {q}")
            if peer in per_peer and per_peer[peer] != q:
                raise invalid(field, f"agent {i}'s pairs with one peer carry one quantity: {per_peer[peer]} and {q}")
            per_peer[peer] = q
        total = sum(abs(q) for q in per_peer.values())
        if total > agent.capacity:
            raise invalid("set_line_prices.finals", f"a trade beyond agent {i}'s bounds: {total} in all, its "
                                                    f"capacity is {agent.capacity} (fixed point kW)")


# -- rules shared by the actions -------------------------------------------------------------
def _session(st: NegotiationState, session_id: str, action: str) -> pb.Session:
    session = st.session(session_id)
    if session is None:
        raise invalid(f"{action}.session", f"no session {session_id!r}")
    return session


def _agent(session: pb.Session, signer: str, action: str) -> int:
    for i, agent in enumerate(session.agents):
        if agent.public_key == signer:
            return i
    raise InvalidTransaction(f"signer: not an agent of session {session.id!r}")


def _require_phase(session: pb.Session, phase: int, iteration: int | None, action: str) -> None:
    """The step out of order: the session must be in `phase` of `iteration`."""
    where = f"phase {pb.Phase.Name(session.phase)} of iteration {session.iteration}"
    if session.phase != phase:
        raise invalid(action, f"out of order: the session is in {where}, {action} belongs to phase "
                              f"{pb.Phase.Name(phase)}")
    if iteration is not None and iteration != session.iteration:
        raise invalid(f"{action}.iteration", f"out of order: the session is in {where}, got iteration {iteration}")


def trades(session: pb.Session) -> list[tuple[int, int, int, int]]:
    """(producer, consumer, energy Wh, price µEUR/kWh) of a converged session, one per
    producer-consumer couple in the order its first pair appears: the energy both
    agreed to (the smaller of the producer's p and the consumer's −p), at the mean
    of the couple's pair prices (floored). Couples trading less than 1 Wh are left out."""
    couples: dict[tuple[int, int], list[pb.Pair]] = {}
    for pair in session.pairs:
        producer_is_owner = session.agents[pair.owner].kind == pb.PRODUCER
        key = (pair.owner, pair.peer) if producer_is_owner else (pair.peer, pair.owner)
        couples.setdefault(key, []).append(pair)
    found = []
    for (producer, consumer), pairs in couples.items():  # insertion order: deterministic
        first = pairs[0]
        producer_is_owner = first.owner == producer
        sold = first.owner_quantity if producer_is_owner else first.peer_quantity
        bought = -(first.peer_quantity if producer_is_owner else first.owner_quantity)
        energy = u.energy_wh(min(sold, bought), session.scale)
        if energy < 1:
            continue
        price = u.price_micro(sum(p.price for p in pairs) // len(pairs), session.scale)
        found.append((producer, consumer, energy, price))
    return found


def _write_contracts(st: NegotiationState, session: pb.Session) -> list[mpb.Contract]:
    """The converged trades as PREPARED market contracts, each buyer's money in
    escrow, a validation cluster drawn as at match: settled like any other."""
    day, hour = session.day, session.hour
    config = st.config()
    if config is None:
        raise InvalidTransaction("market: not initialised (no operator yet)")
    book = st.book(day, hour) or mpb.Book(day=day, hour=hour, next_seq=1)
    if book.closed:
        raise invalid("close_iteration", f"the delivery hour {day}/{hour} is closed: the trades cannot become "
                                         f"market contracts")
    settings = st.reputation_settings()
    snapshot = list(st.pool().snapshot)
    index = st.hour_index(day, hour)
    contracts = []
    for producer, consumer, energy, price in trades(session):
        seller, buyer = session.agents[producer].public_key, session.agents[consumer].public_key
        if energy > mu.MAX_ENERGY_WH:
            raise invalid("close_iteration", f"a trade of {energy} Wh is beyond the market's {mu.MAX_ENERGY_WH} Wh")
        if price > mu.MAX_PRICE or price < 0:
            raise invalid("close_iteration", f"the price of {seller[:12]}…→{buyer[:12]}… is {price} µEUR/kWh, "
                                             f"outside 0..{mu.MAX_PRICE}: not a market contract")
        base, surcharge, fee, total = mu.trade_amounts(energy, price, mu.NO_PENALTY, config.wire_fee)
        wallet = st.wallet_or_new(buyer)
        if wallet.balance < total:
            raise InvalidTransaction(f"wallet: insufficient funds: {buyer[:12]}…'s contract needs {total} µEUR "
                                     f"in escrow, {wallet.balance} µEUR available")
        wallet.balance -= total
        wallet.locked += total
        st.put_wallet(wallet)
        contract_id = f"{day}/{hour}/{book.next_seq}"
        book.next_seq += 1
        drawn = cluster.draw(snapshot, contract_id, seller, buyer, settings.min_score, settings.cluster_size)
        contract = mpb.Contract(
            id=contract_id, day=day, hour=hour, seller=seller, buyer=buyer, energy=energy, price=price,
            penalty=mu.NO_PENALTY, base=base, surcharge=surcharge, wire_fee=fee, total=total, grid=False,
            stage=mpb.PREPARED, cluster=drawn.cluster, leader=drawn.leader, escrow=total, credit=0,
            quorum=drawn.quorum)
        st.put_contract(contract)
        index.contracts.append(contract_id)
        sold = st.position(day, hour, seller)
        sold.sold.append(contract_id)
        st.put_position(sold)
        bought = st.position(day, hour, buyer)
        bought.bought.append(contract_id)
        st.put_position(bought)
        contracts.append(contract)
    if contracts:
        st.put_book(book)
        st.put_hour_index(index)
    return contracts
