"""The enrollment family's on-chain settings and the rules built on them:
eq. 1 (the leader of a slot) and the quorum.

Pure functions, integers only, so every validator computes the same leader.
"""
from __future__ import annotations

from typing import Sequence

from sawgrid.processors.reputation.settings import quorum as _cluster_quorum
from sawgrid.protos import enrollment_pb2 as epb

DEFAULTS = epb.Settings(
    slot_seconds=10,        # τ: a devnet block every few seconds, so a leader has room for one
    set_size=4,             # n: quorum 3, tolerates one absent or lying verifier
    validity_days=3_650,    # issued certificates: ten years
)

MAX_SLOT_SECONDS = 86_400
MAX_SET_SIZE = 31
MAX_VALIDITY_DAYS = 36_500


def slot_at(now: int, t0: int, slot_seconds: int) -> int | None:
    """i of eq. 1 at chain time `now`: ⌊(now − T_0) / τ⌋ (None before T_0)."""
    if now < t0:
        return None
    return (now - t0) // slot_seconds


def slot_window(slot: int, t0: int, slot_seconds: int) -> tuple[int, int]:
    """[start, end) in chain seconds of slot `slot`."""
    start = t0 + slot * slot_seconds
    return start, start + slot_seconds


def leader(members: Sequence[str], slot: int) -> str:
    """Eq. 1: L_i = ((T_i − T_0) / τ) mod n over the set in canonical order."""
    return members[slot % len(members)]


def quorum(set_size: int) -> int:
    """Signatures (the leader's included) a block needs: ⌊2n/3⌋ + 1, as the
    reputation family's validation clusters."""
    return _cluster_quorum(set_size)
