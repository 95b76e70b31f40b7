"""`python -m sawgrid.processors [FAMILY ...] --connect URL` (same as `sawgrid tp`)."""
import os
import signal
import sys


def _stop_during_startup(signum, frame):
    # Nothing is connected yet, so there is nothing to clean up: leave at once.
    # (sys.exit here raised SystemExit wherever the interpreter was, and a second
    # signal during the shutdown that followed printed a traceback.)
    os._exit(0)


# Until `run` installs its own handlers (after the SDK's imports), a SIGINT or
# SIGTERM ends the process at once, with code 0 and nothing on stderr.
signal.signal(signal.SIGINT, _stop_during_startup)
signal.signal(signal.SIGTERM, _stop_during_startup)

from sawgrid.processors.run import main  # noqa: E402

sys.exit(main())
