"""One parsed HTTP request (with Sawtooth's link building) and one response,
free of any HTTP server framework: the routes take a `Request` and give a
`Response`, and `httpd` moves them over the wire."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit


@dataclass
class Response:
    """What a route answers: HTTP status, JSON body, extra headers."""

    status: int
    body: dict
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        """The body as JSON bytes."""
        # Sawtooth's keys and values, sorted like Sawtooth's; but compact, not
        # indent=2: with an indent Python's JSON encoder falls back to pure
        # Python, which cost devnet ~10 % of its CPU under load.
        return json.dumps(self.body, sort_keys=True).encode()


# --------------------------------------------------------------------------
# Requests and Sawtooth's links
# --------------------------------------------------------------------------
@dataclass
class Request:
    """One HTTP request, parsed once."""

    method: str
    path: str  # percent-decoded
    query: dict[str, str]  # first value of each parameter, in request order
    headers: Any  # email.message.Message (case-insensitive .get)
    body: bytes
    host: str  # the Host the client used
    scheme: str = "http"  # how the client reached us: "https" on a TLS connection

    @classmethod
    def parse(cls, method: str, target: str, headers: Any, body: bytes, host: str,
              scheme: str = "http") -> Request:
        """From the request target (path?query), headers (anything with a
        case-insensitive `.get`), body, the server's own host:port and the
        connection's scheme."""
        parts = urlsplit(target)
        query: dict[str, str] = {}
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            query.setdefault(key, value)
        return cls(method, unquote(parts.path), query, headers, body, headers.get("Host") or host, scheme)

    def media_type(self) -> str:
        """The Content-Type without parameters, lowercased."""
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
        scheme = _forwarded(self.headers, "proto") or self.scheme
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


