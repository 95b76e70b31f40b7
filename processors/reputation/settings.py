"""The reputation family's on-chain settings: defaults and their checks' bounds.

An operator changes them with `configure`; a chain without a reputation
Config uses DEFAULTS (devnet's genesis writes them). Fixed point: ppm.
"""
from __future__ import annotations

from sawgrid.protos import reputation_pb2 as rpb

PPM = 1_000_000
HOUR_SECONDS = 3_600
DAY_SECONDS = 86_400

DEFAULTS = rpb.Settings(
    initial_score=1 * PPM,          # 1.0
    x_success=1_010_000,            # 1.01: peers ×1.01, leader ×1.0303, parties ×1.0510
    x_failure=900_000,              # 0.9: peers ×0.9, leader ×0.729, party at fault ×0.5905
    min_score=500_000,              # 0.5: two failed deliveries from the initial score fall below it
    grace_days=7,
    score_floor=1_000,              # 0.001
    score_cap=1_000 * PPM,          # 1000.0
    cluster_size=4,                 # quorum 3: tolerates one absent or lying member
    credit_score=1_200_000,         # 1.2: about four settled trades as a party
    credit_limit=50_000_000,        # 50 EUR
    settle_window=DAY_SECONDS,
    tolerance=0,                    # permille
)


def quorum(cluster_size: int) -> int:
    """Matching attestations needed from a cluster of `cluster_size`: ⌊2m/3⌋ + 1 (0 for none)."""
    return 0 if cluster_size == 0 else 2 * cluster_size // 3 + 1
