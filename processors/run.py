"""Run Sawgrid's transaction processors: `sawgrid tp [FAMILY ...] --connect URL`
(or `python -m sawgrid.processors`, which devnet's `--processors` starts).

Each family's handler (from processors/registry.py) runs in the SDK's
`TransactionProcessor` (made to work on Python 3.11 by `protos.sdk_compat`),
connected to a validator's component endpoint — devnet's or a real Sawtooth
node's.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys

from sawgrid.processors import registry
from sawgrid.protos import sdk_compat

sdk_compat.install()

from sawtooth_sdk.processor.core import TransactionProcessor  # noqa: E402

DEFAULT_CONNECT = "tcp://127.0.0.1:4004"
LOG = logging.getLogger("sawgrid.processors")


def run(families: list[str], url: str) -> None:
    """Serve `families` (short names) against the validator at `url` until SIGINT/SIGTERM."""
    processor = TransactionProcessor(url=url)
    for handler in registry.handlers(families):
        processor.add_handler(handler)

    def _interrupt(signum, frame):
        raise KeyboardInterrupt  # the SDK unregisters cleanly on KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    LOG.info("processors %s connecting to %s", ", ".join(families), url)
    try:
        processor.start()
    finally:
        processor.stop()


def unknown_families(families: list[str]) -> list[str]:
    return [f for f in families if f not in registry.names()]


def main(argv: list[str] | None = None) -> int:
    """`python -m sawgrid.processors [FAMILY ...] [--connect URL]`."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m sawgrid.processors",
                                     description="Serve Sawgrid's transaction processors (same as `sawgrid tp`).")
    parser.add_argument("families", nargs="*", metavar="FAMILY")
    parser.add_argument("-C", "--connect", default=DEFAULT_CONNECT)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    families = args.families or registry.names()
    unknown = unknown_families(families)
    if unknown:
        parser.error(f"unknown family {unknown[0]!r} (known: {', '.join(registry.names())})")
    try:
        run(families, args.connect)
    except KeyboardInterrupt:
        return 0
    return 0
