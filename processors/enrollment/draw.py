"""The verifier set's draw: clustered sampling over the volunteers, strata by
Q-score, with the reputation family's cluster draw (`reputation.cluster`).

    members, quorum = draw(volunteers, scores, next_set_id, seed_block, min_score, set_size)

* the entries are the volunteers with their reputation Q-score (a volunteer
  without a Score record has the initial score);
* `cluster.draw(entries, "enrollment/<next set id>", seed_block, "",
  min_score, set_size)`: eligible volunteers (Q-score >= min_score) ranked by
  score, split into `set_size` strata, one member drawn from each stratum by
  `int(sha512("enrollment/<id>|<seed_block>||<k>")) mod len(stratum)`;
* `seed_block` is the id (header signature) of the block the latest
  BlockInfo describes: chain data every validator has and no verifier chose;
* the members in canonical order (sorted by key) and the quorum ⌊2n/3⌋ + 1.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from sawgrid.processors.enrollment.settings import quorum
from sawgrid.processors.reputation import cluster

SEED_PREFIX = "enrollment/"


@dataclass(frozen=True)
class _Entry:
    public_key: str
    score: int


def draw(volunteers: Sequence[str], scores: Mapping[str, int], next_set_id: int, seed_block: str,
         min_score: int, set_size: int) -> tuple[tuple[str, ...], int]:
    """(members in canonical order, quorum); empty when no volunteer is eligible."""
    entries = [_Entry(key, scores[key]) for key in volunteers]
    result = cluster.draw(entries, f"{SEED_PREFIX}{next_set_id}", seed_block, "", min_score, set_size)
    return result.cluster, quorum(len(result.cluster)) if result.cluster else 0
