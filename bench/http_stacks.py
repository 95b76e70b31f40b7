"""The HTTP stacks under devnet's REST API and Sawgrid's REST client, measured
side by side: is a well-kept alternative faster than the standard library?

    python bench/http_stacks.py [--batches 1500] [--rounds 3] [--json]

Four combinations, each round in turn (stdlib/stdlib, aiohttp server,
httpx client, both), `--rounds` times, on a fresh `sawgrid devnet
--processors` each time:

* server: devnet's own `RestApi` (http.server, threads, HTTP/1.1 keep-alive)
  or an aiohttp application (what Sawtooth's own REST API uses) serving the
  very same framework-free routes (`devnet.rest_api.dispatch`) — the routes
  block (a `wait=` on batch statuses), so aiohttp runs them in its default
  thread pool;
* client: `RestClient` (http.client, one keep-alive connection per thread)
  or an httpx.Client per thread (keep-alive pool).

Figures: one-transaction sawgrid-kv batches COMMITTED per second with 4
posting threads (as bench/devnet_throughput.py), and the median latency of
one batch from POST to COMMITTED. Medians over the rounds; ratios against
stdlib/stdlib from the same run. The aiohttp adapter lives here, in bench/,
and is not part of devnet: it exists to be measured.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from devnet_throughput import rest_client_poster, throughput  # noqa: E402  (the same posting loop and figure)

SERVERS = ("stdlib", "aiohttp")
CLIENTS = ("stdlib", "httpx")


# --------------------------------------------------------------------------
# The aiohttp server (runs inside the devnet child process)
# --------------------------------------------------------------------------
def aiohttp_rest_api():
    """A class with RestApi's interface that serves devnet's routes with aiohttp."""
    from aiohttp import web

    from sawgrid.devnet.rest_api import Request, Routes, dispatch
    from sawgrid.devnet.rest_api.routes import DEFAULT_TIMEOUT

    class AiohttpRestApi:
        def __init__(self, ledger, host: str, port: int, *, timeout: float = DEFAULT_TIMEOUT,
                     max_body: int = 10 * 1024 * 1024, faults=None) -> None:
            self.routes = Routes(ledger, timeout)
            self.host, self.port, self.max_body = host, port, max_body
            self._loop = asyncio.new_event_loop()
            self._ready = threading.Event()
            self._runner = None

        @property
        def url(self) -> str:
            return f"http://{self.host}:{self.port}"

        async def _handle(self, request: web.Request) -> web.Response:
            body = await request.read()
            req = Request.parse(request.method, request.path_qs, request.headers, body, f"{self.host}:{self.port}")
            response = await self._loop.run_in_executor(None, dispatch, self.routes, req)
            return web.Response(status=response.status, body=response.encode(), headers=response.headers,
                                content_type="application/json")

        async def _start(self) -> None:
            app = web.Application(client_max_size=self.max_body)
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, self.host, self.port)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]

        def start(self) -> None:
            def run() -> None:
                asyncio.set_event_loop(self._loop)
                self._loop.run_until_complete(self._start())
                self._ready.set()
                self._loop.run_forever()

            threading.Thread(target=run, name="aiohttp-rest", daemon=True).start()
            self._ready.wait(10)

        def stop(self) -> None:
            if self._runner is not None:
                asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)

    return AiohttpRestApi


def serve(server: str, cli_args: list[str]) -> int:
    """Run `sawgrid devnet` with the chosen REST server (the child process)."""
    if server == "aiohttp":
        import sawgrid.devnet.server as devnet_server

        devnet_server.RestApi = aiohttp_rest_api()
    from sawgrid.clients.cli.main import main as sawgrid_main

    return sawgrid_main(cli_args)


# --------------------------------------------------------------------------
# The clients (in this process)
# --------------------------------------------------------------------------
def poster(client: str, url: str):
    """A function that POSTs one batch (retrying 429) with the chosen client."""
    from sawgrid.protos.envelopes import batch_list_bytes

    if client == "stdlib":
        return rest_client_poster(url)
    import httpx

    http = httpx.Client(base_url=url, timeout=30)

    def post(batch) -> None:
        body = batch_list_bytes([batch])
        for _ in range(20):
            answer = http.post("/batches", content=body, headers={"Content-Type": "application/octet-stream"})
            if answer.status_code != 429:
                answer.raise_for_status()
                return
            time.sleep(0.05)
        raise RuntimeError("429 twenty times")

    return post


def waiter(client: str, url: str):
    """A function that waits for one batch to commit with the chosen client."""
    from sawgrid.clients.sdk.rest import RestClient

    if client == "stdlib":
        rest = RestClient(url)
        return lambda batch_id: rest.wait([batch_id], timeout=60)
    import httpx

    http = httpx.Client(base_url=url, timeout=90)

    def wait(batch_id: str) -> None:
        while http.get("/batch_statuses", params={"id": batch_id, "wait": 30}).json()["data"][0]["status"] == "PENDING":
            pass

    return wait


def one_round(server: str, client: str, batches: list, latency_batches: list, threads: int) -> dict:
    from sawgrid.clients.sdk.devnet_process import DevnetProcess
    from sawgrid.clients.sdk.rest import RestClient

    class BenchDevnet(DevnetProcess):
        def command(self) -> list[str]:
            return [sys.executable, __file__, "--serve", server, *super().command()[3:]]

    with tempfile.TemporaryDirectory() as tmp:
        with BenchDevnet(data_dir=Path(tmp) / "data", key_dir=Path(tmp) / "keys") as net:
            RestClient(net.url).submit_and_wait([batches[0]], timeout=60)  # the processor has registered
            work = batches[1:]
            tput = throughput(net.url, work, threads, progress=False, make_poster=lambda url: poster(client, url))
            post, wait = poster(client, net.url), waiter(client, net.url)
            times = []
            for batch in latency_batches:
                t0 = time.perf_counter()
                post(batch)
                wait(batch.header_signature)
                times.append(time.perf_counter() - t0)
    return {"committed_per_second": tput["committed_per_second"], "committed": tput["committed"],
            "batches": len(work), "latency_ms": statistics.median(times) * 1000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)  # the devnet child
    args, rest = parser.parse_known_args()
    if args.serve:
        return serve(args.serve, rest)

    from sawgrid.clients.sdk import keys
    from sawgrid.clients.sdk.kv import kv_batch

    signer = keys.signer_for(keys.new_private_key())
    combos = [(s, c) for s in SERVERS for c in CLIENTS]
    runs: dict[tuple[str, str], list[dict]] = {combo: [] for combo in combos}
    for r in range(args.rounds):
        for server, client in combos:
            batches = [kv_batch(signer, f"{r}-{server}-{client}-{i}", b"v") for i in range(args.batches + 1)]
            latency = [kv_batch(signer, f"{r}-{server}-{client}-lat{i}") for i in range(args.samples)]
            result = one_round(server, client, batches, latency, args.threads)
            runs[(server, client)].append(result)
            print(f"round {r + 1}/{args.rounds} server={server:7} client={client:6} "
                  f"{result['committed_per_second']:7.1f} committed/s, latency {result['latency_ms']:.1f} ms",
                  file=sys.stderr, flush=True)
    table = {}
    base = statistics.median(x["committed_per_second"] for x in runs[("stdlib", "stdlib")])
    base_latency = statistics.median(x["latency_ms"] for x in runs[("stdlib", "stdlib")])
    for combo, results in runs.items():
        tput = statistics.median(x["committed_per_second"] for x in results)
        lat = statistics.median(x["latency_ms"] for x in results)
        table[f"{combo[0]}+{combo[1]}"] = {
            "committed_per_second": round(tput, 1), "throughput_ratio": round(tput / base, 2),
            "latency_ms": round(lat, 1), "latency_ratio": round(lat / base_latency, 2),
            "all_committed": all(x["committed"] == x["batches"] for x in results)}
    if args.json:
        print(json.dumps(table, indent=2))
    else:
        print("server+client      committed/s  ratio   latency  ratio")
        for name, row in table.items():
            print(f"{name:17} {row['committed_per_second']:12.1f} {row['throughput_ratio']:6.2f} "
                  f"{row['latency_ms']:7.1f}ms {row['latency_ratio']:6.2f}")
    return 0 if all(row["all_committed"] for row in table.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
