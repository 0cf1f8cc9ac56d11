"""Fixtures of the web desk's tests: a processed demo (with a case whose applicant's surname is a script tag),
officers' web accounts, an officer of another district, an NCALayer officer, a real server on 127.0.0.1 and a
stand-in NCALayer speaking its WebSocket protocol.

The processed demo is made once per session and copied per test (the journal's absolute paths moved along).
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.demo import EXAMPLES
from tests.web.ncalayer_standin import StandInNCALayer, free_port, officer_key

NOW = "2027-01-08T12:00:00+05:00"
XSS = "<script>alert(1)</script>"
PASSWORDS = {"head": "head-pass-1", "inspector-1": "insp1-pass-1", "inspector-2": "insp2-pass-1",
             "head-ast": "ast-pass-1", "head-nca": "nca-pass-1", "operator": "oper-pass-1"}


def _xss_case(inbox: Path) -> None:
    """C-XSS-0001: C-2026-0001's first four events, the applicant's surname a script tag."""
    for src in sorted((EXAMPLES / "C-2026-0001").iterdir())[:4]:
        text = src.read_text(encoding="utf-8").replace("C-2026-0001", "C-XSS-0001")
        text = re.sub(r'("event_id": ")[^"]+(")', lambda m: m.group(1) + str(uuid.uuid4()) + m.group(2), text)
        text = re.sub(r"(<event_id>)[^<]+(</event_id>)", lambda m: m.group(1) + str(uuid.uuid4()) + m.group(2), text)
        if src.name.startswith("01-"):
            data = json.loads(text)
            data["data"]["applicant"]["surname"] = XSS
            text = json.dumps(data, ensure_ascii=False)
        (inbox / f"C-XSS-0001-{src.name}").write_text(text, encoding="utf-8")


def _web_section(root: Path) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

    from pipeline.web.passwords import hash_password

    pki = json.loads((root / "var/demo-pki/pki.json").read_text())
    head = next(o for o in pki["officers"] if o["id"] == "head")
    _key, cert, extra = pkcs12.load_key_and_certificates(Path(head["p12"]).read_bytes(), head["password"].encode())
    pem = cert.public_bytes(Encoding.PEM) + b"".join(c.public_bytes(Encoding.PEM) for c in extra)
    (root / "var/demo-pki/head-cert.pem").write_bytes(pem)
    lines = [
        "",
        "[[officers]]  # another district: sees nothing of ED-ALM-BOS",
        'id = "head-ast"', 'name = "Астана Басшы"', 'iin = "750428404517"', 'role = "head"',
        'office = "ED-AST-01"', 'backend = "pkcs12"', 'key = "var/demo-pki/RSA256_head.p12"',
        "",
        "[[officers]]  # the head again, signing with NCALayer",
        'id = "head-nca"', f"name = {json.dumps(head['name'], ensure_ascii=False)}", f'iin = "{head["iin"]}"',
        'role = "head"', 'office = "ED-ALM-BOS"', 'position_kk = "Білім бөлімінің басшысы"',
        'position_ru = "Руководитель отдела образования"', 'backend = "external"',
        'key = "var/demo-pki/head-cert.pem"',
        "",
        "[web]",
        'host = "127.0.0.1"',
        "port = 0",
        'language = "ru"',
        'ncalayer_url = "ws://127.0.0.1:1"',
        "max_upload_bytes = 2000000",
    ]
    for officer, password in PASSWORDS.items():
        lines += ["", "[[web.accounts]]", f'officer = "{officer}"', f'password_hash = "{hash_password(password)}"']
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def web_template(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo with web accounts, processed once: documents wait in the queue."""
    import os

    from pipeline.config import Config
    from pipeline.runner import Runner

    root = tmp_path_factory.mktemp("web-template") / "site"
    shutil.copytree(demo_template, root, symlinks=True)
    _xss_case(root / "inbox")
    with open(root / "qamqor.toml", "a", encoding="utf-8") as fh:
        fh.write(_web_section(root))
    old, old_now = os.getcwd(), os.environ.get("QAMQOR_NOW")
    os.environ["QAMQOR_NOW"] = NOW
    try:
        os.chdir(root)
        runner = Runner(Config.load(root / "qamqor.toml"))
        runner.run_once(settle=False)
        runner.close()
    finally:
        os.chdir(old)
        if old_now is None:
            os.environ.pop("QAMQOR_NOW", None)
        else:
            os.environ["QAMQOR_NOW"] = old_now
    return root


def copy_site(template: Path, target: Path) -> Path:
    shutil.copytree(template, target, symlinks=True)
    db = sqlite3.connect(target / "var/journal.sqlite")
    with db:
        old, new = str(template), str(target)
        db.execute("UPDATE documents SET pdf_path = replace(pdf_path, ?, ?)", (old, new))
        db.execute("UPDATE deliveries SET path = replace(path, ?, ?)", (old, new))
    db.close()
    return target


@pytest.fixture
def site(web_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = copy_site(web_template, tmp_path / "site")
    monkeypatch.chdir(root)
    monkeypatch.delenv("QAMQOR_CONFIG", raising=False)
    monkeypatch.setenv("QAMQOR_NOW", NOW)
    return root


@pytest.fixture
def acts_signed(site: Path) -> Path:
    """The inspectors have signed the acts (¶10), so the head may sign the orders and refusals (¶11)."""
    from pipeline import queue as Q
    from pipeline.config import Config
    from pipeline.services import Services

    def sign_acts() -> None:
        services = Services.build(Config.load(site / "qamqor.toml"))
        for _ in range(3):
            for item in Q.pending(services, role="inspector"):
                Q.approve(services, item.document_id, Q.demo_officer(services, Q.get(services, item.document_id)))
        services.close()

    # in a thread of its own: the browser tests run an event loop in this one, and signing runs its own
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        pool.submit(sign_acts).result()
    return site


def public_path(document_id: str, root: Path | None = None) -> str:
    """The path and query of a document's verification address (its QR code), token included."""
    from urllib.parse import urlsplit

    from pipeline.verify_links import verify_url

    url = urlsplit(verify_url(config_of(root or Path.cwd()), document_id))
    return url.path + (f"?{url.query}" if url.query else "")


def config_of(root: Path) -> Any:
    from pipeline.config import Config

    return Config.load(root / "qamqor.toml")


@pytest.fixture
def app_factory(site: Path):
    from pipeline.web import create_app

    made = []

    def make(**overrides: Any) -> Any:
        app = create_app(config_of(site), **overrides)
        made.append(app)
        return app

    yield make
    for app in made:
        app.state.desk.close()


@pytest.fixture
def client(app_factory):
    from starlette.testclient import TestClient

    with TestClient(app_factory(), base_url="http://127.0.0.1") as c:
        yield c


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def sign_in(client: Any, officer: str, password: str | None = None) -> Any:
    page = client.get("/login")
    return client.post("/login", data={"officer": officer, "password": password or PASSWORDS[officer],
                                       "csrf": csrf_of(page.text), "next": "/queue"}, follow_redirects=True)


class Server:
    """``qamqor serve``'s application under uvicorn on 127.0.0.1, in a thread."""

    def __init__(self, app: Any):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the desk did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(10)


# --- Debian's Chromium through Playwright (no browser download) -------------------------------------------

CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser_args() -> list[str]:
    """Chromium's command line; a module that needs more overrides this fixture."""
    return BROWSER_ARGS


@pytest.fixture(scope="module")
def browser(browser_args: list[str]):
    """One headless Chromium per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=browser_args, headless=True)
        yield b
        b.close()


@pytest.fixture
def ncalayer(site: Path) -> Iterator[StandInNCALayer]:
    """The NCALayer stand-in (tests/web/ncalayer_standin.py) holding the head's demo key."""
    with StandInNCALayer(*officer_key(site, "head")) as stand_in:
        yield stand_in
