"""The `tp` command: run Sawgrid's transaction processors against a validator."""
from __future__ import annotations

import argparse

from sawgrid.clients.cli.support import command
from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.processors import registry


def add_parser(subparsers) -> None:
    parser = command(
        subparsers, "tp", run_command,
        "run Sawgrid's transaction processors against a validator",
        "Connect Sawgrid's transaction processors to a Sawtooth validator (or devnet) and serve "
        "until interrupted.",
        "sawgrid tp market --connect tcp://validator-0:4004",
    )
    parser.add_argument("families", nargs="*", metavar="FAMILY",
                        help=f"families to serve (default: all of {', '.join(registry.names())})")
    parser.add_argument("-C", "--connect", default="tcp://127.0.0.1:4004",
                        help="validator component endpoint (default: %(default)s)")


def run_command(args: argparse.Namespace) -> int:
    from sawgrid.processors.run import run, unknown_families

    families = args.families or registry.names()
    unknown = unknown_families(families)
    if unknown:
        raise SawgridError(f"unknown family {unknown[0]!r} (known: {', '.join(registry.names())})")
    run(families, args.connect)
    return 0
