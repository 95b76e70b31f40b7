"""What the pages read from the SQL mirror (clients/sync/models.py).

Totals (spent, earned, fees, penalties, net) are never computed here: they
come from `clients.sync.statement`, the code behind `sawgrid statement`.
Contracts count in their newest version, as the statement counts them (the
archive prunes archived days' contracts from state; the mirror keeps their
last version)."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

from sqlalchemy import Engine, and_, func, or_, select
from sqlalchemy.orm import Session

from sawgrid.clients.sync import models as m
from sawgrid.clients.sync import statement as st
from sawgrid.par_engine.metrics import par_exact

HOURS = 24
NEUTRAL_PENALTY = 1000    # permille: ×1.000, no penalty


def newest(model, *where):
    """SELECT of `model`'s newest version per natural key among rows matching `where`."""
    keys = [getattr(model, k) for k in model.natural_key]
    latest = (select(*keys, func.max(model.start_block).label("start_block")).where(*where)
              .group_by(*keys).subquery())
    on = and_(*(getattr(model, k) == latest.c[k] for k in model.natural_key),
              model.start_block == latest.c.start_block)
    return select(model).join(latest, on)


def head(engine: Engine) -> int | None:
    with Session(engine) as conn:
        return conn.execute(select(func.max(m.Block.block_num))).scalar()


def contract_days(engine: Engine) -> list[int]:
    with Session(engine) as conn:
        return [d for (d,) in conn.execute(select(m.Contract.day).distinct().order_by(m.Contract.day))]


def hourly_traded(engine: Engine, day: int) -> tuple[list[int], list[int]]:
    """(P2P Wh, grid Wh) contracted in each hour of `day`."""
    p2p, grid = [0] * HOURS, [0] * HOURS
    with Session(engine) as conn:
        for c in conn.execute(newest(m.Contract, m.Contract.day == day)).scalars():
            (grid if c.grid else p2p)[c.hour] += c.energy
    return p2p, grid


@dataclass(frozen=True)
class DayPar:
    day: int
    par: float            # mean / peak of the hourly contracted energy (par_engine.metrics)
    penalties: bool       # penalties other than ×1 were in force that day


def daily_par(engine: Engine) -> list[DayPar]:
    """The PAR (par_engine.metrics) of each day's hourly contracted energy."""
    latest = (select(m.Contract.contract_id, func.max(m.Contract.start_block).label("start_block"))
              .group_by(m.Contract.contract_id).subquery())
    query = (select(m.Contract.day, m.Contract.hour, func.sum(m.Contract.energy))
             .join(latest, and_(m.Contract.contract_id == latest.c.contract_id,
                                m.Contract.start_block == latest.c.start_block))
             .group_by(m.Contract.day, m.Contract.hour))
    load: dict[int, list[int]] = defaultdict(lambda: [0] * HOURS)
    with Session(engine) as conn:
        for day, hour, wh in conn.execute(query):
            load[day][hour] = int(wh or 0)
        penalised = {d for (d,) in conn.execute(
            select(m.Penalty.day).where(m.Penalty.multiplier != NEUTRAL_PENALTY).distinct())}
    return [DayPar(day, float(par_exact(series)), day in penalised)
            for day, series in sorted(load.items()) if sum(series) > 0]


def grid_prices(engine: Engine, day: int) -> tuple[list[int | None], list[int | None]]:
    """(buy, sell) µEUR/kWh per hour; None where the operator set none."""
    buy: list[int | None] = [None] * HOURS
    sell: list[int | None] = [None] * HOURS
    with Session(engine) as conn:
        for g in conn.execute(newest(m.GridPrice, m.GridPrice.day == day)).scalars():
            buy[g.hour], sell[g.hour] = g.buy, g.sell
    return buy, sell


def p2p_prices(engine: Engine, day: int) -> list[int | None]:
    """Energy-weighted mean price of each hour's P2P contracts (µEUR/kWh)."""
    energy, value = [0] * HOURS, [0] * HOURS
    with Session(engine) as conn:
        for c in conn.execute(newest(m.Contract, m.Contract.day == day, m.Contract.grid.is_(False))).scalars():
            energy[c.hour] += c.energy
            value[c.hour] += c.energy * c.price
    return [value[h] // energy[h] if energy[h] else None for h in range(HOURS)]


def archive_days(engine: Engine) -> list[m.ArchiveDay]:
    with Session(engine) as conn:
        return list(conn.execute(newest(m.ArchiveDay).order_by(m.ArchiveDay.day)).scalars())


def trades(engine: Engine, public_key: str, first: int | None, last: int | None, side: str, stage: str,
           limit: int) -> tuple[list[m.Contract], int]:
    """A member's contracts (newest version), filtered; (the first `limit`, how many matched)."""
    where = [or_(m.Contract.buyer == public_key, m.Contract.seller == public_key)]
    if side == "bought":
        where = [m.Contract.buyer == public_key]
    elif side == "sold":
        where = [m.Contract.seller == public_key]
    if first is not None:
        where.append(m.Contract.day >= first)
    if last is not None:
        where.append(m.Contract.day <= last)
    with Session(engine) as conn:
        rows = list(conn.execute(newest(m.Contract, *where)
                                 .order_by(m.Contract.day, m.Contract.hour, m.Contract.contract_id)).scalars())
    if stage == "settled":
        rows = [c for c in rows if st.is_settled(c.stage)]
    elif stage == "pending":
        rows = [c for c in rows if not st.is_settled(c.stage)]
    elif stage == "declined":
        rows = [c for c in rows if c.stage == "DECLINED"]
    return rows[:limit], len(rows)


def months(statement: st.Statement) -> dict[str, st.Totals]:
    """The statement's days summed by calendar month ('2026-03')."""
    from sawgrid.clients.sdk.market import day_text

    found: dict[str, st.Totals] = {}
    for day, totals in sorted(statement.days.items()):
        found.setdefault(day_text(day)[:7], st.Totals()).add(totals)
    return found


def recommended_vs_bought(engine: Engine, public_key: str, day: int) -> tuple[list[int | None], list[int]]:
    """(recommended Wh per hour, None where none; Wh bought per hour as contracted)."""
    recommended: list[int | None] = [None] * HOURS
    bought = [0] * HOURS
    with Session(engine) as conn:
        for r in conn.execute(newest(m.Recommendation, m.Recommendation.public_key == public_key,
                                     m.Recommendation.day == day)).scalars():
            recommended[r.hour] = r.energy
        for c in conn.execute(newest(m.Contract, m.Contract.buyer == public_key, m.Contract.day == day)).scalars():
            bought[c.hour] += c.energy
    return recommended, bought


def recommendation_days(engine: Engine, public_key: str) -> list[int]:
    with Session(engine) as conn:
        return [d for (d,) in conn.execute(select(m.Recommendation.day).where(
            m.Recommendation.public_key == public_key).distinct().order_by(m.Recommendation.day))]


def score_history(engine: Engine, public_key: str) -> list[m.ReputationScore]:
    """Every version of the member's Q-score record, oldest first."""
    with Session(engine) as conn:
        return list(conn.execute(select(m.ReputationScore).where(m.ReputationScore.public_key == public_key)
                                 .order_by(m.ReputationScore.start_block)).scalars())


@dataclass(frozen=True)
class Outcome:
    contract: m.Contract
    settlement: m.ReputationSettlement | None


def settlement_outcomes(engine: Engine, public_key: str, limit: int) -> list[Outcome]:
    """The member's settled and declined contracts with their settlement record."""
    where = [or_(m.Contract.buyer == public_key, m.Contract.seller == public_key),
             m.Contract.stage.in_(st.FINAL_STAGES)]
    with Session(engine) as conn:
        contracts = list(conn.execute(newest(m.Contract, *where).order_by(
            m.Contract.day.desc(), m.Contract.hour.desc()).limit(limit)).scalars())
        ids = [c.contract_id for c in contracts]
        settlements = {s.contract_id: s for s in conn.execute(newest(
            m.ReputationSettlement, m.ReputationSettlement.contract_id.in_(ids))).scalars()} if ids else {}
    return [Outcome(c, settlements.get(c.contract_id)) for c in contracts]


def declined_contracts(engine: Engine, limit: int) -> list[m.Contract]:
    with Session(engine) as conn:
        return list(conn.execute(newest(m.Contract, m.Contract.stage == "DECLINED").order_by(
            m.Contract.day.desc(), m.Contract.hour.desc()).limit(limit)).scalars())


def names(engine: Engine, keys: Sequence[str]) -> dict[str, str]:
    if not keys:
        return {}
    with Session(engine) as conn:
        return {p.public_key: p.name for p in conn.execute(newest(
            m.Participant, m.Participant.public_key.in_(list(set(keys))))).scalars()}
