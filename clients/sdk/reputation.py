"""Client side of sawgrid-reputation: payload builders, transactions declared
from committed state, readers, and the honest meter and cluster member.

    from sawgrid.clients.sdk import reputation
    hour = reputation.Hour(ledger, day, 10)           # the hour's contracts, positions, readings, votes
    delivered, received = hour.honest_reading(my_key)  # what my meter measured
    reputation.submit(ledger, signer, [reputation.reading(day, 10, delivered, received)], read=hour.read)
    ...                                                # once every party has read:
    hour = reputation.Hour(ledger, day, 10)
    verdicts = hour.verdicts(my_key)                   # what I owe as a cluster member
    reputation.submit(ledger, signer, reputation.attest_payloads(verdicts), read=hour.read)
    reputation.ReputationReader(ledger).score(my_key)

A reputation transaction reads and writes records its payload does not name
(the contract's parties, the system operator, the cluster), so its inputs and
outputs come from `processors.reputation.access.access(payload, signer,
read)` over committed state; every builder here goes through it. `read` is
any `address -> bytes | None`: a `LedgerClient`'s `state` (REST or in
process), or a `StateView` that fetched a whole hour with a few prefix
queries, so a round of a hundred readings costs a handful of requests.

On the ledger scores are ppm integers (1,000,000 = 1.0), energy Wh, money
µEUR, time chain seconds (BlockInfo). Users see scores as decimals
(`format_score`), times as UTC dates; `explain()` turns a processor's
message into those units, like `market.explain`, which it extends.
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Sequence

from google.protobuf.message import DecodeError
from sawtooth_signing import Signer

from sawgrid.clients.sdk import market
from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.sdk.ledger import LedgerClient, submit_transactions
from sawgrid.processors.block_info.addresses import CONFIG_ADDRESS as BLOCK_INFO_CONFIG, block_info_address
from sawgrid.processors.market import addresses as maddr
from sawgrid.processors.reputation import addresses as raddr
from sawgrid.processors.reputation import eligibility, settle
from sawgrid.processors.reputation.access import access
from sawgrid.processors.reputation.addresses import REPUTATION
from sawgrid.processors.reputation.payload import MAX_EXPIRE, MAX_SCORE, MAX_VERDICTS, check_settings
from sawgrid.processors.reputation.settings import DEFAULTS, PPM, quorum
from sawgrid.processors.reputation.state import ReputationState
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos import reputation_pb2 as rpb
from sawgrid.protos.block_info_pb2 import BlockInfo, BlockInfoConfig
from sawgrid.protos.envelopes import make_transaction, unsigned_transaction
from sawgrid.protos.sawtooth import Transaction

DEFAULT_TIMEOUT = market.DEFAULT_TIMEOUT
OUTCOME_EVENT = settle.OUTCOME_EVENT
OPEN_STAGES = settle.OPEN_STAGES
FINAL_STAGES = settle.FINAL_STAGES
STAGES = market.STAGES
CAUSES: dict[int, str] = {pb.SELLER_SHORTFALL: "seller_shortfall", pb.BUYER_DEFAULT: "buyer_default",
                          pb.RELEASE_MISMATCH: "release_mismatch"}
CAUSE_TEXT: dict[int, str] = {pb.SELLER_SHORTFALL: "the seller did not deliver (condition 1)",
                              pb.BUYER_DEFAULT: "the buyer did not pay into escrow (condition 2)",
                              pb.RELEASE_MISMATCH: "the release did not match the meters (conditions 3/4)"}

Read = Callable[[str], "bytes | None"]


# --------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------
def score_to_ppm(value: str | int | float | Decimal, option: str = "score", maximum: int = MAX_SCORE) -> int:
    """A decimal score -> ppm, rounded half-even: '1.2' -> 1200000."""
    if isinstance(value, bool):
        raise SawgridError(f"{option}: expected a number, got {value!r}")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise SawgridError(f"{option}: not a number: {value!r}") from None
    if not number.is_finite() or number < 0:
        raise SawgridError(f"{option}: must be a finite number, not negative, got {value!r}")
    ppm = number * PPM
    if ppm > maximum:
        raise SawgridError(f"{option}: at most {format_score(maximum)}, got {value}")
    return int(ppm.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def format_score(ppm: int) -> str:
    """1051010 -> '1.05101', 1000000 -> '1.00' (exact: up to 6 decimals, at least 2)."""
    whole, fraction = divmod(int(ppm), PPM)
    digits = f"{fraction:06d}".rstrip("0").ljust(2, "0")
    return f"{whole}.{digits}"


def format_time(seconds: int) -> str:
    """Chain seconds -> '2024-02-12 11:00:00 UTC'."""
    try:
        when = _dt.datetime.fromtimestamp(int(seconds), _dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return f"chain second {seconds}"
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def format_duration(seconds: int) -> str:
    """86400 -> '24 h', 90 -> '90 s', 5400 -> '1.5 h'."""
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    return f"{seconds} s"


_PPM_RANGE_RE = re.compile(r"\b(\d+)\.\.(\d+) ppm, got (\d+)")
_PPM_RE = re.compile(r"\b(\d+) ppm\b")
_CHAIN_TIME_RE = re.compile(r"\bchain time (\d+)\b")
_NOW_RE = re.compile(r"\(now (\d{9,})\)")


def explain(message: str) -> str:
    """A reputation processor's message in the user's units: ppm scores as
    decimals, chain times as UTC dates, then `market.explain` (dates, hours,
    EUR, kWh). 'Q-score 348678 ppm is below the minimum 500000 ppm' ->
    'Q-score 0.348678 is below the minimum 0.50'."""
    text = _PPM_RANGE_RE.sub(lambda m: f"{format_score(int(m.group(1)))}..{format_score(int(m.group(2)))}, "
                                        f"got {format_score(int(m.group(3)))}", message)
    text = _PPM_RE.sub(lambda m: format_score(int(m.group(1))), text)
    text = _CHAIN_TIME_RE.sub(lambda m: format_time(int(m.group(1))), text)
    text = _NOW_RE.sub(lambda m: f"(now {format_time(int(m.group(1)))})", text)
    return market.explain(text)


# --------------------------------------------------------------------------
# Settings: one table of what each is, in the user's units
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class SettingSpec:
    name: str        # rpb.Settings field
    option: str      # CLI option
    kind: str        # score | factor | days | eur | seconds | permille | count
    meaning: str


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("initial_score", "--initial-score", "score", "a newcomer's Q-score"),
    SettingSpec("min_score", "--min-score", "score",
                "below it (after the grace) orders are refused and there is no cluster seat"),
    SettingSpec("grace_days", "--grace-days", "days", "a newcomer without faults may trade below min_score"),
    SettingSpec("credit_score", "--credit-score", "score", "from this Q-score on, a participant may buy on credit"),
    SettingSpec("credit_limit", "--credit-limit", "eur", "credit line per participant"),
    SettingSpec("x_success", "--x-success", "factor", "|x| of a settled trade (peers x, leader x^3, parties x^5)"),
    SettingSpec("x_failure", "--x-failure", "factor", "|x| of a declined trade (and of a member who missed)"),
    SettingSpec("score_floor", "--score-floor", "score", "lower bound of every score"),
    SettingSpec("score_cap", "--score-cap", "score", "upper bound of every score"),
    SettingSpec("cluster_size", "--cluster-size", "count", "validation cluster size m (quorum floor(2m/3)+1)"),
    SettingSpec("settle_window", "--settle-window", "seconds",
                "after the delivery hour, for readings, payment and attestations"),
    SettingSpec("tolerance", "--tolerance", "permille", "a delivery may fall short by this and still settle"),
)


def setting_text(spec: SettingSpec, value: int) -> str:
    if spec.kind in ("score", "factor"):
        return format_score(value)
    if spec.kind == "eur":
        return market.format_eur(value)
    if spec.kind == "seconds":
        return f"{value} s ({format_duration(value)})"
    if spec.kind == "permille":
        return f"{value} permille"
    if spec.kind == "days":
        return f"{value} days"
    return str(value)


def parse_setting(spec: SettingSpec, text: str) -> int:
    """A setting typed by a user -> its ledger integer."""
    if spec.kind in ("score", "factor"):
        return score_to_ppm(text, spec.option)
    if spec.kind == "eur":
        return market.eur_to_ueur(text, spec.option)
    value = text.strip()
    if not value.isdigit():
        raise SawgridError(f"{spec.option}: expected a whole number, got {text!r}")
    return int(value)


def settings_with(base: rpb.Settings | None = None, **changes: int) -> rpb.Settings:
    """A copy of `base` (default: DEFAULTS) with `changes` (field=ledger integer),
    checked as the processor checks it (SawgridError naming the setting)."""
    out = rpb.Settings()
    out.CopyFrom(base if base is not None else DEFAULTS)
    for name, value in changes.items():
        setattr(out, name, int(value))
    check(out)
    return out


def check(settings: rpb.Settings) -> None:
    """The processor's checks of Settings, as a SawgridError in the user's units."""
    try:
        check_settings("settings", settings)
    except Exception as err:  # InvalidTransaction: "settings.min_score: must be 0..N ppm, got M"
        message = str(err)
        for spec in SETTINGS:
            message = message.replace(f"settings.{spec.name}", spec.option)
        raise SawgridError(explain(message)) from None


def settings_json(s: rpb.Settings) -> dict[str, Any]:
    return {"initial_score_ppm": s.initial_score, "min_score_ppm": s.min_score, "grace_days": s.grace_days,
            "credit_score_ppm": s.credit_score, "credit_limit_ueur": s.credit_limit,
            "x_success_ppm": s.x_success, "x_failure_ppm": s.x_failure, "score_floor_ppm": s.score_floor,
            "score_cap_ppm": s.score_cap, "cluster_size": s.cluster_size, "quorum": quorum(s.cluster_size),
            "settle_window_s": s.settle_window, "tolerance_permille": s.tolerance}


# --------------------------------------------------------------------------
# Payload builders (ledger integers; the processor checks ranges)
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    """A cluster member's verdict on one contract: conditions 1 and 2."""
    contract_id: str
    delivered_wh: int   # energy that moved from seller to buyer
    paid: bool          # the buyer's money is in escrow (no credit owed)

    def proto(self) -> rpb.Verdict:
        return rpb.Verdict(contract_id=self.contract_id, delivered_wh=self.delivered_wh, paid=self.paid)


def configure(settings: rpb.Settings) -> rpb.ReputationPayload:
    """Operator: the on-chain Settings."""
    return rpb.ReputationPayload(configure=rpb.Configure(settings=settings))


def volunteer() -> rpb.ReputationPayload:
    """Join the validator pool (an approved participant)."""
    return rpb.ReputationPayload(volunteer=rpb.Volunteer())


def withdraw() -> rpb.ReputationPayload:
    return rpb.ReputationPayload(withdraw=rpb.Withdraw())


def refresh_pool() -> rpb.ReputationPayload:
    """Operator: re-snapshot the volunteers' Q-scores (what the cluster draw reads)."""
    return rpb.ReputationPayload(refresh_pool=rpb.RefreshPool())


def reading(day: int, hour: int, delivered_wh: int = 0, received_wh: int = 0) -> rpb.ReputationPayload:
    """A meter's reading of one delivery hour: Wh exported and imported."""
    return rpb.ReputationPayload(reading=rpb.SubmitReading(day=day, hour=hour, delivered_wh=delivered_wh,
                                                           received_wh=received_wh))


def attest(verdicts: Iterable[Verdict | tuple[str, int, bool]]) -> rpb.ReputationPayload:
    """A cluster member's verdicts (at most MAX_VERDICTS; see attest_payloads)."""
    items = [v if isinstance(v, Verdict) else Verdict(*v) for v in verdicts]
    return rpb.ReputationPayload(attest=rpb.Attest(verdicts=[v.proto() for v in items]))


def attest_payloads(verdicts: Sequence[Verdict]) -> list[rpb.ReputationPayload]:
    """As many attest payloads as MAX_VERDICTS per transaction needs (none for none)."""
    return [attest(verdicts[i:i + MAX_VERDICTS]) for i in range(0, len(verdicts), MAX_VERDICTS)]


def pay(contract_id: str) -> rpb.ReputationPayload:
    """A buyer on credit pays a contract into escrow."""
    return rpb.ReputationPayload(pay=rpb.Pay(contract_id=contract_id))


def expire(contract_ids: Iterable[str]) -> rpb.ReputationPayload:
    """System operator, after the deadline: settle by the readings alone, judge absent members."""
    return rpb.ReputationPayload(expire=rpb.Expire(contract_ids=list(contract_ids)))


def expire_payloads(contract_ids: Sequence[str]) -> list[rpb.ReputationPayload]:
    return [expire(contract_ids[i:i + MAX_EXPIRE]) for i in range(0, len(contract_ids), MAX_EXPIRE)]


# --------------------------------------------------------------------------
# Transactions: inputs and outputs from committed state
# --------------------------------------------------------------------------
def declared(payload: rpb.ReputationPayload, public_key: str, read: Read) -> tuple[list[str], list[str]]:
    """(inputs, outputs) of `payload` signed by `public_key`, from committed state through `read`."""
    try:
        return access(payload, public_key, read, read.closes if isinstance(read, StateView) else None)
    except ValueError as err:
        raise SawgridError(str(err)) from None


def reputation_transaction(signer: Signer, payload: rpb.ReputationPayload, read: Read) -> Transaction:
    """A signed sawgrid-reputation transaction declaring what `access()` says."""
    inputs, outputs = declared(payload, signer.get_public_key().as_hex(), read)
    return make_transaction(signer, REPUTATION.name, REPUTATION.versions[0],
                            payload.SerializeToString(deterministic=True), inputs, outputs)


def unsigned_reputation_transaction(public_key: str, payload: rpb.ReputationPayload, read: Read) -> Transaction:
    """The same, unsigned, for the in-process ledger (`--fast`, tests)."""
    inputs, outputs = declared(payload, public_key, read)
    return unsigned_transaction(REPUTATION.name, REPUTATION.versions[0],
                                payload.SerializeToString(deterministic=True), inputs, outputs, public_key)


def submit(ledger: LedgerClient, signer: Signer,
           payloads: rpb.ReputationPayload | Iterable[rpb.ReputationPayload], wait: bool = True,
           timeout: float = DEFAULT_TIMEOUT, read: Read | None = None) -> list[str]:
    """Sign `payloads` as ONE batch and submit it (with `wait`, until committed);
    the transaction ids, in order. `read` (default: the ledger's own state)
    is what access() reads. Raises BatchInvalid or BatchTimeout."""
    if isinstance(payloads, rpb.ReputationPayload):
        payloads = [payloads]
    read = read if read is not None else ledger.state
    transactions = [reputation_transaction(signer, p, read) for p in payloads]
    return submit_transactions(ledger, signer, transactions, wait=wait, timeout=timeout)


# --------------------------------------------------------------------------
# Reading state
# --------------------------------------------------------------------------
class StateView:
    """Committed state through a LedgerClient, each address fetched once.

    `load(prefix)` fetches every entry under a prefix in one (paged) query;
    afterwards an address under it that is not there reads as None without a
    request. Use one view for one round of transactions: it does not see what
    they write. (So what access() derives of a contract's release from it is
    kept too, in `closes`: a contract's cluster members all declare it.)"""

    def __init__(self, ledger: LedgerClient) -> None:
        self.ledger = ledger
        self._data: dict[str, bytes | None] = {}
        self._loaded: list[str] = []
        self.closes: dict[str, tuple[list[str], list[str]]] = {}

    def load(self, *prefixes: str) -> "StateView":
        for prefix in prefixes:
            if any(prefix.startswith(done) for done in self._loaded):
                continue
            for address, data in self.ledger.state_prefix(prefix):
                self._data[address] = data
            self._loaded.append(prefix)
        return self

    def __call__(self, address: str) -> bytes | None:
        if address not in self._data:
            if any(address.startswith(done) for done in self._loaded):
                return None
            self._data[address] = self.ledger.state(address)
        return self._data[address]

    def under(self, prefix: str) -> dict[str, bytes]:
        """{address: data} of every entry under `prefix` (loading it if needed)."""
        self.load(prefix)
        return {a: d for a, d in sorted(self._data.items()) if a.startswith(prefix) and d is not None}


def point_reads_are_cheap(ledger) -> bool:
    """In process a state read is a dict lookup and a prefix query copies the
    whole range (a day's contracts, say); through REST each read is a request
    and a prefix query a few."""
    return getattr(ledger, "url", "") == "in-process"


def _decode(cls, data: bytes | None, address: str):
    if data is None:
        return None
    try:
        return cls.FromString(data)
    except DecodeError:
        raise SawgridError(f"state at {address} is not a {cls.__name__}") from None


class _ViewContext:
    """What ReputationState needs of a context, over a read function (read only)."""

    @dataclass(frozen=True)
    class _Entry:
        address: str
        data: bytes

    def __init__(self, read: Read) -> None:
        self._read = read

    def get_state(self, addresses, timeout=None):
        out = []
        for address in addresses:
            data = self._read(address)
            if data:
                out.append(self._Entry(address, data))
        return out


def _seq(contract_id: str) -> int:
    return maddr.parse_order_id(contract_id)[2]


def check_contract_id(text: str) -> str:
    """A contract id DAY/HOUR/SEQ, or SawgridError."""
    try:
        day, hour, _ = maddr.parse_order_id(text)
    except ValueError as err:
        raise SawgridError(str(err)) from None
    if hour > 23:
        raise SawgridError(f"contract id {text!r}: hour must be 0..23")
    return text


def chain_time(read: Read | LedgerClient) -> int | None:
    """The chain's time (the latest BlockInfo's timestamp), or None without BlockInfo."""
    read = read.state if hasattr(read, "state") else read
    raw = read(BLOCK_INFO_CONFIG)
    if not raw:
        return None
    config = BlockInfoConfig.FromString(raw)
    info = read(block_info_address(config.latest_block))
    return BlockInfo.FromString(info).timestamp if info else None


class ReputationReader:
    """Decoded reputation records (and the contracts they settle); a missing
    record is None, or the defaults where the processor uses them."""

    def __init__(self, ledger: LedgerClient | StateView) -> None:
        self.view = ledger if isinstance(ledger, StateView) else StateView(ledger)
        self.ledger = self.view.ledger
        self.market = market.MarketReader(self.ledger)

    def _one(self, cls, address: str):
        return _decode(cls, self.view(address), address)

    def config(self) -> rpb.Config | None:
        return self._one(rpb.Config, raddr.config_address())

    def settings(self) -> rpb.Settings:
        """The on-chain Settings, or DEFAULTS on a chain without them (as the processor)."""
        config = self.config()
        return config.settings if config is not None else DEFAULTS

    def market_config(self) -> pb.Config | None:
        return self._one(pb.Config, maddr.config_address())

    def system_operator(self) -> str:
        config = self.market_config()
        return config.system_operator if config is not None else ""

    def score(self, public_key: str) -> rpb.Score | None:
        return self._one(rpb.Score, raddr.score_address(public_key))

    def scores(self, keys: Iterable[str] | None = None) -> dict[str, rpb.Score]:
        """Score records by public key: every one (one prefix query), or those of
        `keys` (point reads in process, where they are dict lookups; one prefix
        query through REST, where it beats a request per key)."""
        if keys is not None and point_reads_are_cheap(self.ledger):
            found = {key: self.score(key) for key in keys}
            return {key: record for key, record in found.items() if record is not None}
        wanted = None if keys is None else set(keys)
        out = {}
        for address, data in self.ledger.state_prefix(raddr.scores_prefix()):
            record = _decode(rpb.Score, data, address)
            if wanted is None or record.public_key in wanted:
                out[record.public_key] = record
        return out

    def pool(self) -> rpb.Pool:
        return self._one(rpb.Pool, raddr.pool_address()) or rpb.Pool()

    def reading(self, day: int, hour: int, public_key: str) -> rpb.Reading | None:
        return self._one(rpb.Reading, raddr.reading_address(day, hour, public_key))

    def settlement(self, contract_id: str) -> rpb.Settlement | None:
        day, hour, _ = maddr.parse_order_id(contract_id)
        return self._one(rpb.Settlement, raddr.settlement_address(day, hour, contract_id))

    def contract(self, contract_id: str) -> pb.Contract | None:
        day, hour, _ = maddr.parse_order_id(contract_id)
        return self._one(pb.Contract, maddr.contract_address(day, hour, contract_id))

    def wallet(self, public_key: str) -> pb.Wallet | None:
        return self._one(pb.Wallet, maddr.wallet_address(public_key))

    def chain_time(self) -> int | None:
        return chain_time(self.view)


# --------------------------------------------------------------------------
# A participant's standing: score, eligibility, credit
# --------------------------------------------------------------------------
@dataclass
class Standing:
    public_key: str
    score: int                      # ppm (the initial score without a record)
    record: rpb.Score | None
    settings: rpb.Settings
    day: int                        # the delivery day eligibility is judged for
    newcomer: bool
    refusal: str | None             # why an order for `day` is refused, or None
    credit_allowed: bool            # score >= credit_score
    credit_used: int                # µEUR of the credit line in use (holds, unpaid, defaulted)
    volunteer: bool
    in_snapshot: bool               # in the pool snapshot the market draws clusters from
    seat_eligible: bool             # in the snapshot with a score >= min_score

    @property
    def credit_free(self) -> int:
        return max(0, self.settings.credit_limit - self.credit_used) if self.credit_allowed else 0


def standing(reader: ReputationReader, public_key: str, day: int) -> Standing:
    settings = reader.settings()
    record = reader.score(public_key)
    score = eligibility.score_of(record, settings)
    wallet = reader.wallet(public_key) or pb.Wallet(public_key=public_key)
    pool = reader.pool()
    entry = next((e for e in pool.snapshot if e.public_key == public_key), None)
    return Standing(
        public_key=public_key, score=score, record=record, settings=settings, day=day,
        newcomer=eligibility.is_newcomer(record, settings, day), refusal=eligibility.refusal(record, settings, day),
        credit_allowed=eligibility.may_buy_on_credit(score, settings), credit_used=wallet.credit_used,
        volunteer=public_key in pool.volunteers, in_snapshot=entry is not None,
        seat_eligible=entry is not None and entry.score >= settings.min_score)


def standing_json(s: Standing) -> dict[str, Any]:
    r = s.record or rpb.Score()
    return {"public_key": s.public_key, "score_ppm": s.score, "score": format_score(s.score),
            "has_record": s.record is not None, "settled": r.settled, "faults": r.faults,
            "validated": r.validated, "missed": r.missed,
            "first_day": market.day_text(r.first_day) if r.first_day else None,
            "eligibility": {"day": market.day_text(s.day), "may_trade": s.refusal is None,
                            "newcomer": s.newcomer, "refusal": s.refusal, "min_score_ppm": s.settings.min_score},
            "credit": {"allowed": s.credit_allowed, "credit_score_ppm": s.settings.credit_score,
                       "limit_ueur": s.settings.credit_limit, "used_ueur": s.credit_used, "free_ueur": s.credit_free},
            "pool": {"volunteer": s.volunteer, "in_snapshot": s.in_snapshot, "seat_eligible": s.seat_eligible}}


def pool_json(pool: rpb.Pool) -> dict[str, Any]:
    return {"volunteers": list(pool.volunteers),
            "snapshot": [{"public_key": e.public_key, "score_ppm": e.score} for e in pool.snapshot]}


# --------------------------------------------------------------------------
# One delivery hour: the honest meter and the honest cluster member
# --------------------------------------------------------------------------
def hour_prefixes(day: int, hour: int) -> list[str]:
    """What settling one delivery hour reads: its contracts, positions, readings, settlements."""
    scope = raddr.hour_scope(day, hour)
    return [maddr.contracts_prefix(day, hour), maddr.positions_prefix(day, hour),
            REPUTATION.prefix(raddr.READING) + scope, REPUTATION.prefix(raddr.SETTLEMENT) + scope]


@dataclass
class Owed:
    """A contract a member has still to attest: its honest verdict, or why it cannot be given yet."""
    contract: pb.Contract
    verdict: Verdict | None
    waiting: str = ""           # e.g. "the buyer's meter has not read yet"


class Hour:
    """One delivery hour's settlement as it stands on chain: the contracts
    (creation order), the parties' Positions, the meters' readings and the
    members' votes; read with four prefix queries through REST, or point reads
    from the hour's HourIndex in process.

    `read` is the view to build this hour's transactions with (access()
    reads only these records and the market Config)."""

    def __init__(self, ledger: LedgerClient | StateView, day: int, hour: int) -> None:
        self.view = ledger if isinstance(ledger, StateView) else StateView(ledger)
        self.day, self.hour = day, hour
        if point_reads_are_cheap(self.view.ledger):
            self._load_by_index()
        else:
            self._load_by_prefix()
        config = _decode(pb.Config, self.view(maddr.config_address()), maddr.config_address())
        self.operator = config.system_operator if config is not None else ""
        self._state = ReputationState(_ViewContext(self.view))
        # the hour is a snapshot, so what is derived from it is derived once: each
        # contract's honest verdict (asked once per member of its cluster), and
        # each member's seats (else every member scans every contract of the hour)
        self._verdicts: dict[str, tuple[Verdict | None, str]] = {}
        self._seats: dict[str, list[pb.Contract]] | None = None

    def _load_by_prefix(self) -> None:
        """Four prefix queries: contracts, positions, readings, settlements."""
        day, hour = self.day, self.hour
        self.view.load(*hour_prefixes(day, hour))
        contracts_prefix, positions_prefix, readings_prefix, settlements_prefix = hour_prefixes(day, hour)
        found = [_decode(pb.Contract, d, a) for a, d in self.view.under(contracts_prefix).items()]
        self.contracts: dict[str, pb.Contract] = {c.id: c for c in sorted(found, key=lambda c: _seq(c.id))}
        self.positions: dict[str, pb.Position] = {}
        for a, d in self.view.under(positions_prefix).items():
            position = _decode(pb.Position, d, a)
            self.positions[position.public_key] = position
        self.readings: dict[str, rpb.Reading] = {}
        for a, d in self.view.under(readings_prefix).items():
            record = _decode(rpb.Reading, d, a)
            self.readings[record.public_key] = record
        self.settlements: dict[str, rpb.Settlement] = {}
        for a, d in self.view.under(settlements_prefix).items():
            record = _decode(rpb.Settlement, d, a)
            self.settlements[record.contract_id] = record

    def _load_by_index(self) -> None:
        """Point reads from the hour's HourIndex: its contracts, their parties'
        Positions and readings, their Settlements (the same records)."""
        day, hour = self.day, self.hour
        address = maddr.hour_index_address(day, hour)
        index = _decode(pb.HourIndex, self.view(address), address)
        self.contracts = {}
        for contract_id in (index.contracts if index is not None else ()):
            address = maddr.contract_address(day, hour, contract_id)
            contract = _decode(pb.Contract, self.view(address), address)
            if contract is not None:
                self.contracts[contract_id] = contract
        parties = sorted({k for c in self.contracts.values() for k in (c.seller, c.buyer)})
        self.positions, self.readings, self.settlements = {}, {}, {}
        for key in parties:
            address = maddr.position_address(day, hour, key)
            position = _decode(pb.Position, self.view(address), address)
            if position is not None:
                self.positions[key] = position
            address = raddr.reading_address(day, hour, key)
            record = _decode(rpb.Reading, self.view(address), address)
            if record is not None:
                self.readings[key] = record
        for contract_id in self.contracts:
            address = raddr.settlement_address(day, hour, contract_id)
            record = _decode(rpb.Settlement, self.view(address), address)
            if record is not None:
                self.settlements[contract_id] = record

    @property
    def read(self) -> Read:
        return self.view

    # -- meters ------------------------------------------------------------------
    def parties(self) -> list[str]:
        """Who has contracts this hour and a meter to read: every Position but the
        system operator's (the grid side of a grid contract needs no reading)."""
        return sorted(k for k in self.positions if k != self.operator)

    def contracted(self, public_key: str) -> tuple[int, int]:
        """(Wh sold, Wh bought) by `public_key` in the hour's contracts."""
        position = self.positions.get(public_key)
        if position is None:
            return 0, 0
        sold = sum(self.contracts[c].energy for c in position.sold if c in self.contracts)
        bought = sum(self.contracts[c].energy for c in position.bought if c in self.contracts)
        return sold, bought

    def honest_reading(self, public_key: str) -> tuple[int, int]:
        """(delivered_wh, received_wh) an honest meter reads when every contract
        moved as contracted: its exports are what it sold, its imports what it
        bought (a buyer's meter measures its imports whoever failed to deliver;
        the grid made up the difference)."""
        return self.contracted(public_key)

    # -- members -------------------------------------------------------------------
    def allocation(self, contract: pb.Contract, public_key: str, sold: bool) -> int | None:
        """Wh of `public_key`'s reading allocated to `contract` (README, "Readings");
        None while that meter has not read. The processor's own function."""
        return settle.allocation(self._state, contract, public_key, sold, self.operator)

    def honest_verdict(self, contract: pb.Contract) -> tuple[Verdict | None, str]:
        """(verdict, "") with delivered = min of the parties' allocations and
        paid = nothing owed on credit; (None, why) while a reading is missing.
        Computed once per contract of this hour (its records do not change)."""
        own = self.contracts.get(contract.id) is contract
        if own and contract.id in self._verdicts:
            return self._verdicts[contract.id]
        seller = self.allocation(contract, contract.seller, True)
        buyer = self.allocation(contract, contract.buyer, False)
        missing = [who for who, wh in (("seller", seller), ("buyer", buyer)) if wh is None]
        found: tuple[Verdict | None, str]
        if missing:
            found = None, f"waiting for the {' and '.join(missing)}'s meter reading"
        else:
            found = Verdict(contract.id, min(seller, buyer), contract.credit == 0), ""
        if own:
            self._verdicts[contract.id] = found
        return found

    def owed(self, member: str) -> list[Owed]:
        """The hour's contracts in whose cluster `member` sits and that it has not
        attested yet (open ones, and settled ones it may still attest late)."""
        out = []
        for contract in self.seats(member):
            if contract.stage == pb.STAGE_UNSET:
                continue
            settlement = self.settlements.get(contract.id)
            if settlement is not None and any(v.member == member for v in settlement.votes):
                continue
            verdict, waiting = self.honest_verdict(contract)
            out.append(Owed(contract, verdict, waiting))
        return out

    def verdicts(self, member: str) -> list[Verdict]:
        """The honest verdicts `member` can give now (see `owed`)."""
        return [o.verdict for o in self.owed(member) if o.verdict is not None]

    def members(self) -> list[str]:
        """Every key sitting in a cluster of this hour."""
        return sorted(self._seat_index())

    def seats(self, member: str) -> list[pb.Contract]:
        """The hour's contracts in whose cluster `member` sits, in creation order."""
        return list(self._seat_index().get(member, ()))

    def _seat_index(self) -> dict[str, list[pb.Contract]]:
        if self._seats is None:
            self._seats = {}
            for contract in self.contracts.values():
                for member in dict.fromkeys(contract.cluster):
                    self._seats.setdefault(member, []).append(contract)
        return self._seats

    # -- the operator ---------------------------------------------------------------
    def due(self, now: int, settings: rpb.Settings) -> list[str]:
        """Contract ids `expire` can act on at chain time `now` (the processor's
        own `settle.needs_expire`: past the deadline, and open, or final with
        members never judged)."""
        if now <= settle.deadline(self.day, self.hour, settings):
            return []
        return [c.id for c in self.contracts.values()
                if settle.needs_expire(c, self.settlements.get(c.id), settings, now)]


def due(ledger: LedgerClient | StateView, day: int, now: int, settings: rpb.Settings,
        hour: int | None = None) -> list[str]:
    """Contract ids of `day` (or of one `hour`) that `expire` can act on at chain
    time `now` (see `Hour.due`), in (hour, seq) order."""
    view = ledger if isinstance(ledger, StateView) else StateView(ledger)
    hours = range(24) if hour is None else [hour]
    if point_reads_are_cheap(view.ledger) or hour is not None:
        return [cid for h in hours if now > settle.deadline(day, h, settings) for cid in Hour(view, day, h).due(now, settings)]
    # one day's contracts and settlements, two prefix queries
    contracts = [_decode(pb.Contract, d, a) for a, d in view.under(maddr.contracts_prefix(day)).items()]
    settlements = {}
    for a, d in view.under(REPUTATION.prefix(raddr.SETTLEMENT) + maddr.day_scope(day)).items():
        record = _decode(rpb.Settlement, d, a)
        settlements[record.contract_id] = record
    return [c.id for c in sorted(contracts, key=lambda c: (c.hour, _seq(c.id)))
            if settle.needs_expire(c, settlements.get(c.id), settings, now)]


# --------------------------------------------------------------------------
# One contract, everything about its settlement
# --------------------------------------------------------------------------
@dataclass
class ContractStatus:
    contract: pb.Contract
    settlement: rpb.Settlement | None
    readings: dict[str, rpb.Reading | None]        # seller's and buyer's
    allocations: dict[str, int | None]             # Wh of each party's reading allocated to this contract
    honest: Verdict | None                         # what an honest member attests now (None: a reading is missing)
    hour_end: int
    deadline: int
    operator: str
    votes: list[rpb.Vote] = field(default_factory=list)

    @property
    def stage(self) -> str:
        return STAGES.get(self.contract.stage, "unset")

    @property
    def matching(self) -> dict[tuple[int, bool], int]:
        """How many real votes each (delivered_wh, paid) has."""
        out: dict[tuple[int, bool], int] = {}
        for vote in self.votes:
            if not vote.absent:
                out[(vote.delivered_wh, vote.paid)] = out.get((vote.delivered_wh, vote.paid), 0) + 1
        return out


def contract_status(reader: ReputationReader, contract_id: str) -> ContractStatus | None:
    check_contract_id(contract_id)
    contract = reader.contract(contract_id)
    if contract is None:
        return None
    day, hour = contract.day, contract.hour
    hour_view = Hour(reader.view, day, hour)
    contract = hour_view.contracts.get(contract_id, contract)
    settlement = hour_view.settlements.get(contract_id)
    honest, _ = hour_view.honest_verdict(contract)
    return ContractStatus(
        contract=contract, settlement=settlement,
        readings={"seller": hour_view.readings.get(contract.seller), "buyer": hour_view.readings.get(contract.buyer)},
        allocations={"seller": hour_view.allocation(contract, contract.seller, True),
                     "buyer": hour_view.allocation(contract, contract.buyer, False)},
        honest=honest, hour_end=settle.hour_end(day, hour), deadline=settle.deadline(day, hour, reader.settings()),
        operator=hour_view.operator, votes=list(settlement.votes) if settlement else [])


def _reading_json(r: rpb.Reading | None) -> dict[str, Any] | None:
    return None if r is None else {"delivered_wh": r.delivered_wh, "received_wh": r.received_wh,
                                   "timestamp": r.timestamp, "time": format_time(r.timestamp)}


def contract_status_json(s: ContractStatus) -> dict[str, Any]:
    c = s.contract
    doc = market.contract_json(c)
    doc.update({
        "hour_end": s.hour_end, "deadline": s.deadline, "deadline_time": format_time(s.deadline),
        "votes": [{"member": v.member, "absent": v.absent,
                   "delivered_wh": None if v.absent else v.delivered_wh,
                   "paid": None if v.absent else v.paid} for v in s.votes],
        "readings": {k: _reading_json(v) for k, v in s.readings.items()},
        "allocations_wh": dict(s.allocations),
        "honest_verdict": None if s.honest is None else {"delivered_wh": s.honest.delivered_wh, "paid": s.honest.paid},
        "outcome": None if c.stage not in FINAL_STAGES else {
            "stage": STAGES[c.stage], "delivered_wh": c.delivered, "paid_base_ueur": c.paid_base,
            "paid_surcharge_ueur": c.paid_surcharge, "paid_wire_fee_ueur": c.paid_wire_fee,
            "refunded_ueur": c.refunded, "guarantee_ueur": c.guarantee, "debt_ueur": c.credit,
            "declined_at": STAGES.get(c.declined_at) if c.stage == pb.DECLINED else None,
            "cause": CAUSES.get(c.cause) if c.stage == pb.DECLINED else None, "cause_detail": c.cause_detail,
            "qot_ppm": s.settlement.qot if s.settlement is not None else None},
    })
    return doc


def score_of(record: rpb.Score | None, settings: rpb.Settings) -> int:
    return eligibility.score_of(record, settings)



# --------------------------------------------------------------------------
# The system operator's settlement duties (sawgrid operator settle, the PAR engine)
# --------------------------------------------------------------------------
class NoChainTime(SawgridError):
    """The chain has no BlockInfo yet: nothing can be due."""


def default_settle_days(settings: rpb.Settings) -> int:
    """How many days back a settlement round looks by default: the settle
    window in whole days, plus two (the hour's day and the day it ends on)."""
    return -(-settings.settle_window // 86_400) + 2


def settle_round(ledger: LedgerClient, signer: Signer, days: int | None = None, refresh: bool = True,
                 chunk: int = 100) -> dict[str, Any]:
    """One round of the system operator's settlement duties, signed by `signer`:
    expire every contract due by the chain's time (its latest BlockInfo) on
    the days from `days` before the chain's day to the chain's day (default:
    `default_settle_days`), in batches of `chunk` transactions, then, with
    `refresh`, re-snapshot the validator pool. Returns {"chain_time",
    "expired": [contract ids], "refreshed_pool"}. Raises SawgridError when the
    chain has no time yet, BatchInvalid when a batch is refused."""
    reader = ReputationReader(ledger)
    now = reader.chain_time()
    if now is None:
        raise NoChainTime("the chain has no time yet (no BlockInfo): nothing can be due")
    settings = reader.settings()
    if days is None:
        days = default_settle_days(settings)
    if days < 0:
        raise SawgridError(f"days: at least 0, got {days}")
    today = now // 86_400
    view = StateView(ledger)
    due_ids = [cid for day in range(max(0, today - days), today + 1) for cid in due(view, day, now, settings)]
    payloads = expire_payloads(due_ids)
    for start in range(0, len(payloads), chunk):
        submit(ledger, signer, payloads[start:start + chunk])
    if refresh:
        submit(ledger, signer, [refresh_pool()])
    return {"chain_time": now, "expired": due_ids, "refreshed_pool": refresh}
