"""The release of a contract's escrow, and the Q-score updates of its outcome.

Integers only; every rule is in README.md ("Settlement, exactly"):

* `hour_end`, `deadline`: the chain-time window of readings, payment and
  attestations;
* `allocation`: a meter's hourly reading split over its contracts of the hour
  in creation order;
* `verdict_of_readings` / `quorum_verdict`: the energy that moved and whether
  the buyer paid, from the readings alone or from the cluster's votes;
* `judge`: conditions 1 and 2 (EXECUTION), then 3 (FINAL), and who is at fault;
* `close`: condition 4 and the money (pro-rata payout, refund, the system
  operator's guarantee for a defaulting buyer, the buyer's debt), then the
  scores of the parties, the leader and the peers, and the Settlement record
  with its QoT;
* `judge_late_vote`, `judge_absent`: members who attest after the quorum
  settled the contract, and those who never did (judged by `expire`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from sawtooth_sdk.processor.exceptions import InvalidTransaction

from sawgrid.processors.market import units as u
from sawgrid.processors.reputation import qscore
from sawgrid.processors.reputation.settings import DAY_SECONDS, HOUR_SECONDS
from sawgrid.processors.reputation.state import ReputationState
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos import reputation_pb2 as rpb

OUTCOME_EVENT = "sawgrid-reputation/outcome"
OPEN_STAGES = (pb.PREPARED, pb.EXECUTION)
FINAL_STAGES = (pb.SETTLED, pb.DECLINED)
# ------------------------------------------------------------------ chain time
def hour_end(day: int, hour: int) -> int:
    """Chain second at which the delivery hour is over: day·86400 + (hour+1)·3600."""
    return day * DAY_SECONDS + (hour + 1) * HOUR_SECONDS


def deadline(day: int, hour: int, settings: rpb.Settings) -> int:
    """Last chain second at which readings, payment and attestations are taken."""
    return hour_end(day, hour) + settings.settle_window


# ------------------------------------------------------------------ verdicts
@dataclass(frozen=True)
class Verdict:
    delivered: int      # Wh that moved from seller to buyer (condition 1)
    paid: bool          # the buyer's money is in escrow (condition 2)

    @staticmethod
    def of(vote: rpb.Vote) -> "Verdict":
        return Verdict(vote.delivered_wh, vote.paid)


def quorum_verdict(votes: Iterable[rpb.Vote], quorum: int) -> Verdict | None:
    """The verdict at least `quorum` (> 0) votes agree on, or None. Absent
    markers never count. Two different verdicts cannot both reach a quorum of
    ⌊2m/3⌋+1 out of m votes, so the first found is the only one."""
    counts: dict[Verdict, int] = {}
    for vote in votes:
        if vote.absent:
            continue
        verdict = Verdict.of(vote)
        counts[verdict] = counts.get(verdict, 0) + 1
        if counts[verdict] >= quorum > 0:
            return verdict
    return None


def allocation(st: ReputationState, contract: pb.Contract, public_key: str, sold: bool,
               operator: str) -> int | None:
    """Wh of `public_key`'s meter reading allocated to `contract` (as its seller if
    `sold`, else as its buyer); None when that meter has no reading.

    The reading is split over the meter's contracts of the hour in creation
    order (its Position): each gets min(what is left, its energy). The system
    operator's side of a grid contract is the grid: it always moves exactly
    the contracted energy."""
    if contract.grid and public_key == operator:
        return contract.energy
    reading = st.reading(contract.day, contract.hour, public_key)
    if reading is None:
        return None
    left = reading.delivered_wh if sold else reading.received_wh
    position = st.position_of(contract.day, contract.hour, public_key)
    for contract_id in (position.sold if sold else position.bought) if position is not None else ():
        if contract_id == contract.id:
            break
        earlier = st.contract_at(contract.day, contract.hour, contract_id)
        left -= min(left, earlier.energy if earlier is not None else 0)
    return min(left, contract.energy)


def evidence_complete(st: ReputationState, contract: pb.Contract, operator: str) -> bool:
    """Whether a contract without a cluster can settle now: both meters have read
    (the grid side needs none) and nothing is owed into escrow."""
    if contract.credit:
        return False
    for key in (contract.seller, contract.buyer):
        if not (contract.grid and key == operator) and st.reading(contract.day, contract.hour, key) is None:
            return False
    return True


def verdict_of_readings(seller_wh: int | None, buyer_wh: int | None, credit: int) -> Verdict:
    """The readings-alone verdict: min of both allocations; without a seller
    reading nothing moved; without a buyer reading the seller's stands
    (condition 3 then fails: the buyer's meter confirms none of it)."""
    if seller_wh is None:
        delivered = 0
    elif buyer_wh is None:
        delivered = seller_wh
    else:
        delivered = min(seller_wh, buyer_wh)
    return Verdict(delivered, credit == 0)


# ------------------------------------------------------------------ conditions
@dataclass(frozen=True)
class Outcome:
    stage: int                  # SETTLED or DECLINED
    declined_at: int = pb.STAGE_UNSET
    cause: int = pb.CAUSE_UNSET
    detail: str = ""
    seller_fault: bool = False
    buyer_fault: bool = False

    @property
    def success(self) -> bool:
        return self.stage == pb.SETTLED


def delivered_enough(delivered: int, energy: int, tolerance: int) -> bool:
    """Condition 1: delivered ≥ energy·(1000 − tolerance)/1000, exactly (no rounding)."""
    return delivered * u.PERMILLE >= energy * (u.PERMILLE - tolerance)


def judge(contract: pb.Contract, verdict: Verdict, buyer_wh: int | None, settings: rpb.Settings) -> Outcome:
    """Conditions 1 and 2 (EXECUTION), then 3 (FINAL); condition 4 is `close`'s."""
    cond1 = delivered_enough(verdict.delivered, contract.energy, settings.tolerance)
    cond2 = verdict.paid and contract.credit == 0
    if not (cond1 and cond2):
        reasons = []
        if not cond1:
            reasons.append(f"seller delivered {verdict.delivered} of {contract.energy} Wh"
                           f" (tolerance {settings.tolerance} permille)")
        if not cond2:
            owed = f"{contract.credit} µEUR owed" if contract.credit else "attested unpaid"
            reasons.append(f"buyer did not pay into escrow ({owed})")
        return Outcome(pb.DECLINED, pb.EXECUTION, pb.SELLER_SHORTFALL if not cond1 else pb.BUYER_DEFAULT,
                       "; ".join(reasons), seller_fault=not cond1, buyer_fault=not cond2)
    confirmed = buyer_wh if buyer_wh is not None else 0
    if confirmed < verdict.delivered:
        return Outcome(pb.DECLINED, pb.FINAL, pb.RELEASE_MISMATCH,
                       f"buyer's meter allocates {confirmed} Wh to the contract, {verdict.delivered} Wh attested",
                       buyer_fault=True)
    return Outcome(pb.SETTLED)


# ------------------------------------------------------------------ money
def pro_rata(contract: pb.Contract, delivered: int) -> tuple[int, int, int, int]:
    """(base, surcharge, fee, total) the buyer owes for `delivered` Wh: base and
    surcharge at the contract's price and penalty (units.trade_amounts), the
    wire fee pro rata of the contract's (its rate is not on the contract).
    Each part is at most the contract's, so the total never exceeds it."""
    base, surcharge, _, _ = u.trade_amounts(delivered, contract.price, contract.penalty, 0)
    fee = contract.wire_fee * delivered // contract.energy if contract.energy else 0
    return base, surcharge, fee, base + surcharge + fee


class _Wallets:
    def __init__(self, st: ReputationState) -> None:
        self.st = st
        self.touched: dict[str, pb.Wallet] = {}

    def __call__(self, public_key: str) -> pb.Wallet:
        if public_key not in self.touched:
            self.touched[public_key] = self.st.wallet_or_new(public_key)
        return self.touched[public_key]

    def write(self) -> None:
        for key in sorted(self.touched):
            self.st.put_wallet(self.touched[key])


def _release(st: ReputationState, contract: pb.Contract, outcome: Outcome, delivered: int,
             operator: str) -> Outcome:
    """Move the money of the outcome; returns it, turned into RELEASE_MISMATCH
    when condition 4 (the escrow covers payout + refund) fails."""
    wallet = _Wallets(st)
    buyer = wallet(contract.buyer)
    base, surcharge, fee, total = pro_rata(contract, delivered)
    if buyer.locked < contract.escrow:
        raise InvalidTransaction(f"contract: escrow {contract.escrow} µEUR exceeds the buyer's locked "
                                 f"{buyer.locked} µEUR (state is inconsistent)")
    # whatever sits in escrow leaves the buyer's locked now
    escrow, contract.escrow = contract.escrow, 0
    buyer.locked -= escrow
    if contract.credit:
        # condition 2 failed: the buyer owes `total` (its debt), the rest of its
        # credit hold is released; the system operator guarantees the seller
        # the delivered energy at the day's grid buy price, up to what it holds
        buyer.balance += escrow
        contract.refunded = escrow
        buyer.credit_used -= min(buyer.credit_used, contract.credit - min(contract.credit, total))
        contract.credit = min(contract.credit, total)
        guarantee = 0
        if contract.seller != operator:
            prices = st.grid_prices(contract.day)
            if prices is not None and len(prices.buy) > contract.hour:
                guarantee = delivered * prices.buy[contract.hour] // u.WH_PER_KWH
            guarantee = min(guarantee, wallet(operator).balance)
        if guarantee:
            wallet(operator).balance -= guarantee
            wallet(contract.seller).balance += guarantee
        contract.guarantee = contract.paid_base = guarantee
    elif total > escrow:
        # condition 4: the escrow cannot cover the release; nothing is paid out
        buyer.balance += escrow
        contract.refunded = escrow
        outcome = Outcome(pb.DECLINED, pb.FINAL, pb.RELEASE_MISMATCH,
                          f"escrow {escrow} µEUR does not cover the payout {total} µEUR")
    else:
        wallet(contract.seller).balance += base
        wallet(operator).balance += surcharge + fee
        buyer.balance += escrow - total
        contract.paid_base, contract.paid_surcharge, contract.paid_wire_fee = base, surcharge, fee
        contract.refunded = escrow - total
    wallet.write()
    return outcome


# ------------------------------------------------------------------ scores
class _Scores:
    """Score records updated by one transaction (one object per key)."""

    def __init__(self, st: ReputationState, settings: rpb.Settings) -> None:
        self.st = st
        self.settings = settings
        self.touched: dict[str, rpb.Score] = {}

    def __call__(self, public_key: str) -> rpb.Score:
        if public_key not in self.touched:
            self.touched[public_key] = self.st.score(public_key) or rpb.Score(
                public_key=public_key, score=self.settings.initial_score)
        return self.touched[public_key]

    def party(self, public_key: str, x: int, success: bool, day: int) -> int:
        record = self(public_key)
        record.score = qscore.party(record.score, x, self.settings)
        if success:
            if record.settled == 0 and record.first_day == 0:
                record.first_day = day  # the newcomer's grace runs from its first settled contract
            record.settled += 1
        else:
            record.faults += 1
        return record.score

    def member(self, public_key: str, x: int, is_leader: bool, validated: bool) -> int:
        record = self(public_key)
        before = record.score
        record.score = qscore.member(before, x, is_leader, self.settings)
        if validated:  # the cluster shares a declined trade's cost, but an honest vote
            record.score = qscore.honest_member_floor(before, record.score, self.settings)
        if validated:
            record.validated += 1
        else:
            record.missed += 1
        return record.score

    def write(self) -> None:
        for key in sorted(self.touched):
            self.st.put_score(self.touched[key])


def _judge_member(scores: _Scores, contract: pb.Contract, member: str, vote: rpb.Vote | None,
                  verdict: Verdict, x_outcome: int) -> int:
    """A member's update: with the verdict it validated (the outcome's |x|); against
    it, or absent, it did not (x_failure). Returns its updated score."""
    validated = vote is not None and not vote.absent and Verdict.of(vote) == verdict
    x = x_outcome if validated else scores.settings.x_failure
    return scores.member(member, x, member == contract.leader, validated)


# ------------------------------------------------------------------ closing a contract
def close(st: ReputationState, contract: pb.Contract, settings: rpb.Settings, operator: str, now: int,
          verdict: Verdict, by_expire: bool) -> tuple[pb.Contract, rpb.Settlement]:
    """Settle or decline an open contract on `verdict` (the quorum's, or the
    readings'), release its escrow and update the scores; written to `st`.

    Members who voted are judged against the verdict now. Members who have not
    voted are absent if this is `expire` (after the deadline); otherwise (the
    quorum settled it early) they may still attest until the deadline."""
    buyer_wh = allocation(st, contract, contract.buyer, False, operator)
    outcome = judge(contract, verdict, buyer_wh, settings)
    outcome = _release(st, contract, outcome, verdict.delivered, operator)

    contract.stage = outcome.stage
    contract.delivered = verdict.delivered
    contract.declined_at = outcome.declined_at
    contract.cause = outcome.cause
    contract.cause_detail = outcome.detail

    x = qscore.factor(settings, outcome.success)
    scores = _Scores(st, settings)
    involved: list[int] = []
    settlement = st.settlement(contract.day, contract.hour, contract.id) or rpb.Settlement(contract_id=contract.id)
    votes = {vote.member: vote for vote in settlement.votes}
    for member in contract.cluster:
        vote = votes.get(member)
        if vote is None and not by_expire:
            continue
        if vote is None:
            settlement.votes.append(rpb.Vote(member=member, absent=True))
        involved.append(_judge_member(scores, contract, member, vote, verdict, x))
    for key, at_fault in ((contract.seller, outcome.seller_fault), (contract.buyer, outcome.buyer_fault)):
        if key == operator and contract.grid:
            continue  # the grid side is the system operator: it has no Q-score at stake
        if outcome.success or at_fault:
            involved.append(scores.party(key, x, outcome.success, contract.day))
    scores.write()

    settlement.final = True
    settlement.qot = qscore.qot(involved)
    settlement.timestamp = now
    st.put_contract(contract)
    st.put_settlement(contract.day, contract.hour, settlement)
    return contract, settlement


def settled_verdict(contract: pb.Contract, settlement: rpb.Settlement) -> Verdict:
    """The verdict a final contract was settled on, to judge late votes by."""
    verdict = quorum_verdict(settlement.votes, contract.quorum)
    if verdict is not None:
        return verdict
    return Verdict(contract.delivered, contract.stage == pb.SETTLED or contract.cause != pb.BUYER_DEFAULT)


def judge_late_vote(st: ReputationState, contract: pb.Contract, settlement: rpb.Settlement, vote: rpb.Vote,
                    settings: rpb.Settings) -> None:
    """A member attests a contract the quorum has already settled (before the
    deadline): it is judged on arrival against the settled verdict."""
    scores = _Scores(st, settings)
    verdict = settled_verdict(contract, settlement)
    settlement.votes.append(vote)
    x = qscore.factor(settings, contract.stage == pb.SETTLED)
    settlement.qot += _judge_member(scores, contract, vote.member, vote, verdict, x)
    scores.write()
    st.put_settlement(contract.day, contract.hour, settlement)


def unjudged(contract: pb.Contract, settlement: rpb.Settlement | None) -> list[str]:
    """Members of a contract's cluster with no vote (nor absent marker) yet."""
    voted = {vote.member for vote in settlement.votes} if settlement is not None else set()
    return [member for member in contract.cluster if member not in voted]


def judge_absent(st: ReputationState, contract: pb.Contract, settlement: rpb.Settlement,
                 settings: rpb.Settings) -> None:
    """`expire` of a settled contract: members that never attested take x_failure."""
    scores = _Scores(st, settings)
    for member in unjudged(contract, settlement):
        settlement.votes.append(rpb.Vote(member=member, absent=True))
        settlement.qot += scores.member(member, settings.x_failure, member == contract.leader, False)
    scores.write()
    st.put_settlement(contract.day, contract.hour, settlement)


def needs_expire(contract: pb.Contract, settlement: rpb.Settlement | None, settings: rpb.Settings,
                 now: int) -> bool:
    """Whether `expire` of `contract` at chain time `now` would be accepted and do
    something (for clients choosing what to expire): past its deadline, and
    either still open or settled with members never judged."""
    if contract.stage == pb.STAGE_UNSET or now <= deadline(contract.day, contract.hour, settings):
        return False
    if contract.stage in OPEN_STAGES:
        return True
    return settlement is not None and bool(unjudged(contract, settlement))


def event(contract: pb.Contract, settlement: rpb.Settlement) -> tuple[str, list[tuple[str, str]], bytes]:
    return (OUTCOME_EVENT, [
        ("id", contract.id), ("stage", pb.Stage.Name(contract.stage)), ("cause", pb.DeclineCause.Name(contract.cause)),
        ("qot", str(settlement.qot)),
    ], contract.SerializeToString(deterministic=True))
