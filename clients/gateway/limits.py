"""Token buckets per client address and per signer key, and the gateway's limits.

    limits = Limits.parse("client=200/400,key=50/100,body=1048576")
    buckets = Buckets(limits.client_rate, limits.client_burst)
    wait = buckets.take("127.0.0.1")     # 0.0: allowed; else seconds until a token is back

A bucket holds up to `burst` tokens and refills at `rate` tokens a second;
each request takes one. A subject (address or key) can also be held off for
a while (`penalize`), which the IDS does to a key that sent a burst of
INVALID batches: its requests get 429 until the penalty is over. The table
is bounded (`MAX_SUBJECTS`): the longest-idle subjects are forgotten first,
which gives them a full bucket again, never a smaller one.
"""
from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, fields, replace
from typing import Callable

__all__ = ["Limits", "Buckets", "MAX_SUBJECTS"]

MAX_SUBJECTS = 100_000  # buckets kept per table; see the module docstring


@dataclass(frozen=True)
class Limits:
    """The gateway's limits (`--limits`).

    client_rate/client_burst: requests per second and burst per client address;
    key_rate/key_burst: `POST /batches` requests per second and burst per batch
    signer key (every key of a request's batches is charged once);
    body: the largest request body in bytes (413 above);
    invalid_key / invalid_client: INVALID batches from one key / one address
    within `invalid_window` seconds that raise an alert and hold that key /
    address off for `penalty` seconds;
    sign_ins: failed sign-ins from one address or key within `sign_in_window`
    seconds that raise an alert.
    """

    client_rate: float = 200.0
    client_burst: float = 400.0
    key_rate: float = 50.0
    key_burst: float = 100.0
    body: int = 1024 * 1024  # a 100-batch BatchList of market orders is ~60 kB
    invalid_key: int = 10
    invalid_client: int = 30
    invalid_window: float = 60.0
    penalty: float = 60.0
    sign_ins: int = 5
    sign_in_window: float = 300.0

    # the names `--limits` accepts: name -> (fields it sets)
    SPEC_NAMES = {
        "client": ("client_rate", "client_burst"), "key": ("key_rate", "key_burst"), "body": ("body",),
        "invalid-key": ("invalid_key",), "invalid-client": ("invalid_client",),
        "invalid-window": ("invalid_window",), "penalty": ("penalty",),
        "sign-ins": ("sign_ins",), "sign-in-window": ("sign_in_window",),
    }

    @classmethod
    def parse(cls, text: str, base: "Limits | None" = None) -> "Limits":
        """`client=RATE[/BURST],key=RATE[/BURST],body=BYTES,invalid-key=N,
        invalid-client=N,invalid-window=S,penalty=S,sign-ins=N,sign-in-window=S`;
        names left out keep their defaults (or `base`'s). A BURST left out is
        twice the RATE. Raises ValueError naming the bad part."""
        limits = base or cls()
        changes: dict[str, float | int] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, value = part.partition("=")
            if not sep or name not in cls.SPEC_NAMES:
                raise ValueError(f"--limits: {part!r} is not NAME=VALUE with NAME one of "
                                 f"{', '.join(cls.SPEC_NAMES)}")
            targets = cls.SPEC_NAMES[name]
            numbers = value.split("/")
            if len(numbers) > len(targets):
                raise ValueError(f"--limits: {part!r}: {name} takes {'RATE[/BURST]' if len(targets) == 2 else 'one number'}")
            try:
                parsed = [float(n) for n in numbers]
            except ValueError:
                raise ValueError(f"--limits: {part!r}: {value!r} is not a number") from None
            if any(not math.isfinite(n) or n <= 0 for n in parsed):
                raise ValueError(f"--limits: {part!r}: must be a positive number")
            if len(targets) == 2 and len(parsed) == 1:
                parsed.append(2 * parsed[0])
            for target, number in zip(targets, parsed):
                kind = {f.name: f.type for f in fields(cls)}[target]
                if kind in ("int", int):
                    if number != int(number):
                        raise ValueError(f"--limits: {part!r}: must be a whole number")
                    number = int(number)
                changes[target] = number
        for rate, burst in (("client_rate", "client_burst"), ("key_rate", "key_burst")):
            if changes.get(burst, getattr(limits, burst)) < 1:
                raise ValueError(f"--limits: the {rate.split('_')[0]} burst must be at least 1")
        return replace(limits, **changes)


class Buckets:
    """Token buckets keyed by subject (a client address, a signer key); thread-safe."""

    def __init__(self, rate: float, burst: float, *, clock: Callable[[], float] = time.monotonic,
                 max_subjects: int = MAX_SUBJECTS) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._max = max_subjects
        # subject -> [tokens, last refill, held off until]
        self._table: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _entry(self, subject: str, now: float) -> list[float]:
        entry = self._table.get(subject)
        if entry is None:
            entry = self._table[subject] = [self.burst, now, 0.0]
            if len(self._table) > self._max:
                self._table.popitem(last=False)
        else:
            self._table.move_to_end(subject)
            entry[0] = min(self.burst, entry[0] + (now - entry[1]) * self.rate)
            entry[1] = now
        return entry

    def take(self, subject: str) -> float:
        """Take a token: 0.0 if `subject` may go on, else the seconds until it
        may retry (a penalty's remaining time, or until a token is back)."""
        with self._lock:
            now = self._clock()
            entry = self._entry(subject, now)
            if entry[2] > now:
                return entry[2] - now
            if entry[0] >= 1.0:
                entry[0] -= 1.0
                return 0.0
            return (1.0 - entry[0]) / self.rate

    def take_all(self, subjects: list[str]) -> float:
        """Take one token from each subject, or none if any of them must wait;
        returns the longest wait (0.0: all went through)."""
        with self._lock:
            now = self._clock()
            entries = [self._entry(s, now) for s in subjects]
            waits = [e[2] - now if e[2] > now else (0.0 if e[0] >= 1.0 else (1.0 - e[0]) / self.rate)
                     for e in entries]
            longest = max(waits, default=0.0)
            if longest == 0.0:
                for entry in entries:
                    entry[0] -= 1.0
            return longest

    def penalize(self, subject: str, seconds: float) -> None:
        """Hold `subject` off for `seconds` from now (every take answers the time left)."""
        with self._lock:
            now = self._clock()
            entry = self._entry(subject, now)
            entry[2] = max(entry[2], now + seconds)

    def held_off(self, subject: str) -> float:
        """Seconds of penalty `subject` has left (0.0: none)."""
        with self._lock:
            entry = self._table.get(subject)
            return max(0.0, entry[2] - self._clock()) if entry else 0.0

    def __len__(self) -> int:
        return len(self._table)
