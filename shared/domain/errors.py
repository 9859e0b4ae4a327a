"""dripr's one error hierarchy: every error raised on purpose is a `DriprError`.

Callers catch by kind, not by module: the control API maps `NotFound` to 404, `Refused` to 409,
`InvalidInput` to 422 and `DependencyError` to 503, whatever raised it. Third-party dependencies
fail in two ways, as every adapter reports them:

- `TransientError`: the dependency is unwell (timeouts, 5xx, throttling). Worth retrying, and
  what circuit breakers count.
- `PermanentError`: the request itself cannot succeed (unknown address, invalid recipient).
  Retrying is pointless and the dependency is not to blame.
"""

from __future__ import annotations

from collections.abc import Iterator


class DriprError(Exception):
    """The root: an error dripr raises on purpose, with a message a person can act on."""


class NotFound(DriprError, LookupError):
    """What was asked for does not exist (a campaign, a send, a breaker)."""


class Refused(DriprError):
    """The request is well formed, but the current state does not allow it."""


class InvalidInput(DriprError, ValueError):
    """Input that can never be accepted, however often it is retried."""


class NotProvisioned(DriprError):
    """A resource services use but never create (the topic, a queue) is missing."""


class DependencyError(DriprError):
    def __init__(self, dependency: str, message: str) -> None:
        super().__init__(f"{dependency}: {message}")
        self.dependency = dependency


class TransientError(DependencyError):
    pass


class Throttled(TransientError):
    """The dependency asks us to slow down (SES's maximum sending rate): backpressure, not an
    outage, so no breaker counts it."""


class PermanentError(DependencyError):
    pass


class Unavailable(DriprError):
    """A dependency every handler needs (the database, the AWS endpoint) cannot be reached.

    Nobody's fault in the message: the consumer hands it back without counting it as a failure
    and holds until the dependency answers (shared/consumer/outage.py)."""

    def __init__(self, dependency: str, message: str) -> None:
        super().__init__(f"{dependency} unreachable: {message}")
        self.dependency = dependency


def causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, what it was raised from or during, and what an exception group holds, each once:
    where to look for the real reason (a connection refused under a wrapped SQL error)."""
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
