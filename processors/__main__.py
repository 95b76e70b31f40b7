"""`python -m sawgrid.processors [FAMILY ...] --connect URL` (same as `sawgrid tp`)."""
import sys

from sawgrid.processors.cli import main

sys.exit(main())
