"""Sign-in by key, sessions, CSRF and roles, through Flask's test client:
roles come from the in-process ledger's market state, as they come from the
REST API in `sawgrid dashboard`."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sawgrid.clients.dashboard import sessions, signin
from sawgrid.clients.dashboard.config import FAILED_SIGN_IN_LIMIT

from dashboard_world import csrf_of, make_world, sign_in


@pytest.fixture
def world(tmp_path):
    return make_world(tmp_path)


@pytest.fixture
def app(world):
    return world.app()


def _challenge(client) -> str:
    return client.get("/login/challenge").get_json()["challenge"]


def _post_login(client, challenge: str, public_key: str, signature: str, csrf: str | None = None):
    return client.post("/login", data={"challenge": challenge, "public_key": public_key, "signature": signature,
                                       "csrf_token": csrf if csrf is not None else csrf_of(client)})


def test_member_signs_in_with_its_key_and_sees_its_account(world, app):
    client = app.test_client()
    answer = sign_in(client, world.alice)
    assert answer.status_code == 303 and answer.headers["Location"] == f"/account/{world.pk(world.alice)}"
    page = client.get(answer.headers["Location"])
    assert page.status_code == 200 and "alice" in page.get_data(as_text=True)
    assert client.get("/account").headers["Location"] == f"/account/{world.pk(world.alice)}"


def test_wrong_key_is_refused(world, app):
    client = app.test_client()
    challenge = _challenge(client)
    # signed by bob, claimed to be alice's
    answer = _post_login(client, challenge, world.pk(world.alice), signin.sign(world.bob, challenge))
    assert answer.status_code == 401 and "does not verify" in answer.get_data(as_text=True)
    assert client.get(f"/account/{world.pk(world.alice)}").status_code == 401


def test_a_key_not_on_chain_is_refused(world, app):
    client = app.test_client()
    challenge = _challenge(client)
    answer = _post_login(client, challenge, world.pk(world.stranger), signin.sign(world.stranger, challenge))
    assert answer.status_code == 403 and "not a participant or operator on chain" in answer.get_data(as_text=True)


def test_a_challenge_works_once(world, app):
    client = app.test_client()
    challenge = _challenge(client)
    signature = signin.sign(world.alice, challenge)
    assert _post_login(client, challenge, world.pk(world.alice), signature).status_code == 303
    replay = _post_login(app.test_client(), challenge, world.pk(world.alice), signature)
    assert replay.status_code == 400 and "already used or expired" in replay.get_data(as_text=True)


def test_a_wrong_attempt_burns_the_challenge(world, app):
    client = app.test_client()
    challenge = _challenge(client)
    assert _post_login(client, challenge, world.pk(world.alice), signin.sign(world.bob, challenge)).status_code == 401
    right = _post_login(client, challenge, world.pk(world.alice), signin.sign(world.alice, challenge))
    assert right.status_code == 400


def test_an_expired_challenge_is_refused(world):
    app = world.app(challenge_ttl=0.0)
    client = app.test_client()
    challenge = _challenge(client)
    answer = _post_login(client, challenge, world.pk(world.alice), signin.sign(world.alice, challenge))
    assert answer.status_code == 400 and "expired" in answer.get_data(as_text=True)


@pytest.mark.parametrize("challenge", [
    "", "sawgrid-dashboard-login:", "sawgrid-dashboard-login:" + "g" * 32, "sawgrid-dashboard-login:" + "a" * 33,
    "other-prefix:" + "a" * 32, "sawgrid-dashboard-login:" + "A" * 32, "sawgrid-dashboard-login:" + "a" * 32 + "\n",
])
def test_malformed_challenges_are_400(world, app, challenge):
    client = app.test_client()
    answer = _post_login(client, challenge, world.pk(world.alice), "ab" * 64)
    assert answer.status_code == 400 and "challenge:" in answer.get_data(as_text=True)


@pytest.mark.parametrize("public_key,signature,field", [
    ("04" + "ab" * 32, "ab" * 64, "public_key"), ("02" + "ab" * 31, "ab" * 64, "public_key"),
    ("02" + "zz" * 32, "ab" * 64, "public_key"), ("PK", "ab" * 64, "public_key"),
    ("02" + "ab" * 32, "ab" * 63, "signature"), ("02" + "ab" * 32, "xy" * 64, "signature"),
])
def test_malformed_keys_and_signatures_are_400(app, public_key, signature, field):
    client = app.test_client()
    answer = _post_login(client, _challenge(client), public_key, signature)
    assert answer.status_code == 400 and f"{field}:" in answer.get_data(as_text=True)


def test_a_signature_of_a_valid_looking_key_that_is_no_curve_point_is_refused(world, app):
    client = app.test_client()
    challenge = _challenge(client)
    answer = _post_login(client, challenge, "02" + "ff" * 32, signin.sign(world.alice, challenge))
    assert answer.status_code == 401


def test_sawgrid_login_signs_nothing_but_a_challenge(world):
    with pytest.raises(ValueError, match="not a Sawgrid dashboard challenge"):
        signin.sign(world.alice, "0a20" + "00" * 40)   # e.g. a transaction header
    challenge = "sawgrid-dashboard-login:" + "0" * 32
    assert signin.signature_valid(challenge, world.pk(world.alice), signin.sign(world.alice, challenge))


def test_csrf_token_is_required_on_every_post(world, app):
    client = app.test_client()
    challenge = _challenge(client)
    fields = {"challenge": challenge, "public_key": world.pk(world.alice),
              "signature": signin.sign(world.alice, challenge)}
    assert client.post("/login", data=fields).status_code == 400
    wrong = client.post("/login", data={**fields, "csrf_token": "x" * 43})
    assert wrong.status_code == 400 and "CSRF" in wrong.get_data(as_text=True)
    assert sign_in(client, world.alice).status_code == 303
    assert client.post("/logout").status_code == 400
    assert client.get(f"/account/{world.pk(world.alice)}").status_code == 200   # still signed in


def test_csrf_token_of_another_session_does_not_work(world, app):
    other = app.test_client()
    token = csrf_of(other)
    client = app.test_client()
    challenge = _challenge(client)
    answer = _post_login(client, challenge, world.pk(world.alice), signin.sign(world.alice, challenge), csrf=token)
    assert answer.status_code == 400


def test_session_expires(world, app, monkeypatch):
    client = app.test_client()
    sign_in(client, world.alice)
    page = f"/account/{world.pk(world.alice)}"
    assert client.get(page).status_code == 200
    later = sessions.time.time() + 31 * 60
    monkeypatch.setattr(sessions.time, "time", lambda: later)
    expired = client.get(page)
    assert expired.status_code == 401 and "expired" in expired.get_data(as_text=True)


def test_sign_out_revokes_the_cookie(world, app):
    client = app.test_client()
    sign_in(client, world.alice)
    cookie = client.get_cookie("sawgrid_session").value
    page = f"/account/{world.pk(world.alice)}"
    token = client.get(page).get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    thief = app.test_client()
    thief.set_cookie("sawgrid_session", cookie)
    assert thief.get(page).status_code == 401


def test_a_forged_cookie_is_no_session(world, app):
    other = world.app()      # another secret key
    client = other.test_client()
    sign_in(client, world.alice)
    forged = app.test_client()
    forged.set_cookie("sawgrid_session", client.get_cookie("sawgrid_session").value)
    assert forged.get(f"/account/{world.pk(world.alice)}").status_code == 401


def test_cookie_flags(world):
    plain = world.app().test_client()
    answer = sign_in(plain, world.alice)
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    tls = world.app(tls=True).test_client()
    answer = sign_in(tls, world.alice)
    assert "Secure" in answer.headers["Set-Cookie"]
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")


def test_roles(world, app):
    anonymous = app.test_client()
    assert anonymous.get(f"/account/{world.pk(world.alice)}").status_code == 401
    assert anonymous.get("/operator").status_code == 401
    member = app.test_client()
    sign_in(member, world.alice)
    assert member.get(f"/account/{world.pk(world.bob)}").status_code == 403
    assert member.get(f"/account/{world.pk(world.bob)}/statement.csv").status_code == 403
    assert member.get("/operator").status_code == 403
    pending_member = app.test_client()       # registered, not yet approved: its own account only
    assert sign_in(pending_member, world.bob).status_code == 303
    assert pending_member.get(f"/account/{world.pk(world.alice)}").status_code == 403
    operator = app.test_client()
    answer = sign_in(operator, world.operator)
    assert answer.status_code == 303 and answer.headers["Location"] == "/operator"
    assert operator.get("/operator").status_code == 200
    assert operator.get(f"/account/{world.pk(world.alice)}").status_code == 403


def test_repeated_failed_sign_ins_raise_an_alert_and_a_429(world, app):
    client = app.test_client()
    for _ in range(FAILED_SIGN_IN_LIMIT):
        challenge = _challenge(client)
        _post_login(client, challenge, world.pk(world.alice), signin.sign(world.bob, challenge))
    blocked = client.get("/login/challenge")
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'sawgrid_dashboard_sign_in_failures_total{reason="signature"} 5.0' in metrics
    assert 'sawgrid_dashboard_alerts_total{kind="failed-sign-ins"} 1.0' in metrics
    operator = app.test_client()
    operator.environ_base["REMOTE_ADDR"] = "10.0.0.9"     # another address: not blocked
    assert sign_in(operator, world.operator).status_code == 303
    page = operator.get("/operator").get_data(as_text=True)
    assert "failed-sign-ins" in page and "127.0.0.1" in page and world.pk(world.alice)[:10] in page


def _gateway(doc: dict | None):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = json.dumps(doc).encode() if doc is not None else b"not json"
            self.send_response(200 if self.path == "/_gateway/alerts" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _operator_page(world, gateway_url: str | None) -> str:
    client = world.app(gateway_url=gateway_url).test_client()
    sign_in(client, world.operator)
    answer = client.get("/operator")
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def test_operator_page_shows_the_gateways_alerts_escaped(world):
    alert = {"time": "2026-03-01T12:00:00Z", "kind": "invalid_burst", "client": "10.1.2.3", "key": "02" + "ab" * 32,
             "detail": "<script>alert(1)</script> 20 INVALID batches"}
    server = _gateway({"alerts": [alert]})
    try:
        page = _operator_page(world, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
    assert "invalid_burst" in page and "10.1.2.3" in page and "20 INVALID batches" in page
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page


@pytest.mark.parametrize("doc", [None, {"alerts": "nope"}, ["list"]])
def test_a_gateway_that_answers_nonsense_is_unreachable(world, doc):
    server = _gateway(doc)
    try:
        assert "gateway unreachable" in _operator_page(world, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()


def test_a_gateway_that_is_down_is_unreachable_not_a_500(world):
    from sawgrid.clients.sdk.devnet_process import free_port

    assert "gateway unreachable" in _operator_page(world, f"http://127.0.0.1:{free_port()}")


def test_one_address_cannot_fill_the_challenge_book(world, app):
    from sawgrid.clients.dashboard.config import MAX_CHALLENGES_PER_CLIENT

    greedy = app.test_client()
    for _ in range(MAX_CHALLENGES_PER_CLIENT):
        assert greedy.get("/login/challenge").status_code == 200
    refused = greedy.get("/login/challenge")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.8"
    assert sign_in(other, world.alice).status_code == 303       # everyone else still signs in


def test_challenge_book_frees_a_clients_share_as_challenges_are_used_or_expire():
    book = signin.ChallengeBook(ttl=60, per_client=2)
    first, _ = book.issue("a")
    book.issue("a")
    assert book.issue("a") is None and book.issue("b") is not None
    assert book.take(first) and not book.take(first)
    assert book.issue("a") is not None
    expiring = signin.ChallengeBook(ttl=0, per_client=1)
    expiring.issue("a")
    assert expiring.issue("a") is not None           # the expired one no longer counts
