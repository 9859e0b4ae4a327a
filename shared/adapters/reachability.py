"""Whether an error is the database or the AWS endpoint being unreachable, rather than a bug.

Used where the answer changes what to do: a service starting during an outage waits instead of
exiting (the runner), and the control API answers 503 instead of 500.
"""

from __future__ import annotations

from shared.adapters.aws import endpoint_unreachable
from shared.adapters.db.engine import database_unreachable


def unreachable(exc: BaseException) -> str | None:
    """ "database" or "aws" when `exc`, what it came from, or one it groups, says it is
    unreachable; else None."""
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if database_unreachable(current):
            return "database"
        if endpoint_unreachable(current):
            return "aws"
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return None
