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
from sawtooth_sdk.processor.context import Context
from sawtooth_sdk.processor.exceptions import AuthorizationException, InternalError, InvalidTransaction
from sawtooth_sdk.processor.handler import TransactionHandler
from sawtooth_sdk.protobuf import events_pb2, state_context_pb2
from sawtooth_sdk.protobuf.validator_pb2 import Message

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


def write_outcome(context, writes: dict[str, bytes], events, receipt_data) -> None:
    """`context.set_state(writes)` (if any), then `context.add_event(*e)` for
    each of `events` and `context.add_receipt_data(d)` for each of
    `receipt_data`, with what each call raises, in that order: the end of a
    transaction, once everything has been read and decided.

    Against a validator (the SDK's `Context`) the set, the receipt data and
    the first event go out at once and their answers are awaited together:
    one round trip's wait instead of three. They touch different parts of the
    transaction's context (state, receipt data, events), so a validator that
    serves them concurrently (Sawtooth's dispatcher has a thread pool) records
    the same thing; further events are sent one at a time, each after the
    previous one's answer, so their order stays the handler's. Any other
    context (the in-process ledger's) gets the plain calls."""
    if type(context) is not Context:
        if writes:
            context.set_state(writes)
        for event_type, attributes, data in events:
            context.add_event(event_type, attributes, data)
        for data in receipt_data:
            context.add_receipt_data(data)
        return
    stream, context_id = context._stream, context._context_id  # SDK 1.2.5 is final: the attributes stay
    sent = []  # (future, response type, error status, what raises) in the sequential calls' order
    if writes:
        entries = [state_context_pb2.TpStateEntry(address=a, data=writes[a]) for a in writes]
        request = state_context_pb2.TpStateSetRequest(entries=entries, context_id=context_id)
        sent.append((stream.send(Message.TP_STATE_SET_REQUEST, request.SerializeToString()),
                     state_context_pb2.TpStateSetResponse, state_context_pb2.TpStateSetResponse.AUTHORIZATION_ERROR,
                     lambda: AuthorizationException(f"Tried to set unauthorized address: {[e.address for e in entries]}")))
    events = list(events)
    if events:
        sent.append(_send_event(stream, context_id, *events[0]))
    for data in receipt_data:
        request = state_context_pb2.TpReceiptAddDataRequest(context_id=context_id, data=data)
        sent.append((stream.send(Message.TP_RECEIPT_ADD_DATA_REQUEST, request.SerializeToString()),
                     state_context_pb2.TpReceiptAddDataResponse, state_context_pb2.TpReceiptAddDataResponse.ERROR,
                     lambda data=data: InternalError(f"Failed to add receipt data: {data}")))
    failed = None
    for future, response_type, error, exception in sent:
        response = response_type.FromString(future.result().content)
        if response.status == error and failed is None:
            failed = exception
    if failed is not None:
        raise failed()
    for event in events[1:]:
        future, response_type, error, exception = _send_event(stream, context_id, *event)
        if response_type.FromString(future.result().content).status == error:
            raise exception()


def _send_event(stream, context_id: str, event_type: str, attributes, data):
    """Send one TpEventAddRequest as the SDK's `Context.add_event` builds it."""
    attributes = attributes or []
    event = events_pb2.Event(event_type=event_type,
                             attributes=[events_pb2.Event.Attribute(key=k, value=v) for k, v in attributes],
                             data=data)
    request = state_context_pb2.TpEventAddRequest(context_id=context_id, event=event)
    return (stream.send(Message.TP_EVENT_ADD_REQUEST, request.SerializeToString()),
            state_context_pb2.TpEventAddResponse, state_context_pb2.TpEventAddResponse.ERROR,
            lambda: InternalError(f"Failed to add event: ({event_type}, {attributes}, {data})"))
