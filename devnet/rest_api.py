"""Sawtooth 1.x's REST API, served by devnet from a `LedgerReader`.

Clients written for a real Sawtooth node (its CLI, SDK examples, our own
`sawgrid.clients.sdk.rest`) talk to devnet unchanged: paths, query parameters,
status codes, error codes and JSON shapes follow sawtooth-core's `rest_api`
(route_handlers.py, exceptions.py, openapi.yaml; branch 1-2) together with the
validator-side handlers it relies on (validator/.../state/client_handlers.py:
paging, sorting, id checks).

Layout of this module:
  * `ErrorKind` constants and `ApiError`: Sawtooth's error table, rendered in
    one place (`ApiError.response`);
  * `Request`: one parsed HTTP request, with Sawtooth's link building;
  * rendering of blocks, batches, transactions, receipts and statuses;
  * `_Routes`: one small method per route, and `_ROUTE_TABLE`;
  * the HTTP plumbing (`ThreadingHTTPServer`, HTTP/1.1 keep-alive) and the
    public `RestApi`.

Where Sawtooth itself would crash with an unhandled exception (a plain-text
aiohttp 500) this module answers a proper error instead; those few places are
marked "Sawtooth:" below.
"""
from __future__ import annotations

import base64
import json
import logging
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import islice
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Sequence
from urllib.parse import parse_qsl, unquote, urlsplit

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import DecodeError, Message

from sawgrid.devnet.ledger_api import BatchStatus, LedgerReader, QueueFull, SubmitRejected
from sawgrid.protos.sawtooth import (
    Batch,
    BatchHeader,
    BatchList,
    Block,
    BlockHeader,
    Transaction,
    TransactionHeader,
    TransactionReceipt,
)

LOGGER = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 300  # seconds; sawtooth-rest-api --timeout default
DEFAULT_MAX_BODY = 10 * 1024 * 1024  # bytes; sawtooth-rest-api --client-max-size default
DEFAULT_PAGE_SIZE = 100  # validator client_handlers.DEFAULT_PAGE_SIZE
MAX_PAGE_SIZE = 1000  # validator client_handlers.MAX_PAGE_SIZE (larger limits are clamped)
VALIDATOR_WAIT_DEFAULT = 300  # the validator's wait when asked for `wait=0`
KEEPALIVE_IDLE = 75  # seconds an idle keep-alive connection is kept open

_ID_RE = re.compile(r"[0-9a-f]{128}")
_ADDRESS_RE = re.compile(r"[0-9a-f]{70}")
_PREFIX_RE = re.compile(r"(?:[0-9a-f]{2}){0,35}")


# --------------------------------------------------------------------------
# Errors: Sawtooth's table (rest_api/sawtooth_rest_api/exceptions.py)
# --------------------------------------------------------------------------
class ErrorKind(NamedTuple):
    status: int
    code: int
    title: str
    message: str


UNKNOWN_VALIDATOR_ERROR = ErrorKind(
    500, 10, "Unknown Validator Error",
    "An unknown error occurred with the validator while processing your request.")
VALIDATOR_NOT_READY = ErrorKind(
    503, 15, "Validator Not Ready",
    "The validator has no genesis block, and is not yet ready to be queried. "
    "Try your request again later.")
RESOURCE_HEADER_INVALID = ErrorKind(
    500, 21, "Invalid Resource Header",
    "The resource fetched from the validator had an invalid header, and may be corrupted.")
SUBMITTED_BATCHES_INVALID = ErrorKind(
    400, 30, "Submitted Batches Invalid",
    "The submitted BatchList was rejected by the validator. It was poorly formed, "
    "or has an invalid signature.")
BATCH_QUEUE_FULL = ErrorKind(
    429, 31, "Unable to Accept Batches",
    "The validator cannot currently accept more batches, due to a full queue.  "
    "Please submit your request again.")
NO_BATCHES_SUBMITTED = ErrorKind(
    400, 34, "No Batches Submitted",
    "The protobuf BatchList you submitted was empty and contained no Batches. "
    "You must submit at least one Batch.")
BAD_PROTOBUF_SUBMITTED = ErrorKind(
    400, 35, "Protobuf Not Decodable",
    "The protobuf BatchList you submitted was malformed and could not be read.")
SUBMISSION_WRONG_CONTENT_TYPE = ErrorKind(
    400, 42, "Wrong Content Type",
    "Batches must be submitted in a BatchList protobuf binary, with a 'Content-Type' "
    "header of 'application/octet-stream'.")
STATUS_WRONG_CONTENT_TYPE = ErrorKind(
    400, 43, "Wrong Content Type",
    "Requests for batch statuses sent as a POST must have a 'Content-Type' header "
    "of 'application/json'.")
STATUS_BODY_INVALID = ErrorKind(
    400, 46, "Bad Status Request",
    "Requests for batch statuses sent as a POST must have a JSON formatted body "
    "with an array of at least one id string.")
HEAD_NOT_FOUND = ErrorKind(
    404, 50, "Head Not Found",
    "There is no block with the id specified in the 'head' query parameter.")
COUNT_INVALID = ErrorKind(
    400, 53, "Invalid Count Query",
    "The 'count' query parameter must be a positive, non-zero integer.")
PAGING_INVALID = ErrorKind(
    400, 54, "Invalid Paging Query",
    "Paging request failed as written. One or more of the 'min', 'max', or 'count' "
    "query parameters were invalid or out of range.")
SORT_INVALID = ErrorKind(
    400, 57, "Invalid Sort Query",
    "The sort request failed as written. Some of the keys specified were not valid.")
INVALID_RESOURCE_ID = ErrorKind(
    400, 60, "Invalid Resource Id",
    "Blockchain items are identified by 128 character hex-strings. A submitted block, "
    "batch, or transaction id was invalid: ")
INVALID_STATE_ADDRESS = ErrorKind(
    400, 62, "Invalid State Address",
    "The state address submitted was invalid. To fetch specific state data, you must "
    "submit the full 70-character address.")
STATUS_ID_QUERY_INVALID = ErrorKind(
    400, 66, "Id Query Invalid or Missing",
    "Requests for batch statuses sent as a GET request must have an 'id' query "
    "parameter with a comma-separated list of at least one batch id.")
BLOCK_NOT_FOUND = ErrorKind(
    404, 70, "Block Not Found",
    "There is no block with the id specified in the blockchain.")
BATCH_NOT_FOUND = ErrorKind(
    404, 71, "Batch Not Found",
    "There is no batch with the id specified in the blockchain.")
TRANSACTION_NOT_FOUND = ErrorKind(
    404, 72, "Transaction Not Found",
    "There is no transaction with the id specified in the blockchain.")
STATE_NOT_FOUND = ErrorKind(
    404, 75, "State Not Found",
    "There is no state data at the address specified.")
RECEIPT_NOT_FOUND = ErrorKind(
    404, 80, "Transaction Receipt Not Found",
    "There is no transaction receipt for the transaction id specified in the receipt store.")
RECEIPT_WRONG_CONTENT_TYPE = ErrorKind(
    400, 81, "Wrong Content Type",
    "Requests for transaction receipts sent as a POST must have a 'Content-Type' "
    "header of 'application/json'.")
RECEIPT_BODY_INVALID = ErrorKind(
    400, 82, "Bad Receipts Request",
    "Requests for transaction receipts sent as a POST must have a JSON formatted body "
    "with an array of at least one id string.")
RECEIPT_ID_QUERY_INVALID = ErrorKind(
    400, 83, "Id Query Invalid or Missing",
    "Requests for transaction receipts sent as a GET request must have an 'id' query "
    "parameter with a comma-separated list of at least one transaction id.")


def http_error(status: int, message: str = "") -> ErrorKind:
    """An HTTP-level error Sawtooth leaves to aiohttp (unknown path, wrong
    method, body too large, ...). aiohttp answers those in plain text; we keep
    Sawtooth's JSON shape, with the HTTP status as the error code."""
    phrase = HTTPStatus(status).phrase
    return ErrorKind(status, status, phrase, message or phrase + ".")


class ApiError(Exception):
    """An error answered as Sawtooth's `{"error": {"code", "title", "message"}}`."""

    def __init__(self, kind: ErrorKind, additional_info: str = "") -> None:
        super().__init__(f"{kind.title}: {kind.message}{additional_info}")
        self.kind = kind
        self.additional_info = additional_info

    def response(self) -> Response:
        error = {
            "code": self.kind.code,
            "title": self.kind.title,
            "message": self.kind.message + self.additional_info,
        }
        return Response(self.kind.status, {"error": error})


@dataclass
class Response:
    status: int
    body: dict
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        # Sawtooth's keys and values, sorted like Sawtooth's; but compact, not
        # indent=2: with an indent Python's JSON encoder falls back to pure
        # Python, which cost devnet ~10 % of its CPU under load.
        return json.dumps(self.body, sort_keys=True).encode()


# --------------------------------------------------------------------------
# Requests and Sawtooth's links
# --------------------------------------------------------------------------
@dataclass
class Request:
    method: str
    path: str  # percent-decoded
    query: dict[str, str]  # first value of each parameter, in request order
    headers: Any  # email.message.Message (case-insensitive .get)
    body: bytes
    host: str  # the Host the client used

    @classmethod
    def parse(cls, method: str, target: str, headers: Any, body: bytes, host: str) -> Request:
        parts = urlsplit(target)
        query: dict[str, str] = {}
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            query.setdefault(key, value)
        return cls(method, unquote(parts.path), query, headers, body, headers.get("Host") or host)

    def media_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def link(self, path: str | None = None, **changes: Any) -> str:
        """The request's URL with `changes` applied, as Sawtooth's `_build_url`
        writes it: None leaves a parameter as it is, False removes it; head,
        start and limit come first, the others sorted; an empty value is
        written as a bare key (`?wait`)."""
        query = {**self.query, **{k: v for k, v in changes.items() if v is not None}}
        query = {k: v for k, v in query.items() if v is not False}
        keys = [k for k in ("head", "start", "limit") if k in query]
        keys += sorted(k for k in query if k not in ("head", "start", "limit"))
        parts = [k if query[k] == "" else f"{k}={query[k]}" for k in keys]
        scheme = _forwarded(self.headers, "proto") or "http"
        host = _forwarded(self.headers, "host") or self.host
        prefix = _forwarded(self.headers, "path")
        return f"{scheme}://{host}{prefix}{path if path is not None else self.path}" + (
            "?" + "&".join(parts) if parts else "")


def _forwarded(headers: Any, key: str) -> str:
    """A value of the `Forwarded` header, else of `X-Forwarded-<Key>`, else ''."""
    match = re.search(rf"(?<={key}=).+?(?=[\s,;]|$)", headers.get("Forwarded", ""), re.IGNORECASE)
    if match:
        value = match.group(0)
        return value[1:-1] if len(value) > 1 and value[0] == value[-1] == '"' else value
    return headers.get(f"X-Forwarded-{key.title()}", "")


# --------------------------------------------------------------------------
# Query parameters
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Paging:
    """The `start`/`limit` query parameters as given (None when absent)."""

    start: str | None
    limit: int | None

    @property
    def size(self) -> int:
        """The page size the validator uses: default 100, clamped to 1000."""
        return min(self.limit, MAX_PAGE_SIZE) if self.limit else DEFAULT_PAGE_SIZE


@dataclass(frozen=True)
class PageInfo:
    """What Sawtooth's validator reports about a page (ClientPagingResponse);
    all empty when there was nothing to list."""

    start: str = ""
    limit: int = 0
    next: str = ""


def _paging(req: Request) -> Paging:
    limit = req.query.get("limit")
    if limit is not None:
        try:
            value = int(limit)
        except ValueError:
            raise ApiError(COUNT_INVALID) from None
        if value <= 0:
            raise ApiError(COUNT_INVALID)
        return Paging(req.query.get("start"), value)
    return Paging(req.query.get("start"), None)


def _validate_id(resource_id: str) -> str:
    if not _ID_RE.fullmatch(resource_id):
        raise ApiError(INVALID_RESOURCE_ID, resource_id)
    return resource_id


def _filter_ids(req: Request) -> list[str] | None:
    """The `id` parameter: a comma-separated list of valid ids, or None."""
    ids = req.query.get("id")
    return None if ids is None else [_validate_id(i) for i in ids.split(",")]


def _head_param(req: Request) -> str | None:
    head = req.query.get("head")
    return None if head is None else _validate_id(head)


def _reverse(req: Request, default_key: str) -> bool:
    """The `reverse` parameter: bare means reverse on the default key, 'false'
    means no, anything else names the sort key(s), which must be the default."""
    reverse = req.query.get("reverse")
    if reverse is None or reverse.lower() == "false":
        return False
    if reverse and reverse.split(",") != [default_key]:
        raise ApiError(SORT_INVALID)
    return True


def _json_ids(req: Request, wrong_type: ErrorKind, bad_body: ErrorKind) -> list[str]:
    """Ids from a POST body: a non-empty JSON array of id strings."""
    if req.media_type() != "application/json":
        raise ApiError(wrong_type)
    try:
        ids = json.loads(req.body)
    except ValueError:  # Sawtooth: aiohttp's request.json() error -> 500
        raise ApiError(bad_body) from None
    if not ids or not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ApiError(bad_body)
    return [_validate_id(i) for i in ids]


def _query_ids(req: Request, missing: ErrorKind) -> list[str]:
    ids = _filter_ids(req)
    if not ids:
        raise ApiError(missing)
    return ids


# --------------------------------------------------------------------------
# Rendering, as Sawtooth's MessageToDict(including defaults) + header expansion
# --------------------------------------------------------------------------
def _to_dict(message: Message) -> dict:
    return MessageToDict(
        message, always_print_fields_with_no_presence=True, preserving_proto_field_name=True)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _header(header_cls: type, raw: bytes) -> dict:
    try:
        return _to_dict(header_cls.FromString(raw))
    except DecodeError:
        LOGGER.error("a stored resource has an invalid %s", header_cls.__name__)
        raise ApiError(RESOURCE_HEADER_INVALID) from None


def transaction_json(txn: Transaction) -> dict:
    return {
        "header": _header(TransactionHeader, txn.header),
        "header_signature": txn.header_signature,
        "payload": _b64(txn.payload),
    }


def batch_json(batch: Batch) -> dict:
    return {
        "header": _header(BatchHeader, batch.header),
        "header_signature": batch.header_signature,
        "trace": batch.trace,
        "transactions": [transaction_json(t) for t in batch.transactions],
    }


def block_json(block: Block) -> dict:
    return {
        "header": _header(BlockHeader, block.header),
        "header_signature": block.header_signature,
        "batches": [batch_json(b) for b in block.batches],
    }


def _drop_empty(item: Any) -> Any:
    """Sawtooth's `_drop_empty_props`: remove '' values from nested dicts."""
    if isinstance(item, list):
        return [_drop_empty(i) for i in item]
    if isinstance(item, dict):
        return {k: _drop_empty(v) for k, v in item.items() if v != ""}
    return item


def _drop_id_prefixes(item: Any) -> Any:
    """Sawtooth's `_drop_id_prefixes`: keys ending in 'id' become 'id'."""
    if isinstance(item, list):
        return [_drop_id_prefixes(i) for i in item]
    if isinstance(item, dict):
        return {("id" if k.endswith("id") else k): _drop_id_prefixes(v) for k, v in item.items()}
    return item


def receipt_json(receipt: TransactionReceipt) -> dict:
    return _drop_id_prefixes(_drop_empty(_to_dict(receipt)))


def status_json(status: BatchStatus) -> dict:
    invalid = [
        {"id": t.id, "message": t.message, "extended_data": _b64(t.extended_data)}
        for t in status.invalid_transactions
    ]
    return _drop_empty({"id": status.id, "status": status.status, "invalid_transactions": invalid})


def _block_num(block: Block) -> int:
    return int(_header(BlockHeader, block.header)["block_num"])


def _block_num_hex(num: int) -> str:
    """Block-list paging positions, as the validator writes them: 0x + 16 hex digits."""
    return f"0x{num:016x}"


# --------------------------------------------------------------------------
# Paging over already-ordered resources (the validator's _Pager)
# --------------------------------------------------------------------------
def _page(items: Iterable[Any], key: Callable[[Any], str], paging: Paging) -> tuple[list, PageInfo]:
    """The page starting at the item whose key is `paging.start` (inclusive).
    A start that is not among a non-empty list is an invalid paging query."""
    it = iter(items)
    page: list = []
    if paging.start:
        seen_any = False
        for item in it:
            seen_any = True
            if key(item) == paging.start:
                page.append(item)
                break
        else:
            if seen_any:
                raise ApiError(PAGING_INVALID)
            return [], PageInfo()
    page.extend(islice(it, paging.size - len(page)))
    if not page:
        return [], PageInfo()
    after = next(it, None)
    return page, PageInfo(key(page[0]), paging.size, key(after) if after is not None else "")


def _paged(req: Request, data: list, head: str, paging: Paging, info: PageInfo) -> Response:
    """Sawtooth's paginated envelope (`_wrap_paginated_response`)."""
    body: dict[str, Any] = {
        "data": data,
        "head": head,
        "link": req.link(head=head, start=info.start, limit=info.limit),
        "paging": {"limit": paging.limit, "start": paging.start},
    }
    if info.next:
        body["paging"]["next_position"] = info.next
        body["paging"]["next"] = req.link(head=head, limit=paging.limit, start=info.next)
    return Response(200, body)


# --------------------------------------------------------------------------
# Routes
# --------------------------------------------------------------------------
class _Routes:
    """One method per route. Each takes the Request (and path parameters) and
    returns a Response or raises ApiError."""

    def __init__(self, ledger: LedgerReader, timeout: float) -> None:
        self.ledger = ledger
        self.timeout = timeout

    # -- batches ----------------------------------------------------------
    def submit_batches(self, req: Request) -> Response:
        if req.media_type() != "application/octet-stream":
            raise ApiError(SUBMISSION_WRONG_CONTENT_TYPE)
        if not req.body:
            raise ApiError(NO_BATCHES_SUBMITTED)
        try:
            batches = list(BatchList.FromString(req.body).batches)
        except DecodeError:
            raise ApiError(BAD_PROTOBUF_SUBMITTED) from None
        if not batches:
            raise ApiError(NO_BATCHES_SUBMITTED)
        try:
            self.ledger.submit(batches)
        except SubmitRejected as e:
            raise ApiError(SUBMITTED_BATCHES_INVALID, f" ({e})" if str(e) else "") from None
        except QueueFull:
            raise ApiError(BATCH_QUEUE_FULL) from None
        ids = ",".join(b.header_signature for b in batches)
        return Response(202, {"link": req.link(path="/batch_statuses", id=ids)})

    def list_statuses(self, req: Request) -> Response:
        if req.method == "POST":
            ids = _json_ids(req, STATUS_WRONG_CONTENT_TYPE, STATUS_BODY_INVALID)
        else:
            ids = _query_ids(req, STATUS_ID_QUERY_INVALID)
        wait = self._wait_seconds(req)
        if wait is None:
            statuses = self.ledger.batch_statuses(ids)
        else:
            statuses = self.ledger.wait_for_batches(ids, wait)
        body: dict[str, Any] = {"data": [status_json(s) for s in statuses]}
        if req.method != "POST":
            body["link"] = req.link()
        return Response(200, body)

    def list_batches(self, req: Request) -> Response:
        return self._list_chain_items(
            req, self.ledger.batch_by_id, lambda block: block.batches, batch_json)

    def fetch_batch(self, req: Request, batch_id: str) -> Response:
        batch = self.ledger.batch_by_id(_validate_id(batch_id))
        if batch is None:
            raise ApiError(BATCH_NOT_FOUND)
        return Response(200, {"data": batch_json(batch), "link": req.link()})

    # -- transactions -------------------------------------------------------
    def list_transactions(self, req: Request) -> Response:
        return self._list_chain_items(
            req,
            self.ledger.transaction_by_id,
            lambda block: [t for b in block.batches for t in b.transactions],
            transaction_json)

    def fetch_transaction(self, req: Request, transaction_id: str) -> Response:
        txn = self.ledger.transaction_by_id(_validate_id(transaction_id))
        if txn is None:
            raise ApiError(TRANSACTION_NOT_FOUND)
        return Response(200, {"data": transaction_json(txn), "link": req.link()})

    # -- state --------------------------------------------------------------
    def list_state(self, req: Request) -> Response:
        paging = _paging(req)
        head = self._state_head(req)
        prefix = req.query.get("address") or ""
        if not _PREFIX_RE.fullmatch(prefix):  # Sawtooth: unhandled -> 500
            raise ApiError(INVALID_STATE_ADDRESS)
        if _reverse(req, "default"):
            entries, info = _page(reversed(self._all_state(prefix, head)), lambda e: e[0], paging)
        else:
            entries, info = self._state_page(prefix, head, paging)
        data = [{"address": address, "data": _b64(value)} for address, value in entries]
        return _paged(req, data, head, paging, info)

    def fetch_state(self, req: Request, address: str) -> Response:
        head = self._state_head(req)
        if not _ADDRESS_RE.fullmatch(address):
            raise ApiError(INVALID_STATE_ADDRESS)
        try:
            value, head = self.ledger.state_get(address, head)
        except KeyError:
            raise ApiError(BLOCK_NOT_FOUND) from None
        if value is None:
            raise ApiError(STATE_NOT_FOUND)
        return Response(200, {"data": _b64(value), "head": head, "link": req.link(head=head)})

    # -- blocks -------------------------------------------------------------
    def list_blocks(self, req: Request) -> Response:
        paging = _paging(req)
        head_param = _head_param(req)
        ids = _filter_ids(req)
        head_block = self._head_block(head_param)
        head_num = _block_num(head_block)
        if ids:
            found = (self.ledger.block_by_id(i) for i in ids)
            blocks = [b for b in found if b is not None and _block_num(b) <= head_num]
            info = PageInfo()
        else:
            blocks, info = self._block_page(paging, head_num, _reverse(req, "block_num"))
        data = [block_json(b) for b in blocks]
        return _paged(req, data, head_block.header_signature, paging, info)

    def fetch_block(self, req: Request, block_id: str) -> Response:
        block = self.ledger.block_by_id(_validate_id(block_id))
        if block is None:
            raise ApiError(BLOCK_NOT_FOUND)
        return Response(200, {"data": block_json(block), "link": req.link()})

    # -- receipts, peers, status --------------------------------------------
    def list_receipts(self, req: Request) -> Response:
        if req.method == "POST":
            ids = _json_ids(req, RECEIPT_WRONG_CONTENT_TYPE, RECEIPT_BODY_INVALID)
        else:
            ids = _query_ids(req, RECEIPT_ID_QUERY_INVALID)
        receipts = self.ledger.receipts(ids)
        if any(r is None for r in receipts):
            raise ApiError(RECEIPT_NOT_FOUND)
        body: dict[str, Any] = {"data": [receipt_json(r) for r in receipts]}
        if req.method != "POST":
            body["link"] = req.link()
        return Response(200, body)

    def fetch_peers(self, req: Request) -> Response:
        return Response(200, {"data": list(self.ledger.peers()), "link": req.link()})

    def fetch_status(self, req: Request) -> Response:
        peers = [{"endpoint": p} for p in sorted(self.ledger.peers())]
        data = {"endpoint": self.ledger.endpoint(), "peers": peers}
        return Response(200, {"data": data, "link": req.link()})

    # -- helpers --------------------------------------------------------------
    def _wait_seconds(self, req: Request) -> float | None:
        """`wait`: absent or 'false' -> no wait; an integer -> that many seconds
        (0 means the validator's default, 300); anything else -> 95% of the
        API's timeout. Never longer than the API's timeout."""
        wait = req.query.get("wait", "false")
        if wait.lower() == "false":
            return None
        try:
            seconds = int(wait)
            if not 0 <= seconds < 2**32:
                raise ValueError(wait)
        except ValueError:
            seconds = int(self.timeout * 0.95)
        return min(seconds or VALIDATOR_WAIT_DEFAULT, self.timeout)

    def _head_block(self, head_id: str | None) -> Block:
        """The `head` block for block/batch/transaction lists."""
        if head_id is None:
            head_id = self.ledger.head_id()
            if head_id is None:
                raise ApiError(VALIDATOR_NOT_READY)
        block = self.ledger.block_by_id(head_id)
        if block is None:
            raise ApiError(HEAD_NOT_FOUND)
        return block

    def _state_head(self, req: Request) -> str:
        """The head block id for state reads. Sawtooth looks the head up as a
        block, so an unknown one is 'Block Not Found' (70) here."""
        head = req.query.get("head")
        if not head:
            current = self.ledger.head_id()
            if current is None:
                raise ApiError(VALIDATOR_NOT_READY)
            return current
        # Sawtooth: a malformed head is not caught and gives nonsense; we say 60.
        if self.ledger.block_by_id(_validate_id(head)) is None:
            raise ApiError(BLOCK_NOT_FOUND)
        return head

    def _state_page(self, prefix: str, head: str, paging: Paging) -> tuple[list, PageInfo]:
        start = paging.start or None
        try:
            if start is not None and not (
                start.startswith(prefix) and self.ledger.state_get(start, head)[0] is not None
            ):
                if self.ledger.state_list(prefix, head, None, 1).entries:
                    raise ApiError(PAGING_INVALID)
                return [], PageInfo()
            page = self.ledger.state_list(prefix, head, start, paging.size)
        except KeyError:
            raise ApiError(BLOCK_NOT_FOUND) from None
        if not page.entries:
            return [], PageInfo()
        return page.entries, PageInfo(page.entries[0][0], paging.size, page.next_address or "")

    def _all_state(self, prefix: str, head: str) -> list[tuple[str, bytes]]:
        entries: list[tuple[str, bytes]] = []
        start = None
        try:
            while True:
                page = self.ledger.state_list(prefix, head, start, MAX_PAGE_SIZE)
                entries.extend(page.entries)
                if not page.next_address:
                    return entries
                start = page.next_address
        except KeyError:
            raise ApiError(BLOCK_NOT_FOUND) from None

    def _block_page(self, paging: Paging, head_num: int, reverse: bool) -> tuple[list, PageInfo]:
        """Blocks by number: newest first from the head (or from `start`, a
        block number in hex), or oldest first up to the head when reversed."""
        if paging.start:
            first = self._start_block_num(paging.start)
            if reverse and first > head_num:
                raise ApiError(PAGING_INVALID)
        else:
            first = 0 if reverse else head_num
        nums = range(first, head_num + 1) if reverse else range(first, -1, -1)
        blocks = [self.ledger.block_by_num(n) for n in nums[: paging.size]]
        if any(b is None for b in blocks):
            raise ApiError(PAGING_INVALID)
        after = _block_num_hex(nums[paging.size]) if len(nums) > paging.size else ""
        return blocks, PageInfo(_block_num_hex(first), paging.size, after)

    def _start_block_num(self, start: str) -> int:
        if not start.startswith("0x"):
            raise ApiError(PAGING_INVALID)
        try:
            num = int(start, 16)
        except ValueError:
            raise ApiError(PAGING_INVALID) from None
        if self.ledger.block_by_num(num) is None:
            raise ApiError(PAGING_INVALID)
        return num

    def _list_chain_items(
        self,
        req: Request,
        by_id: Callable[[str], Any],
        of_block: Callable[[Block], Sequence[Any]],
        render: Callable[[Any], dict],
    ) -> Response:
        """/batches and /transactions: newest first, walking back from the head;
        filtered by `id` (in the order given) when asked."""
        paging = _paging(req)
        head_param = _head_param(req)
        ids = _filter_ids(req)
        head_block = self._head_block(head_param)
        items: Iterable[Any]
        if ids and head_param is None:
            items = [item for item in map(by_id, ids) if item is not None]
        else:
            items = (item for block in self._chain(head_block) for item in of_block(block))
            if ids:
                asked = set(ids)
                wanted = {item.header_signature: item for item in items if item.header_signature in asked}
                items = [wanted[i] for i in ids if i in wanted]
        if _reverse(req, "default"):
            items = list(items)[::-1]
        page, info = _page(items, lambda item: item.header_signature, paging)
        return _paged(req, [render(i) for i in page], head_block.header_signature, paging, info)

    def _chain(self, block: Block | None) -> Iterator[Block]:
        while block is not None:
            yield block
            previous = _header(BlockHeader, block.header)["previous_block_id"]
            block = self.ledger.block_by_id(previous) if _ID_RE.fullmatch(previous) else None


# (method, path pattern, handler name). Path parameters are named groups.
_ROUTE_TABLE: list[tuple[str, str, str]] = [
    ("POST", r"/batches", "submit_batches"),
    ("GET", r"/batches", "list_batches"),
    ("GET", r"/batches/(?P<batch_id>[^/]+)", "fetch_batch"),
    ("GET", r"/batch_statuses", "list_statuses"),
    ("POST", r"/batch_statuses", "list_statuses"),
    ("GET", r"/state", "list_state"),
    ("GET", r"/state/(?P<address>[^/]+)", "fetch_state"),
    ("GET", r"/blocks", "list_blocks"),
    ("GET", r"/blocks/(?P<block_id>[^/]+)", "fetch_block"),
    ("GET", r"/transactions", "list_transactions"),
    ("GET", r"/transactions/(?P<transaction_id>[^/]+)", "fetch_transaction"),
    ("GET", r"/receipts", "list_receipts"),
    ("POST", r"/receipts", "list_receipts"),
    ("GET", r"/peers", "fetch_peers"),
    ("GET", r"/status", "fetch_status"),
]
_COMPILED_ROUTES = [(m, re.compile(p), h) for m, p, h in _ROUTE_TABLE]


def _dispatch(routes: _Routes, req: Request) -> Response:
    """Route a request; never raises. Errors are rendered here and only here."""
    method = "GET" if req.method == "HEAD" else req.method
    allowed: list[str] = []
    try:
        for route_method, pattern, name in _COMPILED_ROUTES:
            match = pattern.fullmatch(req.path)
            if match is None:
                continue
            if route_method != method:
                allowed.append(route_method)
                continue
            return getattr(routes, name)(req, **match.groupdict())
        if allowed:
            if "GET" in allowed:
                allowed.append("HEAD")
            response = ApiError(http_error(405)).response()
            response.headers["Allow"] = ", ".join(sorted(set(allowed)))
            return response
        raise ApiError(http_error(404))
    except ApiError as e:
        return e.response()
    except Exception:  # noqa: BLE001 - a bug or a ledger failure must not kill the server
        LOGGER.exception("REST API: %s %s failed", req.method, req.path)
        return ApiError(UNKNOWN_VALIDATOR_ERROR).response()


# --------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------
class _BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for a long `wait=` request
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: RestApi) -> None:
        self.api = api
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _HttpHandler)

    def process_request(self, request, client_address):  # type: ignore[override]
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):  # type: ignore[override]
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):  # type: ignore[override]
        """A connection failed outside any route (e.g. the client reset it)."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            LOGGER.debug("REST API: connection from %s: %s", client_address, error)
        else:
            LOGGER.exception("REST API: connection from %s failed", client_address)

    def close_connections(self) -> None:
        """Wake up handler threads parked on idle keep-alive connections."""
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


_DATE_CACHE: list = [0, ""]  # [second, formatted Date header]


class _HttpHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sawgrid-devnet-rest-api"
    # Headers and body leave in separate writes; with Nagle's algorithm on, a
    # keep-alive client then waits for the delayed ACK (~40 ms per request).
    disable_nagle_algorithm = True

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header, formatted once per second rather than per response."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        now = int(time.time())
        cached = _DATE_CACHE
        if cached[0] != now:
            cached[:] = [now, super().date_time_string(now)]
        return cached[1]
    timeout = KEEPALIVE_IDLE
    server: _HttpServer

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_HEAD = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _handle(self) -> None:
        api = self.server.api
        try:
            body = self._read_body(api.max_body)
        except _BodyError as e:
            self.close_connection = True  # the rest of the body is still unread
            self._send(ApiError(http_error(e.status, str(e))).response())
            return
        host, port = self.server.server_address[:2]
        req = Request.parse(self.command, self.path, self.headers, body, f"{host}:{port}")
        self._send(_dispatch(api.routes, req))

    def _read_body(self, limit: int) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked(limit)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            size = int(length)
            if size < 0:
                raise ValueError(length)
        except ValueError:
            raise _BodyError(400, f"Invalid Content-Length: {length!r}.") from None
        if size > limit:
            raise _BodyError(413, f"Maximum request body size {limit} exceeded, actual body size {size}.")
        return self.rfile.read(size)

    def _read_chunked(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _BodyError(400, "Malformed chunked request body.") from None
            if size == 0:
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > limit:
                raise _BodyError(413, f"Maximum request body size {limit} exceeded.")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(8)

    def _send(self, response: Response) -> None:
        payload = response.encode()
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (malformed request line, headers too
        long, ...), in the same JSON shape as everything else."""
        self.close_connection = True
        self._send(ApiError(http_error(code, explain or message or "")).response())

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        LOGGER.debug("%s %s", self.address_string(), format % args)


class RestApi:
    """Sawtooth's REST API over a `LedgerReader`, in background threads.

        api = RestApi(ledger, "127.0.0.1", 0)   # port 0: any free port
        api.start(); print(api.url)             # http://127.0.0.1:40123
        ...
        api.stop()

    `timeout` bounds `wait=` on /batch_statuses (Sawtooth's --timeout);
    `max_body` is the largest accepted request body (--client-max-size).
    """

    def __init__(
        self,
        ledger: LedgerReader,
        host: str,
        port: int,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self.ledger = ledger
        self.host = host
        self.port = port
        self.max_body = max_body
        self.routes = _Routes(ledger, timeout)
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """http://host:port, with the real port once started."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Bind (port 0 picks a free port) and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the REST API is already running")
        self._server = _HttpServer((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
            name=f"rest-api:{self.port}", daemon=True)
        self._thread.start()
        LOGGER.info("REST API listening on %s", self.url)

    def stop(self) -> None:
        """Stop serving and close every open connection. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> RestApi:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
