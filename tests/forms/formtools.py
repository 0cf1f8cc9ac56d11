"""Helpers of the forms tests (a module of its own name: tests/ is not a package, and `forms` is taken)."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from forms.preview import sample_context
from forms.render import RenderedDocument
from forms.samples.generate import iin

EVENT = b'{"format": "qamqor.case-event/1", "event": "application.submitted"}'


@dataclass
class Rendered:
    kind: str
    language: str
    context: dict
    doc: RenderedDocument
    path: Path

    def text(self, *args: str) -> str:
        """The text in content order (-raw keeps a hyphen at a line's end, which the default layout drops)."""
        return pdftotext(self.path, "-raw", *args)


def pdftotext(path: Path, *args: str) -> str:
    return subprocess.run(["pdftotext", *args, str(path), "-"], capture_output=True, text=True, check=True).stdout


def flat(text: str) -> str:
    """Text with line breaks, hyphen-free wrapping and NBSP folded to single spaces, for phrase checks."""
    text = re.sub(r"-\n", "-", text.replace("\u00a0", " "))
    return re.sub(r"\s+", " ", text).strip()


WORD_RE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">|'
                     r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')


def words_by_page(path: Path) -> list[dict]:
    """pdftotext -bbox: per page its size and words (x1, y1, x2, y2 from the top-left, in points)."""
    pages = []
    for m in WORD_RE.finditer(pdftotext(path, "-bbox")):
        if m.group(1):
            pages.append({"width": float(m.group(1)), "height": float(m.group(2)), "words": []})
        else:
            pages[-1]["words"].append((*(float(m.group(i)) for i in range(3, 7)), m.group(7)))
    return pages


def _render(renderer, folder: Path, kind, language, context, name=None) -> Rendered:
    doc = renderer.render(kind, language, context, attachments=[("event.json", EVENT, "application/json")])
    path = folder / f"{name or kind}.{language}.pdf"
    path.write_bytes(doc.pdf)
    return Rendered(kind, language, context, doc, path)


LONG_NAME = ("Әбдіғаппарова-Құрманғалиева-Жүнісбекова", "Гүлжаһан-Әйгерім-Мөлдір", "Нұрсұлтанқызы-Бақытжанқызы")
LONG_ADDRESS = ("Түркістан облысы, Сарыағаш ауданы, Жібек жолы ауылдық округі, Қызылжар ауылы, "
                "Төле би атындағы көшесі, 128-үй, 3-кіреберіс, 47-пәтер (Ұлы Жібек жолы тұйығы жағынан)")
# birth dates → ages on 2026-12-14: 0–17, both sides of 14, one child turning 14 on the order's date
LONG_BIRTHS = ["2012-12-14", "2012-12-15", "2009-01-10", "2016-04-04", "2019-09-09", "2011-02-28",
               "2021-06-01", "2008-12-15"]


def long_context(kind: str, language: str) -> dict:
    """A stress context: long names and addresses, 8 children, 15 household rows, 3 inspectors, long texts."""
    from forms.samples.generate import ORDER_DATE, computed_children

    c = copy.deepcopy(sample_context(kind, language))
    app = c["application"]
    app["applicant"] |= {"surname": LONG_NAME[0], "given_name": LONG_NAME[1], "patronymic": LONG_NAME[2],
                         "address": LONG_ADDRESS}
    kids = []
    for n, birth in enumerate(LONG_BIRTHS):
        sex = "F" if n % 2 else "M"
        kids.append({"iin": iin(birth, sex, n + 1), "surname": "Жақсылықова-Серікбаева" if sex == "F" else
                     "Жақсылықов-Серікбаев", "given_name": f"Бала{n + 1}", "patronymic": "Қайратұлы" if sex == "M"
                     else "Қайратқызы", "birth_date": birth, "status": "without_parental_care",
                     "care_loss_reason": "parental_rights_deprived", "relation_to_applicant": "grandchild",
                     "residence": LONG_ADDRESS})
    app["children"] = kids
    if c.get("inspection"):
        ins = c["inspection"]
        ins["address"] = LONG_ADDRESS
        ins["inspectors"] = ins["inspectors"] + [{"name": "Үсенова Һәжәр Ғалымжанқызы",
                                                  "position_kk": "бас маман", "position_ru": "главный специалист"}]
        ins["household"] = [{"full_name": f"{LONG_NAME[0]} Мүше{n} {LONG_NAME[2]}", "birth_date": "1970-01-01",
                             "relation": "туысы / родственник",
                             "occupation": "«Қазақстан темір жолы» ұлттық компаниясы» АҚ, жол шебері, Шымкент"}
                            for n in range(1, 16)]
        ins["conclusion_text"] = " ".join([ins["conclusion_text"]] * 12)
        ins["family_characteristics"] = " ".join([ins["family_characteristics"]] * 6)
    if c.get("decision") and c["decision"].get("outcome") == "granted":
        c["decision"]["children"] = [k["iin"] for k in kids]
        c["computed"]["children"] = computed_children(kids, ORDER_DATE)
    return c


def context_with(kind: str, language: str, **changes) -> dict:
    c = json.loads(json.dumps(sample_context(kind, language)))
    for dotted, value in changes.items():
        node = c
        *path, last = dotted.split("__")
        for key in path:
            node = node[key]
        node[last] = value
    return c
