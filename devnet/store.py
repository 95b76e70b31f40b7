"""Devnet's on-disk store: blocks, batch/transaction indexes, receipts, and
the Merkle-Radix state nodes, in one SQLite database.

A block and everything it brings (state nodes, indexes, receipts) is written
in ONE SQLite transaction, so a crash — even `kill -9` — leaves either the
whole block or none of it. WAL mode with synchronous=NORMAL is durable against
process crashes (not against power loss, which a devnet need not survive).
"""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Iterable, Sequence

from sawgrid.protos.sawtooth import Block, TransactionReceipt

_SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (hash TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blocks (num INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS batches (id TEXT PRIMARY KEY, block_num INTEGER NOT NULL, idx INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS transactions (id TEXT PRIMARY KEY, block_num INTEGER NOT NULL, batch_idx INTEGER NOT NULL, idx INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS receipts (txn_id TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
"""


class Store:
    """Thread-safe: each thread gets its own read connection; writes are serialized."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
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
        row = self._conn().execute("SELECT data FROM nodes WHERE hash=?", (node_hash,)).fetchone()
        return row[0] if row else None

    def put_nodes(self, nodes: Iterable[tuple[str, bytes]]) -> None:
        """Persist state nodes outside a block (genesis of an empty tree, tests)."""
        with self._write_lock:
            conn = self._conn()
            conn.execute("BEGIN")
            conn.executemany("INSERT OR IGNORE INTO nodes VALUES (?, ?)", nodes)
            conn.execute("COMMIT")

    # -- blocks ------------------------------------------------------------
    def commit_block(
        self,
        block: Block,
        block_num: int,
        nodes: Sequence[tuple[str, bytes]],
        receipts: Sequence[TransactionReceipt],
    ) -> None:
        """Write a block with its state nodes, indexes and receipts atomically."""
        batch_rows = [(b.header_signature, block_num, i) for i, b in enumerate(block.batches)]
        txn_rows = [
            (t.header_signature, block_num, i, j)
            for i, b in enumerate(block.batches)
            for j, t in enumerate(b.transactions)
        ]
        receipt_rows = [(r.transaction_id, r.SerializeToString()) for r in receipts]
        with self._write_lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("INSERT OR IGNORE INTO nodes VALUES (?, ?)", nodes)
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
