"""The simulation's input data: the paper's CSV format, the synthetic dataset, the paper's preparation."""
from __future__ import annotations

import datetime as dt
import sys

import numpy as np
import pytest

from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.simulation import data
from sawgrid.clients.simulation.data import synthesis
from sawgrid.clients.simulation.data import Dataset, Participant, load_csv, paper_preparation, to_csv


def heavy():
    """Skip unless the 'data' extra is installed."""
    for name in ("pandas", "demandlib", "pvlib", "windpowerlib"):
        pytest.importorskip(name)


# ------------------------------------------------------------------ CSV import

def quarter_rows(day: str, values):
    """values(hour, quarter) -> tuple of cell strings; 96 rows of one day."""
    t0 = dt.datetime.fromisoformat(day)
    for i in range(96):
        t = t0 + dt.timedelta(minutes=15 * i)
        yield ",".join([t.strftime("%Y-%m-%d %H:%M"), *values(i // 4, i % 4)])


def alice(h, q):
    # consumption: 0.25 kWh every quarter (1000 Wh/h), except
    #   hour 7: 0.1+0.2+0.3+0.4 = 1.0 kWh, hour 18: 0.5+0.6+0.7+0.8 = 2.6 kWh
    # production_pv: hour 11 four times 0.125 = 0.5 kWh, hour 12 0.333 x4 = 1.332 kWh
    # production_wind: 0.001 kWh every quarter = 4 Wh/h
    cons = {7: ("0.1", "0.2", "0.3", "0.4"), 18: ("0.5", "0.6", "0.7", "0.8")}.get(h, ("0.25",) * 4)[q]
    pv = {11: "0.125", 12: "0.333"}.get(h, "0")
    return cons, pv, "0.001", "-3.5"          # last: a weather column (ignored, may be negative)


def bob(h, q):
    # consumption 0.0005 kWh per quarter = 2 Wh/h; no PV; wind 1.5 kWh per quarter in hour 3 = 6000 Wh
    return "0.0005", "0", ("1.5" if h == 3 else "0"), "1.0"


EXPECTED_ALICE_CONS = [1000] * 24
EXPECTED_ALICE_CONS[18] = 2600
EXPECTED_ALICE_PV = [0] * 24
EXPECTED_ALICE_PV[11], EXPECTED_ALICE_PV[12] = 500, 1332


def write_two_participants(path):
    header = "timestamp,participant,consumption,production_pv,production_wind,temperature"
    lines = [header]
    rows_a = [f"{r.split(',', 1)[0]},alice,{r.split(',', 1)[1]}" for r in quarter_rows("2024-01-08", alice)]
    rows_b = [f"{r.split(',', 1)[0]},bob,{r.split(',', 1)[1]}" for r in quarter_rows("2024-01-08", bob)]
    for a, b in zip(rows_a, rows_b):             # interleaved, as a meter export might be
        lines += [a, b]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_import_sums_quarters_to_hourly_wh(tmp_path):
    ds = load_csv(write_two_participants(tmp_path / "meters.csv"))
    assert ds.start == dt.date(2024, 1, 8) and ds.days() == 1
    assert [p.name for p in ds.participants] == ["alice", "bob"]
    assert ds.consumption.dtype == np.int64 and ds.consumption.shape == (2, 24)
    assert ds.consumption[0].tolist() == EXPECTED_ALICE_CONS
    assert ds.production_by_source["pv"][0].tolist() == EXPECTED_ALICE_PV
    assert ds.production_by_source["wind"][0].tolist() == [4] * 24
    assert ds.consumption[1].tolist() == [2] * 24
    assert ds.production[1].tolist() == [0, 0, 0, 6000] + [0] * 20
    assert ds.production[0].tolist() == [a + 4 for a in EXPECTED_ALICE_PV]
    assert sorted(ds.production_by_source) == ["pv", "wind"]      # the temperature column is dropped
    assert (ds.participants[0].has_pv, ds.participants[0].has_wind) == (True, True)
    assert (ds.participants[1].has_pv, ds.participants[1].has_wind) == (False, True)
    assert ds.participants[0].kind == "unknown"
    cons, prod = ds.day(0)
    assert cons.shape == prod.shape == (2, 24)
    assert ds.net()[1, 3] == 2 - 6000


def test_import_keeps_one_source_and_scales_it(tmp_path):
    ds = load_csv(write_two_participants(tmp_path / "meters.csv"), source_column="wind", scale=0.35)
    assert list(ds.production_by_source) == ["wind"]
    assert ds.production[1, 3] == 2100                           # 6000 Wh x 35 %
    assert ds.production[0].tolist() == [1] * 24                  # 4 Wh x 35 % = 1.4 -> 1
    assert ds.consumption[1].tolist() == [2] * 24                 # consumption is not scaled
    assert load_csv(tmp_path / "meters.csv", source_column="production_pv").production[0].tolist() \
        == EXPECTED_ALICE_PV


def test_import_directory_one_file_per_participant_and_window(tmp_path):
    d = tmp_path / "meters"
    d.mkdir()
    header = "timestamp,consumption,production_pv,production_wind,temperature\n"
    (d / "alice.csv").write_text(header + "\n".join([*quarter_rows("2024-01-07", alice),
                                                     *quarter_rows("2024-01-08", alice)]) + "\n")
    (d / "bob.csv").write_text(header + "\n".join(quarter_rows("2024-01-08", bob)) + "\n")
    (d / "notes.txt").write_text("ignored")
    ds = load_csv(d)                                  # common window: 2024-01-08 only
    assert [p.name for p in ds.participants] == ["alice", "bob"]
    assert ds.start == dt.date(2024, 1, 8) and ds.days() == 1
    assert ds.consumption[0].tolist() == EXPECTED_ALICE_CONS
    only_alice = load_csv(d / "alice.csv", start=dt.date(2024, 1, 7), days=2)
    assert only_alice.days() == 2 and only_alice.consumption[0].tolist() == EXPECTED_ALICE_CONS * 2
    with pytest.raises(SawgridError, match=r"bob.csv:2: participant 'bob' has 2024-01-08..2024-01-08, "
                                           r"which does not cover 2024-01-07..2024-01-08"):
        load_csv(d, start=dt.date(2024, 1, 7))


def test_timestamps_with_offsets_are_utc(tmp_path):
    lines = ["timestamp,consumption,production"]
    t0 = dt.datetime(2024, 1, 8, 1, 0)               # 01:00+01:00 is 00:00 UTC
    for i in range(96):
        lines.append(f"{(t0 + dt.timedelta(minutes=15 * i)).isoformat()}+01:00,0.25,0.5")
    (tmp_path / "x.csv").write_text("\n".join(lines))
    ds = load_csv(tmp_path / "x.csv")
    assert ds.start == dt.date(2024, 1, 8) and ds.consumption.tolist() == [[1000] * 24]
    assert list(ds.production_by_source) == ["total"] and ds.production.tolist() == [[2000] * 24]


def at(line, text):
    """Replace file line `line` (1 = header; line L >= 2 is 15*(L-2) minutes after midnight)."""
    return lambda lines: lines.__setitem__(line - 1, text)


def malformed(tmp_path, header, edit=None, name="m.csv"):
    lines = [header] + list(quarter_rows("2024-01-08", lambda h, q: ("0.25", "0.5")))
    if edit:
        edit(lines)
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("header, edit, message", [
    ("time,consumption,production_pv", None, r"m\.csv:1: missing column 'timestamp'"),
    ("timestamp,usage,production_pv", None, r"m\.csv:1: missing column 'consumption'"),
    ("timestamp,consumption,weather", None, r"m\.csv:1: missing column 'production_<source>'"),
    ("timestamp,consumption,production_pv", at(5, "2024-01-08 00:4x,0.25,0.5"),
     r"m\.csv:5: column 'timestamp': bad timestamp '2024-01-08 00:4x'"),
    ("timestamp,consumption,production_pv", at(5, "2024-01-08 00:40,0.25,0.5"),
     r"m\.csv:5: column 'timestamp': 2024-01-08 00:40 is not on a 15-minute boundary"),
    ("timestamp,consumption,production_pv", lambda ls: ls.pop(9),                    # line 10 (02:00) is missing
     r"m\.csv:10: column 'timestamp': gap in 'm': expected 2024-01-08 02:00, got 2024-01-08 02:15"),
    ("timestamp,consumption,production_pv", lambda ls: ls.insert(9, ls[8]),          # line 9 (01:45) twice
     r"m\.csv:10: column 'timestamp': repeated timestamp"),
    ("timestamp,consumption,production_pv", at(7, "2024-01-08 01:15,0.25,-0.5"),
     r"m\.csv:7: column 'production_pv': negative value -0.5"),
    ("timestamp,consumption,production_pv", at(7, "2024-01-08 01:15,abc,0.5"),
     r"m\.csv:7: column 'consumption': not a number: 'abc'"),
    ("timestamp,consumption,production_pv", at(7, "2024-01-08 01:15,,0.5"),
     r"m\.csv:7: column 'consumption': missing value"),
    ("timestamp,consumption,production_pv", at(7, "2024-01-08 01:15,nan,0.5"),
     r"m\.csv:7: column 'consumption': not a finite number"),
    ("timestamp,consumption,production_pv", at(7, "2024-01-08 01:15,0.25"),
     r"m\.csv:7: 2 fields, expected 3"),
    ("timestamp,consumption,production_pv", lambda ls: ls.pop(1),
     r"m\.csv:2: column 'timestamp': 'm' starts at 2024-01-08 00:15"),
    ("timestamp,consumption,production_pv", lambda ls: ls.pop(),
     r"m\.csv:96: column 'timestamp': 'm' ends at 2024-01-08 23:30"),
    ("timestamp,consumption,production_pv,consumption", None, r"m\.csv:1: column 'consumption' appears twice"),
])
def test_malformed_csv_names_file_line_and_column(tmp_path, header, edit, message):
    with pytest.raises(SawgridError, match=message):
        load_csv(malformed(tmp_path, header, edit))


def test_more_csv_errors(tmp_path):
    with pytest.raises(SawgridError, match="no such file or directory"):
        load_csv(tmp_path / "missing.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SawgridError, match=r"no \*\.csv files"):
        load_csv(tmp_path / "empty")
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(SawgridError, match=r"e\.csv: empty file"):
        load_csv(tmp_path / "e.csv")
    (tmp_path / "h.csv").write_text("timestamp,consumption,production_pv\n")
    with pytest.raises(SawgridError, match=r"h\.csv: no data rows"):
        load_csv(tmp_path / "h.csv")
    path = malformed(tmp_path, "timestamp,consumption,production_pv")
    with pytest.raises(SawgridError, match=r"m\.csv:1: no column 'production_wind' to keep \(sources: pv\)"):
        load_csv(path, source_column="wind")
    with pytest.raises(SawgridError, match="scale must be"):
        load_csv(path, scale=-1)


# ----------------------------------------------------------- model and export

def small_dataset(days=2, start=dt.date(2024, 1, 8)):
    rng = np.random.default_rng(5)
    shape = (3, days * 24)
    pv, wind = rng.integers(0, 3000, shape), rng.integers(0, 50_000, shape)
    parts = (Participant("a", "household", True, True), Participant("b", "business", True, True),
             Participant("c", "farm", True, True))
    return Dataset(start=start, participants=parts, consumption=rng.integers(0, 123_457, shape),
                   production=pv + wind, source="test", production_by_source={"pv": pv, "wind": wind})


def test_dataset_validates_and_is_read_only():
    ds = small_dataset()
    assert ds.days() == 2 and ds.n == 3 and ds.date(1) == dt.date(2024, 1, 9)
    with pytest.raises(ValueError):
        ds.consumption[0, 0] = 1
    with pytest.raises(IndexError):
        ds.day(2)
    good = dict(start=dt.date(2024, 1, 8), participants=(Participant("a", "household", False, False),),
                consumption=np.zeros((1, 24), np.int64), production=np.zeros((1, 24), np.int64), source="t")
    Dataset(**good)
    for change, message in [
        (dict(consumption=np.zeros((1, 25), np.int64)), "whole days"),
        (dict(production=np.zeros((2, 24), np.int64)), "shape"),
        (dict(consumption=-np.ones((1, 24), np.int64)), "negative"),
        (dict(consumption=np.zeros((1, 24))), "integer Wh"),
        (dict(participants=(Participant("a", "x"), Participant("a", "y"))), "unique"),
        (dict(production_by_source={"pv": np.ones((1, 24), np.int64)}), "not the sum"),
        (dict(start=dt.datetime(2024, 1, 8)), "datetime.date"),
    ]:
        with pytest.raises(SawgridError, match=message):
            Dataset(**{**good, **change})


@pytest.mark.parametrize("target", ["all.csv", "per-participant"])
def test_to_csv_load_csv_round_trip(tmp_path, target):
    ds = small_dataset()
    back = load_csv(to_csv(ds, tmp_path / target))
    assert back.start == ds.start and back.days() == ds.days()
    assert [(p.name, p.kind, p.has_pv, p.has_wind) for p in back.participants] == \
        [(p.name, p.kind, p.has_pv, p.has_wind) for p in ds.participants]
    assert np.array_equal(back.consumption, ds.consumption)
    assert np.array_equal(back.production, ds.production)
    assert set(back.production_by_source) == {"pv", "wind"}
    for k, v in ds.production_by_source.items():
        assert np.array_equal(back.production_by_source[k], v)


def test_to_csv_writes_the_paper_format(tmp_path):
    ds = small_dataset(days=1)
    path = to_csv(ds, tmp_path / "out.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "timestamp,participant,kind,consumption,production_pv,production_wind"
    assert len(lines) == 1 + 3 * 96
    assert lines[1].startswith("2024-01-08T00:00:00Z,a,household,")
    q = [int(line.split(",")[3].replace(".", "")) for line in lines[1:5]]  # kWh with 3 decimals = Wh
    assert sum(q) == ds.consumption[0, 0] and max(q) - min(q) <= 1
    bad = Dataset(start=ds.start, participants=(Participant("a/b", "x"),), consumption=ds.consumption[:1],
                  production=ds.production[:1], source="t")
    with pytest.raises(SawgridError, match="cannot be a file name"):
        to_csv(bad, tmp_path / "dir")
    to_csv(bad, tmp_path / "fine.csv")                      # any name is fine in the participant column


# ------------------------------------------------------------ synthetic data

def test_missing_data_extra_is_one_clear_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "pvlib", None)       # as if not installed
    with pytest.raises(SawgridError) as err:
        data.synthetic(n=3)
    assert str(err.value) == "the synthetic dataset needs the 'data' extra: pip install -e '.[data]'"


def test_synthetic_is_deterministic_and_seeded():
    heavy()
    a, b = data.synthetic(n=20, seed=7), data.synthetic(n=20, seed=7)
    synthesis._synthetic.cache_clear()
    c = data.synthetic(n=20, seed=7)                      # recomputed, not the cached object
    for x in (b, c):
        assert np.array_equal(a.consumption, x.consumption) and np.array_equal(a.production, x.production)
        assert a.participants == x.participants
    d = data.synthetic(n=20, seed=8)
    assert not np.array_equal(a.consumption, d.consumption)
    assert a.source == "synthetic seed=7 n=20 days=7 start=2024-02-12"


def test_synthetic_default_shape_and_mix():
    heavy()                                                       # (its speed is bench/'s business)
    ds = data.synthetic()
    assert ds.consumption.shape == ds.production.shape == (103, 168)
    assert ds.consumption.dtype == ds.production.dtype == np.int64
    assert ds.start == dt.date(2024, 2, 12) and ds.start.weekday() == 0 and ds.days() == 7
    kinds = [p.kind for p in ds.participants]
    assert (kinds.count("household"), kinds.count("business"), kinds.count("farm")) == (72, 21, 10)
    households = [p for p in ds.participants if p.kind == "household"]
    assert sum(p.has_pv for p in households) == 25 and sum(p.has_wind for p in households) == 4
    assert sum(p.has_wind for p in ds.participants) == 4 + 3 + 6
    assert np.array_equal(ds.production, ds.production_by_source["pv"] + ds.production_by_source["wind"])
    for i, p in enumerate(ds.participants):
        assert ds.production_by_source["pv"][i].any() == p.has_pv
        assert ds.production_by_source["wind"][i].any() == p.has_wind
    assert ds.production.sum() > 0.3 * ds.consumption.sum()       # there is something to trade


def test_synthetic_is_physically_plausible():
    heavy()
    ds = data.synthetic(seed=3)
    hours = np.arange(168) % 24
    pv = ds.production_by_source["pv"]
    with_pv = [i for i, p in enumerate(ds.participants) if p.has_pv]
    # PV: nothing at night (CET site: sunrise ~06:30 UTC, sunset ~16:30 UTC in February)
    night = (hours < 6) | (hours >= 17)
    assert pv[:, night].sum() == 0
    profile = pv[with_pv].reshape(len(with_pv), 7, 24).sum(axis=(0, 1))
    assert 10 <= int(np.argmax(profile)) <= 12                     # local noon is ~11:20 UTC
    # households: an evening peak (local 18-20 h = 17-19 UTC) well above the night
    hh = [i for i, p in enumerate(ds.participants) if p.kind == "household"]
    mean = ds.consumption[hh].reshape(len(hh), 7, 24).mean(axis=(0, 1))
    assert 16 <= int(np.argmax(mean)) <= 19
    assert mean[16:20].mean() > 2 * mean[1:5].mean()
    # weekly totals: 0.8-1.5 x 7/365 of the annual consumption (documented range)
    for i, p in enumerate(ds.participants):
        ratio = ds.consumption[i].sum() / (p.annual_kwh * 1000 * 7 / 365)
        assert 0.8 <= ratio <= 1.5, (p, ratio)
        lo, hi = data.MIX[p.kind][2]
        assert lo <= p.annual_kwh <= hi
    # offices (G1) work on weekdays: Saturday and Sunday use less
    g1 = [i for i, p in enumerate(ds.participants) if p.profile == "G1"]
    for i in g1:
        week = ds.consumption[i].reshape(7, 24).sum(axis=1)
        assert week[5:].max() < week[:5].min()
    # participants differ: no two consumption rows are near-identical
    c = np.corrcoef(ds.consumption.astype(float))
    assert c[np.triu_indices(ds.n, 1)].max() < 0.995
    assert len({row.tobytes() for row in ds.consumption}) == ds.n


def test_synthetic_crosses_a_year_boundary_and_round_trips(tmp_path):
    heavy()
    ds = data.synthetic(n=12, days=3, seed=2, start=dt.date(2023, 12, 31))
    assert ds.consumption.shape == (12, 72) and (ds.consumption > 0).all()
    back = load_csv(to_csv(ds, tmp_path / "syn"))            # one file each, read back in name order
    order = [back.participant_index(p.name) for p in ds.participants]
    assert np.array_equal(back.consumption[order], ds.consumption)
    assert np.array_equal(back.production_by_source["wind"][order], ds.production_by_source["wind"])
    assert [back.participants[i].has_pv for i in order] == [p.has_pv for p in ds.participants]


def test_synthetic_rejects_bad_arguments():
    for kwargs in (dict(n=0), dict(days=0), dict(seed=-1), dict(start="2024-01-08")):
        with pytest.raises(SawgridError):
            data.synthetic(**kwargs)


# --------------------------------------------------------- paper preparation

def long_entity(first=dt.date(2023, 11, 20), last=dt.date(2024, 3, 10)):
    """One entity (the paper's data has no consumer ID), hourly, with pv and wind."""
    days = (last - first).days + 1
    rng = np.random.default_rng(11)
    shape = (1, days * 24)
    cons = rng.integers(1000, 5000, shape)
    pv, wind = rng.integers(0, 800, shape), rng.integers(0, 20_000, shape)
    return Dataset(start=first, participants=(Participant("site", "business", True, True),),
                   consumption=cons, production=pv + wind, source="one year",
                   production_by_source={"pv": pv, "wind": wind})


def test_paper_preparation_keeps_wind_scaled_to_35_percent():
    src = long_entity()
    out = paper_preparation(src, participants=None)
    assert list(out.production_by_source) == ["wind"]
    assert not any(p.has_pv for p in out.participants) and all(p.has_wind for p in out.participants)
    # winter = December, January, February; ISO weeks; 2023-11-27 .. 2024-03-03 has 14 weeks with
    # a winter day: Mon 27 Nov (only 1-3 Dec), 12 complete, and Mon 26 Feb (26-29 Feb only)
    names = [p.name for p in out.participants]
    assert names[0] == "site-2023W48" and names[-1] == "site-2024W09" and len(names) == 14
    assert out.start == dt.date(2023, 11, 27) and out.days() == 7           # date correction
    for row, monday in [(1, dt.date(2023, 12, 4)), (7, dt.date(2024, 1, 15))]:   # complete weeks
        d0 = (monday - src.start).days * 24
        assert np.array_equal(out.consumption[row], src.consumption[0, d0:d0 + 168])
        assert np.array_equal(out.production[row],
                              np.rint(src.production_by_source["wind"][0, d0:d0 + 168] * 0.35))
    # the partial first week: Fri-Sun real (1-3 December), Mon-Thu filled with similar days
    d0 = (dt.date(2023, 12, 1) - src.start).days * 24
    assert np.array_equal(out.consumption[0, 96:], src.consumption[0, d0:d0 + 72])
    assert (out.consumption[0, :96] > 0).all()
    # and the last: Mon-Thu real (26-29 February), Fri-Sun filled
    d0 = (dt.date(2024, 2, 26) - src.start).days * 24
    assert np.array_equal(out.consumption[-1, :96], src.consumption[0, d0:d0 + 96])
    assert "paper preparation: wind x0.35, winter weeks -> 14 real (7 days filled) + 0 generated" in out.source


def test_paper_preparation_fills_up_to_103_participants_deterministically():
    src = long_entity()
    a = paper_preparation(src)
    b = paper_preparation(src)
    assert a.n == 103 and a.days() == 7 and np.array_equal(a.consumption, b.consumption)
    assert [p.name for p in a.participants][14:16] == ["generated-001", "generated-002"]
    generated = a.consumption[14:]
    assert len({row.tobytes() for row in generated}) == len(generated)          # not clones
    real_mean = src.consumption.mean()
    assert 0.7 * real_mean < generated.mean() < 1.3 * real_mean               # similar data
    assert not np.array_equal(paper_preparation(src, seed=1).consumption, a.consumption)
    few = paper_preparation(src, participants=5)
    assert few.n == 5 and all(p.name.startswith("site-") for p in few.participants)
    assert "site-2023W48" not in [p.name for p in few.participants]              # most complete weeks kept
    moved = paper_preparation(src, participants=5, start=dt.date(2024, 1, 8))
    assert moved.start == dt.date(2024, 1, 8) and np.array_equal(moved.consumption, few.consumption)


def test_paper_preparation_from_csv_and_from_synthetic(tmp_path):
    src = long_entity(first=dt.date(2024, 1, 1), last=dt.date(2024, 1, 21))
    path = to_csv(src, tmp_path / "year.csv")
    from_csv = paper_preparation(path, participants=None)
    from_ds = paper_preparation(src, participants=None)
    assert [p.name for p in from_csv.participants] == ["site-2024W01", "site-2024W02", "site-2024W03"]
    assert np.array_equal(from_csv.consumption, from_ds.consumption)
    assert np.abs(from_csv.production - from_ds.production).max() <= 1      # 35 % before vs after the SUM
    with pytest.raises(SawgridError, match="no 'hydro' production to keep"):
        paper_preparation(src, source="hydro")
    with pytest.raises(SawgridError, match="no column 'production_hydro'"):
        paper_preparation(path, source="hydro")
    with pytest.raises(SawgridError, match="has no summer day"):
        paper_preparation(src, season="summer")
    with pytest.raises(SawgridError, match="must be a Monday"):
        paper_preparation(src, start=dt.date(2024, 1, 9))
    heavy()
    syn = data.synthetic(n=10, seed=1)
    out = paper_preparation(syn, participants=None)
    assert out.n == 10 and out.start == syn.start
    assert np.array_equal(out.production, np.rint(syn.production_by_source["wind"] * 0.35))
    assert np.array_equal(out.consumption, syn.consumption)


def test_season_similarity_picks_the_most_alike_season():
    first = dt.date(2023, 12, 4)                 # Monday; 13 winter weeks, then 4 spring weeks (March)
    rng = np.random.default_rng(0)
    week = rng.integers(100, 1000, 168)
    winter = np.concatenate([week + rng.integers(0, 20, 168) for _ in range(13)])
    spring = rng.integers(100, 1000, 4 * 168)
    cons = np.concatenate([winter, spring])[None, :]
    ds = Dataset(start=first, participants=(Participant("x", "business"),), consumption=cons,
                 production=np.zeros_like(cons), source="t", production_by_source={"wind": np.zeros_like(cons)})
    scores = data.season_similarity(ds)
    assert scores["winter"] > 0.9 > scores["spring"]
    assert paper_preparation(ds, season="most-similar", participants=None).participants[0].name == "x-2023W49"
