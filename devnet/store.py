"""Devnet's on-disk store, in a data directory:

* `ledger.sqlite` — blocks, batch/transaction indexes and receipts;
* `state.lmdb/` — the Merkle-Radix state nodes, content-addressed by hash
  (LMDB, like a Sawtooth validator; SQLite's B-tree was 4-5x slower for the
  ~35 random-key inserts per changed address a block brings).

Committing a block first writes its new state nodes to LMDB, then the block,
its indexes and receipts in ONE SQLite transaction. A crash — even `kill -9` —
in between leaves only unreferenced nodes, never a block whose state is
missing. Both are durable against process crashes (SQLite WAL with
synchronous=NORMAL, LMDB without fsync), not against power loss, which a
devnet need not survive.

One devnet at a time per data directory: the store holds an exclusive lock on
`devnet.lock` for as long as it is open (the kernel drops it when the process
dies, however it dies), and a second store on the same directory is refused.
"""
from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from pathlib import Path
from typing import Iterable, Sequence

import lmdb

from sawgrid.protos.sawtooth import Block, TransactionReceipt

LMDB_MAP_SIZE = 1 << 38  # 256 GiB of address space; the file grows only as needed

_SCHEMA = """
CREATE TABLE IF NOT EXISTS blocks (num INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS batches (id TEXT PRIMARY KEY, block_num INTEGER NOT NULL, idx INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS transactions (id TEXT PRIMARY KEY, block_num INTEGER NOT NULL, batch_idx INTEGER NOT NULL, idx INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS receipts (txn_id TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
"""


LOCK_FILE = "devnet.lock"


class DataDirInUse(OSError):
    """Another devnet holds the data directory's lock."""


def _lock(directory: Path) -> int:
    """Take the data directory's exclusive lock; return its file descriptor."""
    path = directory / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise DataDirInUse(f"another devnet (pid {holder}) is using the data folder {directory}; "
                           f"stop it or choose another --data-dir") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


class Store:
    """Thread-safe: each thread gets its own read connection; writes are serialized."""

    def __init__(self, directory: Path | str) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock(directory)
        self.path = str(directory / "ledger.sqlite")
        self._nodes = lmdb.open(str(directory / "state.lmdb"), map_size=LMDB_MAP_SIZE, subdir=True,
                                sync=False, metasync=False, max_readers=512)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        conn = self._conn()
        conn.executescript(_SCHEMA)
        conn.commit()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=True)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    # -- state nodes (the Merkle trie's NodeStore protocol) -----------------
    def get_node(self, node_hash: str) -> bytes | None:
        with self._nodes.begin(buffers=False) as txn:
            return txn.get(bytes.fromhex(node_hash))

    def put_nodes(self, nodes: Iterable[tuple[str, bytes]]) -> None:
        """Persist state nodes (content-addressed, so writing one twice is harmless)."""
        with self._nodes.begin(write=True) as txn, txn.cursor() as cursor:
            cursor.putmulti(((bytes.fromhex(h), data) for h, data in nodes), overwrite=False)

    # -- blocks ------------------------------------------------------------
    def commit_block(
        self,
        block: Block,
        block_num: int,
        nodes: Sequence[tuple[str, bytes]],
        receipts: Sequence[TransactionReceipt],
    ) -> None:
        """Write a block with its state nodes, indexes and receipts (see module doc)."""
        batch_rows = [(b.header_signature, block_num, i) for i, b in enumerate(block.batches)]
        txn_rows = [
            (t.header_signature, block_num, i, j)
            for i, b in enumerate(block.batches)
            for j, t in enumerate(b.transactions)
        ]
        receipt_rows = [(r.transaction_id, r.SerializeToString()) for r in receipts]
        self.put_nodes(nodes)
        with self._write_lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "INSERT INTO blocks VALUES (?, ?, ?)",
                    (block_num, block.header_signature, block.SerializeToString()),
                )
                conn.executemany("INSERT INTO batches VALUES (?, ?, ?)", batch_rows)
                conn.executemany("INSERT INTO transactions VALUES (?, ?, ?, ?)", txn_rows)
                conn.executemany("INSERT OR REPLACE INTO receipts VALUES (?, ?)", receipt_rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def head_num(self) -> int:
        row = self._conn().execute("SELECT MAX(num) FROM blocks").fetchone()
        return -1 if row[0] is None else row[0]

    def block_by_num(self, num: int) -> Block | None:
        row = self._conn().execute("SELECT data FROM blocks WHERE num=?", (num,)).fetchone()
        return Block.FromString(row[0]) if row else None

    def block_by_id(self, block_id: str) -> Block | None:
        row = self._conn().execute("SELECT data FROM blocks WHERE id=?", (block_id,)).fetchone()
        return Block.FromString(row[0]) if row else None

    def block_num_of(self, block_id: str) -> int | None:
        row = self._conn().execute("SELECT num FROM blocks WHERE id=?", (block_id,)).fetchone()
        return row[0] if row else None

    def batch_location(self, batch_id: str) -> tuple[int, int] | None:
        """(block_num, index in block) of a committed batch."""
        row = self._conn().execute("SELECT block_num, idx FROM batches WHERE id=?", (batch_id,)).fetchone()
        return (row[0], row[1]) if row else None

    def committed_batches(self, batch_ids: Sequence[str]) -> set[str]:
        if not batch_ids:
            return set()
        marks = ",".join("?" * len(batch_ids))
        rows = self._conn().execute(f"SELECT id FROM batches WHERE id IN ({marks})", list(batch_ids))
        return {row[0] for row in rows}

    def transaction_location(self, txn_id: str) -> tuple[int, int, int] | None:
        """(block_num, batch index, transaction index) of a committed transaction."""
        row = self._conn().execute(
            "SELECT block_num, batch_idx, idx FROM transactions WHERE id=?", (txn_id,)
        ).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def has_transaction(self, txn_id: str) -> bool:
        return self._conn().execute("SELECT 1 FROM transactions WHERE id=?", (txn_id,)).fetchone() is not None

    def receipt(self, txn_id: str) -> TransactionReceipt | None:
        row = self._conn().execute("SELECT data FROM receipts WHERE txn_id=?", (txn_id,)).fetchone()
        return TransactionReceipt.FromString(row[0]) if row else None

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        self._nodes.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the data directory's lock
            self._lock_fd = None
