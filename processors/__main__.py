"""`python -m sawgrid.processors [FAMILY ...] --connect URL` (same as `sawgrid tp`)."""
import signal
import sys


def _stop_during_startup(signum, frame):
    sys.exit(0)  # quietly: SystemExit prints no traceback


# Until `run` installs its own handlers (after the SDK's imports), a SIGINT or
# SIGTERM ends the process at once, with code 0 and nothing on stderr.
signal.signal(signal.SIGINT, _stop_during_startup)
signal.signal(signal.SIGTERM, _stop_during_startup)

from sawgrid.processors.run import main  # noqa: E402

sys.exit(main())
