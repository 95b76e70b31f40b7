"""Tests for sawgrid.devnet.merkle (Sawtooth Merkle-Radix state tree)."""
from __future__ import annotations

import hashlib
import itertools
import random

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sawgrid.devnet.merkle import (
    EMPTY_NODE,
    EMPTY_ROOT,
    DictNodeStore,
    MerkleTrie,
    decode_node,
    decode_value,
    encode_node,
    encode_value,
    hash_node,
)
from budget import examples

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def rand_addr(rnd: random.Random) -> str:
    return "%070x" % rnd.getrandbits(280)


def fresh() -> tuple[DictNodeStore, MerkleTrie]:
    store = DictNodeStore()
    return store, MerkleTrie(store)


def commit(store: DictNodeStore, trie: MerkleTrie, root: str, sets=None, deletes=()) -> str:
    new_root, nodes = trie.update(root, sets or {}, deletes)
    store.put_nodes(nodes)
    return new_root


def reference_root(state: dict[str, bytes]) -> str:
    """Independent, naive model of Sawtooth's tree: build every node from the
    dict recursively and encode it with cbor2's canonical encoder, the way
    Sawtooth's Python code did with ``cbor.dumps(node, sort_keys=True)``.
    Leaves hold the CBOR encoding of the value, as the validator stores it."""

    def build(items: dict[str, bytes], pos: int) -> str:
        if pos == 70:
            (value,) = items.values()
            node = {"c": {}, "v": cbor2.dumps(value)}
        else:
            groups: dict[str, dict[str, bytes]] = {}
            for a, v in items.items():
                groups.setdefault(a[pos : pos + 2], {})[a] = v
            node = {"c": {t: build(g, pos + 2) for t, g in groups.items()}, "v": None}
        enc = cbor2.dumps(node, canonical=True)
        return hashlib.sha512(enc).hexdigest()[:64]

    if not state:
        return hashlib.sha512(cbor2.dumps({"c": {}, "v": None}, canonical=True)).hexdigest()[:64]
    return build(state, 0)


# ---------------------------------------------------------------------------
# Sawtooth test vectors and encoding
# ---------------------------------------------------------------------------


def test_empty_root_matches_sawtooth():
    # Test vector: the state root hash of a freshly started Sawtooth network
    # whose genesis block carries no batches (empty global state), as printed
    # by `curl http://rest-api:8008/blocks` in Sawtooth's docs:
    # hyperledger-archives/sawtooth-core,
    # docs/source/app_developers_guide/docker.rst (e.g. at commit 9913c582),
    # "state_root_hash": "708ca7fbb701799bb387f2e50deaca402e8502abe229f705693d2d4f350e1ad6".
    assert EMPTY_ROOT == "708ca7fbb701799bb387f2e50deaca402e8502abe229f705693d2d4f350e1ad6"
    assert EMPTY_NODE == bytes.fromhex("a26163a06176f6")  # {"c": {}, "v": null}
    assert hash_node(EMPTY_NODE) == EMPTY_ROOT


def test_node_encoding_matches_sawtooth_unit_tests():
    # Vectors from hyperledger-archives/sawtooth-core,
    # validator/src/state/merkle.rs, tests `node_serialize` and
    # `node_deserialize` ("generated using the python structures").
    assert encode_node({"ab": "123"}, b"hello").hex() == "a26163a16261626331323361764568656c6c6f"
    assert decode_node(bytes.fromhex("a26163a162303063616263617647676f6f64627965")) == (
        {"00": "abc"},
        b"goodbye",
    )
    # round trip
    assert decode_node(encode_node({"ab": "123"}, b"hello")) == ({"ab": "123"}, b"hello")


def test_leaves_store_cbor_wrapped_values():
    # The validator stores cbor.dumps(value) in a leaf, not the raw bytes:
    # hyperledger-archives/sawtooth-core validator/sawtooth_validator/state/merkle.py
    # (MerkleDatabase.update: `_Entry.new(key, _encode(value))`, called from the
    # context manager's squash) and validator/src/state/merkle.rs
    # (DecodedMerkleStateReader: decode_cbor_value on every read).
    store, trie = fresh()
    value = b"\xa1fZeuYwh\x1a\x00\x019%"  # an intkey value from Sawtooth's docs
    root, nodes = trie.update(EMPTY_ROOT, {A1: value})
    leaf = nodes[0][1]
    assert leaf == cbor2.dumps({"c": {}, "v": cbor2.dumps(value)}, canonical=True)
    assert decode_node(leaf) == ({}, cbor2.dumps(value))
    store.put_nodes(nodes)
    assert trie.get(root, A1) == value  # unwrapped again on the way out
    assert list(trie.leaves(root)) == [(A1, value)]


@pytest.mark.parametrize("size", [0, 5, 23, 24, 255, 256, 70000])
def test_encode_decode_value(size):
    value = bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert encode_value(value) == cbor2.dumps(value)
    assert decode_value(encode_value(value)) == value
    # another valid encoding of the same byte string (indefinite length, one chunk)
    assert decode_value(b"\x5f" + cbor2.dumps(value) + b"\xff") == value


def test_decode_value_rejects_non_bytes():
    for bad in [b"", cbor2.dumps("text"), cbor2.dumps(5), b"\x45abc", b"\x43abcd"]:
        with pytest.raises(ValueError):
            decode_value(bad)


def test_cbor2_canonical_order_is_sawtooth_order():
    # Canonical CBOR (RFC 7049 3.9) sorts keys by encoded length, then bytewise;
    # Sawtooth sorts them as plain strings.  All our keys are 1-char ("c", "v")
    # or 2-char tokens, whose encodings all have the same length, so the two
    # orders coincide.
    tokens = ["%02x" % i for i in range(256)]
    shuffled = tokens[:]
    random.Random(7).shuffle(shuffled)
    node = {"v": None, "c": {t: "0" * 64 for t in shuffled}}
    enc = cbor2.dumps(node, canonical=True)
    assert list(cbor2.loads(enc)["c"]) == sorted(tokens)
    assert list(cbor2.loads(enc)) == ["c", "v"]


_hash = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
_token = st.integers(0, 255).map(lambda i: "%02x" % i)


def _many_children(n: int, rnd: random.Random) -> dict[str, str]:
    tokens = rnd.sample(["%02x" % i for i in range(256)], n)
    return {t: "%064x" % rnd.getrandbits(256) for t in tokens}


@settings(max_examples=examples(200), deadline=None)
@given(
    children=st.dictionaries(_token, _hash, max_size=30)
    | st.builds(_many_children, st.integers(20, 256), st.randoms(use_true_random=False)),
    value=st.none() | st.binary(max_size=300),
)
def test_encode_node_equals_cbor2_canonical(children, value):
    enc = encode_node(children, value)
    assert enc == cbor2.dumps({"c": children, "v": value}, canonical=True)
    assert decode_node(enc) == (children, value)


@pytest.mark.parametrize("n", [0, 1, 2, 23, 24, 255, 256])
def test_encode_node_map_length_heads(n):
    children = _many_children(n, random.Random(n))
    for value in (None, b"v"):
        enc = encode_node(children, value)
        assert enc == cbor2.dumps({"c": children, "v": value}, canonical=True)
        assert decode_node(enc) == (children, value)


@pytest.mark.parametrize("size", [0, 1, 23, 24, 255, 256, 65535, 65536])
def test_encode_node_value_length_heads(size):
    value = bytes(size)
    enc = encode_node({}, value)
    assert enc == cbor2.dumps({"c": {}, "v": value}, canonical=True)
    assert decode_node(enc) == ({}, value)


def test_decode_node_accepts_noncanonical_and_rejects_garbage():
    # Unsorted keys are still a valid node; decoded through cbor2.
    enc = cbor2.dumps({"v": None, "c": {"ff": "a" * 64, "00": "b" * 64}})
    assert decode_node(enc) == ({"ff": "a" * 64, "00": "b" * 64}, None)
    with pytest.raises(ValueError):
        decode_node(b"\xff\x00")
    with pytest.raises(ValueError):
        decode_node(cbor2.dumps([1, 2]))
    with pytest.raises(ValueError):
        decode_node(cbor2.dumps({"c": {}, "v": "text, not bytes"}))
    with pytest.raises(ValueError):
        decode_node(EMPTY_NODE + b"\x00")  # trailing bytes


# ---------------------------------------------------------------------------
# get / set / delete
# ---------------------------------------------------------------------------

A1 = "1cf126" + "00" * 32
A2 = "1cf126" + "00" * 31 + "01"
A3 = "1cf127" + "ab" * 32
B1 = "ff" * 35


def test_get_set_delete_semantics():
    store, trie = fresh()
    assert trie.get(EMPTY_ROOT, A1) is None

    r1 = commit(store, trie, EMPTY_ROOT, {A1: b"one", A2: b"two"})
    assert r1 != EMPTY_ROOT
    assert trie.get(r1, A1) == b"one"
    assert trie.get(r1, A2) == b"two"
    assert trie.get(r1, A3) is None

    r2 = commit(store, trie, r1, {A1: b"uno"})
    assert trie.get(r2, A1) == b"uno"
    assert trie.get(r2, A2) == b"two"

    r3 = commit(store, trie, r2, deletes=[A2])
    assert trie.get(r3, A2) is None
    assert trie.get(r3, A1) == b"uno"

    r4 = commit(store, trie, r3, deletes=[A1])
    assert r4 == EMPTY_ROOT
    assert list(trie.leaves(r4)) == []


def test_empty_bytes_is_a_value():
    store, trie = fresh()
    r = commit(store, trie, EMPTY_ROOT, {A1: b""})
    assert trie.get(r, A1) == b""
    assert r != EMPTY_ROOT
    assert list(trie.leaves(r)) == [(A1, b"")]


def test_bytes_like_values_accepted_others_rejected():
    store, trie = fresh()
    r, _ = trie.update(EMPTY_ROOT, {A1: bytearray(b"x"), A2: memoryview(b"y")})
    r_ref, _ = trie.update(EMPTY_ROOT, {A1: b"x", A2: b"y"})
    assert r == r_ref
    with pytest.raises(TypeError):
        trie.update(EMPTY_ROOT, {A1: "text"})  # type: ignore[dict-item]


def test_update_is_pure_and_lists_all_new_nodes():
    store, trie = fresh()
    before = len(store)
    new_root, nodes = trie.update(EMPTY_ROOT, {A1: b"one", A3: b"three"})
    assert len(store) == before  # nothing written
    assert not trie.has_root(new_root)
    # Every node is listed once, children before parents, and each is
    # stored under its own hash.
    hashes = [h for h, _ in nodes]
    assert len(hashes) == len(set(hashes))
    assert hashes[-1] == new_root
    seen: set[str] = set()
    for h, enc in nodes:
        assert hash_node(enc) == h
        children, _ = decode_node(enc)
        assert all(c in seen for c in children.values())
        seen.add(h)
    store.put_nodes(nodes)
    assert trie.has_root(new_root)
    # A trie without a cache reads everything back from the store alone.
    cold = MerkleTrie(store, cache_size=0)
    assert cold.get(new_root, A1) == b"one"
    assert list(cold.leaves(new_root)) == [(A1, b"one"), (A3, b"three")]


def test_noop_updates_return_same_root_and_no_nodes():
    store, trie = fresh()
    r = commit(store, trie, EMPTY_ROOT, {A1: b"one"})
    assert trie.update(r, {}) == (r, [])
    assert trie.update(r, {}, [A2, A3, B1]) == (r, [])  # deleting absent addresses
    assert trie.update(r, {A1: b"one"}) == (r, [])  # same value again
    assert trie.update(EMPTY_ROOT, {}, [A1]) == (EMPTY_ROOT, [])


def test_set_and_delete_same_address_is_an_error():
    _, trie = fresh()
    with pytest.raises(ValueError):
        trie.update(EMPTY_ROOT, {A1: b"x"}, [A1])


@pytest.mark.parametrize(
    "bad",
    ["", "00", "1cf126" + "00" * 31, A1 + "00", A1.upper(), "g" * 70, "1cf126" + "00" * 31 + "0 "],
)
def test_invalid_addresses_rejected(bad):
    _, trie = fresh()
    with pytest.raises(ValueError):
        trie.get(EMPTY_ROOT, bad)
    with pytest.raises(ValueError):
        trie.update(EMPTY_ROOT, {bad: b"x"})
    with pytest.raises(ValueError):
        trie.update(EMPTY_ROOT, {}, [bad])


def test_unknown_root_is_a_key_error():
    _, trie = fresh()
    unknown = "ab" * 32
    with pytest.raises(KeyError, match="unknown state root"):
        trie.get(unknown, A1)
    with pytest.raises(KeyError, match="unknown state root"):
        trie.update(unknown, {A1: b"x"})
    with pytest.raises(KeyError, match="unknown state root"):
        trie.leaves(unknown)  # raised at once, not on first next()
    assert not trie.has_root(unknown)
    assert not trie.has_root("not a hash")
    assert trie.has_root(EMPTY_ROOT)


def test_missing_inner_node_is_a_key_error():
    store, trie = fresh()
    new_root, nodes = trie.update(EMPTY_ROOT, {A1: b"x"})
    store.put_nodes(nodes[-1:])  # only the root node
    cold = MerkleTrie(store, cache_size=0)
    with pytest.raises(KeyError, match="missing from the store"):
        cold.get(new_root, A1)


def test_empty_root_readable_without_stored_empty_node():
    class Empty:
        def get_node(self, node_hash):
            return None

    trie = MerkleTrie(Empty())
    assert trie.get(EMPTY_ROOT, A1) is None
    assert list(trie.leaves(EMPTY_ROOT)) == []
    assert trie.has_root(EMPTY_ROOT)
    root, nodes = trie.update(EMPTY_ROOT, {A1: b"x"})
    root2, nodes2 = trie.update(root, {}, [A1])
    assert root2 == EMPTY_ROOT
    assert (EMPTY_ROOT, EMPTY_NODE) in nodes2


# ---------------------------------------------------------------------------
# determinism: order, batching, delete restores
# ---------------------------------------------------------------------------


def test_root_independent_of_insertion_order_and_batching():
    rnd = random.Random(42)
    # Include addresses sharing long prefixes so inner nodes have several children.
    state = {rand_addr(rnd): rnd.randbytes(rnd.randint(0, 40)) for _ in range(80)}
    base = rand_addr(rnd)
    for k in range(0, 70, 7):
        for _ in range(2):
            state[base[:k] + rand_addr(rnd)[k:]] = rnd.randbytes(8)
    assert len(state) == 100

    store, trie = fresh()
    batched = commit(store, trie, EMPTY_ROOT, state)

    for seed in range(3):
        items = list(state.items())
        random.Random(seed).shuffle(items)
        root = EMPTY_ROOT
        for address, value in items:
            root = commit(store, trie, root, {address: value})
        assert root == batched

    # Chunks of uneven size, again in a shuffled order.
    items = list(state.items())
    random.Random(9).shuffle(items)
    root = EMPTY_ROOT
    i = 0
    for size in itertools.cycle([1, 7, 30]):
        if i >= len(items):
            break
        root = commit(store, trie, root, dict(items[i : i + size]))
        i += size
    assert root == batched
    assert batched == reference_root(state)


def test_delete_restores_previous_root_exactly():
    rnd = random.Random(3)
    store, trie = fresh()
    state = {rand_addr(rnd): rnd.randbytes(10) for _ in range(50)}
    r0 = commit(store, trie, EMPTY_ROOT, state)

    # New addresses: one far away, one sharing a long prefix with an existing one.
    existing = next(iter(state))
    near = existing[:60] + ("0" if existing[60] != "0" else "1") + existing[61:]
    far = rand_addr(rnd)
    for extra in ([near], [far], [near, far]):
        r1 = commit(store, trie, r0, {a: b"tmp" for a in extra})
        assert r1 != r0
        assert commit(store, trie, r1, deletes=extra) == r0

    # Set then delete everything: back to the empty tree.
    assert commit(store, trie, r0, deletes=list(state)) == EMPTY_ROOT


def test_mixed_sets_and_deletes_sharing_prefixes():
    # Modelled on the situation of sawtooth's merkle_trie_update_same_address_space
    # test: a set and a delete below the same inner nodes in one update.
    store, trie = fresh()
    x = "e55420" + "02" * 32
    y = "e55420" + "c0" * 32
    z = "e55421" + "00" * 32
    r0 = commit(store, trie, EMPTY_ROOT, {y: b"y"})
    # The delete empties the node that the set needs: it must survive.
    r1 = commit(store, trie, r0, {x: b"x", z: b"z"}, [y])
    assert r1 == reference_root({x: b"x", z: b"z"})
    assert list(trie.leaves(r1)) == [(x, b"x"), (z, b"z")]


# ---------------------------------------------------------------------------
# leaves(): order, prefixes, start, laziness
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def populated():
    rnd = random.Random(11)
    state: dict[str, bytes] = {}
    for _ in range(300):
        state[rand_addr(rnd)] = rnd.randbytes(6)
    # dense spots: many addresses under a few prefixes, odd-length ones too
    for prefix in ["1cf126", "1cf12", "000000a8", "ab"]:
        for _ in range(40):
            a = prefix + rand_addr(rnd)[len(prefix) :]
            state[a] = rnd.randbytes(6)
    store, trie = fresh()
    root = commit(store, trie, EMPTY_ROOT, state)
    return MerkleTrie(store, cache_size=0), root, state


def test_leaves_in_ascending_address_order(populated):
    trie, root, state = populated
    assert list(trie.leaves(root)) == sorted(state.items())


@pytest.mark.parametrize(
    "prefix", ["", "1", "1c", "1cf", "1cf1", "1cf12", "1cf126", "000000a8", "0000", "ab", "a", "f", "fe"]
)
def test_leaves_prefix_filtering(populated, prefix):
    trie, root, state = populated
    expected = sorted((a, v) for a, v in state.items() if a.startswith(prefix))
    assert list(trie.leaves(root, prefix)) == expected


def test_leaves_full_address_prefix(populated):
    trie, root, state = populated
    address = sorted(state)[17]
    assert list(trie.leaves(root, address)) == [(address, state[address])]
    absent = "0" * 70 if "0" * 70 not in state else "f" * 70
    assert list(trie.leaves(root, absent)) == []
    assert list(trie.leaves(root, "0" * 69)) == [
        (a, v) for a, v in sorted(state.items()) if a.startswith("0" * 69)
    ]


def test_leaves_missing_prefix_is_empty(populated):
    trie, root, state = populated
    prefix = "1cf126" + "e" * 10
    assert not any(a.startswith(prefix) for a in state)
    assert list(trie.leaves(root, prefix)) == []


@pytest.mark.parametrize("prefix", ["", "1cf12", "1cf126", "ab"])
def test_leaves_start_and_paging(populated, prefix):
    trie, root, state = populated
    expected = sorted((a, v) for a, v in state.items() if a.startswith(prefix))
    # start = an existing address, a non-existing one, shorter/odd strings
    starts = [expected[len(expected) // 2][0], expected[0][0], expected[-1][0]]
    starts += [expected[5][0][:-1] + "0", expected[5][0][:9], "1cf", "0", "f", "", "ffff"]
    for start in starts:
        got = list(trie.leaves(root, prefix, start=start))
        assert got == [(a, v) for a, v in expected if a >= start], start

    # paging: 17 at a time, each page resuming at the next page's first address
    pages: list[tuple[str, bytes]] = []
    start = None
    while True:
        page = list(itertools.islice(trie.leaves(root, prefix, start=start), 18))
        pages.extend(page[:17])
        if len(page) < 18:
            break
        start = page[17][0]
    assert pages == expected


def test_leaves_is_lazy():
    rnd = random.Random(5)
    state = {rand_addr(rnd): b"v" for _ in range(2000)}
    store, trie = fresh()
    root = commit(store, trie, EMPTY_ROOT, state)

    class CountingStore:
        def __init__(self, inner):
            self.inner, self.reads = inner, 0

        def get_node(self, node_hash):
            self.reads += 1
            return self.inner.get_node(node_hash)

    counting = CountingStore(store)
    cold = MerkleTrie(counting, cache_size=0)
    page = list(itertools.islice(cold.leaves(root), 10))
    assert page == sorted(state.items())[:10]
    assert counting.reads < 10 * 36 + 50  # ~35 per leaf, not ~70,000 for the tree
    counting.reads = 0
    start = sorted(state)[1500]
    page = list(itertools.islice(cold.leaves(root, start=start), 10))
    assert page == sorted(state.items())[1500:1510]
    assert counting.reads < 10 * 36 + 50


def test_leaves_argument_validation():
    _, trie = fresh()
    for bad in ["G", "1C", "x", "0" * 71]:
        with pytest.raises(ValueError):
            trie.leaves(EMPTY_ROOT, bad)
        with pytest.raises(ValueError):
            trie.leaves(EMPTY_ROOT, "", start=bad)


# ---------------------------------------------------------------------------
# history
# ---------------------------------------------------------------------------


def test_old_roots_stay_readable():
    rnd = random.Random(8)
    store, trie = fresh()
    addresses = [rand_addr(rnd) for _ in range(20)]
    history: list[tuple[str, dict[str, bytes]]] = []
    state: dict[str, bytes] = {}
    root = EMPTY_ROOT
    for step in range(30):
        sets = {a: b"%d" % step for a in rnd.sample(addresses, 3)}
        deletes = [a for a in rnd.sample(addresses, 2) if a not in sets]
        root = commit(store, trie, root, sets, deletes)
        state.update(sets)
        for a in deletes:
            state.pop(a, None)
        history.append((root, dict(state)))

    cold = MerkleTrie(store, cache_size=0)
    for old_root, old_state in history:
        assert cold.has_root(old_root)
        assert list(cold.leaves(old_root)) == sorted(old_state.items())
        for a in addresses:
            assert cold.get(old_root, a) == old_state.get(a)


# ---------------------------------------------------------------------------
# property test against a dict model
# ---------------------------------------------------------------------------

_TAILS = [rand_addr(random.Random(s)) for s in range(4)]
_BASE = "1cf126" + "7" * 64

# Addresses sharing a prefix of random length with _BASE, so the random ops hit
# shared inner nodes at every depth and collide on whole addresses often.
_address = st.builds(
    lambda k, tail: _BASE[: 2 * k] + tail[2 * k :], st.integers(0, 35), st.sampled_from(_TAILS)
)
_batch = st.tuples(
    st.dictionaries(_address, st.binary(max_size=8), max_size=6),
    st.lists(_address, max_size=6),
)


@settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(_batch, min_size=1, max_size=12))
def test_trie_matches_dict_model(batches):
    store, trie = fresh()
    model: dict[str, bytes] = {}
    root = EMPTY_ROOT
    for sets, deletes in batches:
        deletes = [a for a in deletes if a not in sets]
        root = commit(store, trie, root, sets, deletes)
        model.update(sets)
        for a in deletes:
            model.pop(a, None)

        assert root == reference_root(model)
        scratch_store, scratch = fresh()
        assert commit(scratch_store, scratch, EMPTY_ROOT, model) == root

        cold = MerkleTrie(store, cache_size=0)
        assert list(cold.leaves(root)) == sorted(model.items())
        for a in set(sets) | set(deletes):
            assert cold.get(root, a) == model.get(a)
