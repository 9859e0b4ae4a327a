"""Whether an error is the database or the AWS endpoint being unreachable, rather than a bug.

Used where the answer changes what to do: a service starting during an outage waits instead of
exiting (the runner), and the control API answers 503 instead of 500.
"""

from __future__ import annotations

from shared.adapters.aws import endpoint_unreachable
from shared.adapters.db.engine import database_unreachable
from shared.domain.errors import causes


def unreachable(exc: BaseException) -> str | None:
    """ "database" or "aws" when `exc`, what it came from, or one it groups, says it is
    unreachable; else None."""
    for cause in causes(exc):
        if database_unreachable(cause):
            return "database"
        if endpoint_unreachable(cause):
            return "aws"
    return None
