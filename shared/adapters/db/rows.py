"""How many rows a statement changed: the answer every compare-and-set turns on."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Result


def affected(result: Result[Any]) -> int:
    """Rows an UPDATE, INSERT or DELETE matched.

    `AsyncSession.execute` is typed as returning `Result`, but for DML it is a `CursorResult`,
    which carries `rowcount`: one cast here instead of an ignore at every compare-and-set.
    """
    return int(cast("CursorResult[Any]", result).rowcount)
