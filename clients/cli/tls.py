"""`sawgrid tls-selfsigned DIR`: a development certificate and key for HTTPS on 127.0.0.1/localhost."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from sawgrid.clients.cli.support import command
from sawgrid.clients.sdk.errors import SawgridError


def add_parser(subparsers) -> None:
    parser = command(
        subparsers, "tls-selfsigned", run_selfsigned,
        "write a development TLS certificate and key (self-signed, for 127.0.0.1 and localhost)",
        "Write DIR/cert.pem and DIR/key.pem: a self-signed certificate for localhost, 127.0.0.1 and ::1 "
        "(valid one year) and its private key (mode 0600). The certificate is its own CA: serve with "
        "--tls-cert DIR/cert.pem --tls-key DIR/key.pem and give clients --ca-cert DIR/cert.pem (or "
        "$SAWGRID_CA_CERT). For development and tests only; it is no substitute for a real CA.",
        "sawgrid tls-selfsigned tls && sawgrid devnet --tls-cert tls/cert.pem --tls-key tls/key.pem\n"
        "  sawgrid --url https://127.0.0.1:8008 --ca-cert tls/cert.pem participant list",
    )
    parser.add_argument("directory", type=Path, metavar="DIR", help="folder to write cert.pem and key.pem into")
    parser.add_argument("--force", action="store_true", help="replace existing cert.pem / key.pem")


def run_selfsigned(args: argparse.Namespace) -> int:
    from sawgrid.clients.sdk.tls import write_self_signed

    try:
        cert, key = write_self_signed(args.directory, force=args.force)
    except (FileExistsError, OSError) as err:
        raise SawgridError(str(err)) from None
    if args.json:
        print(json.dumps({"cert": str(cert), "key": str(key)}))
    else:
        print(f"wrote {cert}\nwrote {key}\nserve with: --tls-cert {cert} --tls-key {key}; "
              f"clients: --ca-cert {cert}")
    return 0
