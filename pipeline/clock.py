"""The service's clock (contract.md, "Time"): the system clock, or ``QAMQOR_NOW`` for drills, tests and replays.

It drives every deadline and the ¶14 month.  Signatures and timestamps always carry the real time, so the
signing code never asks this module.
"""

from __future__ import annotations

import datetime as dt
import os

from .core.rules import KZ_TZ
from .errors import ConfigError


def now() -> dt.datetime:
    """The service's current time, as an aware datetime in Kazakhstan's zone."""
    value = os.environ.get("QAMQOR_NOW")
    if value:
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ConfigError(f"QAMQOR_NOW={value!r} is not ISO 8601", remedy="e.g. 2027-01-14T10:00:00+05:00") from None
        if moment.tzinfo is None:
            raise ConfigError(f"QAMQOR_NOW={value!r} has no offset", remedy="add +05:00") from None
        return moment.astimezone(KZ_TZ)
    return dt.datetime.now(KZ_TZ)


def today() -> dt.date:
    return now().date()
