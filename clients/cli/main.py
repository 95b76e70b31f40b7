"""`sawgrid`: the command line. Each command group registers its own subparser.

Errors a user can cause end as one line on stderr and exit code 1; `--help`
on any command explains it.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

# Nothing of Sawgrid is imported at module level: `main` imports it, so that a
# Ctrl-C while the libraries load (scipy, protobuf, ...) ends quietly too.


def _keygen_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "keygen", help="create a key pair (compatible with `sawtooth keygen`)",
        description="Write NAME.priv and NAME.pub into the key directory, like `sawtooth keygen`.",
    )
    parser.add_argument("name", metavar="NAME", help="key name, e.g. alice")
    parser.add_argument("--force", action="store_true", help="replace existing key files")
    parser.set_defaults(func=_keygen)


def _keygen(args: argparse.Namespace) -> int:
    from sawgrid.clients.sdk import keys

    priv, pub = keys.generate(args.name, args.key_dir, force=args.force)
    if args.json:
        import json

        print(json.dumps({"name": args.name, "private_key_file": str(priv), "public_key_file": str(pub),
                          "public_key": pub.read_text().strip()}))
    else:
        print(f"wrote {priv}\nwrote {pub}\npublic key: {pub.read_text().strip()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    import importlib

    from sawgrid.clients.cli.dashboard import add_parsers as add_dashboard
    from sawgrid.clients.cli.clock import add_parsers as add_clock
    from sawgrid.clients.cli.devnet import add_parser as add_devnet
    from sawgrid.clients.cli.meter import add_parser as add_meter
    from sawgrid.clients.cli.support import Parser, add_global_options
    from sawgrid.clients.cli.par import add_parsers as add_par
    from sawgrid.clients.cli.simulate import add_parser as add_simulate
    from sawgrid.clients.cli.sync import add_parsers as add_sync
    from sawgrid.clients.cli.tp import add_parser as add_tp
    from sawgrid.clients.cli.gateway import add_parser as add_gateway
    from sawgrid.clients.cli.tls import add_parser as add_tls
    from sawgrid.processors import registry

    parser = Parser(
        prog="sawgrid",
        description="Sawgrid: peer-to-peer energy trading on Hyperledger Sawtooth.",
    )
    add_global_options(parser, defaults=True)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    add_devnet(sub)
    add_tp(sub)
    _keygen_parser(sub)
    for spec in registry.FAMILIES:  # each family's own command groups
        if spec.cli:
            importlib.import_module(spec.cli).add_parsers(sub)
    add_par(sub)
    add_clock(sub)   # `operator clock`, in the group the market's CLI built
    add_meter(sub)
    add_simulate(sub)
    add_sync(sub)
    add_dashboard(sub)
    add_tls(sub)
    add_gateway(sub)
    for command in sub.choices.values():
        # global options work after the command too: `sawgrid keygen --key-dir D alice`
        add_global_options(command, defaults=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """`sawgrid ...`: the exit code. Ctrl-C (SIGINT) at any point, start-up
    included, exits 130 without a traceback."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        return 130


def _main(argv: list[str] | None) -> int:
    from sawgrid.clients.sdk.errors import SawgridError

    parser = build_parser()
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(raw)
    # Only a --url typed on this command line counts as asking for a network:
    # `simulate` must never turn an exported $SAWGRID_URL into a live run.
    args.url_given = any(a == "--url" or a.startswith("--url=") for a in raw)
    if args.ca_cert:  # every REST client of this command (and its children) verifies against it
        from sawgrid.clients.sdk.tls import CA_ENV

        os.environ[CA_ENV] = str(args.ca_cert)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except SawgridError as err:
        print(f"sawgrid: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
