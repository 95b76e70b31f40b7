"""Where the negotiation keeps its records, and what each action may touch.

    namespace(6) | kind(2) | key(62)

| kind | record | key |
|---|---|---|
| 00 | Session (agents, pairs, prices, quantities, this iteration's ciphertexts, line prices) | session id |

One record per session: every step of an iteration reads and writes it, so
the steps of one session are ordered by the chain, and sessions do not
conflict with each other. `open` also reads the market's Config (who is an
operator) and the agents' Participant records (only approved market
participants negotiate); `close_iteration` reads the market's Config and, for
the contracts a converged session becomes, writes through the market's
records of the delivery hour (its Book for the contract ids, the contracts,
the HourIndex, the parties' Positions) and the consumers' Wallets (the
escrow), reading the reputation family's Config and Pool for the validation
cluster, as a match does. Its inputs depend on the session's agents, so `access` takes the
session for that action (a client reads it first).
"""
from __future__ import annotations

from sawgrid.processors.addressing import Family
from sawgrid.processors.market import addresses as market
from sawgrid.processors.reputation import addresses as reputation
from sawgrid.protos import negotiation_pb2 as pb

NEGOTIATION = Family("sawgrid-negotiation")

SESSION = "00"

# Event type emitted when a session converges (attributes: session, contracts).
CONVERGED_EVENT = "sawgrid-negotiation/converged"


def session_address(session: str) -> str:
    return NEGOTIATION.address(SESSION, session)


def sessions_prefix() -> str:
    return NEGOTIATION.prefix(SESSION)


def contract_outputs(day: int, hour: int, agents: list[str], consumers: list[str]) -> list[str]:
    """What converting a session's trades into market contracts writes."""
    return [*market.hour_outputs(day, hour), *(market.wallet_address(pk) for pk in consumers)]


def access(payload: pb.NegotiationPayload, signer: str,
           session: pb.Session | None = None) -> tuple[list[str], list[str]]:
    """(inputs, outputs) the transaction for `payload` needs. `close_iteration`
    needs the session record (for its agents and delivery hour); ValueError
    without it, or for a payload with no action."""
    action = payload.WhichOneof("action")
    if action is None:
        raise ValueError("payload has no action")
    message = getattr(payload, action)
    own = session_address(message.session)
    if action == "open":
        parts = [market.participant_address(a.public_key) for a in message.agents]
        return [own, market.config_address(), *parts], [own]
    if action == "close_iteration":
        if session is None:
            raise ValueError("close_iteration: access needs the session record")
        keys = [a.public_key for a in session.agents]
        consumers = [a.public_key for a in session.agents if a.kind == pb.CONSUMER]
        writes = contract_outputs(session.day, session.hour, keys, consumers)
        draw = [reputation.config_address(), reputation.pool_address()]  # the cluster draw, as at match
        return [own, market.config_address(), *draw, *writes], [own, *writes]
    return [own], [own]
