"""The `devnet` command: run a single-node Sawtooth-compatible ledger."""
from __future__ import annotations

import argparse
import errno
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sawgrid.clients.cli.support import host_port
from sawgrid.clients.sdk.errors import SawgridError

if TYPE_CHECKING:
    from sawgrid.devnet.faults import Faults

VALIDATOR_KEY = "validator"  # in the data folder: signs devnet's blocks
OPERATOR_KEY = "operator"    # in the key directory: signs the families' setup


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
    parser.add_argument("--tls-cert", type=Path, metavar="FILE",
                        help="serve the REST API over HTTPS with this PEM certificate (with --tls-key; "
                        "`sawgrid tls-selfsigned DIR` makes a development pair)")
    parser.add_argument("--tls-key", type=Path, metavar="FILE", help="the private key of --tls-cert (PEM)")
    parser.add_argument("--processors", action="store_true",
                        help="also start Sawgrid's processors as child processes (restarted if they die)")
    parser.add_argument("--max-batches", type=int, default=100, help="batches per block at most (default: %(default)s)")
    parser.add_argument("--block-interval", type=float, default=0.02,
                        help="seconds to gather batches before building a block (default: %(default)s)")
    parser.add_argument("--queue-size", type=int, default=10_000,
                        help="pending batches before POST /batches answers 429 (default: %(default)s)")
    parser.add_argument("--block-info", choices=("auto", "on", "off"), default=None,
                        help="start each block with a BlockInfo transaction (the chain's clock), as a Sawtooth "
                        "validator with the block_info batch injector: 'on' (blocks wait for the block_info "
                        "processor), 'auto' (whenever one is registered), 'off' (never). "
                        "Default: 'on' with --processors (which serve it), 'auto' otherwise")
    # Testing only, hence hidden: make devnet misbehave like a loaded Sawtooth
    # validator (false INVALIDs, 429 bursts, dropped connections).
    parser.add_argument("--faults", type=faults_spec, metavar="SPEC", help=argparse.SUPPRESS)
    # Experiments only, hence hidden: stamp BlockInfo with the seconds written
    # in this file instead of the wall clock (devnet/replay_clock.py; `sawgrid
    # simulate` replays past days through it).
    parser.add_argument("--clock-file", type=Path, metavar="PATH", help=argparse.SUPPRESS)
    parser.set_defaults(func=run_command)


def faults_spec(text: str) -> Faults:
    """`--faults invalid=0.3,seed=7,burst429=5,drop=3` (devnet/faults.py) as a `Faults`."""
    from sawgrid.devnet.faults import Faults

    try:
        return Faults.parse(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def setup_steps(operator) -> list:
    """Every family's genesis steps (processors/registry.py) as devnet setup
    batches, each one batch signed by the operator key."""
    from sawgrid.devnet.genesis import SetupStep
    from sawgrid.processors import registry
    from sawgrid.protos.envelopes import make_batch, make_transaction

    operator_key = operator.get_public_key().as_hex()
    steps = []
    for spec in registry.FAMILIES:
        for step in spec.genesis_steps():
            def batch(step=step, family=spec.family):
                return make_batch(operator, [
                    make_transaction(operator, family.name, family.versions[0], t.payload, t.inputs, t.outputs)
                    for t in step.transactions(operator_key)])
            steps.append(SetupStep(name=step.name, needed=step.needed, batch=batch))
    return steps


def processor_command(component: str) -> list[str]:
    """How devnet's `--processors` starts every registered family."""
    return [sys.executable, "-m", "sawgrid.processors", "--connect", component]


def run_command(args: argparse.Namespace) -> int:
    from sawgrid.clients.sdk import keys
    from sawgrid.devnet.server import Devnet, DevnetConfig

    if args.max_batches < 1 or args.queue_size < 1 or args.block_interval < 0:
        raise SawgridError("--max-batches and --queue-size must be >= 1, --block-interval >= 0")
    tls = None
    if (args.tls_cert is None) != (args.tls_key is None):
        raise SawgridError("--tls-cert and --tls-key go together: give both, or neither for plain HTTP")
    if args.tls_cert is not None:
        from sawgrid.clients.sdk.tls import TlsError, server_context

        try:
            tls = server_context(args.tls_cert, args.tls_key)
        except TlsError as err:
            raise SawgridError(f"--tls-cert/--tls-key: {err}") from None
    args.data_dir.mkdir(parents=True, exist_ok=True)
    clock = None
    if args.clock_file is not None:
        from sawgrid.devnet.replay_clock import FileClock

        try:
            clock = FileClock(args.clock_file)
        except ValueError as err:
            raise SawgridError(str(err)) from None
    config = DevnetConfig(
        data_dir=args.data_dir, validator=keys.load_or_create_signer(VALIDATOR_KEY, args.data_dir),
        component=args.component, rest_host=args.rest[0], rest_port=args.rest[1],
        setup_steps=setup_steps(keys.load_or_create_signer(OPERATOR_KEY, args.key_dir)),
        processor_command=processor_command(args.component) if args.processors else None,
        max_batches=args.max_batches, block_interval=args.block_interval, max_queue=args.queue_size,
        faults=args.faults, block_info=args.block_info or ("on" if args.processors else "auto"), clock=clock,
        tls=tls,
    )
    try:
        Devnet(config).run_forever()
    except OSError as err:
        if err.errno == errno.EADDRINUSE:  # the REST API's bind; the component endpoint names itself
            raise SawgridError(f"cannot serve the REST API on {args.rest[0]}:{args.rest[1]}: the port is in use "
                               f"(another devnet?); choose another with --rest HOST:PORT") from None
        raise SawgridError(str(err)) from None
    return 0
