"""A basic intrusion detector: counts suspicious events per subject (a client
address, a signer key) and raises structured alerts when they pile up.

    detector = Detector(Thresholds())
    detector.on_alert(lambda alert: ...)              # e.g. hold the key off
    detector.invalid_batch("10.0.0.7", key, batch_id)  # a batch the network found INVALID
    detector.unknown_family("10.0.0.7", key, "xo")     # a family the network does not run
    detector.failed_sign_in("10.0.0.7", key)           # the dashboard reports these
    detector.alerts()   # [{"time", "kind", "client", "key", "detail"}, ...], newest last

Rules (`Thresholds`), each a count within a sliding window:

* `invalid-batches`: `invalid_key` INVALID batches from one signer key, or
  `invalid_client` from one client address, within `invalid_window` seconds.
* `unknown-family`: any batch for a family the network does not run (one
  alert per key and family per `invalid_window`, so a flood is one line).
* `failed-sign-ins`: `sign_ins` failed sign-ins from one address, or for one
  key, within `sign_in_window` seconds.

After an alert the subject's count starts again, so a sustained attack
raises one alert per threshold reached, not one per event. Each alert is
logged as one JSON line (logger `sawgrid.gateway.ids`, WARNING), kept in a
bounded list (`max_alerts`, oldest dropped) and passed to every `on_alert`
listener. Thread-safe; no I/O but the log line; the gateway and the
dashboard each run their own.
"""
from __future__ import annotations

import datetime
import json
import logging
import threading
import time
from collections import Counter, OrderedDict, deque
from dataclasses import asdict, dataclass
from typing import Callable

__all__ = ["Alert", "Detector", "Thresholds", "INVALID_BATCHES", "UNKNOWN_FAMILY", "FAILED_SIGN_INS", "KINDS"]

LOGGER = logging.getLogger("sawgrid.gateway.ids")

INVALID_BATCHES = "invalid-batches"
UNKNOWN_FAMILY = "unknown-family"
FAILED_SIGN_INS = "failed-sign-ins"
KINDS = (INVALID_BATCHES, UNKNOWN_FAMILY, FAILED_SIGN_INS)
MAX_ALERTS = 1000  # alerts kept for /_gateway/alerts
MAX_SUBJECTS = 100_000  # subjects tracked per rule; the longest-quiet are forgotten first


@dataclass(frozen=True)
class Thresholds:
    """When a rule fires; see the module docstring."""

    invalid_key: int = 10
    invalid_client: int = 30
    invalid_window: float = 60.0
    sign_ins: int = 5
    sign_in_window: float = 300.0


@dataclass(frozen=True)
class Alert:
    """One alert. `subject` is "key" or "client": whom it is about (the
    gateway holds that one off after an `invalid-batches` alert)."""

    time: str  # ISO-8601 UTC, e.g. 2026-12-01T14:05:09.123Z
    kind: str
    client: str
    key: str | None
    detail: str
    subject: str = "client"

    def to_json(self) -> dict:
        """The agreed shape of /_gateway/alerts entries (without `subject`)."""
        doc = asdict(self)
        del doc["subject"]
        return doc


class _Burst:
    """Event times per subject within a sliding window."""

    def __init__(self, threshold: int, window: float) -> None:
        self.threshold = threshold
        self.window = window
        self._times: OrderedDict[str, deque[float]] = OrderedDict()

    def hit(self, subject: str, now: float) -> bool:
        """Count one event; True when this one reaches the threshold (the count then restarts)."""
        times = self._times.get(subject)
        if times is None:
            times = self._times[subject] = deque()
            if len(self._times) > MAX_SUBJECTS:
                self._times.popitem(last=False)
        else:
            self._times.move_to_end(subject)
        times.append(now)
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.threshold:
            times.clear()
            return True
        return False


class Detector:
    """See the module docstring. `clock` (seconds, monotonic) drives the
    windows and `wall` (a UTC datetime) stamps the alerts; tests pass their own."""

    def __init__(self, thresholds: Thresholds = Thresholds(), *, max_alerts: int = MAX_ALERTS,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.timezone.utc),
                 ) -> None:
        self.thresholds = thresholds
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._alerts: deque[Alert] = deque(maxlen=max_alerts)
        self._listeners: list[Callable[[Alert], None]] = []
        self._counts: Counter[str] = Counter()
        t = thresholds
        self._invalid_key = _Burst(t.invalid_key, t.invalid_window)
        self._invalid_client = _Burst(t.invalid_client, t.invalid_window)
        self._unknown_seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._sign_in_client = _Burst(t.sign_ins, t.sign_in_window)
        self._sign_in_key = _Burst(t.sign_ins, t.sign_in_window)

    # -- what callers report ---------------------------------------------------------
    def invalid_batch(self, client: str, key: str, batch_id: str = "") -> list[Alert]:
        """A batch from `client`, signed by `key`, that the network found INVALID."""
        what = f" (last: batch {batch_id[:16]})" if batch_id else ""
        t = self.thresholds
        with self._lock:
            now = self._clock()
            raised = []
            if self._invalid_key.hit(key, now):
                raised.append(self._raise(INVALID_BATCHES, client, key, "key",
                                          f"{t.invalid_key} INVALID batches from one key within "
                                          f"{t.invalid_window:g} s{what}"))
            if self._invalid_client.hit(client, now):
                raised.append(self._raise(INVALID_BATCHES, client, key, "client",
                                          f"{t.invalid_client} INVALID batches from one address within "
                                          f"{t.invalid_window:g} s{what}"))
        self._notify(raised)
        return raised

    def unknown_family(self, client: str, key: str, family: str) -> Alert | None:
        """A batch for `family`, which the network does not run."""
        with self._lock:
            now = self._clock()
            seen = self._unknown_seen.get((key, family))
            if seen is not None and now - seen < self.thresholds.invalid_window:
                return None
            self._unknown_seen[(key, family)] = now
            self._unknown_seen.move_to_end((key, family))
            if len(self._unknown_seen) > MAX_SUBJECTS:
                self._unknown_seen.popitem(last=False)
            alert = self._raise(UNKNOWN_FAMILY, client, key, "key",
                                f"a batch for family {family[:64]!r}, which this network does not run")
        self._notify([alert])
        return alert

    def failed_sign_in(self, client: str, key: str | None = None, detail: str = "") -> list[Alert]:
        """A failed sign-in from `client` (for `key`, when the attempt named one)."""
        t = self.thresholds
        why = f" (last: {detail[:120]})" if detail else ""
        with self._lock:
            now = self._clock()
            raised = []
            if self._sign_in_client.hit(client, now):
                raised.append(self._raise(FAILED_SIGN_INS, client, key, "client",
                                          f"{t.sign_ins} failed sign-ins from one address within "
                                          f"{t.sign_in_window:g} s{why}"))
            if key is not None and self._sign_in_key.hit(key, now):
                raised.append(self._raise(FAILED_SIGN_INS, client, key, "key",
                                          f"{t.sign_ins} failed sign-ins for one key within "
                                          f"{t.sign_in_window:g} s{why}"))
        self._notify(raised)
        return raised

    # -- what callers read --------------------------------------------------------------
    def on_alert(self, listener: Callable[[Alert], None]) -> None:
        """Call `listener(alert)` for every alert from now on (in the reporting thread)."""
        self._listeners.append(listener)

    def alerts(self) -> list[dict]:
        """The kept alerts, oldest first, in the /_gateway/alerts shape."""
        with self._lock:
            return [alert.to_json() for alert in self._alerts]

    def counts(self) -> dict[str, int]:
        """Alerts raised so far, by kind (every kind listed, 0 included)."""
        with self._lock:
            return {kind: self._counts[kind] for kind in KINDS}

    # -- inside -----------------------------------------------------------------------
    def _raise(self, kind: str, client: str, key: str | None, subject: str, detail: str) -> Alert:
        stamp = self._wall().astimezone(datetime.timezone.utc).isoformat(timespec="milliseconds")
        alert = Alert(stamp.replace("+00:00", "Z"), kind, client, key, detail, subject)
        self._alerts.append(alert)
        self._counts[kind] += 1
        return alert

    def _notify(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            LOGGER.warning("%s", json.dumps({"alert": alert.to_json()}, sort_keys=True))
            for listener in self._listeners:
                listener(alert)
