"""The `devnet` command: run a single-node Sawtooth-compatible ledger."""
from __future__ import annotations

import argparse
from pathlib import Path

from sawgrid.clients.cli_support import host_port
from sawgrid.clients.errors import SawgridError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "devnet",
        help="run a single-node Sawtooth-compatible ledger (devnet)",
        description="Run devnet in the foreground: a single-node ledger that Sawtooth transaction "
        "processors connect to over ZMQ and clients use through Sawtooth's REST API. "
        "State and blocks persist in --data-dir. Stop with Ctrl-C.",
    )
    parser.add_argument("--data-dir", type=Path, default=Path(".devnet"),
                        help="where blocks, state and the validator key live (default: %(default)s)")
    parser.add_argument("--component", default="tcp://127.0.0.1:4004",
                        help="ZMQ endpoint for processors and event subscribers (default: %(default)s)")
    parser.add_argument("--rest", type=host_port, default=("127.0.0.1", 8008), metavar="HOST:PORT",
                        help="REST API address (default: 127.0.0.1:8008)")
    parser.add_argument("--processors", action="store_true",
                        help="also start Sawgrid's processors as child processes (restarted if they die)")
    parser.add_argument("--max-batches", type=int, default=100, help="batches per block at most (default: %(default)s)")
    parser.add_argument("--block-interval", type=float, default=0.02,
                        help="seconds to gather batches before building a block (default: %(default)s)")
    parser.add_argument("--queue-size", type=int, default=10_000,
                        help="pending batches before POST /batches answers 429 (default: %(default)s)")
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    from sawgrid.devnet.server import Devnet, DevnetConfig

    if args.max_batches < 1 or args.queue_size < 1 or args.block_interval < 0:
        raise SawgridError("--max-batches and --queue-size must be >= 1, --block-interval >= 0")
    config = DevnetConfig(
        data_dir=args.data_dir, component=args.component, rest_host=args.rest[0], rest_port=args.rest[1],
        processors=args.processors, key_dir=args.key_dir, max_batches=args.max_batches,
        block_interval=args.block_interval, max_queue=args.queue_size,
    )
    try:
        Devnet(config).run_forever()
    except OSError as err:
        raise SawgridError(str(err)) from None
    return 0
