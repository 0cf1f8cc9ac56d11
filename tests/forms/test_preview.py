"""`python -m forms.preview --out DIR` renders documents to PDF and PNG for people to look at."""

from pathlib import Path

from forms import preview


def test_preview_writes_pngs(tmp_path: Path):
    assert preview.main(["--out", str(tmp_path), "--kind", "acceptance_notice", "--dpi", "30"]) == 0
    for lang in ("kk", "ru"):
        assert (tmp_path / f"acceptance_notice.{lang}.pdf").stat().st_size > 10_000
        png = tmp_path / f"acceptance_notice.{lang}-1.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
