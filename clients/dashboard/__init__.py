"""The members' web client (`sawgrid dashboard`): market, account and operator pages.

| module | concept |
|---|---|
| `config.py` | what a dashboard is given (`DashboardConfig`) and its limits, named once |
| `app.py` | the Flask app factory: blueprints, security headers, errors as short 4xx pages |
| `signin.py` | sign-in by key: single-use expiring challenges, Sawtooth's secp256k1 check, roles from the chain |
| `sessions.py` | the signed session cookie (expiry, revocation on sign-out) and the CSRF token |
| `alerts.py` | repeated failed sign-ins per client address as structured alerts; the gateway's alerts |
| `metrics.py` | the dashboard's own Prometheus metrics (prometheus-client) |
| `params.py` | query parameters: parsed and bounded, or a 400 naming the parameter |
| `queries.py` | what the pages read from the SQL mirror (totals come from `clients/sync/statement.py`) |
| `charts.py` | plotly figures as JSON; drawn by the plotly.js the dashboard serves itself |
| `views/` | one blueprint per page group: market (public), account (member), operator, sign-in |
"""
