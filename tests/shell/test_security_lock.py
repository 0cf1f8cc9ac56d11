"""Reproducible installs (#14.24): requirements.lock pins every dependency of pyproject.toml, the test extra's too,
each with its hashes, so that ``pip install --require-hashes -r requirements.lock`` (``make setup``) installs
exactly what was locked.  A dependency added to pyproject.toml without ``make lock`` fails here, not on a fresh
machine."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def locked() -> dict[str, tuple[str, list[str]]]:
    """name → (version, hashes) from requirements.lock."""
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    out = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        m = re.match(r"([A-Za-z0-9._-]+)==(\S+)", block)
        if m:
            out[canonicalize_name(m.group(1))] = (m.group(2), re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return out


def test_the_lock_pins_every_dependency_with_hashes():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]]
    pins = locked()
    missing = sorted({canonicalize_name(r.name) for r in wanted} - set(pins))
    assert not missing, f"not in requirements.lock (run `make lock`): {missing}"
    for r in wanted:  # the pinned release satisfies pyproject.toml's range
        version, _ = pins[canonicalize_name(r.name)]
        assert r.specifier.contains(version, prereleases=True), f"{r} but the lock pins {version} (run `make lock`)"
    # extras are pinned too (psycopg[binary] brings psycopg-binary)
    assert "psycopg-binary" in pins and "procrastinate" in pins
    unhashed = sorted(name for name, (_v, hashes) in pins.items() if not hashes)
    assert not unhashed, f"pinned without hashes: {unhashed}"


def test_setup_installs_from_the_lock_only():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    # the lock is the whole environment: installed without resolving (pip 23.2 took a newer release than the pin
    # for a requirement with an extra, fonttools[woff]), then checked whole
    assert "pip install -q --require-hashes --no-deps -r $(LOCK)" in makefile
    assert "$(BIN)/pip check" in makefile
    assert "pip install -q --no-deps -e ." in makefile
    assert re.search(r"^lock:", makefile, re.M) and re.search(r"^audit:", makefile, re.M)


def test_the_installed_environment_has_every_requirement_it_needs():
    """With --no-deps nothing is resolved at install: a dependency missing from the lock would only show when
    imported.  pip check reads every installed package's requirements and finds each one installed, in range."""
    done = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
