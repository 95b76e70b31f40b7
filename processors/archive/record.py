"""The archive record of a day, computed from the market's records: pure and
deterministic (integers only, lists in a fixed order, protobuf serialized
deterministically), so the processor that writes it and the client that
verifies it (clients/sdk/archive.py) compute the same bytes.

    contracts = [contract, ...]          # hour by hour, each hour in HourIndex (creation) order
    record = build(day, contracts, penalties, grid, recommendations, system_operator,
                   previous=(day, digest) or None, transaction_id=...)
    record.digest == record_digest(record)

The rules, and why each number is what it is, are in README.md ("The record").
"""
from __future__ import annotations

import hashlib
from typing import Iterable, Sequence

from sawgrid.processors.market.units import HOURS_PER_DAY, NO_PENALTY, PERMILLE
from sawgrid.protos import archive_pb2 as pb
from sawgrid.protos import market_pb2 as mpb

PPM = 1_000_000
LENGTH_BYTES = 8          # each framed item: its length as 8 bytes, big-endian, then the bytes
FINAL_STAGES = (mpb.SETTLED, mpb.DECLINED)


def framed_digest(items: Iterable[bytes]) -> str:
    """Hex sha512 over `items`, each prefixed with its length (8 bytes, big-endian),
    so no two different lists of items hash the same stream."""
    h = hashlib.sha512()
    for item in items:
        h.update(len(item).to_bytes(LENGTH_BYTES, "big"))
        h.update(item)
    return h.hexdigest()


def canonical(message) -> bytes:
    return message.SerializeToString(deterministic=True)


def contracts_digest(contracts: Sequence[mpb.Contract]) -> str:
    """The digest over a day's contracts in canonical order (hour, then creation order)."""
    return framed_digest(canonical(c) for c in contracts)


def recommendations_digest(recommendations: Sequence[mpb.RecommendationRecord]) -> str:
    """The digest over a day's recommendations in the RecommendationIndex's order."""
    return framed_digest(canonical(r) for r in recommendations)


def record_digest(record: pb.DayArchive) -> str:
    """Hex sha512 of `record` serialized deterministically with `digest` cleared.
    It covers `previous_digest`, which makes the records a hash chain."""
    copy = pb.DayArchive()
    copy.CopyFrom(record)
    copy.digest = ""
    return hashlib.sha512(canonical(copy)).hexdigest()


def par_ppm(load: Sequence[int]) -> int:
    """The paper's PAR (avg/max, eq. 11) in ppm: Σ·1e6 // (24·max); 1e6 when nothing was bought."""
    peak = max(load)
    return PPM if peak == 0 else sum(load) * PPM // (HOURS_PER_DAY * peak)


def followed_permille(bought: Sequence[int], recommended: Sequence[int]) -> int:
    """Σ_h min(bought_h, recommended_h) · 1000 // Σ_h recommended_h; 1000 when nothing was recommended."""
    wanted = sum(recommended)
    if wanted == 0:
        return PERMILLE
    return sum(min(b, r) for b, r in zip(bought, recommended)) * PERMILLE // wanted


def hourly(values: Sequence[int]) -> list[int]:
    """A 24-value vector (a shorter one padded with zeros, a longer one cut)."""
    return [int(v) for v in values[:HOURS_PER_DAY]] + [0] * max(0, HOURS_PER_DAY - len(values))


def build(day: int, contracts: Sequence[mpb.Contract], penalties: mpb.Penalties | None,
          grid: mpb.GridPrices | None, recommendations: Sequence[mpb.RecommendationRecord],
          system_operator: str, previous: tuple[int, str] | None, transaction_id: str) -> pb.DayArchive:
    """The day's DayArchive, digest included. `contracts` must all be final
    (the caller checks, naming the first that is not)."""
    people: dict[str, pb.ParticipantDay] = {}
    bought: dict[str, list[int]] = {}

    def person(public_key: str) -> pb.ParticipantDay:
        if public_key not in people:
            people[public_key] = pb.ParticipantDay(public_key=public_key)
            bought[public_key] = [0] * HOURS_PER_DAY
        return people[public_key]

    traded = [0] * HOURS_PER_DAY
    load = [0] * HOURS_PER_DAY
    settled = declined = contracted = 0
    for c in contracts:
        energy = c.delivered
        buyer, seller = person(c.buyer), person(c.seller)
        operator = person(system_operator) if system_operator else None
        if c.grid:
            buyer.bought_grid_wh += energy
            seller.sold_grid_wh += energy
        else:
            buyer.bought_p2p_wh += energy
            seller.sold_p2p_wh += energy
        guarantee = min(c.guarantee, c.paid_base)
        buyer.paid_base += c.paid_base - guarantee
        buyer.paid_wire_fee += c.paid_wire_fee
        buyer.paid_surcharge += c.paid_surcharge
        seller.received_base += c.paid_base
        if operator is not None:
            operator.paid_guarantee += guarantee
            operator.received_wire_fee += c.paid_wire_fee
            operator.received_surcharge += c.paid_surcharge
        for party in (c.buyer,) if c.buyer == c.seller else (c.buyer, c.seller):
            people[party].contracts += 1
            if c.stage == mpb.DECLINED:
                people[party].declined += 1
        if c.stage == mpb.DECLINED:
            declined += 1
        else:
            settled += 1
        contracted += c.energy
        if c.hour < HOURS_PER_DAY:
            traded[c.hour] += energy
            bought[c.buyer][c.hour] += energy
            if c.buyer != system_operator:
                load[c.hour] += energy

    recommended_total = matched_total = 0
    for rec in recommendations:
        p = person(rec.public_key)
        schedule = hourly(rec.schedule)
        p.recommended = True
        p.recommended_wh = sum(schedule)
        p.followed_permille = followed_permille(bought[rec.public_key], schedule)
        recommended_total += p.recommended_wh
        matched_total += sum(min(b, r) for b, r in zip(bought[rec.public_key], schedule))

    record = pb.DayArchive(
        day=day,
        previous_day=previous[0] if previous else 0,
        previous_digest=previous[1] if previous else "",
        contracts_digest=contracts_digest(contracts),
        contracts=len(contracts), settled=settled, declined=declined, contracted_wh=contracted,
        traded_wh=traded, load_wh=load, par_ppm=par_ppm(load),
        penalties_set=penalties is not None,
        penalties=hourly(penalties.multipliers) if penalties is not None else [NO_PENALTY] * HOURS_PER_DAY,
        grid_prices_set=grid is not None,
        grid_buy=list(grid.buy) if grid is not None else [],
        grid_sell=list(grid.sell) if grid is not None else [],
        recommendations=len(recommendations),
        recommendations_digest=recommendations_digest(recommendations),
        recommended_wh=recommended_total,
        followed_permille=PERMILLE if recommended_total == 0 else matched_total * PERMILLE // recommended_total,
        system_operator=system_operator,
        participants=[people[k] for k in sorted(people)],
        transaction_id=transaction_id,
    )
    record.digest = record_digest(record)
    return record


def first_unfinal(contracts: Sequence[mpb.Contract]) -> mpb.Contract | None:
    """The first contract (in canonical order) that is neither SETTLED nor DECLINED."""
    for c in contracts:
        if c.stage not in FINAL_STAGES:
            return c
    return None


def stage_name(stage: int) -> str:
    try:
        return mpb.Stage.Name(stage)
    except ValueError:
        return str(stage)
