"""NCALayer as it really speaks (issue 15 #9; research/ncalayer-protocol.md §5): what the server makes of each
answer the real client gives, and the desk's page script against the stand-in (tests/web/ncalayer_standin.py)
over ws:// and wss://, in Debian's Chromium.

The officer must read a cancel as cancelled (the document waits), a failure as words in their language with the
code apart, and a key of another officer as refused with that officer's name; every signed CMS is CAdES-BES as
NCALayer builds it and ends embedded, verified and delivered.
"""

from __future__ import annotations

import base64
import json
import os

import pytest
from asn1crypto import cms as asn1_cms

from pipeline.journal import store
from pipeline.web.external import read_answer
from tests.web.conftest import BROWSER_ARGS, CHROMIUM, PASSWORDS, Server, csrf_of, sign_in
from tests.web.ncalayer_standin import StandInNCALayer, desk_finish, desk_prepare, officer_key

ORDER = "C-2026-0001-order"
REFUSAL = "C-2026-0002-reasoned_refusal"
HEAD_NAME = "Бекова Жанар Төлегенқызы"


@pytest.fixture
def stand_in(site):
    p12, password = officer_key(site, "head")
    with StandInNCALayer(p12, password) as s:
        yield s


# --- the answers, read on the server ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["array", "string", "pem", "signatures"])
def test_every_result_shape_gives_the_same_cms(stand_in, shape):
    """``result`` as a string, an array, PEM-armoured, or ``{signatures, certificate}``: the same DER (§5.2)."""
    der = stand_in.cms(b"to be signed")
    stand_in.shape = shape
    answer = read_answer({"status": True, "body": {"result": stand_in.result_of([der], False)}})
    assert answer.outcome == "signed" and answer.cms == der
    # a batch in one dialog: data as an array, one result each, in order
    other = stand_in.cms(b"the second document")
    batch = {"status": True, "body": {"result": stand_in.result_of([der, other], True)}}
    assert [read_answer(batch, i).cms for i in (0, 1)] == [der, other]


def test_cancel_failures_and_unknown_module_are_told_apart():
    assert read_answer({"status": True, "body": {}}).outcome == "cancelled"
    failed = read_answer({"code": "INVOCATION_ERROR", "status": False, "message": "An invoked method threw an exception.",
                          "details": 'org.json.JSONException: JSONObject["signingParams"] is not a JSONObject.'})
    assert (failed.outcome, failed.code) == ("failed", "INVOCATION_ERROR") and "signingParams" in failed.details
    assert read_answer({"success": False, "errorCode": "MODULE_NOT_FOUND"}).code == "MODULE_NOT_FOUND"
    assert read_answer({"status": True, "body": {"result": ""}}).outcome == "failed"
    assert read_answer(None).code == "NO_NCALAYER"


def test_the_stand_in_builds_cades_bes_as_ncalayer_does(stand_in):
    ci = asn1_cms.ContentInfo.load(stand_in.cms(b"data"))
    signed = ci["content"]
    signer = signed["signer_infos"][0]
    attrs = {a["type"].native for a in signer["signed_attrs"]}
    assert {"content_type", "message_digest", "signing_time", "signing_certificate_v2"} <= attrs
    assert signed["encap_content_info"]["content"].native is None  # detached
    assert len(signed["certificates"]) >= 2  # the signer and its chain


# --- the server finishing each answer ------------------------------------------------------------------------




def _steps(client, doc_id: str) -> list[str]:
    return [s.step for s in store.steps_of(client.app.state.desk.services.journal, [doc_id])]


def test_the_server_reads_each_answer_in_words(client, stand_in, site, acts_signed):
    """Cancel → cancelled (no failure recorded, still queued); NCALayer's failures → the officer's words with the
    code; another officer's key → refused with that officer's name; PEM and ``{signatures}`` → signed."""
    sign_in(client, "head-nca")
    client.get("/lang/ru?next=/queue")
    csrf = csrf_of(client.get("/queue").text)
    journal = client.app.state.desk.services.journal

    cancelled = desk_finish(client, csrf, desk_prepare(client, csrf, ORDER), {"status": True, "body": {}})
    assert cancelled.status_code == 200 and cancelled.json()["cancelled"] is True
    assert "Подписание отменено" in cancelled.json()["error"]
    assert "signing-failed" not in _steps(client, ORDER) and "signing-cancelled" in _steps(client, ORDER)

    for code, words in (("INVALID_SIGNING_PARAMS", "не принял параметры подписи"),
                        ("SIGNING_FAILURE", "не смог подписать"), ("INVOCATION_ERROR", "Внутри NCALayer")):
        r = desk_finish(client, csrf, desk_prepare(client, csrf, ORDER),
                    {"status": False, "code": code, "message": "…", "details": "kz.gov.pki.kalkan.KalkanException"})
        body = r.json()
        assert r.status_code == 400 and words in body["error"] and body["code"] == code
        assert code in body["code_text"] and "Kalkan" not in body["error"]
    r = desk_finish(client, csrf, desk_prepare(client, csrf, ORDER), {"success": False, "errorCode": "MODULE_NOT_FOUND"})
    assert "pki.gov.kz" in r.json()["error"]
    assert "KalkanException" in json.dumps([s.detail for s in store.steps_of(journal, [ORDER])])  # kept for support

    # the officer picks another officer's key in NCALayer's dialog: refused, in words, with whose key it was
    prep = desk_prepare(client, csrf, ORDER)
    stand_in.offer(*officer_key(site, "inspector-1"))
    inspector = next(o.name for o in client.app.state.desk.config.officers if o.id == "inspector-1")
    r = desk_finish(client, csrf, prep, {"status": True, "body": {"result": [
        base64.b64encode(stand_in.cms(base64.b64decode(prep["data"]))).decode()]}})
    assert r.status_code == 409 and r.json()["code"] == "E-SIGN-OTHER-KEY"
    assert inspector in r.json()["error"] and "Выбран ключ другого человека" in r.json()["error"]
    assert store.get_document(journal, ORDER).status == "queued"

    stand_in.offer(*officer_key(site, "head"))
    for doc_id, shape in ((ORDER, "pem"), (REFUSAL, "signatures")):
        prep = desk_prepare(client, csrf, doc_id)
        stand_in.shape = shape
        result = stand_in.result_of([stand_in.cms(base64.b64decode(prep["data"]))], False)
        done = desk_finish(client, csrf, prep, {"status": True, "body": {"result": result}}).json()
        assert done["ok"] and done["valid"] and done["status"] == "delivered", done
        assert done["message"] == "подписан" and "№" in done["title"]
        assert store.get_document(journal, doc_id).signed_by[-1]["name"] == HEAD_NAME


# --- the desk's page script against the stand-in, in Chromium ---------------------------------------------------

@pytest.fixture(scope="module")
def browser_args() -> list[str]:
    # NCALayer's certificate is its own (self-signed here): Chromium accepts it for wss:// with this flag
    return [*BROWSER_ARGS, "--ignore-certificate-errors"]


browser_only = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no /usr/bin/chromium")


@pytest.fixture
def page(browser, tmp_path):
    context = browser.new_context(locale="ru-RU", ignore_https_errors=True, viewport={"width": 1280, "height": 800})
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.errors = errors  # type: ignore[attr-defined]
    yield p
    p.screenshot(path=str(tmp_path / "ncalayer-last.png"), full_page=True)  # kept as the test's artefact
    context.close()


def _open_queue(page, base: str, officer: str = "head-nca", lang: str = "ru") -> None:
    page.goto(f"{base}/login")
    page.fill('input[name="officer"]', officer)
    page.fill('input[name="password"]', PASSWORDS[officer])
    page.click('form.login button[type="submit"]')
    page.wait_for_url(f"{base}/queue*")
    page.goto(f"{base}/lang/{lang}?next=/queue")


def _confirm(page, base: str, *doc_ids: str) -> None:
    """Open each document (reading comes before choosing it), then the confirmation of exactly those documents."""
    from urllib.parse import urlencode

    for doc_id in doc_ids:
        page.goto(f"{base}/documents/{doc_id}")
    page.goto(f"{base}/queue")
    values = [page.get_attribute(f'[data-document="{d}"] input[name="doc"]', "value") for d in doc_ids]
    page.goto(f"{base}/queue/confirm?" + urlencode([("doc", v) for v in values]))
    page.wait_for_selector("#ncalayer-sign")


@browser_only
@pytest.mark.slow
def test_the_desk_signs_over_wss_with_heartbeats_and_pem(site, app_factory, page, acts_signed, tmp_path):
    p12, password = officer_key(site, "head")
    with StandInNCALayer(p12, password, tls=True, shape="pem") as nca, \
            Server(app_factory(ncalayer_url=nca.url)) as server:
        nca.heartbeats = 2
        _open_queue(page, server.url)
        _confirm(page, server.url, ORDER, REFUSAL)
        page.click("#ncalayer-sign")
        page.wait_for_url(f"{server.url}/results?*", timeout=60_000)
        page.screenshot(path=str(tmp_path / "wss-results.png"), full_page=True)
        signs = [r for r in nca.requests if r.get("method") == "sign"]
        assert len(signs) == 2 and nca.url.startswith("wss://")
        args = signs[0]["args"]
        assert signs[0]["module"] == "kz.gov.pki.knca.basics" and args["format"] == "cms"
        assert args["signingParams"] == {"decode": True, "encapsulate": False, "digested": False, "tsaProfile": None}
        assert args["signerParams"]["iin"] == "750428404517" and args["locale"] == "ru"
    from pipeline.config import Config
    from pipeline.services import Services

    services = Services.build(Config.load(site / "qamqor.toml"))
    try:
        assert {store.get_document(services.journal, d).status for d in (ORDER, REFUSAL)} == {"delivered"}
    finally:
        services.close()
    assert page.errors == []


@browser_only
@pytest.mark.slow
def test_the_desk_tells_cancel_failures_and_a_wrong_key_in_words(site, app_factory, page, acts_signed, tmp_path):
    p12, password = officer_key(site, "head")
    with StandInNCALayer(p12, password) as nca, Server(app_factory(ncalayer_url=nca.url)) as server:
        _open_queue(page, server.url)
        _confirm(page, server.url, ORDER)

        def attempt(name: str) -> str:
            page.click("#ncalayer-sign")
            page.wait_for_selector("#progress-list li", timeout=30_000)
            page.wait_for_selector("#ncalayer-sign:not([disabled])", timeout=30_000)
            page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
            return page.inner_text("#progress-list")

        nca.mode = "cancel"
        text = attempt("cancelled")
        assert "Подписание отменено" in text and page.locator("#progress-list li.fail").count() == 0
        assert page.locator("#progress-list li.cancelled").count() == 1

        nca.mode, nca.error_code = "error", "SIGNING_FAILURE"
        text = attempt("signing-failure")
        assert "NCALayer не смог подписать" in text and "SIGNING_FAILURE" in text and "Kalkan" not in text
        assert page.locator("#progress-list li.fail").count() == 1

        nca.mode = "no_module"
        assert "pki.gov.kz" in attempt("module-not-found")

        nca.mode = "sign"
        nca.offer(*officer_key(site, "inspector-1"))
        text = attempt("wrong-key")
        assert "Выбран ключ другого человека" in text and "E-SIGN-OTHER-KEY" in text

        page.goto(f"{server.url}/queue")
        assert page.locator(f'[data-document="{ORDER}"] input[name="doc"]').count() == 1  # still the head's to sign
    assert page.errors == []
