"""Wall time of `sawgrid simulate`: the default experiment on the full stack
and with --fast, and --fast at larger sizes.

    python bench/simulate_bench.py [--sizes 103,1000] [--full] [--json]

Each case runs `sawgrid simulate` as a child process (what a user runs), in a
temporary folder, and reports its wall time and the headline it printed.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(args: list[str], timeout: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "sawgrid.clients.cli", "simulate", "--out", str(Path(tmp) / "out"),
               "--json", *args]
        started = time.perf_counter()
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"args": args, "status": f"not finished within {timeout:.0f} s"}
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            return {"args": args, "status": "failed", "error": done.stderr.strip().splitlines()[-1:]}
        head = json.loads(done.stdout)["headline"]
        return {"args": args, "status": "ok", "seconds": round(seconds, 1),
                "par_without": round(head["par_without"], 3), "par_with": round(head["par_with"], 3),
                "par_change_pct": round(head["par_change_pct"], 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="103,1000", help="participants for --fast runs (comma-separated)")
    parser.add_argument("--full", action="store_true", help="also the default experiment on the full stack")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per case")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cases = [["--fast", "--participants", size] for size in args.sizes.split(",")]
    if args.full:
        cases.insert(0, [])
    results = []
    for case in cases:
        label = " ".join(case) or "full stack (default)"
        if not args.json:
            print(f"running: sawgrid simulate {label} ...", file=sys.stderr)
        results.append({"case": label, **run(case, args.timeout)})
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            extra = (f"{r['seconds']:8.1f} s   PAR {r['par_without']} -> {r['par_with']} ({r['par_change_pct']:+} %)"
                     if r["status"] == "ok" else r["status"])
            print(f"{r['case']:<40} {extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
