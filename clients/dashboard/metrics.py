"""The dashboard's own Prometheus metrics (prometheus-client), one registry per app."""
from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter("sawgrid_dashboard_requests", "HTTP requests answered, by status code",
                                ["status"], registry=self.registry)
        self.sign_ins = Counter("sawgrid_dashboard_sign_ins", "successful sign-ins, by role", ["role"],
                                registry=self.registry)
        self.sign_in_failures = Counter("sawgrid_dashboard_sign_in_failures", "failed sign-ins, by reason",
                                        ["reason"], registry=self.registry)
        self.alerts = Counter("sawgrid_dashboard_alerts", "alerts raised by the dashboard, by kind", ["kind"],
                              registry=self.registry)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
