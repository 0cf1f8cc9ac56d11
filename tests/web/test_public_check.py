"""The citizen's check page (issue 15 #8): what a citizen reads after scanning a document's QR code, in Kazakh and
Russian, on a phone first; the upload check on the same page; the demo's QR address and the manifest's.

A copy is shown for the receipts and notices handed to the applicant (¶4, ¶5, ¶7, ¶9); the order (¶11, ¶12) names
the children, so its page says who issued and signed it and that it is genuine, and never shows a child's data.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from pipeline.verify_links import verify_url
from tests.web import axe
from tests.web.conftest import CHROMIUM, Server, config_of, csrf_of, public_path

RECEIPT = "C-2026-0001-acceptance_receipt"
ORDER = "C-2026-0001-order"
HEAD = "Бекова Жанар Төлегенқызы"
CHILD = ("Оспанов", "Әлихан", "170612523012", "Оспанова", "110903615069", "2017")
ENGINEERS = ("SHA-256", "B-B", "B-T", "B-LT", "B-LTA", "қызметкердің үстелі", "рабочее место сотрудника", "C-2026-0001")


def _operator(site: Path) -> str:
    return next(o.name for o in config_of(site).officers if o.role == "operator")


def _sign_order(site: Path) -> None:
    """The head signs the order (¶11), after the inspectors' acts (¶10), as `qamqor queue approve` does."""
    from pipeline import queue as Q
    from pipeline.config import Config
    from pipeline.services import Services

    def run() -> None:
        services = Services.build(Config.load(site / "qamqor.toml"))
        try:
            Q.approve(services, ORDER, Q.demo_officer(services, Q.get(services, ORDER)))
        finally:
            services.close()

    with ThreadPoolExecutor(1) as pool:  # signing runs its own event loop: not in a browser test's thread
        pool.submit(run).result()


def _text(html: str) -> str:
    import re

    return re.sub(r"<[^>]+>", " ", html)


# --- the page, server-rendered ---------------------------------------------------------------------------------


def test_a_receipt_reads_as_genuine_with_its_facts_and_copy(client, site):
    page = client.get(public_path(RECEIPT))
    assert page.status_code == 200
    html = page.text
    assert 'lang="kk"' in html  # the document's language, until the reader picks another
    assert "Құжат түпнұсқа" in html and 'class="verdict valid"' in html
    assert "«Азаматтарға арналған үкімет» мемлекеттік корпорациясы» КЕАҚ" in html  # the PSC issued it (¶4)
    assert "Құжаттардың қабылданғаны туралы қолхат" in html
    assert "2026 жылғы 14 желтоқсан" in html  # the day the PSC accepted the package
    assert _operator(site) in html and "UTC+5" in html
    for word in ENGINEERS:
        assert word not in _text(html), word
    assert "860422410422" not in html  # the applicant's IIN is on the receipt, not on this page
    # the copy: its pages and its PDF, the very file that was issued
    pdf = client.get(public_path(RECEIPT) + "&file=pdf")
    archived = next((site / "outbox/archive").rglob(f"{RECEIPT}.pdf")).read_bytes()
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content == archived
    png = client.get(public_path(RECEIPT) + "&page=1")
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    assert client.get(public_path(RECEIPT) + "&page=99").status_code == 404
    # in Russian: the page's own switch comes back to the same document, its token kept
    import html as html_lib
    import re

    switch = html_lib.unescape(re.search(r'href="(/lang/ru\?next=[^"]+)"', html).group(1))
    html = client.get(switch, follow_redirects=True).text
    assert "Документ подлинный" in html and "Расписка о приеме документов" in html
    assert "14 декабря 2026 г." in html and "Отдел № 7 Бостандыкского района" in html
    assert "язык документа: казахский" in html


def test_an_order_is_genuine_but_its_copy_and_the_childs_data_are_withheld(client, site, acts_signed):
    _sign_order(site)
    client.get("/lang/ru?next=/verify")
    html = client.get(public_path(ORDER)).text
    assert "Документ подлинный" in html
    assert "Отдел образования Бостандыкского района города Алматы" in html  # the provider issued it
    assert "Приказ об установлении опеки или попечительства" in html and "№ 3-ө" in html
    assert "5 января 2027 г." in html and HEAD in html
    assert "персональные данные ребёнка" in html and 'data-testid="page"' not in html
    for word in CHILD:
        assert word not in html, word
    assert client.get(public_path(ORDER) + "&file=pdf").status_code == 404
    assert client.get(public_path(ORDER) + "&page=1").status_code == 404
    # the manifest carries the QR's address, and the demo's address opens this desk
    config = config_of(site)
    manifest = json.loads(next((site / "outbox/archive").rglob(f"{ORDER}.json")).read_text())
    assert manifest["verify_url"] == verify_url(config, ORDER)
    url = urlsplit(manifest["verify_url"])
    assert (url.scheme, url.hostname, url.port, url.path) == ("http", "127.0.0.1", 8480, f"/v/{ORDER}")


def test_without_the_qr_token_nothing_is_said(client):
    for path in (f"/v/{RECEIPT}", f"/v/{RECEIPT}?k=0123456789abcdef01234567", "/v/C-2026-0009-order?k=x"):
        r = client.get(path)
        assert r.status_code == 404 and "Документ не найден" in r.text  # the desk's language (ru here)
        assert "C-2026" not in _text(r.text) and "Құжаттардың қабылданғаны" not in r.text
    assert client.get(f"/v/{RECEIPT}?k=0123456789abcdef01234567&file=pdf").status_code == 404


def test_the_upload_check_on_the_same_page_tells_same_changed_and_unsigned(client, site):
    page = client.get(public_path(RECEIPT)).text
    form = {"csrf": csrf_of(page), "document": RECEIPT, "k": urlsplit(public_path(RECEIPT)).query[2:]}
    assert 'action="/verify"' in page and 'name="pdf"' in page
    genuine = next((site / "outbox/archive").rglob(f"{RECEIPT}.pdf")).read_bytes()

    def upload(data: bytes) -> str:
        return client.post("/verify", data=form, files={"pdf": ("f.pdf", data, "application/pdf")}).text

    html = upload(genuine)
    assert "Құжат түпнұсқа" in html and 'data-testid="same"' in html and "бірдей." in html
    assert _operator(site) in html  # the holder of the file holds the document: its facts are shown
    i = genuine.find(b"stream") + 200
    html = upload(genuine[:i] + bytes([genuine[i] ^ 0xFF]) + genuine[i + 1:])
    assert 'data-verdict="changed"' in html and "Құжат өзгертілген" in html and "өзгеше" in html
    # a document as rendered, before anyone signed it (the order waiting for the head)
    from pipeline.journal import store

    unsigned = Path(store.get_document(client.app.state.desk.journal, ORDER).pdf_path).read_bytes()
    html = upload(unsigned)
    assert 'data-verdict="unsigned"' in html and "Файлда электрондық қолтаңба жоқ" in html
    for word in ENGINEERS:
        assert word not in _text(html), word


# --- in Chromium, on a phone and a laptop, in both languages ---------------------------------------------------


#: what a phone and a laptop show; ¶ of the brief: no sideways scroll, tap targets of at least 24 px
SIZES = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1280, "height": 800}}

LAYOUT = """() => {
  const small = [];
  for (const el of document.querySelectorAll('a, button, input, select, textarea')) {
    const r = el.getBoundingClientRect();
    if (r.width && r.height && (r.width < 24 || r.height < 24)) small.push(el.outerHTML.slice(0, 80));
  }
  return {scroll: document.documentElement.scrollWidth, width: window.innerWidth, small: small,
          title: document.title, text: document.body.innerText, lang: document.documentElement.lang};
}"""


def _drawn(page) -> int:
    """The first page image's width once it has loaded (polled: the page's CSP forbids wait_for_function's eval)."""
    for _ in range(100):
        width = page.evaluate("document.querySelector('img[data-testid=page]').naturalWidth")
        if width:
            return width
        page.wait_for_timeout(100)
    return 0


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no /usr/bin/chromium")
def test_the_check_page_on_a_phone_and_a_laptop_in_both_languages(site, app_factory, browser, acts_signed, tmp_path):
    _sign_order(site)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    words = {"kk": ("Құжат түпнұсқа", "Берген орган"), "ru": ("Документ подлинный", "Выдавший орган")}
    with Server(app_factory()) as server:
        for size, viewport in SIZES.items():
            context = browser.new_context(viewport=viewport, locale="ru-RU", device_scale_factor=1,
                                          is_mobile=size == "phone", has_touch=size == "phone")
            page = context.new_page()
            for lang in ("kk", "ru"):
                page.goto(f"{server.url}/lang/{lang}?next=/verify")
                titles = set()
                for doc_id in (RECEIPT, ORDER):
                    page.goto(f"{server.url}{public_path(doc_id, site)}")
                    page.wait_for_load_state("load")
                    seen = page.evaluate(LAYOUT)
                    titles.add(seen["title"])
                    page.screenshot(path=str(shots / f"{doc_id}-{size}-{lang}.png"), full_page=True)
                    where = f"{doc_id} {size} {lang}"
                    assert seen["lang"] == lang, where
                    assert seen["scroll"] <= seen["width"], f"{where}: {seen['scroll']} px wide"
                    assert seen["small"] == [], f"{where}: {seen['small']}"
                    assert all(w in seen["text"] for w in words[lang]), where
                    assert not any(w in seen["text"] for w in ENGINEERS), where
                    assert axe.violations(page) == [], where
                    if doc_id == RECEIPT:  # the copy is there and drawn
                        assert page.locator('img[data-testid="page"]').count() >= 1
                        assert _drawn(page) > 100
                    else:
                        assert not any(w in seen["text"] for w in CHILD), where
                assert len(titles) == 2  # every page its own title
            # the upload check from the same page, with a file that is not the document
            page.goto(f"{server.url}{public_path(RECEIPT, site)}")
            other = next((site / "outbox/archive").rglob("C-2026-0002-acceptance_notice.pdf"))
            page.set_input_files('input[name="pdf"]', str(other))
            page.click('.pub-upload button[type="submit"]')
            page.wait_for_selector('[data-testid="same"]')
            page.screenshot(path=str(shots / f"upload-{size}.png"), full_page=True)
            assert "отличается от проверяемого документа" in page.inner_text('[data-testid="same"]')
            assert "Документ подлинный" in page.inner_text('[data-testid="verdict"]')  # genuine, but another one
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
            context.close()
    assert len(list(shots.iterdir())) == 10
