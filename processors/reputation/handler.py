"""The sawgrid-reputation transaction handler (being written: see README.md)."""
from __future__ import annotations

from sawtooth_sdk.processor.exceptions import InvalidTransaction

from sawgrid.processors.base import SawgridHandler
from sawgrid.processors.reputation.addresses import REPUTATION


class ReputationHandler(SawgridHandler):
    FAMILY = REPUTATION

    def handle(self, transaction, context) -> None:
        raise InvalidTransaction("reputation: not available yet")
