"""The verifier's local memory of what it signed, so a restart never signs twice.

A JSON file `{"proposed": ["SET/SLOT", ...], "countersigned": [...]}`. An
entry is written (fsync, then an atomic rename) BEFORE the transaction that
it names is submitted: a crash between the two loses that signature (the
slot passes, the block gathers its quorum without it), it can never repeat
it. The chain's own records (condition 2, one signature per verifier) refuse
a repeat too; the journal is what keeps an honest agent from even trying.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from sawgrid.clients.sdk.errors import SawgridError


class Journal:
    def __init__(self, path: Path | None) -> None:
        """`path` None: in memory only (tests, one-shot drivers)."""
        self.path = path
        self.proposed: set[str] = set()
        self.countersigned: set[str] = set()
        if path is not None and path.exists():
            try:
                doc = json.loads(path.read_text())
                self.proposed = set(doc.get("proposed", []))
                self.countersigned = set(doc.get("countersigned", []))
            except (OSError, ValueError, AttributeError) as err:
                raise SawgridError(f"--state: {path} is not a verifier state file ({err}); "
                                   f"move it away only if you are sure this key signed nothing since") from None

    @staticmethod
    def key(set_id: int, slot: int) -> str:
        return f"{set_id}/{slot}"

    def has_proposed(self, set_id: int, slot: int) -> bool:
        return self.key(set_id, slot) in self.proposed

    def has_countersigned(self, set_id: int, slot: int) -> bool:
        return self.key(set_id, slot) in self.countersigned

    def record_proposal(self, set_id: int, slot: int) -> None:
        self.proposed.add(self.key(set_id, slot))
        self._save()

    def record_countersign(self, set_id: int, slot: int) -> None:
        self.countersigned.add(self.key(set_id, slot))
        self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        text = json.dumps({"proposed": sorted(self.proposed), "countersigned": sorted(self.countersigned)})
        with open(tmp, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
