"""A participant's statement, read from the mirror's current contracts.

Per delivery day and in total: energy bought and sold (Wh), what the key
spent on energy bought and earned on energy sold, the wire fees and the
penalty surcharges it paid as a buyer (µEUR), and net = earned − spent −
fees − penalties.

Only what has been settled counts:

| contract stage | counted as |
|---|---|
| unset (a market without settlement: money moves at match) | `energy`; `base`, `wire_fee`, `surcharge` |
| SETTLED, DECLINED | `delivered`; `paid_base` to the seller (from escrow or the system operator's guarantee), of which the buyer paid `paid_base − guarantee`; `paid_wire_fee`, `paid_surcharge` |
| PREPARED, EXECUTION (and anything else) | pending: listed, not counted |

Each contract counts in its newest version, also when that version has
ended without a successor: the archive family prunes the contracts of
archived days from state, and they stay in the statement as they were last.

The system operator's income from fees and surcharges is not part of its
statement: these are the amounts a participant moves as buyer and seller.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterable

from sqlalchemy import Engine, and_, func, or_, select
from sqlalchemy.orm import Session

from sawgrid.clients.sync import models as m

FINAL_STAGES = ("SETTLED", "DECLINED")
AT_MATCH = "STAGE_UNSET"


@dataclass
class Totals:
    contracts: int = 0
    bought_wh: int = 0
    sold_wh: int = 0
    spent: int = 0          # µEUR
    earned: int = 0
    fees: int = 0
    penalties: int = 0

    @property
    def net(self) -> int:
        return self.earned - self.spent - self.fees - self.penalties

    def add(self, other: "Totals") -> None:
        for name in ("contracts", "bought_wh", "sold_wh", "spent", "earned", "fees", "penalties"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_json(self) -> dict:
        return {**asdict(self), "net": self.net}


@dataclass(frozen=True)
class PendingContract:
    contract_id: str
    day: int
    hour: int
    side: str               # "bought" or "sold"
    energy: int             # Wh, as contracted
    total: int              # µEUR, as contracted (buyer's side)
    stage: str
    escrow: int


@dataclass
class Statement:
    public_key: str
    from_day: int | None
    to_day: int | None
    block_num: int | None   # the mirror's head when read
    days: dict[int, Totals] = field(default_factory=dict)
    total: Totals = field(default_factory=Totals)
    pending: list[PendingContract] = field(default_factory=list)


def contract_totals(c, public_key: str) -> Totals:
    """What one settled contract counts for `public_key` (see the module docstring)."""
    if c.stage == AT_MATCH:
        energy, to_seller, from_buyer, fees, surcharge = c.energy, c.base, c.base, c.wire_fee, c.surcharge
    else:
        energy, to_seller = c.delivered, c.paid_base
        from_buyer, fees, surcharge = c.paid_base - c.guarantee, c.paid_wire_fee, c.paid_surcharge
    t = Totals(contracts=1)
    if c.buyer == public_key:
        t.bought_wh, t.spent, t.fees, t.penalties = energy, from_buyer, fees, surcharge
    if c.seller == public_key:
        t.sold_wh, t.earned = energy, to_seller
    return t


def is_settled(stage: str) -> bool:
    return stage == AT_MATCH or stage in FINAL_STAGES


def build(contracts: Iterable, public_key: str, from_day: int | None = None, to_day: int | None = None,
          block_num: int | None = None) -> Statement:
    """The statement from contract rows (anything with the `contracts`
    table's attributes)."""
    st = Statement(public_key, from_day, to_day, block_num)
    for c in sorted(contracts, key=lambda c: (c.day, c.hour, c.contract_id)):
        if is_settled(c.stage):
            t = contract_totals(c, public_key)
            st.days.setdefault(c.day, Totals()).add(t)
            st.total.add(t)
        else:
            st.pending.append(PendingContract(
                c.contract_id, c.day, c.hour, "bought" if c.buyer == public_key else "sold",
                c.energy, c.total, c.stage, c.escrow))
    return st


def read(engine: Engine, public_key: str, from_day: int | None = None, to_day: int | None = None) -> Statement:
    """The statement of `public_key` as the mirror has it now."""
    mine = [or_(m.Contract.buyer == public_key, m.Contract.seller == public_key)]
    if from_day is not None:
        mine.append(m.Contract.day >= from_day)
    if to_day is not None:
        mine.append(m.Contract.day <= to_day)
    newest = (select(m.Contract.contract_id, func.max(m.Contract.start_block).label("start_block"))
              .where(*mine).group_by(m.Contract.contract_id).subquery())
    query = select(m.Contract).join(newest, and_(m.Contract.contract_id == newest.c.contract_id,
                                                 m.Contract.start_block == newest.c.start_block))
    with Session(engine) as session:
        head = session.execute(select(m.Block.block_num).order_by(m.Block.block_num.desc()).limit(1)).scalar()
        contracts = list(session.execute(query).scalars())
    return build(contracts, public_key, from_day, to_day, head)
