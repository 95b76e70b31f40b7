"""Third-party log noise kept out of `sawgrid simulate`'s output.

The CLI logs at INFO, which lets libraries' chatter through: matplotlib's
``generated new fontManager`` on the first figure of a machine, and the
like. :func:`quiet_third_party_logs` sets those libraries' loggers to
WARNING, so their warnings and errors still show. A logger someone has
given a level of its own is left alone. The verifier agents the run drives
(`sawgrid.verifier`) log a line per decision, as `sawgrid verifier run`
should; in the run, the enrollment phase line and the report say it once.
"""
from __future__ import annotations

import logging

__all__ = ["NOISY_LOGGERS", "quiet_third_party_logs"]

#: libraries the simulation and its report use that log routine INFO messages
NOISY_LOGGERS = ("matplotlib", "PIL", "fontTools", "numexpr", "urllib3", "pvlib", "windpowerlib", "demandlib",
                 "sawgrid.verifier")


def quiet_third_party_logs(names: tuple[str, ...] = NOISY_LOGGERS, level: int = logging.WARNING) -> None:
    """Set each of `names`' loggers to `level` unless it already has a level of its own."""
    for name in names:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(level)
