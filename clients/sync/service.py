"""`sawgrid sync`'s loop: database, subscription, blocks, and what to do when
a part is down.

    open the database (upgrading its schema)  ─┐  retried with backoff while
    subscribe from its last known block ids   ─┤  the database or the
    apply the blocks as they arrive           ─┘  validator is unreachable

The database is the only memory: after any failure (database down,
validator gone, a gap in the stream, a restart of the process) the loop
subscribes again from the blocks the database holds, so the mirror never
skips or repeats a block. Once per `log_interval` it logs one line: the
mirror's block, the chain head from the REST API, how far behind it is, and
what was written since the last line.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy.exc import DBAPIError

from sawgrid.clients.sdk.rest import RestClient, RestError
from sawgrid.clients.sync.applier import Applied, Applier, Gap, pause_hook
from sawgrid.clients.sync.database import Database, open_database
from sawgrid.clients.sync.subscriber import NULL_BLOCK_ID, StreamLost, Subscriber, UnknownBlocks

LOG = logging.getLogger("sawgrid.sync")

RECEIVE_WAIT = 0.5       # seconds per receive; also how soon a stop is noticed


@dataclass
class SyncConfig:
    db_url: str
    component: str                       # tcp://HOST:4004
    rest_url: str | None = None          # for the lag line (None: no lag)
    log_interval: float = 10.0
    max_backoff: float = 10.0
    stall: float = 30.0                  # no events this long while behind the head: subscribe again
    pause_in_block: float | None = None  # test hook: see applier.pause_hook


@dataclass
class Progress:
    """Counters since start, for the lag line and for callers (bench, tests)."""

    blocks: int = 0
    rows: int = 0
    rolled_back: int = 0
    head: int | None = None              # the mirror's block number
    chain_head: int | None = None        # from REST, at the last lag line
    subscriptions: int = 0
    _mark: tuple[float, int, int] = field(default=(0.0, 0, 0), repr=False)


class SyncService:
    """Run with `run()` until `stop` is set (SIGINT/SIGTERM in the CLI)."""

    def __init__(self, config: SyncConfig, stop: threading.Event | None = None,
                 on_applied: Callable[[Applied, Progress], None] | None = None) -> None:
        self.config = config
        self.stop = stop or threading.Event()
        self.progress = Progress()
        self._on_applied = on_applied
        self._rest = RestClient(config.rest_url, timeout=5) if config.rest_url else None
        self._db: Database | None = None
        self._from_genesis = False
        self._backoff = 0.0
        self._last_log = 0.0
        self._last_event = time.monotonic()

    def run(self) -> None:
        subscriber = Subscriber(self.config.component)
        self.progress._mark = (time.monotonic(), 0, 0)
        self._last_log = time.monotonic()
        try:
            while not self.stop.is_set():
                try:
                    self._session(subscriber)
                except DBAPIError as err:
                    if self._db is not None:   # a new engine after a failure: no stale pooled connections
                        self._db.engine.dispose()
                        self._db = None
                    self._retry(f"database unavailable ({_first_line(err)})")
                except StreamLost as err:
                    self._retry(f"event stream: {err}")
                except UnknownBlocks:
                    LOG.warning("none of the mirror's recent blocks is on the validator's chain: "
                                "subscribing from genesis (block 0 decides what is rolled back)")
                    self._from_genesis = True
                except Gap as err:
                    if err.applied is not None:
                        self._count(err.applied)
                    LOG.warning("gap in the event stream (%s): subscribing again", err)
                finally:
                    subscriber.close()
        finally:
            subscriber.close()
            if self._db is not None:
                self._db.engine.dispose()

    # -- one subscription --------------------------------------------------------
    def _session(self, subscriber: Subscriber) -> None:
        if self._db is None:
            self._db = open_database(self.config.db_url)
        db = self._db
        applier = Applier(db, pause_hook(self.config.pause_in_block) if self.config.pause_in_block else None)
        known = [NULL_BLOCK_ID] if self._from_genesis else (db.last_known_block_ids() or [NULL_BLOCK_ID])
        head = db.head()
        self.progress.head = head.block_num if head else None
        subscriber.subscribe(known)
        self._from_genesis = False
        self.progress.subscriptions += 1
        LOG.info("subscribed to %s from block %s", self.config.component,
                 "genesis" if known == [NULL_BLOCK_ID] else (head.block_num if head else "?"))
        self._last_event = time.monotonic()
        while not self.stop.is_set():
            blocks = subscriber.receive(RECEIVE_WAIT)
            if blocks:
                self._last_event = time.monotonic()
                done = applier.apply(blocks)
                self._backoff = 0.0
                self._count(done)
            self._maybe_log()

    def _count(self, done: Applied) -> None:
        p = self.progress
        p.blocks += done.appended
        p.rows += done.rows
        p.rolled_back += done.rolled_back
        if done.head is not None:
            p.head = done.head
        if self._on_applied is not None:
            self._on_applied(done, p)

    def _retry(self, reason: str) -> None:
        self._backoff = min(self.config.max_backoff, max(0.5, self._backoff * 2))
        LOG.warning("%s; retrying in %.1f s", reason, self._backoff)
        self._maybe_log(watch=False)
        self.stop.wait(self._backoff)

    # -- the lag line --------------------------------------------------------------
    def _maybe_log(self, watch: bool = True) -> None:
        """The lag line, once per interval. With `watch`, also the stall
        check: raises StreamLost when no events came for `stall` seconds
        while the chain is ahead (a validator that forgot this subscriber)."""
        now = time.monotonic()
        if now - self._last_log < self.config.log_interval:
            return
        self._last_log = now
        p = self.progress
        since, blocks0, rows0 = p._mark
        p._mark = (now, p.blocks, p.rows)
        chain = self._chain_head()
        p.chain_head = chain
        at = "nothing yet" if p.head is None else f"block {p.head}"
        if chain is None:
            behind = "chain head unknown (REST API unreachable)" if self._rest else "chain head not asked (no --url)"
        else:
            behind = f"chain head {chain}, {max(0, chain - (p.head if p.head is not None else -1))} behind"
        LOG.info("sync: %s; %s; last %.0f s: %d blocks, %d rows", at, behind, now - since,
                 p.blocks - blocks0, p.rows - rows0)
        stalled = now - self._last_event
        if watch and chain is not None and (p.head is None or chain > p.head) and stalled > self.config.stall:
            self._last_event = now
            raise StreamLost(f"no events for {stalled:.0f} s while the chain is ahead")

    def _chain_head(self) -> int | None:
        if self._rest is None:
            return None
        try:
            newest = next(iter(self._rest.blocks(limit=1)), None)
        except (RestError, OSError):
            return None
        return int(newest["header"]["block_num"]) if newest else None


def _first_line(err: Exception) -> str:
    return str(getattr(err, "orig", err)).strip().splitlines()[0] if str(err).strip() else type(err).__name__
