"""Run Sawgrid's transaction processors: `sawgrid tp [FAMILY ...] --connect URL`
(or `python -m sawgrid.processors`, which devnet's `--processors` starts).

Each family's handler (from processors/registry.py) runs in the SDK's
`TransactionProcessor` (made to work on Python 3.11 by `protos.sdk_compat`),
connected to a validator's component endpoint — devnet's or a real Sawtooth
node's.

Stopping. The SDK's processor loop runs in a worker thread; the main thread
only waits. SIGINT and SIGTERM make it unregister (waiting at most
`UNREGISTER_TIMEOUT` for the validator's answer), close the connection and
exit with code 0, without a traceback: nothing is raised inside the SDK. A
transaction in flight at that moment is simply not answered; the validator
runs it again (devnet and Sawtooth both do). If the process still has not
exited `EXIT_DEADLINE` seconds after the signal, it exits anyway.

Concurrency. The SDK's `TransactionProcessor.start()` handles one
TP_PROCESS_REQUEST at a time: while a transaction waits for the answer to one
of its context calls (get/set state, events, receipt data) the processor sits
idle, even though the validator has sent it other, non-conflicting
transactions (devnet's scheduler and Sawtooth's parallel scheduler both do;
Sawtooth sends up to a registered processor's `max_occupancy`). `_Processor`
hands each request to a pool of `WORKERS` threads instead, so one
transaction's round trips overlap another's work. Each request has its own
context and the handlers keep no state between calls, so what a transaction
does does not depend on which thread runs it or what else runs meanwhile;
pings and re-registration stay on the receiving thread.

Exit code 1 instead when the processor cannot go on: the validator refused
the registration, the parent named by `SAWGRID_PARENT_PID` (devnet sets it
for its children) has died, or, with `--exit-after-disconnect SECONDS`, the
validator has not been reachable (connected and registered) for that long.
Without that option the processor keeps retrying, as the SDK does.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import logging
import os
import signal
import sys
import threading
import time

from sawgrid.processors import registry
from sawgrid.protos import sdk_compat

sdk_compat.install()

from sawtooth_sdk.messaging.exceptions import ValidatorConnectionError  # noqa: E402
from sawtooth_sdk.messaging.future import FutureTimeoutError  # noqa: E402
from sawtooth_sdk.processor.core import TransactionProcessor  # noqa: E402
from sawtooth_sdk.protobuf.processor_pb2 import TpUnregisterRequest  # noqa: E402
from sawtooth_sdk.protobuf.validator_pb2 import Message  # noqa: E402

DEFAULT_CONNECT = "tcp://127.0.0.1:4004"
LOG = logging.getLogger("sawgrid.processors")

PARENT_PID_ENV = "SAWGRID_PARENT_PID"  # devnet names itself here for its children
POLL = 0.2  # seconds between the main thread's checks
UNREGISTER_TIMEOUT = 1.0  # seconds to wait for the validator's TP_UNREGISTER_RESPONSE
EXIT_DEADLINE = 10.0  # seconds from the stop request to a forced exit
WORKERS = 4  # transactions served at once (see "Concurrency" above)


class _Processor(TransactionProcessor):
    """The SDK's processor, remembering whether its registration went through."""

    def __init__(self, url: str, workers: int = WORKERS) -> None:
        super().__init__(url)
        self.registered = threading.Event()
        self._workers = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="sawgrid-tp-worker")

    def _process(self, msg):
        """Serve a TP_PROCESS_REQUEST on the worker pool (the SDK's `_process`
        answers it, whatever the outcome)."""
        try:
            self._workers.submit(self._serve, msg)
        except RuntimeError:  # the pool is shut down: we are stopping, the validator runs it again
            pass

    def _serve(self, msg):
        try:
            super()._process(msg)
        except Exception:  # noqa: BLE001 - unanswered; the validator times out and runs it again
            LOG.exception("unexpected error serving a transaction")

    def stop(self):
        super().stop()  # fails the context calls still waiting, so the workers finish
        self._workers.shutdown(wait=False, cancel_futures=True)

    def _register(self):
        self.registered.clear()
        super()._register()  # returns without raising when the connection drops meanwhile
        if self._stream.is_ready():
            self.registered.set()

    @property
    def reachable(self) -> bool:
        return self.registered.is_set() and self._stream.is_ready()


def run(families: list[str], url: str, exit_after_disconnect: float | None = None) -> int:
    """Serve `families` (short names) against the validator at `url` until
    SIGINT/SIGTERM (exit code 0), or until it cannot go on (1; see the module
    docstring). Call from the main thread: it installs the signal handlers."""
    parent = _expected_parent()
    processor = _Processor(url)
    for handler in registry.handlers(families):
        processor.add_handler(handler)

    received: list[int] = []

    def _on_signal(signum, frame):
        # Only this: a handler that took a lock (Event.set) could deadlock
        # against the main thread, or against itself when two signals arrive
        # at once (devnet's SIGTERM and the parent-death SIGTERM, say).
        received.append(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _on_signal)

    worker = threading.Thread(target=processor.start, name="sawgrid-tp", daemon=True)
    LOG.info("processors %s connecting to %s", ", ".join(families), url)
    worker.start()
    code = 0
    unreachable_since = time.monotonic()
    while not received:
        time.sleep(POLL)  # a signal handler runs during it; the sleep then resumes
        if received:
            break
        if not worker.is_alive():
            LOG.error("the processor stopped (registration refused?); exiting")
            code = 1
            break
        if parent is not None and os.getppid() != parent:
            LOG.warning("parent process %d is gone; exiting", parent)
            code = 1
            break
        if exit_after_disconnect is not None:
            now = time.monotonic()
            if processor.reachable:
                unreachable_since = None
            elif unreachable_since is None:
                unreachable_since = now
            elif now - unreachable_since >= exit_after_disconnect:
                LOG.error("validator at %s unreachable for %.0f s; exiting", url, now - unreachable_since)
                code = 1
                break
    _ignore_stop_signals()
    _exit_watchdog(EXIT_DEADLINE, code)
    _shutdown(processor, worker)
    LOG.info("processors stopped%s", f" ({signal.Signals(received[0]).name})" if received else "")
    return code


def _expected_parent() -> int | None:
    """The pid in SAWGRID_PARENT_PID (then removed from our environment), or None."""
    value = os.environ.pop(PARENT_PID_ENV, None)
    if not value:
        return None
    try:
        parent = int(value)
    except ValueError:
        LOG.warning("ignoring %s=%r (not a pid)", PARENT_PID_ENV, value)
        return None
    return parent


def _shutdown(processor: _Processor, worker: threading.Thread) -> None:
    """Unregister (bounded), close the connection, let the worker thread end.

    The SDK's own KeyboardInterrupt path can wait forever for a validator
    that is gone, so it is not used. Its loop logs an error when its stream
    is closed under it; that is the normal way out here, so it is silenced."""
    stream = processor._stream  # sawtooth-sdk 1.2.5 is final: the attribute stays
    if processor.reachable:
        try:
            stream.send(Message.TP_UNREGISTER_REQUEST,
                        TpUnregisterRequest().SerializeToString()).result(UNREGISTER_TIMEOUT)
        except (ValidatorConnectionError, FutureTimeoutError):
            pass
    logging.getLogger("sawtooth_sdk.processor.core").disabled = True
    processor.stop()
    worker.join(UNREGISTER_TIMEOUT)  # a worker stuck in wait_for_ready() is a daemon: left behind


def _ignore_stop_signals() -> None:
    """Stopping already: more SIGINT/SIGTERM change nothing. Ignored rather
    than handled, because Python gives handled signals their default action
    back while it finalizes, and one arriving then would kill the process."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


def _exit_watchdog(seconds: float, code: int) -> None:
    def watch() -> None:
        time.sleep(seconds)
        LOG.error("processors have not exited %.0f s after stopping; exiting now", seconds)
        logging.shutdown()
        os._exit(code)

    threading.Thread(target=watch, name="sawgrid-tp-exit-watchdog", daemon=True).start()


def unknown_families(families: list[str]) -> list[str]:
    return [f for f in families if f not in registry.names()]


def non_negative_seconds(text: str) -> float:
    """argparse type for --exit-after-disconnect."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 seconds: {text!r}")
    return value


EXIT_AFTER_DISCONNECT_HELP = ("exit (code 1) once the validator has been unreachable for SECONDS "
                              "(default: keep retrying, as Sawtooth's SDK does)")


def main(argv: list[str] | None = None) -> int:
    """`python -m sawgrid.processors [FAMILY ...] [--connect URL] [--exit-after-disconnect SECONDS]`."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m sawgrid.processors",
                                     description="Serve Sawgrid's transaction processors (same as `sawgrid tp`).")
    parser.add_argument("families", nargs="*", metavar="FAMILY")
    parser.add_argument("-C", "--connect", default=DEFAULT_CONNECT)
    parser.add_argument("--exit-after-disconnect", type=non_negative_seconds, metavar="SECONDS",
                        help=EXIT_AFTER_DISCONNECT_HELP)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    families = args.families or registry.names()
    unknown = unknown_families(families)
    if unknown:
        parser.error(f"unknown family {unknown[0]!r} (known: {', '.join(registry.names())})")
    return run(families, args.connect, args.exit_after_disconnect)
