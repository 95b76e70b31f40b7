"""The dashboard in a real browser (Debian's headless Chromium through
Selenium 4) against `sawgrid dashboard` on a devnet with a small simulated
market, mirrored by `sawgrid sync`: sign-in with `sawgrid login` works with
the right key and fails with a wrong one; the statement's totals are the
chain's; every chart renders (SVG with drawn marks); a member cannot open
another member's account; a screenshot of every page goes to the test's
folder (and to $SAWGRID_SCREENSHOTS, when set: README's pictures).

The browser and chromedriver die with the test: chromedriver gets SIGTERM
when the test's thread dies (PR_SET_PDEATHSIG), and teardown ends
chromedriver's whole process tree."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sawgrid.clients.sdk import archive, keys, market
from sawgrid.clients.sdk.devnet_process import free_port
from sawgrid.devnet.server import die_with_parent
from sawgrid.protos import market_pb2 as pb

import proc_tree
from sync_support import EUR, Market, SyncProcess, chain_contracts, wait_synced
from test_sync import _expected   # the statement computed independently from the chain's contract records

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
NAMES = ["sel1", "sel2", "buy1", "buy2"]
SCREENSHOTS_ENV = "SAWGRID_SCREENSHOTS"
WAIT = 60.0

pytestmark = pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
                                reason="needs Debian's chromium and chromium-driver (.ci/run installs them)")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sawgrid.clients.cli", *args], capture_output=True, text=True,
                          timeout=120)


def _onboard(mk: Market, key_dir: Path, *names: str, approve: bool = True) -> None:
    """Participants whose keys are files in the key directory (`sawgrid login --key NAME` reads them)."""
    for name in names:
        keys.generate(name, key_dir)
        mk.signers[name] = keys.load_signer(name, key_dir)
        market.submit(mk.rest, mk.signers[name], market.register(name))
    if approve:
        market.submit(mk.rest, mk.operator, [market.approve(mk.pk(n)) for n in names] +
                      [market.fund(mk.pk(n), 100 * EUR) for n in names])


@pytest.fixture
def settled_market(make_devnet, tmp_path):
    """Two days of trading: day's hours 18-19 settled by meter readings (one
    seller short: DECLINED), day+1 still in settlement; day archived; one
    participant registered and not approved. Mirrored into SQLite."""
    day = market.today() - 10
    clock = tmp_path / "clock"
    clock.write_text(str(day * 86400))
    net = make_devnet(extra=("--clock-file", str(clock)))
    mk = Market.open(net.url, net.key_dir)
    _onboard(mk, net.key_dir, *NAMES)
    for d in (day, day + 1):
        mk.day_setup(d, NAMES[2:])
    mk.trade_round(day, range(18, 20), NAMES)
    mk.trade_round(day + 1, range(8, 9), NAMES)
    clock.write_text(str(day * 86400 + 21 * 3600))
    _onboard(mk, net.key_dir, "newcomer", approve=False)      # a block with the new time; stays pending
    for hour in (18, 19):
        hour_contracts = [c for c in chain_contracts(mk.rest).values() if (c.day, c.hour) == (day, hour)]
        for name in NAMES:
            pk = mk.pk(name)
            sold = sum(c.energy for c in hour_contracts if c.seller == pk)
            bought = sum(c.energy for c in hour_contracts if c.buyer == pk)
            if sold or bought:
                short = name == "sel1" and hour == 19
                mk.reading(name, day, hour, delivered_wh=sold // 2 if short else sold, received_wh=bought)
    market.submit(mk.rest, mk.operator, [market.close_hour(day, h) for h in range(24) if h not in (18, 19)])
    status = archive.day_status(mk.rest, day)
    assert status.ready, status.reason
    archive.submit(mk.rest, mk.operator, archive.archive_day(day))
    db = f"sqlite:///{tmp_path / 'mirror.sqlite'}"
    sync = SyncProcess(net.url, net.component, db, tmp_path / "sync.log").start()
    try:
        wait_synced(db, mk.rest, sync=sync)
    finally:
        assert sync.stop() == 0
    return net, mk, day, db


class Dashboard:
    """`sawgrid dashboard` as a child process."""

    def __init__(self, url: str, db: str, log: Path, gateway: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sawgrid.clients.cli", "--url", url, "dashboard", "--db", db,
                 "--bind", f"127.0.0.1:{self.port}", "--gateway", gateway],
                stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent())
        deadline = time.monotonic() + WAIT
        while "dashboard on" not in log.read_text(errors="replace"):
            assert self.proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1800", f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(arg)
    service = Service(CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log"),
                      popen_kw={"preexec_fn": die_with_parent()})
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(60)
    tree = [service.process.pid]
    try:
        yield driver
    finally:
        tree += proc_tree.descendants(service.process.pid)
        driver.quit()
        proc_tree.kill(proc_tree.wait_gone(tree, 10))


def _screenshot(driver, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 5000
    if os.environ.get(SCREENSHOTS_ENV):
        shutil.copy(path, Path(os.environ[SCREENSHOTS_ENV]) / path.name)


def _charts_drawn(driver) -> dict[str, int]:
    """Each chart's drawn marks (SVG paths with a shape inside plotly's traces), once plotly has drawn them all."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    script = """return Array.from(document.querySelectorAll('div.chart')).map(function (div) {
        var svg = div.querySelector('svg.main-svg');
        if (!svg) return [div.id, -1];
        var marks = Array.from(svg.querySelectorAll('g.trace path')).filter(function (p) {
            return (p.getAttribute('d') || '').length > 2; });
        return [div.id, marks.length];});"""
    try:
        WebDriverWait(driver, WAIT).until(lambda d: all(n > 0 for _, n in d.execute_script(script)))
    except TimeoutException:
        pytest.fail(f"charts not drawn (marks per chart): {driver.execute_script(script)}; "
                    f"console: {driver.get_log('browser')}")
    return dict(driver.execute_script(script))


def _login_link(net, name: str) -> str:
    out = _cli("--key-dir", str(net.key_dir), "--json", "login", "--dashboard", DASHBOARD[0], "--key", name)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["link"]


DASHBOARD: list[str] = []


def _click_and_wait(driver, element_id: str) -> None:
    """Click a submit button and wait for the page it leads to (a click does
    not wait for it): the old page carries a marker the new one lacks."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def arrived(d) -> bool:
        try:
            return d.execute_script("return window.sawgridOldPage === undefined && document.readyState === 'complete'")
        except WebDriverException:   # between two pages
            return False

    driver.execute_script("window.sawgridOldPage = true")
    driver.find_element(By.ID, element_id).click()
    WebDriverWait(driver, WAIT).until(arrived)


def _sign_in(driver, link: str) -> None:
    driver.get(link)
    _click_and_wait(driver, "confirm-sign-in")


def _body(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def test_dashboard_in_a_browser(settled_market, browser, tmp_path):
    from selenium.webdriver.common.by import By

    net, mk, day, db = settled_market
    dashboard = Dashboard(net.url, db, tmp_path / "dashboard.log", gateway=f"http://127.0.0.1:{free_port()}")
    DASHBOARD[:] = [dashboard.url]
    try:
        # the market, public
        browser.get(f"{dashboard.url}/?day={market.day_text(day)}&hour=19")
        drawn = _charts_drawn(browser)
        assert set(drawn) == {"chart-traded", "chart-prices", "chart-par"}, drawn
        assert market.day_text(day) in browser.find_element(By.ID, "archive").text
        _screenshot(browser, tmp_path, "market")
        browser.get(f"{dashboard.url}/archive/{market.day_text(day)}")
        assert "verified against the chain's history" in browser.find_element(By.ID, "verification").text
        _screenshot(browser, tmp_path, "archive-day")

        # a wrong key: not on chain; and a signature by another key than the one claimed
        keys.generate("stranger", net.key_dir)
        _sign_in(browser, _login_link(net, "stranger"))
        assert "403" in browser.title and "not a participant or operator on chain" in _body(browser)
        _screenshot(browser, tmp_path, "sign-in-refused")
        forged = re.sub(r"public_key=[0-9a-f]+", f"public_key={mk.pk('buy1')}", _login_link(net, "sel1"))
        _sign_in(browser, forged)
        assert "401" in browser.title and "does not verify" in _body(browser)
        assert browser.get_cookie("sawgrid_session") is None or "signed-in-as" not in browser.page_source

        # the right key: its own account, the chain's totals
        link = _login_link(net, "buy1")
        _sign_in(browser, link)
        assert browser.current_url == f"{dashboard.url}/account/{mk.pk('buy1')}"
        cookie = browser.get_cookie("sawgrid_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        expected = _expected(chain_contracts(mk.rest).values(), mk.pk("buy1"))["total"]
        row = browser.find_element(By.ID, "statement-total")
        for name in ("spent", "earned", "fees", "penalties", "net"):
            text = row.find_element(By.CLASS_NAME, name).text
            shown = market.eur_to_ueur(text.lstrip("-")) * (-1 if text.startswith("-") else 1)
            assert shown == expected[name], (name, text, expected)
        assert expected["spent"] > 0 and expected["fees"] > 0
        drawn = _charts_drawn(browser)
        assert set(drawn) == {"chart-statement", "chart-recommended", "chart-score"}, drawn
        assert "declined" in browser.find_element(By.ID, "trades").text
        _screenshot(browser, tmp_path, "account")

        # the link worked once
        _sign_in(browser, link)
        assert "400" in browser.title and "already used or expired" in _body(browser)

        # another member's account
        browser.get(f"{dashboard.url}/account/{mk.pk('sel1')}")
        assert "403" in browser.title and "another member's account" in _body(browser)
        assert mk.pk("sel1")[:10] not in browser.find_element(By.TAG_NAME, "main").text
        _screenshot(browser, tmp_path, "other-account-refused")
        browser.get(f"{dashboard.url}/operator")
        assert "403" in browser.title

        # sign out (a POST with the CSRF token), then the operator
        browser.get(f"{dashboard.url}/account/{mk.pk('buy1')}")
        _click_and_wait(browser, "sign-out")
        assert browser.find_elements(By.ID, "sign-in")
        browser.get(f"{dashboard.url}/account/{mk.pk('buy1')}")
        assert "401" in browser.title
        _sign_in(browser, _login_link(net, "operator"))
        assert browser.current_url == f"{dashboard.url}/operator"
        pending = browser.find_element(By.ID, "pending").text
        assert mk.pk("newcomer") in pending and mk.pk("buy1") not in pending
        declined = browser.find_element(By.ID, "declined").text
        assert any(c.stage == pb.DECLINED and c.id in declined for c in chain_contracts(mk.rest).values())
        assert "gateway unreachable" in browser.find_element(By.ID, "gateway-alerts").text
        assert "failed-sign-ins" not in browser.find_element(By.ID, "own-alerts").text   # two failures: no alert
        _screenshot(browser, tmp_path, "operator")
    finally:
        assert dashboard.stop() == 0
    log = (tmp_path / "dashboard.log").read_text()
    assert "Traceback" not in log and "dashboard stopped" in log


# --------------------------------------------------------------------------- HTTPS and the command line
@pytest.fixture
def empty_mirror(tmp_path) -> str:
    from sawgrid.clients.sync.database import open_database

    url = f"sqlite:///{tmp_path / 'mirror.sqlite'}"
    open_database(url).engine.dispose()
    return url


def test_dashboard_serves_https_and_login_verifies_it(empty_mirror, tmp_path):
    import ssl
    import urllib.request

    from sawgrid.clients.sdk.tls import CA_ENV, client_context, write_self_signed

    cert, key = write_self_signed(tmp_path / "tls")
    keys.generate("alice", tmp_path / "keys")
    port = free_port()
    log = tmp_path / "dashboard.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "sawgrid.clients.cli", "--url", f"http://127.0.0.1:{free_port()}",
                                 "dashboard", "--db", empty_mirror, "--bind", f"127.0.0.1:{port}",
                                 "--tls-cert", str(cert), "--tls-key", str(key)],
                                stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent())
    try:
        deadline = time.monotonic() + WAIT
        while "dashboard on https://" not in log.read_text(errors="replace"):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        url = f"https://127.0.0.1:{port}"
        with urllib.request.urlopen(url + "/login", context=client_context(cert), timeout=10) as answer:
            cookie = answer.headers["Set-Cookie"]
            assert answer.status == 200 and answer.headers["Strict-Transport-Security"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        with pytest.raises(urllib.error.URLError):     # not trusted without the certificate
            urllib.request.urlopen(url + "/login", context=ssl.create_default_context(), timeout=10)
        base = ("--key-dir", str(tmp_path / "keys"), "--json", "login", "--dashboard", url, "--key", "alice")
        unverified = subprocess.run([sys.executable, "-m", "sawgrid.clients.cli", *base], capture_output=True,
                                    text=True, timeout=60, env={k: v for k, v in os.environ.items() if k != CA_ENV})
        assert unverified.returncode == 1 and unverified.stderr.startswith("sawgrid: error: TLS with")
        assert unverified.stderr.count("\n") == 1
        trusted = subprocess.run([sys.executable, "-m", "sawgrid.clients.cli", *base], capture_output=True, text=True,
                                 timeout=60, env={**os.environ, CA_ENV: str(cert)})
        assert trusted.returncode == 0, trusted.stderr
        assert json.loads(trusted.stdout)["link"].startswith(url + "/login/link?challenge=sawgrid-dashboard-login%3A")
    finally:
        proc.terminate()
        assert proc.wait(15) == 0
    assert "Traceback" not in log.read_text()


@pytest.mark.parametrize("args, message", [
    (["dashboard", "--bind", "0.0.0.0:8080"], "plain HTTP is for loopback addresses only"),
    (["dashboard", "--tls-cert", "c.pem"], "--tls-cert and --tls-key go together"),
    (["dashboard", "--tls-cert", "{tmp}/none.pem", "--tls-key", "{tmp}/none.pem"], "--tls-cert/--tls-key:"),
    (["dashboard", "--db", "sqlite:///{tmp}/none.sqlite"], "--db: no mirror at"),
    (["dashboard", "--db", "{mirror}", "--gateway", "ftp://x"], "--gateway: expected http://HOST:PORT"),
    (["dashboard", "--db", "{mirror}", "--bind", "127.0.0.1:{busy}"], "cannot listen on 127.0.0.1:"),
    (["login", "--dashboard", "http://127.0.0.1:{closed}", "--key", "alice"], "cannot reach the dashboard at"),
    (["login", "--dashboard", "localhost", "--key", "alice"], "--dashboard: expected http://HOST:PORT"),
    (["login", "--dashboard", "http://127.0.0.1:1", "--key", "nobody"], "no private key"),
])
def test_bad_input_is_one_line(args, message, empty_mirror, tmp_path):
    import socket

    keys.generate("alice", tmp_path / "keys")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        args = [a.replace("{tmp}", str(tmp_path)).replace("{mirror}", empty_mirror)
                .replace("{busy}", str(busy.getsockname()[1])).replace("{closed}", str(free_port())) for a in args]
        out = _cli("--key-dir", str(tmp_path / "keys"), *args)
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert out.stderr.startswith("sawgrid: error: ") and out.stderr.count("\n") == 1, out.stderr
    assert message in out.stderr


def test_login_refuses_to_sign_what_is_not_a_challenge(tmp_path):
    """A server that asks `sawgrid login` to sign anything else (a transaction
    header, say) gets no signature."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = json.dumps({"challenge": "0a42" + "00" * 60, "expires_in": 120}).encode()
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    keys.generate("alice", tmp_path / "keys")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        out = _cli("--key-dir", str(tmp_path / "keys"), "login", "--dashboard",
                   f"http://127.0.0.1:{server.server_port}", "--key", "alice")
    finally:
        server.shutdown()
    assert out.returncode == 1 and "not a sign-in challenge; nothing was signed" in out.stderr, out.stderr


def test_help_has_an_example():
    for name in ("dashboard", "login"):
        out = _cli(name, "--help")
        assert out.returncode == 0 and "example:" in out.stdout and f"sawgrid {name} " in out.stdout
