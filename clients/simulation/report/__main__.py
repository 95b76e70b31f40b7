"""``python -m sawgrid.clients.simulation.report RESULTS [--out DIR] [--json]``: redo a saved run's report."""
from sawgrid.clients.simulation.report.text import main

if __name__ == "__main__":
    raise SystemExit(main())
