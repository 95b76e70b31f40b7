"""The gateway's Prometheus metrics (prometheus-client), in a registry of its
own so that several gateways in one process (tests) do not share counters.

Names (all prefixed `sawgrid_gateway_`):

* `requests_total{outcome}`: every request, by what became of it:
  forwarded, rate_limited, too_large, refused (a bad or unknown-family
  BatchList), upstream_error (502), own (/metrics, /_gateway/*).
* `rate_limited_total{scope}`: 429s by what ran out: client, key, penalty.
* `batches_total{outcome}`: submitted batches: forwarded, then committed,
  invalid or unresolved (no final status within the watch time).
* `alerts_total{kind}`: the IDS's alerts (clients/gateway/ids.py kinds).
* `upstream_seconds`: time the upstream took to answer a forwarded request.
* `watched_batches`: batches whose outcome is still awaited.
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from sawgrid.clients.gateway.ids import KINDS

__all__ = ["GatewayMetrics", "CONTENT_TYPE"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
PREFIX = "sawgrid_gateway"
REQUEST_OUTCOMES = ("forwarded", "rate_limited", "too_large", "refused", "upstream_error", "own")
LIMIT_SCOPES = ("client", "key", "penalty")
BATCH_OUTCOMES = ("forwarded", "committed", "invalid", "unresolved")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class GatewayMetrics:
    """The counters above; `render()` is the /metrics body."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(f"{PREFIX}_requests", "Requests, by what became of them", ["outcome"], registry=r)
        self.rate_limited = Counter(f"{PREFIX}_rate_limited", "429 answers, by what ran out", ["scope"],
                                    registry=r)
        self.batches = Counter(f"{PREFIX}_batches", "Submitted batches, by outcome", ["outcome"], registry=r)
        self.alerts = Counter(f"{PREFIX}_alerts", "IDS alerts, by kind", ["kind"], registry=r)
        self.upstream_seconds = Histogram(f"{PREFIX}_upstream_seconds", "Upstream answer time of forwarded "
                                          "requests", buckets=LATENCY_BUCKETS, registry=r)
        self.watched = Gauge(f"{PREFIX}_watched_batches", "Batches whose outcome is awaited", registry=r)
        for outcome in REQUEST_OUTCOMES:  # every series exists from the start, at 0
            self.requests.labels(outcome)
        for scope in LIMIT_SCOPES:
            self.rate_limited.labels(scope)
        for outcome in BATCH_OUTCOMES:
            self.batches.labels(outcome)
        for kind in KINDS:
            self.alerts.labels(kind)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
