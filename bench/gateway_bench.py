"""What the gateway costs valid traffic: devnet measured directly and through
`sawgrid gateway`, side by side in one run.

    python bench/gateway_bench.py [--batches 1500] [--rounds 3] [--json]

One `sawgrid devnet --processors` and one `sawgrid gateway --upstream` it,
both child processes on free loopback ports. Each round measures both paths,
in alternating order (direct first in even rounds, gateway first in odd
ones), with fresh pre-signed one-transaction sawgrid-kv batches spread over
`--keys` signer keys (meters each sign their own; signing is not measured):

* throughput: `--clients` threads (4) POST one batch per request with
  RestClient, as bench/devnet_throughput.py; batches COMMITTED per second;
* submit latency: one batch at a time, POST -> COMMITTED;
* read latency: GET /state/{address} of a committed entry;
* CPU per batch: devnet's and the gateway's processes' CPU time during the
  throughput measurement (Linux /proc), per batch.

The gateway runs with its default limits except the per-address one, raised
so that the bench's single address (all traffic comes from 127.0.0.1) is not
throttled: what is measured is the hop, the decoding, the signature check
and the bookkeeping, not the limits doing their job. Medians over the rounds;
ratios gateway/direct from the same run.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from devnet_throughput import throughput, wait_for_processor  # noqa: E402  (the same posting loop and figure)

from sawgrid.clients.sdk import keys  # noqa: E402
from sawgrid.clients.sdk.devnet_process import DevnetProcess, free_port  # noqa: E402
from sawgrid.clients.sdk.kv import kv_batch  # noqa: E402
from sawgrid.clients.sdk.rest import RestClient  # noqa: E402
from sawgrid.devnet.server import die_with_parent  # noqa: E402
from sawgrid.processors.kv.addresses import kv_address  # noqa: E402

BENCH_LIMITS = "client=1000000/1000000"  # see the module docstring


def start_gateway(upstream: str, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "sawgrid.clients.cli", "gateway", "--upstream", upstream,
                                 "--bind", f"127.0.0.1:{port}", "--limits", BENCH_LIMITS],
                                stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent())
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the gateway exited; log: {log}")
        try:
            RestClient(url, timeout=2).head_id()
            return proc, url
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the gateway did not come up; log: {log}")


def submit_latency(url: str, signers: list, samples: int, tag: str) -> list[float]:
    client = RestClient(url)
    times = []
    for i in range(samples):
        batch = kv_batch(signers[i % len(signers)], f"lat-{tag}-{i}")
        start = time.perf_counter()
        client.submit_and_wait([batch], timeout=60)
        times.append(time.perf_counter() - start)
    return times


def read_latency(url: str, address: str, samples: int) -> list[float]:
    client = RestClient(url)
    client.state(address)  # the connection is open before timing starts
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        client.state(address)
        times.append(time.perf_counter() - start)
    return times


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_round(url: str, signers: list, args, tag: str, pids: dict[str, int]) -> dict:
    batches = [kv_batch(signers[i % len(signers)], f"{tag}-{i}", b"v") for i in range(args.batches)]
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    tput = throughput(url, batches, args.clients, progress=False)
    cpu_ms = {name: (cpu_seconds(pid) - before[name]) * 1000 / len(batches) for name, pid in pids.items()}
    submit = submit_latency(url, signers, args.samples, tag)
    read = read_latency(url, kv_address(f"{tag}-0"), args.samples * 4)
    return {"committed_per_second": tput["committed_per_second"], "committed": tput["committed"],
            "batches": tput["batches"], "errors": tput["errors"],
            "submit_median_ms": statistics.median(submit) * 1000, "read_median_ms": statistics.median(read) * 1000,
            "devnet_cpu_ms_per_batch": cpu_ms["devnet"], "gateway_cpu_ms_per_batch": cpu_ms["gateway"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=1500, help="batches per throughput measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=40, help="latency samples per measurement")
    parser.add_argument("--clients", type=int, default=4, help="concurrent POSTing threads")
    parser.add_argument("--keys", type=int, default=200, help="signer keys the batches are spread over")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    signers = [keys.signer_for(keys.new_private_key()) for _ in range(args.keys)]
    rows: dict[str, list[dict]] = {"direct": [], "gateway": []}
    with tempfile.TemporaryDirectory() as tmp:
        net = DevnetProcess(data_dir=Path(tmp) / "data", key_dir=Path(tmp) / "keys").start()
        gateway = None
        try:
            wait_for_processor(net.url, signers[0])
            gateway, gateway_url = start_gateway(net.url, Path(tmp) / "gateway.log")
            urls = {"direct": net.url, "gateway": gateway_url}
            for r in range(args.rounds):
                order = ("direct", "gateway") if r % 2 == 0 else ("gateway", "direct")
                for path in order:
                    row = one_round(urls[path], signers, args, f"r{r}-{path}",
                                    {"devnet": net.proc.pid, "gateway": gateway.pid})
                    rows[path].append(row)
                    if not args.json:
                        print(f"round {r + 1} {path:8s} {row['committed_per_second']:7.1f} committed/s  "
                              f"submit {row['submit_median_ms']:6.1f} ms  read {row['read_median_ms']:5.2f} ms  "
                              f"CPU/batch devnet {row['devnet_cpu_ms_per_batch']:.2f} ms "
                              f"gateway {row['gateway_cpu_ms_per_batch']:.2f} ms",
                              file=sys.stderr, flush=True)
        finally:
            if gateway is not None:
                gateway.terminate()
                gateway.wait(15)
            net.stop()
    summary = {}
    for path, measured in rows.items():
        summary[path] = {name: round(statistics.median(r[name] for r in measured), 2)
                         for name in ("committed_per_second", "submit_median_ms", "read_median_ms",
                                      "devnet_cpu_ms_per_batch", "gateway_cpu_ms_per_batch")}
    summary["ratio_gateway_to_direct"] = {name: round(summary["gateway"][name] / summary["direct"][name], 3)
                                          for name in ("committed_per_second", "submit_median_ms", "read_median_ms")}
    result = {"rounds": rows, "median": summary, "cpus": os.cpu_count(),
              "load_average": [round(x, 2) for x in os.getloadavg()]}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        ratio = summary["ratio_gateway_to_direct"]
        print("| path | committed batches/s | submit latency (POST -> COMMITTED) | read latency (GET /state) "
              "| CPU per batch: devnet, gateway |")
        print("|---|---|---|---|---|")
        for path in ("direct", "gateway"):
            s = summary[path]
            print(f"| {path} | {s['committed_per_second']} | {s['submit_median_ms']} ms | {s['read_median_ms']} ms "
                  f"| {s['devnet_cpu_ms_per_batch']} ms, {s['gateway_cpu_ms_per_batch']} ms |")
        print(f"| gateway/direct | {ratio['committed_per_second']} | {ratio['submit_median_ms']} | "
              f"{ratio['read_median_ms']} | |")
        print(f"load average at the end: {result['load_average']}")
    failed = any(r["committed"] != r["batches"] for measured in rows.values() for r in measured)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
