"""Learning what became of forwarded batches, off the forwarding path.

The request thread only calls `watch()` (a deque append); a thread of its
own asks the upstream's `/batch_statuses` about awaited batches, with a
`RestClient` and its own connection, in one request per round. A batch is
first asked about `first_check` seconds after it was forwarded (by then
most have committed, so most batches are asked about once), then every
`recheck` seconds while it is PENDING; the watcher reports
each batch that stayed INVALID for `INVALID_SETTLE` seconds (a loaded
Sawtooth validator reports some batches INVALID that it then commits: see
clients/sdk/rest.py) to `on_invalid(client, key, batch_id)`. Batches without
a final status after `max_age` seconds are dropped as unresolved, and at
most `max_pending` are awaited (the oldest are dropped first).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Callable

from sawgrid.clients.sdk.rest import INVALID_SETTLE, RestClient, RestError

__all__ = ["OutcomeWatcher"]

LOGGER = logging.getLogger(__name__)

POLL_INTERVAL = 0.25  # seconds between rounds (a round with nothing due asks nothing)
FIRST_CHECK = 1.0  # seconds after forwarding before a batch is first asked about
RECHECK = 1.0  # seconds between questions about a batch that is still PENDING
MAX_AGE = 300.0  # seconds a batch is awaited at most
MAX_PENDING = 50_000  # batches awaited at most
ASK_AT_ONCE = 1000  # ids per POST /batch_statuses


@dataclass
class _Awaited:
    client: str
    key: str
    since: float
    due: float  # when to ask about it next
    invalid_since: float | None = None


class OutcomeWatcher:
    """See the module docstring. `count(outcome)` is told committed, invalid and unresolved."""

    def __init__(self, upstream: str, on_invalid: Callable[[str, str, str], None], *,
                 count: Callable[[str], None] = lambda outcome: None,
                 gauge: Callable[[int], None] = lambda size: None,
                 ca_cert: str | None = None, interval: float = POLL_INTERVAL,
                 settle: float = INVALID_SETTLE, max_age: float = MAX_AGE, max_pending: int = MAX_PENDING,
                 first_check: float = FIRST_CHECK, recheck: float = RECHECK,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._rest = RestClient(upstream, timeout=10.0, ca_cert=ca_cert)
        self._on_invalid = on_invalid
        self._count = count
        self._gauge = gauge
        self.interval = interval
        self.settle = settle
        self.max_age = max_age
        self.max_pending = max_pending
        self.first_check = first_check
        self.recheck = recheck
        self._clock = clock
        self._incoming: deque[tuple[str, str, str, float]] = deque()
        self._awaited: OrderedDict[str, _Awaited] = OrderedDict()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, batch_id: str, client: str, key: str) -> None:
        """Await the outcome of a forwarded batch. Never blocks."""
        self._incoming.append((batch_id, client, key, self._clock()))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="gateway-outcomes", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None
        self._rest.close()

    @property
    def awaited(self) -> int:
        return len(self._awaited) + len(self._incoming)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check_once()
            except RestError as err:  # the upstream is down or busy: try again next round
                LOGGER.warning("gateway: batch statuses from the upstream failed: %s", err)
            except Exception:  # never let the watcher die; the forwarding path does not need it
                LOGGER.exception("gateway: batch outcome check failed")

    def check_once(self) -> None:
        """One round: take in new batches, ask about all awaited ones, report and forget final ones."""
        while self._incoming:
            batch_id, client, key, since = self._incoming.popleft()
            self._awaited[batch_id] = _Awaited(client, key, since, since + self.first_check)
            while len(self._awaited) > self.max_pending:
                self._awaited.popitem(last=False)
                self._count("unresolved")
        now = self._clock()
        ids = [batch_id for batch_id, awaited in self._awaited.items() if awaited.due <= now]
        for start in range(0, len(ids), ASK_AT_ONCE):
            if self._stop.is_set():
                return
            chunk = ids[start:start + ASK_AT_ONCE]
            statuses = self._rest.statuses(chunk)
            now = self._clock()
            for batch_id in chunk:
                awaited = self._awaited.get(batch_id)
                status = statuses.get(batch_id, {}).get("status")
                if awaited is None:
                    continue
                if status == "COMMITTED":
                    del self._awaited[batch_id]
                    self._count("committed")
                elif status == "INVALID":
                    if awaited.invalid_since is None:
                        awaited.invalid_since = now
                    if now - awaited.invalid_since >= self.settle:
                        del self._awaited[batch_id]
                        self._count("invalid")
                        self._on_invalid(awaited.client, awaited.key, batch_id)
                    else:
                        awaited.due = awaited.invalid_since + self.settle
                else:
                    awaited.invalid_since = None
                    awaited.due = now + self.recheck
                    if now - awaited.since > self.max_age:
                        del self._awaited[batch_id]
                        self._count("unresolved")
        self._gauge(len(self._awaited))
