"""The `tp` command: run Sawgrid's transaction processors against a validator."""
from __future__ import annotations

import argparse
import logging


def add_parser(subparsers) -> None:
    from sawgrid.processors.run import FAMILIES

    parser = subparsers.add_parser(
        "tp",
        help="run Sawgrid's transaction processors against a validator",
        description="Connect Sawgrid's transaction processors to a Sawtooth validator "
        "(or devnet) and serve until interrupted.",
    )
    parser.add_argument("families", nargs="*", metavar="FAMILY",
                        help=f"families to serve (default: all of {', '.join(FAMILIES)})")
    parser.add_argument("-C", "--connect", default="tcp://127.0.0.1:4004",
                        help="validator component endpoint (default: %(default)s)")
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    from sawgrid.clients.errors import SawgridError
    from sawgrid.processors.run import FAMILIES, run

    families = args.families or list(FAMILIES)
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise SawgridError(f"unknown family {unknown[0]!r} (known: {', '.join(FAMILIES)})")
    run(families, args.connect)
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m sawgrid.processors")
    sub = parser.add_subparsers()
    add_parser(sub)
    args = parser.parse_args(["tp", *(argv if argv is not None else __import__("sys").argv[1:])])
    return args.func(args)
