"""What a fresh chain needs for enrollment: the enrollment Settings.

Devnet queues a `configure` with the DEFAULTS (settings.py), signed by its
operator key, for as long as the enrollment Config is missing from state
(see devnet/genesis.py), after the market's `init` that makes that key an
operator (the registry lists the market first). The CA root is not a genesis
step: the operator creates it with `sawgrid operator ca init`, which keeps
the CA's private key where the operator chooses.
"""
from __future__ import annotations

from sawgrid.processors.enrollment.access import access
from sawgrid.processors.enrollment.addresses import config_address
from sawgrid.processors.enrollment.settings import DEFAULTS
from sawgrid.processors.registry import GenesisStep, TxnSpec
from sawgrid.protos import enrollment_pb2 as epb


def configure_transaction(operator_public_key: str, settings: epb.Settings = DEFAULTS) -> TxnSpec:
    """The `configure` transaction writing `settings`, unsigned."""
    payload = epb.EnrollmentPayload(configure=epb.Configure(settings=settings))
    inputs, outputs = access(payload, operator_public_key, lambda address: None)
    return TxnSpec(payload.SerializeToString(deterministic=True), tuple(inputs), tuple(outputs))


def genesis_steps() -> list[GenesisStep]:
    return [GenesisStep(
        name="enrollment settings",
        needed=lambda read: read(config_address()) is None,
        transactions=lambda operator: [configure_transaction(operator)],
    )]
