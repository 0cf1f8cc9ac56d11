"""The functional core: the service's Rules as pure functions of data and a date — no files, no clock, no
database (import-linter checks it: ``[tool.importlinter]`` in pyproject.toml).

- :mod:`.events` — the typed case events (the schemas in ``forms/schemas`` are their source);
- :mod:`.iin` — the IIN's check digit, birth date and sex;
- :mod:`.calendar` — Kazakhstan's working days (built from data the shell reads);
- :mod:`.rules` — the case's state and one handler per event, each citing its ¶; the fold;
- :mod:`.lifecycle` — the statuses of inputs, events, documents and deliveries, and their allowed moves.
"""
