"""Sawtooth 1.x's REST API, served by devnet from a `LedgerReader`.

Clients written for a real Sawtooth node (its CLI, SDK examples, our own
`sawgrid.clients.sdk.rest`) talk to devnet unchanged: paths, query parameters,
status codes, error codes and JSON shapes follow sawtooth-core's `rest_api`
(route_handlers.py, exceptions.py, openapi.yaml; branch 1-2) together with the
validator-side handlers it relies on (validator/.../state/client_handlers.py:
paging, sorting, id checks).

Modules, each depending only on those above it:
  * `messages`: `Request` (one parsed HTTP request, with Sawtooth's link
    building) and `Response`;
  * `errors`: Sawtooth's error table (`ErrorKind` constants) and `ApiError`,
    rendered in one place (`ApiError.response`);
  * `query`: query parameters (ids, head, reverse, paging) and Sawtooth's
    paged envelope;
  * `render`: JSON of blocks, batches, transactions, receipts and statuses;
  * `routes`: `Routes`, one small method per route, `ROUTE_TABLE`, and
    `dispatch(routes, request) -> Response`, free of any HTTP framework;
  * `httpd`: the http.server plumbing (`ThreadingHTTPServer`, HTTP/1.1
    keep-alive) and the public `RestApi`.

Where Sawtooth itself would crash with an unhandled exception (a plain-text
aiohttp 500) this package answers a proper error instead; those few places are
marked "Sawtooth:" in `routes`.
"""
from sawgrid.devnet.rest_api.errors import ApiError, ErrorKind
from sawgrid.devnet.rest_api.httpd import DEFAULT_MAX_BODY, KEEPALIVE_IDLE, LISTEN_BACKLOG, RestApi
from sawgrid.devnet.rest_api.messages import Request, Response
from sawgrid.devnet.rest_api.routes import DEFAULT_TIMEOUT, MAX_BATCHES_PER_REQUEST, ROUTE_TABLE, Routes, dispatch

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_TIMEOUT",
    "KEEPALIVE_IDLE",
    "LISTEN_BACKLOG",
    "MAX_BATCHES_PER_REQUEST",
    "ROUTE_TABLE",
    "ApiError",
    "ErrorKind",
    "Request",
    "Response",
    "RestApi",
    "Routes",
    "dispatch",
]
