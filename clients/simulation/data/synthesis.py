"""The synthetic dataset: :func:`synthetic`, built from real profiles shipped in PyPI packages.

A deterministic stand-in for the paper's measurements (they are not
published), from the ``data`` extra: demandlib, pvlib, windpowerlib. The heavy
packages are imported only when a dataset is built; without them
:func:`synthetic` fails with :data:`DATA_EXTRA_MESSAGE`.

(The module is called ``synthesis``, not ``synthetic``, so that the package
attribute ``data.synthetic`` stays the function and never the module.)

Site and clock: weather is the DWD test reference year TRY2010 region 13
(station Mühldorf, 48.28 N 12.50 E, 405 m; hourly, 10 m wind speed, direct and
diffuse horizontal irradiance), shipped inside demandlib. It is the closest
shipped weather to the paper's setting (Bratislava, 48.15 N 17.1 E); the
weather files shipped inside pvlib are US sites (Greensboro NC 36 N, Sand Point
AK 55 N, Miami). Load profiles and weather are local standard time (CET, UTC+1),
so solar noon is about 11:20 UTC and the 18-20 h evening peak is 17-19 UTC.
Public holidays are Slovakia's (days off), treated as Sundays. The weather
year is a typical one without a year: any date maps to its month and day.
The default week, 12-18 February 2024 (:data:`DEFAULT_START`), is a winter
week with about as much sold as the paper's relative to bought energy.

* consumption: BDEW standard load profiles at 15 minutes, shipped inside
  demandlib: households the BDEW 2025 profile ``H25`` (via ``demandlib.bdew.H25``,
  dynamic), businesses one of ``G0``..``G6`` and farms one of ``L0``..``L2``
  (the 1999 profiles from demandlib's ``selp_series.csv``, looked up by season
  and day type as BDEW prescribes; demandlib's own ``ElecSlp`` turns all
  warnings into errors process-wide and then trips over pandas >= 3.1's
  deprecations, so it is not called). Scaled to an annual consumption drawn
  log-uniformly from the range of the participant's kind.
* PV: pvlib (solar position, Hay-Davies transposition, Faiman cell
  temperature, PVWatts DC and inverter) on the weather file; tilt 15-45 deg,
  azimuth 135-225 deg, DC losses 8-18 %, sized so that the typical year's yield
  is the kind's fraction of the annual consumption.
* wind: a share of a community turbine from windpowerlib's bundled oedb turbine
  library (power curves of Enercon E-53/800 at 73 m, E-82/2300 at 108 m,
  E-115/3000 at 135 m), 10 m wind speed of the same weather file taken to hub
  height with the logarithmic profile (roughness 0.1 m), sized like PV.
* jitter per participant (seeded): consumption shifted by -60..+60 minutes in
  15-minute steps, times a day factor and a 15-minute factor (log-normal,
  mean 1); PV times an hourly cloud factor; wind shifted by -1..+1 h, times an
  hourly factor. Every participant gets its own ``numpy`` Generator spawned
  from the seed, so the same seed gives identical arrays.

Mix (counts by largest remainder, so ``n=103`` is 72 / 21 / 10; which members
of a kind get PV or wind is drawn from the seed):

==========  =====  ==========  ===================  ===============  ===============
kind        share  profile     annual consumption   PV               wind share
==========  =====  ==========  ===================  ===============  ===============
household   70 %   H25         1.5 - 6 MWh          35 %, 0.5-1.2 x  5 %, 0.5-1.5 x
business    20 %   G0 - G6     10 - 250 MWh         50 %, 0.2-0.8 x  15 %, 0.5-2 x
farm        10 %   L0 - L2     15 - 80 MWh          50 %, 0.3-1.0 x  60 %, 1-3 x
==========  =====  ==========  ===================  ===============  ===============

("35 %, 0.5-1.2 x": 35 % of households have PV whose typical-year yield is
0.5 to 1.2 times their annual consumption; at least 1 kW.) The scale is a
village's, not the paper's: its industrial and shopping-centre participants
bought about 32 MWh each in the week, ours about 0.35 MWh. In a winter week a
participant consumes about 0.8-1.5 times 7/365 of its annual consumption (BDEW
winter profiles are above the yearly mean; day and 15-minute noise widen it).
"""
from __future__ import annotations

import csv
import datetime as dt
import functools
import math
from pathlib import Path
from types import MappingProxyType
from typing import Iterable

import numpy as np

from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.simulation.data.model import QUARTER, QUARTERS_PER_HOUR, Dataset, Participant
from sawgrid.clients.simulation.data.noise import lognormal
from sawgrid.processors.market.units import HOURS_PER_DAY, WH_PER_KWH

__all__ = ["synthetic", "MIX", "SITE", "DEFAULT_START", "DATA_EXTRA_MESSAGE"]

DATA_EXTRA_MESSAGE = "the synthetic dataset needs the 'data' extra: pip install -e '.[data]'"


# ------------------------------------------------------------------------ raw data

def _require_data_extra():
    """Import the heavy packages of the 'data' extra, or fail with one clear line."""
    import importlib
    try:
        for module in ("pandas", "demandlib.bdew", "pvlib", "windpowerlib"):
            importlib.import_module(module)
    except ImportError:
        raise SawgridError(DATA_EXTRA_MESSAGE) from None


#: Site of the weather file (DWD TRY2010 region 13, station Mühldorf) and the
#: clock of the weather file and the BDEW profiles (CET = UTC+1, no DST).
SITE = MappingProxyType({"name": "DWD TRY2010 region 13 (Mühldorf)", "latitude": 48.2833,
                         "longitude": 12.5, "altitude": 405.0, "utc_offset_hours": 1})
_LOCAL = dt.timedelta(hours=SITE["utc_offset_hours"])
_TZ = "Etc/GMT-1"                  # POSIX sign: UTC+1
_TURBINES = (("E-53/800", 73.0), ("E-82/2300", 108.0), ("E-115/3000", 135.0))
_ROUGHNESS_M = 0.1
_CLASSIC_PROFILES = ("g0", "g1", "g2", "g3", "g4", "g5", "g6", "l0", "l1", "l2")

#: kind -> (share, profiles, annual kWh range, PV share, PV yield/consumption,
#:          wind share, wind yield/consumption, consumption noise (day, 15 min))
MIX = MappingProxyType({
    "household": (0.70, ("H25",), (1_500.0, 6_000.0), 0.35, (0.5, 1.2), 0.05, (0.5, 1.5), (0.10, 0.30)),
    "business": (0.20, tuple(f"G{i}" for i in range(7)), (10_000.0, 250_000.0),
                 0.50, (0.2, 0.8), 0.15, (0.5, 2.0), (0.05, 0.10)),
    "farm": (0.10, ("L0", "L1", "L2"), (15_000.0, 80_000.0), 0.50, (0.3, 1.0), 0.60, (1.0, 3.0), (0.08, 0.15)),
})


def _weather_path() -> Path:
    import demandlib
    path = Path(demandlib.__file__).parent / "vdi" / "resources_weather" / "TRY2010_13_Jahr.dat"
    if not path.is_file():
        raise SawgridError(f"weather file missing from the demandlib package: {path}")
    return path


@functools.lru_cache(maxsize=1)
def _weather() -> dict[str, np.ndarray]:
    """The typical year: 8760 rows (day-of-year x HH 1..24 CET), columns as arrays."""
    lines = _weather_path().read_text(encoding="latin-1").splitlines()
    try:
        body = lines[next(i for i, line in enumerate(lines) if line.startswith("***")) + 1:]
        arr = np.array([line.split() for line in body if line.strip()], dtype=float)
    except (StopIteration, ValueError) as err:
        raise SawgridError(f"cannot parse the weather file {_weather_path()}: {err}") from None
    if arr.shape != (8760, 19):
        raise SawgridError(f"unexpected weather file layout {arr.shape} in {_weather_path()}")
    # RG IS MM DD HH N WR WG t p x RF W B D IK A E IL
    return {"wind10": arr[:, 7], "temp": arr[:, 8], "dhi": arr[:, 14], "ghi": arr[:, 13] + arr[:, 14]}


_CUM_DAYS = np.cumsum([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30])


@functools.lru_cache(maxsize=16)
def _site(first: dt.datetime, count: int):
    """Weather and sun at the hourly local instants first, first+1h, ... (CET, naive).

    The TRY value labelled hour HH of a day describes the hour centred on HH:00
    (its daily irradiance centroid is solar noon), so it is used as the value
    at instant HH:00; hour-long intervals are then the mean of their two ends.
    """
    import pandas as pd
    import pvlib
    times = pd.date_range(first, periods=count, freq="h")
    label = times - pd.Timedelta(hours=1)            # HH = label.hour + 1 on label's day
    month, day = np.asarray(label.month), np.asarray(label.day)
    doy = _CUM_DAYS[month - 1] + day - 1
    doy = np.where((month == 2) & (day == 29), 58, doy)   # the typical year has no 29 February
    rows = doy * HOURS_PER_DAY + np.asarray(label.hour)
    w = _weather()
    aware = times.tz_localize(_TZ)
    sun = pvlib.solarposition.get_solarposition(aware, SITE["latitude"], SITE["longitude"], SITE["altitude"])
    ghi, dhi = w["ghi"][rows], w["dhi"][rows]
    zenith = np.asarray(sun["zenith"])
    dni = np.nan_to_num(np.asarray(pvlib.irradiance.dni(ghi, dhi, zenith), dtype=float))
    return {
        "zenith": np.asarray(sun["apparent_zenith"]), "azimuth": np.asarray(sun["azimuth"]),
        "ghi": ghi, "dhi": dhi, "dni": dni, "temp": w["temp"][rows], "wind10": w["wind10"][rows],
        "dni_extra": np.asarray(pvlib.irradiance.get_extra_radiation(aware), dtype=float),
    }


def _pv_w(site, kwp: float, tilt: float, azimuth: float, derate: float) -> np.ndarray:
    """AC power (W) of a PV system at the site's instants (pvlib, PVWatts)."""
    import pvlib
    poa = pvlib.irradiance.get_total_irradiance(
        tilt, azimuth, site["zenith"], site["azimuth"], site["dni"], site["ghi"], site["dhi"],
        dni_extra=site["dni_extra"], albedo=0.2, model="haydavies")
    g = np.nan_to_num(np.asarray(poa["poa_global"], dtype=float)).clip(0)
    cell = pvlib.temperature.faiman(g, site["temp"], site["wind10"])
    dc = np.asarray(pvlib.pvsystem.pvwatts_dc(g, cell, kwp * 1000.0, -0.004), dtype=float) * derate
    ac = np.asarray(pvlib.inverter.pvwatts(dc, kwp * 1000.0), dtype=float)
    return np.nan_to_num(ac).clip(0)


@functools.lru_cache(maxsize=None)
def _turbine_curve(turbine: str) -> tuple[np.ndarray, np.ndarray, float]:
    from windpowerlib import WindTurbine
    hub = dict(_TURBINES)[turbine]
    t = WindTurbine(hub_height=hub, turbine_type=turbine)        # windpowerlib's bundled oedb library
    if t.power_curve is None or not t.nominal_power:
        raise SawgridError(f"windpowerlib has no power curve for {turbine}")
    return (np.asarray(t.power_curve["wind_speed"], dtype=float),
            np.asarray(t.power_curve["value"], dtype=float), float(t.nominal_power))


def _wind_w_per_kw(site, turbine: str) -> np.ndarray:
    """Power (W) per kW of turbine capacity at the site's instants (windpowerlib)."""
    from windpowerlib import power_output, wind_speed
    speeds, values, nominal = _turbine_curve(turbine)
    v = wind_speed.logarithmic_profile(site["wind10"], 10.0, dict(_TURBINES)[turbine], _ROUGHNESS_M)
    p = np.asarray(power_output.power_curve(np.asarray(v, dtype=float), speeds, values), dtype=float)
    return np.nan_to_num(p).clip(0) / nominal * 1000.0


@functools.lru_cache(maxsize=1)
def _yields() -> dict[str, float]:
    """Typical-year kWh per kW: PV (south, 30 deg, 13 % losses) and each turbine."""
    site = _site(dt.datetime(2023, 1, 1, 0), 8760 + 1)
    out = {"pv": float(_intervals(_pv_w(site, 1.0, 30.0, 180.0, 0.87)).sum() / WH_PER_KWH)}
    for turbine, _hub in _TURBINES:
        out[turbine] = float(_intervals(_wind_w_per_kw(site, turbine)).sum() / WH_PER_KWH)
    return out


def _intervals(instants: np.ndarray) -> np.ndarray:
    """Mean power over each hour between consecutive instants (trapezoid) = Wh per hour."""
    return (instants[:-1] + instants[1:]) / 2.0


def _easter(year: int) -> dt.date:
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 19 * l_) // 433
    month = (h + l_ - 7 * m + 90) // 25
    return dt.date(year, month, (h + l_ - 7 * m + 33 * month + 19) % 32)


def _holidays(year: int) -> list[dt.date]:
    """Slovak public holidays that are days off."""
    fixed = [(1, 1), (1, 6), (5, 1), (5, 8), (7, 5), (8, 29), (9, 15), (11, 1), (12, 24), (12, 25), (12, 26)]
    easter = _easter(year)
    return sorted([dt.date(year, m, d) for m, d in fixed]
                  + [easter - dt.timedelta(days=2), easter + dt.timedelta(days=1)])


@functools.lru_cache(maxsize=1)
def _selp_table() -> dict[tuple[str, int], np.ndarray]:
    """demandlib's BDEW 1999 profiles: (period, weekday 1..7) -> (96, len(_CLASSIC_PROFILES))."""
    from demandlib.bdew import _profiles25
    path = Path(_profiles25._bdew_datapath) / "selp_series.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        idx = [header.index(p) for p in _CLASSIC_PROFILES]
        i_period, i_weekday = header.index("period"), header.index("weekday")
        table: dict[tuple[str, int], list] = {}
        for row in reader:
            table.setdefault((row[i_period], int(row[i_weekday])), []).append([float(row[i]) for i in idx])
    out = {k: np.asarray(v) for k, v in table.items()}
    if len(out) != 21 or any(v.shape != (96, len(idx)) for v in out.values()):
        raise SawgridError(f"unexpected layout of {path}")
    return out


def _bdew_period(day: dt.date) -> str:
    md = (day.month, day.day)
    if md <= (3, 20) or md >= (11, 1):
        return "winter"
    if (5, 15) <= md <= (9, 14):
        return "summer"
    return "transition"


@functools.lru_cache(maxsize=8)
def _slp_year(year: int) -> dict[str, np.ndarray]:
    """Every load profile of a year as fractions of the annual energy per 15 minutes (local time)."""
    import warnings

    import pandas as pd
    from demandlib import bdew
    ndays = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days
    holidays = set(_holidays(year))
    table = _selp_table()
    classic = np.empty((ndays * 96, len(_CLASSIC_PROFILES)))
    for d in range(ndays):
        day = dt.date(year, 1, 1) + dt.timedelta(days=d)
        weekday = 7 if day in holidays else day.isoweekday()
        classic[d * 96:(d + 1) * 96] = table[(_bdew_period(day), weekday)]
    classic /= classic.sum(axis=0)
    out = {p.upper(): np.ascontiguousarray(classic[:, k]) for k, p in enumerate(_CLASSIC_PROFILES)}
    index = pd.date_range(dt.datetime(year, 1, 1), periods=ndays * 96, freq="15min")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h25 = np.asarray(bdew.H25(index, holidays=sorted(holidays)), dtype=float)
    if h25.shape != (ndays * 96,) or not np.isfinite(h25).all():
        raise SawgridError("demandlib's H25 profile has an unexpected shape")
    out["H25"] = h25 / h25.sum()
    return out


def _slp_window(profile: str, first: dt.datetime, count: int) -> np.ndarray:
    """`count` quarter-hour fractions of `profile` from local time `first` (across years)."""
    parts, t, left = [], first, count
    while left:
        arr = _slp_year(t.year)[profile]
        off = int((t - dt.datetime(t.year, 1, 1)) / QUARTER)
        take = min(left, len(arr) - off)
        parts.append(arr[off:off + take])
        t += take * QUARTER
        left -= take
    return np.concatenate(parts)


# ------------------------------------------------------------------------ participants

def _largest_remainder(n: int, shares: Iterable[float]) -> list[int]:
    shares = list(shares)
    raw = [n * s / sum(shares) for s in shares]
    counts = [int(math.floor(r)) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(math.log(lo), math.log(hi))))


#: a winter Monday; in the weather file the week 12-18 February has a sold/bought
#: ratio (0.63 with the default mix) close to the paper's (2.0 / 3.36 GWh = 0.60).
#: (Winter weeks range from almost no wind, 0.05, to 1.2.)
DEFAULT_START = dt.date(2024, 2, 12)


def synthetic(n: int = 103, days: int = 7, seed: int = 0, start: dt.date = DEFAULT_START) -> Dataset:
    """A deterministic dataset from real shipped profiles (see the module docstring).

    The same arguments always give identical arrays (cached in-process).
    Needs the 'data' extra (demandlib, pvlib, windpowerlib).
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise SawgridError(f"n must be a positive integer, got {n!r}")
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 366:
        raise SawgridError(f"days must be an integer in 1..366, got {days!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise SawgridError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(start, dt.datetime) or not isinstance(start, dt.date):
        raise SawgridError(f"start must be a datetime.date, got {start!r}")
    _require_data_extra()
    import warnings
    with warnings.catch_warnings():      # pandas 3 deprecation chatter from pvlib / windpowerlib
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return _synthetic(n, days, seed, start)


@functools.lru_cache(maxsize=8)
def _synthetic(n: int, days: int, seed: int, start: dt.date) -> Dataset:
    hours = days * HOURS_PER_DAY
    # local instants from one hour before the first UTC hour's start to one hour after the last's end
    local0 = dt.datetime.combine(start, dt.time()) + _LOCAL
    site = _site(local0 - dt.timedelta(hours=1), hours + 3)
    yields = _yields()

    seq = np.random.SeedSequence(seed)
    mix_seq, *part_seqs = seq.spawn(n + 1)
    mix_rng = np.random.default_rng(mix_seq)
    kinds = list(MIX)
    counts = _largest_remainder(n, (MIX[k][0] for k in kinds))
    plan: list[tuple[str, int, bool, bool]] = []
    for kind, count in zip(kinds, counts):
        _share, _profiles, _annual, pv_share, _pv, wind_share, _wind, _noise = MIX[kind]
        n_pv, n_wind = (int(math.floor(count * s + 0.5)) for s in (pv_share, wind_share))
        pv_set = set(mix_rng.permutation(count)[:n_pv].tolist())
        wind_set = set(mix_rng.permutation(count)[:n_wind].tolist())
        plan += [(kind, k + 1, k in pv_set, k in wind_set) for k in range(count)]

    margin = QUARTERS_PER_HOUR                  # consumption shift of up to one hour either way
    nq = hours * QUARTERS_PER_HOUR
    # what does not depend on the participant is computed once, not once per participant
    # (the same arrays, so the same dataset): each profile's window, each turbine's power curve
    windows: dict[str, np.ndarray] = {}
    turbine_w_per_kw: dict[str, np.ndarray] = {}
    participants, cons, pv, wind = [], np.zeros((n, hours)), np.zeros((n, hours)), np.zeros((n, hours))
    for i, ((kind, k, has_pv, has_wind), pseq) in enumerate(zip(plan, part_seqs)):
        rng = np.random.default_rng(pseq)
        _share, profiles, (lo, hi), _ps, pv_ratio, _ws, wind_ratio, (sd_day, sd_q) = MIX[kind]
        profile = profiles[int(rng.integers(len(profiles)))]
        annual = round(_log_uniform(rng, lo, hi), 1)
        shift = int(rng.integers(-margin, margin + 1))
        if profile not in windows:
            windows[profile] = _slp_window(profile, local0 - margin * QUARTER, nq + 2 * margin)
        frac = windows[profile][margin + shift: margin + shift + nq]
        q = annual * WH_PER_KWH * frac
        q *= np.repeat(lognormal(rng, sd_day, days), HOURS_PER_DAY * QUARTERS_PER_HOUR)
        q *= lognormal(rng, sd_q, nq)
        cons[i] = q.reshape(hours, QUARTERS_PER_HOUR).sum(axis=1)
        kwp = kw = None
        if has_pv:
            kwp = max(1.0, round(annual * rng.uniform(*pv_ratio) / yields["pv"], 1))
            tilt, azimuth, derate = rng.uniform(15, 45), rng.uniform(135, 225), rng.uniform(0.82, 0.92)
            power = _pv_w(site, kwp, tilt, azimuth, derate)[1:hours + 2]
            pv[i] = _intervals(power) * lognormal(rng, 0.10, hours)
        if has_wind:
            turbine = _TURBINES[int(rng.integers(len(_TURBINES)))][0]
            kw = max(1.0, round(annual * rng.uniform(*wind_ratio) / yields[turbine], 1))
            s = int(rng.integers(-1, 2))
            if turbine not in turbine_w_per_kw:
                turbine_w_per_kw[turbine] = _wind_w_per_kw(site, turbine)
            power = turbine_w_per_kw[turbine][1 + s: hours + 2 + s] * kw
            wind[i] = _intervals(power) * lognormal(rng, 0.10, hours)
        participants.append(Participant(
            name=f"{kind}-{k:03d}", kind=kind, has_pv=has_pv, has_wind=has_wind,
            profile=profile, annual_kwh=annual, pv_kwp=kwp, wind_kw=kw))
    as_wh = lambda a: np.rint(a).astype(np.int64)  # noqa: E731
    by_source = {"pv": as_wh(pv), "wind": as_wh(wind)}
    return Dataset(start=start, participants=tuple(participants), consumption=as_wh(cons),
                   production=by_source["pv"] + by_source["wind"],
                   source=f"synthetic seed={seed} n={n} days={days} start={start.isoformat()}",
                   production_by_source=by_source)

