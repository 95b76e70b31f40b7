"""Decoding a reputation payload and checking every field before anything is read.

Each check raises `InvalidTransaction` whose message starts with the field
(`reading.hour: must be 0..23, got 24`), like the market's payload module.
"""
from __future__ import annotations

from sawgrid.processors.market import units as u
from sawgrid.processors.market.addresses import parse_order_id
from sawgrid.processors.checks import check_range, decode_action, invalid
from sawgrid.processors.market.payload import check_day, check_hour
from sawgrid.processors.reputation.settings import PPM
from sawgrid.protos import reputation_pb2 as rpb

# Limits (README.md, "Limits").
MAX_READING_WH = 10**12         # one meter's energy in one hour (1 TWh: a sanity bound)
MAX_VERDICTS = 64               # contracts in one attest
MAX_EXPIRE = 64                 # contracts in one expire
MAX_VOLUNTEERS = 1_000          # in the pool (every order reads it)
MAX_CLUSTER = 31                # m; q = ⌊2m/3⌋ + 1
MAX_SCORE = 10**12 * PPM        # ppm, bound of score_cap (products stay far inside int64 · ppm)
MAX_X = 10 * PPM                # ppm, bound of x_success
MAX_GRACE_DAYS = 3_650
MAX_SETTLE_WINDOW = 30 * 86_400  # seconds
MAX_CONTRACT_ID = 40            # characters of "<day>/<hour>/<seq>"


def check_settings(field: str, s: rpb.Settings) -> None:
    """Bounds of every setting, and the relations between them (README.md, "Settings")."""
    check_range(f"{field}.score_floor", s.score_floor, 1, MAX_SCORE, "ppm")
    check_range(f"{field}.score_cap", s.score_cap, s.score_floor, MAX_SCORE, "ppm")
    check_range(f"{field}.initial_score", s.initial_score, s.score_floor, s.score_cap, "ppm")
    check_range(f"{field}.x_success", s.x_success, PPM + 1, MAX_X, "ppm")
    check_range(f"{field}.x_failure", s.x_failure, 1, PPM - 1, "ppm")
    check_range(f"{field}.min_score", s.min_score, 0, s.score_cap, "ppm")
    check_range(f"{field}.grace_days", s.grace_days, 0, MAX_GRACE_DAYS, "days")
    check_range(f"{field}.cluster_size", s.cluster_size, 0, MAX_CLUSTER)
    check_range(f"{field}.credit_score", s.credit_score, 0, s.score_cap, "ppm")
    check_range(f"{field}.credit_limit", s.credit_limit, 0, u.MAX_FUND, "µEUR")
    check_range(f"{field}.settle_window", s.settle_window, 1, MAX_SETTLE_WINDOW, "s")
    check_range(f"{field}.tolerance", s.tolerance, 0, 1000, "permille")


def check_contract_id(field: str, contract_id: str) -> tuple[int, int, int]:
    """(day, hour, seq) of a well-formed contract id."""
    if len(contract_id) > MAX_CONTRACT_ID:
        raise invalid(field, f"at most {MAX_CONTRACT_ID} characters")
    try:
        day, hour, seq = parse_order_id(contract_id)
    except ValueError as err:
        raise invalid(field, str(err)) from None
    if not contract_id.isascii() or str(day) + "/" + str(hour) + "/" + str(seq) != contract_id:
        raise invalid(field, f"not a canonical contract id: {contract_id!r}")
    check_day(field, day)
    check_hour(field, hour)
    return day, hour, seq


def _check_configure(m: rpb.Configure) -> None:
    if not m.HasField("settings"):
        raise invalid("configure.settings", "missing")
    check_settings("configure.settings", m.settings)


def _check_nothing(m) -> None:
    return None


def _check_reading(m: rpb.SubmitReading) -> None:
    check_day("reading.day", m.day)
    check_hour("reading.hour", m.hour)
    check_range("reading.delivered_wh", m.delivered_wh, 0, MAX_READING_WH, "Wh")
    check_range("reading.received_wh", m.received_wh, 0, MAX_READING_WH, "Wh")


def _check_attest(m: rpb.Attest) -> None:
    check_range("attest.verdicts", len(m.verdicts), 1, MAX_VERDICTS, "entries")
    seen = set()
    for i, verdict in enumerate(m.verdicts):
        field = f"attest.verdicts[{i}]"
        check_contract_id(f"{field}.contract_id", verdict.contract_id)
        if verdict.contract_id in seen:
            raise invalid(f"{field}.contract_id", "appears twice")
        seen.add(verdict.contract_id)
        check_range(f"{field}.delivered_wh", verdict.delivered_wh, 0, u.MAX_ENERGY_WH, "Wh")


def _check_pay(m: rpb.Pay) -> None:
    check_contract_id("pay.contract_id", m.contract_id)


def _check_expire(m: rpb.Expire) -> None:
    check_range("expire.contract_ids", len(m.contract_ids), 1, MAX_EXPIRE, "entries")
    seen = set()
    for i, contract_id in enumerate(m.contract_ids):
        field = f"expire.contract_ids[{i}]"
        check_contract_id(field, contract_id)
        if contract_id in seen:
            raise invalid(field, "appears twice")
        seen.add(contract_id)


_CHECKS = {
    "configure": _check_configure,
    "volunteer": _check_nothing,
    "withdraw": _check_nothing,
    "refresh_pool": _check_nothing,
    "reading": _check_reading,
    "attest": _check_attest,
    "pay": _check_pay,
    "expire": _check_expire,
}


def decode(raw: bytes) -> tuple[str, object]:
    """(action name, its message) of a well-formed payload; InvalidTransaction otherwise."""
    return decode_action(raw, rpb.ReputationPayload, _CHECKS)
