"""qamqor's pipeline: case events in, signed documents out, exactly once.

The one dependency rule: ``core`` ← ``journal`` ← ``stages`` ← ``runner`` ← ``cli`` / ``web``.

- :mod:`pipeline.core` — the Rules as pure functions (events, IIN, calendar, rules, lifecycles);
- :mod:`pipeline.ingest` — bytes → a validated event;
- :mod:`pipeline.journal` — the tables, migrations and :mod:`~pipeline.journal.store` (the only SQL);
- :mod:`pipeline.stages` — claim, accept, apply, transfers, render, sign, deliver (the written contract is
  in its docstring);
- :mod:`pipeline.runner` — the driver; :mod:`pipeline.workers` — where render work runs;
- :mod:`pipeline.services` — what every stage works with, built once; :mod:`pipeline.signatures` — the
  signature backends;
- :mod:`pipeline.queue`, :mod:`pipeline.reports`, :mod:`pipeline.cli`, :mod:`pipeline.web` — the officers'
  actions, the read models and the two front ends.
"""
