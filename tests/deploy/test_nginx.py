"""deploy/nginx.conf passes `nginx -t`, and behaves as documented when run for real on loopback:
HTTP moves to HTTPS, the webhook location forwards POSTs with Telegram's secret header to the
bot (and refuses GET), and /files/ serves kept files as downloads, without listings, unfinished
parts or dot files. Skipped where nginx or openssl is absent.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
import requests
import urllib3

from bot.sandbox.emulator import BotApiEmulator
from tests.certificates import self_signed
from tests.deploy import nginxproc
from tests.deploy.botproc import WebhookBot, free_port
from tests.e2e.harness import USER

CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"
NGINX = nginxproc.NGINX
#: nginx in the foreground on a test config (tests/e2e/test_replicas.py imports it from here).
_nginx = nginxproc.running
OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(not (NGINX and OPENSSL), reason="nginx or openssl not installed")


def _site(tmp: Path, http_port: int, https_port: int, bot_port: int, downloads: Path) -> Path:
    """A runnable copy of deploy/nginx.conf: loopback ports, a test certificate, test folders."""
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    self_signed(
        cert,
        key,
        "/CN=bot.example.org",
        "subjectAltName=DNS:bot.example.org,IP:127.0.0.1",
        days=1,
    )
    text = CONF.read_text()
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen [::]:80;": "",
        "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
        "listen [::]:443 ssl;": "",
        "/etc/letsencrypt/live/bot.example.org/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/bot.example.org/privkey.pem": str(key),
        "alias /var/lib/errandbot/downloads/;": f"alias {downloads}/;",
        "proxy_pass http://127.0.0.1:8080;": f"proxy_pass http://127.0.0.1:{bot_port};",
    }
    for old, new in replacements.items():
        assert old in text, f"deploy/nginx.conf no longer has {old!r}; update this test"
        text = text.replace(old, new)
    site = tmp / "errandbot.conf"
    site.write_text(text)
    return nginxproc.main_conf(tmp, site)


@pytest.fixture
def nginx_site(tmp_path):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    (downloads / "report.html").write_text("<script>alert(1)</script>")
    (downloads / "big.iso.part").write_bytes(b"\0" * 10)
    (downloads / ".big.iso.segments").write_text("{}")
    http_port, https_port = free_port(), free_port()
    with nginxproc.upstream() as bot:
        main = _site(tmp_path, http_port, https_port, bot.port, downloads)
        with nginxproc.running(tmp_path, main, https_port):
            yield http_port, https_port, bot.seen


@pytest.mark.timeout(60)
def test_config_passes_nginx_t(tmp_path):
    main = _site(tmp_path, free_port(), free_port(), free_port(), tmp_path)
    result = nginxproc.check(tmp_path, main)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@pytest.mark.timeout(60)
def test_running_config_routes_webhook_and_files(nginx_site):
    http_port, https_port, seen = nginx_site
    base = f"https://127.0.0.1:{https_port}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
        get = lambda path, **kw: requests.get(base + path, verify=False, timeout=10, **kw)  # noqa: E731

        plain = requests.get(
            f"http://127.0.0.1:{http_port}/files/x", allow_redirects=False, timeout=10
        )
        assert plain.status_code == 301
        assert plain.headers["Location"].startswith("https://")

        update = b'{"update_id": 1}'
        posted = requests.post(
            base + "/errand/webhook",
            data=update,
            verify=False,
            timeout=10,
            headers={
                "X-Telegram-Bot-Api-Secret-Token": "s3cret",
                "Content-Type": "application/json",
            },
        )
        assert posted.status_code == 200
        [(method, path, headers, body)] = seen
        assert (method, path, body) == ("POST", "/errand/webhook", update)
        assert headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cret"
        assert get("/errand/webhook").status_code == 403
        assert len(seen) == 1

        served = get("/files/report.html")
        assert served.status_code == 200
        assert served.text == "<script>alert(1)</script>"
        assert served.headers["Content-Type"] == "application/octet-stream"
        assert served.headers["Content-Disposition"] == "attachment"
        assert served.headers["X-Content-Type-Options"] == "nosniff"

        listing = get("/files/")
        assert listing.status_code in (403, 404) and "report.html" not in listing.text
        assert get("/files/big.iso.part").status_code == 404
        assert get("/files/.big.iso.segments").status_code == 404
        # a missing or expired file: a page that says so, not an attachment to download
        for gone in ("/files/expired.iso", "/files/", "/files/big.iso.part"):
            page = get(gone)
            assert page.status_code == 404, gone
            assert "Content-Disposition" not in page.headers, gone
            assert page.headers["Content-Type"].startswith("text/plain"), gone
            assert "This file is not here" in page.text, gone
        assert get("/files/../nginx.conf").status_code in (400, 404)
        assert get("/").status_code == 404


@pytest.mark.timeout(90)
def test_webhook_through_nginx_to_the_real_bot(tmp_path, monkeypatch):
    """The deployed shape: Telegram (the emulator) posts over HTTPS to nginx, nginx forwards to
    the real ``errandbot run`` on loopback, and the bot's answer to a wrong secret (403) comes
    back through the proxy."""
    secret = "through-nginx-secret_0123456789abcdef"
    http_port, https_port, bot_port = free_port(), free_port(), free_port()
    main = _site(tmp_path, http_port, https_port, bot_port, tmp_path)
    # the emulator's HTTPS client trusts the test certificate, as Telegram trusts a real one
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
    data = tmp_path / "data"
    data.mkdir()
    with BotApiEmulator() as emulator, nginxproc.running(tmp_path, main, https_port):
        bot = WebhookBot(
            emulator,
            data,
            {
                "WEBHOOK_URL": f"https://127.0.0.1:{https_port}/errand/webhook",
                "WEBHOOK_LISTEN": f"127.0.0.1:{bot_port}",
                "WEBHOOK_SECRET": secret,
            },
        )
        try:
            bot.start()
            assert emulator.webhook["url"].startswith("https://")
            sent = emulator.send_text(USER, USER, "/start")
            reply = emulator.wait_reply(USER, sent, timeout=15)
            assert "Errand" in reply.text
            assert any(status == 200 for _, status in emulator.webhook_deliveries)
            forged = {
                "update_id": 999,
                "message": {
                    "message_id": 99,
                    "date": 0,
                    "text": "/help",
                    "chat": {"id": USER, "type": "private"},
                },
            }
            assert emulator.post_webhook(forged, secret="not-the-secret") == 403
        finally:
            bot.close()
    assert secret not in bot.output
