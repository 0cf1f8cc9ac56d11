"""The shell's stages: plain functions of ``(services, job)``, run in order by :mod:`pipeline.runner` (or, on
several machines, by a job engine through the same dispatcher protocol, :mod:`pipeline.workers`).

The contract every stage keeps (the key words as in RFC 2119):

- A stage SHALL journal before its effect: a step is committed to the journal before the file it announces is
  written, renamed or delivered, so that a process killed at any point (:mod:`pipeline.faults`) resumes where it
  stopped.
- A stage SHALL be idempotent: running it twice, or again after a crash, changes nothing more (deterministic
  names, atomic renames of the same bytes, conditional stores in the journal, a signed file already written is
  adopted rather than signed again).
- A stage SHALL NOT call another stage: the driver decides what runs next.  Shared helpers
  (:mod:`pipeline.cases`, :mod:`pipeline.rejections`, :mod:`pipeline.locks`) are not stages.
- A stage SHALL read and write the journal only through :mod:`pipeline.journal.store`.
- A stage MAY fail for one document or input without stopping the others: it records the failure (with a
  stable error code) and returns.

The stages, in the order of one pass:

1. :mod:`~pipeline.stages.claim` — settled files in ``inbox/`` are taken (atomic rename) and journaled;
2. :mod:`~pipeline.stages.accept` — each input is parsed; a valid event is recorded, bad input rejected with
   its report, a duplicate noted, a conflict rejected;
3. :mod:`~pipeline.stages.apply` — each case's pending events, in ``occurred_at`` order, through the rules core;
4. :mod:`~pipeline.stages.transfers` — ¶14: unclaimed results to the provider, requested ones back;
5. :mod:`~pipeline.stages.render` — requested documents into PDF/A, in worker processes;
6. :mod:`~pipeline.stages.sign` — one signature of one document: automatically (receipts, notices) or as an
   officer approves it;
7. :mod:`~pipeline.stages.deliver` — signed documents to their routes, each file atomically with its manifest.
"""
