"""The http.server adapter: a threading HTTP/1.1 server with keep-alive that
parses each request into a `Request`, hands it to `routes.dispatch` and
writes the `Response`; and `RestApi`, which starts and stops it."""
from __future__ import annotations

import logging
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sawgrid.devnet.faults import Faults, RequestFaults
from sawgrid.devnet.ledger_api import LedgerReader
from sawgrid.devnet.rest_api.errors import ApiError, http_error
from sawgrid.devnet.rest_api.messages import Request, Response
from sawgrid.devnet.rest_api.routes import DEFAULT_TIMEOUT, MAX_BATCHES_PER_REQUEST, Routes, dispatch

LOGGER = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 10 * 1024 * 1024  # bytes; sawtooth-rest-api --client-max-size default
KEEPALIVE_IDLE = 75  # seconds an idle keep-alive connection is kept open
# How often the accept loop checks for stop(): stop() waits up to this long.
SHUTDOWN_POLL = 0.05  # seconds
# Connections the kernel holds for the accept loop (listen(2)'s backlog;
# http.server's default is 5). A burst of more new connections than that had
# the rest wait for SYN retries (1 s, then 3 s). 128 was Linux's SOMAXCONN
# until 5.4 and is aiohttp's default (Sawtooth's REST API is aiohttp).
LISTEN_BACKLOG = 128


class _BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class TrackingHTTPServer(ThreadingHTTPServer):
    """A threading HTTP/1.1 server that can stop promptly: it tracks its open
    connections (so `close_connections` wakes handler threads parked on idle
    keep-alive sockets), wraps accepted sockets in TLS when given a context
    (the handshake runs in the connection's own thread, never in the accept
    loop) and logs a failed connection in one line. devnet's REST API and the
    gateway (clients/gateway/proxy.py) both serve through it."""

    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True
    block_on_close = False  # stop() must not wait for a long `wait=` request
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 tls: ssl.SSLContext | None, name: str) -> None:
        self.tls = tls
        self.log_name = name
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self._serving: threading.Thread | None = None
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def get_request(self):  # type: ignore[override]
        conn, client_address = super().get_request()
        if self.tls is not None:
            conn = self.tls.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        return conn, client_address

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
        if isinstance(error, (ConnectionError, TimeoutError, ssl.SSLError)):
            LOGGER.debug("%s: connection from %s: %s", self.log_name, client_address, error)
        else:
            LOGGER.exception("%s: connection from %s failed", self.log_name, client_address)

    def close_connections(self) -> None:
        """Wake up handler threads parked on idle keep-alive connections."""
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def serve_in_thread(self, name: str) -> None:
        """Serve from a daemon thread named `name` until `stop()`."""
        self._serving = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL},
                                         name=name, daemon=True)
        self._serving.start()

    def stop(self) -> None:
        """Stop serving, close every open connection and the socket."""
        self.shutdown()
        self.close_connections()
        self.server_close()
        if self._serving is not None:
            self._serving.join(timeout=5)


class _HttpServer(TrackingHTTPServer):
    def __init__(self, address: tuple[str, int], api: RestApi) -> None:
        self.api = api
        super().__init__(address, _HttpHandler, api.tls, "REST API")


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

    def setup(self) -> None:
        super().setup()  # sets the socket's timeout: a stalled handshake times out too
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

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
        scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
        req = Request.parse(self.command, self.path, self.headers, body, f"{host}:{port}", scheme)
        response = dispatch(api.routes, req)
        if api.faults is not None and api.faults.drop(req.path):
            LOGGER.warning("fault injection: %s %s closed without an answer", req.method, req.path)
            self.close_connection = True  # the request took effect; the client hears nothing
            return
        self._send(response)

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
                if size < 0:  # read(-n) would read to the end of the connection, past any limit
                    raise ValueError(line)
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
    `max_body` is the largest accepted request body (--client-max-size);
    `max_batches_per_request` bounds the batches of one `POST /batches`
    (devnet's own limit, see routes.MAX_BATCHES_PER_REQUEST);
    `faults` injects 429s and dropped connections, for tests only
    (devnet/faults.py); `tls`, a server `ssl.SSLContext`
    (clients/sdk/tls.py `server_context`), serves HTTPS instead of HTTP.
    """

    def __init__(
        self,
        ledger: LedgerReader,
        host: str,
        port: int,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_body: int = DEFAULT_MAX_BODY,
        max_batches_per_request: int = MAX_BATCHES_PER_REQUEST,
        faults: Faults | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.ledger = ledger
        self.tls = tls
        self.host = host
        self.port = port
        self.max_body = max_body
        self.faults = RequestFaults(faults) if faults is not None and (faults.burst429 or faults.drop) else None
        self.routes = Routes(ledger, timeout, self.faults, max_batches_per_request=max_batches_per_request)
        self._server: _HttpServer | None = None

    @property
    def url(self) -> str:
        """http(s)://host:port, with the real port once started."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls is not None else 'http'}://{host}:{self.port}"

    def start(self) -> None:
        """Bind (port 0 picks a free port) and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the REST API is already running")
        self._server = _HttpServer((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._server.serve_in_thread(f"rest-api:{self.port}")
        LOGGER.info("REST API listening on %s", self.url)

    def stop(self) -> None:
        """Stop serving and close every open connection. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.stop()

    def __enter__(self) -> RestApi:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
