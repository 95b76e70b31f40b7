"""Eq. 2 in ppm integers (processors/reputation/qscore.py), against vectors
computed by hand: each multiplication floors, the power is repeated
multiplication, the bounds clamp the end result."""
from __future__ import annotations

import pytest

from sawgrid.processors.reputation import qscore
from sawgrid.processors.reputation.settings import DEFAULTS
from sawgrid.protos import reputation_pb2 as rpb

S = DEFAULTS          # x_success 1.01, x_failure 0.9, floor 0.001, cap 1000
UP, DOWN = 1_010_000, 900_000


def test_factor_is_the_outcome_multiplier():
    assert qscore.factor(S, True) == UP and qscore.factor(S, False) == DOWN


@pytest.mark.parametrize("fn, score, x, expected", [
    # 1.0 · 1.01 = 1.01
    (qscore.peer, 1_000_000, UP, 1_010_000),
    # 1.0 → 1.01 → 1.0201 → 1.030301
    (qscore.leader, 1_000_000, UP, 1_030_301),
    # … → 1.04060401 (floored to 1_040_604) → 1_051_010.04 → 1_051_010
    (qscore.party, 1_000_000, UP, 1_051_010),
    (qscore.peer, 1_000_000, DOWN, 900_000),
    # 0.9, 0.81, 0.729
    (qscore.leader, 1_000_000, DOWN, 729_000),
    # 0.6561, 0.59049
    (qscore.party, 1_000_000, DOWN, 590_490),
    # 123_457 · 0.9 = 111_111.3 → 111_111; 99_999.9 → 99_999; 89_999.1 → 89_999
    # (x³ first would give 123_457 · 0.729 = 90_000.153 → 90_000: the order matters)
    (qscore.leader, 123_457, DOWN, 89_999),
    # 777_777 → 785_554.77 → 793_409.54 → 801_343.09 → 809_356.43 → 817_449.56
    (qscore.party, 777_777, UP, 817_449),
    # 1_500 → 1_350 → 1_215 → 1_093.5 → 983.7 → 884.7: floored at every step to 884, then clamped to the floor
    (qscore.party, 1_500, DOWN, 1_000),
    # the floor itself stays put on failure (900 → clamped back)
    (qscore.peer, 1_000, DOWN, 1_000),
])
def test_vectors(fn, score, x, expected):
    assert fn(score, x, S) == expected


def test_power_floors_each_step():
    assert qscore.power(1_093, DOWN, 1) == 983          # 983.7
    assert qscore.power(1_500, DOWN, 5) == 884


def test_cap_clamps():
    capped = rpb.Settings()
    capped.CopyFrom(S)
    capped.score_cap = 1_050_000
    assert qscore.party(1_000_000, UP, capped) == 1_050_000
    assert qscore.leader(1_000_000, UP, capped) == 1_030_301  # below the cap: untouched


def test_member_uses_the_role_power():
    assert qscore.member(1_000_000, UP, True, S) == 1_030_301
    assert qscore.member(1_000_000, UP, False, S) == 1_010_000


def test_qot_of_a_settled_and_a_declined_trade():
    # settled: three peers, the leader, seller and buyer, all at 1.0
    # 3 · 1_010_000 + 1_030_301 + 2 · 1_051_010 = 6_162_321
    peers = [qscore.peer(1_000_000, UP, S) for _ in range(3)]
    parties = [qscore.party(1_000_000, UP, S) for _ in range(2)]
    assert qscore.qot([*peers, qscore.leader(1_000_000, UP, S), *parties]) == 6_162_321
    # declined, the seller at fault (alpha = +1): 3 · 900_000 + 729_000 + 590_490 = 4_019_490
    peers = [qscore.peer(1_000_000, DOWN, S) for _ in range(3)]
    assert qscore.qot([*peers, qscore.leader(1_000_000, DOWN, S), qscore.party(1_000_000, DOWN, S)]) == 4_019_490


def test_integers_only():
    for value in (qscore.party(999_999, UP, S), qscore.leader(1, DOWN, S), qscore.qot([1, 2])):
        assert type(value) is int
