"""A case as the journal knows it: rebuilt by the rules' fold from its log, and moved by the shell's transitions
(the result delivered, moved to the provider or back, a document returned by an officer)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection

from .core import rules
from .journal import Journal, store


def load_case(db: Journal | Connection, ctx: rules.RulesContext, case_id: str) -> rules.CaseState | None:
    """The case's state now: a fold of its log (the accepted events and the transitions, in order)."""
    return rules.fold(store.case_history(db, case_id), ctx)


def advance(conn: Connection, ctx: rules.RulesContext, case_id: str, name: str, day: dt.date) -> rules.Outcome:
    """Apply a shell transition to a case inside the caller's transaction and write its outcome."""
    state = load_case(conn, ctx, case_id)
    t = rules.Transition(name, day)
    outcome = rules.step(state, t, ctx)
    store.write_outcome(conn, outcome, transition=t)
    return outcome


def transition(journal: Journal, ctx: rules.RulesContext, case_id: str, name: str, day: dt.date) -> rules.Outcome:
    """:func:`advance` in a transaction of its own."""
    with journal.tx() as conn:
        return advance(conn, ctx, case_id, name, day)
