"""What each reputation transaction may read and write: `access(payload, signer, read)`.

A settlement moves money and scores of people the payload does not name:
the contract's parties, the system operator, the cluster's members. Their
addresses are in state (the contract record names them; the parties'
Positions list the hour's earlier contracts a meter reading is split over),
so `access` takes `read(address) -> bytes | None` — committed state, as a
client sees it — and declares exact addresses, never a kind prefix: two
settlements conflict only when they share a record.

Any transaction that may complete a contract's evidence (an attestation, the
reading or payment of a contract without a cluster, `expire`) declares all of
that contract's release, whether or not it turns out to be the one that
completes it. What is decided from state at signing time: the Positions
(append-only lists) and the contracts' parties, clusters and quorums, none
of which change once written. A contract added to a Position after `access`
read it (trading into an hour that is already over) is not declared; the
transaction then fails with an authorization error and is rebuilt.

Raises ValueError for a payload whose addresses cannot be derived (no
action, malformed contract id); the processor rejects such payloads too.

`closes`, optional, remembers `close_access` per contract id for one `read`
(a client builds a whole round of transactions over one view of committed
state: every member of a contract's cluster attests it, so each contract's
release would otherwise be derived once per member). Pass a fresh dict per
view; the result is the same with or without it.
"""
from __future__ import annotations

from typing import Callable, Iterable

from google.protobuf.message import DecodeError

from sawgrid.processors.block_info.clock import CLOCK_INPUTS
from sawgrid.processors.market import addresses as m
from sawgrid.processors.reputation import addresses as r
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos import reputation_pb2 as rpb

Reader = Callable[[str], "bytes | None"]


def _parse(read: Reader, address: str, message_type):
    raw = read(address)
    if not raw:
        return None
    try:
        return message_type.FromString(raw)
    except DecodeError:
        return None


def _contract_address(contract_id: str) -> str:
    day, hour, _ = m.parse_order_id(contract_id)
    return m.contract_address(day, hour, contract_id)


def _system_operator(read: Reader) -> str:
    config = _parse(read, m.config_address(), pb.Config)
    return config.system_operator if config is not None else ""


def _earlier(read: Reader, contract: pb.Contract, public_key: str, sold: bool) -> list[str]:
    """The party's Position and its contracts of the hour up to `contract`."""
    position_address = m.position_address(contract.day, contract.hour, public_key)
    out = [position_address]
    position = _parse(read, position_address, pb.Position)
    if position is not None:
        for contract_id in position.sold if sold else position.bought:
            if contract_id == contract.id:
                break
            out.append(m.contract_address(contract.day, contract.hour, contract_id))
    return out


def close_access(contract_id: str, read: Reader, operator: str) -> tuple[list[str], list[str]]:
    """(inputs, outputs) of settling contract `contract_id`: its release
    (wallets), its scores and its Settlement, and what the readings'
    allocation reads. The system operator's side of a grid contract reads
    neither a reading nor its Position (the grid moves exactly the contracted
    energy), so its hour's other contracts, one per buyer or seller the grid
    served, are not declared: with them a reading's inputs grew with the
    number of participants (about 900 addresses at 1,000 participants)."""
    address = _contract_address(contract_id)
    contract = _parse(read, address, pb.Contract)
    if contract is None:
        return [address], [address]
    day, hour = contract.day, contract.hour
    parties = [contract.seller, contract.buyer]
    wallets = [m.wallet_address(key) for key in parties + ([operator] if operator else [])]
    scores = [r.score_address(key) for key in [*parties, *contract.cluster]]
    settlement = r.settlement_address(day, hour, contract.id)
    inputs = [address, m.grid_prices_address(day), *wallets, *scores, settlement]
    for key, sold in ((contract.seller, True), (contract.buyer, False)):
        if contract.grid and key == operator:
            continue  # the grid side: no reading, no allocation over its Position (settle.allocation)
        inputs += [r.reading_address(day, hour, key), *_earlier(read, contract, key, sold)]
    return inputs, [address, *wallets, *scores, settlement]


def access(payload: rpb.ReputationPayload, signer: str, read: Reader,
           closes: dict[str, tuple[list[str], list[str]]] | None = None) -> tuple[list[str], list[str]]:
    """(inputs, outputs) the transaction for `payload` signed by `signer` needs,
    given committed state through `read` (`closes`: see the module docstring)."""
    action = payload.WhichOneof("action")
    market_config, config, pool = m.config_address(), r.config_address(), r.pool_address()
    if action == "configure":
        return [market_config, config], [config]
    if action == "volunteer":
        return [m.participant_address(signer), pool], [pool]
    if action == "withdraw":
        return [pool], [pool]
    if action == "refresh_pool":
        found = _parse(read, pool, rpb.Pool)
        scores = [r.score_address(key) for key in (found.volunteers if found is not None else [])]
        return [market_config, config, pool, *scores], [pool]
    if action is None:
        raise ValueError("payload has no action")

    timed = [*CLOCK_INPUTS, config, market_config]
    operator = _system_operator(read)
    inputs: list[str] = []
    outputs: list[str] = []

    def close(contract_id: str) -> None:
        if closes is None:
            more_in, more_out = close_access(contract_id, read, operator)
        elif contract_id in closes:
            more_in, more_out = closes[contract_id]
        else:
            more_in, more_out = closes[contract_id] = close_access(contract_id, read, operator)
        inputs.extend(more_in)
        outputs.extend(more_out)

    if action == "reading":
        d, h = payload.reading.day, payload.reading.hour
        reading, position_address = r.reading_address(d, h, signer), m.position_address(d, h, signer)
        inputs += [reading, position_address]
        outputs.append(reading)
        position = _parse(read, position_address, pb.Position)
        for contract_id in [*position.sold, *position.bought] if position is not None else []:
            address = m.contract_address(d, h, contract_id)
            inputs.append(address)
            outputs.append(address)
            contract = _parse(read, address, pb.Contract)
            if contract is not None and contract.quorum == 0 and contract.stage in (pb.PREPARED, pb.EXECUTION):
                close(contract_id)
    elif action == "attest":
        for verdict in payload.attest.verdicts:
            close(verdict.contract_id)
    elif action == "pay":
        address = _contract_address(payload.pay.contract_id)
        inputs += [address, m.wallet_address(signer)]
        outputs += [address, m.wallet_address(signer)]
        contract = _parse(read, address, pb.Contract)
        if contract is not None and contract.quorum == 0:
            close(payload.pay.contract_id)
    elif action == "expire":
        for contract_id in payload.expire.contract_ids:
            close(contract_id)
    else:  # pragma: no cover - every action of the oneof is handled above
        raise ValueError(f"unknown action {action}")
    return _unique([*timed, *inputs]), _unique(outputs)


def _unique(addresses: Iterable[str]) -> list[str]:
    return sorted(set(addresses))
