"""Time, in one convention: the database stores naive UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow_naive() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
