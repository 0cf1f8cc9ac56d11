"""Progress as a small protocol (after OCRmyPDF's ``_progressbar.py``): the command line draws a bar, the
benchmarks and tests use :class:`NullProgress`, the desk may show its own."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def update(self, phase: str, done: int, total: int | None = None) -> None:
        """``done`` of ``total`` items of ``phase`` ("render", "deliver", "sign") are finished."""


class NullProgress:
    """Shows nothing."""

    def update(self, phase: str, done: int, total: int | None = None) -> None:
        pass


class TerminalBar:
    """A bar on the terminal's standard error (click's own progress bar wants to own the loop, which the
    driver does; this one only draws)."""

    width = 30

    def __init__(self, stream: object | None = None):
        import sys

        self.stream = stream or sys.stderr

    def update(self, phase: str, done: int, total: int | None = None) -> None:
        import click

        total = total or done
        if total <= 1:
            return
        filled = int(self.width * done / total)
        click.echo(f"\r{phase:8} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total}",
                   file=self.stream, nl=done == total)  # type: ignore[arg-type]
