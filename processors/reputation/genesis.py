"""What a fresh chain needs for settlement: the reputation Settings.

Devnet queues a `configure` with the DEFAULTS (settings.py), signed by its
operator key, for as long as the reputation Config is missing from state (see
devnet/genesis.py). `configure` must be signed by a market operator, and the
operator key becomes one with the market's own genesis step (`init`), which
the registry lists, and devnet queues, first: the two transactions conflict
(configure reads the market Config init writes), so they commit in that
order. A chain without the record still works on the DEFAULTS; a real network
gets it from an operator's `configure`.
"""
from __future__ import annotations

from sawgrid.processors.registry import GenesisStep, TxnSpec
from sawgrid.processors.reputation.access import access
from sawgrid.processors.reputation.addresses import config_address
from sawgrid.processors.reputation.settings import DEFAULTS
from sawgrid.protos import reputation_pb2 as rpb


def configure_transaction(operator_public_key: str, settings: rpb.Settings = DEFAULTS) -> TxnSpec:
    """The `configure` transaction writing `settings`, unsigned."""
    payload = rpb.ReputationPayload(configure=rpb.Configure(settings=settings))
    inputs, outputs = access(payload, operator_public_key, lambda address: None)
    return TxnSpec(payload.SerializeToString(deterministic=True), tuple(inputs), tuple(outputs))


def genesis_steps() -> list[GenesisStep]:
    return [GenesisStep(
        name="reputation settings",
        needed=lambda read: read(config_address()) is None,
        transactions=lambda operator: [configure_transaction(operator)],
    )]
