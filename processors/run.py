"""Run Sawgrid's transaction processors: `sawgrid tp [FAMILY ...] --connect URL`.

Each family's handler runs in the SDK's `TransactionProcessor` (made to work
on Python 3.11 by `sdk_compat`), connected to a validator's component
endpoint — devnet's or a real Sawtooth node's.
"""
from __future__ import annotations

import importlib
import logging
import signal

from sawgrid.processors import sdk_compat

sdk_compat.install()

from sawtooth_sdk.processor.core import TransactionProcessor  # noqa: E402

# family short name -> "module:Handler". New families add one line here.
FAMILIES: dict[str, str] = {
    "kv": "sawgrid.processors.kv:KvHandler",
    "market": "sawgrid.processors.market.handler:MarketHandler",
}


def handler_for(name: str):
    """Instantiate the handler of family short name `name` (KeyError if unknown)."""
    module_name, _, class_name = FAMILIES[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)()


def run(families: list[str], url: str) -> None:
    """Serve `families` against the validator at `url` until SIGINT/SIGTERM."""
    processor = TransactionProcessor(url=url)
    for name in families:
        processor.add_handler(handler_for(name))

    def _interrupt(signum, frame):
        raise KeyboardInterrupt  # the SDK unregisters cleanly on KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    logging.getLogger("sawgrid.processors").info("processors %s connecting to %s", ", ".join(families), url)
    try:
        processor.start()
    finally:
        processor.stop()
