"""A client for Sawtooth's REST API: a real Sawtooth node or devnet.

    client = RestClient("http://127.0.0.1:8008")
    client.submit_and_wait(batch_list_bytes, timeout=60)   # raises BatchInvalid
    client.state(address)                                   # bytes or None
    for address, data in client.state_prefix(namespace): ...

Standard library only (http.client), with one keep-alive connection per
thread. An https:// URL is verified (clients/sdk/tls.py `client_context`):
against `ca_cert` if given, else `$SAWGRID_CA_CERT`, else the system's CAs.
Every failure is a `RestError` with a one-line message; nothing from
socket/http.client leaks out.

Two things a real validator does that this client absorbs:

* **INVALID is not always final.** Under load a Sawtooth validator reports
  some batches INVALID that it then re-runs in the next block and commits
  (the publisher drops the state contexts of batches still in its schedule
  when it claims a block). `wait` and `submit_and_wait` therefore report a
  batch INVALID only once it has stayed INVALID for `invalid_settle`
  seconds (default `INVALID_SETTLE`), re-checking it meanwhile.
* **Dropped connections.** A connection the server closes without answering
  is retried once on a fresh connection. Every request this client sends is
  safe to repeat: reads, and `POST /batches`, because re-posting the very
  same batch bytes is a no-op on Sawtooth (and on devnet).
"""
from __future__ import annotations

import base64
import http.client
import json
import math
import random
import ssl
import threading
import time
from typing import Any, Iterable, Iterator, Mapping, Sequence
from urllib.parse import parse_qs, urlencode, urlsplit

from sawgrid.clients.sdk.errors import SawgridError

__all__ = [
    "RestClient",
    "RestError",
    "RestUnreachable",
    "RestTimeout",
    "RestBadResponse",
    "RestApiError",
    "RestNotFound",
    "BatchInvalid",
    "BatchTimeout",
    "INVALID_SETTLE",
]

DEFAULT_URL = "http://127.0.0.1:8008"
# Seconds a batch must stay INVALID before it is reported as refused. Covers
# one block interval of a loaded Sawtooth validator (its re-run commits in the
# next block, well under a second on our 2-core machine) while a refused CLI
# command still answers within about two seconds.
INVALID_SETTLE = 1.5
# Seconds between status checks when the API's `wait` cannot help (it returns
# at once for INVALID batches, and for old APIs that ignore it).
POLL_INTERVAL = 0.2
# Above this many ids, statuses and receipts are asked with a POST (Sawtooth's advice).
_MAX_GET_IDS = 15
# Batches per POST /batches: devnet refuses more (devnet/README.md, "Limits").
MAX_BATCHES_PER_POST = 1_000
# Bytes per POST /batches body: under the 10 MB that Sawtooth's REST API
# (--client-max-size) and devnet take by default, which answer a larger body
# 413 before reading it (the client then sees a broken pipe). A longer list
# is posted in order, in requests within both limits.
MAX_POST_BYTES = 8 * 1024 * 1024


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------
class RestError(SawgridError):
    """Anything that went wrong talking to the REST API; str() is one line."""


class RestUnreachable(RestError):
    """No connection could be made (refused, unknown host, reset...)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach the Sawtooth REST API at {url}: {reason}")
        self.url = url
        self.reason = reason


class RestTimeout(RestError):
    """The API accepted the connection but did not answer in time."""

    def __init__(self, url: str, seconds: float) -> None:
        super().__init__(f"the Sawtooth REST API at {url} did not answer within {seconds:g}s")
        self.url = url
        self.seconds = seconds


class RestBadResponse(RestError):
    """The answer was not Sawtooth's JSON (wrong server, proxy error page...)."""


class RestApiError(RestError):
    """The API answered with an error: `status` (HTTP), Sawtooth's `code`,
    `title` and `detail` (its message)."""

    def __init__(self, status: int, code: int | None, title: str, detail: str) -> None:
        super().__init__(f"REST API answered {status} ({title}): {detail}")
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail


class RestNotFound(RestApiError):
    """A 404: no such block/batch/transaction/state/receipt (see `code`)."""


class BatchInvalid(RestError):
    """A submitted batch was INVALID. `statuses` are the INVALID batch
    statuses; `messages` each invalid transaction's message."""

    def __init__(self, statuses: Sequence[dict]) -> None:
        self.statuses = list(statuses)
        self.messages = [
            t.get("message", "") for s in self.statuses for t in s.get("invalid_transactions", [])
        ]
        parts = []
        for status in self.statuses:
            txns = status.get("invalid_transactions", [])
            why = "; ".join(
                f"transaction {t.get('id', '?')[:16]}: {t.get('message') or '(no message)'}" for t in txns
            )
            parts.append(f"batch {status['id'][:16]} is INVALID" + (f" ({why})" if why else ""))
        super().__init__(", ".join(parts))


class BatchTimeout(RestError):
    """Batches were not committed in time (still PENDING, or UNKNOWN)."""

    def __init__(self, statuses: Sequence[dict], timeout: float) -> None:
        self.statuses = list(statuses)
        listed = ", ".join(f"{s['id'][:16]} {s['status']}" for s in self.statuses)
        super().__init__(f"batches not committed within {timeout:g}s: {listed}")


# --------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------
class RestClient:
    """Typed access to Sawtooth's REST API.

    Args:
        url: base URL of the API, e.g. http://127.0.0.1:8008 (a path prefix
            such as http://proxy/sawtooth is kept).
        timeout: seconds to wait for any single answer (a `wait` on batch
            statuses gets its wait time on top).
        max_retries: how often `submit` retries a 429 (queue full).
        backoff: first retry delay in seconds; doubles each time...
        max_backoff: ...up to this.
        invalid_settle: seconds a batch must stay INVALID before `wait` and
            `submit_and_wait` report it so (see the module docstring); 0
            takes the first INVALID as final.
        ca_cert: for https URLs, the CA file (PEM) the server's certificate
            must chain to (default: $SAWGRID_CA_CERT, else the system's);
            verification is never turned off.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        timeout: float = 30.0,
        max_retries: int = 8,
        backoff: float = 0.1,
        max_backoff: float = 5.0,
        invalid_settle: float = INVALID_SETTLE,
        ca_cert: str | None = None,
    ) -> None:
        parts = urlsplit(url if "://" in url else "http://" + url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.invalid_settle = invalid_settle
        self._scheme = parts.scheme
        self._tls: ssl.SSLContext | None = None
        if parts.scheme == "https":
            from sawgrid.clients.sdk.tls import TlsError, client_context

            try:
                self._tls = client_context(ca_cert)
            except TlsError as err:
                raise RestError(str(err)) from None
        self._netloc = parts.netloc
        self._prefix = parts.path.rstrip("/")
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._all_lock = threading.Lock()

    # -- batches -------------------------------------------------------------
    def submit(self, batches: bytes | Any | Iterable[Any]) -> list[str]:
        """POST /batches. `batches`: serialized BatchList bytes, a BatchList,
        one Batch or an iterable of Batches. Retries 429 (queue full) with
        exponential back-off, at most `max_retries` times. Returns the batch
        ids, in order. Batches beyond one request's limits (MAX_BATCHES_PER_POST,
        MAX_POST_BYTES) are posted in consecutive requests, in order."""
        if isinstance(batches, (bytes, bytearray, memoryview)) or \
                getattr(getattr(batches, "DESCRIPTOR", None), "name", None) in ("Batch", "BatchList"):
            return self._post_batches(_batch_list_bytes(batches))
        bodies = list(_batch_list_bodies(batches))   # a batch too large for any request fails before any is sent
        return [i for body in bodies for i in self._post_batches(body)]

    def _post_batches(self, body: bytes) -> list[str]:
        """One POST /batches of a serialized BatchList; the batch ids, in order."""
        delay = self.backoff
        for attempt in range(self.max_retries + 1):
            try:
                doc = self._call("POST", "/batches", body=body, content_type="application/octet-stream")
                break
            except RestApiError as e:
                if e.status != 429 or attempt == self.max_retries:
                    raise
            time.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.max_backoff)
        ids = parse_qs(urlsplit(doc.get("link", "")).query).get("id", [""])[0]
        return [i for i in ids.split(",") if i]

    def statuses(self, batch_ids: Sequence[str], wait: int | None = None) -> dict[str, dict]:
        """Batch statuses ({id: {"id", "status", "invalid_transactions"}}) now,
        or after the API waited up to `wait` seconds for them to leave PENDING."""
        ids = list(batch_ids)
        query: dict[str, Any] = {}
        timeout = self.timeout
        if wait is not None:
            query["wait"] = max(1, int(wait))  # wait=0 would mean 300s to Sawtooth
            timeout += query["wait"]
        if len(ids) > _MAX_GET_IDS:
            doc = self._call("POST", "/batch_statuses", query=query,
                             body=json.dumps(ids).encode(), content_type="application/json",
                             timeout=timeout)
        else:
            doc = self._call("GET", "/batch_statuses", query={"id": ",".join(ids), **query},
                             timeout=timeout)
        return {s["id"]: s for s in doc["data"]}

    def wait(self, batch_ids: Sequence[str], timeout: float = 30.0) -> dict[str, dict]:
        """Statuses ({id: status}, in the order asked) once every batch is
        final, or when `timeout` seconds have passed (then some may still be
        PENDING, or INVALID for less than `invalid_settle` seconds).

        Final means COMMITTED, UNKNOWN, or INVALID on every check for at
        least `invalid_settle` seconds. A batch that leaves INVALID (PENDING
        again, or COMMITTED) is waited for like any other. Uses the API's
        `wait` while a batch is PENDING, and polls every `POLL_INTERVAL`
        seconds otherwise.
        """
        ids = list(dict.fromkeys(batch_ids))
        deadline = time.monotonic() + timeout
        statuses: dict[str, dict] = {}
        invalid_since: dict[str, float] = {}  # batch id -> when it was first seen INVALID
        while True:
            ask = [i for i in ids if statuses.get(i, {}).get("status") != "COMMITTED"]
            if not ask:
                return {i: statuses[i] for i in ids}
            asked = time.monotonic()
            remaining = deadline - asked
            pending = not statuses or any(statuses[i]["status"] == "PENDING" for i in ask)
            wait = math.ceil(remaining) if remaining > 0 and pending else None
            answer = self.statuses(ask, wait=wait)
            missing = [i for i in ask if i not in answer]
            if missing:
                raise RestBadResponse(f"the REST API at {self.url} answered without the status of "
                                      f"batch {missing[0][:16]}")
            statuses.update(answer)
            for i in ask:
                if statuses[i]["status"] == "INVALID":
                    invalid_since.setdefault(i, asked)
                else:
                    invalid_since.pop(i, None)
            pending = any(statuses[i]["status"] == "PENDING" for i in ask)
            # when each INVALID batch seen for less than `invalid_settle` will have settled
            settles_at = [since + self.invalid_settle for since in invalid_since.values()
                          if asked - since < self.invalid_settle]
            now = time.monotonic()
            if (not pending and not settles_at) or now >= deadline:
                return {i: statuses[i] for i in ids}
            if pending and wait is not None and now - asked >= 0.9 * wait:
                continue  # the API waited as asked: ask again at once
            time.sleep(max(0.0, min([POLL_INTERVAL, deadline - now] + [t - now for t in settles_at])))

    def submit_and_wait(self, batches: bytes | Any | Iterable[Any], timeout: float = 60.0) -> dict[str, dict]:
        """Submit, then wait for commit. Returns the statuses (all COMMITTED).
        Raises BatchInvalid (with the validator's messages) if any batch is
        INVALID and stayed so for `invalid_settle` seconds (or until
        `timeout`), BatchTimeout if any is still PENDING (or UNKNOWN) after
        `timeout` seconds."""
        ids = self.submit(batches)
        statuses = self.wait(ids, timeout)
        invalid = [s for s in statuses.values() if s["status"] == "INVALID"]
        if invalid:
            raise BatchInvalid(invalid)
        late = [s for s in statuses.values() if s["status"] != "COMMITTED"]
        if late:
            raise BatchTimeout(late, timeout)
        return statuses

    # -- state -----------------------------------------------------------------
    def state(self, address: str, head: str | None = None) -> bytes | None:
        """The data at a full 70-hex-char address, or None if there is none."""
        try:
            doc = self._call("GET", f"/state/{address}", query=_only(head=head))
        except RestNotFound as e:
            if e.code == 75:  # State Not Found (70 would be an unknown head)
                return None
            raise
        return base64.b64decode(doc["data"])

    def state_prefix(
        self, prefix: str, head: str | None = None, page_size: int | None = None
    ) -> Iterator[tuple[str, bytes]]:
        """(address, data) of every leaf under `prefix` (even-length hex, may
        be ''), in address order, following the API's paging. All pages are
        read at the same head: the one given, or the head of the first page."""
        query = _only(address=prefix, head=head, limit=page_size)
        while True:
            doc = self._call("GET", "/state", query=query)
            for entry in doc["data"]:
                yield entry["address"], base64.b64decode(entry["data"])
            position = doc.get("paging", {}).get("next_position")
            if not position:
                return
            query = {**query, "head": doc["head"], "start": position}

    # -- blocks, batches, transactions, receipts ---------------------------------
    def blocks(self, limit: int | None = None, head: str | None = None) -> Iterator[dict]:
        """Blocks newest first (from `head`, default the chain head), at most
        `limit` of them (None: down to genesis)."""
        return self._paged("/blocks", _only(head=head), limit)

    def block_at(self, num: int) -> dict | None:
        """The block with number `num` on the current chain, or None beyond the
        head (Sawtooth's /blocks pages by number: start=0x + 16 hex digits)."""
        try:
            doc = self._call("GET", "/blocks", query={"start": f"0x{num:016x}", "limit": 1})
        except RestApiError as err:
            if err.status in (400, 404):  # beyond the head: no such paging start
                return None
            raise
        found = [b for b in doc.get("data", [])[:1] if int(b["header"]["block_num"]) == num]
        return found[0] if found else None

    def head_id(self) -> str | None:
        """Id of the chain head, or None while the node has no genesis block yet."""
        try:
            return self._call("GET", "/blocks", query={"limit": 1})["head"]
        except RestApiError as err:
            if err.status == 503:
                return None
            raise

    def block(self, block_id: str) -> dict | None:
        """The block (Sawtooth's JSON: header decoded, batches expanded), or None."""
        return self._fetch(f"/blocks/{block_id}")

    def batch(self, batch_id: str) -> dict | None:
        """A committed batch, or None."""
        return self._fetch(f"/batches/{batch_id}")

    def transaction(self, transaction_id: str) -> dict | None:
        """A committed transaction (header decoded, payload base64), or None."""
        return self._fetch(f"/transactions/{transaction_id}")

    def receipts(self, transaction_ids: Sequence[str]) -> list[dict]:
        """Receipts of committed transactions, in the order asked: each with
        "id", "state_changes", "events", "data". Raises RestNotFound (code 80)
        if any transaction has no receipt."""
        ids = list(transaction_ids)
        if len(ids) > _MAX_GET_IDS:
            doc = self._call("POST", "/receipts", body=json.dumps(ids).encode(),
                             content_type="application/json")
        else:
            doc = self._call("GET", "/receipts", query={"id": ",".join(ids)})
        return doc["data"]

    def status(self) -> dict:
        """{"endpoint": ..., "peers": [{"endpoint": ...}]} of the node."""
        return self._call("GET", "/status")["data"]

    def peers(self) -> list[str]:
        """Endpoints of the node's peers."""
        return self._call("GET", "/peers")["data"]

    # -- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        """Close every connection this client opened (any thread)."""
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()

    def __enter__(self) -> RestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -----------------------------------------------------------------------
    def _fetch(self, path: str) -> dict | None:
        try:
            return self._call("GET", path)["data"]
        except RestNotFound:
            return None

    def _paged(self, path: str, query: dict[str, Any], limit: int | None) -> Iterator[dict]:
        left = limit
        if left is not None:
            if left <= 0:
                return
            query = {**query, "limit": min(left, 1000)}
        while True:
            doc = self._call("GET", path, query=query)
            for item in doc["data"]:
                yield item
                if left is not None:
                    left -= 1
                    if left == 0:
                        return
            position = doc.get("paging", {}).get("next_position")
            if not position:
                return
            query = {**query, "head": doc["head"], "start": position}

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._tls is not None:
                conn = http.client.HTTPSConnection(self._netloc, timeout=self.timeout, context=self._tls)
            else:
                conn = http.client.HTTPConnection(self._netloc, timeout=self.timeout)
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        timeout: float | None = None,
    ) -> dict:
        """One request; returns the decoded JSON document or raises RestError."""
        target = self._prefix + path + ("?" + urlencode(query, safe=",") if query else "")
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        timeout = self.timeout if timeout is None else timeout
        for attempt in range(2):
            conn = self._connection()
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            try:
                conn.request(method, target, body=body, headers=headers)
                response = conn.getresponse()
                raw = response.read()
            except TimeoutError:
                conn.close()
                raise RestTimeout(self.url, timeout) from None
            except (http.client.RemoteDisconnected, ConnectionResetError,
                    ConnectionAbortedError, BrokenPipeError) as e:
                conn.close()
                if attempt == 0:
                    # The server closed the connection without answering: an
                    # idle keep-alive connection it dropped, or a request it
                    # never answered. Once more on a fresh connection; every
                    # request here is safe to repeat (module docstring).
                    continue
                raise RestUnreachable(self.url, _reason(e)) from None
            except ssl.SSLCertVerificationError as e:
                conn.close()
                raise RestUnreachable(self.url, f"its TLS certificate does not verify ({e.verify_message}); "
                                      f"give its CA file with --ca-cert or $SAWGRID_CA_CERT") from None
            except ssl.SSLError as e:
                conn.close()
                raise RestUnreachable(self.url, f"TLS failed ({e.reason or e})") from None
            except OSError as e:
                conn.close()
                raise RestUnreachable(self.url, _reason(e)) from None
            except http.client.HTTPException as e:
                conn.close()
                raise RestBadResponse(
                    f"the Sawtooth REST API at {self.url} sent a malformed answer: "
                    f"{type(e).__name__}") from None
            if response.will_close:
                conn.close()
            return self._decode(response.status, raw)
        raise AssertionError("unreachable")

    def _decode(self, status: int, raw: bytes) -> dict:
        try:
            doc = json.loads(raw) if raw else {}
            if not isinstance(doc, dict):
                raise ValueError("not an object")
        except ValueError:
            snippet = raw[:80].decode("utf-8", "replace").replace("\n", " ")
            raise RestBadResponse(
                f"the REST API at {self.url} answered {status} with a body that is not "
                f"Sawtooth's JSON: {snippet!r}") from None
        if status < 400:
            return doc
        error = doc.get("error") if isinstance(doc.get("error"), dict) else {}
        code = error.get("code") if isinstance(error.get("code"), int) else None
        title = str(error.get("title") or http.client.responses.get(status, "error"))
        detail = " ".join(str(error.get("message") or "no details").split())
        cls = RestNotFound if status == 404 else RestApiError
        raise cls(status, code, title, detail)


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------
def _only(**params: Any) -> dict[str, Any]:
    """Query parameters that are not None."""
    return {k: v for k, v in params.items() if v is not None}


def _reason(error: OSError) -> str:
    text = error.strerror or str(error) or type(error).__name__
    return text[:1].lower() + text[1:]


def _batch_list_bodies(batches: Iterable[Any]) -> Iterator[bytes]:
    """Serialized BatchLists of `batches`, in order, each within one POST's
    limits (MAX_BATCHES_PER_POST batches, MAX_POST_BYTES bytes)."""
    body, count = bytearray(), 0
    for batch in batches:
        encoded = batch.SerializeToString()
        entry = b"\x0a" + _varint(len(encoded)) + encoded  # BatchList.batches = field 1
        if len(entry) > MAX_POST_BYTES:
            raise SawgridError(f"batch {batch.header_signature[:16]} is {len(entry) / 1e6:.1f} MB, more than one "
                               f"POST /batches may carry ({MAX_POST_BYTES / 1e6:.1f} MB): split its transactions")
        if count and (count == MAX_BATCHES_PER_POST or len(body) + len(entry) > MAX_POST_BYTES):
            yield bytes(body)
            body, count = bytearray(), 0
        body += entry
        count += 1
    if count:
        yield bytes(body)


def _batch_list_bytes(batches: bytes | Any | Iterable[Any]) -> bytes:
    """Serialized BatchList from bytes, a BatchList, a Batch or Batches."""
    if isinstance(batches, (bytes, bytearray, memoryview)):
        return bytes(batches)
    name = getattr(getattr(batches, "DESCRIPTOR", None), "name", None)
    if name == "BatchList":
        return batches.SerializeToString()
    if name == "Batch":
        batches = [batches]
    out = bytearray()
    for batch in batches:
        encoded = batch.SerializeToString()
        out += b"\x0a" + _varint(len(encoded)) + encoded  # BatchList.batches = field 1
    return bytes(out)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)
