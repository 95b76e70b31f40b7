"""The agent's progress on disk: what it has done, and the batches it has
sent but not yet seen committed.

Every action has a label ("day-ahead/20000/offers", "reading/20000/7", ...).
Before a batch goes to the REST API it is written here under its label (its
bytes and id); once the chain answers, the label is marked done. After a
crash or a restart, a pending batch is asked for by id and, if the ledger
never heard of it, sent again byte for byte: a batch id is its signature, so
a validator commits it at most once. That is what makes submission
idempotent across restarts and retries. The file is replaced atomically (a
reader never sees half of it) and is JSON, so an operator can read it.
"""
from __future__ import annotations

import base64
import json
import os
import threading
from pathlib import Path

from sawgrid.clients.sdk.errors import SawgridError

VERSION = 1
KEEP_DONE = 20_000   # labels kept; the oldest go first (they are days old by then)


class AgentState:
    """`done` labels and `pending` batches, persisted in `path` (None: memory only)."""

    def __init__(self, path: Path | None, public_key: str) -> None:
        self.path = Path(path) if path is not None else None
        self.public_key = public_key
        self.done: dict[str, str] = {}             # label -> outcome ("committed", "refused: ...", ...)
        self.pending: dict[str, dict] = {}         # label -> {"batch_id", "batch" (base64 BatchList)}
        self._lock = threading.RLock()             # the agent's trading and settlement threads share it
        if self.path is not None and self.path.exists():
            self._load()

    def _load(self) -> None:
        try:
            doc = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise SawgridError(f"--state: cannot read {self.path}: {err}") from None
        if not isinstance(doc, dict) or doc.get("version") != VERSION:
            raise SawgridError(f"--state: {self.path} is not a meter state file (version {VERSION})")
        if doc.get("public_key") != self.public_key:
            raise SawgridError(f"--state: {self.path} belongs to key {str(doc.get('public_key'))[:10]}..., "
                               f"not this meter's {self.public_key[:10]}...")
        self.done = dict(doc.get("done", {}))
        self.pending = dict(doc.get("pending", {}))

    def save(self) -> None:
        if self.path is None:
            return
        with self._lock:
            self._write()

    def _write(self) -> None:
        if len(self.done) > KEEP_DONE:  # (under the lock)
            self.done = dict(list(self.done.items())[-KEEP_DONE:])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps({"version": VERSION, "public_key": self.public_key,
                                         "done": self.done, "pending": self.pending}, indent=1))
        os.replace(temporary, self.path)

    def is_done(self, label: str) -> bool:
        return label in self.done

    def mark_done(self, label: str, outcome: str, members: list[str] | None = None) -> None:
        """The action is over (and, if it committed, the actions done with it)."""
        with self._lock:
            entry = self.pending.pop(label, None) or {}
            self.done[label] = outcome
            if outcome == "committed":
                for member in members or entry.get("members", []):
                    self.done[member] = outcome
            self.save()

    def remember(self, label: str, batch_id: str, batch_list: bytes, members: list[str] | None = None) -> None:
        """Before sending: the batch, so a restart can find out what became of it
        (`members`: the labels of the actions one batch does together)."""
        with self._lock:
            self.pending[label] = {"batch_id": batch_id, "batch": base64.b64encode(batch_list).decode(),
                                   "members": list(members or [])}
            self.save()

    def members(self, label: str) -> list[str]:
        """The labels a pending batch does together (empty for a batch of one action)."""
        with self._lock:
            return list(self.pending.get(label, {}).get("members", []))

    def forget(self, label: str) -> None:
        """The ledger refused the batch: the action may be tried afresh."""
        with self._lock:
            if self.pending.pop(label, None) is not None:
                self.save()

    def pending_labels(self, prefix: str) -> list[str]:
        with self._lock:
            return [label for label in self.pending if label.startswith(prefix)]

    def pending_batch(self, label: str) -> tuple[str, bytes] | None:
        with self._lock:
            entry = self.pending.get(label)
        return None if entry is None else (entry["batch_id"], base64.b64decode(entry["batch"]))
