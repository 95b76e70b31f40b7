"""`sawgrid gateway`: rate limits and a basic IDS in front of Sawtooth's REST API."""
from __future__ import annotations

import argparse
import errno
import signal
import sys
import time
from pathlib import Path

from sawgrid.clients.cli.support import command, host_port
from sawgrid.clients.sdk.errors import SawgridError

STOP_POLL = 0.2  # seconds between checks for a stop signal
SWITCH_INTERVAL = 0.0005  # seconds; see run_gateway


def add_parser(subparsers) -> None:
    from sawgrid.clients.gateway.limits import Limits

    d = Limits()
    parser = command(
        subparsers, "gateway", run_gateway,
        "run the gateway (rate limits, body cap, IDS alerts) in front of a REST API",
        "Serve a reverse proxy in front of Sawtooth's REST API for members and meters: token-bucket "
        "limits per client address and per batch signer key (429 with Retry-After), a request body cap "
        "(413), batches for families the network does not run refused (400), and an IDS that raises "
        "structured JSON alerts (logged, at GET /_gateway/alerts) for bursts of INVALID batches from one "
        "key or address (that key or address then gets 429 for the penalty time) and for unknown "
        "families. Prometheus metrics at GET /metrics. Stop with Ctrl-C or SIGTERM.",
        "sawgrid gateway --upstream http://127.0.0.1:8008 --bind 127.0.0.1:8009 "
        "--limits client=100/200,key=20,body=262144\n"
        "  sawgrid --url http://127.0.0.1:8009 participant list      # clients use the gateway's address",
    )
    parser.add_argument("--upstream", required=True, metavar="URL", help="the REST API to forward to")
    parser.add_argument("--bind", type=host_port, default=("127.0.0.1", 8009), metavar="HOST:PORT",
                        help="where to listen (default: 127.0.0.1:8009)")
    parser.add_argument("--limits", default="", metavar="SPEC",
                        help=f"comma-separated NAME=VALUE: client=RATE[/BURST] requests/s per address "
                        f"(default {d.client_rate:g}/{d.client_burst:g}), key=RATE[/BURST] POST /batches/s per "
                        f"signer key ({d.key_rate:g}/{d.key_burst:g}), body=BYTES ({d.body}), "
                        f"invalid-key=N ({d.invalid_key}) and invalid-client=N ({d.invalid_client}) INVALID "
                        f"batches within invalid-window=S ({d.invalid_window:g}) that raise an alert, "
                        f"penalty=S ({d.penalty:g}) seconds of 429 after it, sign-ins=N ({d.sign_ins}) "
                        f"within sign-in-window=S ({d.sign_in_window:g})")
    parser.add_argument("--families", metavar="NAMES",
                        help="comma-separated Sawtooth family names the network runs (default: every family "
                        "in Sawgrid's registry, plus sawtooth_settings)")
    parser.add_argument("--trust-proxy", action="append", default=[], metavar="ADDRESS",
                        help="a proxy (e.g. nginx) whose X-Forwarded-For names the client; repeatable")
    parser.add_argument("--tls-cert", type=Path, metavar="FILE", help="serve HTTPS with this PEM certificate")
    parser.add_argument("--tls-key", type=Path, metavar="FILE", help="the private key of --tls-cert")


def run_gateway(args: argparse.Namespace) -> int:
    from sawgrid.clients.gateway.limits import Limits
    from sawgrid.clients.gateway.proxy import Gateway, GatewayConfig, default_families
    from sawgrid.clients.sdk.tls import CA_ENV, TlsError, server_context

    try:
        limits = Limits.parse(args.limits)
    except ValueError as err:
        raise SawgridError(str(err)) from None
    families = default_families()
    if args.families is not None:
        families = tuple(f.strip() for f in args.families.split(",") if f.strip())
        if not families:
            raise SawgridError("--families: name at least one family")
    if (args.tls_cert is None) != (args.tls_key is None):
        raise SawgridError("--tls-cert and --tls-key go together: give both, or neither for plain HTTP")
    import os

    try:
        tls = server_context(args.tls_cert, args.tls_key) if args.tls_cert else None
        gateway = Gateway(GatewayConfig(upstream=args.upstream, bind=args.bind, limits=limits, families=families,
                                        ca_cert=os.environ.get(CA_ENV), tls=tls,
                                        trusted_proxies=tuple(args.trust_proxy)))
    except (TlsError, ValueError) as err:
        raise SawgridError(str(err)) from None
    # As devnet does (devnet/server.py): with the default 5 ms, a connection's
    # thread that is ready to relay an answer waits behind the others for the GIL.
    sys.setswitchinterval(SWITCH_INTERVAL)
    stop: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: stop.append(signum))
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.append(signum))
    try:
        gateway.start()
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise SawgridError(f"cannot listen on {args.bind[0]}:{args.bind[1]}: the port is in use; "
                               f"choose another with --bind HOST:PORT") from None
        raise SawgridError(f"cannot listen on {args.bind[0]}:{args.bind[1]}: {err.strerror or err}") from None
    print(f"gateway: {gateway.url} -> {args.upstream} (alerts: {gateway.url}/_gateway/alerts, "
          f"metrics: {gateway.url}/metrics)", flush=True)
    try:
        while not stop:
            time.sleep(STOP_POLL)
    finally:
        gateway.stop()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return 0
