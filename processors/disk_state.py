"""Committed state on disk, for an in-process ledger larger than memory.

    state = DiskState(directory)                      # an LMDB environment there
    ledger = InProcessLedger(handlers, state=state)  # used as it is, not copied
    ...
    state.close()

`InProcessLedger` keeps its committed state in a dict by default
(`CommittedState`): every address and record is a Python object, about
450 bytes an entry. A town's week is millions of entries (bench/README.md,
"10,000 participants in process"), more than a laptop holds. `DiskState` is
the same mapping, `{address: bytes}`, kept in LMDB, the store devnet's
Merkle-Radix nodes live in (devnet/store.py) and Sawtooth's validator uses:

* **Reads** come from a bounded cache of the addresses read or written
  lately (what an hour of trading touches again and again: the config, the
  pool, the hour's book and positions), else from LMDB's memory map through
  one read transaction, renewed after each flush. Absent addresses are
  cached too: a handler asks for many.
* **Batches are written in bulk.** `commit` takes one valid batch's writes
  into memory, where they are read at once; every `FLUSH_ENTRIES` entries
  (and before a prefix query, `len()` or `close()`) `flush` writes them to
  LMDB in one transaction, sorted. So the file always holds a whole number
  of batches. One LMDB transaction per batch made a 1,000-participant run a
  fifth slower than on the dict: each copies every page it touches.
* **Memory stays bounded.** Records live in the file; what of it is resident
  is the kernel's page cache, which it takes back when memory runs short
  (`ps` counts those pages in the process's RSS as RssFile while they are
  mapped; RssAnon is the process's own memory).
* **Throw-away by design:** `sync=False` (no fsync): after a crash the file
  may hold less than was committed. The simulation that uses it deletes it
  at the end; it is not a validator's database.

Not thread-safe, like the dict it stands in for: one thread drives a ledger.
Writing through the mapping (`state[a] = b`, `del state[a]`) commits one
entry, as tests do to the dict.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path

import lmdb

from sawgrid.protos.txn_view import DELETED

__all__ = ["DiskState", "MAP_SIZE", "CACHE_GENERATION", "FLUSH_ENTRIES"]

#: address space LMDB reserves for the file (sparse: the file grows with its
#: data). 1 TiB is far above a 10,000-participant week (a few GB on disk).
MAP_SIZE = 1 << 40

#: entries in each of the read cache's two generations: at most twice this
#: many addresses (about 450 bytes each) are held in memory, some 100 MB.
#: An hour of a 10,000-participant market touches about 100,000.
CACHE_GENERATION = 1 << 17

#: committed entries held in memory before they are written to LMDB in one
#: transaction (`DiskState.flush`): some 30 MB.
FLUSH_ENTRIES = 1 << 16

_NOT_PENDING = object()


def _checked(address: str) -> str:
    if not isinstance(address, str):
        raise TypeError(f"address must be str, got {type(address).__name__}")
    return address


def _encode(address: str) -> bytes:
    return _checked(address).encode("ascii")


class DiskState(MutableMapping):
    """`{address: bytes}` in an LMDB environment in `directory` (created if
    missing; an existing one is opened with what it holds). Iteration and
    prefix queries are in address order."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._env = lmdb.open(str(self.directory), map_size=MAP_SIZE, subdir=True,
                              sync=False, metasync=False, readahead=False)
        self._read: lmdb.Transaction | None = None
        # Committed batches not yet in LMDB: {address: bytes | DELETED}.
        self._pending: dict[str, object] = {}
        # The read cache's two generations: lookups promote from old to young;
        # a full young generation becomes the old one (the old one is dropped).
        self._young: dict[str, bytes | None] = {}
        self._old: dict[str, bytes | None] = {}

    # -- reading -----------------------------------------------------------------
    def _reader(self) -> lmdb.Transaction:
        if self._read is None:
            self._read = self._env.begin()
        return self._read

    def _drop_snapshot(self) -> None:
        """End the read transaction: the next read begins one on what LMDB holds now."""
        if self._read is not None:
            self._read.abort()
            self._read = None

    def _remember(self, address: str, data: bytes | None) -> None:
        young = self._young
        if len(young) >= CACHE_GENERATION and address not in young:
            self._old, self._young = young, {}
            young = self._young
        young[address] = data

    def _lookup(self, address: str) -> bytes | None:
        """The data at `address` (None: absent): pending writes, the cache, LMDB."""
        data = self._pending.get(address, _NOT_PENDING)
        if data is not _NOT_PENDING:
            return None if data is DELETED else data
        try:
            return self._young[address]
        except KeyError:
            pass
        if address in self._old:
            data = self._old.pop(address)
        else:
            data = self._reader().get(_encode(address))
        self._remember(address, data)
        return data

    # -- writing -----------------------------------------------------------------
    def commit(self, writes: Mapping[str, object]) -> None:
        """Commit one batch's writes: bytes set an address, `txn_view.DELETED`
        removes it (absent already: nothing to do). They are seen at once and
        reach LMDB with the next `flush()`."""
        for address, data in writes.items():
            _checked(address)
            if data is not DELETED and not isinstance(data, bytes):
                raise TypeError(f"state data must be bytes, got {type(data).__name__}")
        self._pending.update(writes)
        if len(self._pending) >= FLUSH_ENTRIES:
            self.flush()

    def flush(self) -> None:
        """Write the committed batches to LMDB, in one write transaction and in
        address order (LMDB copies every page a write touches: thousands of
        sorted writes at once cost far less than one small transaction per
        batch). The file then holds a whole number of batches."""
        pending = self._pending
        if not pending:
            return
        with self._env.begin(write=True) as txn:
            for address in sorted(pending):
                data = pending[address]
                if data is DELETED:
                    txn.delete(_encode(address))
                else:
                    txn.put(_encode(address), data)
        self._drop_snapshot()   # the next read sees the new commit
        for address, data in pending.items():   # what was written is what is read next
            self._old.pop(address, None)
            self._remember(address, None if data is DELETED else data)
        self._pending = {}

    # -- the mapping -------------------------------------------------------------
    def get(self, address: str, default=None):
        data = self._lookup(address)
        return default if data is None else data

    def __getitem__(self, address: str) -> bytes:
        data = self._lookup(address)
        if data is None:
            raise KeyError(address)
        return data

    def __contains__(self, address) -> bool:
        return isinstance(address, str) and self._lookup(address) is not None

    def __setitem__(self, address: str, data: bytes) -> None:
        self.commit({address: data})

    def __delitem__(self, address: str) -> None:
        if address not in self:
            raise KeyError(address)
        self.commit({address: DELETED})

    def __iter__(self) -> Iterator[str]:
        """The addresses, sorted (a snapshot: changing the state while
        iterating is safe and not seen)."""
        return iter(self.keys_under(""))

    def __len__(self) -> int:
        self.flush()
        return self._env.stat()["entries"]

    def clear(self) -> None:
        with self._env.begin(write=True) as txn:
            txn.drop(self._env.open_db(txn=txn), delete=False)
        self._drop_snapshot()
        self._pending, self._young, self._old = {}, {}, {}

    # -- prefix queries ----------------------------------------------------------
    def items_under(self, prefix: str) -> list[tuple[str, bytes]]:
        """`(address, data)` of the addresses starting with `prefix`, sorted
        (pending writes are flushed first: LMDB's cursor then sees them all)."""
        start = _encode(prefix)
        # the first key after every key starting with `prefix` (ASCII: the last byte + 1)
        end = start[:-1] + bytes([start[-1] + 1]) if start else None
        self.flush()
        found: list[tuple[str, bytes]] = []
        append = found.append
        with self._reader().cursor() as cursor:
            if not cursor.set_range(start):
                return found
            for key, data in cursor.iternext():
                if end is not None and key >= end:
                    break
                append((key.decode("ascii"), data))
        return found

    def keys_under(self, prefix: str) -> list[str]:
        """The addresses starting with `prefix`, sorted."""
        return [address for address, _ in self.items_under(prefix)]

    # -- lifetime ----------------------------------------------------------------
    def close(self) -> None:
        """Flush and close the environment (the files stay; removing them is
        the caller's)."""
        self.flush()
        self._drop_snapshot()
        self._env.close()

    def __enter__(self) -> "DiskState":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DiskState({str(self.directory)!r})"
