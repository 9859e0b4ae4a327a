"""How a handler tells the consumer runtime what to do with a message other than delete it.

(`AlreadyProcessed`, raised by a unit of work's commit, is the port's: service_layer.)
"""

from __future__ import annotations

from shared.domain.errors import DriprError


class Outcome(DriprError):
    """Raised by a handler to choose what happens to its message."""


class Retry(Outcome):
    """A transient failure: make the message visible again after `delay` seconds."""

    def __init__(self, reason: str, delay: float = 5.0) -> None:
        super().__init__(reason)
        self.delay = delay


class Reject(Outcome):
    """This message can never succeed: dead-letter it now with the reason."""
