"""The settlement side of the experiment: who is malicious, the run's
reputation settings, and what reputation kept from being lost.

**Malicious participants** (`--malicious-sellers N`, `--malicious-buyers N`):
the N participants with the most surplus energy over the run are malicious
sellers: they offer and sell as everyone does, but their meter reads 0 Wh
exported (they never deliver). The N participants with the largest shortfall
among the others are malicious buyers: they buy on credit whenever the chain
lets them (Q-score at least credit_score, credit line free) and never pay;
otherwise they buy as everyone does. Both read their imports honestly and,
as cluster members, attest honestly: the attacks studied are the paper's two
(section III), not lying validators. Each scenario (and the baseline run)
gives them a fresh identity, so every scenario starts with their reputation
unspoiled, as the honest participants' does not matter to trading.

**Settings.** The run configures `experiment_settings()`: the defaults with
credit_score lowered to the initial score, so that a newcomer may buy on
credit at all (the default 1.2 needs about four settled trades first, which a
malicious buyer that only ever defaults never has). The baseline run,
"without reputation", configures `baseline_settings()`: eligibility disabled
(min_score 0: nobody is refused or loses a cluster seat; credit_score 0:
credit never ends on a score, only the credit line bounds it).

**Losses** (`contract_losses`), per final contract, of the honest parties and
the system operator, in µEUR, for d = the energy that moved:

* as settled on chain (escrow): a buyer pays for d only (pro rata); a
  defaulting buyer's seller gets the operator's guarantee (d at the grid buy
  price) and loses the rest of the contract's base for d; the operator loses
  the guarantee and its own surcharge and wire fee for d (all of it on a grid
  contract, where it is the seller); the unpaid amount stays on the
  defaulter's credit line as debt (`debt`, recoverable off-chain at best);
* paid at match (no settlement): the buyer pays the contract's total when it
  matches, whatever is delivered, so it loses `total - owed(d)`; a buyer on
  credit was to pay later and never does: its seller loses the base for d,
  the operator the surcharge and fee.

Energy lost is what was contracted and never delivered (`energy - d`); escrow
does not change it, only excluding the non-deliverers does.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sawgrid.clients.sdk import reputation
from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.processors.reputation import settle
from sawgrid.processors.reputation.settings import DEFAULTS
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos import reputation_pb2 as rpb

HONEST = "honest"
MALICIOUS_SELLER = "malicious seller"
MALICIOUS_BUYER = "malicious buyer"
STAGE_NAMES = {pb.EXECUTION: "execution", pb.FINAL: "final"}


def experiment_settings() -> rpb.Settings:
    """The defaults, with credit from the initial score on."""
    return reputation.settings_with(DEFAULTS, credit_score=DEFAULTS.initial_score)


def baseline_settings() -> rpb.Settings:
    """Eligibility disabled: nobody is refused, credit never ends on a score."""
    return reputation.settings_with(experiment_settings(), min_score=0, credit_score=0)


@dataclass(frozen=True)
class Roles:
    """Participant indexes of the malicious sellers and buyers (disjoint)."""
    sellers: tuple[int, ...] = ()
    buyers: tuple[int, ...] = ()

    @property
    def any(self) -> bool:
        return bool(self.sellers or self.buyers)

    def role(self, i: int) -> str:
        return MALICIOUS_SELLER if i in self.sellers else MALICIOUS_BUYER if i in self.buyers else HONEST

    def malicious(self) -> tuple[int, ...]:
        return tuple(sorted(self.sellers + self.buyers))


def choose_roles(surplus_wh: np.ndarray, shortfall_wh: np.ndarray, sellers: int, buyers: int) -> Roles:
    """The `sellers` participants with the most surplus over the run (ties: lower
    index first), then the `buyers` with the largest shortfall among the rest.
    Arrays are (participants, hours)."""
    if sellers < 0 or buyers < 0:
        raise SawgridError("--malicious-sellers and --malicious-buyers must not be negative")
    n = surplus_wh.shape[0]
    if sellers + buyers > n:
        raise SawgridError(f"--malicious-sellers {sellers} and --malicious-buyers {buyers}: only {n} participants")
    sold = surplus_wh.sum(axis=1)
    need = shortfall_wh.sum(axis=1)
    can_sell = [i for i in sorted(range(n), key=lambda i: (-int(sold[i]), i)) if sold[i] > 0]
    if len(can_sell) < sellers:
        raise SawgridError(f"--malicious-sellers {sellers}: only {len(can_sell)} participant(s) ever have surplus "
                           f"energy to sell in this data")
    chosen = tuple(sorted(can_sell[:sellers]))
    can_buy = [i for i in sorted(range(n), key=lambda i: (-int(need[i]), i)) if need[i] > 0 and i not in chosen]
    if len(can_buy) < buyers:
        raise SawgridError(f"--malicious-buyers {buyers}: only {len(can_buy)} other participant(s) ever need to "
                           f"buy energy in this data")
    return Roles(chosen, tuple(sorted(can_buy[:buyers])))


# --------------------------------------------------------------------------- losses

@dataclass
class Losses:
    """µEUR lost by honest buyers, honest sellers and the system operator; debt left on credit lines."""
    buyers: int = 0
    sellers: int = 0
    operator: int = 0
    debt: int = 0

    @property
    def total(self) -> int:
        return self.buyers + self.sellers + self.operator

    def add(self, other: "Losses") -> None:
        self.buyers += other.buyers
        self.sellers += other.sellers
        self.operator += other.operator
        self.debt += other.debt

    def as_dict(self) -> dict:
        return {"buyers_ueur": self.buyers, "sellers_ueur": self.sellers, "operator_ueur": self.operator,
                "total_ueur": self.total, "debt_ueur": self.debt}


def defaulted(c: pb.Contract) -> bool:
    return c.stage == pb.DECLINED and c.cause == pb.BUYER_DEFAULT


def settled_losses(c: pb.Contract, operator: str, honest) -> Losses:
    """What the contract's release on chain cost the honest parties and the operator."""
    base, surcharge, fee, total = settle.pro_rata(c, c.delivered)
    out = Losses()
    if defaulted(c):
        out.debt = c.credit
        if c.seller == operator:
            out.operator += total
        else:
            if honest(c.seller):
                out.sellers += base - c.guarantee
            out.operator += c.guarantee + surcharge + fee
        return out
    paid = c.paid_base + c.paid_surcharge + c.paid_wire_fee
    if honest(c.buyer) and c.buyer != operator:
        out.buyers += paid - total
    if honest(c.seller) and c.seller != operator:
        out.sellers += base - c.paid_base
    out.operator += (surcharge + fee) - (c.paid_surcharge + c.paid_wire_fee)
    return out


def pay_at_match_losses(c: pb.Contract, operator: str, honest) -> Losses:
    """The same contract had its money moved at match and nothing settled."""
    base, surcharge, fee, total = settle.pro_rata(c, c.delivered)
    out = Losses()
    if defaulted(c):            # bought on credit, never paid
        if c.seller == operator:
            out.operator += total
        else:
            if honest(c.seller):
                out.sellers += base
            out.operator += surcharge + fee
        return out
    if honest(c.buyer) and c.buyer != operator:
        out.buyers += c.total - total
    elif c.buyer == operator:
        out.operator += c.total - total   # the grid bought surplus that never came
    return out


def tally(contracts, operator: str, roles_of: dict[str, str]) -> dict:
    """Per run and scenario: outcomes by stage and cause, energy not delivered,
    and the losses under both accountings. `roles_of`: public key -> role
    (keys not in it, the operator's included, are honest)."""
    def honest(key: str) -> bool:
        return roles_of.get(key, HONEST) == HONEST

    outcome = {"settled": 0, "declined": 0, "open": 0}
    declined: dict[str, dict] = {}
    undelivered = {"total_wh": 0, "to_honest_buyers_wh": 0, "to_the_grid_wh": 0}
    settled, at_match = Losses(), Losses()
    traded_wh = delivered_wh = 0
    for c in contracts:
        if c.stage not in settle.FINAL_STAGES:
            outcome["open"] += 1
            continue
        traded_wh += c.energy
        delivered_wh += c.delivered
        if c.stage == pb.SETTLED:
            outcome["settled"] += 1
        else:
            outcome["declined"] += 1
            key = f"{STAGE_NAMES.get(c.declined_at, 'unset')}/{reputation.CAUSES.get(c.cause, 'unset')}"
            entry = declined.setdefault(key, {"stage": STAGE_NAMES.get(c.declined_at, "unset"),
                                              "cause": reputation.CAUSES.get(c.cause, "unset"),
                                              "contracts": 0, "energy_wh": 0, "delivered_wh": 0})
            entry["contracts"] += 1
            entry["energy_wh"] += c.energy
            entry["delivered_wh"] += c.delivered
        short = c.energy - c.delivered
        undelivered["total_wh"] += short
        if c.buyer == operator:
            undelivered["to_the_grid_wh"] += short
        elif honest(c.buyer):
            undelivered["to_honest_buyers_wh"] += short
        settled.add(settled_losses(c, operator, honest))
        at_match.add(pay_at_match_losses(c, operator, honest))
    return {"outcomes": outcome, "declined": [declined[k] for k in sorted(declined)],
            "traded_wh": traded_wh, "delivered_wh": delivered_wh, "undelivered": undelivered,
            "losses_settled": settled.as_dict(), "losses_pay_at_match": at_match.as_dict()}


def trades_before(contracts, key: str, day_hour: tuple[int, int] | None) -> int:
    """Contracts `key` was a party to in hours before `day_hour` (all, for None)."""
    return sum(1 for c in contracts if key in (c.seller, c.buyer)
               and (day_hour is None or (c.day, c.hour) < day_hour))
