"""`python -m sawgrid.clients.cli ...` is `sawgrid ...`."""
import sys

from sawgrid.clients.cli.main import main

sys.exit(main())
