"""``qamqor.toml`` validates itself (issue 9, item #9.5): every bad file is ``E-CONFIG`` with the exit code of
configuration, naming the file, table and key, and saying what to write — never ``E-INTERNAL``.  Also the codes
of the render and catalogue errors, which joined the same family."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from pipeline.config import Config
from pipeline.errors import ERROR_CODES, ConfigError, ConfigErrors, ExitCode, QamqorError
from tests.conftest import qamqor

OFFICER = '[[officers]]\nid = "head"\nname = "Басшы"\niin = "750428404517"\nrole = "head"\noffice = "ED-ALM-BOS"\n'

#: one bad file per row: what it holds, then what the message must name (where, and the key or value)
BAD = {
    "wrong type": ('[limits]\nmax_event_bytes = "1MB"\n',
                   ["qamqor.toml [limits] max_event_bytes", '"1MB"'], "write a whole number of bytes, e.g. 1048576"),
    "float as text": ('[pipeline]\nsettle_seconds = "1s"\n', ["[pipeline] settle_seconds"], "number of seconds"),
    "bool as text": ('[signing]\ncheck_revocation = "false"\n', ["[signing] check_revocation"], "true or false"),
    "out of range": ("[pipeline]\nworkers = -1\n", ["[pipeline] workers", "-1"], "at least 0"),
    "unknown key": ("[limits]\nmax_bytes = 5\n", ["[limits] max_bytes", "unknown key"], "max_event_bytes"),
    "unknown table": ("[limit]\nmax_event_bytes = 5\n", ["[limit]", "unknown table"], "[limits]"),
    "unknown array of tables": ('[[officer]]\nid = "x"\n', ["[[officer]]", "unknown table"], "[[officers]]"),
    "key outside a table": ("max_event_bytes = 5\n", ["max_event_bytes"], "[limits]"),
    "a table as a value": ("limits = 5\n", ["[limits]", "not a table"], "[limits]"),
    "bad role": (OFFICER.replace('role = "head"', 'role = "boss"'),
                 ['[[officers]] #1 (id "head") role', '"boss"'], '"provider_seal"'),
    "bad backend": (OFFICER + 'backend = "hsm"\n', ['[[officers]] #1 (id "head") backend', '"hsm"'],
                    '"pkcs12", "pkcs11", "external"'),
    "missing required key": (OFFICER.replace('name = "Басшы"\n', ""), ["[[officers]] #1", "name: missing"],
                             "add name ="),
    "empty required key": (OFFICER.replace('office = "ED-ALM-BOS"', 'office = ""'), ["[[officers]] #1", "office"],
                           "write a value"),
    "a person without an IIN": (OFFICER.replace('iin = "750428404517"\n', ""), ["[[officers]] #1", "iin"],
                                "IIN"),
    "officers as one table": ('[officers]\nid = "x"\n', ["[[officers]]", "single table"], "double brackets"),
    "two officers, one id": (OFFICER + OFFICER, ["[[officers]] #2 id", '"head"'], "an id of their own"),
    "bad level": ('[signing]\nlevel = "B-X"\n', ["[signing] level", '"B-X"'], '"B-LTA"'),
    "level without a TSA": ('[signing]\nlevel = "B-T"\n', ["[signing] tsa_url", "B-T"], "tsa_url ="),
    "trust roots not a list": ('[signing]\ntrust_roots = "root.pem"\n', ["[signing] trust_roots"], "list"),
    "verify URL placeholder": ('[service]\nverify_url = "https://x.kz/v/{id}"\n', ["[service] verify_url"],
                               "{document_id}"),
    "journal URL": ('[journal]\nurl = "mysql://qamqor@db/qamqor"\n', ["[journal] url", "mysql"], "postgresql"),
    "default officer unknown": ('[pipeline]\ndefault_officer = "nobody"\n', ["[pipeline] default_officer"],
                                "[[officers]]"),
    "state inside the inbox": ('[paths]\nstate = "inbox/var"\n', ["[paths] state"], "apart"),
    "web port as text": ('[web]\nport = "8480"\n', ["[web] port", '"8480"'], "whole number"),
    "web language": ('[web]\nlanguage = "en"\n', ["[web] language", '"en"'], '"kk", "ru"'),
    "web unknown key": ("[web]\nprot = 8480\n", ["[web] prot", "unknown key"], "port"),
    "web account of no officer": ('[[web.accounts]]\nofficer = "nobody"\npassword_hash = "$argon2id$x"\n',
                                  ["[[web.accounts]] #1 officer", '"nobody"'], "[[officers]]"),
    "web account without a hash": ('[[web.accounts]]\nofficer = "head"\n' + OFFICER,
                                   ["[[web.accounts]] #1 password_hash", "missing"], "password_hash ="),
}


def _load(folder: Path, text: str) -> Config:
    path = folder / "qamqor.toml"
    path.write_text(text, encoding="utf-8")
    return Config.load(path)


@pytest.mark.parametrize("name", BAD)
def test_a_bad_file_is_a_config_error_that_says_where_and_what_to_write(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text, named, remedy = BAD[name]
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    err = caught.value
    assert err.code == "E-CONFIG" and err.exit_code == ExitCode.config_error == 8
    for part in named:
        assert part in err.message, (part, err.message)
    assert remedy in err.remedy, (remedy, err.remedy)
    line = err.one_line()
    assert line.startswith("E-CONFIG: qamqor.toml ") and " — " in line and "\n" not in line
    assert "pydantic" not in line and "Input should" not in line  # our words, not the library's dump


def test_an_unknown_key_lists_the_known_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, "[pipeline]\nsettle = 1.0\n")
    for key in ("settle_seconds", "scan_interval", "incomplete_grace", "workers", "default_officer"):
        assert key in caught.value.remedy


def test_every_problem_is_reported_once_in_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigErrors) as caught:
        _load(tmp_path, '[limits]\nmax_event_bytes = "1MB"\n[web]\nport = "80"\nlanguage = "en"\n')
    err = caught.value
    assert [e.message.split(":")[0] for e in err.errors] == [
        "qamqor.toml [limits] max_event_bytes", "qamqor.toml [web] port", "qamqor.toml [web] language"]
    assert isinstance(err, ConfigError) and err.code == "E-CONFIG" and len(err.to_dict()["errors"]) == 3
    assert "(+2 more: " in err.one_line() and "\n" not in err.one_line()


def test_a_file_elsewhere_is_named_by_its_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    elsewhere = tmp_path / "etc"
    elsewhere.mkdir()
    monkeypatch.chdir(tmp_path.parent)
    with pytest.raises(ConfigError, match=r"etc/qamqor\.toml \[limits\] max_event_bytes"):
        _load(elsewhere, "[limits]\nmax_event_bytes = 1.5\n")


def test_the_demo_configuration_loads_and_travels_to_workers(demo):
    config = Config.load(demo / "qamqor.toml")
    assert config.demo and config.settle_seconds == 0.5 and config.signing.level == "B-LTA"  # issue 12 #6
    assert {o.role for o in config.officers} <= {"operator", "provider_seal", "inspector", "head"}
    head = config.officer("head")
    assert Path(head.key).is_absolute() and head.backend == "pkcs12"
    assert config.journal_url == f"sqlite:///{config.state / 'journal.sqlite'}"
    copy = pickle.loads(pickle.dumps(config))
    assert copy == config and hash(copy) == hash(config) and {config.source: 1}[copy.source] == 1


def test_defaults_without_a_file_and_a_configured_journal(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QAMQOR_CONFIG", raising=False)
    config = Config.load(cwd=tmp_path)
    assert config.source is None and config.inbox == tmp_path.resolve() / "inbox" and config.workers == 0
    url = "postgresql+psycopg://qamqor@db.example.kz:5432/qamqor"
    assert _load(tmp_path, f'[journal]\nurl = "{url}"\n').journal_url == url


def test_web_settings_come_from_the_same_models(demo):
    from pipeline.web.settings import Account, WebSettings

    path = demo / "qamqor.toml"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('\n[web]\nport = 0\nlanguage = "ru"\n[[web.accounts]]\nofficer = "head"\npassword_hash = "h"\n')
    config = Config.load(path)
    settings = WebSettings.from_config(config)
    assert (settings.port, settings.language, settings.max_upload_bytes) == (0, "ru", 20_000_000)
    # the demo writes its own desk accounts (issue 15 #1); the one added here comes last
    assert settings.accounts[-1] == Account(officer="head", password_hash="h") and settings.session_secret
    assert WebSettings.from_config(config, secure_cookies=True).cookies_secure()
    with pytest.raises(ConfigError, match=r"\[web\] ncalayer_url"):
        WebSettings.from_config(config, ncalayer_url=5)
    with pytest.raises(ConfigError, match=r"\[web\] nonsense: unknown key"):
        WebSettings.from_config(config, nonsense=1)


def test_the_command_exits_with_the_config_code_not_internal(demo):
    path = demo / "qamqor.toml"
    path.write_text(path.read_text(encoding="utf-8") + '\n[limits]\nmax_event_bytes = "1MB"\n', encoding="utf-8")
    proc = qamqor(demo, "status")
    assert proc.returncode == ExitCode.config_error, proc.stderr
    assert "E-CONFIG: qamqor.toml [limits] max_event_bytes" in proc.stderr and "1048576" in proc.stderr
    assert "E-INTERNAL" not in proc.stderr and "Traceback" not in proc.stderr


# --- the documents' errors joined the family -----------------------------------------------------------------


def test_a_character_no_font_has_is_e_render_font_in_one_line():
    from forms.preview import sample_context
    from forms.render import FontFallbackError, Renderer, RenderError

    context = sample_context("order", "ru")
    context["application"]["applicant"]["surname"] = "Ᏹ-Иванова"  # Cherokee: no shipped font has it
    with pytest.raises(FontFallbackError) as caught:
        Renderer().render("order", "ru", context)
    err = caught.value
    assert isinstance(err, QamqorError) and isinstance(err, RenderError) and isinstance(err, RuntimeError)
    line = err.one_line()
    assert line.startswith("E-RENDER-FONT: ") and "U+13F1" in line and " — " in line and "forms/fonts/" in line
    assert err.exit_code == ExitCode.config_error and "\n" not in line


def test_catalogue_errors_have_their_code_and_stay_lookup_errors():
    from forms import catalogue

    with pytest.raises(LookupError) as caught:
        catalogue.describe("certificate")
    err = caught.value
    assert isinstance(err, catalogue.CatalogueError) and isinstance(err, QamqorError)
    assert err.one_line().startswith("E-CATALOGUE: unknown document kind") and " — " in err.one_line()
    assert err.exit_code == ExitCode.config_error


def test_the_documents_codes_are_registered():
    from forms.catalogue import CatalogueError
    from forms.render import FontFallbackError, RenderError

    assert {RenderError.code, FontFallbackError.code, CatalogueError.code} <= set(ERROR_CODES)
