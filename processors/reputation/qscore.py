"""Eq. 2 of Zaman & He (seed paper 001, II.C) in ppm integers: pure functions.

    (Q-score)_i = v_i + L_i + f(x_i, α)
    v_i = v_{i-1}·x_i        L_i = L_{i-1}·x_i³
    f(x, α) = (S + B)·x⁵ if x > 0;  S·x⁵ if x < 0, α = +1;  B·x⁵ if x < 0, α = −1

as README.md ("Q-score, eq. 2") reads it: the sign of x says success or
failure, its magnitude |x| (`x_success` or `x_failure`, ppm) is the
multiplier; a peer's score is multiplied by |x| once, the leader's three
times, a party's five times. Each multiplication floors
(`score · x // 1_000_000`), so every validator computes the same integers;
the result is then clamped to `[score_floor, score_cap]`.
"""
from __future__ import annotations

from sawgrid.protos import reputation_pb2 as rpb

PPM = 1_000_000

PEER_POWER = 1      # v_i = v_{i-1} · x
LEADER_POWER = 3    # L_i = L_{i-1} · x³
PARTY_POWER = 5     # f(x, α): S·x⁵ and/or B·x⁵


def factor(settings: rpb.Settings, success: bool) -> int:
    """|x_i|, ppm: x_success for a SETTLED contract, x_failure for a DECLINED one."""
    return settings.x_success if success else settings.x_failure


def power(score: int, x: int, n: int) -> int:
    """score · xⁿ in ppm, flooring after each of the n multiplications."""
    for _ in range(n):
        score = score * x // PPM
    return score


def clamp(score: int, settings: rpb.Settings) -> int:
    return max(settings.score_floor, min(settings.score_cap, score))


def updated(score: int, x: int, n: int, settings: rpb.Settings) -> int:
    """A score after one update with |x| to the power n, within the bounds."""
    return clamp(power(score, x, n), settings)


def peer(score: int, x: int, settings: rpb.Settings) -> int:
    return updated(score, x, PEER_POWER, settings)


def leader(score: int, x: int, settings: rpb.Settings) -> int:
    return updated(score, x, LEADER_POWER, settings)


def party(score: int, x: int, settings: rpb.Settings) -> int:
    return updated(score, x, PARTY_POWER, settings)


def member(score: int, x: int, is_leader: bool, settings: rpb.Settings) -> int:
    """A cluster member's update: the leader's power 3, a peer's power 1."""
    return updated(score, x, LEADER_POWER if is_leader else PEER_POWER, settings)


def honest_member_floor(before: int, after: int, settings: rpb.Settings) -> int:
    """A member that voted with the quorum may lose score over a declined trade
    (the paper punishes the cluster), but never down past `min_score`: another
    party's fault must not cost an honest participant its right to trade or its
    cluster seats. A score already below the minimum does not rise from this."""
    return max(after, min(before, settings.min_score))


def qot(updated_scores) -> int:
    """(Q-score)_i: the sum of the updated scores the transaction involves, ppm."""
    return sum(updated_scores)
