"""devnet throughput and latency through the REST API, with the trivial processor.

    python bench/devnet_throughput.py [--batches 2000] [--clients 4] [--json]

Starts `sawgrid devnet --processors` on free loopback ports in a temporary
data dir, pre-signs one-transaction sawgrid-kv batches (signing is not part of
the measurement), then:

* throughput — `--clients` threads POST one batch per request (keep-alive
  connections) as fast as devnet accepts them; the figure is batches
  COMMITTED per second, from the first POST until every batch is committed;
* latency — one batch at a time, POST → `batch_statuses?wait` says
  COMMITTED; median and 95th percentile over `--samples` batches.

Reference: a single-node Sawtooth 1.0 validator with devmode consensus commits
about 38 such batches per second on a 2-core machine like ours (SAWTOOTH.md);
the ratio to that figure is printed with the result.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from sawgrid.clients.sdk import keys
from sawgrid.clients.sdk.kv import kv_batch
from sawgrid.clients.sdk.rest import RestClient
from sawgrid.clients.sdk.devnet_process import DevnetProcess

SAWTOOTH_1_0_DEVMODE_BATCHES_PER_S = 38.0


def wait_for_processor(url: str, signer) -> None:
    """The first batch commits only once the processor has registered."""
    RestClient(url).submit_and_wait([kv_batch(signer, "warm-up")], timeout=60)


def rest_client_poster(url: str):
    """POST one batch with Sawgrid's RestClient (which retries 429s itself)."""
    client = RestClient(url)
    return lambda batch: client.submit([batch])


def throughput(url: str, batches: list, clients: int, progress: bool, make_poster=rest_client_poster) -> dict:
    """`clients` threads POST `batches`, each through its own `make_poster(url)`;
    committed batches per second from the first POST to the last commit."""
    chunks = [batches[i::clients] for i in range(clients)]
    errors: list[str] = []

    def post(chunk):
        submit = make_poster(url)
        for batch in chunk:
            try:
                submit(batch)
            except Exception as err:  # noqa: BLE001 - counted, and the run reports it
                errors.append(str(err))

    start = time.perf_counter()
    threads = [threading.Thread(target=post, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    posted = time.perf_counter()
    ids = [b.header_signature for b in batches]
    client = RestClient(url)
    statuses = {}
    for i in range(0, len(ids), 100):
        statuses.update(client.wait(ids[i:i + 100], timeout=300))
        if progress:
            print(f"\r  committed {min(i + 100, len(ids))}/{len(ids)}", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    done = time.perf_counter()
    committed = sum(1 for s in statuses.values() if s["status"] == "COMMITTED")
    return {
        "batches": len(batches),
        "committed": committed,
        "errors": len(errors),
        "post_seconds": round(posted - start, 3),
        "total_seconds": round(done - start, 3),
        "committed_per_second": round(committed / (done - start), 1),
    }


def latency(url: str, signer, samples: int) -> dict:
    client = RestClient(url)
    times = []
    for i in range(samples):
        batch = kv_batch(signer, f"lat{i}")
        start = time.perf_counter()
        client.submit_and_wait([batch], timeout=60)
        times.append(time.perf_counter() - start)
    times.sort()
    return {
        "samples": samples,
        "median_ms": round(statistics.median(times) * 1000, 1),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))] * 1000, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4, help="concurrent POSTing threads")
    parser.add_argument("--samples", type=int, default=50, help="latency samples")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    signer = keys.signer_for(keys.new_private_key())
    batches = [kv_batch(signer, f"k{i}", b"v") for i in range(args.batches)]
    with tempfile.TemporaryDirectory() as tmp:
        net = DevnetProcess(data_dir=Path(tmp) / "data", key_dir=Path(tmp) / "keys").start()
        try:
            wait_for_processor(net.url, signer)
            tput = throughput(net.url, batches, args.clients, progress=not args.json)
            lat = latency(net.url, signer, args.samples)
        finally:
            net.stop()
    result = {
        "throughput": tput,
        "latency": lat,
        "cpus": os.cpu_count(),
        "ratio_to_sawtooth_1_0_devmode": round(tput["committed_per_second"] / SAWTOOTH_1_0_DEVMODE_BATCHES_PER_S, 1),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"throughput: {tput['committed_per_second']} batches/s committed "
              f"({tput['committed']}/{tput['batches']} in {tput['total_seconds']} s, {args.clients} clients)")
        print(f"            = {result['ratio_to_sawtooth_1_0_devmode']}x Sawtooth 1.0 devmode's ~38/s")
        print(f"latency:    median {lat['median_ms']} ms, p95 {lat['p95_ms']} ms (POST -> COMMITTED, one at a time)")
    return 0 if tput["committed"] == tput["batches"] else 1


if __name__ == "__main__":
    sys.exit(main())
