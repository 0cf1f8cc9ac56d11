"""What every stage, command and desk page works with, built once per process: the configuration, the journal,
the rules' context, the map of who signs what, and the signature backends.

A stage is a function of (``Services``, job); nothing reaches back into a runner object.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from forms.catalogue import load_rules_context, signers_by_role

from .audit import AuditLog
from .config import Config
from .core.rules import RulesContext
from .journal import Journal
from .signatures import Signatures
from .verify_links import ensure_key


@dataclass(frozen=True)
class WorkDirs:
    """The state folder's work areas (contract.md: ``<state>/work``)."""

    inputs: Path  #: every input taken, kept as it came (journaled)
    claimed: Path  #: just claimed, not journaled yet (a crash leaves them here)
    documents: Path  #: rendered and signed work files, one per signature

    @classmethod
    def of(cls, config: Config) -> WorkDirs:
        return cls(config.work / "inputs", config.work / "claimed", config.work / "documents")


@dataclass
class Services:
    config: Config
    journal: Journal
    rules: RulesContext
    signers: dict[str, frozenset[str]]  #: role -> document kinds it signs (forms/catalogue/documents.toml)
    signatures: Signatures
    dirs: WorkDirs

    @classmethod
    def build(cls, config: Config, *, rules: RulesContext | None = None,
              signatures: Signatures | None = None) -> Services:
        """Open the journal (creating or upgrading its schema), make the folders and the link key."""
        signers = signers_by_role()
        dirs = WorkDirs.of(config)
        for d in (config.inbox, config.outbox, dirs.inputs, dirs.claimed, dirs.documents):
            d.mkdir(parents=True, exist_ok=True)
        # several nodes: a transaction left open by a node that froze mid-way holds its rows (its work's fencing
        # token among them) from the node that takes the work over; the server ends it after the stall timeout
        journal = Journal(config.journal_url, audit=AuditLog(config.state / "audit.jsonl"),
                          idle_in_transaction=config.file.cluster.stall_seconds)
        ensure_key(config)  # before any worker needs it
        return cls(config, journal, rules or load_rules_context(), signers,
                   signatures or Signatures(config, signers), dirs)

    def sync_audit(self) -> None:
        """Make the audit log's appended entries durable and record its head (once per pass)."""
        if self.journal.audit is not None:
            self.journal.audit.sync()

    def close(self) -> None:
        self.sync_audit()
        self.signatures.close()
        self.journal.close()
