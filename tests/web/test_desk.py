"""The web desk from outside, through HTTP (Starlette's TestClient; one test against a real server on 127.0.0.1):
sign-in, lock-out, CSRF, authority by role and office, the queue, approving (bound to the bytes shown),
rejecting, the case page, public verification, operations."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import httpx2 as httpx

from pipeline.journal import store
from tests.web.conftest import PASSWORDS, XSS, Server, config_of, csrf_of, public_path, sign_in

ORDER = "C-2026-0001-order"
REFUSAL = "C-2026-0002-reasoned_refusal"
ACT = "C-2026-0001-inspection_act"


def doc_row(client, document_id: str) -> store.DocumentRow:
    return store.get_document(client.app.state.desk.services.journal, document_id)


def approve(client, docs: list[str], secret: str, *, sha: dict[str, str] | None = None):
    for d in docs:  # issue 15 #4: a document is signed once it was opened
        client.get(f"/documents/{d}")
    page = client.get("/queue")
    values = []
    for d in docs:
        m = re.search(rf'value="({re.escape(d)}:[0-9a-f]{{64}})"', page.text)
        values.append(f"{d}:{sha[d]}" if sha and d in sha else (m.group(1) if m else f"{d}:"))
    return client.post("/queue/approve", data={"csrf": csrf_of(page.text), "doc": values, "secret": secret})


def part(html: str, name: str) -> str:
    """One part of the queue page (issue 15 #2): "mine", "waiting" or "done" (empty when the part is)."""
    m = re.search(rf'<ul class="cards" data-testid="{name}">(.*?)</ul>', html, re.S)
    return m.group(1) if m else ""


def head_secret(site: Path) -> str:
    return next(o.secret for o in config_of(site).officers if o.id == "head")


# --- sign-in --------------------------------------------------------------------------------------------------


def test_pages_need_sign_in_and_cookie_is_strict(client):
    r = client.get("/queue", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert client.get(f"/documents/{ORDER}/pdf", follow_redirects=False).status_code == 303
    r = sign_in(client, "head")
    assert r.status_code == 200 and "Бекова" in r.text
    cookie = next(v for k, v in r.history[0].headers.multi_items() if k == "set-cookie")
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert "secure" not in cookie.lower()  # plain HTTP on 127.0.0.1
    assert "default-src 'self'" in r.headers["content-security-policy"]


def test_secure_cookie_off_localhost(app_factory):
    from starlette.testclient import TestClient

    with TestClient(app_factory(secure_cookies=True, allowed_hosts=["desk.example.kz"]),
                    base_url="https://desk.example.kz") as c:
        r = sign_in(c, "head")
        cookie = next(v for k, v in r.history[0].headers.multi_items() if k == "set-cookie")
        assert "secure" in cookie.lower()


def test_wrong_password_and_lockout_with_injected_clock(app_factory):
    from starlette.testclient import TestClient

    now = [1000.0]
    with TestClient(app_factory(clock=lambda: now[0]), base_url="http://127.0.0.1") as c:
        for _ in range(4):
            assert sign_in(c, "head", "wrong").status_code == 401
        assert sign_in(c, "head", "wrong").status_code == 429  # the fifth failure locks
        r = sign_in(c, "head")  # even the right password, while locked
        assert r.status_code == 429 and "/queue" not in str(r.url)
        now[0] += 14 * 60
        assert sign_in(c, "head").status_code == 429
        now[0] += 2 * 60
        r = sign_in(c, "head")
        assert r.status_code == 200 and str(r.url).endswith("/queue")
        # another account is not affected; an unknown one fails like a wrong password
        assert sign_in(c, "nobody", "x").status_code == 401


def test_every_post_needs_the_csrf_token(client):
    assert client.post("/login", data={"officer": "head", "password": PASSWORDS["head"]}).status_code == 403
    sign_in(client, "head")
    r = client.post("/queue/approve", data={"doc": [f"{ORDER}:"], "secret": "x"})
    assert r.status_code == 403
    r = client.post(f"/documents/{ORDER}/reject", data={"reason": "x", "csrf": "forged"})
    assert r.status_code == 403
    assert client.post("/external/prepare", json={"document_id": ORDER}).status_code == 403
    assert doc_row(client, ORDER).status == "queued"


# --- authority ------------------------------------------------------------------------------------------------


def test_inspector_cannot_sign_an_order(client, site):
    sign_in(client, "inspector-1")
    page = client.get("/queue").text
    assert ACT in page and ORDER not in page
    r = client.post("/queue/approve", data={"csrf": csrf_of(page), "doc": [f"{ORDER}:{doc_row(client, ORDER).pdf_sha256}"],
                                            "secret": head_secret(site)})
    assert r.status_code == 403
    r = client.post(f"/documents/{ORDER}/reject", data={"csrf": csrf_of(page), "reason": "no"})
    assert r.status_code == 403
    assert doc_row(client, ORDER).status == "queued"


def test_another_district_sees_nothing(client):
    sign_in(client, "head-ast")
    page = client.get("/queue").text
    assert ORDER not in page and "C-2026-0001" not in page
    assert "C-2026-0001" not in client.get("/cases").text
    assert client.get("/cases/C-2026-0001").status_code == 404
    assert client.get(f"/documents/{ORDER}").status_code == 404
    assert client.get(f"/documents/{ORDER}/pdf").status_code == 404
    assert client.get(f"/documents/{ORDER}/page/1.png").status_code == 404
    r = client.post("/queue/approve", data={"csrf": csrf_of(page), "doc": [f"{ORDER}:"], "secret": "x"})
    assert r.status_code == 403
    assert doc_row(client, ORDER).status == "queued"


def test_operator_sees_the_cases_of_the_psc(client):
    sign_in(client, "operator")
    page = client.get("/cases").text
    assert "C-2026-0001" in page and "C-2026-0003" in page  # PSC cases
    assert "C-2026-0002" not in page  # a portal case: not the PSC's
    # the PSC reads its receipt, never the inspection act (income, household, the child's conditions)
    assert client.get("/documents/C-2026-0001-acceptance_receipt").status_code == 200
    assert client.get("/documents/C-2026-0001-inspection_act").status_code == 404
    assert client.get("/documents/C-2026-0001-inspection_act/pdf").status_code == 404


# --- the queue, reading, approving, rejecting ------------------------------------------------------------------


def test_queue_filters_and_document_readable_before_signing(client):
    sign_in(client, "head")
    page = client.get("/queue").text
    assert ORDER in page and REFUSAL in page and "Жұмабаева" in page
    assert REFUSAL not in client.get("/queue?kind=order").text
    only = client.get("/queue?case=C-2026-0002").text
    assert REFUSAL in only and ORDER not in only
    doc = client.get(f"/documents/{ORDER}")
    row = doc_row(client, ORDER)
    assert doc.status_code == 200 and row.pdf_sha256 in doc.text
    pdf = client.get(f"/documents/{ORDER}/pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    assert pdf.headers["content-disposition"].startswith("inline")
    png = client.get(f"/documents/{ORDER}/page/1.png")
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")


def test_approve_batch_with_server_side_key(client, site, acts_signed):
    """¶11–13: the head signs the order and the refusal in one batch; both are delivered and verify."""
    sign_in(client, "head")
    r = approve(client, [ORDER, REFUSAL], head_secret(site))
    assert r.status_code == 200
    assert r.text.count('class="badge valid"') == 2, r.text
    for d in (ORDER, REFUSAL):
        assert doc_row(client, d).status == "delivered"
    outbox = [str(p.relative_to(site / "outbox")) for p in (site / "outbox").rglob(f"{ORDER}.pdf")]
    assert any(p.startswith("archive/") for p in outbox) and any(p.startswith("cabinet/") for p in outbox)
    assert ORDER not in part(client.get("/queue").text, "mine")
    assert ORDER in part(client.get("/queue").text, "done")  # done today


def test_wrong_password_leaves_the_batch_queued(client, acts_signed):
    sign_in(client, "head")
    r = approve(client, [ORDER, REFUSAL], "not-the-password")
    assert r.status_code == 200 and "E-SIGN-SECRET" in r.text
    for d in (ORDER, REFUSAL):
        assert doc_row(client, d).status == "queued"
    metrics = client.get("/metrics").text
    assert re.search(r'qamqor_signing_failures_total\{step="signing-failed"\} [1-9]', metrics), metrics


def test_approval_is_bound_to_the_bytes_shown(client, site):
    sign_in(client, "head")
    r = approve(client, [ORDER], head_secret(site), sha={ORDER: "0" * 64})
    assert "badge valid" not in r.text
    assert doc_row(client, ORDER).status == "queued"


def test_two_inspectors_sign_in_order(client, site):
    """¶10: the act needs both inspectors; the second cannot go first."""
    secrets = {o.id: o.secret for o in config_of(site).officers}
    sign_in(client, "inspector-2")
    page = client.get("/queue").text
    assert ACT in part(page, "waiting") and ACT not in part(page, "mine")  # Ахметова signs first
    client.post("/logout", data={"csrf": csrf_of(page)})
    sign_in(client, "inspector-1")
    r = approve(client, [ACT], secrets["inspector-1"])
    assert "badge valid" in r.text and doc_row(client, ACT).signatures_done == 1
    client.post("/logout", data={"csrf": csrf_of(r.text)})
    sign_in(client, "inspector-2")
    r = approve(client, [ACT], secrets["inspector-2"])
    assert "badge valid" in r.text and doc_row(client, ACT).status == "delivered"


def test_reject_with_a_reason(client, site):
    sign_in(client, "head")
    page = client.get(f"/documents/{REFUSAL}").text
    r = client.post(f"/documents/{REFUSAL}/reject", data={"csrf": csrf_of(page), "reason": "  "})
    assert doc_row(client, REFUSAL).status == "queued"
    r = client.post(f"/documents/{REFUSAL}/reject", data={"csrf": csrf_of(page), "reason": "ground wording is wrong"})
    assert r.status_code == 200 and REFUSAL not in part(r.text, "mine") and REFUSAL in part(r.text, "done")
    row = doc_row(client, REFUSAL)
    assert row.status == "rejected" and row.rejected_reason == "ground wording is wrong"
    assert list((site / "outbox/provider").rglob(f"{REFUSAL}.returned.json"))


# --- cases ----------------------------------------------------------------------------------------------------


def test_case_page_timeline_deadlines_and_escaping(client):
    sign_in(client, "head")
    page = client.get("/cases/C-2026-0001").text
    assert "Подано заявление" in page and "Проведено обследование жилищно-бытовых условий" in page
    assert ORDER in page and "8 января 2027 г." in page
    assert "application.submitted" not in page and "2027-01-08" not in page
    xss = client.get("/cases/C-XSS-0001").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in xss and XSS not in xss
    assert XSS not in client.get("/cases").text
    sign_in(client, "inspector-1")
    assert XSS not in client.get("/queue").text and "&lt;script&gt;" in client.get("/queue").text


def test_language_switch(client):
    sign_in(client, "head")
    assert "Очередь на подпись" in client.get("/queue").text
    r = client.get("/lang/kk?next=/queue")
    assert "Қол қою кезегі" in r.text and 'lang="kk"' in r.text
    assert client.get("/lang/ru?next=//evil.example/x", follow_redirects=False).headers["location"] == "/queue"


# --- public verification -------------------------------------------------------------------------------------


def test_public_verification_page_and_upload(client, site, acts_signed):
    assert client.get(public_path(ORDER)).status_code == 404  # not signed yet: not issued
    assert client.get("/v/no-such-document").status_code == 404
    sign_in(client, "head")
    approve(client, [ORDER], head_secret(site))
    client.post("/logout", data={"csrf": csrf_of(client.get("/queue").text)})
    assert client.get(f"/v/{ORDER}").status_code == 404  # a guessed id without the QR code's token
    assert client.get(f"/v/{ORDER}?k=0123456789abcdef01234567").status_code == 404
    page = client.get(public_path(ORDER))  # signed out: public
    assert page.status_code == 200 and 'class="verdict valid"' in page.text
    level = config_of(site).signing.level  # the demo's level (B-B, or B-LTA with its own TSA)
    assert "Бекова Жанар Төлегенқызы" in page.text and level not in page.text  # a citizen reads no level (#15.8)
    assert "860422410422" not in page.text  # the applicant's IIN
    assert "Тимирязева" not in page.text and "Утепова" not in page.text  # addresses
    delivered = next((site / "outbox/archive").rglob(f"{ORDER}.pdf")).read_bytes()
    form = client.get("/verify").text
    r = client.post("/verify", data={"csrf": csrf_of(form)}, files={"pdf": ("o.pdf", delivered, "application/pdf")})
    assert 'class="verdict valid"' in r.text and public_path(ORDER) in r.text
    i = delivered.find(b"stream") + 200
    tampered = delivered[:i] + bytes([delivered[i] ^ 0xFF]) + delivered[i + 1:]
    r = client.post("/verify", data={"csrf": csrf_of(form)}, files={"pdf": ("o.pdf", tampered, "application/pdf")})
    assert 'class="verdict invalid"' in r.text
    r = client.post("/verify", data={"csrf": csrf_of(form)}, files={"pdf": ("x.pdf", b"hello", "application/pdf")})
    assert r.status_code == 400
    big = b"%PDF-1.7\n" + b"0" * 2_100_000
    r = client.post("/verify", data={"csrf": csrf_of(form)}, files={"pdf": ("b.pdf", big, "application/pdf")})
    assert r.status_code == 413


# --- NCALayer, without a browser: the server's half ------------------------------------------------------------


def test_external_signing_records_and_delivers_like_the_cli(client, ncalayer, site, acts_signed):
    sign_in(client, "head-nca")
    client.get(f"/documents/{ORDER}")
    page = client.get("/queue/confirm", params={"doc": f"{ORDER}:{doc_row(client, ORDER).pdf_sha256}"}).text
    assert 'id="ncalayer-sign"' in page and 'name="secret"' not in page
    csrf = csrf_of(page)
    sha = doc_row(client, ORDER).pdf_sha256
    prep = client.post("/external/prepare", json={"document_id": ORDER, "sha256": sha},
                       headers={"X-CSRF-Token": csrf}).json()
    assert prep["ok"], prep
    cms = ncalayer.cms(base64.b64decode(prep["data"]))
    done = client.post("/external/finish", json={"token": prep["token"], "cms": base64.b64encode(cms).decode()},
                       headers={"X-CSRF-Token": csrf}).json()
    assert done["ok"] and done["valid"] and done["status"] == "delivered", done
    row = doc_row(client, ORDER)
    assert row.signed_by[0]["officer"] == "head-nca"
    manifest = json.loads(next((site / "outbox/archive").rglob(f"{ORDER}.json")).read_text())
    assert manifest["signed_by"]["name"] == "Бекова Жанар Төлегенқызы" and manifest["sha256"]
    # a token is used once; a CMS over other bytes is refused and the document stays queued
    again = client.post("/external/finish", json={"token": prep["token"], "cms": ""}, headers={"X-CSRF-Token": csrf})
    assert again.status_code == 404
    prep = client.post("/external/prepare", json={"document_id": REFUSAL, "sha256": doc_row(client, REFUSAL).pdf_sha256},
                       headers={"X-CSRF-Token": csrf}).json()
    bad = client.post("/external/finish", json={"token": prep["token"], "cms": base64.b64encode(ncalayer.cms(b"other")).decode()},
                      headers={"X-CSRF-Token": csrf})
    assert bad.status_code == 409 and doc_row(client, REFUSAL).status == "queued"


# --- operations ---------------------------------------------------------------------------------------------


def test_health_ready_metrics(client):
    assert client.get("/healthz").text == "ok\n"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["journal"] == "ok"
    assert ready.json()["checks"]["keys"] == "ok"
    text = client.get("/metrics").text
    assert "qamqor_queue_depth 5.0" in text or re.search(r"qamqor_queue_depth \d", text)
    assert 'qamqor_documents{state="queued"}' in text and "qamqor_queue_oldest_age_seconds" in text


def test_readyz_reports_a_missing_key(site, app_factory):
    from starlette.testclient import TestClient

    (site / "var/demo-pki/RSA256_inspector-2.p12").unlink()
    with TestClient(app_factory(), base_url="http://127.0.0.1") as c:
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["checks"]["keys"].startswith("1 of ")
        assert "inspector-2" not in r.text  # no officer's id on an operations endpoint (#14.20)


# --- a real server on 127.0.0.1 ----------------------------------------------------------------------------


def test_real_server_sign_in_authority_and_approve(site, app_factory, acts_signed):
    with Server(app_factory()) as server, httpx.Client(base_url=server.url, follow_redirects=True) as http:
        page = http.get("/login")
        assert page.status_code == 200
        r = http.post("/login", data={"officer": "head-ast", "password": PASSWORDS["head-ast"],
                                      "csrf": csrf_of(page.text)})
        assert "C-2026-0001" not in r.text
        assert http.get(f"/documents/{ORDER}/pdf").status_code == 404
        http.cookies.clear()
        page = http.get("/login")
        r = http.post("/login", data={"officer": "head", "password": PASSWORDS["head"], "csrf": csrf_of(page.text)})
        http.get(f"/documents/{ORDER}")
        r = http.get("/queue")
        value = re.search(rf'value="({ORDER}:[0-9a-f]+)"', r.text).group(1)
        r = http.post("/queue/approve", data={"csrf": csrf_of(r.text), "doc": [value], "secret": head_secret(site)})
        assert 'class="badge valid"' in r.text
        assert http.get(public_path(ORDER)).status_code == 200


def test_the_desk_lists_what_the_queue_lists(client):
    """The desk's queue page lists what pipeline.queue.pending lists, for every officer."""
    from pipeline import queue as Q
    from pipeline.web.pages.queue import queue_items

    desk = client.app.state.desk
    for officer in desk.config.officers:
        fields = Q.QueueItem.__dataclass_fields__
        mine = sorted(({k: v for k, v in r.items() if k in fields} for r in queue_items(desk, officer)),
                      key=lambda d: d["document_id"])
        want = sorted((i.to_dict() for i in Q.pending(desk.services, officer=officer)), key=lambda d: d["document_id"])
        assert mine == want, officer.id


def test_a_body_without_a_declared_length_is_refused(client):
    """A chunked upload with no Content-Length could be spooled without bound: refused before it is read."""
    def chunks():
        yield b"%PDF-" + b"0" * 1000

    r = client.post("/verify", content=chunks(), headers={"content-type": "application/pdf"})
    assert r.status_code == 411
