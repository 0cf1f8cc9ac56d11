"""The web desk in a real browser: Debian's Chromium driven by Playwright, against the desk on 127.0.0.1 and,
for NCALayer, a stand-in speaking its WebSocket protocol on 127.0.0.1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.web.conftest import CHROMIUM, PASSWORDS, XSS, Server, config_of, public_path

ORDER = "C-2026-0001-order"
REFUSAL = "C-2026-0002-reasoned_refusal"
XSS_ACT = "C-XSS-0001-inspection_act"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no /usr/bin/chromium (scripts/ensure-debian-packages installs it)"),
]


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="ru-RU")
    p = context.new_page()
    dialogs: list[str] = []
    p.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    p.dialogs = dialogs  # type: ignore[attr-defined]
    yield p
    context.close()


def sign_in(page, base: str, officer: str, password: str | None = None) -> None:
    page.goto(f"{base}/login")
    page.fill('input[name="officer"]', officer)
    page.fill('input[name="password"]', password or PASSWORDS[officer])
    page.click('form.login button[type="submit"]')


def read(page, base: str, *docs: str) -> None:
    """Issue 15 #4: a document is selected for a batch once it was opened."""
    for d in docs:
        page.goto(f"{base}/documents/{d}")
        page.wait_for_selector("img.page")


def confirm_all(page, base: str) -> None:
    page.goto(f"{base}/queue")
    page.check("#select-all")
    page.click("#to-confirm")
    page.wait_for_url(f"{base}/queue/confirm?*")


def secret(site: Path, officer: str) -> str:
    return next(o.secret for o in config_of(site).officers if o.id == officer)


def test_head_reads_and_signs_a_batch_with_a_password(site, app_factory, page, acts_signed):
    with Server(app_factory()) as server:
        sign_in(page, server.url, "head")
        page.wait_for_url(f"{server.url}/queue")
        assert page.locator(f'li[data-document="{ORDER}"]').count() == 1
        # read the document before signing: its pages as images, its PDF inline
        page.click(f'li[data-document="{ORDER}"] a.read')
        page.wait_for_selector("img.page")
        for _ in range(100):  # polled from here: the page's CSP forbids the eval that wait_for_function uses
            if page.evaluate("document.querySelector('img.page').naturalWidth") > 100:
                break
            page.wait_for_timeout(100)
        assert page.evaluate("document.querySelector('img.page').naturalWidth") > 100
        response = page.request.get(f"{server.url}/documents/{ORDER}/pdf")
        assert response.headers["content-type"] == "application/pdf"
        read(page, server.url, REFUSAL)
        confirm_all(page, server.url)
        page.fill('input[name="secret"]', secret(site, "head"))
        page.click("#sign")
        page.wait_for_url(f"{server.url}/results?*", timeout=60_000)
        assert page.locator('[data-testid="signed"] .badge.valid').count() == 2
        page.goto(f"{server.url}/queue")
        assert page.locator('[data-testid="mine"]').count() == 0
        # the QR address: a public page, no sign-in
        page.context.clear_cookies()
        page.goto(f"{server.url}{public_path(ORDER)}")
        assert page.locator('[data-testid="verdict"].valid').count() == 1


def test_wrong_password_leaves_the_batch_unsigned(site, app_factory, page, acts_signed):
    with Server(app_factory()) as server:
        sign_in(page, server.url, "head")
        page.wait_for_url(f"{server.url}/queue")
        read(page, server.url, ORDER, REFUSAL)
        confirm_all(page, server.url)
        page.fill('input[name="secret"]', "wrong-password")
        page.click("#sign")
        page.wait_for_url(f"{server.url}/queue/confirm?*")
        assert "E-SIGN-SECRET" in page.inner_text("p.flash.error")  # in words, the code aside
        assert page.locator('[data-testid="confirm-list"] li').count() == 2  # the selection kept
        page.goto(f"{server.url}/queue")
        assert page.locator(f'[data-testid="mine"] li[data-document="{ORDER}"]').count() == 1
        assert page.locator(f'[data-testid="mine"] li[data-document="{REFUSAL}"]').count() == 1


def test_head_signs_with_ncalayer(site, app_factory, page, ncalayer, acts_signed):
    with Server(app_factory(ncalayer_url=ncalayer.url)) as server:
        sign_in(page, server.url, "head-nca")
        page.wait_for_url(f"{server.url}/queue")
        read(page, server.url, ORDER, REFUSAL)
        confirm_all(page, server.url)
        assert page.locator('input[name="secret"]').count() == 0
        page.click("#ncalayer-sign")
        page.wait_for_url(f"{server.url}/results?*", timeout=60_000)
        assert page.locator('[data-testid="signed"] .badge.valid').count() == 2
        assert len(ncalayer.requests) == 2
        request = ncalayer.requests[0]
        assert request["module"] == "kz.gov.pki.knca.basics" and request["method"] == "sign"
        assert request["args"]["format"] == "cms" and request["args"]["signingParams"]["encapsulate"] is False
        assert request["args"]["signerParams"]["iin"] == "750428404517"


def test_ncalayer_cancel_leaves_the_document_queued(site, app_factory, page, ncalayer, acts_signed):
    ncalayer.mode = "cancel"  # the officer closes the key dialog: {"status":true,"body":{}}
    with Server(app_factory(ncalayer_url=ncalayer.url)) as server:
        sign_in(page, server.url, "head-nca")
        page.wait_for_url(f"{server.url}/queue")
        read(page, server.url, ORDER)
        page.goto(f"{server.url}/queue")
        page.check(f'li[data-document="{ORDER}"] input[name="doc"]')
        page.click("#to-confirm")
        page.wait_for_url(f"{server.url}/queue/confirm?*")
        page.click("#ncalayer-sign")
        page.wait_for_selector("#progress-list li")
        page.goto(f"{server.url}/queue")
        assert page.locator(f'[data-testid="mine"] li[data-document="{ORDER}"]').count() == 1


def test_inspector_rejects_and_a_script_in_a_name_stays_text(site, app_factory, page):
    with Server(app_factory()) as server:
        sign_in(page, server.url, "inspector-1")
        page.wait_for_url(f"{server.url}/queue")
        cell = page.locator(f'li[data-document="{XSS_ACT}"] .applicant')
        assert XSS in cell.inner_text()
        page.click(f'li[data-document="{XSS_ACT}"] a.read')
        page.wait_for_selector("#reject-open")
        assert XSS in page.inner_text("dd.applicant")
        page.click("#reject-open")  # a dialog asking the reason (issue 15 #4)
        page.fill('textarea[name="reason"]', "the household list is incomplete")
        page.click("#reject")
        page.wait_for_url(f"{server.url}/queue")
        assert XSS in page.inner_text("p.flash") and "возвращён без подписи" in page.inner_text("p.flash")
        assert page.locator(f'[data-testid="mine"] li[data-document="{XSS_ACT}"]').count() == 0
        page.goto(f"{server.url}/cases/C-XSS-0001")
        assert XSS in page.inner_text("dd.applicant")
        assert page.dialogs == []  # no alert(1) ever ran
