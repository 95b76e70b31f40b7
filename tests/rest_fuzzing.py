"""A hostile client for devnet's REST API, as hypothesis strategies: every
route and query parameter, with values a careless or malicious client
sends (huge and negative numbers, hex too long for SQLite, unicode, repeated
and empty parameters, ids of real and unknown resources), every method, and
bodies of random bytes, deeply nested JSON, id lists, BatchLists of garbage
and of properly signed batches, under right and wrong content types.

`check(response)` is what must hold for every answer: no 5xx, JSON of
Sawtooth's shape, no traceback. Used by tests/unit/test_rest_hostile.py (an
in-process devnet over the real ledger) and
tests/integration/test_devnet_hostile.py (a real `sawgrid devnet` child).
"""
from __future__ import annotations

import http.client
import json
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

from sawgrid.protos.sawtooth import Batch, BatchHeader, BatchList, Transaction

# Each route: its methods and its query parameters (Sawtooth's openapi.yaml).
ROUTES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "/batches": (("GET", "POST"), ("head", "start", "limit", "reverse", "id")),
    "/batch_statuses": (("GET", "POST"), ("id", "wait")),
    "/state": (("GET",), ("head", "start", "limit", "reverse", "address")),
    "/blocks": (("GET",), ("head", "start", "limit", "reverse", "id")),
    "/transactions": (("GET",), ("head", "start", "limit", "reverse", "id")),
    "/receipts": (("GET", "POST"), ("id",)),
    "/peers": (("GET",), ()),
    "/status": (("GET",), ()),
    "/batches/{id}": (("GET",), ()),
    "/blocks/{id}": (("GET",), ()),
    "/transactions/{id}": (("GET",), ()),
    "/state/{address}": (("GET",), ("head",)),
}
ODD_PATHS = ["/", "//batches", "/batches/", "/blocks/a/b", "/state/../status", "/%2e%2e/status", "/BATCHES",
             "/batch_statuses/x", "/state/", "/receipts/1"]
OTHER_PARAMETERS = ["count", "min", "max", "sort", "fields", "head", "start", "limit"]
METHODS = ["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"]
CONTENT_TYPES = [None, "application/json", "application/octet-stream", "text/plain",
                 "application/json; charset=utf-8", "APPLICATION/OCTET-STREAM", "multipart/form-data"]
RIGHT_CONTENT_TYPE = {"/batches": "application/octet-stream", "/batch_statuses": "application/json",
                      "/receipts": "application/json"}

HUGE = ["9" * 19, "9" * 30, "9" * 4000, "9" * 5000, "18446744073709551616", "-9223372036854775809", "1e400",
        "inf", "nan"]
NUMBERS = ["0", "1", "-1", "-0", "100", "1000", "1001", "5000", " 5", "\u0663", "1_000", "0x10", *HUGE]
BLOCK_STARTS = ["0x" + "f" * 16, "0x" + "f" * 40, "0x8000000000000000", "0x7fffffffffffffff", "0x-1",
                "0x", "0x0000000000000000", "0x0000000000000001", "0x0000000000000fff", "12", "-0x5"]
WORDS = ["", "false", "true", "FALSE", "default", "block_num", "address", "abc", "zz", ",", ",,",
         "\u00e9\u4e2d\U0001f600", "%", "%00", "\x00", "' OR 1=1 --", "../../etc/passwd"]


@dataclass
class Target:
    """What the fuzzer knows of the ledger it attacks: ids that exist, so that
    requests also reach past the id checks. `signed_batches()` makes fresh,
    properly signed batches (None: none are sent)."""

    block_ids: list[str] = field(default_factory=list)
    batch_ids: list[str] = field(default_factory=list)
    txn_ids: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    signed_batches: Callable[[int], list[Batch]] | None = None
    pending_ids: list[str] = field(default_factory=list)  # ids `wait=` would wait for


@dataclass
class FuzzRequest:
    method: str
    path: str  # already percent-encoded, with its query string
    body: bytes | None
    content_type: str | None
    headers: dict[str, str]


def _hex(min_size: int = 0, max_size: int = 140):
    return st.text(alphabet="0123456789abcdefABCDEF", min_size=min_size, max_size=max_size)


def _anything(target: Target, with_waits: bool):
    known = target.block_ids + target.batch_ids + target.txn_ids + (target.pending_ids if with_waits else [])
    pieces = [st.sampled_from(NUMBERS + BLOCK_STARTS + WORDS), _hex(), _hex(128, 128), _hex(70, 70),
              st.text(max_size=40), st.integers(-2**70, 2**70).map(str)]
    if known:
        pieces.append(st.sampled_from(known))
    if target.addresses:
        pieces.append(st.sampled_from(target.addresses))
    return st.one_of(pieces)


def _value(target: Target, parameter: str, with_waits: bool):
    """A value for `parameter`: mostly of the kind it takes, sometimes anything."""
    anything = _anything(target, with_waits)
    ids = {"head": target.block_ids,
           "id": target.block_ids + target.batch_ids + target.txn_ids + (target.pending_ids if with_waits else [])
           }.get(parameter, [])
    if parameter in ("id", "head"):
        one = st.sampled_from(ids) if ids else _hex(128, 128)
        typed = st.one_of(one, st.lists(one, min_size=1, max_size=20).map(",".join), _hex(0, 130))
    elif parameter == "start":
        typed = st.one_of(st.sampled_from(BLOCK_STARTS), st.sampled_from(target.batch_ids + target.txn_ids or
                                                                         ["0" * 128]),
                          st.sampled_from(target.addresses or ["0" * 70]), st.sampled_from(NUMBERS))
    elif parameter in ("limit", "wait", "count", "min", "max"):
        typed = st.sampled_from(NUMBERS + ["false", ""])
    elif parameter == "address":
        prefixes = [a[:n] for a in target.addresses for n in (0, 2, 6, 7, 8, 70)] or ["", "00"]
        typed = st.one_of(st.sampled_from(prefixes), _hex(0, 72))
    else:
        typed = st.sampled_from(WORDS)
    return st.one_of(typed, typed, typed, anything)


@st.composite
def paths(draw, target: Target, with_waits: bool = True, route: str | None = None) -> tuple[str, str]:
    """(route pattern or '' for an odd path, percent-encoded path with query).
    `route`: one of ROUTES, '' for odd paths, None for any."""
    if route is None:
        route = draw(st.sampled_from(list(ROUTES) + [""]))
    if not route:
        path = draw(st.one_of(st.sampled_from(ODD_PATHS), st.text(max_size=30).map(lambda t: "/" + t)))
        allowed = OTHER_PARAMETERS
    else:
        allowed = list(ROUTES[route][1]) + OTHER_PARAMETERS[:4]
        path = route
        if "{" in route:
            kind = "address" if route == "/state/{address}" else "id"
            path = route.split("{")[0] + draw(st.one_of(_value(target, kind, with_waits),
                                                         _anything(target, with_waits)))
    params = []
    for name in draw(st.lists(st.sampled_from(allowed), max_size=4)):
        if name == "wait" and not with_waits:
            continue
        params.append((name, draw(_value(target, name, with_waits))))
    query = urlencode(params)
    if params and draw(st.booleans()):
        query += "&" + params[0][0]  # a repeated, bare key (`?reverse`)
    return route, quote(path, safe="/%") + ("?" + query if query else "")


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _garbage_batches(draw) -> bytes:
    batches = []
    for _ in range(draw(st.integers(1, 4))):
        txns = [Transaction(header=draw(st.binary(max_size=60)), header_signature=draw(_hex(0, 130)).lower(),
                            payload=draw(st.binary(max_size=20))) for _ in range(draw(st.integers(0, 3)))]
        header = BatchHeader(signer_public_key=draw(_hex(0, 70)).lower(),
                             transaction_ids=[t.header_signature for t in txns]).SerializeToString()
        batches.append(Batch(header=draw(st.sampled_from([header, b"", b"\xff\x00"])),
                             header_signature=draw(_hex(0, 130)).lower(), transactions=txns))
    return BatchList(batches=batches).SerializeToString()


def _json_bodies(draw, target: Target) -> bytes:
    ids = target.batch_ids + target.txn_ids or ["0" * 128]
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return _nested(draw(st.sampled_from([5_000, 100_000])))  # json's limit: ~1000
    if kind == 1:
        return json.dumps(draw(st.lists(st.sampled_from(ids), min_size=1, max_size=20))).encode()
    if kind == 2:
        return draw(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                                     st.text(max_size=5), inner, max_size=4), max_leaves=20)
                    .map(lambda doc: json.dumps(doc).encode()))
    if kind == 3:
        return b'["' + "\u00e9".encode() * 64 + b'"]'
    return draw(st.binary(max_size=300))


def _batch_bodies(draw, target: Target) -> bytes:
    kind = draw(st.integers(0, 3))
    if kind == 0 and target.signed_batches is not None:
        return BatchList(batches=target.signed_batches(draw(st.integers(1, 3)))).SerializeToString()
    if kind in (0, 1):
        return _garbage_batches(draw)
    if kind == 2:
        return draw(st.binary(max_size=300))
    return b""


@st.composite
def bodies(draw, target: Target, route: str = "") -> bytes | None:
    """Mostly what the route takes (and wrong versions of it), sometimes anything."""
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return None
    if kind <= 3 and route == "/batches":
        return _batch_bodies(draw, target)
    if kind <= 3 and route in ("/batch_statuses", "/receipts"):
        return _json_bodies(draw, target)
    return draw(st.sampled_from([_json_bodies, _batch_bodies]))(draw, target)


@st.composite
def requests(draw, target: Target, with_waits: bool = True, route: str | None = None) -> FuzzRequest:
    """A request to `route` (one of ROUTES, '' for odd paths, None for any)."""
    route, path = draw(paths(target, with_waits, route))
    methods = ROUTES.get(route, ((), ()))[0]
    method = draw(st.sampled_from(methods)) if methods and draw(st.integers(0, 4)) else draw(st.sampled_from(METHODS))
    right = RIGHT_CONTENT_TYPE.get(route)
    content_type = right if right and draw(st.integers(0, 3)) else draw(st.sampled_from(CONTENT_TYPES))
    headers: dict[str, str] = {}
    latin1 = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xff, exclude_characters="\x7f"),
                     max_size=40)
    if draw(st.integers(0, 4)) == 0:
        headers[draw(st.sampled_from(["Forwarded", "X-Forwarded-Host", "X-Forwarded-Proto", "Host",
                                      "X-Forwarded-Path"]))] = draw(latin1)
    return FuzzRequest(method, path, draw(bodies(target, route)), content_type, headers)


def send(port: int, request: FuzzRequest, timeout: float = 30) -> tuple[int, bytes, http.client.HTTPResponse]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = dict(request.headers)
        if request.content_type is not None:
            headers["Content-Type"] = request.content_type
        conn.request(request.method, request.path, body=request.body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read(), response
    finally:
        conn.close()


def check(request: FuzzRequest, status: int, raw: bytes, response: http.client.HTTPResponse) -> None:
    """What every answer must be, whatever was asked."""
    where = f"{request.method} {request.path[:200]}"
    assert status < 500, f"{where}: {status} {raw[:300]!r}"
    assert b"Traceback" not in raw, where
    assert (response.getheader("Content-Type") or "").startswith("application/json"), where
    if request.method == "HEAD":
        assert raw == b"", where
        return
    doc = json.loads(raw)
    assert isinstance(doc, dict), where
    if status >= 400:
        assert list(doc) == ["error"], f"{where}: {doc}"
        assert isinstance(doc["error"]["code"], int) and doc["error"]["title"] and doc["error"]["message"], where
    else:
        assert "data" in doc or "link" in doc, f"{where}: {doc}"
