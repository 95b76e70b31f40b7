"""What every `sawgrid` command group shares: the session (REST client,
market reader, signing key), output (tables, --json) and parser builders."""
from __future__ import annotations

import argparse
import difflib
import json
import os
import textwrap
from pathlib import Path
from functools import cached_property
from typing import Any, Callable, Iterable, Sequence

from sawtooth_signing import Signer

from sawgrid.clients.sdk import keys, market, reputation
from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.sdk.rest import BatchInvalid, RestClient
from sawgrid.protos import market_pb2 as pb

KEY_ENV = "SAWGRID_KEY"
DEFAULT_KEY = "default"
HELP_WIDTH = 78
EUR_PLACES = 6  # decimals of EUR columns in tables: exact µEUR, aligned
SHORT_KEY = 10  # hex chars of a public key shown in tables
KEY_NOTE = f"Your key is the one named by --key (default: ${KEY_ENV}, else {DEFAULT_KEY!r})."

Handler = Callable[[argparse.Namespace], int]


# --------------------------------------------------------------------------
# Output helpers
# --------------------------------------------------------------------------
def format_table(headers: Sequence[str] | None, rows: Iterable[Sequence[object]], align: str = "") -> str:
    """Rows as text columns padded to their widest cell, two spaces apart.

    `align` has one character per column, 'l' (default) or 'r'; `headers`
    None prints rows only. Trailing spaces are stripped.
    """
    table = [[str(cell) for cell in row] for row in ([headers] if headers is not None else []) + list(rows)]
    if not table:
        return ""
    columns = len(table[0])
    if any(len(row) != columns for row in table):
        raise ValueError("format_table: every row needs the same number of cells")
    widths = [max(len(row[i]) for row in table) for i in range(columns)]
    lines = []
    for row in table:
        cells = [cell.rjust(w) if align[i:i + 1] == "r" else cell.ljust(w)
                 for i, (cell, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def key_name(args: argparse.Namespace) -> str:
    """The signing key: --key, else $SAWGRID_KEY, else 'default'."""
    return getattr(args, "key", None) or os.environ.get(KEY_ENV) or DEFAULT_KEY


def short(public_key: str) -> str:
    return public_key[:SHORT_KEY]


class Session:
    """What a market command needs, made on first use: the REST client, the
    reader, the signer; plus submission and output in one place."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    @cached_property
    def rest(self) -> RestClient:
        try:
            return RestClient(self.args.url)
        except ValueError as err:
            raise SawgridError(f"--url: {err}") from None

    @cached_property
    def reader(self) -> market.MarketReader:
        return market.MarketReader(self.rest)

    @cached_property
    def signer(self) -> Signer:
        name = key_name(self.args)
        try:
            return keys.load_signer(name, self.args.key_dir)
        except keys.KeyFileError:
            if getattr(self.args, "key", None) or os.environ.get(KEY_ENV) or keys.key_paths(name, self.args.key_dir)[0].exists():
                raise
            raise SawgridError(f"no signing key: pass --key NAME (or set ${KEY_ENV}), or create the default key "
                               f"with: sawgrid keygen {DEFAULT_KEY}") from None

    @property
    def public_key(self) -> str:
        return self.signer.get_public_key().as_hex()

    def public_key_arg(self, text: str | None) -> str:
        """A public key given in hex, or the name of a key in the key
        directory; None means the signing key's."""
        if text is None:
            return self.public_key
        if market.is_public_key(text.lower()):
            return text.lower()
        try:
            return keys.public_key_of(text, self.args.key_dir)
        except keys.KeyFileError:
            raise SawgridError(f"{text!r} is neither a public key (66 hex chars) nor a key name "
                               f"in the key directory") from None

    def submit(self, *payloads: pb.MarketPayload) -> list[str]:
        """Sign and submit as one batch, wait for commit; a refusal becomes
        one line with the processor's reason."""
        try:
            return market.submit(self.rest, self.signer, payloads)
        except BatchInvalid as err:
            raise SawgridError(refusal(err, raw=self.args.json)) from None

    @cached_property
    def names(self) -> dict[str, str]:
        """public key -> display name, for tables."""
        return {p.public_key: p.name for p in self.reader.participants()}

    def label(self, public_key: str) -> str:
        """'alice (02ab12cd34)' or the short key of an unnamed participant."""
        name = self.names.get(public_key)
        return f"{name} ({short(public_key)})" if name else short(public_key)

    def emit(self, doc: Any, text: str | Callable[[], str]) -> int:
        """Print `doc` as JSON under --json, else `text` (a callable is only
        called for human output: tables with names cost an extra query)."""
        if self.args.json:
            print(json.dumps(doc, indent=2))
        else:
            print(text() if callable(text) else text)
        return 0


def refusal(err: BatchInvalid, raw: bool = False) -> str:
    """A refused batch as one line: 'refused: <the processor's reasons>', in
    the user's units (dates, EUR, kWh) unless `raw` (--json keeps the ledger's integers)."""
    reasons = "; ".join(m for m in err.messages if m)
    if not reasons:
        return str(err)
    return f"refused: {reasons if raw else reputation.explain(reasons)}"  # market's units, Q-scores, chain times


class Parser(argparse.ArgumentParser):
    """argparse with a "did you mean" for a mistyped command or choice."""

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is not None and value not in action.choices:
            close = difflib.get_close_matches(str(value), [str(c) for c in action.choices], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            choices = ", ".join(repr(str(c)) for c in action.choices)
            raise argparse.ArgumentError(action, f"invalid choice: {value!r}{hint} (choose from {choices})")
        super()._check_value(action, value)


def command(subparsers, name: str, func: Handler, summary: str, description: str, example: str,
             uses_key: bool = False) -> argparse.ArgumentParser:
    """A command parser with its description and an example in the epilog."""
    epilog = "example:\n  " + example + (f"\n\n{textwrap.fill(KEY_NOTE, HELP_WIDTH)}" if uses_key else "")
    parser = subparsers.add_parser(name, help=summary, description=textwrap.fill(description, HELP_WIDTH),
                                   epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(func=func)
    return parser


DEFAULT_URL = "http://127.0.0.1:8008"


def add_global_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """--url, --ca-cert, --key, --key-dir, --json, -v. On subcommands they default to
    SUPPRESS, so a value given before the command is not overwritten."""
    def default(value):
        return value if defaults else argparse.SUPPRESS

    parser.add_argument("--url", default=default(os.environ.get("SAWGRID_URL", DEFAULT_URL)),
                        help="Sawtooth REST API (default: $SAWGRID_URL or http://127.0.0.1:8008)")
    parser.add_argument("--ca-cert", default=default(None), metavar="FILE",
                        help="CA file (PEM) that an https --url's certificate must chain to "
                        "(default: $SAWGRID_CA_CERT, else the system's CAs; never unverified)")
    parser.add_argument("--key", default=default(None), metavar="NAME",
                        help="signing key name in the key directory, or a path to a .priv file")
    parser.add_argument("--key-dir", type=Path, default=default(None),
                        help="key directory (default: $SAWGRID_KEY_DIR or ~/.sawtooth/keys)")
    parser.add_argument("--json", action="store_true", default=default(False), help="machine-readable output")
    parser.add_argument("-v", "--verbose", action="store_true", default=default(False), help="log debug detail")


def with_global_options(group: argparse._SubParsersAction) -> None:
    """`sawgrid` adds --url, --key, ... to its top-level commands only; give
    them to the commands of a group too (`sawgrid participant show --json`)."""
    for parser in group.choices.values():
        add_global_options(parser, defaults=False)


def group(subparsers, name: str, summary: str) -> argparse._SubParsersAction:
    parser = subparsers.add_parser(name, help=summary, description=summary)

    def usage(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(func=usage)
    return parser.add_subparsers(title="commands", metavar="COMMAND")


def host_port(value: str) -> tuple[str, int]:
    """argparse type for HOST:PORT options (--rest, --api)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)
