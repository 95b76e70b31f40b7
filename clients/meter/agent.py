"""The smart-meter agent: one household trading day after day on its own
(`sawgrid meter`).

Each cycle it reads the chain's time (the latest BlockInfo: on a simulated
clock that is the market clock's time, never this machine's) and then

1. **trades day ahead**: for each day the clock has issued (its penalties are
   on chain: the clock issues a day when it closes the day before, see
   clients/clock) whose hours are still open, it reads the day's grid prices
   and its recommendation and places its offers, then its orders, following
   the paper's rules (rules.py). Trading comes first, as a gate does not wait;
2. **reads** every delivery hour that is over and that it has contracts in
   (one reading per hour, for settlement), and **attests** the contracts of
   those hours whose validation cluster it sits in, once their readings are
   in (`Household.reading`, `Household.attestations`).

**Gate order (`turn`).** The market matches an order as it arrives, so who is
matched with whom depends on the order in which the meters' orders arrive.
With `turn=(R, N)` a meter takes turn R (0-based) of N: it places its offers
once R other meters have marked theirs as placed, and its orders once all N
have placed their offers and R have placed their orders. The marks are the
market's own per-day role records, written in the same batch as the orders
(SELLER after the offers, BOTH after the orders), so a mark is on chain
exactly when the orders are. All offers then rest before the first order
arrives, in a fixed order: a day's contracts no longer depend on which meter
was quickest, and N agents trade exactly as `sawgrid simulate` does. A meter
that does not take its turn within `turn_timeout` seconds is not waited for
(logged). Without `turn`, a meter places as soon as the day is issued.

**Idempotent.** Every action has a label in the state file (state.py); a batch
is recorded there before it is sent and resent byte for byte (same batch id)
if the ledger never heard of it, so an order is never placed twice across
restarts and retries. The role marks are a second guard: a meter whose state
file was lost still sees that its offers are on chain.

**As a daemon** (`run`): REST errors back off exponentially (up to
`max_backoff`), a source that fails is retried next cycle, each action logs
one line, and `stop` (SIGTERM, SIGINT) ends it between two actions.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass

from sawtooth_signing import Signer

from sawgrid.clients.meter.household import Household
from sawgrid.clients.meter.sources import SourceError
from sawgrid.clients.meter.state import AgentState
from sawgrid.clients.sdk import market, reputation
from sawgrid.clients.sdk.market import MarketReader
from sawgrid.clients.sdk.rest import BatchInvalid, RestApiError, RestError
from sawgrid.processors.market import addresses
from sawgrid.processors.market.units import HOURS_PER_DAY, day_date
from sawgrid.processors.reputation import settle as rules_of_settlement
from sawgrid.processors.reputation.settings import DAY_SECONDS
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos.envelopes import batch_list_bytes, make_batch
from sawgrid.protos.sawtooth import BatchList

LOG = logging.getLogger("sawgrid.meter")

OFFERS, ORDERS = "offers", "orders"
#: the role mark written with each phase's batch, and which marks count as "done with it"
MARK = {OFFERS: pb.SELLER, ORDERS: pb.BOTH}
DONE_WITH = {OFFERS: (pb.SELLER, pb.BOTH), ORDERS: (pb.BOTH,)}
TURN_POLL = 0.1          # seconds between looks at the other meters' marks
DAYS_AHEAD = 2           # the clock issues a day up to two days ahead (its gate may be a day before it)
RETRYABLE_STATUS = 500
BATCH_TRANSACTIONS = 100 # a batch's most transactions (devnet's and Sawtooth's default limit)   # REST answers from this status up are the server's trouble: back off


@dataclass
class AgentConfig:
    """How the agent runs (times in seconds)."""
    name: str = ""                              # display name it registers under (default: its key's start)
    turn: tuple[int, int] | None = None         # (R, N): take turn R of N at the day-ahead gate
    turn_timeout: float = 30.0
    poll: float = 1.0                           # seconds between cycles
    lookback_days: int = 2                      # how far back it still reads and attests
    submit_timeout: float = 60.0
    max_backoff: float = 60.0
    volunteer: bool = False                     # join the validator pool (attest others' contracts)
    attest_every: float = 2.0                   # seconds before an hour still owed is looked at again


def _day(day: int) -> str:
    return day_date(day).isoformat()


class MeterAgent:
    """One household's agent against a ledger (`rest`: RestClient or InProcessClient)."""

    def __init__(self, rest, signer: Signer, household: Household, state: AgentState,
                 config: AgentConfig | None = None, stop: threading.Event | None = None,
                 settle_rest=None) -> None:
        self.rest = rest
        self.settle_rest = settle_rest if settle_rest is not None else rest
        self.reader = MarketReader(rest)
        self.signer = signer
        self.public_key = signer.get_public_key().as_hex()
        self.household = household
        self.state = state
        self.config = config or AgentConfig()
        self.stop = stop or threading.Event()
        self._rosters: dict[int, list[str]] = {}
        self._said: set[str] = set()   # one-off log lines already written
        self._looked: dict[str, float] = {}   # attestation label -> when it was last looked at

    # -- the loop -------------------------------------------------------------------
    def run(self, once: bool = False) -> int:
        """Until `stop` is set: trading in this thread, settlement in another (with
        `settle_rest`, its own REST client), so that neither waits for the other
        (a meter waiting for its turn at a gate still reads its hours). With
        `once`, one cycle of both; 1 if it failed."""
        if once:
            return self._loop(self.cycle, once=True)
        settler = MeterAgent(self.settle_rest, self.signer, self.household, self.state, self.config, self.stop)
        thread = threading.Thread(target=settler._loop, args=(settler.settle_cycle,), name="settlement",
                                  daemon=True)
        thread.start()
        try:
            return self._loop(self.trade_cycle)
        finally:
            self.stop.set()
            thread.join(self.config.submit_timeout)

    def _loop(self, cycle, once: bool = False) -> int:
        failures = 0
        while not self.stop.is_set():
            wait = self.config.poll
            try:
                cycle()
                if failures:
                    LOG.info("REST API reachable again")
                failures = 0
            except (RestError, SourceError) as err:
                if isinstance(err, RestApiError) and err.status < RETRYABLE_STATUS and not isinstance(err, BatchInvalid):
                    raise
                if once:
                    LOG.warning("%s", err)
                    return 1
                wait = min(self.config.max_backoff, self.config.poll * 2 ** failures)
                failures += 1
                LOG.warning("%s; retrying in %.1f s", err, wait)
            if once:
                return 0
            self.stop.wait(wait)
        return 0

    def cycle(self) -> int:
        """One pass of both: trade what is issued, settle what is over. Batches committed."""
        return self.trade_cycle() + self.settle_cycle()

    def _now(self) -> int | None:
        now = reputation.chain_time(self.rest)
        if now is None:
            self._say("no-time", "the chain has no time yet (no BlockInfo); waiting")
        return now

    def trade_cycle(self) -> int:
        """Place the day-ahead offers and orders of every issued day still open."""
        now = self._now()
        if now is None or not self._ready():
            return 0
        done = 0
        today = now // DAY_SECONDS
        for day in range(today, today + DAYS_AHEAD + 1):
            if self.stop.is_set():
                break
            done += self._day_ahead(day)
        return done

    def settle_cycle(self) -> int:
        """Read the hours that are over, attest what can be judged."""
        now = self._now()
        if now is None:
            return 0
        me = self.reader.participant(self.public_key)
        if me is None or me.status != pb.APPROVED:
            return 0
        return self._settle_hours(now)

    def _say(self, key: str, message: str, *args) -> None:
        if key not in self._said:
            self._said.add(key)
            LOG.info(message, *args)

    # -- membership -----------------------------------------------------------------
    def _ready(self) -> bool:
        """Registered (it registers itself), approved (the operator's job), in the pool if asked."""
        me = self.reader.participant(self.public_key)
        if me is None:
            name = (self.config.name or f"meter-{self.public_key[:8]}")[:64]
            self._send("register", lambda: self._market([market.register(name)]), f"registered as {name!r}")
            return False
        if me.status != pb.APPROVED:
            self._say("approve", "registered as %r; waiting for an operator to approve %s", me.name, self.public_key)
            return False
        if self.config.volunteer and not self.state.is_done("volunteer"):
            pool = reputation.ReputationReader(self.rest).pool()
            if self.public_key in pool.volunteers:
                self.state.mark_done("volunteer", "already in the pool")
            else:
                self._send("volunteer", lambda: self._reputation([reputation.volunteer()]), "joined the validator pool")
        return True

    # -- settlement -----------------------------------------------------------------
    def _settle_hours(self, now: int) -> int:
        """Read every hour that is over and attest what can be judged (within
        lookback_days): all the due readings in one batch, then all the verdicts
        in another, so a meter that fell behind catches up in two commits."""
        self._resolve_groups()
        views: dict[tuple[int, int], reputation.Hour] = {}
        due_reads: list[tuple[int, int]] = []
        first = now // DAY_SECONDS - self.config.lookback_days
        for day in range(first, now // DAY_SECONDS + 1):
            for hour in range(HOURS_PER_DAY):
                if rules_of_settlement.hour_end(day, hour) > now:
                    break
                if not self.state.is_done(f"read/{day}/{hour}"):
                    due_reads.append((day, hour))
        readings = []
        for day, hour in due_reads:
            views[(day, hour)] = view = reputation.Hour(self.rest, day, hour)
            payload = self.household.reading(view)
            if payload is None:
                self.state.mark_done(f"read/{day}/{hour}", "no contracts")
            else:
                readings.append(((day, hour), payload))
        done = 0
        for chunk in (readings[i:i + BATCH_TRANSACTIONS] for i in range(0, len(readings), BATCH_TRANSACTIONS)):
            done += self._send_group([(f"read/{d}/{h}", p, views[(d, h)].read,
                                       f"read {_day(d)} {h:02d}:00: exported {p.reading.delivered_wh} Wh, "
                                       f"imported {p.reading.received_wh} Wh") for (d, h), p in chunk])
        return done + self._attest_hours(now, first)

    def _attest_hours(self, now: int, first: int) -> int:
        """The verdicts this meter owes as a cluster member, in one batch; an hour is
        looked at again at most every `attest_every` seconds until nothing is owed."""
        group = []
        checked = time.monotonic()
        for day in range(first, now // DAY_SECONDS + 1):
            for hour in range(HOURS_PER_DAY):
                label = f"attested/{day}/{hour}"
                if rules_of_settlement.hour_end(day, hour) > now:
                    break
                if self.state.is_done(label) or checked - self._looked.get(label, -1e9) < self.config.attest_every:
                    continue
                self._looked[label] = checked
                view = reputation.Hour(self.rest, day, hour)
                payloads = self.household.attestations(view)
                if not payloads:
                    if not view.owed(self.public_key):
                        self.state.mark_done(label, "nothing owed")
                    continue
                ids = ",".join(sorted(v.contract_id for p in payloads for v in p.attest.verdicts))
                step = f"attest/{day}/{hour}/{hashlib.sha256(ids.encode()).hexdigest()[:12]}"
                count = sum(len(p.attest.verdicts) for p in payloads)
                group += [(step, p, view.read, f"attested {count} contract(s) of {_day(day)} {hour:02d}:00")
                          for p in payloads]
        done = 0
        for i in range(0, len(group), BATCH_TRANSACTIONS):
            done += self._send_group(group[i:i + BATCH_TRANSACTIONS])
        return done

    def _send_group(self, items: list) -> int:
        """(label, reputation payload, read, log line) items as one batch; if the
        ledger refuses it, each alone (so one late item does not hold back the rest)."""
        def alone() -> int:
            return sum(self._send(label, lambda p=p, r=read: self._reputation([p], r), line, final_on_refusal=True)
                       for label, p, read, line in items if not self.state.is_done(label))

        labels = list(dict.fromkeys(label for label, *_ in items))
        if len(items) == 1:
            return alone()
        group = "group/" + hashlib.sha256("|".join(labels).encode()).hexdigest()[:16]
        lines = list(dict.fromkeys(line for *_, line in items))
        committed = self._send(group, lambda: [t for _, p, read, _ in items for t in self._reputation([p], read)],
                               lines[0] + (f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""),
                               final_on_refusal=True, members=labels)
        if not self.state.is_done(group) or self.state.done[group] == "committed":
            return committed          # still pending (next cycle), or done with its members
        return alone()

    def _resolve_groups(self) -> int:
        """Batches of several actions sent before a restart: what became of them."""
        return sum(self._send(label, lambda: [], f"{len(self.state.members(label))} action(s) sent before (batch)",
                              final_on_refusal=True)
                   for label in self.state.pending_labels("group/"))

    # -- day-ahead trading ----------------------------------------------------------
    def _day_ahead(self, day: int) -> int:
        label = f"day/{day}"
        if self.state.is_done(label) or self.reader.penalties(day) is None:
            return 0   # done, or not issued yet
        grid = self.reader.grid_prices(day)
        if grid is None:
            self._say(f"grid/{day}", "%s is issued but has no grid prices yet; waiting", _day(day))
            return 0
        plan = self.household.plan(day, self.household.recommendation(self.reader, day))
        if plan is None:
            self.state.mark_done(label, "no data")
            LOG.info("%s: the source has no data for that day; not trading it", _day(day))
            return 0
        done = 0
        for phase in (OFFERS, ORDERS):
            step = f"{label}/{phase}"
            if self.state.is_done(step):
                continue
            if self._mark(self.public_key, day) in DONE_WITH[phase]:
                self.state.mark_done(step, "found on chain")
                continue
            hours = self._open_hours(day)
            if not hours:
                self.state.mark_done(label, "missed: the day's gate had closed")
                LOG.warning("%s: its gate closed before this meter placed its %s", _day(day), phase)
                return done
            if phase == OFFERS:
                payloads = self.household.offers(plan, hours, grid.buy)
                build = lambda: [*payloads, market.set_role(day, MARK[OFFERS])]   # noqa: E731
            else:
                payloads = self.household.orders(plan, hours, grid.sell)
                build = lambda: [market.set_role(day, MARK[ORDERS]), *payloads]   # noqa: E731
            energy = sum(p.place_order.energy for p in payloads)
            if self.state.pending_batch(step) is None:
                self._wait_turn(day, phase)     # (a batch already sent has had its turn)
            if self.stop.is_set():
                return done
            committed = self._send(step, lambda: self._market(build()), f"{_day(day)}: placed {len(payloads)} {phase} "
                                   f"({market.format_kwh(energy)}) for {len(hours)} open hour(s)")
            if not self.state.is_done(step):
                return done + committed      # refused (an hour closed meanwhile?) or still pending: next cycle
            done += committed
        self.state.mark_done(label, "traded")
        self._rosters.pop(day, None)
        return done

    def _open_hours(self, day: int) -> list[int]:
        return [h for h in range(HOURS_PER_DAY) if not (self.reader.book(day, h) or pb.Book()).closed]

    def _mark(self, public_key: str, day: int) -> int:
        raw = self.rest.state(addresses.role_address(public_key, day))
        return pb.DayRole.FromString(raw).role if raw else pb.ROLE_UNSET

    def _roster(self, day: int) -> list[str]:
        """The other approved participants that are no operator: the meters whose marks count."""
        if day not in self._rosters:
            config = self.reader.config() or pb.Config()
            operators = {*config.operators, config.system_operator}
            self._rosters[day] = [p.public_key for p in self.reader.participants()
                                  if p.status == pb.APPROVED and p.public_key not in operators
                                  and p.public_key != self.public_key]
        return self._rosters[day]

    def _wait_turn(self, day: int, phase: str) -> None:
        """With `turn=(R, N)`: until R others are done with `phase` (and, for the
        orders, all N - 1 others have placed their offers), or `turn_timeout`."""
        if self.config.turn is None:
            return
        rank, of = self.config.turn
        deadline = time.monotonic() + self.config.turn_timeout
        marks: dict[str, int] = {}   # a meter's mark only moves on (SELLER, then BOTH): BOTH is not read again
        while not self.stop.is_set():
            for pk in self._roster(day):
                if marks.get(pk) != pb.BOTH:
                    marks[pk] = self._mark(pk, day)
            offered = sum(m in DONE_WITH[OFFERS] for m in marks.values())
            ordered = sum(m in DONE_WITH[ORDERS] for m in marks.values())
            if (offered >= rank) if phase == OFFERS else (ordered >= rank and offered >= of - 1):
                return
            if time.monotonic() > deadline:
                LOG.warning("%s: turn %d of %d for the %s: waited %.0f s for the meters before it "
                            "(%d offered, %d ordered); going now", _day(day), rank, of, phase,
                            self.config.turn_timeout, offered, ordered)
                return
            self.stop.wait(TURN_POLL)

    # -- idempotent submission ------------------------------------------------------
    def _status(self, batch_id: str) -> str:
        """What the ledger knows of a batch sent before (a ledger without statuses knows none)."""
        statuses = getattr(self.rest, "statuses", None)
        if statuses is None:
            return "UNKNOWN"
        return statuses([batch_id]).get(batch_id, {}).get("status", "UNKNOWN")

    def _market(self, payloads) -> list:
        return [market.market_transaction(self.signer, p) for p in payloads]

    def _reputation(self, payloads, read=None) -> list:
        return [reputation.reputation_transaction(self.signer, p, read or self.rest.state) for p in payloads]

    def _send(self, label: str, transactions, done_line: str, *, final_on_refusal: bool = False,
              members: list[str] | None = None) -> int:
        """Submit the action's batch once (see the module docstring); 1 if it committed now."""
        pending = self.state.pending_batch(label)
        started = time.monotonic()
        try:
            if pending is not None:
                batch_id, raw = pending
                if self._status(batch_id) == "UNKNOWN":
                    self.rest.submit(BatchList.FromString(raw).batches)   # the same bytes: the same batch id
            else:
                batch = make_batch(self.signer, transactions())
                batch_id = batch.header_signature
                self.state.remember(label, batch_id, batch_list_bytes([batch]), members)
                self.rest.submit([batch])
            status = self.rest.wait([batch_id], timeout=self.config.submit_timeout)[batch_id]
        except BatchInvalid as err:          # a ledger that refuses at once (the in-process one)
            status = err.statuses[0]
            batch_id = status["id"]
        if status["status"] == "COMMITTED":
            self.state.mark_done(label, "committed")
            LOG.info("%s (batch %s, committed in %.2f s)", done_line, batch_id[:16], time.monotonic() - started)
            return 1
        if status["status"] == "INVALID":
            reason = "; ".join(BatchInvalid([status]).messages) or "refused"
            if final_on_refusal:
                self.state.mark_done(label, f"refused: {reason}")
            else:
                self.state.forget(label)
            LOG.warning("%s: refused: %s", label, market.explain(reputation.explain(reason)))
            return 0
        LOG.info("%s: batch %s still %s; checking again next cycle", label, batch_id[:16], status["status"])
        return 0
