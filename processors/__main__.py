"""`python -m sawgrid.processors [FAMILY ...] --connect URL` (same as `sawgrid tp`)."""
import sys

from sawgrid.processors.run import main

sys.exit(main())
