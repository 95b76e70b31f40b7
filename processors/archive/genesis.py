"""What a fresh chain gets from the archive: its Config, with the default retention.

A chain without an archive Config behaves as if it had DEFAULT_RETENTION_DAYS,
so the step only makes the setting visible on chain (`sawgrid archive
config`). Devnet queues it on start for as long as the Config is missing (its
operator key signs; the market's Init, which makes that key an operator, is
an earlier step).
"""
from __future__ import annotations

from sawgrid.processors.archive.addresses import access, config_address
from sawgrid.processors.archive.payload import DEFAULT_RETENTION_DAYS
from sawgrid.processors.registry import GenesisStep, TxnSpec
from sawgrid.protos import archive_pb2 as pb


def configure_transaction(operator_public_key: str, retention_days: int = DEFAULT_RETENTION_DAYS) -> TxnSpec:
    payload = pb.ArchivePayload(configure=pb.Configure(retention_days=retention_days))
    inputs, outputs = access(payload, operator_public_key)
    return TxnSpec(payload.SerializeToString(deterministic=True), tuple(inputs), tuple(outputs))


def genesis_steps() -> list[GenesisStep]:
    return [GenesisStep(
        name="archive config",
        needed=lambda read: read(config_address()) is None,
        transactions=lambda operator: [configure_transaction(operator)],
    )]
