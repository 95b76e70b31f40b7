"""The gateway's HTTP server: a reverse proxy in front of Sawtooth's REST API
(a node's or devnet's) that applies the limits and feeds the detector.

    gateway = Gateway(GatewayConfig(upstream="http://127.0.0.1:8008"))
    gateway.start(); print(gateway.url)   # http://127.0.0.1:8009
    ...
    gateway.stop()

Per request, in this order: the client address's token bucket (429 with
Retry-After), the body cap (413, before the body is read), and for
`POST /batches`: decode the BatchList (400 if it is not one), refuse batches
for families the network does not run (400, and an `unknown-family` alert),
then one token from each batch signer key's bucket (429; a key held off
after an `invalid-batches` alert gets 429 until its penalty ends). What
passes is forwarded on a pool of keep-alive connections, and the answer is
relayed unchanged. Batches the upstream accepted are handed to the
`OutcomeWatcher`, which learns their outcome off the forwarding path.

Its own routes: `GET /_gateway/alerts` (the detector's alerts, JSON,
newest last), `GET /_gateway/health` and `GET /metrics` (Prometheus text).

Built on the standard library's http.server and http.client, as devnet's
REST API and RestClient are: bench/README.md ("HTTP stacks") measured
aiohttp level with it, and "The gateway" measures what this hop costs.
"""
from __future__ import annotations

import http
import http.client
import ipaddress
import json
import logging
import math
import socket
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Sequence
from urllib.parse import urlsplit

from sawgrid.clients.gateway.batches import UndecodableBatches, decode_batch_list
from sawgrid.clients.gateway.ids import INVALID_BATCHES, Alert, Detector, Thresholds
from sawgrid.clients.gateway.limits import Buckets, Limits
from sawgrid.clients.gateway.metrics import CONTENT_TYPE, GatewayMetrics
from sawgrid.clients.gateway.outcomes import OutcomeWatcher
from sawgrid.devnet.rest_api.httpd import TrackingHTTPServer

__all__ = ["Gateway", "GatewayConfig", "default_families"]

LOGGER = logging.getLogger("sawgrid.gateway")

DEFAULT_BIND = ("127.0.0.1", 8009)
UPSTREAM_TIMEOUT = 330.0  # seconds; above Sawtooth's longest `wait=` (300 s)
POOL_IDLE = 64  # idle upstream connections kept
KEEPALIVE_IDLE = 75  # seconds an idle client connection is kept open (as devnet's REST API)
# Headers that belong to one connection, never forwarded (RFC 9110, 7.6.1).
HOP_BY_HOP = frozenset(("connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                        "trailer", "transfer-encoding", "upgrade", "proxy-connection", "content-length",
                        "expect"))  # a 100-continue is answered here (http.server), not passed on
# Set by the gateway itself; a client's own are dropped unless it is a trusted proxy.
FORWARDED = frozenset(("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-path", "forwarded"))
# The request headers the gateway itself reads.
WATCHED = frozenset(("content-length", "transfer-encoding", "x-forwarded-for", "x-forwarded-proto"))
_REASONS = {status.value: status.phrase for status in http.HTTPStatus}
ALERTS_PATH = "/_gateway/alerts"
HEALTH_PATH = "/_gateway/health"
METRICS_PATH = "/metrics"


def default_families() -> tuple[str, ...]:
    """The Sawtooth family names of every family in processors/registry.py,
    plus Sawtooth's settings family, which every network runs."""
    from sawgrid.processors import registry

    return tuple(dict.fromkeys([spec.family.name for spec in registry.FAMILIES] + ["sawtooth_settings"]))


@dataclass
class GatewayConfig:
    """How to run the gateway; `upstream` is the REST API's base URL,
    `trusted_proxies` the proxies (e.g. nginx) whose X-Forwarded-* headers are
    believed: addresses, networks (10.0.0.0/8) or host names (see `TrustedProxies`)."""

    upstream: str
    bind: tuple[str, int] = DEFAULT_BIND
    limits: Limits = field(default_factory=Limits)
    families: Sequence[str] = field(default_factory=default_families)
    ca_cert: str | None = None  # for an https upstream
    tls: ssl.SSLContext | None = None  # serve HTTPS
    trusted_proxies: Sequence[str] = ()


class TrustedProxies:
    """Which peers are proxies whose X-Forwarded-For names the client.

    Entries are addresses or networks (`ipaddress`), or host names, which are
    resolved again every `RESOLVE_EVERY` seconds in a thread of their own: in
    compose the proxy starts after the gateway (nginx needs the gateway's name
    to resolve), and may come back with another address."""

    RESOLVE_EVERY = 30.0  # seconds

    def __init__(self, entries: Sequence[str]) -> None:
        self.networks = []
        self.names = []
        for entry in entries:
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.names.append(entry)
        self._resolved: frozenset[str] = frozenset()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __bool__(self) -> bool:
        return bool(self.networks or self.names)

    def __contains__(self, peer: str) -> bool:
        if peer in self._resolved:
            return True
        if not self.networks:
            return False
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def resolve(self) -> None:
        found = set()
        for name in self.names:
            try:
                found.update(info[4][0] for info in socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP))
            except OSError as err:
                LOGGER.debug("gateway: trusted proxy %s does not resolve (yet): %s", name, err)
        self._resolved = frozenset(found)

    def start(self) -> None:
        if not self.names:
            return
        self.resolve()

        def loop() -> None:
            while not self._stop.wait(self.RESOLVE_EVERY):
                self.resolve()

        self._thread = threading.Thread(target=loop, name="gateway-trusted-proxies", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


class _Refused(Exception):
    def __init__(self, status: int, title: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.title, self.retry_after = status, title, retry_after


class _Upstream:
    """A pool of keep-alive connections to the upstream."""

    def __init__(self, url: str, ca_cert: str | None) -> None:
        parts = urlsplit(url if "://" in url else "http://" + url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--upstream: not an http(s) URL: {url!r}")
        self.prefix = parts.path.rstrip("/")
        self.netloc = parts.netloc
        self.tls = None
        if parts.scheme == "https":
            from sawgrid.clients.sdk.tls import client_context

            self.tls = client_context(ca_cert)
        self._idle: deque[http.client.HTTPConnection] = deque()
        self._lock = threading.Lock()

    def _new(self) -> http.client.HTTPConnection:
        if self.tls is not None:
            return http.client.HTTPSConnection(self.netloc, timeout=UPSTREAM_TIMEOUT, context=self.tls)
        return http.client.HTTPConnection(self.netloc, timeout=UPSTREAM_TIMEOUT)

    def request(self, method: str, target: str, body: bytes | None, headers: dict[str, str]
                ) -> tuple[int, list[tuple[str, str]], bytes]:
        """(status, headers, body) of the upstream's answer. A reused
        connection the upstream closed is retried once on a fresh one: every
        Sawtooth REST request is safe to repeat (see clients/sdk/rest.py)."""
        for attempt in range(2):
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            reused = conn is not None
            conn = conn or self._new()
            try:
                conn.request(method, self.prefix + target, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                if reused and attempt == 0:
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            if response.will_close:
                conn.close()
            else:
                with self._lock:
                    if len(self._idle) < POOL_IDLE:
                        self._idle.append(conn)
                        conn = None
                if conn is not None:
                    conn.close()
            return response.status, response.getheaders(), data
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            idle, self._idle = list(self._idle), deque()
        for conn in idle:
            conn.close()


class _Server(TrackingHTTPServer):
    """devnet's tracked, TLS-capable threading server, serving the gateway."""

    def __init__(self, address: tuple[str, int], gateway: Gateway) -> None:
        self.gateway = gateway
        super().__init__(address, _Handler, gateway.config.tls, "gateway")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sawgrid-gateway"
    disable_nagle_algorithm = True  # see devnet/rest_api/httpd.py
    timeout = KEEPALIVE_IDLE
    server: _Server

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def handle_expect_100(self) -> bool:
        """A body over the cap is refused before the client sends it."""
        length = self.headers.get("Content-Length") or ""
        if length.isdigit() and int(length) > self.server.gateway.config.limits.body:
            self.close_connection = True
            self.server.gateway.metrics.requests.labels("too_large").inc()
            self._error(_Refused(413, "Payload Too Large", f"Maximum request body size "
                                 f"{self.server.gateway.config.limits.body} exceeded, actual body size {length}."))
            return False
        return super().handle_expect_100()

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_HEAD = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _handle(self) -> None:
        gw = self.server.gateway
        # one pass over the headers (each `self.headers.get` is a scan of its own)
        peer = self.client_address[0]
        trusted = peer in gw.trusted
        seen: dict[str, str] = {}
        forward: dict[str, str] = {}
        for name, value in self.headers.items():
            lower = name.lower()
            if lower in WATCHED:
                seen[lower] = value
            if lower not in HOP_BY_HOP and (trusted or lower not in FORWARDED):
                forward[name] = value
        client = gw.client_of(peer, seen.get("x-forwarded-for")) if trusted else peer
        try:
            self._serve(gw, client, seen, forward, trusted)
        except _Refused as refusal:
            self._error(refusal)

    def _serve(self, gw: Gateway, client: str, seen: dict[str, str], headers: dict[str, str], trusted: bool) -> None:
        wait = gw.client_buckets.take(client)
        if wait:
            # a body left unread would be taken for the next request
            self.close_connection = seen.get("content-length") not in (None, "0") or "transfer-encoding" in seen
            raise gw.too_many("client", f"too many requests from {client}; retry in {math.ceil(wait)} s", wait)
        path = self.path.split("?", 1)[0]
        if path in (ALERTS_PATH, HEALTH_PATH, METRICS_PATH) and self.command in ("GET", "HEAD"):
            gw.metrics.requests.labels("own").inc()
            return self._own(gw, path)
        body = self._read_body(gw, seen)
        batches = []
        if self.command == "POST" and path == "/batches":
            batches = gw.admit_batches(client, body)
        peer = self.client_address[0]
        forwarded = seen.get("x-forwarded-for") if trusted else None
        headers["X-Forwarded-For"] = f"{forwarded}, {peer}" if forwarded else client
        if not trusted or not seen.get("x-forwarded-proto"):
            headers["X-Forwarded-Proto"] = gw.scheme
        started = time.perf_counter()
        try:
            status, answer_headers, data = gw.upstream.request(
                self.command, self.path, body if body or self.command in ("POST", "PUT", "PATCH") else None,
                headers)
        except (OSError, http.client.HTTPException) as err:
            gw.metrics.requests.labels("upstream_error").inc()
            raise _Refused(502, "Bad Gateway", f"the REST API behind the gateway did not answer: "
                           f"{type(err).__name__}") from None
        gw.metrics.upstream_seconds.observe(time.perf_counter() - started)
        gw.forwarded.inc()
        self._send(status, [(k, v) for k, v in answer_headers if k.lower() not in HOP_BY_HOP], data)
        if status == 202 and batches:
            gw.watch(batches, client)

    def _read_body(self, gw: Gateway, seen: dict[str, str]) -> bytes:
        limit = gw.config.limits.body
        if "chunked" in seen.get("transfer-encoding", "").lower():
            return self._read_chunked(gw, limit)
        length = seen.get("content-length")
        if length is None:
            return b""
        try:
            size = int(length)
            if size < 0:
                raise ValueError(length)
        except ValueError:
            self.close_connection = True
            raise _Refused(400, "Bad Request", f"Invalid Content-Length: {length[:40]!r}.") from None
        if size > limit:
            self.close_connection = True  # the body stays unread
            gw.metrics.requests.labels("too_large").inc()
            raise _Refused(413, "Payload Too Large", f"Maximum request body size {limit} exceeded, "
                           f"actual body size {size}.")
        return self.rfile.read(size)

    def _read_chunked(self, gw: Gateway, limit: int) -> bytes:
        chunks, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
                if size < 0:
                    raise ValueError(line)
            except ValueError:
                self.close_connection = True
                raise _Refused(400, "Bad Request", "Malformed chunked request body.") from None
            if size == 0:
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > limit:
                self.close_connection = True
                gw.metrics.requests.labels("too_large").inc()
                raise _Refused(413, "Payload Too Large", f"Maximum request body size {limit} exceeded.")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(8)

    def _own(self, gw: Gateway, path: str) -> None:
        if path == METRICS_PATH:
            self._send(200, [("Content-Type", CONTENT_TYPE)], gw.metrics.render())
        elif path == ALERTS_PATH:
            self._json(200, {"alerts": gw.detector.alerts()})
        else:
            self._json(200, {"upstream": gw.config.upstream, "watched_batches": gw.watcher.awaited})

    def _error(self, refusal: _Refused) -> None:
        headers = []
        if refusal.retry_after is not None:
            headers.append(("Retry-After", str(max(1, math.ceil(refusal.retry_after)))))
        self._json(refusal.status, {"error": {"code": refusal.status, "title": refusal.title,
                                              "message": str(refusal)}}, headers)

    def _json(self, status: int, doc: Any, headers: list[tuple[str, str]] = ()) -> None:
        self._send(status, [("Content-Type", "application/json; charset=utf-8"), *headers],
                   json.dumps(doc).encode())

    def _send(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
        """Status line, headers and body in one write (http.server's
        send_response/send_header path costs more than the rest of a relay)."""
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, '')}"]
        lines += [f"{name}: {value}" for name, value in headers]
        lines.append(f"Content-Length: {len(data)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        try:
            self.wfile.write(head if self.command == "HEAD" else head + data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        if LOGGER.isEnabledFor(logging.DEBUG):
            LOGGER.debug("%s %s %s %d", self.address_string(), self.command, self.path[:200], status)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (malformed request line, ...), as JSON."""
        self.close_connection = True
        self._error(_Refused(code, message or "Error", explain or message or "bad request"))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        if LOGGER.isEnabledFor(logging.DEBUG):
            LOGGER.debug("%s %s", self.address_string(), format % args)


class Gateway:
    """The limits, the detector, the watcher and the server; see the module docstring."""

    def __init__(self, config: GatewayConfig, detector: Detector | None = None) -> None:
        self.config = config
        limits = config.limits
        self.upstream = _Upstream(config.upstream, config.ca_cert)
        self.metrics = GatewayMetrics()
        self.client_buckets = Buckets(limits.client_rate, limits.client_burst)
        self.key_buckets = Buckets(limits.key_rate, limits.key_burst)
        self.families = frozenset(config.families)
        self.detector = detector or Detector(Thresholds(
            invalid_key=limits.invalid_key, invalid_client=limits.invalid_client,
            invalid_window=limits.invalid_window, sign_ins=limits.sign_ins, sign_in_window=limits.sign_in_window))
        self.detector.on_alert(self._on_alert)
        self.watcher = OutcomeWatcher(
            config.upstream, self.detector.invalid_batch, ca_cert=config.ca_cert,
            count=lambda outcome: self.metrics.batches.labels(outcome).inc(), gauge=self.metrics.watched.set)
        self.trusted = TrustedProxies(config.trusted_proxies)
        self.scheme = "https" if config.tls is not None else "http"
        self.forwarded = self.metrics.requests.labels("forwarded")
        self._server: _Server | None = None
        self.host, self.port = config.bind

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.config.tls is not None else 'http'}://{host}:{self.port}"

    # -- decisions --------------------------------------------------------------------
    @staticmethod
    def client_of(proxy: str, forwarded_for: str | None) -> str:
        """The client a trusted proxy speaks for: the last address of its
        X-Forwarded-For (what that proxy saw), else the proxy itself."""
        forwarded = (forwarded_for or "").split(",")[-1].strip()
        return forwarded[:64] if forwarded else proxy

    def too_many(self, scope: str, message: str, wait: float) -> _Refused:
        self.metrics.rate_limited.labels(scope).inc()
        self.metrics.requests.labels("rate_limited").inc()
        return _Refused(429, "Too Many Requests", message, wait)

    def admit_batches(self, client: str, body: bytes) -> list:
        """The batches of a `POST /batches` body, if they may go upstream;
        else raises _Refused (400 or 429)."""
        try:
            batches = decode_batch_list(body)
        except UndecodableBatches as err:
            self.metrics.requests.labels("refused").inc()
            raise _Refused(400, "Bad Request", f"Submitted batches invalid: {err}.") from None
        for batch in batches:
            unknown = [f for f in batch.families if f not in self.families]
            if unknown:
                self.detector.unknown_family(client, batch.signer, unknown[0])
                self.metrics.requests.labels("refused").inc()
                raise _Refused(400, "Bad Request", f"batch {batch.id[:16]}: family {unknown[0][:64]!r} is not "
                               f"run by this network (it runs {', '.join(sorted(self.families))})")
        keys = list(dict.fromkeys(batch.signer for batch in batches))
        wait = self.key_buckets.take_all(keys)
        if wait:
            held = [k for k in keys if self.key_buckets.held_off(k)]
            if held:
                raise self.too_many("penalty", f"key {held[0][:16]}... is held off after a burst of INVALID "
                                    f"batches; retry in {math.ceil(wait)} s", wait)
            raise self.too_many("key", f"too many batches from one key; retry in {math.ceil(wait)} s", wait)
        self.metrics.batches.labels("forwarded").inc(len(batches))
        return batches

    def watch(self, batches: list, client: str) -> None:
        for batch in batches:
            self.watcher.watch(batch.id, client, batch.signer)

    def _on_alert(self, alert: Alert) -> None:
        self.metrics.alerts.labels(alert.kind).inc()
        if alert.kind == INVALID_BATCHES:
            penalty = self.config.limits.penalty
            if alert.subject == "key" and alert.key:
                self.key_buckets.penalize(alert.key, penalty)
            else:
                self.client_buckets.penalize(alert.client, penalty)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Bind (port 0: any free port) and serve in background threads."""
        if self._server is not None:
            raise RuntimeError("the gateway is already running")
        self._server = _Server(self.config.bind, self)
        self.port = self._server.server_address[1]
        self.watcher.start()
        self.trusted.start()
        self._server.serve_in_thread(f"gateway:{self.port}")
        LOGGER.info("gateway listening on %s, in front of %s", self.url, self.config.upstream)

    def stop(self) -> None:
        """Stop serving, the watcher and every connection. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.stop()
        self.watcher.stop()
        self.trusted.stop()
        self.upstream.close()

    def __enter__(self) -> Gateway:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
