"""The desk's half of the second security wave (issue 14), from outside through HTTP: sessions that a logout ends
on the server (#12) and that several desk processes share (issue 10 #4), the lock-out counted before the password
is checked (#11), per client and across restarts (#20), the headers and the Host allow-list (#20), operations
endpoints without officer ids and behind a token (#20), a bounded /results (#20), a bounded public upload check
(#4), and the signing policy on the public pages (#13)."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from pathlib import Path

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from pipeline.journal import store
from tests.web.conftest import PASSWORDS, Server, csrf_of, public_path, sign_in

ORDER = "C-2026-0001-order"
ACT = "C-2026-0001-inspection_act"


def client_of(app, host: str = "127.0.0.1") -> TestClient:
    return TestClient(app, base_url=f"http://{host}")


def session_cookie(c: TestClient) -> str:
    return c.cookies.get("qamqor_session")


# --- #12: a logout ends the session on the server; desk processes share sessions (issue 10 #4) ------------------


def test_logout_ends_every_copy_of_the_session(app_factory):
    app = app_factory()
    with client_of(app) as c:
        sign_in(c, "head")
        copied = session_cookie(c)
        assert c.get("/queue", follow_redirects=False).status_code == 200
        c.post("/logout", data={"csrf": csrf_of(c.get("/queue").text)})
    with TestClient(app, base_url="http://127.0.0.1", cookies={"qamqor_session": copied}) as replay:
        r = replay.get("/queue", follow_redirects=False)  # the copy taken before the logout, replayed
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_two_desk_processes_share_sessions_through_the_journal(app_factory):
    with client_of(app_factory()) as a, client_of(app_factory()) as b:
        sign_in(a, "head")
        b.cookies.set("qamqor_session", session_cookie(a))
        assert b.get("/queue", follow_redirects=False).status_code == 200  # signed in on the other desk too
        b.post("/logout", data={"csrf": csrf_of(b.get("/queue").text)})
        assert a.get("/queue", follow_redirects=False).status_code == 303  # and signed out on both


# --- #11, #20: the lock-out ----------------------------------------------------------------------------------


def _locked(app, key: str) -> bool:
    """Whether the journal holds a lock-out for ``key`` (the desk's own table; none before the fix)."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    try:
        with app.state.desk.journal.engine.connect() as conn:
            return bool(conn.execute(text("SELECT locked_until FROM desk_attempts WHERE key = :k"), {"k": key}).scalar())
    except OperationalError:  # no such table: the desk before #14.11 kept its lock-outs in memory
        return False


def test_a_burst_of_guesses_cannot_outrun_the_lockout(app_factory):
    """12 wrong passwords at once, and the right one while they are being checked (the review's C4): the
    attempts are counted before any password is checked, so the right one is the 13th and is refused."""
    app = app_factory()
    with Server(app) as server:
        clients = [httpx.Client(base_url=server.url, timeout=120) for _ in range(13)]
        tokens = [csrf_of(c.get("/login").text) for c in clients]
        start = threading.Barrier(12)
        codes: list[int] = []

        def guess(c: httpx.Client, token: str) -> None:
            start.wait()
            codes.append(c.post("/login", data={"officer": "operator", "password": "wrong-guess",
                                                "csrf": token}).status_code)

        threads = [threading.Thread(target=guess, args=(c, t)) for c, t in zip(clients[:12], tokens[:12], strict=True)]
        for t in threads:
            t.start()
        # the right guess goes once the burst's attempts are counted (their Argon2 checks still running) — or,
        # without the fix, once the first wrong answer came back
        deadline = time.monotonic() + 10
        while not _locked(app, "account:operator") and not codes and time.monotonic() < deadline:
            time.sleep(0.01)
        r = clients[12].post("/login", data={"officer": "operator", "password": PASSWORDS["operator"],
                                             "csrf": tokens[12]})
        for t in threads:
            t.join(120)
        for c in clients:
            c.close()
    assert r.status_code == 429 and "location" not in r.headers  # no session for the burst's right guess
    assert len(codes) == 12 and set(codes) <= {401, 429} and codes.count(401) <= 4, codes


def test_the_lockout_is_kept_across_a_restart(app_factory):
    now = [1_900_000_000.0]
    with client_of(app_factory(clock=lambda: now[0])) as c:
        codes = [sign_in(c, "head", "wrong").status_code for _ in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    with client_of(app_factory(clock=lambda: now[0])) as c:  # a new desk process on the same journal
        assert sign_in(c, "head").status_code == 429
        now[0] += 16 * 60
        assert str(sign_in(c, "head").url).endswith("/queue")


def test_one_client_is_locked_out_whichever_accounts_it_tries(app_factory):
    app = app_factory(lockout_client_failures=3)
    with TestClient(app, base_url="http://127.0.0.1", client=("10.0.0.7", 50000)) as c:
        for officer in ("head", "inspector-1", "inspector-2"):  # one wrong password on each account
            assert sign_in(c, officer, "wrong").status_code in (401, 429)
        assert sign_in(c, "operator").status_code == 429  # the right password, from the same client
    with TestClient(app, base_url="http://127.0.0.1", client=("10.0.0.8", 50000)) as c:
        assert str(sign_in(c, "operator").url).endswith("/queue")  # the account itself was not locked


# --- #20: headers, Host allow-list, operations, /results -------------------------------------------------------


def test_signed_in_pages_are_never_cached_and_hsts_only_off_loopback(app_factory):
    with client_of(app_factory()) as c:
        sign_in(c, "head")
        for path in ("/queue", "/cases", f"/documents/{ACT}", f"/documents/{ACT}/pdf"):
            r = c.get(path)
            assert r.status_code == 200 and r.headers["cache-control"] == "no-store", path
            assert "strict-transport-security" not in r.headers
        assert "no-store" not in c.get("/static/desk.css").headers.get("cache-control", "")
    app = app_factory(secure_cookies=True, allowed_hosts=["desk.example.kz"])
    with TestClient(app, base_url="https://desk.example.kz") as c:
        assert c.get("/login").headers["strict-transport-security"].startswith("max-age=")


def test_only_the_allowed_host_names_are_answered(app_factory):
    with client_of(app_factory(), host="evil.example") as c:
        assert c.get("/login").status_code == 400
    with TestClient(app_factory(allowed_hosts=["desk.example.kz"]), base_url="http://desk.example.kz") as c:
        assert c.get("/login").status_code == 200
    with client_of(app_factory(allowed_hosts=["desk.example.kz"])) as c:
        assert c.get("/login").status_code == 400  # 127.0.0.1 is not on that list


def test_readyz_and_metrics_name_no_officer_and_can_want_a_token(site, app_factory):
    ids = [o.id for o in app_factory().state.desk.config.officers]
    with client_of(app_factory()) as c:
        texts = c.get("/readyz").text + c.get("/metrics").text
        assert not [i for i in ids if i in texts], texts
    with client_of(app_factory(ops_token="s3cret-ops-token")) as c:
        assert c.get("/readyz").status_code == 401 and c.get("/metrics").status_code == 401
        assert c.get("/readyz", headers={"authorization": "Bearer wrong"}).status_code == 401
        auth = {"authorization": "Bearer s3cret-ops-token"}
        assert c.get("/readyz", headers=auth).json()["checks"]["journal"] == "ok"
        assert "qamqor_queue_depth" in c.get("/metrics", headers=auth).text


def test_results_verifies_a_bounded_number_of_documents(app_factory):
    with client_of(app_factory(results_max=1)) as c:
        sign_in(c, "head")
        ids = list(dict.fromkeys(re.findall(r'data-document="(C-[^"]+)"', c.get("/queue").text)))
        assert len(ids) == 2, ids
        page = c.get("/results", params=[("id", d) for d in ids * 100])  # 200 ids, 2 documents
        assert page.text.count("data-document=") == 1
        assert "Проверены только первые 1 документов из 2." in page.text


# --- #4: the public upload check, bounded -----------------------------------------------------------------------


def _pdf_with_fields(n: int) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.fields import SigFieldSpec, append_signature_field
    from weasyprint import HTML

    w = IncrementalPdfFileWriter(io.BytesIO(HTML(string="<p>Көп қолтаңба</p>").write_pdf()))
    for i in range(n):
        append_signature_field(w, SigFieldSpec(f"s{i}", on_page=0, box=(10, 10 + i, 20, 20 + i)))
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def upload(c: TestClient, data: bytes):
    return c.post("/verify", data={"csrf": csrf_of(c.get("/verify").text)},
                  files={"pdf": ("f.pdf", data, "application/pdf")})


def delivered(site: Path, kind: str = "acceptance_receipt") -> bytes:
    return next((site / "outbox/archive").rglob(f"C-2026-0001-{kind}.pdf")).read_bytes()


def test_too_many_signature_fields_are_refused_in_words(app_factory):
    with client_of(app_factory(upload_max_signatures=20)) as c:
        r = upload(c, _pdf_with_fields(30))
        assert r.status_code == 422
        assert "В файле слишком много полей подписи (30; не более 20)" in r.text


def test_a_check_over_its_time_is_stopped_and_refused_in_words(site, app_factory):
    with client_of(app_factory(upload_seconds=0.001)) as c:
        r = upload(c, delivered(site))
        assert r.status_code == 422 and "Проверка файла заняла больше 0.001 с" in r.text
    with client_of(app_factory()) as c:  # within its time, the same file checks out
        r = upload(c, delivered(site))
        assert r.status_code == 200 and 'class="verdict valid"' in r.text


def test_one_check_more_than_allowed_at_once_is_refused_not_queued(site, app_factory):
    app = app_factory(upload_concurrency=1)
    with client_of(app) as c:
        slots = app.state.desk.uploads.slots
        assert slots.acquire(blocking=False)  # the one slot, taken by an upload in progress
        try:
            r = upload(c, delivered(site))
            assert r.status_code == 503 and r.headers["retry-after"] == "30"
            assert "Сейчас проверяются другие файлы" in r.text
        finally:
            slots.release()
        assert upload(c, delivered(site)).status_code == 200


# --- #13: the public pages apply the signing policy ------------------------------------------------------------


def forged_order(site: Path, signer: str) -> bytes:
    """The queued order's own file, signed in its field with ``signer``'s real demo key by pyHanko alone (no
    policy): what someone holding a certificate of the trusted NCA can make."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    from pipeline.config import Config
    from pipeline.services import Services

    pki = json.loads((site / "var/demo-pki/pki.json").read_text())
    who = next(o for o in pki["officers"] if o["id"] == signer)
    services = Services.build(Config.load(site / "qamqor.toml"))
    try:
        doc = store.get_document(services.journal, ORDER)
    finally:
        services.close()
    signer_obj = signers.SimpleSigner.load_pkcs12(who["p12"], passphrase=who["password"].encode())
    w = IncrementalPdfFileWriter(io.BytesIO(Path(doc.pdf_path).read_bytes()))
    out = signers.PdfSigner(signers.PdfSignatureMetadata(field_name="sig-official"), signer=signer_obj).sign_pdf(w)
    return out.getvalue()


def test_an_order_signed_by_an_inspectors_key_is_not_called_authentic(site, app_factory):
    data = forged_order(site, "inspector-1")
    with client_of(app_factory()) as c:
        r = upload(c, data)
        assert r.status_code == 200 and 'class="verdict invalid"' in r.text
        assert "Подпись действительна, но подписавший не уполномочен подписывать этот документ." in r.text
        assert "Документ подлинный" not in r.text
        c.get("/lang/kk")
        r = upload(c, data)
        assert "бірақ қол қойған адамның бұл құжатқа қол қоюға өкілеттігі жоқ" in r.text


def test_a_genuine_document_stays_authentic_on_both_public_pages(site, app_factory):
    with client_of(app_factory()) as c:
        r = upload(c, delivered(site))
        assert 'class="verdict valid"' in r.text and "Документ подлинный" in r.text
        page = c.get(public_path("C-2026-0001-acceptance_receipt", site))
        assert page.status_code == 200 and 'class="verdict valid"' in page.text


# --- the same journal rows on PostgreSQL (issue 10: several desk processes on several nodes) ---------------------


def test_lockout_and_sessions_on_postgresql():
    """The lock-out's count-then-check and the sessions, on a real PostgreSQL journal: concurrent attempts from
    threads (each with its own connection) are cut at the limit, and a session ended is gone."""
    from pipeline import journal as J
    from tests.pgserver import PgServer, pg_bin

    if pg_bin() is None:
        pytest.skip("PostgreSQL's server is not installed (scripts/ensure-debian-packages installs it)")
    with PgServer() as pg:
        j = J.Journal(pg.createdb("desk"))
        try:
            left: list[float] = []
            start = threading.Barrier(12)

            def attempt() -> None:
                start.wait()
                with j.tx() as conn:
                    left.append(store.count_sign_in(conn, "account:head", now=1000.0, limit=5, window=900))

            threads = [threading.Thread(target=attempt) for _ in range(12)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert sorted(left).count(0.0) == 5 and len(left) == 12, left
            with j.tx() as conn:
                store.open_desk_session(conn, "a" * 64, "head", now=1000.0, expires_at=2000.0)
            assert store.desk_session_officer(j, "a" * 64, now=1500.0) == "head"
            assert store.desk_session_officer(j, "a" * 64, now=2500.0) is None  # expired
            with j.tx() as conn:
                store.end_desk_session(conn, "a" * 64)
            assert store.desk_session_officer(j, "a" * 64, now=1500.0) is None
        finally:
            j.close()
