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
        "until interrupted (SIGINT or SIGTERM: unregister and exit 0).",
        "sawgrid tp market --connect tcp://validator-0:4004",
    )
    parser.add_argument("families", nargs="*", metavar="FAMILY",
                        help=f"families to serve (default: all of {', '.join(registry.names())})")
    parser.add_argument("-C", "--connect", default="tcp://127.0.0.1:4004",
                        help="validator component endpoint (default: %(default)s)")
    parser.add_argument("--exit-after-disconnect", type=_seconds, metavar="SECONDS",
                        help="exit (code 1) once the validator has been unreachable for SECONDS "
                        "(default: keep retrying, as Sawtooth's SDK does)")


def _seconds(text: str) -> float:
    from sawgrid.processors.run import non_negative_seconds

    return non_negative_seconds(text)


def run_command(args: argparse.Namespace) -> int:
    from sawgrid.processors.run import run, unknown_families

    families = args.families or registry.names()
    unknown = unknown_families(families)
    if unknown:
        raise SawgridError(f"unknown family {unknown[0]!r} (known: {', '.join(registry.names())})")
    # SIGINT/SIGTERM: unregister, exit 0, no traceback (see processors/run.py)
    return run(families, args.connect, args.exit_after_disconnect)
