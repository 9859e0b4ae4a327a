"""Time, in one convention: the database stores naive UTC datetimes; what leaves dripr (the
API, the CLI's JSON) carries its zone, as UTC with a `Z`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator


def as_utc(value: datetime) -> datetime:
    """A naive datetime is UTC (the database's convention); an aware one is converted."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
"""A timestamp shown to people and programs: always aware, serialised as ...Z."""


def utcnow_naive() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
