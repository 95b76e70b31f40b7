"""The routes of Sawtooth's REST API (route_handlers.py, openapi.yaml;
branch 1-2), framework-free: `dispatch(routes, request) -> Response`.

Where Sawtooth itself would crash with an unhandled exception (a plain-text
aiohttp 500) the routes answer a proper error instead; those few places are
marked "Sawtooth:" below.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Callable, Iterable, Iterator, Sequence

from google.protobuf.message import DecodeError

from sawgrid.devnet.faults import RequestFaults
from sawgrid.devnet.ledger_api import LedgerReader, QueueFull, SubmitRejected
from sawgrid.devnet.rest_api.errors import (
    BAD_PROTOBUF_SUBMITTED,
    BATCH_NOT_FOUND,
    BATCH_QUEUE_FULL,
    BLOCK_NOT_FOUND,
    HEAD_NOT_FOUND,
    INVALID_STATE_ADDRESS,
    NO_BATCHES_SUBMITTED,
    PAGING_INVALID,
    RECEIPT_BODY_INVALID,
    RECEIPT_ID_QUERY_INVALID,
    RECEIPT_NOT_FOUND,
    RECEIPT_WRONG_CONTENT_TYPE,
    STATE_NOT_FOUND,
    STATUS_BODY_INVALID,
    STATUS_ID_QUERY_INVALID,
    STATUS_WRONG_CONTENT_TYPE,
    SUBMISSION_WRONG_CONTENT_TYPE,
    SUBMITTED_BATCHES_INVALID,
    TRANSACTION_NOT_FOUND,
    UNKNOWN_VALIDATOR_ERROR,
    VALIDATOR_NOT_READY,
    ApiError,
    http_error,
)
from sawgrid.devnet.rest_api.messages import Request, Response
from sawgrid.devnet.rest_api.query import (
    ADDRESS_RE,
    ID_RE,
    MAX_PAGE_SIZE,
    PREFIX_RE,
    PageInfo,
    Paging,
    filter_ids,
    head_param,
    json_ids,
    page_of,
    paged,
    parse_paging,
    query_ids,
    reverse_param,
    validate_id,
)
from sawgrid.devnet.rest_api.render import (
    b64,
    batch_json,
    block_json,
    block_num,
    block_num_hex,
    decode_header,
    receipt_json,
    status_json,
    transaction_json,
)
from sawgrid.protos.sawtooth import BatchList, Block, BlockHeader

LOGGER = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 300  # seconds; sawtooth-rest-api --timeout default
VALIDATOR_WAIT_DEFAULT = 300  # the validator's wait when asked for `wait=0`
# Batches in one POST /batches (README.md, "Limits"; Sawtooth has no such
# limit besides the 10 MB body). Ten blocks' worth at the default
# --max-batches, and room for Sawgrid's largest request: `sawgrid simulate`
# posts 2 * participants + 1 batches an hour (207 at its default 103).
MAX_BATCHES_PER_REQUEST = 1_000


class Routes:
    """One method per route. Each takes the Request (and path parameters) and
    returns a Response or raises ApiError.

    `timeout` bounds `wait=` on /batch_statuses (Sawtooth's --timeout);
    `faults` (tests only, devnet/faults.py) may answer `POST /batches` 429;
    `max_batches_per_request` bounds the batches of one `POST /batches`.
    """

    def __init__(
        self, ledger: LedgerReader, timeout: float = DEFAULT_TIMEOUT, faults: RequestFaults | None = None,
        *, max_batches_per_request: int = MAX_BATCHES_PER_REQUEST,
    ) -> None:
        self.ledger = ledger
        self.timeout = timeout
        self.faults = faults
        self.max_batches_per_request = max_batches_per_request

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
        if len(batches) > self.max_batches_per_request:  # devnet's limit; nothing is checked or queued
            raise ApiError(SUBMITTED_BATCHES_INVALID, f" ({len(batches)} batches in one request; "
                                                      f"at most {self.max_batches_per_request})")
        if self.faults is not None and self.faults.queue_full():
            LOGGER.warning("fault injection: POST /batches answered 429")
            raise ApiError(BATCH_QUEUE_FULL)
        try:
            self.ledger.submit(batches)
        except SubmitRejected as e:
            raise ApiError(SUBMITTED_BATCHES_INVALID, f" ({e})" if str(e) else "") from None
        except QueueFull as e:  # the whole queue, or this batch signer's share of it
            raise ApiError(BATCH_QUEUE_FULL, f" ({e})" if str(e) else "") from None
        ids = ",".join(b.header_signature for b in batches)
        return Response(202, {"link": req.link(path="/batch_statuses", id=ids)})

    def list_statuses(self, req: Request) -> Response:
        if req.method == "POST":
            ids = json_ids(req, STATUS_WRONG_CONTENT_TYPE, STATUS_BODY_INVALID)
        else:
            ids = query_ids(req, STATUS_ID_QUERY_INVALID)
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
        batch = self.ledger.batch_by_id(validate_id(batch_id))
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
        txn = self.ledger.transaction_by_id(validate_id(transaction_id))
        if txn is None:
            raise ApiError(TRANSACTION_NOT_FOUND)
        return Response(200, {"data": transaction_json(txn), "link": req.link()})

    # -- state --------------------------------------------------------------
    def list_state(self, req: Request) -> Response:
        paging = parse_paging(req)
        head = self._state_head(req)
        prefix = req.query.get("address") or ""
        if not PREFIX_RE.fullmatch(prefix):  # Sawtooth: unhandled -> 500
            raise ApiError(INVALID_STATE_ADDRESS)
        if reverse_param(req, "default"):
            entries, info = page_of(reversed(self._all_state(prefix, head)), lambda e: e[0], paging)
        else:
            entries, info = self._state_page(prefix, head, paging)
        data = [{"address": address, "data": b64(value)} for address, value in entries]
        return paged(req, data, head, paging, info)

    def fetch_state(self, req: Request, address: str) -> Response:
        head = self._state_head(req)
        if not ADDRESS_RE.fullmatch(address):
            raise ApiError(INVALID_STATE_ADDRESS)
        try:
            value, head = self.ledger.state_get(address, head)
        except KeyError:
            raise ApiError(BLOCK_NOT_FOUND) from None
        if value is None:
            raise ApiError(STATE_NOT_FOUND)
        return Response(200, {"data": b64(value), "head": head, "link": req.link(head=head)})

    # -- blocks -------------------------------------------------------------
    def list_blocks(self, req: Request) -> Response:
        paging = parse_paging(req)
        head_id = head_param(req)
        ids = filter_ids(req)
        head_block = self._head_block(head_id)
        head_num = block_num(head_block)
        if ids:
            found = (self.ledger.block_by_id(i) for i in ids)
            blocks = [b for b in found if b is not None and block_num(b) <= head_num]
            info = PageInfo()
        else:
            blocks, info = self._block_page(paging, head_num, reverse_param(req, "block_num"))
        data = [block_json(b) for b in blocks]
        return paged(req, data, head_block.header_signature, paging, info)

    def fetch_block(self, req: Request, block_id: str) -> Response:
        block = self.ledger.block_by_id(validate_id(block_id))
        if block is None:
            raise ApiError(BLOCK_NOT_FOUND)
        return Response(200, {"data": block_json(block), "link": req.link()})

    # -- receipts, peers, status --------------------------------------------
    def list_receipts(self, req: Request) -> Response:
        if req.method == "POST":
            ids = json_ids(req, RECEIPT_WRONG_CONTENT_TYPE, RECEIPT_BODY_INVALID)
        else:
            ids = query_ids(req, RECEIPT_ID_QUERY_INVALID)
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
        if self.ledger.block_by_id(validate_id(head)) is None:
            raise ApiError(BLOCK_NOT_FOUND)
        return head

    def _state_page(self, prefix: str, head: str, paging: Paging) -> tuple[list, PageInfo]:
        start = paging.start or None
        try:
            if start is not None and not (  # a start that is no leaf here: as Sawtooth, an invalid page
                ADDRESS_RE.fullmatch(start) and start.startswith(prefix)
                and self.ledger.state_get(start, head)[0] is not None
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
            first = self._start_block_num(paging.start, head_num)
        else:
            first = 0 if reverse else head_num
        nums = range(first, head_num + 1) if reverse else range(first, -1, -1)
        blocks = [self.ledger.block_by_num(n) for n in nums[: paging.size]]
        if any(b is None for b in blocks):
            raise ApiError(PAGING_INVALID)
        after = block_num_hex(nums[paging.size]) if len(nums) > paging.size else ""
        return blocks, PageInfo(block_num_hex(first), paging.size, after)

    def _start_block_num(self, start: str, head_num: int) -> int:
        """`start` of a block list: a block number in hex, on the chain up to
        the head (Sawtooth: a start that is not among the listed blocks is an
        invalid paging query). Checked against the head before any lookup, so
        a number too large for the store is a 400, not an overflow."""
        if not start.startswith("0x"):
            raise ApiError(PAGING_INVALID)
        try:
            num = int(start, 16)
        except ValueError:
            raise ApiError(PAGING_INVALID) from None
        if not 0 <= num <= head_num or self.ledger.block_by_num(num) is None:
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
        paging = parse_paging(req)
        head_id = head_param(req)
        ids = filter_ids(req)
        head_block = self._head_block(head_id)
        items: Iterable[Any]
        if ids and head_id is None:
            items = [item for item in map(by_id, ids) if item is not None]
        else:
            items = (item for block in self._chain(head_block) for item in of_block(block))
            if ids:
                asked = set(ids)
                wanted = {item.header_signature: item for item in items if item.header_signature in asked}
                items = [wanted[i] for i in ids if i in wanted]
        if reverse_param(req, "default"):
            items = list(items)[::-1]
        page, info = page_of(items, lambda item: item.header_signature, paging)
        return paged(req, [render(i) for i in page], head_block.header_signature, paging, info)

    def _chain(self, block: Block | None) -> Iterator[Block]:
        while block is not None:
            yield block
            previous = decode_header(BlockHeader, block.header)["previous_block_id"]
            block = self.ledger.block_by_id(previous) if ID_RE.fullmatch(previous) else None


# (method, path pattern, handler name). Path parameters are named groups.
ROUTE_TABLE: list[tuple[str, str, str]] = [
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
_COMPILED_ROUTES = [(m, re.compile(p), h) for m, p, h in ROUTE_TABLE]


def dispatch(routes: Routes, req: Request) -> Response:
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
