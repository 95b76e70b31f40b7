"""The in-process ledger's committed state keeps its addresses in order for
prefix queries: whatever changes it (batches, or a test writing the dict),
`items(prefix)` is what filtering the sorted state gives."""
from __future__ import annotations

import random

import pytest

from sawgrid.processors.inprocess import CommittedState, InProcessLedger, unsigned_transaction
from sawgrid.processors.kv.addresses import KV, kv_address
from sawgrid.processors.kv.handler import KvHandler
from sawgrid.protos.kv_pb2 import KvPayload


def _by_sorting(state: dict, prefix: str) -> dict:
    return {a: state[a] for a in sorted(state) if a.startswith(prefix)}


@pytest.mark.parametrize("seed", range(20))
def test_prefix_queries_follow_every_kind_of_change(seed):
    rng = random.Random(seed)
    state, plain = CommittedState({f"{rng.getrandbits(12):03x}": b"0" for _ in range(50)}), {}
    plain.update(state)

    def key() -> str:
        return f"{rng.getrandbits(12):03x}"

    for _ in range(600):
        roll = rng.random()
        k = key()
        if roll < 0.4:
            state[k] = plain[k] = b"set"
        elif roll < 0.5:
            assert state.pop(k, None) == plain.pop(k, None)
        elif roll < 0.55 and k in plain:
            del state[k], plain[k]
        elif roll < 0.6:
            extra = {key(): b"u" for _ in range(3)}
            state.update(extra)
            plain.update(extra)
        elif roll < 0.62:
            assert state.setdefault(k, b"d") == plain.setdefault(k, b"d")
        elif roll < 0.63 and plain:
            address, _ = state.popitem()
            del plain[address]
        elif roll < 0.635:
            state.clear()
            plain.clear()
        else:
            prefix = key()[:rng.randrange(4)]
            assert state.keys_under(prefix) == list(_by_sorting(plain, prefix))
    assert state == plain


def _put(key: str, value: bytes):
    payload = KvPayload(action=KvPayload.SET, key=key, value=value).SerializeToString()
    return unsigned_transaction(KV.name, "1.0", payload, [kv_address(key)], [kv_address(key)], "02" + "ab" * 32)


def test_items_sees_batches_direct_writes_and_a_replaced_state():
    ledger = InProcessLedger([KvHandler()])
    for name in ("b", "a", "c"):
        assert ledger.apply(_put(name, name.encode()))
    namespace = KV.namespace
    assert list(ledger.items(namespace)) == sorted(kv_address(n) for n in "abc")
    ledger.state[namespace + "0" * 64] = b"direct"          # a test writing the dict
    assert ledger.items(namespace) == _by_sorting(ledger.state, namespace)
    ledger.state = {kv_address("z"): b"z"}                   # a test replacing it
    assert isinstance(ledger.state, CommittedState)
    assert ledger.items(namespace) == {kv_address("z"): b"z"} and ledger.items("ff") == {}
