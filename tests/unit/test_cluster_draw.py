"""The cluster draw (processors/reputation/cluster.py), by hand-worked vectors.

Each vector spells out the steps of README.md's "The cluster draw": which
entries are eligible, how they split into strata, which index each stratum's
seed picks, and which member leads. `test_the_vectors_seeds` recomputes the
seeds' residues with hashlib, so the vectors follow from the spec and not
from the code under test.
"""
from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sawgrid.processors.reputation import cluster
from sawgrid.processors.reputation.settings import quorum
from sawgrid.protos import reputation_pb2 as rpb
from budget import examples

SELLER, BUYER = "seller", "buyer"
PPM = 1_000_000


def pool(*entries: tuple[str, int]) -> list[rpb.PoolEntry]:
    return [rpb.PoolEntry(public_key=k, score=s) for k, s in entries]


# v0 .. v9 with scores 1.9 .. 1.0: the snapshot's order is v0 first
TEN = pool(*((f"v{i}", 1_900_000 - 100_000 * i) for i in range(10)))


def sha_residue(contract_id: str, tag: str, modulus: int) -> int:
    digest = hashlib.sha512(f"{contract_id}|{SELLER}|{BUYER}|{tag}".encode()).hexdigest()
    return int(digest, 16) % modulus


@pytest.mark.parametrize("contract_id, tag, modulus, residue", [
    # 10 eligible, m = 4: strata of 3, 3, 2, 2
    ("20000/7/3", "0", 3, 0), ("20000/7/3", "1", 3, 1), ("20000/7/3", "2", 2, 0), ("20000/7/3", "3", 2, 0),
    ("20000/7/3", "leader", 4, 2),
    ("20000/7/4", "0", 3, 1), ("20000/7/4", "1", 3, 2), ("20000/7/4", "2", 2, 1), ("20000/7/4", "3", 2, 0),
    ("20000/7/4", "leader", 4, 2),
    # 9 eligible, m = 4: strata of 3, 2, 2, 2
    ("20000/7/5", "0", 3, 0), ("20000/7/5", "1", 2, 0), ("20000/7/5", "2", 2, 0), ("20000/7/5", "3", 2, 1),
    ("20000/7/5", "leader", 4, 0),
    # 2 eligible: m = 2
    ("20000/7/3", "leader", 2, 0),
])
def test_the_vectors_seeds(contract_id, tag, modulus, residue):
    """sha512("id|seller|buyer|tag") as a big-endian integer, mod the stratum (or cluster) size."""
    assert sha_residue(contract_id, tag, modulus) == residue
    assert cluster.seed(contract_id, SELLER, BUYER, tag) % modulus == residue


def test_ten_eligible_four_strata():
    # strata: [v0 v1 v2] [v3 v4 v5] [v6 v7] [v8 v9]; picks 0, 1, 0, 0 -> v0, v4, v6, v8; leader index 2 -> v6
    drawn = cluster.draw(TEN, "20000/7/3", SELLER, BUYER, min_score=500_000, cluster_size=4)
    assert drawn == cluster.Draw(("v0", "v4", "v6", "v8"), "v6", 3)
    # another contract id: picks 1, 2, 1, 0 -> v1, v5, v7, v8; leader index 2 -> v7
    drawn = cluster.draw(TEN, "20000/7/4", SELLER, BUYER, min_score=500_000, cluster_size=4)
    assert drawn == cluster.Draw(("v1", "v5", "v7", "v8"), "v7", 3)


def test_the_parties_and_low_scores_are_not_eligible():
    # the seller (score 1.85) and an entry below min_score leave v0..v8 eligible:
    # strata [v0 v1 v2] [v3 v4] [v5 v6] [v7 v8]; picks 0, 0, 0, 1 -> v0, v3, v5, v8; leader index 0 -> v0
    snapshot = [*TEN[:9], *pool((SELLER, 1_850_000), ("low", 499_999), (BUYER, 1_200_000))]
    drawn = cluster.draw(snapshot, "20000/7/5", SELLER, BUYER, min_score=500_000, cluster_size=4)
    assert drawn == cluster.Draw(("v0", "v3", "v5", "v8"), "v0", 3)
    assert cluster.eligible(snapshot, 500_000, (SELLER, BUYER)) == [(e.public_key, e.score) for e in TEN[:9]]


def test_fewer_eligible_than_the_cluster_size_all_serve():
    # a (2.0) and b (1.5) eligible; the buyer and c (0.4) are not: m = 2, leader index 0 -> a
    snapshot = pool(("a", 2 * PPM), (BUYER, 1_600_000), ("b", 1_500_000), ("c", 400_000))
    assert cluster.draw(snapshot, "20000/7/3", SELLER, BUYER, 500_000, 4) == cluster.Draw(("a", "b"), "a", 2)
    assert quorum(2) == 2 and quorum(1) == 1 and quorum(4) == 3 and quorum(7) == 5


def test_empty_clusters():
    assert cluster.draw([], "1/2/3", SELLER, BUYER, 0, 4) == cluster.EMPTY
    assert cluster.draw(TEN, "1/2/3", SELLER, BUYER, 0, 0) == cluster.EMPTY          # cluster_size 0
    assert cluster.draw(TEN, "1/2/3", SELLER, BUYER, 2 * PPM, 4) == cluster.EMPTY    # nobody good enough
    assert cluster.draw(pool((SELLER, PPM), (BUYER, PPM)), "1/2/3", SELLER, BUYER, 0, 4) == cluster.EMPTY
    assert cluster.EMPTY.quorum == 0 and cluster.EMPTY.leader == ""


def test_the_snapshots_order_does_not_matter_ties_go_by_key():
    # equal scores rank by key: z and y at 1.0 after x at 1.1 -> [x y z], m = 3, one each
    snapshot = pool(("z", PPM), ("x", 1_100_000), ("y", PPM))
    drawn = cluster.draw(snapshot, "20000/7/3", SELLER, BUYER, 0, 3)
    assert drawn.cluster == ("x", "y", "z")
    assert cluster.eligible(snapshot, 0, ()) == [("x", 1_100_000), ("y", PPM), ("z", PPM)]
    assert cluster.draw(list(reversed(TEN)), "20000/7/3", SELLER, BUYER, 500_000, 4) == \
        cluster.draw(TEN, "20000/7/3", SELLER, BUYER, 500_000, 4)


def test_strata_sizes_differ_by_at_most_one_first_ones_longer():
    assert [len(s) for s in cluster.strata(list(range(10)), 4)] == [3, 3, 2, 2]
    assert [len(s) for s in cluster.strata(list(range(9)), 4)] == [3, 2, 2, 2]
    assert cluster.strata(list(range(5)), 2) == [[0, 1, 2], [3, 4]]
    assert cluster.strata([], 3) == [[], [], []] and cluster.strata([1], 0) == []


keys = st.sampled_from([f"k{i}" for i in range(12)] + [SELLER, BUYER])
snapshots = st.lists(st.builds(rpb.PoolEntry, public_key=keys, score=st.integers(0, 3 * PPM)), max_size=14)


@settings(max_examples=examples(500), deadline=None)
@given(snapshot=snapshots, seq=st.integers(1, 10**6), min_score=st.integers(0, 2 * PPM), size=st.integers(0, 7))
def test_draw_properties(snapshot, seq, min_score, size):
    contract_id = f"20000/3/{seq}"
    drawn = cluster.draw(snapshot, contract_id, SELLER, BUYER, min_score, size)
    eligible = {k for k, _ in cluster.eligible(snapshot, min_score, (SELLER, BUYER))}
    assert SELLER not in drawn.cluster and BUYER not in drawn.cluster   # never the parties
    assert set(drawn.cluster) <= eligible
    assert list(drawn.cluster) == sorted(set(drawn.cluster))           # canonical, unique
    assert len(drawn.cluster) == min(size, len(eligible))
    assert (drawn.leader in drawn.cluster) == bool(drawn.cluster)
    assert drawn.quorum == quorum(len(drawn.cluster))
    assert cluster.draw(list(reversed(snapshot)), contract_id, SELLER, BUYER, min_score, size) == drawn
