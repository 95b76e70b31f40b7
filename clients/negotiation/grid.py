"""The network the agents trade over: IEEE 14-bus from pandapower, its PTDF matrix, line limits.

Li et al. 2022 do not give their network (it did not survive extraction; the agent table puts the
agents on buses 2, 3, 4, 5, 8, 9, 10). IEEE 14-bus (`pandapower.networks.case14()`) has those
buses and is the standard small meshed case, so it is the documented choice (METHOD.md, "The
grid"). Bus numbers here are IEEE numbers (1..14); pandapower's bus index is the number - 1.

The PTDF matrix comes from pandapower's own routine, `pandapower.pypower.makePTDF.makePTDF`, on
the internal (ppci) model that `rundcpp` builds, with the case's reference bus (bus 1) as slack.
PTDF entries are dimensionless, so a flow in kW follows from injections in kW directly.

A branch is named by its IEEE end buses, "from-to" (e.g. "7-8" is the transformer to bus 8).
Line limits are not IEEE data: the IEEE case is in MVA, the agents trade kW. A case names the
limits it imposes (cases.py); a branch without a limit is unconstrained.
"""
from __future__ import annotations

import functools
import logging
import warnings
from dataclasses import dataclass

import numpy as np

IEEE14 = "ieee14"
GRIDS = (IEEE14,)


@dataclass(frozen=True, eq=False)  # identity: one Grid per name (load_grid caches it)
class Grid:
    """A network reduced to what the negotiation needs: buses, branches and the PTDF matrix."""

    name: str
    buses: tuple[int, ...]
    lines: tuple[str, ...]
    ptdf: np.ndarray  # shape (len(lines), len(buses)): flow on line l per kW injected at bus i
    slack_bus: int

    def column(self, bus: int) -> int:
        """The PTDF column of IEEE bus `bus`."""
        try:
            return self.buses.index(bus)
        except ValueError:
            raise ValueError(f"grid {self.name} has no bus {bus}") from None

    def transfer_factors(self, from_bus: int, to_bus: int) -> np.ndarray:
        """PTDF of a bilateral transfer: flow on each line per kW sent from `from_bus` to `to_bus`.

        ISF(l, from) - ISF(l, to): the slack bus cancels out (Li et al. eq. 6; Baroche et al. 2019).
        """
        return self.ptdf[:, self.column(from_bus)] - self.ptdf[:, self.column(to_bus)]

    def flows(self, injections: dict[int, float]) -> np.ndarray:
        """Line flows in kW for net injections in kW per IEEE bus (balanced or not)."""
        vector = np.zeros(len(self.buses))
        for bus, power in injections.items():
            vector[self.column(bus)] += power
        return self.ptdf @ vector


@functools.lru_cache(maxsize=None)
def load_grid(name: str = IEEE14) -> Grid:
    """Build the named grid (only "ieee14") and its PTDF matrix with pandapower."""
    if name != IEEE14:
        raise ValueError(f"unknown grid {name!r}: known grids are {', '.join(GRIDS)}")
    net, ppci = _ieee14_model()
    from pandapower.pypower.idx_brch import F_BUS, T_BUS
    from pandapower.pypower.idx_bus import BUS_TYPE, REF
    from pandapower.pypower.makePTDF import makePTDF

    ptdf = makePTDF(ppci["baseMVA"], ppci["bus"], ppci["branch"])
    # ppci buses are numbered 0..n-1 in pandapower's bus order; check that and map to IEEE numbers
    lookup = net._pd2ppc_lookups["bus"]
    for index in net.bus.index:
        if lookup[index] != index:
            raise RuntimeError("pandapower reordered case14's buses; the PTDF columns would be wrong")
    buses = tuple(int(index) + 1 for index in net.bus.index)
    lines = tuple(
        f"{int(row[F_BUS].real) + 1}-{int(row[T_BUS].real) + 1}" for row in ppci["branch"]
    )
    slack = int(np.flatnonzero(ppci["bus"][:, BUS_TYPE] == REF)[0]) + 1
    return Grid(name=name, buses=buses, lines=lines, ptdf=np.asarray(ptdf, dtype=float), slack_bus=slack)


def _ieee14_model():
    """pandapower's case14 and the internal (ppci) model that makePTDF takes, quietly."""
    logger = logging.getLogger("pandapower")
    level = logger.level
    logger.setLevel(logging.ERROR)  # "numba cannot be imported": irrelevant to a 14-bus PTDF
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecation chatter from pandas and case14's format
            import pandapower
            import pandapower.networks
            from pandapower.pd2ppc import _pd2ppc

            net = pandapower.networks.case14()
            # rundcpp only builds the options and lookups _pd2ppc needs; its flows are unused
            pandapower.rundcpp(net, numba=False)
            _, ppci = _pd2ppc(net)
    finally:
        logger.setLevel(level)
    return net, ppci
