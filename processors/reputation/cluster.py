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

Step 1 does not depend on the contract but for leaving out its two parties,
so it is computed once per snapshot (`ranking`, memoized on the Pool
record's bytes by `pool_ranking`) and each draw (`draw_ranked`) only skips
the seller's and the buyer's places in it: the same eligible list, without
sorting the whole pool for every contract (at 10,000 volunteers that sort
was about 75 ms per contract).
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import Iterable, Protocol, Sequence

from google.protobuf.message import DecodeError

from sawgrid.processors.reputation.settings import quorum as _quorum
from sawgrid.protos import reputation_pb2 as rpb

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


@dataclass(frozen=True)
class Ranking:
    """Step 1 for every contract at once: `eligible(snapshot, min_score, ())`
    and each key's place in it. Leaving a contract's seller and buyer out of
    it gives exactly `eligible(snapshot, min_score, (seller, buyer))`: a key's
    own entries alone decide whether and where it appears."""
    entries: tuple[tuple[str, int], ...]
    places: dict[str, int] = field(compare=False, repr=False)


def ranking(snapshot: Iterable[Entry], min_score: int) -> Ranking:
    entries = tuple(eligible(snapshot, min_score, ()))
    return Ranking(entries, {key: i for i, (key, _) in enumerate(entries)})


class BadPool(ValueError):
    """The Pool record's bytes do not decode (state is inconsistent)."""


@functools.lru_cache(maxsize=8)
def pool_ranking(pool_bytes: bytes, min_score: int) -> Ranking:
    """`ranking` of a serialized Pool record's snapshot (b"": no record),
    memoized: the snapshot changes once a day, contracts are drawn from it
    all day. Raises BadPool if the bytes are not a Pool."""
    try:
        pool = rpb.Pool.FromString(pool_bytes)
    except DecodeError:
        raise BadPool("state at the pool address is not a Pool") from None
    return ranking(pool.snapshot, min_score)


def draw(snapshot: Iterable[Entry], contract_id: str, seller: str, buyer: str,
         min_score: int, cluster_size: int) -> Draw:
    """The contract's validation cluster, its leader and its quorum."""
    return draw_ranked(ranking(snapshot, min_score), contract_id, seller, buyer, cluster_size)


def draw_ranked(ranked: Ranking, contract_id: str, seller: str, buyer: str, cluster_size: int) -> Draw:
    """`draw` from the snapshot's `ranking`: steps 2-4 on the ranking without the
    seller's and the buyer's places, indexed without copying it."""
    skipped = sorted({ranked.places[key] for key in (seller, buyer) if key in ranked.places})
    size = len(ranked.entries) - len(skipped)
    m = min(cluster_size, size)
    if m <= 0:
        return EMPTY
    members = []
    share, extra = divmod(size, m)        # the strata's sizes, as strata() cuts them
    start = 0
    for k in range(m):
        length = share + (1 if k < extra else 0)
        place = start + seed(contract_id, seller, buyer, str(k)) % length
        for skip in skipped:               # the place-th entry of what is left -> its place in the ranking
            if skip <= place:
                place += 1
        members.append(ranked.entries[place][0])
        start += length
    cluster = tuple(sorted(members))
    leader = cluster[seed(contract_id, seller, buyer, LEADER_TAG) % m]
    return Draw(cluster, leader, _quorum(m))
