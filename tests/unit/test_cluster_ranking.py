"""The cluster draw from a precomputed ranking (`cluster.ranking` / `pool_ranking`
/ `draw_ranked`) picks exactly the cluster the README's four steps pick, for
any snapshot: duplicates, mis-ordered records, scores around min_score, the
seller and the buyer anywhere in it (or absent, or the same key)."""
from __future__ import annotations

import random

import pytest

from sawgrid.processors.reputation import cluster
from sawgrid.processors.reputation.settings import quorum
from sawgrid.protos import reputation_pb2 as rpb


def _by_the_steps(snapshot, contract_id, seller, buyer, min_score, cluster_size) -> cluster.Draw:
    """README, "The cluster draw", step by step: filter and sort the whole
    snapshot for this contract, cut the strata as lists, pick, lead."""
    pool = cluster.eligible(snapshot, min_score, (seller, buyer))
    m = min(cluster_size, len(pool))
    if m <= 0:
        return cluster.EMPTY
    members = [stratum[cluster.seed(contract_id, seller, buyer, str(k)) % len(stratum)][0]
               for k, stratum in enumerate(cluster.strata(pool, m))]
    chosen = tuple(sorted(members))
    return cluster.Draw(chosen, chosen[cluster.seed(contract_id, seller, buyer, cluster.LEADER_TAG) % m],
                        quorum(m))


def _snapshot(rng: random.Random, size: int) -> list[rpb.PoolEntry]:
    keys = [f"{rng.getrandbits(64):016x}" for _ in range(max(1, size // 2 + 1))]
    return [rpb.PoolEntry(public_key=rng.choice(keys), score=rng.choice([400_000, 500_000, 500_001, 900_000,
                                                                         rng.randrange(0, 2_000_000)]))
            for _ in range(size)]


@pytest.mark.parametrize("seed", range(300))
def test_ranked_draw_picks_what_the_steps_pick(seed):
    rng = random.Random(seed)
    snapshot = _snapshot(rng, rng.randrange(0, 40))
    keys = [e.public_key for e in snapshot] + ["absent-seller", "absent-buyer"]
    seller, buyer = rng.choice(keys), rng.choice(keys)
    if rng.random() < 0.1:
        buyer = seller
    min_score, size = rng.choice([0, 500_000, 900_000]), rng.choice([1, 2, 3, 5, 7])
    contract_id = f"20000/{rng.randrange(24)}/{rng.randrange(1000)}"
    expected = _by_the_steps(snapshot, contract_id, seller, buyer, min_score, size)
    assert cluster.draw(snapshot, contract_id, seller, buyer, min_score, size) == expected
    pool = rpb.Pool(snapshot=snapshot).SerializeToString(deterministic=True)
    ranked = cluster.pool_ranking(pool, min_score)
    assert cluster.draw_ranked(ranked, contract_id, seller, buyer, size) == expected


def test_a_large_pool_draws_the_same_from_one_ranking():
    rng = random.Random(7)
    snapshot = _snapshot(rng, 3000)
    ranked = cluster.ranking(snapshot, 500_000)
    for n in range(30):
        seller, buyer = snapshot[rng.randrange(3000)].public_key, snapshot[rng.randrange(3000)].public_key
        assert cluster.draw_ranked(ranked, f"20000/3/{n}", seller, buyer, 5) == \
            _by_the_steps(snapshot, f"20000/3/{n}", seller, buyer, 500_000, 5)


def test_no_record_ranks_nobody_and_bad_bytes_are_refused():
    assert cluster.pool_ranking(b"", 0).entries == ()
    assert cluster.draw_ranked(cluster.pool_ranking(b"", 0), "1/1/1", "a", "b", 5) == cluster.EMPTY
    with pytest.raises(cluster.BadPool):
        cluster.pool_ranking(b"\xff\xff\xff", 0)
