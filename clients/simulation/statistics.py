"""The report's statistics from contracts, one code path for every source.

Per participant: energy bought and sold per hour (Wh, as contracted), money
paid and received (µEUR, as released: `as_settled`); per scenario: the
penalty surcharges paid and the number of contracts. The source is either
the chain's contracts (`pb.Contract`, read through the ledger: `--fast`, and
what a full-stack run checks against) or the ledger mirror's `contracts`
rows (`sawgrid sync`'s SQL tables, where stage and cause are the enum
names): `facts_of` turns either into the same `Facts`, and `tally` counts
them. The mirror's rows are given by the caller (clients/cli/simulate.py):
this package does not import clients.sync.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from sawgrid.processors.market.units import HOURS_PER_DAY
from sawgrid.processors.reputation import settle as rules
from sawgrid.protos import market_pb2 as pb

_STAGE = pb.Contract.DESCRIPTOR.fields_by_name["stage"].enum_type
_CAUSE = pb.Contract.DESCRIPTOR.fields_by_name["cause"].enum_type


@dataclass(frozen=True)
class Facts:
    """What the statistics read of one contract."""
    day: int
    hour: int
    buyer: str
    seller: str
    energy: int
    stage: int            # pb.ContractStage number
    cause: int            # pb.DeclineCause number
    total: int
    base: int
    surcharge: int
    paid_base: int
    paid_surcharge: int
    paid_wire_fee: int


def _number(enum, value) -> int:
    return enum.values_by_name[value].number if isinstance(value, str) else int(value)


def facts_of(c) -> Facts:
    """A `pb.Contract`, or a mirror row (anything with the `contracts` table's attributes)."""
    return Facts(int(c.day), int(c.hour), c.buyer, c.seller, int(c.energy), _number(_STAGE, c.stage),
                 _number(_CAUSE, c.cause), int(c.total), int(c.base), int(c.surcharge), int(c.paid_base),
                 int(c.paid_surcharge), int(c.paid_wire_fee))


def as_settled(c: Facts) -> tuple[int, int, int]:
    """(paid by the buyer, received by the seller, penalty surcharge paid) in µEUR:
    as released for a final contract (a defaulting buyer paid nothing; its
    seller got the operator's guarantee), as contracted for one not settled
    (a run without settlement)."""
    if c.stage not in rules.FINAL_STAGES:
        return c.total, c.base, c.surcharge
    if c.stage == pb.DECLINED and c.cause == pb.BUYER_DEFAULT:
        return 0, c.paid_base, 0
    return c.paid_base + c.paid_surcharge + c.paid_wire_fee, c.paid_base, c.paid_surcharge


@dataclass
class Tally:
    bought_wh: np.ndarray      # (participants, days*24)
    sold_wh: np.ndarray
    paid_ueur: np.ndarray      # (participants,)
    received_ueur: np.ndarray
    surcharge_ueur: int
    contracts: int

    def as_lists(self) -> dict:
        return {"bought_wh": self.bought_wh.tolist(), "sold_wh": self.sold_wh.tolist(),
                "paid_ueur": self.paid_ueur.tolist(), "received_ueur": self.received_ueur.tolist(),
                "surcharge_ueur": self.surcharge_ueur, "contracts": self.contracts}


def tally(days: Sequence[Iterable[Facts]], index: dict[str, int], n: int) -> Tally:
    """The statistics of a scenario: `days[d]` the contracts of its day d;
    `index` the participant row of each public key (others, the system
    operator's, count in `contracts` and nowhere else)."""
    bought = np.zeros((n, len(days) * HOURS_PER_DAY), dtype=np.int64)
    sold = np.zeros_like(bought)
    paid = np.zeros(n, dtype=np.int64)
    received = np.zeros(n, dtype=np.int64)
    surcharge = count = 0
    for d, contracts in enumerate(days):
        for c in contracts:
            count += 1
            slot = d * HOURS_PER_DAY + c.hour
            money_paid, money_received, money_surcharge = as_settled(c)
            if c.buyer in index:
                i = index[c.buyer]
                bought[i, slot] += c.energy
                paid[i] += money_paid
                surcharge += money_surcharge
            if c.seller in index:
                j = index[c.seller]
                sold[j, slot] += c.energy
                received[j] += money_received
    return Tally(bought, sold, paid, received, int(surcharge), count)
