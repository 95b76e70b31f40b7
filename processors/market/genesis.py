"""What a fresh chain needs before anyone can trade: the market's Init.

Init makes the operator key the market's first operator and its system
operator, with the wire fee below; an operator changes the fee later with
`sawgrid operator wire-fee`. Devnet queues it on start for as long as the
market's Config is missing from state (see devnet/genesis.py); a real network
gets it from `sawgrid operator init` (docker-compose's `market-init`).
"""
from __future__ import annotations

from sawgrid.processors.market.addresses import access, config_address
from sawgrid.processors.registry import GenesisStep, TxnSpec
from sawgrid.protos import market_pb2 as pb

# Wire fee a devnet market starts with: µEUR/kWh, i.e. 0.01 EUR/kWh.
GENESIS_WIRE_FEE = 10_000


def init_transaction(operator_public_key: str, wire_fee: int = GENESIS_WIRE_FEE) -> TxnSpec:
    """The Init transaction for `operator_public_key`, unsigned."""
    payload = pb.MarketPayload(init=pb.Init(wire_fee=wire_fee))
    inputs, outputs = access(payload, operator_public_key)
    return TxnSpec(payload.SerializeToString(deterministic=True), tuple(inputs), tuple(outputs))


def genesis_steps() -> list[GenesisStep]:
    return [GenesisStep(
        name="market init",
        needed=lambda read: read(config_address()) is None,
        transactions=lambda operator: [init_transaction(operator)],
    )]
