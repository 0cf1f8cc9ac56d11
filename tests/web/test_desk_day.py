"""Issue 15, in a real browser (Debian's Chromium, Playwright) against ``qamqor serve``'s application on
127.0.0.1: a district inspector and the head do a day's work at 1280×800 and at 390×844, in Kazakh and in
Russian — signing in by IIN, the queue in three parts, reading before selecting, the confirmation, a wrong
password typed again, the progress and the results page (reloadable, the language switch works), the return
dialog — with no raw key, English word or internal id in any page's visible text, and no serious or critical
axe-core finding on the queue, document and case pages.  Screenshots are kept under ``tests/artefacts/desk/``.

One browser and one demo for the module (the pages that sign run last, on the module's own copy).
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest

from tests.web import axe
from tests.web.conftest import CHROMIUM, NOW, PASSWORDS, Server, config_of, copy_site

ACT = "C-2026-0001-inspection_act"
ORDER = "C-2026-0001-order"
XSS_ACT = "C-XSS-0001-inspection_act"  # opened by no other test of the module
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
ARTEFACTS = Path(__file__).resolve().parents[1] / "artefacts" / "desk"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no /usr/bin/chromium (scripts/ensure-debian-packages installs it)"),
]


def raw_words() -> set[str]:
    """What must never be read on a page: the catalogue's keys, the lifecycle's and the cases' status values,
    channels, routes, history steps, event names and document kinds (pipeline/core/lifecycle.py and co.)."""
    from forms.catalogue import document_kinds
    from pipeline.core import case as C
    from pipeline.core.lifecycle import DeliveryStatus, DocumentStatus, EventStatus, InputStatus
    from pipeline.outbox import ROUTES
    from pipeline.web.i18n import CATALOGUE

    keys = set(tomllib.loads(CATALOGUE.read_text(encoding="utf-8")))
    values = {str(s) for e in (DocumentStatus, InputStatus, EventStatus, DeliveryStatus) for s in e}
    cases = {C.ACCEPTED, C.DELIVERED, C.CHECKED, C.INSPECTED, C.DECIDED, C.REFUSED_ACCEPTANCE, C.CLOSED}
    steps = {"rendered", "read", "approved", "signing-failed", "rejected-by-officer", "seal-failed", "delivery-planned"}
    events = {"application.submitted", "documents.delivered", "documents.checked", "inspection.completed",
              "decision.made", "result.issued", "complaint.filed"}
    offices = {"ED-ALM-BOS", "PSC-ALM-07", "result_delivery", "complaint", "Details", "None"}
    return (keys | values | cases | set(ROUTES) | {"portal", "psc"} | steps | events | set(document_kinds())
            | offices) - {"yes", "no"}


RAW = raw_words()


def visible_raw(page) -> list[str]:
    """The raw words in the page's visible text (the small support code of an error, "E-…", is allowed)."""
    text = page.inner_text("body")
    found = []
    for w in RAW:
        if re.search(rf"(?<![\w.-]){re.escape(w)}(?![\w-])", text):
            found.append(w)
    return sorted(found)


def shot(page, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def too_wide(page) -> list[str]:
    return page.evaluate("""Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
        .slice(0, 5).map(e => e.tagName + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().right))""")


def small_targets(page) -> list[str]:
    """Links, buttons and form controls smaller than 24×24 px (WCAG 2.2 target size), by their text."""
    boxes = page.evaluate("""Array.from(document.querySelectorAll('main a, main button, main input:not([type=hidden]), main select, header a, header button'))
        .filter(e => e.offsetParent !== null && !e.closest('.visually-hidden'))
        .map(e => { const r = e.getBoundingClientRect(); return [e.tagName + ':' + (e.innerText || e.name || e.type || '').slice(0, 30), r.width, r.height]; })""")
    return [name for name, w, h in boxes if w < 24 or h < 24]


@pytest.fixture(scope="module")
def day(web_template: Path, tmp_path_factory: pytest.TempPathFactory):
    """The module's demo copy and its desk on 127.0.0.1 (one for every test of the module)."""
    from pipeline.web import create_app

    root = copy_site(web_template, tmp_path_factory.mktemp("desk-day") / "site")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.delenv("QAMQOR_CONFIG", raising=False)
        mp.setenv("QAMQOR_NOW", NOW)
        app = create_app(config_of(root))
        with Server(app) as server:
            yield root, server.url
        app.state.desk.close()


def open_page(browser, size: str, lang: str):
    w, h = SIZES[size]
    context = browser.new_context(viewport={"width": w, "height": h}, locale="en-US", bypass_csp=False)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.lang = lang  # type: ignore[attr-defined]
    return page


def sign_in(page, base: str, login: str, password: str, lang: str) -> None:
    page.goto(f"{base}/lang/{lang}?next=/login")
    page.fill('input[name="officer"]', login)
    page.fill('input[name="password"]', password)
    page.click('form.login button[type="submit"]')
    page.wait_for_url(f"{base}/queue")


def iin_of(root: Path, officer: str) -> str:
    return config_of(root).officer(officer).iin


@pytest.mark.parametrize("lang", ["kk", "ru"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_pages_read_in_words_fit_the_screen_and_pass_axe(day, browser, size, lang):
    """¶10 the inspector's day, looked at: every page in the officer's language, nothing raw, reflowing on a
    phone with tap targets of 24 px, and accessible (axe-core: no serious or critical finding)."""
    root, base = day
    page = open_page(browser, size, lang)
    try:
        sign_in(page, base, iin_of(root, "inspector-1"), PASSWORDS["inspector-1"], lang)  # by IIN (#1)
        assert page.locator('[data-testid="mine"] li').count() >= 1
        assert page.locator(f'li[data-document="{ACT}"]').count() >= 1
        checks = []
        for path, name in (("/queue", "queue"), (f"/documents/{ACT}", "document"), ("/cases/C-2026-0001", "case"),
                           ("/cases", "cases")):
            page.goto(base + path)
            shot(page, f"{name}-{size}-{lang}")
            checks.append((name, visible_raw(page), no_sideways_scroll(page) or too_wide(page), small_targets(page)))
            if name in ("queue", "document", "case"):
                assert axe.violations(page) == [], name
        for name, raw, fits, small in checks:
            assert raw == [], (name, raw)
            assert fits is True, f"{name} scrolls sideways at {SIZES[size]}: {fits}"
            if size == "phone":
                assert small == [], (name, small)
        assert page.evaluate("document.documentElement.lang") == lang
    finally:
        page.context.close()


def test_the_inspectors_day_read_confirm_retype_sign(day, browser):
    """¶10: Ахметова opens the act (only then may she select it), confirms what she signs, mistypes her key
    password (nothing signed, the selection kept, told in words), types it again, sees each document's progress
    and ends on a results page she can reload and read in the other language."""
    root, base = day
    page = open_page(browser, "phone", "kk")
    try:
        sign_in(page, base, "inspector-1", PASSWORDS["inspector-1"], "kk")
        row = page.locator(f'[data-testid="mine"] li[data-document="{XSS_ACT}"]')
        assert row.locator('input[type="checkbox"]').is_disabled()  # not opened yet (#4)
        row.locator("a.read").click()
        page.wait_for_selector("img.page")
        assert page.locator("#reject-open").is_visible() and page.locator("#approve").is_visible()
        page.goto(f"{base}/queue")
        box = page.locator(f'[data-testid="mine"] li[data-document="{XSS_ACT}"] input[name="doc"]')
        assert box.is_enabled()
        assert box.bounding_box()["width"] >= 24
        box.check()
        page.click("#to-confirm")
        page.wait_for_url(f"{base}/queue/confirm?*")
        assert "Тұрғын үй-тұрмыстық" in page.inner_text('[data-testid="confirm-list"]') or \
            page.locator(f'[data-testid="confirm-list"] li[data-document="{XSS_ACT}"]').count() == 1
        shot(page, "confirm-phone-kk")
        page.fill('input[name="secret"]', "not-the-password")
        page.click("#sign")
        page.wait_for_url(f"{base}/queue/confirm?*")
        flash = page.inner_text("p.flash.error")
        assert "құпиясөзі" in flash and "E-SIGN-SECRET" in flash  # words, the code aside
        assert page.locator(f'[data-testid="confirm-list"] li[data-document="{XSS_ACT}"]').count() == 1  # kept
        assert visible_raw(page) == []
        page.fill('input[name="secret"]', config_of(root).officer("inspector-1").secret)
        page.click("#sign")
        page.wait_for_url(f"{base}/results?*", timeout=60_000)
        shot(page, "results-phone-kk")
        assert "Қол қойылды: 1; қол қойылмады: 0." in page.inner_text('[data-testid="summary"]')
        assert "Ким Виктория" in page.inner_text('[data-testid="next"]')  # what happens next: the second inspector
        assert visible_raw(page) == []
        from pipeline.journal import store
        from pipeline.services import Services

        services = Services.build(config_of(root))
        try:
            steps = [s.step for s in store.steps_of(services.journal, [XSS_ACT])]
        finally:
            services.close()
        assert "read" in steps and steps.count("signed") == 1
        page.reload()  # a GET: nothing is signed again, no false failure
        assert "Қол қойылды: 1" in page.inner_text('[data-testid="summary"]')
        page.click('a[lang="ru"]')
        page.wait_for_url(f"{base}/results?*")
        assert "Подписано: 1; не подписано: 0." in page.inner_text('[data-testid="summary"]')
        services = Services.build(config_of(root))
        try:
            after = [s.step for s in store.steps_of(services.journal, [XSS_ACT])]
        finally:
            services.close()
        assert after.count("signed") == 1 and "signing-failed" not in after[len(steps):]
    finally:
        page.context.close()


def test_the_head_sees_what_waits_for_others_and_returns_in_a_dialog(day, browser):
    """¶11: the head's order waits for the act (said in words, not selectable); returning asks the reason in a
    dialog that is not the approve button."""
    root, base = day
    page = open_page(browser, "desktop", "ru")
    try:
        sign_in(page, base, "head", PASSWORDS["head"], "ru")
        waiting = page.inner_text('[data-testid="waiting"]')
        assert "Акт обследования ещё не подписан" in waiting
        assert page.locator(f'[data-testid="mine"] li[data-document="{ORDER}"]').count() == 0
        page.goto(f"{base}/documents/{ORDER}")
        assert page.locator("#approve").count() == 0  # not the head's turn yet
        page.click("#reject-open")
        dialog = page.locator("#reject-dialog")
        assert dialog.is_visible()
        shot(page, "return-dialog-desktop-ru")
        page.click('[data-close="reject-dialog"]')
        assert not dialog.is_visible()
    finally:
        page.context.close()
