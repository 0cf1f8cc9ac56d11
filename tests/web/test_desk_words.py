"""Issue 15 through HTTP (Starlette's TestClient): signing in by IIN, the session that ran out keeping what was
typed, a stale form said in words, reading before signing enforced by the server, page images addressed by the
file's SHA-256, dates and overdue terms as officials write them, and the demo's desk accounts."""

from __future__ import annotations

import datetime as dt
import re

from pipeline.journal import store
from pipeline.web.words import days_phrase, official_date, official_datetime
from tests.web.conftest import PASSWORDS, config_of, csrf_of, sign_in

ORDER = "C-2026-0001-order"
REFUSAL = "C-2026-0002-reasoned_refusal"


def journal(client):
    return client.app.state.desk.services.journal


def test_dates_and_overdue_in_words():
    moment = dt.datetime(2027, 1, 6, 5, 0, tzinfo=dt.UTC)  # 10:00 in Kazakhstan (UTC+5)
    assert official_datetime(moment, "kk") == "2027 жылғы 6 қаңтар, 10:00"
    assert official_datetime(moment.isoformat(), "ru") == "6 января 2027 г., 10:00"
    assert official_date("2026-12-31", "ru") == "31 декабря 2026 г."
    assert days_phrase(-9, True, "ru") == "просрочено на 9 раб. дн." and "-9" not in days_phrase(-9, True, "kk")
    assert days_phrase(3, False, "kk") == "3 жұмыс күні қалды"


def test_sign_in_by_iin_and_a_wrong_password_keeps_the_login(client):
    iin = config_of(client.app.state.desk.config.root).officer("inspector-1").iin
    r = sign_in(client, iin, "wrong")
    assert r.status_code == 401 and f'value="{iin}"' in r.text  # retype the password only
    r = sign_in(client, iin, PASSWORDS["inspector-1"])
    assert r.status_code == 200 and str(r.url).endswith("/queue") and "Ахметова" in r.text


def test_an_expired_session_returns_to_the_page_with_the_reason_typed(client):
    sign_in(client, "head")
    page = client.get(f"/documents/{REFUSAL}").text
    with journal(client).tx() as conn:  # the session runs out on the server
        from pipeline.journal.tables import desk_sessions

        conn.execute(desk_sessions.delete())
    r = client.post(f"/documents/{REFUSAL}/reject", data={"csrf": csrf_of(page), "reason": "the ground is wrong",
                                                         "back": f"/documents/{REFUSAL}"}, follow_redirects=True)
    assert "/login" in str(r.url) and "Сеанс работы завершён" in r.text and '"ok"' not in r.text
    login = client.post("/login", data={"officer": "head", "password": PASSWORDS["head"], "csrf": csrf_of(r.text),
                                        "next": f"/documents/{REFUSAL}"})
    assert str(login.url).endswith(f"/documents/{REFUSAL}")
    assert "the ground is wrong</textarea>" in login.text  # what was typed is kept
    assert store.get_document(journal(client), REFUSAL).status == "queued"  # nothing was done meanwhile


def test_a_stale_form_says_so_and_keeps_what_was_typed(client):
    sign_in(client, "head")
    client.get(f"/documents/{REFUSAL}")
    r = client.post(f"/documents/{REFUSAL}/reject", data={"csrf": "stale", "reason": "wording",
                                                         "back": f"/documents/{REFUSAL}"})
    assert r.status_code == 403 and "форма была открыта слишком долго" in r.text and "W-STALE-FORM" in r.text
    assert "не разрешено для вашей роли" not in r.text
    assert "wording</textarea>" in client.get(f"/documents/{REFUSAL}").text


def test_an_unread_document_is_not_signed(client, site, acts_signed):
    sign_in(client, "head")
    sha = store.get_document(journal(client), ORDER).pdf_sha256
    page = client.get("/queue").text
    assert f'value="{ORDER}:{sha}"' not in page  # no checkbox to tick before it was opened
    head = config_of(site).officer("head")
    r = client.post("/queue/approve", data={"csrf": csrf_of(page), "doc": [f"{ORDER}:{sha}"], "secret": head.secret})
    assert "/results" in str(r.url) and "не открыт" in r.text and "W-NOT-READ" in r.text
    assert store.get_document(journal(client), ORDER).status == "queued"
    client.get(f"/documents/{ORDER}")  # opened: journaled as read, for these bytes
    reads = [s for s in store.steps_of(journal(client), [ORDER]) if s.step == "read"]
    assert reads and reads[-1].detail == {"officer": "head", "sha256": sha}
    confirm = client.get("/queue/confirm", params={"doc": f"{ORDER}:{sha}"}).text
    assert "Вы собираетесь подписать" in confirm and ORDER not in re.sub(r'(href|value|data-document)="[^"]*"', "", confirm)
    r = client.post("/queue/approve", data={"csrf": csrf_of(confirm), "doc": [f"{ORDER}:{sha}"], "secret": head.secret})
    assert "Подписано: 1; не подписано: 0." in r.text
    # the page image of the unsigned file is gone with it: images are addressed by the file's SHA-256
    assert client.get(f"/documents/{ORDER}/{sha}/page/1.png").status_code == 404
    new = store.get_document(journal(client), ORDER).pdf_sha256
    assert client.get(f"/documents/{ORDER}/{new}/page/1.png").content.startswith(b"\x89PNG")


def test_the_demo_writes_desk_accounts_for_every_role(tmp_path, capsys):
    from pipeline.config import Config
    from pipeline.demo import make_demo
    from pipeline.web.passwords import verify_password
    from pipeline.web.settings import WebSettings

    make_demo(tmp_path)
    out = capsys.readouterr().out
    config = Config.load(tmp_path / "qamqor.toml")
    accounts = {a.officer: a for a in WebSettings.from_config(config).accounts}
    assert set(accounts) == {"head", "inspector-1", "inspector-2", "operator"}
    for oid, account in accounts.items():
        assert verify_password(account.password_hash, f"{oid}-demo") and f"{oid}-demo" in out
        assert config.officer(oid).iin in out
    assert out.count("password") == len(accounts) + 1  # once each, after one heading
