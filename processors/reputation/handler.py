"""The sawgrid-reputation transaction handler.

Every action reads like the spec (README.md): decode and check the payload
(`payload`), read the records it needs (`state`), decide — raising
InvalidTransaction before anything is written — then write every record in
one `set_state` call, and the outcome events.

Chain time comes only from Sawtooth's BlockInfo (`block_info.clock`); the
money and score rules of a contract's release are in `settle`.
"""
from __future__ import annotations

from sawtooth_sdk.processor.exceptions import InvalidTransaction

from sawgrid.processors.base import SawgridHandler
from sawgrid.processors.block_info.clock import chain_time
from sawgrid.processors.market.addresses import MARKET
from sawgrid.processors.checks import invalid
from sawgrid.processors.reputation import settle
from sawgrid.processors.reputation.addresses import REPUTATION, score_address
from sawgrid.processors.reputation.payload import MAX_VOLUNTEERS, check_contract_id, decode
from sawgrid.processors.reputation.state import ReputationState
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos import reputation_pb2 as rpb

OUTCOME_EVENT = settle.OUTCOME_EVENT
_TIMED = ("reading", "attest", "pay", "expire")


class ReputationHandler(SawgridHandler):
    FAMILY = REPUTATION

    @property
    def namespaces(self) -> list[str]:
        # settlement writes market records (contracts, wallets) too (README.md, "Namespaces")
        return [REPUTATION.namespace, MARKET.namespace]

    def handle(self, transaction, context) -> None:
        action, message = decode(transaction.payload)
        signer = transaction.header.signer_public_key
        now = None
        if action in _TIMED:
            now = chain_time(context)
            if now is None:
                raise InvalidTransaction("block_info: chain time unavailable (no BlockInfo in state)")
        st = ReputationState(context)
        events: list = []
        getattr(self, "_" + action)(st, signer, message, now, events)
        st.flush()
        for event_type, attributes, data in events:
            context.add_event(event_type, attributes, data)

    # -- settings and the validator pool ------------------------------------------------
    def _configure(self, st: ReputationState, signer: str, m: rpb.Configure, now, events) -> None:
        _require_market_operator(st, signer)
        st.put_reputation_config(rpb.Config(settings=m.settings))

    def _volunteer(self, st: ReputationState, signer: str, m: rpb.Volunteer, now, events) -> None:
        participant = st.participant(signer)
        if participant is None or participant.status != pb.APPROVED:
            raise InvalidTransaction("signer: not an approved market participant")
        pool = st.pool()
        if signer in pool.volunteers:
            raise invalid("volunteer", "already in the validator pool")
        if len(pool.volunteers) >= MAX_VOLUNTEERS:
            raise invalid("volunteer", f"the validator pool is full ({MAX_VOLUNTEERS} volunteers)")
        volunteers = sorted([*pool.volunteers, signer])
        del pool.volunteers[:]
        pool.volunteers.extend(volunteers)
        st.put_pool(pool)

    def _withdraw(self, st: ReputationState, signer: str, m: rpb.Withdraw, now, events) -> None:
        pool = st.pool()
        if signer not in pool.volunteers:
            raise invalid("withdraw", "not in the validator pool")
        pool.volunteers.remove(signer)
        snapshot = [e for e in pool.snapshot if e.public_key != signer]  # no new seats from now on
        del pool.snapshot[:]
        pool.snapshot.extend(snapshot)
        st.put_pool(pool)

    def _refresh_pool(self, st: ReputationState, signer: str, m: rpb.RefreshPool, now, events) -> None:
        _require_market_operator(st, signer)
        settings = st.settings()
        pool = st.pool()
        st.prefetch(score_address(key) for key in pool.volunteers)
        entries = []
        for key in pool.volunteers:
            record = st.score(key)
            entries.append(rpb.PoolEntry(public_key=key, score=record.score if record else settings.initial_score))
        entries.sort(key=lambda e: (-e.score, e.public_key))
        del pool.snapshot[:]
        pool.snapshot.extend(entries)
        st.put_pool(pool)

    # -- execution: readings, payment, attestations ---------------------------------------
    def _reading(self, st: ReputationState, signer: str, m: rpb.SubmitReading, now: int, events) -> None:
        settings = st.settings()
        _require_window("reading.hour", m.day, m.hour, now, settings)
        position = st.position_of(m.day, m.hour, signer)
        ids = sorted([*position.sold, *position.bought], key=_seq) if position is not None else []
        if not ids:
            raise invalid("reading.hour", f"you are not a party to any contract of {m.day}/{m.hour}")
        previous = st.reading(m.day, m.hour, signer)
        if previous is not None:
            raise invalid("reading", f"already submitted for {m.day}/{m.hour} (at chain time {previous.timestamp})")
        st.put_reading(rpb.Reading(public_key=signer, day=m.day, hour=m.hour, delivered_wh=m.delivered_wh,
                                   received_wh=m.received_wh, timestamp=now))
        operator = _system_operator(st)
        for contract_id in ids:
            contract = st.contract_at(m.day, m.hour, contract_id)
            if contract is None or contract.stage not in settle.OPEN_STAGES:
                continue
            _to_execution(st, contract)
            if contract.quorum == 0 and settle.evidence_complete(st, contract, operator):
                _close_by_readings(st, contract, settings, operator, now, events, by_expire=False)

    def _pay(self, st: ReputationState, signer: str, m: rpb.Pay, now: int, events) -> None:
        settings = st.settings()
        contract = _open_contract(st, "pay.contract_id", m.contract_id)
        if contract.buyer != signer:
            raise invalid("pay.contract_id", "not your contract (you are not its buyer)")
        if not contract.credit:
            raise invalid("pay.contract_id", "nothing is owed: the escrow is already paid")
        due = settle.deadline(contract.day, contract.hour, settings)
        if now > due:
            raise invalid("pay.contract_id", f"the deadline passed at chain time {due} (now {now})")
        wallet = st.wallet_or_new(signer)
        if wallet.balance < contract.credit:
            raise InvalidTransaction(f"wallet: insufficient funds: the contract needs {contract.credit} µEUR, "
                                     f"{wallet.balance} µEUR available")
        amount, contract.credit = contract.credit, 0
        wallet.balance -= amount
        wallet.locked += amount
        wallet.credit_used -= min(wallet.credit_used, amount)
        contract.escrow += amount
        st.put_wallet(wallet)
        st.put_contract(contract)
        if now >= settle.hour_end(contract.day, contract.hour):
            _to_execution(st, contract)
            operator = _system_operator(st)
            if contract.quorum == 0 and settle.evidence_complete(st, contract, operator):
                _close_by_readings(st, contract, settings, operator, now, events, by_expire=False)

    def _attest(self, st: ReputationState, signer: str, m: rpb.Attest, now: int, events) -> None:
        settings = st.settings()
        operator = None
        for i, verdict in enumerate(m.verdicts):
            field = f"attest.verdicts[{i}]"
            contract = _contract(st, f"{field}.contract_id", verdict.contract_id)
            if signer not in contract.cluster:
                raise invalid(f"{field}.contract_id", "you are not a member of its validation cluster")
            _require_window(f"{field}.contract_id", contract.day, contract.hour, now, settings)
            if verdict.delivered_wh > contract.energy:
                raise invalid(f"{field}.delivered_wh",
                              f"more than the contract's {contract.energy} Wh")
            settlement = st.settlement(contract.day, contract.hour, contract.id) or \
                rpb.Settlement(contract_id=contract.id)
            if any(vote.member == signer for vote in settlement.votes):
                raise invalid(f"{field}.contract_id", "you already attested this contract")
            vote = rpb.Vote(member=signer, delivered_wh=verdict.delivered_wh, paid=verdict.paid)
            if contract.stage in settle.FINAL_STAGES:
                settle.judge_late_vote(st, contract, settlement, vote, settings)
                continue
            _to_execution(st, contract)
            settlement.votes.append(vote)
            st.put_settlement(contract.day, contract.hour, settlement)
            reached = settle.quorum_verdict(settlement.votes, contract.quorum)
            if reached is not None:
                operator = operator if operator is not None else _system_operator(st)
                contract, settlement = settle.close(st, contract, settings, operator, now, reached, by_expire=False)
                events.append(settle.event(contract, settlement))

    def _expire(self, st: ReputationState, signer: str, m: rpb.Expire, now: int, events) -> None:
        operator = _system_operator(st)
        if signer != operator:
            raise InvalidTransaction("signer: not the system operator")
        settings = st.settings()
        for i, contract_id in enumerate(m.contract_ids):
            field = f"expire.contract_ids[{i}]"
            contract = _contract(st, field, contract_id)
            due = settle.deadline(contract.day, contract.hour, settings)
            if now <= due:
                raise invalid(field, f"not due: its deadline is chain time {due} (now {now})")
            if contract.stage in settle.OPEN_STAGES:
                _close_by_readings(st, contract, settings, operator, now, events, by_expire=True)
                continue
            settlement = st.settlement(contract.day, contract.hour, contract.id)
            if settlement is None or not settle.unjudged(contract, settlement):
                raise invalid(field, f"nothing left to expire ({pb.Stage.Name(contract.stage)}, every member judged)")
            settle.judge_absent(st, contract, settlement, settings)


# -- rules shared by several actions ---------------------------------------------------------
def _seq(contract_id: str) -> int:
    return int(contract_id.rsplit("/", 1)[1]) if contract_id.rsplit("/", 1)[-1].isdigit() else 0


def _market_config(st: ReputationState) -> pb.Config:
    config = st.config()
    if config is None:
        raise InvalidTransaction("market: not initialised (no operator yet)")
    return config


def _require_market_operator(st: ReputationState, signer: str) -> pb.Config:
    config = _market_config(st)
    if signer not in config.operators:
        raise InvalidTransaction("signer: not a market operator")
    return config


def _system_operator(st: ReputationState) -> str:
    return _market_config(st).system_operator


def _require_window(field: str, day: int, hour: int, now: int, settings: rpb.Settings) -> None:
    """Readings and attestations: from the hour's end to its deadline (inclusive)."""
    start = settle.hour_end(day, hour)
    if now < start:
        raise invalid(field, f"the delivery hour {day}/{hour} is not over until chain time {start} (now {now})")
    due = settle.deadline(day, hour, settings)
    if now > due:
        raise invalid(field, f"the deadline for {day}/{hour} passed at chain time {due} (now {now})")


def _contract(st: ReputationState, field: str, contract_id: str) -> pb.Contract:
    day, hour, _ = check_contract_id(field, contract_id)
    contract = st.contract_at(day, hour, contract_id)
    if contract is None:
        raise invalid(field, f"no such contract: {contract_id}")
    if contract.stage == pb.STAGE_UNSET:
        raise invalid(field, "not under settlement (a contract from before settlement existed)")
    return contract


def _open_contract(st: ReputationState, field: str, contract_id: str) -> pb.Contract:
    contract = _contract(st, field, contract_id)
    if contract.stage not in settle.OPEN_STAGES:
        raise invalid(field, f"already {pb.Stage.Name(contract.stage)}")
    return contract


def _to_execution(st: ReputationState, contract: pb.Contract) -> None:
    if contract.stage == pb.PREPARED:
        contract.stage = pb.EXECUTION
        st.put_contract(contract)


def _close_by_readings(st: ReputationState, contract: pb.Contract, settings: rpb.Settings, operator: str,
                       now: int, events: list, by_expire: bool) -> None:
    seller_wh = settle.allocation(st, contract, contract.seller, True, operator)
    buyer_wh = settle.allocation(st, contract, contract.buyer, False, operator)
    verdict = settle.verdict_of_readings(seller_wh, buyer_wh, contract.credit)
    contract, settlement = settle.close(st, contract, settings, operator, now, verdict, by_expire=by_expire)
    events.append(settle.event(contract, settlement))
