"""Test-only fault injection: devnet misbehaves the way a real Sawtooth
validator does under load, so that clients' handling of it is tested without
one. Never use it for anything but tests.

    sawgrid devnet ... --faults invalid=0.3,seed=7,burst429=5,drop=3

`invalid=P`
    On its first run each batch is, with probability P, reported INVALID
    although nothing is wrong with it, and re-runs later. That is what a
    Sawtooth 1.0.5 validator does (and the 1.2 Python executor can): when the
    publisher claims a block it drops the state contexts of the batches still
    in its schedule; a transaction still running reads empty state, is
    rejected, and its batch is reported INVALID; the batch re-runs in the
    next block and commits. Here the chosen batch sits out `hold` publish
    rounds, then runs normally. Its status stays INVALID until it commits, as
    with Sawtooth's batch tracker (an INVALID entry is only superseded by
    COMMITTED). The message is the batch's own processor's verdict on empty
    state when the processor rejects it there, else `FALLBACK_MESSAGE`.
`hold=N`
    Publish rounds a falsely INVALID batch sits out, counting the one it was
    reported INVALID in (default 2: it re-runs two rounds later). A round is
    one attempt to build a block, about `--block-interval` + 0.1 s when idle.
`seed=N`
    Seeds the choice of batches (default 0), so a run is repeatable.
`burst429=N`
    The first N `POST /batches` answer 429 (Unable to Accept Batches, code
    31) without queueing anything, as a validator with a full queue does.
`drop=N`
    N requests to `/batches` or `/batch_statuses` (both methods) are answered
    by closing the connection without a response, *after* the request took
    effect: the worst case for a client, which cannot tell whether its batch
    was queued. Never two in a row, so a client that retries once gets
    through. Readiness probes (`GET /blocks`, `/state`) are not affected.
"""
from __future__ import annotations

import random
import threading
from dataclasses import dataclass, fields

from sawgrid.devnet.ledger_api import INVALID, BatchStatus, InvalidTxn

DEFAULT_HOLD_ROUNDS = 2
# What a falsely INVALID batch reports when its processor accepts it even on
# empty state (so there is no processor message to show).
FALLBACK_MESSAGE = "state context was dropped before the transaction completed"
DROP_PATHS = frozenset({"/batches", "/batch_statuses"})
_MINIMUM = {"hold": 1, "burst429": 0, "drop": 0}  # seed: any integer


@dataclass(frozen=True)
class Faults:
    """Which faults to inject; the default injects none. See the module docstring."""

    invalid: float = 0.0
    hold: int = DEFAULT_HOLD_ROUNDS
    seed: int = 0
    burst429: int = 0
    drop: int = 0

    @classmethod
    def parse(cls, spec: str) -> Faults:
        """From `key=value,key=value` (keys: the field names). ValueError
        with a one-line message for an unknown key or a bad value."""
        values: dict[str, float | int] = {}
        known = [f.name for f in fields(cls)]
        for item in filter(None, (part.strip() for part in spec.split(","))):
            key, sep, text = item.partition("=")
            key = key.strip()
            if key not in known:
                raise ValueError(f"unknown fault {key!r} (known: {', '.join(known)})")
            if not sep:
                raise ValueError(f"fault {key!r} needs a value: {key}=...")
            values[key] = _parse_value(key, text.strip())
        return cls(**values)  # type: ignore[arg-type]

    def __bool__(self) -> bool:
        return bool(self.invalid or self.burst429 or self.drop)

    def __str__(self) -> str:
        return ",".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))


def _parse_value(key: str, text: str) -> float | int:
    if key == "invalid":
        try:
            probability = float(text)
        except ValueError:
            probability = -1.0
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"fault 'invalid' is a probability between 0 and 1, not {text!r}")
        return probability
    try:
        number = int(text)
    except ValueError:
        raise ValueError(f"fault {key!r} is a whole number, not {text!r}") from None
    minimum = _MINIMUM.get(key)
    if minimum is not None and number < minimum:
        raise ValueError(f"fault {key!r} is a whole number >= {minimum}, not {text!r}")
    return number


class InvalidFaults:
    """The ledger's side of `invalid=`: which pending batches are falsely
    INVALID, and how many more publish rounds each one sits out.
    Not thread-safe: the ledger calls it under its own lock."""

    def __init__(self, faults: Faults) -> None:
        self._probability = faults.invalid
        self._hold = faults.hold
        self._rng = random.Random(faults.seed)
        self._considered: set[str] = set()
        self._rounds_left: dict[str, int] = {}
        self._status: dict[str, BatchStatus] = {}

    def new_round(self) -> None:
        """A publish round starts: held batches come one round closer to re-running."""
        for batch_id in list(self._rounds_left):
            self._rounds_left[batch_id] -= 1
            if self._rounds_left[batch_id] <= 0:
                del self._rounds_left[batch_id]

    def held(self, batch_id: str) -> bool:
        """Whether the batch sits out this round."""
        return batch_id in self._rounds_left

    def choose(self, batch_id: str) -> bool:
        """Whether to make this batch falsely INVALID; decided once per batch."""
        if batch_id in self._considered:
            return False
        self._considered.add(batch_id)
        return self._rng.random() < self._probability

    def fail(self, batch_id: str, invalid: InvalidTxn) -> BatchStatus:
        """Report the batch INVALID (until it commits) and hold it back."""
        status = BatchStatus(batch_id, INVALID, (invalid,))
        self._status[batch_id] = status
        self._rounds_left[batch_id] = self._hold
        return status

    def status(self, batch_id: str) -> BatchStatus | None:
        """The false INVALID status of a still pending batch, if it has one."""
        return self._status.get(batch_id)

    def forget(self, batch_id: str) -> None:
        """The batch left the queue (committed, or genuinely invalid)."""
        self._considered.discard(batch_id)
        self._rounds_left.pop(batch_id, None)
        self._status.pop(batch_id, None)


class RequestFaults:
    """The REST API's side: `burst429=` and `drop=`. Thread-safe."""

    def __init__(self, faults: Faults) -> None:
        self._lock = threading.Lock()
        self._queue_full_left = faults.burst429
        self._drops_left = faults.drop
        self._dropped_last = False

    def queue_full(self) -> bool:
        """Whether this `POST /batches` is to answer 429."""
        with self._lock:
            if self._queue_full_left <= 0:
                return False
            self._queue_full_left -= 1
            return True

    def drop(self, path: str) -> bool:
        """Whether to close the connection instead of answering this request."""
        if path not in DROP_PATHS:
            return False
        with self._lock:
            drop = self._drops_left > 0 and not self._dropped_last
            if drop:
                self._drops_left -= 1
            self._dropped_last = drop
            return drop
