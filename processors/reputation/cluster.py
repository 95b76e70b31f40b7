"""The cluster draw (clustered sampling): who validates a contract, and who leads.

Pure functions of chain data, integers only, so every validator draws the
same cluster (processors/reputation/README.md, "The cluster draw"). The
market draws at match; the reputation handler may re-derive a contract's
draw from the same inputs to check it.

    result = draw(pool.snapshot, contract.id, contract.seller, contract.buyer,
                  settings.min_score, settings.cluster_size)
    result.cluster, result.leader, result.quorum

The steps:

1. **eligible**: the snapshot's entries with `score >= min_score`, minus the
   contract's seller and buyer, ordered by score descending, then key (the
   snapshot's own order; re-sorted here so a mis-ordered record cannot change
   the outcome);
2. **strata**: eligible split, in that order, into `m = min(cluster_size,
   len(eligible))` strata whose sizes differ by at most one, the first strata
   taking the extra members (10 entries, m = 4: sizes 3, 3, 2, 2);
3. **members**: from stratum `k` (0-based) the entry at index
   `seed(contract_id, seller, buyer, str(k)) mod len(stratum)`; with at most
   `cluster_size` eligible entries every stratum has one entry, so every
   eligible entry is a member;
4. **leader**: the member at index `seed(contract_id, seller, buyer,
   "leader") mod m` of the cluster in canonical order (sorted by key), which is
   also the order the contract stores it in.

`seed(...)` is the sha512 of the parts joined by "|" (UTF-8), read as one
big-endian unsigned integer. The quorum is `settings.quorum(m)` (0 for an
empty cluster).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

from sawgrid.processors.reputation.settings import quorum as _quorum

SEPARATOR = "|"
LEADER_TAG = "leader"


class Entry(Protocol):
    """What the draw needs of a pool entry (`reputation_pb2.PoolEntry` has it)."""
    public_key: str
    score: int


@dataclass(frozen=True)
class Draw:
    cluster: tuple[str, ...]   # canonical (key) order; empty: settled by readings alone
    leader: str                # one of cluster ("" when empty)
    quorum: int                # matching attestations needed


EMPTY = Draw((), "", 0)


def seed(contract_id: str, seller: str, buyer: str, tag: str) -> int:
    """int(sha512("contract_id|seller|buyer|tag")), big-endian."""
    text = SEPARATOR.join((contract_id, seller, buyer, tag))
    return int.from_bytes(hashlib.sha512(text.encode("utf-8")).digest(), "big")


def eligible(snapshot: Iterable[Entry], min_score: int, exclude: Iterable[str]) -> list[tuple[str, int]]:
    """(key, score) of the entries that may sit in the cluster, best first (score
    descending, then key); each key once (the first, i.e. best, entry wins)."""
    excluded = set(exclude)
    ranked = sorted(((e.public_key, e.score) for e in snapshot), key=lambda ks: (-ks[1], ks[0]))
    out: list[tuple[str, int]] = []
    seen: set[str] = set()
    for key, score in ranked:
        if score >= min_score and key not in excluded and key not in seen:
            seen.add(key)
            out.append((key, score))
    return out


def strata(entries: Sequence, m: int) -> list[list]:
    """`entries` split in order into `m` consecutive strata of sizes differing by
    at most one, the first `len(entries) % m` strata one longer."""
    if m <= 0:
        return []
    size, extra = divmod(len(entries), m)
    out, start = [], 0
    for k in range(m):
        end = start + size + (1 if k < extra else 0)
        out.append(list(entries[start:end]))
        start = end
    return out


def draw(snapshot: Iterable[Entry], contract_id: str, seller: str, buyer: str,
         min_score: int, cluster_size: int) -> Draw:
    """The contract's validation cluster, its leader and its quorum."""
    pool = eligible(snapshot, min_score, (seller, buyer))
    m = min(cluster_size, len(pool))
    if m <= 0:
        return EMPTY
    members = []
    for k, stratum in enumerate(strata(pool, m)):
        key, _ = stratum[seed(contract_id, seller, buyer, str(k)) % len(stratum)]
        members.append(key)
    cluster = tuple(sorted(members))
    leader = cluster[seed(contract_id, seller, buyer, LEADER_TAG) % m]
    return Draw(cluster, leader, _quorum(m))
