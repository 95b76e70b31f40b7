"""Decoding a negotiation payload and checking every field before anything is read.

Each check raises `InvalidTransaction` whose message starts with the field
(`submit_terms.quantities[2]: ...`); what needs the session (whose turn it is,
which pairs a signer is in, the key a ciphertext must fit) is the handler's.
"""
from __future__ import annotations

import re

from sawgrid.processors.checks import check_public_key, check_range, decode_action, invalid
from sawgrid.processors.market import units as mu
from sawgrid.processors.negotiation import units as u
from sawgrid.protos import negotiation_pb2 as pb

SESSION_PATTERN = re.compile(r"[a-z0-9_-]{1,%d}" % u.MAX_SESSION_LENGTH)
MAX_EPSILON = 2**32


def check_session(field: str, session: str) -> None:
    if not SESSION_PATTERN.fullmatch(session):
        raise invalid(field, f"must be 1..{u.MAX_SESSION_LENGTH} chars of a-z 0-9 _ -, got {session!r}")


def check_value(field: str, value: int) -> None:
    check_range(field, value, -u.MAX_VALUE, u.MAX_VALUE, "(fixed point)")


def check_big(field: str, data: bytes, max_bits: int) -> None:
    """An unsigned big-endian integer: non-empty, no leading zero byte, at most `max_bits`."""
    if not data:
        raise invalid(field, "empty (an integer as big-endian bytes)")
    if data[0] == 0:
        raise invalid(field, "has a leading zero byte (not the canonical encoding)")
    if len(data) * 8 > max_bits + 7 or int.from_bytes(data, "big").bit_length() > max_bits:
        raise invalid(field, f"longer than {max_bits} bits")


def _check_open(m: pb.Open) -> None:
    check_session("open.session", m.session)
    check_public_key("open.line_manager", m.line_manager)
    check_range("open.day", m.day, 0, mu.MAX_DAY)
    check_range("open.hour", m.hour, 0, mu.HOURS_PER_DAY - 1)
    check_range("open.agents", len(m.agents), 2, u.MAX_AGENTS, "agents")
    seen: set[str] = set()
    for i, agent in enumerate(m.agents):
        check_public_key(f"open.agents[{i}].public_key", agent.public_key)
        if agent.public_key in seen:
            raise invalid(f"open.agents[{i}].public_key", "listed twice")
        seen.add(agent.public_key)
        if agent.kind not in (pb.PRODUCER, pb.CONSUMER):
            raise invalid(f"open.agents[{i}].kind", "must be PRODUCER or CONSUMER")
        check_range(f"open.agents[{i}].capacity", agent.capacity, 1, u.MAX_VALUE, "(fixed point kW)")
    if m.line_manager in seen:
        raise invalid("open.line_manager", "the line manager is not one of the agents (it sees their quantities)")
    check_range("open.pairs", len(m.pairs), 1, u.MAX_PAIRS, "pairs")
    pairs: set[tuple[int, int]] = set()
    for i, pair in enumerate(m.pairs):
        for name in ("owner", "peer"):
            check_range(f"open.pairs[{i}].{name}", getattr(pair, name), 0, len(m.agents) - 1, "(agent index)")
        if {m.agents[pair.owner].kind, m.agents[pair.peer].kind} != {pb.PRODUCER, pb.CONSUMER}:
            raise invalid(f"open.pairs[{i}]", "a pair is one producer and one consumer")
        if (pair.owner, pair.peer) in pairs:
            raise invalid(f"open.pairs[{i}]", "listed twice")
        pairs.add((pair.owner, pair.peer))
        check_value(f"open.pairs[{i}].price", pair.price)
    check_range("open.line_limits", len(m.line_limits), 0, u.MAX_LINES, "lines")
    for i, limit in enumerate(m.line_limits):
        check_range(f"open.line_limits[{i}]", limit, 1, u.MAX_VALUE, "(fixed point kW)")
    check_range("open.max_iterations", m.max_iterations, 1, u.MAX_ITERATIONS)
    check_range("open.eps_power", m.eps_power, 0, MAX_EPSILON, "(fixed point kW)")
    check_range("open.eps_price", m.eps_price, 0, MAX_EPSILON, "(fixed point)")
    check_range("open.scale", m.scale, u.MIN_SCALE, u.MAX_SCALE)


def _check_publish_key(m: pb.PublishKey) -> None:
    check_session("publish_key.session", m.session)
    check_big("publish_key.n", m.n, u.MAX_KEY_BITS)
    n = int.from_bytes(m.n, "big")
    if n.bit_length() < u.MIN_KEY_BITS:
        raise invalid("publish_key.n", f"a {n.bit_length()}-bit modulus; at least {u.MIN_KEY_BITS} bits")
    if n % 2 == 0:
        raise invalid("publish_key.n", "even (a Paillier modulus is a product of two odd primes)")


def _check_iteration(field: str, iteration: int) -> None:
    check_range(field, iteration, 1, u.MAX_ITERATIONS)


def _check_submit_terms(m: pb.SubmitTerms) -> None:
    check_session("submit_terms.session", m.session)
    _check_iteration("submit_terms.iteration", m.iteration)
    for i, q in enumerate(m.quantities):
        check_big(f"submit_terms.quantities[{i}]", q, 2 * u.MAX_KEY_BITS)
    for i, term in enumerate(m.terms):
        check_big(f"submit_terms.terms[{i}].ciphertext", term.ciphertext, 2 * u.MAX_KEY_BITS)


def _check_revealed(field: str, values) -> None:
    for i, s in enumerate(values):
        check_value(f"{field}[{i}].value", s.value)
        check_big(f"{field}[{i}].proof.a", s.proof.a, 2 * u.MAX_KEY_BITS)
        check_big(f"{field}[{i}].proof.z", s.proof.z, u.MAX_KEY_BITS)


def _check_reveal(m: pb.Reveal) -> None:
    check_session("reveal.session", m.session)
    _check_iteration("reveal.iteration", m.iteration)
    _check_revealed("reveal.sums", m.sums)


def _check_set_line_prices(m: pb.SetLinePrices) -> None:
    check_session("set_line_prices.session", m.session)
    _check_iteration("set_line_prices.iteration", m.iteration)
    for i, value in enumerate(m.flows):
        check_value(f"set_line_prices.flows[{i}]", value)
    for name in ("upper", "lower"):
        for i, value in enumerate(getattr(m, name)):
            check_range(f"set_line_prices.{name}[{i}]", value, 0, u.MAX_VALUE, "(fixed point, a line price is >= 0)")
    _check_revealed("set_line_prices.finals", m.finals)


def _check_close_iteration(m: pb.CloseIteration) -> None:
    check_session("close_iteration.session", m.session)
    _check_iteration("close_iteration.iteration", m.iteration)


_CHECKS = {
    "open": _check_open,
    "publish_key": _check_publish_key,
    "submit_terms": _check_submit_terms,
    "reveal": _check_reveal,
    "set_line_prices": _check_set_line_prices,
    "close_iteration": _check_close_iteration,
}


def decode(raw: bytes) -> tuple[str, object]:
    """(action name, its message) of a well-formed payload; InvalidTransaction otherwise."""
    return decode_action(raw, pb.NegotiationPayload, _CHECKS)
