"""The negotiation with and without encryption, side by side in one run; scaling with the agents.

    .venv/bin/python bench/negotiation_bench.py                       # paper case, 1024 bits, 20 iterations
    .venv/bin/python bench/negotiation_bench.py --keysize 2048 --devnet --json
    .venv/bin/python bench/negotiation_bench.py --agents 7,20,50 --iterations 3 --keysize 1024

For each number of agents (7: the paper's agents; more: synthetic agents drawn like the paper's
table, seeded, spread over the IEEE 14-bus grid) it runs, in this order and in the same process:

* **plain**: algorithm.run_plain, floats in process, no encryption, no chain;
* **fast**: the on-chain protocol (clients/negotiation/onchain.py) with Paillier and proofs, the
  handlers in process;
* **devnet** (with --devnet): the same against a fresh devnet child.

Every run stops after --iterations iterations (or converges before), so per-iteration times
compare like with like; the on-chain runs also give their split into encryption, decryption,
proving and chain round trips (the processor's proof checks are inside the chain time). Speed is
measured here, never asserted in tests (bench/README.md records the figures).
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from sawgrid.clients.negotiation.agents import CONSUMER, PAPER_AGENTS, PRODUCER, Agent
from sawgrid.clients.negotiation.algorithm import run_plain
from sawgrid.clients.negotiation.cases import Case, load_case
from sawgrid.clients.negotiation.grid import load_grid
from sawgrid.clients.negotiation.onchain import run_onchain
from sawgrid.clients.sdk import keys
from sawgrid.clients.sdk.devnet_process import DevnetProcess
from sawgrid.clients.sdk.ledger import InProcessClient
from sawgrid.clients.sdk.rest import RestClient

BUSES = (2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14)  # IEEE 14-bus, all but the slack (1) and bus 7 (no load)


def synthetic_case(agents: int, seed: int = 0) -> Case:
    """`agents` agents, half producers, with a, b and bounds drawn around the paper's table."""
    if agents == len(PAPER_AGENTS):
        return load_case("paper")
    rng = random.Random(seed)
    made = []
    for i in range(agents):
        producer = i % 2 == 0
        bus = BUSES[i % len(BUSES)]
        a = round(rng.uniform(0.04, 0.056), 3)
        if producer:
            made.append(Agent(f"S{i // 2 + 1}", bus, PRODUCER, a, 1.0, 1.0, round(rng.uniform(4, 7), 1)))
        else:
            made.append(Agent(f"B{i // 2 + 1}", bus, CONSUMER, a, 3.0, -round(rng.uniform(6, 8), 1), -1.0))
    return Case(name=f"synthetic{agents}", agents=tuple(made))


def _seconds(run) -> dict:
    t = run.timings.as_dict()
    return {"total_s": t["total_s"], "iterations": t["iterations"], "per_iteration_s": t["per_iteration_s"],
            "encrypt_s": t["encrypt_s"], "decrypt_s": t["decrypt_s"], "prove_s": t["prove_s"],
            "chain_s": t["chain_s"], "transactions": t["transactions"]}


def bench(agents: int, iterations: int, key_bits: int, devnet: bool) -> dict:
    case = synthetic_case(agents)
    case = replace(case, params=replace(case.params, max_iterations=iterations))
    pairs = sum(a.is_producer for a in case.agents) * sum(not a.is_producer for a in case.agents)
    row = {"agents": agents, "pairs": pairs, "key_bits": key_bits}
    load_grid(case.grid)  # built once (pandapower) before anything is timed
    started = time.perf_counter()
    plain = run_plain(case)
    seconds = time.perf_counter() - started
    row["plain"] = {"total_s": seconds, "iterations": plain.iterations, "per_iteration_s": seconds / plain.iterations}
    operator = keys.signer_for(keys.new_private_key())
    row["fast"] = _seconds(run_onchain(case, InProcessClient(), operator, key_bits=key_bits))
    if devnet:
        chain = Path(tempfile.mkdtemp(prefix="sawgrid-negotiation-bench-"))
        try:
            private = keys.new_private_key()
            keys.save("operator", private, chain / "keys", force=True)
            with DevnetProcess(data_dir=chain / "data", key_dir=chain / "keys") as net:
                row["devnet"] = _seconds(run_onchain(case, RestClient(net.url), keys.signer_for(private),
                                                     key_bits=key_bits))
        finally:
            shutil.rmtree(chain, ignore_errors=True)
    for mode in ("fast", "devnet"):
        if mode in row:
            row[mode]["× plain per iteration"] = row[mode]["per_iteration_s"] / row["plain"]["per_iteration_s"]
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", default="7", help="comma-separated agent counts (default: 7; the paper: 7,20,50)")
    parser.add_argument("--iterations", type=int, default=20, help="iterations per run (default: 20)")
    parser.add_argument("--keysize", type=int, default=1024, help="Paillier key bits (default: 1024)")
    parser.add_argument("--devnet", action="store_true", help="also run on a fresh devnet")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = [bench(int(n), args.iterations, args.keysize, args.devnet) for n in args.agents.split(",")]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print("| agents | pairs | bits | mode | iterations | total s | per iteration s | × plain | encrypt s | "
          "decrypt s | prove s | chain s |")
    print("|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        for mode in ("plain", "fast", "devnet"):
            if mode not in row:
                continue
            r = row[mode]
            extra = [f"{r.get(k, 0):.2f}" for k in ("encrypt_s", "decrypt_s", "prove_s", "chain_s")] \
                if mode != "plain" else ["", "", "", ""]
            ratio = f"{r['× plain per iteration']:.0f}" if mode != "plain" else "1"
            print(f"| {row['agents']} | {row['pairs']} | {row['key_bits']} | {mode} | {r['iterations']} | "
                  f"{r['total_s']:.2f} | {r['per_iteration_s']:.3f} | {ratio} | " + " | ".join(extra) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
