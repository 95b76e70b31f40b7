"""What a dashboard is given, and its limits (named once here)."""
from __future__ import annotations

from dataclasses import dataclass

CHALLENGE_TTL = 120.0            # seconds a sign-in challenge stays valid
MAX_CHALLENGES = 10_000          # outstanding challenges; beyond: 503 until some expire
MAX_CHALLENGES_PER_CLIENT = 20   # outstanding challenges of one client address; beyond: 429
SESSION_MINUTES = 30             # default session lifetime
MAX_BODY = 16 * 1024             # bytes of a request body (413 beyond)
MAX_QUERY = 2048                 # bytes of a query string (414 beyond)
FAILED_SIGN_IN_LIMIT = 5         # failed sign-ins from one client address within...
FAILED_SIGN_IN_WINDOW = 60.0     # ...this many seconds raise an alert and a 429
MAX_ALERTS = 1000                # alerts kept in memory (newest)
GATEWAY_TIMEOUT = 3.0            # seconds for GET /_gateway/alerts
MAX_TRADES = 500                 # trades listed on one page


@dataclass(frozen=True)
class DashboardConfig:
    """db_url: the SQL mirror (`sawgrid sync --db`); rest_url: the REST API for
    live data and roles; gateway_url: where `/_gateway/alerts` is served
    (None: no gateway); tls: served over HTTPS (cookies are then Secure);
    secret_key: signs the session cookie (random per process by default, so
    a restart signs everyone out)."""

    db_url: str
    rest_url: str
    gateway_url: str | None = None
    tls: bool = False
    secret_key: bytes | None = None
    session_minutes: int = SESSION_MINUTES
    challenge_ttl: float = CHALLENGE_TTL
    behind_proxy: bool = False   # trust one proxy's X-Forwarded-For/-Proto (nginx in compose)
