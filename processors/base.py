"""What every Sawgrid handler shares: the guarantee that only
`InvalidTransaction` (or the SDK's own retry signals) ever leaves `apply()`.

Sawtooth retries a transaction forever when its processor raises anything
else (or dies), so a malformed payload that triggers, say, a DecodeError deep
inside a handler would wedge the chain. `SawgridHandler.apply` turns such an
exception into `InvalidTransaction` — deterministically, since the handler is
deterministic — while letting the SDK's connection/authorization signals and
`InternalError` through untouched.
"""
from __future__ import annotations

import logging
from abc import abstractmethod

from sawtooth_sdk.messaging.exceptions import ValidatorConnectionError
from sawtooth_sdk.messaging.future import FutureTimeoutError
from sawtooth_sdk.processor.exceptions import AuthorizationException, InternalError, InvalidTransaction
from sawtooth_sdk.processor.handler import TransactionHandler

LOG = logging.getLogger("sawgrid.processors")

_PASS_THROUGH = (InvalidTransaction, InternalError, AuthorizationException, ValidatorConnectionError)


class SawgridHandler(TransactionHandler):
    """Subclasses set FAMILY (an `addressing.Family`) and implement `handle`."""

    FAMILY = None  # addressing.Family

    @property
    def family_name(self) -> str:
        return self.FAMILY.name

    @property
    def family_versions(self) -> list[str]:
        return list(self.FAMILY.versions)

    @property
    def namespaces(self) -> list[str]:
        return [self.FAMILY.namespace]

    def apply(self, transaction, context) -> None:
        try:
            self.handle(transaction, context)
        except _PASS_THROUGH:
            raise
        except FutureTimeoutError as err:
            raise InternalError(f"validator did not answer in time: {err}") from None
        except Exception as err:  # noqa: BLE001 - the whole point: nothing else escapes
            LOG.exception("unexpected error in %s handler", self.family_name)
            raise InvalidTransaction(f"{self.family_name}: transaction rejected ({type(err).__name__}: {err})") from None

    @abstractmethod
    def handle(self, transaction, context) -> None:
        """Decode → check → read state → decide → write state."""
