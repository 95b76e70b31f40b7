"""`sawgrid negotiate`: the privacy-preserving P2P negotiation, run on chain, with a report.

    sawgrid negotiate --case paper                      # on a throw-away devnet, 2048-bit keys
    sawgrid negotiate --case congested --fast --keysize 1024 --json
    sawgrid negotiate --case my-grid.json --out results/mine

The agents, the line manager and the market operator are clients/negotiation/onchain.py's
parties; every step is a signed sawgrid-negotiation transaction (processors/negotiation/README.md).
`--fast` runs the same handlers in process: the same transactions, the same result.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from sawgrid.clients.cli.support import command
from sawgrid.clients.sdk.errors import SawgridError

DEFAULT_OUT = Path("results")
DEFAULT_KEY_BITS = 2048
MIN_KEY_BITS, MAX_KEY_BITS = 256, 4096   # processors/negotiation/units.py: what the chain accepts
RESULTS_FILE = "negotiation.json"
SAMPLE_BITS = (1024, 2048)               # the report's section 5.5 table: every run also samples these
SAMPLES = 10                             # operations of each kind per sampled key size


def _terminated(signum, frame) -> None:
    """SIGTERM ends the run as Ctrl-C does: the devnet's `with` block stops it."""
    raise SystemExit(128 + signum)


def _progress(out, started: float):
    def show(k: int, r, timings) -> None:
        print(f"iteration {k}: power mismatch {r.power_mismatch:.6f} kW, price change {r.price_change:.6f} USD/kW, "
              f"line overload {r.line_violation:.6f} kW ({time.monotonic() - started:.0f} s)", file=out, flush=True)
    return show


def _run(args: argparse.Namespace) -> int:
    import signal
    import threading

    from sawgrid.clients.negotiation.cases import load_case

    _require_paillier()
    if not MIN_KEY_BITS <= args.keysize <= MAX_KEY_BITS or args.keysize % 8:
        raise SawgridError(f"--keysize: a multiple of 8 from {MIN_KEY_BITS} to {MAX_KEY_BITS} bits, got {args.keysize}")
    try:
        case = load_case(args.case)
    except (ValueError, OSError) as err:
        raise SawgridError(f"--case: {err}") from None
    if args.max_iterations is not None:
        if args.max_iterations < 1:
            raise SawgridError(f"--max-iterations: at least 1, got {args.max_iterations}")
        from dataclasses import replace
        case = replace(case, params=replace(case.params, max_iterations=args.max_iterations))
    out = args.out or DEFAULT_OUT / f"negotiate-{case.name}-{args.keysize}{'-fast' if args.fast else ''}"
    out.mkdir(parents=True, exist_ok=True)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminated)
    started = time.monotonic()
    progress = _progress(sys.stderr, started)  # stderr, with --json too: stdout carries only the JSON
    print(f"negotiating case {case.name} ({len(case.agents)} agents, {args.keysize}-bit keys, "
          f"{'in process' if args.fast else 'on a fresh devnet'})", file=sys.stderr, flush=True)
    if args.fast:
        run = _fast(case, args.keysize, progress)
        mode = "in process (--fast)"
    else:
        run = _devnet(case, args.keysize, progress, out)
        mode = "devnet"
    doc = _document(case, run, mode)
    report = _report(case, run, doc, out, [] if args.no_sample else list(SAMPLE_BITS))
    (out / RESULTS_FILE).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    doc["report"] = str(report)
    doc["folder"] = str(out)
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        r = doc["result"]
        print(f"{'converged' if r['converged'] else 'NOT converged'} after {r['iterations']} iterations: "
              f"{len(doc['contracts'])} market contracts, welfare {r['welfare_usd']:.4f} USD"
              + (f" (optimum {doc['optimum']['welfare_usd']:.4f}, gap {doc['optimum']['gap_pct']:.4f} %)"
                 if doc.get("optimum") else ""))
        t = doc["timings"]
        print(f"time: {t['total_s']:.1f} s in all; encryption {t['encrypt_s']:.1f} s, decryption "
              f"{t['decrypt_s']:.1f} s, proofs {t['prove_s']:.1f} s, chain {t['chain_s']:.1f} s")
        print(f"report: {report}")
    return 0


def _require_paillier() -> None:
    """python-paillier is an optional extra (GPL-3.0): say how to get it."""
    import importlib.util

    if importlib.util.find_spec("phe") is None:
        raise SawgridError("negotiate needs python-paillier (GPL-3.0, not in the default install): "
                           "pip install 'sawgrid[negotiation]'")


def _fast(case, key_bits: int, progress):
    from sawgrid.clients.negotiation.onchain import run_onchain
    from sawgrid.clients.sdk import keys
    from sawgrid.clients.sdk.ledger import InProcessClient

    return run_onchain(case, InProcessClient(), keys.signer_for(keys.new_private_key()), key_bits=key_bits,
                       progress=progress)


def _devnet(case, key_bits: int, progress, out: Path):
    from sawgrid.clients.negotiation.onchain import run_onchain
    from sawgrid.clients.sdk import keys
    from sawgrid.clients.sdk.devnet_process import DevnetProcess
    from sawgrid.clients.sdk.rest import RestClient

    chain = Path(tempfile.mkdtemp(prefix="sawgrid-negotiate-"))
    try:
        key_dir = chain / "keys"
        operator = keys.new_private_key()
        keys.save("operator", operator, key_dir, force=True)
        with DevnetProcess(data_dir=chain / "data", key_dir=key_dir, log_path=out / "devnet.log") as net:
            return run_onchain(case, RestClient(net.url), keys.signer_for(operator), key_bits=key_bits,
                               progress=progress)
    finally:
        shutil.rmtree(chain, ignore_errors=True)


def _document(case, run, mode: str) -> dict:
    """What the run gives, in the user's units (kW, USD/kW, seconds)."""
    result = run.result
    doc = {
        "case": case.name, "mode": mode, "key_bits": run.key_bits, "session": run.session.id,
        "result": {
            "converged": result.converged, "iterations": result.iterations, "welfare_usd": result.welfare,
            "trades_kw": {f"{s}-{c}": q for (s, c), q in result.trades.items()},
            "prices_usd_per_kw": {f"{s}-{c}": p for (s, c), p in result.prices.items()},
            "powers_kw": result.powers, "line_flows_kw": result.line_flows, "line_prices_usd_per_kw":
            result.line_prices,
            "price_mismatch": list(result.price_mismatch), "power_mismatch": list(result.power_mismatch),
        },
        "contracts": run.contracts,
        "timings": run.timings.as_dict(),
    }
    from sawgrid.clients.negotiation.optimum import solve
    try:
        optimum = solve(case)
    except RuntimeError as err:
        raise SawgridError(f"the centralised optimum: {err}") from None
    doc["optimum"] = {"welfare_usd": optimum.welfare,
                      "gap_pct": abs(optimum.welfare - result.welfare) / abs(optimum.welfare) * 100
                      if optimum.welfare else 0.0}
    doc["_optimum"] = optimum
    return doc


def _report(case, run, doc: dict, out: Path, sample_bits: list[int]) -> Path:
    """The method's report (clients/negotiation/report.py) with this run's timings and, for the
    paper's section 5.5, a sample of each operation at the other key sizes."""
    from sawgrid.clients.negotiation import report
    from sawgrid.clients.negotiation.onchain import measure_crypto

    t = run.timings
    rows = [report.Timing(run.key_bits, op, count, seconds) for op, count, seconds in (
        ("encrypt", t.encryptions, t.encrypt), ("decrypt", t.decryptions, t.decrypt), ("prove", t.proofs, t.prove))]
    rows.append(report.Timing(run.key_bits, "chain (submit to commit, processor included)", t.transactions, t.chain))
    doc["crypto_sample"] = {}
    for bits in sample_bits:
        if bits == run.key_bits:
            continue
        sample = measure_crypto(bits, SAMPLES)
        doc["crypto_sample"][bits] = {op: {"count": c, "seconds": s} for op, (c, s) in sample.items()}
        rows += [report.Timing(bits, f"{op} (sample)", c, s) for op, (c, s) in sample.items()]
    files = report.write_report(out, case, run.result, doc.pop("_optimum"), rows)
    return files.markdown


def add_parsers(subparsers) -> None:
    p = command(subparsers, "negotiate", _run, "negotiate P2P trades on chain, privately, and write a report",
                "Run the privacy-preserving P2P negotiation of Li et al. 2022: producers and consumers agree on "
                "bilateral quantities and prices by consensus+innovation, the line manager prices congested "
                "lines, and every price update is the sum of the two agents' terms added under the pair "
                "owner's Paillier key on chain and revealed with a zero-knowledge proof. Runs on a fresh "
                "devnet (default) or in process (--fast, the same handlers and result), prints progress per "
                "iteration on stderr, turns the converged trades into market contracts and writes a report "
                "(convergence, trades beside the paper's, line flows and prices, welfare against the "
                "optimum, time in encryption, decryption and proofs) into --out.",
                "sawgrid negotiate --case paper --fast --keysize 1024\n"
                "  sawgrid negotiate --case congested --out results/congested --json\n"
                "  sawgrid negotiate --case my-grid.json --keysize 2048")
    p.add_argument("--case", required=True, metavar="paper|congested|FILE.json",
                   help="a built-in case (paper, congested) or a case JSON file")
    p.add_argument("--keysize", type=int, default=DEFAULT_KEY_BITS, metavar="BITS",
                   help=f"Paillier key size (default: {DEFAULT_KEY_BITS}; tests use 512)")
    p.add_argument("--fast", action="store_true", help="run the handlers in process (no devnet)")
    p.add_argument("--out", type=Path, help="results folder (default: results/negotiate-CASE-BITS[-fast])")
    p.add_argument("--max-iterations", type=int, metavar="N", help="stop after N iterations (default: the case's)")
    p.add_argument("--no-sample", action="store_true",
                   help="skip the report's sample of 1024- and 2048-bit operations (a few seconds)")
