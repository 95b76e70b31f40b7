"""Alerts: the dashboard's own (repeated failed sign-ins per client address)
and the gateway's (`GET /_gateway/alerts`), in one format:

    {"time": "2026-03-01T12:00:00Z", "kind": "failed-sign-ins", "client": "10.0.0.7",
     "key": "02ab..." | None, "detail": "5 failed sign-ins within 60 s"}

This detector is the dashboard's own, written beside the gateway's IDS
(clients/gateway/ids.py, `Detector`) with the same alert format and kind; it
adds what a sign-in page needs: an address over the limit is refused (429
with Retry-After) until its failures age out of the window.
"""
from __future__ import annotations

import datetime as dt
import json
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass
from typing import Callable

from sawgrid.clients.dashboard.config import (FAILED_SIGN_IN_LIMIT, FAILED_SIGN_IN_WINDOW, GATEWAY_TIMEOUT,
                                              MAX_ALERTS)

FAILED_SIGN_IN = "failed-sign-ins"   # the kind the gateway's IDS uses too (clients/gateway/ids.py)
ALERT_FIELDS = ("time", "kind", "client", "key", "detail")
MAX_CLIENTS = 100_000     # client addresses tracked at once (the oldest are forgotten first)


def utc_now_text(now: float | None = None) -> str:
    moment = dt.datetime.fromtimestamp(time.time() if now is None else now, dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class AlertLog:
    """The newest MAX_ALERTS alerts, oldest first."""

    def __init__(self, limit: int = MAX_ALERTS) -> None:
        self._alerts: deque[dict] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def add(self, kind: str, client: str, key: str | None, detail: str) -> dict:
        alert = {"time": utc_now_text(), "kind": kind, "client": client, "key": key, "detail": detail}
        with self._lock:
            self._alerts.append(alert)
        return alert

    def all(self) -> list[dict]:
        with self._lock:
            return list(self._alerts)


@dataclass
class _Window:
    failures: deque
    alerted_until: float = 0.0


class FailedSignInDetector:
    """Counts failed sign-ins per client address in a sliding window. The
    `limit`-th failure within `window` seconds raises one alert (and the
    client is refused until its failures age out: `blocked`)."""

    def __init__(self, alerts: AlertLog, limit: int = FAILED_SIGN_IN_LIMIT, window: float = FAILED_SIGN_IN_WINDOW,
                 clock: Callable[[], float] = time.monotonic, on_alert: Callable[[dict], None] | None = None) -> None:
        self.alerts, self.limit, self.window, self.clock = alerts, limit, window, clock
        self.on_alert = on_alert
        self._clients: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> _Window:
        entry = self._clients.get(client)
        if entry is None:
            if len(self._clients) >= MAX_CLIENTS:
                self._clients.pop(next(iter(self._clients)))
            entry = self._clients[client] = _Window(deque())
        while entry.failures and entry.failures[0] <= now - self.window:
            entry.failures.popleft()
        return entry

    def failed(self, client: str, key: str | None, reason: str) -> dict | None:
        """Record one failure; returns the alert when this one crossed the limit."""
        now = self.clock()
        with self._lock:
            entry = self._recent(client, now)
            entry.failures.append(now)
            if len(entry.failures) < self.limit or now < entry.alerted_until:
                return None
            entry.alerted_until = now + self.window
        alert = self.alerts.add(FAILED_SIGN_IN, client, key,
                                f"{self.limit} failed sign-ins within {self.window:.0f} s (last: {reason})")
        if self.on_alert is not None:
            self.on_alert(alert)
        return alert

    def retry_after(self, client: str) -> int:
        """Seconds until `client` may try again (0: now)."""
        now = self.clock()
        with self._lock:
            entry = self._clients.get(client)
            if entry is None:
                return 0
            entry = self._recent(client, now)
            if len(entry.failures) < self.limit:
                return 0
            return max(1, int(entry.failures[-self.limit] + self.window - now + 0.999))


def gateway_alerts(url: str, timeout: float = GATEWAY_TIMEOUT) -> list[dict] | None:
    """The gateway's alerts (newest last), or None when it cannot be read
    (unreachable, an error status, or not the agreed JSON)."""
    endpoint = url.rstrip("/") + "/_gateway/alerts"
    try:
        with urllib.request.urlopen(endpoint, timeout=timeout) as response:  # noqa: S310 (http/https checked at start)
            doc = json.loads(response.read(1_000_000))
    except (OSError, ValueError, urllib.error.URLError):
        return None
    found = doc.get("alerts") if isinstance(doc, dict) else None
    if not isinstance(found, list):
        return None
    alerts = []
    for item in found:
        if isinstance(item, dict):
            alerts.append({name: (None if item.get(name) is None else str(item.get(name))) for name in ALERT_FIELDS})
    return alerts
