"""`sawgrid dashboard` (the members' web client) and `sawgrid login` (a
one-time sign-in link, signed on this machine with the member's key)."""
from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import signal
import socket
import ssl
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from sawgrid.clients.cli.support import command, host_port, key_name
from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.sdk.tls import CA_ENV

DEFAULT_BIND = "127.0.0.1:8080"
DEFAULT_DB = "sqlite:///sawgrid-mirror.db"
LOGIN_TIMEOUT = 10.0
LOG = logging.getLogger("sawgrid.dashboard")


def add_parsers(subparsers) -> None:
    p = command(
        subparsers, "dashboard", _dashboard, "the members' web client, read from the SQL mirror",
        "Serve the web dashboard: the market (public: traded energy, daily PAR with and without "
        "penalties, grid and P2P prices, an hour's order book, archive days and their verification), "
        "a member's own account (signed in by key: trades, statement by day and month with charts "
        "and CSV, recommended vs bought energy, Q-score and settlement outcomes) and the operator's "
        "page (pending participants, declined contracts, alerts; an operator key on chain). It reads "
        "the mirror written by `sawgrid sync` (--db) and, for live data and roles, the REST API "
        "(--url). Members sign in with `sawgrid login`. Plain HTTP only on a loopback address; "
        "anywhere else give --tls-cert/--tls-key, or --behind-proxy for a TLS-terminating proxy. "
        "Stops on SIGINT/SIGTERM.",
        "sawgrid dashboard --db sqlite:///mirror.sqlite --url http://127.0.0.1:8008 --bind 127.0.0.1:8080\n"
        "  sawgrid dashboard --db postgresql://sawgrid:secret@db/sawgrid --bind 0.0.0.0:8443 "
        "--tls-cert tls/cert.pem --tls-key tls/key.pem --gateway http://127.0.0.1:8009",
    )
    p.add_argument("--db", default=DEFAULT_DB, metavar="URL",
                   help="the mirror: sqlite:///FILE or postgresql://USER:PASSWORD@HOST:PORT/NAME "
                   "(default: %(default)s)")
    p.add_argument("--bind", type=host_port, default=host_port(DEFAULT_BIND), metavar="HOST:PORT",
                   help=f"where to listen (default: {DEFAULT_BIND}; port 0 picks a free one)")
    p.add_argument("--tls-cert", type=Path, metavar="FILE", help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--tls-key", type=Path, metavar="FILE", help="the certificate's private key (PEM)")
    p.add_argument("--gateway", metavar="URL", help="the gateway whose /_gateway/alerts the operator page shows")
    p.add_argument("--session-minutes", type=_minutes, default=30, metavar="MINUTES",
                   help="how long a sign-in lasts (default: %(default)s)")
    p.add_argument("--behind-proxy", action="store_true",
                   help="trust one reverse proxy's X-Forwarded-For/-Proto (it terminates TLS: cookies are Secure)")

    p = command(
        subparsers, "login", _login, "a one-time sign-in link for the dashboard, signed with your key",
        "Fetch a one-time challenge from the dashboard, sign it here with your Sawtooth key (the "
        "private key never leaves this machine) and print a sign-in link, or open it in the "
        "browser with --open. The link works once and expires with the challenge (2 minutes). "
        f"An HTTPS dashboard's certificate is verified against --ca-cert, else ${CA_ENV}, else "
        "the system's CAs (a development certificate is its own CA: pass its cert.pem).",
        "sawgrid login --dashboard http://127.0.0.1:8080 --key alice --open",
        uses_key=True,
    )
    p.add_argument("--dashboard", required=True, metavar="URL", help="the dashboard, e.g. http://127.0.0.1:8080")
    p.add_argument("--open", action="store_true", help="open the link in the default browser")


def _minutes(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 24 * 60:
        raise argparse.ArgumentTypeError(f"expected whole minutes 1..1440, got {text!r}")
    return int(text)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(text: str, option: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SawgridError(f"{option}: expected http://HOST:PORT or https://HOST:PORT, got {text!r}")
    return text.rstrip("/")


def _server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    from sawgrid.clients.sdk.tls import TlsError, server_context

    try:
        return server_context(cert, key)
    except TlsError as err:
        raise SawgridError(f"--tls-cert/--tls-key: {err}") from None


def _dashboard(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import DBAPIError
    from werkzeug.serving import make_server

    from sawgrid.clients.cli.sync import _checked_db
    from sawgrid.clients.dashboard.app import create_app
    from sawgrid.clients.dashboard.config import DashboardConfig
    from sawgrid.clients.sync.database import make_engine, schema_revision

    host, port = args.bind
    if (args.tls_cert is None) != (args.tls_key is None):
        raise SawgridError("--tls-cert and --tls-key go together")
    tls = _server_tls(args.tls_cert, args.tls_key) if args.tls_cert else None
    if tls is None and not args.behind_proxy and not _is_loopback(host):
        raise SawgridError(f"--bind {host}: plain HTTP is for loopback addresses only; give --tls-cert and "
                           f"--tls-key, or --behind-proxy behind a TLS-terminating proxy")
    rest_url = _check_url(args.url, "--url")
    gateway = _check_url(args.gateway, "--gateway") if args.gateway else None
    db_url = _checked_db(args.db, exists=True)
    engine = make_engine(db_url)
    try:
        if schema_revision(engine) is None:
            raise SawgridError(f"--db: {args.db} is not a Sawgrid mirror (run `sawgrid sync --db ...` first)")
    except DBAPIError as err:
        raise SawgridError(f"--db: cannot read the mirror: {str(err.orig).strip().splitlines()[0]}") from None
    config = DashboardConfig(db_url=db_url, rest_url=rest_url, gateway_url=gateway,
                             tls=tls is not None or args.behind_proxy, session_minutes=args.session_minutes,
                             behind_proxy=args.behind_proxy)
    app = create_app(config, engine=engine)
    try:  # our own socket: werkzeug would print its own message and exit on a busy port
        listener = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as err:
        raise SawgridError(f"cannot listen on {host}:{port}: {err.strerror}") from None
    server = make_server(host, listener.getsockname()[1], app, threaded=True, ssl_context=tls, fd=listener.fileno())
    logging.getLogger("werkzeug").setLevel(logging.WARNING)   # no line per request
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, name="dashboard", daemon=True)
    thread.start()
    scheme = "https" if tls else "http"
    LOG.info("dashboard on %s://%s:%d (mirror %s, REST %s)", scheme, host, listener.getsockname()[1],
             engine.url.render_as_string(hide_password=True), rest_url)
    try:
        stop.wait()
    finally:
        server.shutdown()
        thread.join(timeout=5)
        listener.close()
        engine.dispose()
    LOG.info("dashboard stopped")
    return 0


def _client_tls(ca_cert: str | None) -> ssl.SSLContext:
    """Verifying, always (clients/sdk/tls.py): against `ca_cert` (the global
    --ca-cert), else ${CA_ENV}, else the system's CAs."""
    from sawgrid.clients.sdk.tls import TlsError, client_context

    try:
        return client_context(ca_cert)
    except TlsError as err:
        raise SawgridError(str(err)) from None


def _login(args: argparse.Namespace) -> int:
    from sawgrid.clients.cli.support import Session
    from sawgrid.clients.dashboard.signin import is_challenge, sign

    base = _check_url(args.dashboard, "--dashboard")
    session = Session(args)
    signer = session.signer          # load the key before asking the server for anything
    context = _client_tls(getattr(args, "ca_cert", None)) if base.startswith("https://") else None
    try:
        with urllib.request.urlopen(base + "/login/challenge", timeout=LOGIN_TIMEOUT, context=context) as answer:
            doc = json.loads(answer.read(10_000))
    except urllib.error.HTTPError as err:
        raise SawgridError(f"the dashboard at {base} answered {err.code} {err.reason}") from None
    except ssl.SSLError as err:
        raise SawgridError(f"TLS with {base} failed ({err.reason}); for a development certificate pass "
                           f"--ca-cert FILE (or set ${CA_ENV})") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        if isinstance(reason, ssl.SSLError):
            raise SawgridError(f"TLS with {base} failed ({reason.reason}); for a development certificate "
                               f"pass --ca-cert FILE (or set ${CA_ENV})") from None
        raise SawgridError(f"cannot reach the dashboard at {base}: {reason}") from None
    except ValueError:
        raise SawgridError(f"{base} is not a Sawgrid dashboard (no challenge in its answer)") from None
    challenge = doc.get("challenge") if isinstance(doc, dict) else None
    if not isinstance(challenge, str) or not is_challenge(challenge):
        raise SawgridError(f"{base} sent something that is not a sign-in challenge; nothing was signed")
    public_key = signer.get_public_key().as_hex()
    link = base + "/login/link?" + urlencode({"challenge": challenge, "public_key": public_key,
                                              "signature": sign(signer, challenge)})
    expires = int(doc.get("expires_in", 0)) if isinstance(doc.get("expires_in"), int) else None
    if args.open:
        import webbrowser

        if not webbrowser.open(link):
            raise SawgridError("no browser to open; copy the link instead (run without --open)")
    return session.emit({"link": link, "public_key": public_key, "key": key_name(args), "expires_in": expires},
                        f"sign-in link for {public_key[:10]}… (works once, within {expires} s):\n{link}")
