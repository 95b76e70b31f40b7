"""The operator's page: participants pending approval (and the enrollment
family's join requests, where its client module exists), declined contracts,
and alerts: the dashboard's own and the gateway's."""
from __future__ import annotations

import importlib
import importlib.util

from flask import Blueprint, render_template

from sawgrid.clients.dashboard import queries
from sawgrid.clients.dashboard.alerts import gateway_alerts
from sawgrid.clients.dashboard.app import services
from sawgrid.clients.dashboard.config import MAX_TRADES
from sawgrid.clients.dashboard.views import require_operator
from sawgrid.clients.sdk import market
from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.protos import market_pb2 as pb

bp = Blueprint("operator", __name__)
ENROLLMENT_MODULE = "sawgrid.clients.sdk.enrollment"


@bp.get("/operator")
def page():
    require_operator()
    s = services()
    pending, ledger_error = [], None
    try:
        pending = [p for p in market.MarketReader(s.ledger).participants() if p.status != pb.APPROVED]
    except SawgridError:
        ledger_error = "the ledger's REST API cannot be read right now"
    gateway = None
    if s.config.gateway_url:
        found = gateway_alerts(s.config.gateway_url)
        gateway = "unreachable" if found is None else found
    return render_template(
        "operator.html", pending=pending, ledger_error=ledger_error, enrollment=_enrollment_requests(s.ledger),
        declined=queries.declined_contracts(s.engine, MAX_TRADES), own_alerts=s.alerts.all(),
        gateway=gateway, gateway_url=s.config.gateway_url)


def _enrollment_requests(ledger) -> list[dict] | None:
    """The enrollment family's pending join requests (clients/sdk/enrollment.py:
    `EnrollmentReader.pending`, `request_json`), when that module exists;
    None: no enrollment family in this installation. Imported by name so the
    dashboard runs with or without it."""
    if importlib.util.find_spec(ENROLLMENT_MODULE) is None:
        return None
    try:
        enrollment = importlib.import_module(ENROLLMENT_MODULE)
        docs = [enrollment.request_json(r) for r in enrollment.EnrollmentReader(ledger).pending()]
    except (ImportError, AttributeError, SawgridError):
        return None
    return sorted(docs, key=lambda d: d.get("requested_at") or 0)
