"""casework as deploy/ runs it, end to end over HTTPS: nginx with deploy/nginx/casework.conf terminating
TLS, gunicorn with deploy/gunicorn.conf.py and CASEWORK_ENV=production, a Celery worker and beat started
with their systemd units' command lines, an SMTP relay that insists on STARTTLS, and Debian's chromium
trusting the test's certificate. A consumer files and confirms with the code from the e-mail; a
supervisor signs in and works the case. Every form passes Flask-WTF's strict Referer check, every cookie
is Secure, nothing links to plain http, and only nginx may say a request was HTTPS.

Production refuses the tests' clock offset, so this test runs on the real date: its dates are relative to
today and it asserts nothing that depends on which day that is.
"""

from __future__ import annotations

import datetime as dt
import http.client
import io
import os
import re
import secrets
import ssl
import struct
import sys
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import trustme
from limits.storage import storage_from_string
from pypdf import PdfReader

from tests.conftest import TEST_BROKER_URL, TEST_DATABASE_URL, drop_database, reset_database, sibling_database
from tests.support.browser import CHROMIUM, LAUNCH_ARGS
from tests.support.deploy import (
    DEPLOY,
    NGINX,
    ROOT,
    Service,
    port_open,
    read_env_file,
    render_site,
    run_command,
    spki_sha256,
    stop_all,
    unit_command,
)
from tests.support.smtp import SMTPServer, free_port
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.http, pytest.mark.browser, pytest.mark.worker]

HOST = "casework.test"  # resolved to 127.0.0.1 by chromium's --host-resolver-rules
STAFF_EMAIL = "supervisor@casework.test"
CONSUMER_EMAIL = "zoe@example.com"
# Our own app over plain http, under any name it answers to.
PLAIN_HTTP_TO_US = re.compile(r"http://(?:casework\.test|127\.0\.0\.1|localhost)\b")

if not (CHROMIUM.exists() and NGINX.exists()):
    if os.environ.get("CASEWORK_REQUIRE_BROWSER"):
        raise RuntimeError("the production test needs Debian's chromium and nginx: apt-get install -y chromium nginx")
    pytest.skip("Debian's chromium or nginx is not installed (apt-get install -y chromium nginx)",
                allow_module_level=True)


@dataclass
class Stack:
    base_url: str
    http_port: int
    gunicorn_port: int
    ca: trustme.CA
    server_certificate: bytes
    smtp: SMTPServer
    staff_password: str
    services: dict[str, Service]
    logs: Path
    shots: Path
    seen: list[tuple[str, str, int, dict[str, str]]] = field(default_factory=list)  # method, URL, status, headers

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


def _database_url(tmp: Path) -> str:
    """Its own database: the test backend's server with a database of its own, or a SQLite file."""
    return sibling_database(TEST_DATABASE_URL, "production") or f"sqlite:///{tmp / 'casework.sqlite'}"


def _nginx_conf(tmp: Path, site: str) -> Path:
    """A main nginx.conf of the test's own (pid, logs and temp files in ``tmp``) that includes the site."""
    (tmp / "casework.conf").write_text(site)
    user = "user root;\n" if os.geteuid() == 0 else ""  # the workers read the test's private temp folders
    temp_paths = "".join(f"    {kind}_temp_path {tmp / kind};\n"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"daemon off;\n{user}worker_processes 1;\npid {tmp / 'nginx.pid'};\nerror_log {tmp / 'error.log'} warn;\n"
        "events { worker_connections 256; }\n"
        "http {\n    include /etc/nginx/mime.types;\n    default_type application/octet-stream;\n"
        f"    access_log off;\n{temp_paths}    include {tmp / 'casework.conf'};\n}}\n"
    )
    return conf


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """Everything deploy/ describes, on free ports; every process is stopped at the end, pass or fail."""
    logs, state, nginx_dir, tls_dir = (tmp_path / name for name in ("logs", "state", "nginx", "tls"))
    for folder in (logs, state, nginx_dir, tls_dir, tmp_path / "shots"):
        folder.mkdir()
    https_port, http_port, gunicorn_port = free_port(), free_port(), free_port()
    base_url = f"https://{HOST}:{https_port}"

    ca = trustme.CA()
    server = ca.issue_cert(HOST, "127.0.0.1")
    server.cert_chain_pems[0].write_to_path(str(tls_dir / "cert.pem"))
    for blob in server.cert_chain_pems[1:]:
        blob.write_to_path(str(tls_dir / "cert.pem"), append=True)
    server.private_key_pem.write_to_path(str(tls_dir / "key.pem"))
    ca.cert_pem.write_to_path(str(tls_dir / "ca.pem"))
    smtp_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.configure_cert(smtp_tls)
    smtp = SMTPServer(tls_context=smtp_tls)

    database_url = _database_url(tmp_path)
    broker_url = TEST_BROKER_URL or f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASEWORK_", "FORWARDED_ALLOW_IPS"))}
    env.update(read_env_file(DEPLOY / "casework.env.example"))  # what a deployment starts from
    env.update({
        "CASEWORK_SECRET_KEY": secrets.token_urlsafe(48),
        "CASEWORK_BASE_URL": base_url,
        "CASEWORK_TRUSTED_PROXIES": "127.0.0.1",
        "CASEWORK_DATABASE_URL": database_url,
        "CASEWORK_BROKER_URL": broker_url,
        "CASEWORK_QUEUE_NAME": f"casework-https-{uuid.uuid4().hex[:8]}",
        "CASEWORK_SMTP_URL": smtp.url,
        "CASEWORK_MESSAGE_ID_DOMAIN": HOST,
        "CASEWORK_VAR_DIR": str(state),
        "CASEWORK_WEB_BIND": f"127.0.0.1:{gunicorn_port}",
        "CASEWORK_WEB_WORKERS": "2",
        "SSL_CERT_FILE": str(tls_dir / "ca.pem"),  # the relay's certificate is the test CA's
    })
    assert env["CASEWORK_ENV"] == "production"
    site = render_site({
        "SERVER_NAME": HOST, "PUBLIC_URL": base_url,
        "HTTPS_LISTEN": f"127.0.0.1:{https_port}", "HTTP_LISTEN": f"127.0.0.1:{http_port}",
        "TLS_CERTIFICATE": str(tls_dir / "cert.pem"), "TLS_CERTIFICATE_KEY": str(tls_dir / "key.pem"),
        "GUNICORN": f"127.0.0.1:{gunicorn_port}", "STATIC_ROOT": str(ROOT / "casework" / "static"),
        "LOG_DIR": str(logs),
    })
    nginx_conf = _nginx_conf(nginx_dir, site)
    flask = [str(Path(sys.executable).with_name("flask")), "--app", "casework"]

    services: dict[str, Service] = {}
    smtp.start()
    try:
        reset_database(database_url)
        if broker_url.startswith("redis"):
            storage_from_string(broker_url).reset()  # rate-limit counters of earlier runs, as limiter.reset()
        run_command([*flask, "db", "upgrade"], env)
        ensured = run_command([*flask, "staff", "ensure", "--email", STAFF_EMAIL], env)
        password = re.search(r"password:\s+(\S+)", ensured)
        assert password is not None, ensured

        instance = f"test-{uuid.uuid4().hex[:6]}"
        commands = {
            "gunicorn": unit_command("casework-web.service", state),
            "worker": unit_command("casework-worker@.service", state, instance),
            "beat": unit_command("casework-beat.service", state),
            "nginx": [str(NGINX), "-c", str(nginx_conf), "-p", f"{nginx_dir}/", "-e", str(nginx_dir / "error.log")],
        }
        assert "deploy/gunicorn.conf.py" in " ".join(commands["gunicorn"])
        for name, argv in commands.items():
            services[name] = Service(name, argv, env, logs).start()
        services["gunicorn"].wait_until(lambda: port_open(gunicorn_port), 60, "gunicorn listening")
        services["nginx"].wait_until(lambda: port_open(https_port) and port_open(http_port), 30, "nginx listening")
        services["worker"].wait_until(lambda: " ready." in services["worker"].log(), 60, "worker ready")
        services["beat"].wait_until(lambda: "beat: Starting" in services["beat"].log(), 60, "beat started")
        yield Stack(base_url, http_port, gunicorn_port, ca, server.cert_chain_pems[0].bytes(), smtp,
                    password.group(1), services, logs, tmp_path / "shots")
    finally:
        stop_all(services.values())
        smtp.stop()
        drop_database(database_url)


@pytest.fixture
def browser(stack: Stack) -> Iterator[Any]:
    """Chromium that trusts exactly the test's server key, and finds casework.test on 127.0.0.1."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
            *LAUNCH_ARGS,
            f"--ignore-certificate-errors-spki-list={spki_sha256(stack.server_certificate)}",
            f"--host-resolver-rules=MAP {HOST} 127.0.0.1",
        ])
        yield launched
        launched.close()


def new_page(browser: Any, stack: Stack) -> Any:
    """A page in a context of its own (its own cookies) whose every answer is noted in ``stack.seen``."""
    context = browser.new_context()
    page = context.new_page()
    page.on("response", lambda r: stack.seen.append((r.request.method, r.url, r.status, r.all_headers())))
    return page


def submit(page: Any, button: str) -> None:
    """Press a form's button and wait for the page the server answers with (a 400 here is a CSRF failure)."""
    with page.expect_navigation() as landed:
        page.get_by_role("button", name=button).click()
    assert landed.value.status < 400, f"{button}: {landed.value.status} {page.locator('main').inner_text()[:300]}"


def tiny_png() -> bytes:
    """A real one-pixel PNG, for an upload through nginx."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff"))
            + chunk(b"IEND", b""))


def mail_with_subject(smtp: SMTPServer, word: str) -> Message | None:
    return next((m for m in smtp.messages if word in str(m["Subject"]).lower()), None)


def parts(message: Message) -> dict[str, str]:
    """The text and HTML bodies of an e-mail, decoded."""
    found: dict[str, str] = {}
    for part in message.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_content_type()] = payload.decode(part.get_content_charset() or "utf-8")
    return found


def get(host: str, port: int, path: str, headers: dict[str, str],
        source: str | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(host, port, timeout=10,
                                            source_address=(source, 0) if source else None)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_production_over_https_through_nginx(stack: Stack, browser: Any) -> None:
    started = time.monotonic()
    base, shots = stack.base_url, stack.shots
    today = dt.datetime.now(dt.UTC).date()
    pages_html: list[str] = []

    # The consumer files on the single-page form.
    consumer = new_page(browser, stack)
    first = consumer.goto(base + "/")
    assert first is not None
    assert first.status == 200
    assert first.security_details()["protocol"].startswith("TLS")
    assert consumer.evaluate("window.isSecureContext") is True
    consumer.select_option("#plan", "coursera:coursera-plus-annual")
    consumer.check("#billing_channel-direct")
    consumer.select_option("#country", "AU")
    consumer.fill("#payment_date", (today - dt.timedelta(days=4)).isoformat())
    consumer.fill("#amount-value", "599.00")
    consumer.fill("#amount-currency", "AUD")
    consumer.check("#requested_outcome-cancel_and_refund")
    consumer.fill("#consumer-name", "Zoë Ångström")
    consumer.fill("#consumer-email", CONSUMER_EMAIL)
    consumer.fill("#account_identifier", CONSUMER_EMAIL)
    consumer.check("#consent-send_in_my_name")
    pages_html.append(consumer.content())
    consumer.screenshot(path=str(shots / "1-filing-form.png"), full_page=True)
    submit(consumer, "File my case")
    assert re.search(r"/c/[A-Za-z0-9_-]+$", consumer.url)
    assert "Waiting for your confirmation" in consumer.content()
    pages_html.append(consumer.content())
    status_token = consumer.url.rsplit("/", 1)[1]

    # The worker renders the letter and e-mails it through the relay, over STARTTLS.
    confirmation = wait_for(lambda: mail_with_subject(stack.smtp, "confirm"), 60, "the confirmation e-mail")
    assert confirmation is not None
    bodies = parts(confirmation)
    assert set(bodies) == {"text/plain", "text/html"}
    link = re.search(r"https://[^\s\"<>]+/confirm\?code=([A-Za-z0-9-]+)", bodies["text/plain"])
    assert link is not None, bodies["text/plain"]
    assert link.group(0).startswith(f"{base}/c/")
    code = link.group(1)
    letter = next(p for p in confirmation.walk() if p.get_content_type() == "application/pdf")
    letter_bytes = letter.get_payload(decode=True)
    assert isinstance(letter_bytes, bytes)
    letter_text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(letter_bytes)).pages)

    # The link from the e-mail, and the confirmation.
    consumer.goto(link.group(0))
    pages_html.append(consumer.content())
    consumer.screenshot(path=str(shots / "2-confirm.png"), full_page=True)
    submit(consumer, "Confirm the letter")
    assert "Confirmed: waiting for delivery" in consumer.content()
    pages_html.append(consumer.content())
    reference = re.search(r"Case (CW-[A-Z0-9-]+)", consumer.content())
    assert reference is not None

    # A supervisor signs in and works the case: takes it, records the company's answer with a copy.
    staff = new_page(browser, stack)
    staff.goto(base + "/staff/login")
    staff.fill("#email", STAFF_EMAIL)
    staff.fill("#password", stack.staff_password)
    submit(staff, "Sign in")
    assert re.search(r"/staff/password$", staff.url)  # the printed password is replaced at the first sign-in
    staff.fill("#current_password", stack.staff_password)
    staff.fill("#new_password", "the supervisor's own long password")
    staff.fill("#confirm_password", "the supervisor's own long password")
    submit(staff, "Change password")
    assert re.search(r"/staff$", staff.url)
    staff.goto(f"{base}/staff/cases/{reference.group(1)}")
    submit(staff, "Take this case")
    assert "The case is yours now." in staff.content()
    if not staff.locator("#response-type").is_visible():  # the actions are disclosures: open this one
        staff.click("summary:has-text(\"Record the company's answer\")")
    staff.select_option("#response-type", "confirmed_cancellation")
    staff.fill("#response-received_on", (today - dt.timedelta(days=1)).isoformat())
    staff.fill("#response-summary", "They confirmed the cancellation by e-mail.")
    staff.set_input_files("#response-file", {"name": "answer.png", "mimeType": "image/png", "buffer": tiny_png()})
    submit(staff, "Record answer")
    assert staff.locator(".error-summary").count() == 0
    assert "The company's answer is recorded." in staff.content()
    assert "answer.png" in staff.content()
    pages_html.append(staff.content())
    staff.screenshot(path=str(shots / "3-staff-case.png"), full_page=True)

    # Every form went through: the POSTs were answered with redirects, nothing was a 400 (CSRF) or a 5xx.
    ours = [entry for entry in stack.seen if entry[1].startswith(base + "/")]
    assert all(url.startswith(base + "/") or url.startswith("data:") for _, url, _, _ in stack.seen)
    posts = [(url, status) for method, url, status, _ in ours if method == "POST"]
    assert len(posts) == 6, posts
    assert all(status == 303 for _, status in posts), posts
    assert not [(url, status) for _, url, status, _ in ours if status == 400 or status >= 500]
    # The stylesheet came from nginx's static location, with HSTS as the app's answers have it.
    css = [headers for _, url, status, headers in ours if url.endswith("/static/casework.css") and status == 200]
    assert css
    assert "max-age=31536000" in css[0]["strict-transport-security"]
    # HSTS and same-origin Referer on every page; Secure cookies (and HttpOnly, SameSite=Lax) in both browsers.
    documents = [headers for _, url, status, headers in ours if headers.get("content-type", "").startswith("text/html")]
    assert documents
    assert all(h.get("strict-transport-security") == "max-age=31536000; includeSubDomains" for h in documents)
    assert all(h.get("referrer-policy") == "same-origin" for h in documents)
    for page in (consumer, staff):
        cookies = page.context.cookies()
        assert cookies
        assert all(c["secure"] and c["httpOnly"] and c["sameSite"] == "Lax" for c in cookies), cookies
    assert "session" in {c["name"] for c in staff.context.cookies()}

    # No page and no e-mail (text, HTML, the letter) points at the app over plain http.
    for html in pages_html:
        assert not PLAIN_HTTP_TO_US.search(html)
    for message in stack.smtp.messages:
        for body in parts(message).values():
            assert not PLAIN_HTTP_TO_US.search(body)
            assert base in body
    assert not PLAIN_HTTP_TO_US.search(letter_text)

    # Plain http to nginx moves to the one HTTPS address, path and query kept.
    moved = get("127.0.0.1", stack.http_port, "/start?from=http", {"Host": f"{HOST}:{stack.http_port}"})
    assert (moved.status, moved.getheader("Location")) == (301, f"{base}/start?from=http")

    # Straight to gunicorn: only the trusted proxy's address may say "this was HTTPS".
    public_host = base.removeprefix("https://")
    claims = {"Host": public_host, "X-Forwarded-Host": public_host, "X-Forwarded-Proto": "https",
              "X-Forwarded-For": "203.0.113.7"}
    untrusted = get("127.0.0.1", stack.gunicorn_port, "/healthz", claims, source="127.0.0.2")
    trusted = get("127.0.0.1", stack.gunicorn_port, "/healthz", claims, source="127.0.0.1")
    assert untrusted.status == trusted.status == 200
    assert untrusted.getheader("Strict-Transport-Security") is None
    assert trusted.getheader("Strict-Transport-Security") == "max-age=31536000; includeSubDomains"

    # gunicorn logged the untrusted client's own address, and the client the proxy named (lines written
    # just after the answers went out).
    def logged_both() -> bool:
        log = stack.services["gunicorn"].log()
        return all(re.search(rf'^{re.escape(client)} .* "GET /healthz HTTP/1\.1" 200', log, re.M)
                   for client in ("127.0.0.2", "203.0.113.7"))

    wait_for(logged_both, 10, "gunicorn's log lines for 127.0.0.2 and 203.0.113.7")

    # The secrets of the status link and the code reached no log; nginx logged the path blanked.
    assert "/c/[redacted]/confirm " in (stack.logs / "casework-access.log").read_text()
    for name in ("casework-access.log", "casework-error.log", *(f"{service}.log" for service in stack.services)):
        logged = (stack.logs / name).read_text(errors="replace")
        assert status_token not in logged, name
        assert f"code={code}" not in logged, name

    assert all(service.running for service in stack.services.values()), "a service died during the test"
    print(f"\nproduction-shaped flow over HTTPS: {time.monotonic() - started:.1f} s after start-up; "
          f"screenshots in {shots}")

