"""The queue page's model (issue 15 #2): what needs *this* officer now, what waits for someone else (who, and
why), and what the officer did today — with filters (overdue, kind, case, office), counts over what is theirs, and
paging.

The rows come from one query (:func:`pipeline.journal.store.desk_queue`: the office's waiting documents with
their deadline and their case's unsigned acts); only the page shown is looked up further (applicants' names,
whether the officer has opened each document).  Nothing is verified on a page view.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from copy import copy
from dataclasses import dataclass, field
from typing import Any

from ..config import Officer
from ..core.lifecycle import RESULT_KINDS
from ..core.rules import KZ_TZ
from ..journal import store

PAGE_SIZE = 25
DONE_TODAY_MAX = 50


@dataclass(frozen=True)
class Filters:
    """The queue's filters, from the page's query string (bounded, never trusted)."""

    kind: str | None = None
    case: str | None = None
    office: str | None = None  # the PSC the case came through, or "portal"
    overdue: bool = False
    page: int = 1
    wpage: int = 1

    @classmethod
    def of(cls, query: Any) -> Filters:
        def number(name: str) -> int:
            try:
                return max(1, min(10_000, int(query.get(name) or 1)))
            except ValueError:
                return 1

        return cls(kind=(query.get("kind") or None), case=(query.get("case") or "").strip()[:64] or None,
                   office=(query.get("office") or "").strip()[:64] or None,
                   overdue=query.get("overdue") in ("1", "on", "true"), page=number("page"), wpage=number("wpage"))

    def query(self, **changes: Any) -> str:
        """This filter's query string, with ``changes`` (the pager's links)."""
        from urllib.parse import urlencode

        values = {"kind": self.kind, "case": self.case, "office": self.office,
                  "overdue": "1" if self.overdue else None, "page": self.page, "wpage": self.wpage, **changes}
        return urlencode({k: v for k, v in values.items() if v not in (None, "", 1)})


@dataclass
class Row:
    document_id: str
    case_id: str
    kind: str
    language: str
    number: str | None
    sha256: str
    signatures_done: int
    signatures_needed: int
    next_signer: dict[str, Any] | None
    due: dt.date | None
    days_left: int | None
    overdue: bool
    role: str  # the signer's role the document waits for
    office: str  # the office whose officer signs it
    via: str  # the PSC the case came through, or "portal" (the office filter)
    waiting: str | None = None  # why it is not the officer's now: "signer", "act", "signed_by_me"
    who: str | None = None
    error: str | None = None
    applicant: str = ""
    read: bool = False


@dataclass
class Board:
    mine: list[Row]
    waiting: list[Row]
    done_today: list[dict[str, Any]]
    mine_total: int
    mine_overdue: int
    waiting_total: int
    pages: int
    wpages: int
    kinds: list[str]
    offices: list[str]
    filters: Filters
    names: dict[str, str] = field(default_factory=dict)
    html: dict[str, str] = field(default_factory=dict)  #: the parts as rendered, per language (a cache)


def _fields(order: str | None) -> int:
    try:
        return len(json.loads(order or "{}").get("_fields", ()))
    except ValueError:
        return 0


#: the rows last read per (office, role, officer), with the journal's stamp they were read at
_CACHE: dict[tuple[Any, ...], tuple[tuple[Any, ...], tuple[Any, ...], float, list[Row]]] = {}
_CACHE_MAX = 64


#: a second look at the queue (its count and newest change) at least this often, for a change that journals no
#: step (e.g. a signature given back to the queue after a crash): such a change shows within this time
RECHECK_SECONDS = 2.0


def _stamp(desk: Any) -> tuple[Any, ...]:
    return (store.queue_version(desk.journal), _today())


def rows_of(desk: Any, officer: Officer, stamp: tuple[Any, ...] | None = None) -> list[Row]:
    """Every waiting document of the officer's office and role, as rows, sorted overdue first.  Read again only
    when the journal changed since (:func:`pipeline.journal.store.queue_version`: one cheap query per view, and
    now and then :func:`~pipeline.journal.store.queue_fingerprint`); the rows (and the list) are shared:
    copy one before changing it."""
    stamp = stamp or _stamp(desk)
    key = _rows_key(desk, officer)
    held = _CACHE.get(key)
    now = time.monotonic()
    if held is not None and held[0] == stamp and now - held[2] > RECHECK_SECONDS:
        if store.queue_fingerprint(desk.journal) == held[1]:
            held = _CACHE[key] = (held[0], held[1], now, held[3])
        else:
            held = None
    if held is None or held[0] != stamp:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        fingerprint = store.queue_fingerprint(desk.journal)
        held = _CACHE[key] = (stamp, fingerprint, now, _read_rows(desk, officer, stamp[1]))
    return held[3]


def _read_rows(desk: Any, officer: Officer, today: dt.date) -> list[Row]:
    kinds = sorted(desk.services.signers.get(officer.role, ()))
    calendar = desk.services.rules.calendar
    out: list[Row] = []
    for m in store.desk_queue(desk.journal, office=officer.office, kinds=kinds):
        signers = json.loads(m["signers"] or "[]")
        done = m["signatures_done"] or 0
        due = m["due"] if isinstance(m["due"], dt.date) or m["due"] is None else dt.date.fromisoformat(str(m["due"]))
        row = Row(
            document_id=m["document_id"], case_id=m["case_id"], kind=m["kind"], language=m["language"],
            number=m["number"], sha256=m["pdf_sha256"] or "", signatures_done=done,
            signatures_needed=max(1, _fields(m["order"])), next_signer=signers[done] if done < len(signers) else None,
            due=due, days_left=calendar.working_days_between(today, due) if due else None,
            overdue=bool(due and today > due), role=m["signer_role"], office=m["office"],
            via=m["psc"] if m["channel"] == "psc" and m["psc"] else "portal", error=m["error"])
        signed_by = json.loads(m["signed_by"] or "[]")
        if any(s.get("officer") == officer.id or (officer.iin and s.get("iin") == officer.iin) for s in signed_by):
            row.waiting, row.who = "signed_by_me", (row.next_signer or {}).get("name")
        elif m["kind"] in RESULT_KINDS and m["acts_open"]:
            row.waiting = "act"  # ¶10–11: the head signs once the inspectors have signed the act
        elif row.next_signer and row.next_signer.get("iin") and row.next_signer["iin"] != officer.iin:
            row.waiting, row.who = "signer", row.next_signer.get("name")
        out.append(row)
    out.sort(key=lambda r: (not r.overdue, r.due or dt.date.max, r.case_id, r.document_id))
    return out


def _today() -> dt.date:
    from .. import clock

    return clock.today()


def _page(rows: list[Row], page: int) -> tuple[list[Row], int]:
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(page, pages)
    return rows[(page - 1) * PAGE_SIZE: page * PAGE_SIZE], pages


#: whole boards as shown, per officer, filter and day, while the journal's stamp holds (a view that changes
#: nothing costs one query)
_BOARDS: dict[tuple[Any, ...], tuple[tuple[Any, ...], Board, list[Row]]] = {}


def board(desk: Any, officer: Officer, filters: Filters, *, now: float | None = None) -> Board:
    stamp = _stamp(desk)
    since = day_start_utc(now if now is not None else desk.accounts.clock())
    key = (id(desk), officer.id, officer.office, officer.role, officer.iin, filters, since)
    rows = rows_of(desk, officer, stamp)
    held = _BOARDS.get(key)
    if held is not None and held[0] == stamp and held[2] is rows:
        return held[1]
    if len(_BOARDS) >= 4 * _CACHE_MAX:
        _BOARDS.clear()
    made = _board(desk, officer, filters, rows, since)
    _BOARDS[key] = (stamp, made, rows)
    return made


def _rows_key(desk: Any, officer: Officer) -> tuple[Any, ...]:
    return (id(desk), officer.id, officer.office, officer.role, officer.iin)


def _board(desk: Any, officer: Officer, filters: Filters, rows: list[Row], since: str) -> Board:
    offices = sorted({r.via for r in rows})
    chosen = [r for r in rows
              if (not filters.kind or r.kind == filters.kind)
              and (not filters.case or filters.case.lower() in r.case_id.lower())
              and (not filters.office or r.via == filters.office)
              and (not filters.overdue or r.overdue)]
    mine = [r for r in chosen if r.waiting is None]
    waiting = [r for r in chosen if r.waiting is not None]
    mine_page, pages = _page(mine, filters.page)
    waiting_page, wpages = _page(waiting, filters.wpage)
    mine_page, waiting_page = [copy(r) for r in mine_page], [copy(r) for r in waiting_page]  # shared rows
    shown = mine_page + waiting_page
    read = store.read_by(desk.journal, officer.id, [(r.document_id, r.sha256) for r in mine_page])
    for r in mine_page:
        r.read = r.document_id in read
    done = done_today(desk, officer, since=since)
    names = desk.applicants(list({r.case_id for r in shown} | {d["case_id"] for d in done}))
    for r in shown:
        r.applicant = names.get(r.case_id, "")
    return Board(mine=mine_page, waiting=waiting_page, done_today=done, mine_total=len(mine),
                 mine_overdue=sum(1 for r in mine if r.overdue), waiting_total=len(waiting), pages=pages,
                 wpages=wpages, kinds=sorted(desk.services.signers.get(officer.role, ())), offices=offices,
                 filters=filters, names=names)


def day_start_utc(now: float) -> str:
    """The start of the officer's working day (midnight in Kazakhstan, UTC+5) as the journal writes times."""
    local = dt.datetime.fromtimestamp(now, KZ_TZ)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start.astimezone(dt.UTC).isoformat(timespec="microseconds")


def done_today(desk: Any, officer: Officer, *, since: str | None = None) -> list[dict[str, Any]]:
    """What the officer signed or returned since midnight (the steps' real time, as signatures carry it)."""
    since = since or day_start_utc(time.time())
    steps = []
    seen: set[str] = set()
    for s in store.officer_steps_since(desk.journal, officer.id, since):
        if s["document_id"] not in seen and len(steps) < DONE_TODAY_MAX:
            seen.add(s["document_id"])
            steps.append(s)
    docs = store.documents_named(desk.journal, [s["document_id"] for s in steps])
    return [{"document_id": d.document_id, "case_id": d.case_id, "kind": d.kind, "number": d.number,
             "at": s["at"], "step": s["step"], "status": str(d.status)}
            for s in steps if (d := docs.get(s["document_id"])) is not None]
