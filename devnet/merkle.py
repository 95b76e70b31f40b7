"""Sawtooth's Merkle-Radix state tree, storage-agnostic and deterministic.

Global state in Sawtooth is a radix tree over 70-hex-character addresses.  An
address is split into 35 two-character *tokens*; the node for a path of ``d``
tokens is a CBOR map::

    {"c": {token: child_node_hash, ...}, "v": value_bytes or null}

encoded with keys in sorted order (Sawtooth: ``cbor.dumps(node, sort_keys=True)``
in Python, a ``BTreeMap`` in Rust).  A node's hash is the first half of the
SHA-512 of its encoding, as 64 lowercase hex characters; nodes are stored under
that hash, and the hash of the root node is the *state root hash* that goes into
block headers.  Leaves (depth 35) carry the value and no children; inner nodes
carry children and a null value.  When a delete leaves a node with no children,
that node is removed as well, all the way up (the root itself stays, so deleting
everything gives back `EMPTY_ROOT`).  The shape of the tree, and therefore the
root hash, depends only on the set of (address, value) pairs, not on the order
or batching of the updates that produced it.

Values are CBOR-wrapped.  The validator does not put a transaction processor's
bytes into a leaf as they are: it stores their CBOR encoding (a CBOR byte
string: length head + the bytes), and strips it again when reading.  See
sawtooth-core's ``validator/sawtooth_validator/state/merkle.py``
(``MerkleDatabase.update`` calls ``_encode(value)`` = ``cbor.dumps``; the
context manager's squash goes through it) and ``DecodedMerkleStateReader`` /
``decode_cbor_value`` in ``validator/src/state/merkle.rs``.  So a leaf node is
``{"c": {}, "v": cbor(value)}``, and the root hash only matches a real
validator's with that wrapping.  `MerkleTrie` does it internally: its API takes
and returns the plain values, as transaction processors see them.

Encoding.  Because every map key here is a 1-character ("c", "v") or
2-character (token) text string, the canonical CBOR key order (shorter encoding
first, then bytewise) coincides with the plain sorted order Sawtooth uses, so
``cbor2.dumps(node, canonical=True)`` gives Sawtooth's bytes.  On the hot path we
do not call cbor2 for encoding, though: a node has a fixed shape, and writing its
bytes directly (`encode_node`) is ~40x faster than the generic canonical encoder
for the typical one-child node.  The tests check `encode_node` byte-for-byte
against ``cbor2.dumps(..., canonical=True)`` and against the byte strings in
Sawtooth's own unit tests.  Decoding parses the two commonest layouts (one
child; a leaf) directly and uses cbor2 for everything else.

This module only computes: `MerkleTrie.update` returns the new nodes and writes
nothing; persisting them (and pruning, if any) is the caller's business.  Nodes
are content-addressed and may be shared (e.g. two leaves holding equal values
are the same node), so a store that deletes nodes would need reference counts.
"""
from __future__ import annotations

import hashlib
import re
from typing import Iterable, Iterator, Mapping, Protocol

__all__ = [
    "ADDRESS_LENGTH",
    "TOKEN_SIZE",
    "TREE_DEPTH",
    "EMPTY_NODE",
    "EMPTY_ROOT",
    "NodeStore",
    "DictNodeStore",
    "MerkleTrie",
    "encode_node",
    "decode_node",
    "hash_node",
    "encode_value",
    "decode_value",
]

ADDRESS_LENGTH = 70  # hex characters
TOKEN_SIZE = 2  # hex characters per tree level
TREE_DEPTH = ADDRESS_LENGTH // TOKEN_SIZE  # 35 levels below the root

# A decoded node: (children token -> child hash, value).  Decoded nodes are
# shared through the cache and must never be mutated; copy the dict to change it.
_Node = tuple[dict[str, str], bytes | None]

_ADDRESS_RE = re.compile(r"[0-9a-f]{70}")
_PREFIX_RE = re.compile(r"[0-9a-f]{0,70}")
_HASH_RE = re.compile(r"[0-9a-f]{64}")


# --------------------------------------------------------------------------
# Node encoding
# --------------------------------------------------------------------------


def _head(major: int, n: int) -> bytes:
    """Shortest-form CBOR head (major type + length/argument)."""
    mt = major << 5
    if n < 24:
        return bytes((mt | n,))
    if n < 0x100:
        return bytes((mt | 24, n))
    if n < 0x10000:
        return bytes((mt | 25,)) + n.to_bytes(2, "big")
    if n < 0x1_0000_0000:
        return bytes((mt | 26,)) + n.to_bytes(4, "big")
    return bytes((mt | 27,)) + n.to_bytes(8, "big")


# The encoding is assembled as a latin-1 str (each char is one byte) and encoded
# once at the end; all the text in a node (keys, hex hashes) is ASCII.
_MAP_HEADS = [_head(5, n).decode("latin-1") for n in range(257)]
_NODE_START = "\xa2ac"  # map(2), text(1) "c"
_VALUE_KEY = "av"  # text(1) "v"
_NULL = "\xf6"
_LEAF_START = (_NODE_START + _MAP_HEADS[0] + _VALUE_KEY).encode("latin-1")
_ONE_CHILD_START = _NODE_START + _MAP_HEADS[1] + "b"  # ... then token, "x@", hash


def _text(s: str) -> str:
    return _head(3, len(s)).decode("latin-1") + s


def encode_node(children: Mapping[str, str], value: bytes | None) -> bytes:
    """Encode a node exactly as Sawtooth does (canonical CBOR, sorted keys).

    ``children`` maps tokens (2 lowercase hex chars) to child hashes (64 hex
    chars); ``value`` is the leaf's "v" bytes as stored (for state values that
    is `encode_value(value)`) or None for an inner node.  Keys and hashes must
    be ASCII (ValueError otherwise).
    """
    n = len(children)
    if n == 1 and value is None:  # by far the most common node
        for k, v in children.items():
            if len(k) == 2 and len(v) == 64 and k.isascii() and v.isascii():
                return (_ONE_CHILD_START + k + "x@" + v + _VALUE_KEY + _NULL).encode("latin-1")
    if n:
        head = _MAP_HEADS[n] if n <= 256 else _head(5, n).decode("latin-1")
        entries = []
        for k in sorted(children):
            v = children[k]
            if not (k.isascii() and v.isascii()):
                raise ValueError(f"merkle node keys and hashes must be ASCII: {k!r}: {v!r}")
            if len(k) == 2 and len(v) == 64:
                entries.append("b" + k + "x@" + v)  # text(2) k, text(64) v
            else:
                entries.append(_text(k) + _text(v))
        prefix = _NODE_START + head + "".join(entries) + _VALUE_KEY
    else:
        prefix = _NODE_START + _MAP_HEADS[0] + _VALUE_KEY
    if value is None:
        return (prefix + _NULL).encode("latin-1")
    return prefix.encode("latin-1") + _head(2, len(value)) + value


def hash_node(encoded: bytes) -> str:
    """A node's hash: the first 32 bytes of SHA-512, as 64 lowercase hex chars."""
    return hashlib.sha512(encoded).hexdigest()[:64]


def _cbor_loads_exact(data: bytes, what: str) -> object:
    """cbor2-decode exactly one CBOR item filling all of `data`; ValueError otherwise."""
    import io

    import cbor2

    fp = io.BytesIO(data)
    try:
        obj = cbor2.load(fp)
    except Exception as exc:  # cbor2 raises several decoder error types
        raise ValueError(f"{what} is not valid CBOR: {exc}") from exc
    if fp.tell() != len(data):
        raise ValueError(f"{what} has trailing bytes after its CBOR item")
    return obj


def encode_value(value: bytes) -> bytes:
    """The bytes Sawtooth stores in a leaf's "v" for state value `value`: its
    CBOR encoding as a byte string (``cbor.dumps(value)``)."""
    return _head(2, len(value)) + value


def decode_value(stored: bytes) -> bytes:
    """Inverse of `encode_value`; ValueError unless `stored` is one CBOR byte string."""
    if stored:
        info = stored[0] - 0x40  # major type 2: byte string
        if 0 <= info < 24:
            if len(stored) == 1 + info:
                return stored[1:]
        elif 24 <= info <= 27:
            start = 1 + (1 << (info - 24))
            if len(stored) >= start and len(stored) == start + int.from_bytes(
                stored[1:start], "big"
            ):
                return stored[start:]
    # Anything else (e.g. an indefinite-length string): ask cbor2.
    value = _cbor_loads_exact(stored, "state value")
    if not isinstance(value, bytes):
        raise ValueError("state value is not a CBOR byte string")
    return value


def _decode_fast(data: bytes) -> tuple[dict[str, str], bytes | None] | None:
    """Parse the two layouts that make up nearly all nodes, exactly as
    `encode_node` writes them: one child and no value, or no children and a
    value (a leaf).  None for anything else.  Every byte is checked, so
    whatever this accepts is a valid CBOR encoding of the returned node."""
    size = len(data)
    if size == 76:
        if data[:5] == b"\xa2ac\xa1b" and data[7:9] == b"x@" and data[73:] == b"av\xf6":
            try:
                text = data[5:73].decode("ascii")
            except UnicodeDecodeError:
                return None
            return {text[:2]: text[4:]}, None
    if size < 7 or data[:6] != _LEAF_START:
        return None
    b = data[6]
    if b == 0xF6:
        return ({}, None) if size == 7 else None
    info = b - 0x40  # major type 2: byte string
    if 0 <= info < 24:
        start = 7
        length = info
    elif 24 <= info <= 27:
        start = 7 + (1 << (info - 24))
        length = int.from_bytes(data[7:start], "big")
        if _head(2, length) != data[6:start]:
            return None  # not shortest form
    else:
        return None
    if start + length != size:
        return None
    return {}, data[start:]


def decode_node(data: bytes) -> tuple[dict[str, str], bytes | None]:
    """Decode a stored node into (children, "v" bytes as stored); ValueError if malformed."""
    fast = _decode_fast(data)
    if fast is not None:
        return fast
    obj = _cbor_loads_exact(data, "merkle node")
    if not isinstance(obj, dict):
        raise ValueError("merkle node is not a CBOR map")
    children = obj.get("c", {})
    value = obj.get("v")
    if not isinstance(children, dict):
        raise ValueError("merkle node children ('c') is not a map")
    if value is not None and not isinstance(value, bytes):
        raise ValueError("merkle node value ('v') is neither bytes nor null")
    for k, v in children.items():
        if not (isinstance(k, str) and isinstance(v, str) and k.isascii() and v.isascii()):
            raise ValueError("merkle node children must map ASCII text to ASCII text")
    return children, value


EMPTY_NODE: bytes = encode_node({}, None)
"""Encoding of the empty node, ``{"c": {}, "v": null}``."""

EMPTY_ROOT: str = hash_node(EMPTY_NODE)
"""State root hash of the empty tree (708ca7fb...; a fresh Sawtooth genesis)."""


# --------------------------------------------------------------------------
# Storage
# --------------------------------------------------------------------------


class NodeStore(Protocol):
    """Where encoded nodes live, keyed by their hash (64 lowercase hex chars)."""

    def get_node(self, node_hash: str) -> bytes | None:
        """The encoded node with this hash, or None if the store lacks it."""
        ...


class DictNodeStore:
    """In-memory `NodeStore` (tests and ``--fast`` runs).

    Starts out holding the empty node, like a freshly initialised Sawtooth
    state database.
    """

    def __init__(self) -> None:
        self._nodes: dict[str, bytes] = {EMPTY_ROOT: EMPTY_NODE}

    def get_node(self, node_hash: str) -> bytes | None:
        return self._nodes.get(node_hash)

    def put_nodes(self, nodes: Iterable[tuple[str, bytes]]) -> None:
        """Store (hash, encoded node) pairs, e.g. the second result of `MerkleTrie.update`."""
        self._nodes.update(nodes)

    def __contains__(self, node_hash: object) -> bool:
        return node_hash in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)


# --------------------------------------------------------------------------
# The trie
# --------------------------------------------------------------------------


def _check_address(address: object) -> str:
    if not isinstance(address, str) or not _ADDRESS_RE.fullmatch(address):
        raise ValueError(f"invalid state address (want 70 lowercase hex chars): {address!r}")
    return address


def _check_hex_prefix(what: str, s: object) -> str:
    if not isinstance(s, str) or not _PREFIX_RE.fullmatch(s):
        raise ValueError(f"invalid {what} (want 0..70 lowercase hex chars): {s!r}")
    return s


_EMPTY_DECODED: _Node = ({}, None)


class MerkleTrie:
    """Read and update Sawtooth Merkle-Radix trees held in a `NodeStore`.

    The object itself holds no root: every call names the root it works on, so
    any number of historical roots can be read side by side.  A cache of up to
    `cache_size` decoded nodes (approximately LRU; keyed by hash, so it never
    goes stale) sits in front of the store; nodes produced by `update` are put
    in it too, since the next block usually starts from them.  `cache_size=0`
    disables it.
    """

    def __init__(self, store: NodeStore, cache_size: int = 100_000) -> None:
        if cache_size < 0:
            raise ValueError("cache_size must be >= 0")
        self._store = store
        # Two-generation approximation of an LRU cache: hits and inserts go to
        # `_young`; when it is full it becomes `_old` and the previous `_old`
        # (entries not used for a whole generation) is dropped.  Plain dict
        # operations only, so it costs far less per node than an OrderedDict.
        self._generation = cache_size // 2
        self._young: dict[str, _Node] = {}
        self._old: dict[str, _Node] = {}
        if cache_size == 0:
            self._remember = lambda node_hash, node: None  # type: ignore[method-assign]

    # -- node access -------------------------------------------------------

    def _remember(self, node_hash: str, node: _Node) -> None:
        young = self._young
        young[node_hash] = node
        if len(young) >= self._generation:
            self._old = young
            self._young = {}

    def _load(self, node_hash: str, remember: bool = True) -> _Node | None:
        """The decoded node, or None if neither cache nor store has it."""
        node = self._young.get(node_hash)
        if node is not None:
            return node
        node = self._old.get(node_hash)
        if node is None:
            if node_hash == EMPTY_ROOT:
                return _EMPTY_DECODED
            data = self._store.get_node(node_hash)
            if data is None:
                return None
            node = decode_node(data)
        if remember:
            self._remember(node_hash, node)
        return node

    def _root(self, root: str) -> _Node:
        node = self._load(root) if isinstance(root, str) else None
        if node is None:
            raise KeyError(f"unknown state root {root!r}: no such node in the store")
        return node

    def _child(self, node_hash: str, root: str, remember: bool = True) -> _Node:
        node = self._load(node_hash, remember)
        if node is None:
            raise KeyError(
                f"merkle node {node_hash} (reachable from state root {root}) "
                "is missing from the store"
            )
        return node

    # -- queries -----------------------------------------------------------

    def has_root(self, root: str) -> bool:
        """True if the store holds the root node `root` (always true for `EMPTY_ROOT`).

        Only the store counts: a root returned by `update` but not yet persisted
        is not reported, even though `get` may already be able to read it from
        the cache.
        """
        if not isinstance(root, str) or not _HASH_RE.fullmatch(root):
            return False
        return root == EMPTY_ROOT or self._store.get_node(root) is not None

    def get(self, root: str, address: str) -> bytes | None:
        """The value at `address` under state root `root`, or None if unset.

        KeyError if `root` is unknown; ValueError if `address` is malformed.
        """
        _check_address(address)
        node = self._root(root)
        for pos in range(0, ADDRESS_LENGTH, TOKEN_SIZE):
            child = node[0].get(address[pos : pos + TOKEN_SIZE])
            if child is None:
                return None
            node = self._child(child, root)
        stored = node[1]
        return None if stored is None else decode_value(stored)

    def leaves(
        self, root: str, prefix: str = "", start: str | None = None
    ) -> Iterator[tuple[str, bytes]]:
        """Leaves under `prefix`, in ascending address order, from address >= `start`.

        `prefix` is 0..70 lowercase hex chars (odd lengths allowed); `start`, if
        given, is 0..70 lowercase hex chars compared as a string, so a page can
        resume at the next page's first address.  The argument checks and the
        root lookup happen at once (ValueError / KeyError); the traversal is lazy
        and loads only the nodes it walks through, so taking the first n leaves
        costs about n * 35 node loads however large the tree is.
        """
        _check_hex_prefix("prefix", prefix)
        if start is not None:
            _check_hex_prefix("start", start)
        node = self._root(root)
        even = len(prefix) - len(prefix) % TOKEN_SIZE
        for pos in range(0, even, TOKEN_SIZE):
            child = node[0].get(prefix[pos : pos + TOKEN_SIZE])
            if child is None:
                return iter(())
            node = self._child(child, root)
        return self._walk(root, prefix[:even], node, prefix[even:], start)

    def _walk(
        self, root: str, path: str, node: _Node, nibble: str, start: str | None
    ) -> Iterator[tuple[str, bytes]]:
        # Depth-first, children in token order, via an explicit stack of
        # (path, node hash or decoded node, still bounded by `start`).
        # "bounded" means path == start[:len(path)]; once a path is greater than
        # start's prefix, everything below it is >= start and needs no checks.
        stack: list[tuple[str, str | _Node, bool]] = [(path, node, start is not None)]
        first = True
        while stack:
            path, ref, bounded = stack.pop()
            node = ref if isinstance(ref, tuple) else self._child(ref, root, remember=False)
            children, value = node
            if value is not None and (start is None or path >= start):
                yield path, decode_value(value)
            if not children:
                continue
            tokens = sorted(children, reverse=True)
            if first and nibble:
                tokens = [t for t in tokens if t[0] == nibble]
            first = False
            if bounded:
                assert start is not None
                depth_len = len(path) + TOKEN_SIZE
                bound = start[:depth_len]
                for tok in tokens:
                    child_path = path + tok
                    if child_path > bound:
                        stack.append((child_path, children[tok], False))
                    elif child_path == bound:
                        stack.append((child_path, children[tok], True))
                    # else: the whole subtree sorts before start
            else:
                for tok in tokens:
                    stack.append((path + tok, children[tok], False))

    # -- updates -----------------------------------------------------------

    def update(
        self,
        root: str,
        sets: Mapping[str, bytes],
        deletes: Iterable[str] = (),
    ) -> tuple[str, list[tuple[str, bytes]]]:
        """Apply `sets` and `deletes` to the tree at `root`.

        Pure: returns ``(new_root, new_nodes)`` where ``new_nodes`` lists the
        (hash, encoded node) pairs the caller must persist for `new_root` to be
        readable from the store (children before parents, no duplicates);
        nothing is written.  Deleting an absent address is a no-op; naming an
        address both in `sets` and in `deletes` is a ValueError, as is a
        malformed address.  Values must be bytes-like.  KeyError if `root` is
        unknown.

        All changes are applied in one bottom-up pass: the sorted changes are
        grouped by token at each depth, so each changed node is decoded, encoded
        and hashed once, i.e. O(k * 35) work for k changed addresses.
        """
        changes: dict[str, bytes | None] = {}
        for address, value in sets.items():
            _check_address(address)
            if not isinstance(value, bytes):
                if isinstance(value, (bytearray, memoryview)):
                    value = bytes(value)
                else:
                    raise TypeError(
                        f"state value for {address} must be bytes, not {type(value).__name__}"
                    )
            changes[address] = value
        for address in deletes:
            _check_address(address)
            if address in sets:
                raise ValueError(f"address {address} is both set and deleted in one update")
            changes[address] = None

        root_node = self._root(root)
        if not changes:
            return root, []

        items = sorted(changes.items())
        out: dict[str, bytes] = {}
        # At depth 0 `_apply` never answers None: a root without children is
        # still encoded (as EMPTY_NODE).
        new_root = self._apply(root, root_node, root, 0, items, 0, len(items), out)
        assert new_root is not None
        return new_root, list(out.items())

    def _apply(
        self,
        node_hash: str | None,
        node: _Node | None,
        root: str,
        pos: int,
        items: list[tuple[str, bytes | None]],
        lo: int,
        hi: int,
        out: dict[str, bytes],
    ) -> str | None:
        """Apply items[lo:hi] (all sharing the first `pos` address chars) to the
        subtree `node_hash` (None: no such subtree yet).  Returns the subtree's
        new hash, or None if it is now empty (and isn't the root)."""
        # pos < ADDRESS_LENGTH here: addresses are unique, so a group of
        # several changes always splits before the leaf level, and single
        # changes go to `_apply_one`.
        if node is None:
            if node_hash is None:
                children: dict[str, str] = {}
            else:
                children = self._child(node_hash, root, remember=False)[0]
        else:
            children = node[0]
        new_children: dict[str, str] | None = None
        end = pos + TOKEN_SIZE
        i = lo
        while i < hi:
            token = items[i][0][pos:end]
            j = i + 1
            while j < hi and items[j][0][pos:end] == token:
                j += 1
            old = children.get(token)
            if old is None and all(items[k][1] is None for k in range(i, j)):
                i = j  # only deletes of absent addresses: nothing to do
                continue
            if j == i + 1:
                address, value = items[i]
                new = self._apply_one(old, root, end, address, value, out)
            else:
                new = self._apply(old, None, root, end, items, i, j, out)
            if new != old:
                if new_children is None:
                    new_children = dict(children)
                if new is None:
                    del new_children[token]
                else:
                    new_children[token] = new
            i = j

        if new_children is None:
            return node_hash  # unchanged
        if not new_children and pos > 0:
            return None  # empty inner node: removed
        enc = encode_node(new_children, None)
        new_hash = hashlib.sha512(enc).hexdigest()[:64]
        out[new_hash] = enc
        self._remember(new_hash, (new_children, None))
        return new_hash

    def _apply_one(
        self,
        node_hash: str | None,
        root: str,
        pos: int,
        address: str,
        value: bytes | None,
        out: dict[str, bytes],
    ) -> str | None:
        """`_apply` for a single change (the usual case below the top levels):
        walk down the existing part of the path, then rebuild it bottom-up.
        `pos` > 0, so an emptied node is removed (None) rather than kept."""
        remember = self._remember
        sha512 = hashlib.sha512
        # Existing nodes on the path, as (children, token to follow).
        path: list[tuple[dict[str, str], str]] = []
        h = node_hash
        p = pos
        while h is not None and p < ADDRESS_LENGTH:
            # Not remembered: the new root supersedes these nodes.
            children = (self._young.get(h) or self._child(h, root, remember=False))[0]
            token = address[p : p + TOKEN_SIZE]
            path.append((children, token))
            h = children.get(token)
            p += TOKEN_SIZE
        # Now `h` is the node at address[:p] (None: no such node).
        if value is None:
            if h is None:
                return node_hash  # deleting an absent address
            new: str | None = None  # the leaf goes; so do parents left empty
        else:
            stored = _head(2, len(value)) + value  # == encode_value(value)
            enc = _LEAF_START + _head(2, len(stored)) + stored
            new = sha512(enc).hexdigest()[:64]
            if new == h:
                return node_hash  # same value as before
            out[new] = enc
            remember(new, (_EMPTY_DECODED[0], stored))
            # Fresh single-child nodes for the missing part of the path.
            for q in range(ADDRESS_LENGTH - TOKEN_SIZE, p - 1, -TOKEN_SIZE):
                token = address[q : q + TOKEN_SIZE]
                child = new
                # == encode_node({token: child}, None)
                enc = f"\xa2ac\xa1b{token}x@{child}av\xf6".encode("latin-1")
                new = sha512(enc).hexdigest()[:64]
                out[new] = enc
                remember(new, ({token: child}, None))
        for children, token in reversed(path):
            if len(children) == 1 and token in children:
                if new is None:
                    continue  # this node is left empty: remove it too
                new_children = {token: new}
                enc = f"\xa2ac\xa1b{token}x@{new}av\xf6".encode("latin-1")
            else:
                new_children = dict(children)
                if new is None:
                    del new_children[token]
                else:
                    new_children[token] = new
                enc = encode_node(new_children, None)
            new = sha512(enc).hexdigest()[:64]
            out[new] = enc
            remember(new, (new_children, None))
        return new
