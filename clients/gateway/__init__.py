"""The entry point members and meters use: rate limits and a basic IDS in front of the REST API.

One module per concept:

* `limits`   — token buckets per client address and per signer key; `--limits`
* `batches`  — what a `POST /batches` body says: batch ids, signer keys, families
* `ids`      — the intrusion detector (`Detector`), reusable: the dashboard feeds it failed sign-ins
* `outcomes` — what became of forwarded batches, learnt off the forwarding path
* `metrics`  — the Prometheus counters behind `GET /metrics`
* `proxy`    — the HTTP server that ties them together (`Gateway`, `sawgrid gateway`)
"""
