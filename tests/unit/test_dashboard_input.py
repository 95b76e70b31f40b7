"""Bad input: SQL injection and XSS in every parameter, oversized requests,
unknown routes and methods, an unreadable mirror or ledger: always a clear
4xx (or a 503 for what is down), never a 500 or a traceback."""
from __future__ import annotations

import pytest

from dashboard_world import csrf_of, make_world, sign_in

HOSTILE = [
    "' OR 1=1 --", "1; DROP TABLE contracts; --", "2026-01-01' UNION SELECT * FROM wallets --",
    "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "javascript:alert(1)",
    "%00", "\x00", "9" * 40, "-1", "1e9", "../../etc/passwd", "ÿ" * 20, "{{7*7}}",
]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="module")
def member(world):
    app = world.app()
    client = app.test_client()
    sign_in(client, world.alice)
    return client


def _assert_clear_refusal(answer, hostile: str) -> None:
    text = answer.get_data(as_text=True)
    assert 400 <= answer.status_code < 500, (answer.status_code, text[:500])
    assert "Traceback" not in text
    if "<" in hostile or '"' in hostile:
        assert hostile not in text        # never echoed unescaped


def _assert_safe(answer, hostile: str) -> None:
    """A 200 is fine where the parameter is optional text that is ignored, but never an echo or a 5xx."""
    text = answer.get_data(as_text=True)
    assert answer.status_code < 500 and "Traceback" not in text
    if "<" in hostile:
        assert hostile not in text


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("param", ["day", "hour"])
def test_market_parameters(world, hostile, param):
    _assert_clear_refusal(world.app().test_client().get("/", query_string={param: hostile}), hostile)


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("param", ["from", "to", "side", "stage", "day"])
def test_account_parameters(world, member, hostile, param):
    page = f"/account/{world.pk(world.alice)}"
    _assert_clear_refusal(member.get(page, query_string={param: hostile}), hostile)
    if param in ("from", "to"):
        _assert_clear_refusal(member.get(page + "/statement.csv", query_string={param: hostile}), hostile)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_path_parameters(world, member, hostile):
    from urllib.parse import quote

    _assert_clear_refusal(member.get("/account/" + quote(hostile, safe="")), hostile)
    _assert_clear_refusal(member.get("/account/" + quote(hostile, safe="") + "/statement.csv"), hostile)
    _assert_clear_refusal(world.app().test_client().get("/archive/" + quote(hostile, safe="")), hostile)


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("param", ["challenge", "public_key", "signature"])
def test_sign_in_parameters(world, hostile, param):
    client = world.app().test_client()
    good = {"challenge": client.get("/login/challenge").get_json()["challenge"],
            "public_key": world.pk(world.alice), "signature": "ab" * 64}
    _assert_clear_refusal(client.get("/login/link", query_string={**good, param: hostile}), hostile)
    _assert_clear_refusal(client.post("/login", data={**good, param: hostile, "csrf_token": csrf_of(client)}),
                          hostile)


def test_a_parameter_given_twice_is_400(member, world):
    answer = member.get(f"/account/{world.pk(world.alice)}?side=sold&side=bought")
    assert answer.status_code == 400 and "more than once" in answer.get_data(as_text=True)


def test_from_after_to_is_400(member, world):
    answer = member.get(f"/account/{world.pk(world.alice)}", query_string={"from": "2026-03-02", "to": "2026-03-01"})
    assert answer.status_code == 400 and "from: is after to" in answer.get_data(as_text=True)


def test_oversized_body_is_413(world):
    client = world.app().test_client()
    answer = client.post("/login", data={"challenge": "x" * 20_000, "csrf_token": csrf_of(client)})
    assert answer.status_code == 413 and "Traceback" not in answer.get_data(as_text=True)


def test_oversized_query_is_414(world):
    answer = world.app().test_client().get("/", query_string={"day": "2026-01-01", "x": "y" * 3000})
    assert answer.status_code == 414


def test_many_form_parts_are_refused(world):
    client = world.app().test_client()
    data = {f"f{i}": "1" for i in range(200)}
    data["csrf_token"] = csrf_of(client)
    assert client.post("/login", data=data, content_type="multipart/form-data").status_code == 413
    assert client.post("/login", data=data).status_code == 400      # urlencoded: parsed, then refused


@pytest.mark.parametrize("method,path", [("GET", "/nowhere"), ("DELETE", "/"), ("PUT", "/login"),
                                         ("GET", "/logout"), ("POST", "/operator")])
def test_unknown_routes_and_methods(world, method, path):
    answer = world.app().test_client().open(path, method=method)
    assert answer.status_code in (400, 404, 405) and "Traceback" not in answer.get_data(as_text=True)


def test_an_unreadable_mirror_is_503(world, tmp_path):
    from sawgrid.clients.dashboard.app import create_app
    from sawgrid.clients.dashboard.config import DashboardConfig

    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    app = create_app(DashboardConfig(db_url=f"sqlite:///{empty}", rest_url="http://127.0.0.1:1"), ledger=world.ledger)
    answer = app.test_client().get("/")
    assert answer.status_code == 503 and "mirror" in answer.get_data(as_text=True).lower()


def test_an_unreachable_ledger(world):
    """The market page still answers (the live order book says why it is missing);
    a sign-in, which needs the chain's roles, is a 503."""
    from sawgrid.clients.dashboard.app import create_app
    from sawgrid.clients.dashboard.config import DashboardConfig
    from sawgrid.clients.dashboard.signin import sign
    from sawgrid.clients.sdk.devnet_process import free_port

    app = create_app(DashboardConfig(db_url=world.db_url, rest_url=f"http://127.0.0.1:{free_port()}"))
    client = app.test_client()
    page = client.get("/")
    assert page.status_code == 200 and "cannot be read right now" in page.get_data(as_text=True)
    challenge = client.get("/login/challenge").get_json()["challenge"]
    answer = client.post("/login", data={"challenge": challenge, "public_key": world.pk(world.alice),
                                         "signature": sign(world.alice, challenge), "csrf_token": csrf_of(client)})
    assert answer.status_code == 503 and "Traceback" not in answer.get_data(as_text=True)
