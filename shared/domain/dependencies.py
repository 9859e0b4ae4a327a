"""The third-party dependencies dripr's work goes through: one circuit breaker each.

These names are the breakers' rows in the database, the `dependency` of every
`DependencyError`, and what the topology's queues declare they depend on.
"""

from __future__ import annotations

from enum import StrEnum


class Dependency(StrEnum):
    PROPERTY_DATA = "property-data"
    BEDROCK = "bedrock"
    SES = "ses"


BREAKERS: tuple[Dependency, ...] = tuple(Dependency)
"""Every circuit breaker, in a fixed order."""
