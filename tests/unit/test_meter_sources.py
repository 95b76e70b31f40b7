"""The meter agent's data sources (clients/meter/sources.py)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from sawgrid.clients.meter.sources import ArraySource, HttpSource, SourceError, parse_source
from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.processors.market.units import day_number
import datetime as dt

DAY = day_number(dt.date(2024, 2, 12))


def _two_days() -> ArraySource:
    c = np.arange(48, dtype=np.int64)
    return ArraySource("test", c, c * 2, DAY, repeat=True)


def test_an_array_source_covers_its_days_and_repeats_them():
    source = _two_days()
    assert source.day(DAY) == (list(range(24)), [2 * h for h in range(24)])
    assert source.day(DAY + 1)[0] == list(range(24, 48))
    assert source.day(DAY + 2) == source.day(DAY)            # repeats after its last day
    assert source.reading(DAY, 3) is None                    # a replayed household consumes as it traded
    once = ArraySource("test", np.zeros(24, dtype=np.int64), np.zeros(24, dtype=np.int64), DAY)
    assert once.day(DAY + 1) is None and once.day(DAY - 1) is None


def test_a_source_spec_names_its_kind():
    assert isinstance(parse_source("http://127.0.0.1:9/meter"), HttpSource)
    assert parse_source("cmd:/bin/meter --port 1").argv == ("/bin/meter", "--port", "1")
    assert parse_source("x:1", {"x": lambda rest: ("loaded", rest)}) == ("loaded", "1")
    with pytest.raises(SawgridError, match="--source: expected one of"):
        parse_source("ftp://meter")
    with pytest.raises(SawgridError, match="--source"):
        parse_source("cmd:")


class _Meter(BaseHTTPRequestHandler):
    answers: dict = {}

    def do_GET(self):  # noqa: N802 (http.server's name)
        body = self.answers.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def meter_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Meter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_http_meter_answers_plans_and_readings(meter_server):
    _Meter.answers = {"/plan/2024-02-12": {"consumption_wh": [100] * 24, "production_wh": [0] * 24},
                      "/reading/2024-02-12/7": {"exported_wh": 0, "imported_wh": 96},
                      "/plan/2024-02-13": {"consumption_wh": [1] * 23, "production_wh": [0] * 24},
                      "/reading/2024-02-12/8": b"<html>"}
    source = HttpSource(meter_server)
    assert source.day(DAY) == ([100] * 24, [0] * 24)
    assert source.reading(DAY, 7) == (0, 96)
    assert source.day(DAY + 2) is None                       # 404: no data for that day
    with pytest.raises(SourceError, match="24 whole, non-negative Wh"):
        source.day(DAY + 1)
    with pytest.raises(SourceError, match="not JSON"):
        source.reading(DAY, 8)
    with pytest.raises(SourceError, match="unreachable"):
        HttpSource("http://127.0.0.1:9").day(DAY)
