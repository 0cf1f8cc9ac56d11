"""axe-core (from npm, ``tests/web/js``: ``make setup`` installs it) run inside a Playwright page: the desk's and
the public pages' accessibility check (issue 15).  ``violations(page)`` gives the serious and critical findings.

The pages' CSP allows scripts only from the desk itself, so axe is injected through Playwright's isolated
evaluation (``add_script_tag(content=…)`` would be refused); its result is read back as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parent / "js" / "node_modules" / "axe-core" / "axe.min.js"


def violations(page: Any, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """The page's axe-core violations of these impacts: each rule id, its help text and the failing nodes."""
    assert AXE.is_file(), f"no {AXE}: `make setup` installs axe-core from npm (tests/web/js)"
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;window.__axe_loaded = true;")
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']}).then(r => JSON.stringify(r.violations))")
    found = json.loads(result)
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n.get("target") for n in v.get("nodes", [])][:5]}
            for v in found if v.get("impact") in impacts]
