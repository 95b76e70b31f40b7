"""The in-process ledger's committed state, in a dict (`CommittedState`) or on
disk (`DiskState`), keeps its addresses in order for prefix queries: whatever
changes it (batches, or a test writing the mapping), `items(prefix)` is what
filtering the sorted state gives. On disk it also outlives its process."""
from __future__ import annotations

import random

import pytest

from sawgrid.processors import disk_state
from sawgrid.processors.disk_state import DiskState
from sawgrid.processors.inprocess import CommittedState, InProcessLedger, unsigned_batch, unsigned_transaction
from sawgrid.processors.kv.addresses import KV, kv_address
from sawgrid.processors.kv.handler import MAX_VALUE_BYTES, KvHandler
from sawgrid.protos.kv_pb2 import KvPayload


def _by_sorting(state: dict, prefix: str) -> dict:
    return {a: state[a] for a in sorted(state) if a.startswith(prefix)}


@pytest.fixture(params=["dict", "disk", "disk, a cache of 2 x 4 entries, flushed every 3"])
def make_state(request, tmp_path, monkeypatch):
    """`make_state(entries)`: a CommittedState, or a DiskState holding `entries`
    (its read cache and write buffer as shipped, or so small that they turn
    over all the time)."""
    if "cache" in request.param:
        monkeypatch.setattr(disk_state, "CACHE_GENERATION", 4)
        monkeypatch.setattr(disk_state, "FLUSH_ENTRIES", 3)
    opened = []

    def make(entries: dict[str, bytes]):
        if request.param == "dict":
            return CommittedState(entries)
        state = DiskState(tmp_path / f"state{len(opened)}")
        opened.append(state)
        state.update(entries)
        return state
    yield make
    for state in opened:
        state.close()


@pytest.mark.parametrize("seed", range(20))
def test_prefix_queries_follow_every_kind_of_change(seed, make_state):
    rng = random.Random(seed)
    state, plain = make_state({f"{rng.getrandbits(12):03x}": b"0" for _ in range(50)}), {}
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


def _delete(key: str):
    payload = KvPayload(action=KvPayload.DELETE, key=key).SerializeToString()
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


def test_a_disk_state_commits_whole_batches_and_outlives_its_ledger(tmp_path):
    with DiskState(tmp_path / "state") as state:
        ledger = InProcessLedger([KvHandler()], state=state)
        assert ledger.state is state                        # used as it is, not copied into a dict
        assert ledger.apply_batch(unsigned_batch([_put("a", b"1"), _put("b", b"2")]))
        refused = ledger.apply_batch(unsigned_batch([_put("c", b"3"), _put("d", b"x" * (MAX_VALUE_BYTES + 1))]))
        assert not refused.valid and "value" in refused.invalid_message
        assert ledger.get(kv_address("c")) is None          # nothing of the refused batch is written
        assert ledger.apply(_put("a", b""))                 # an empty value is kept, not taken for absent
        assert ledger.apply(_put("b", b"3")) and ledger.get(kv_address("b")) == b"3"
        assert ledger.apply(_delete("c")).valid is False    # a kv DELETE needs the key set
        assert ledger.apply(_delete("b"))
        assert ledger.get(kv_address("b")) is None and kv_address("b") not in state   # before any flush
        with pytest.raises(KeyError):
            state[kv_address("b")]
        committed = dict(state)
    with DiskState(tmp_path / "state") as reopened:         # a new process opening the same files
        assert dict(reopened) == committed == {kv_address("a"): b""}
        assert len(reopened) == 1 and kv_address("a") in reopened and 7 not in reopened
        with pytest.raises(TypeError, match="bytes"):
            reopened[kv_address("x")] = "text"
        with pytest.raises(KeyError):
            del reopened[kv_address("x")]
