"""How a handler tells the consumer runtime what to do with a message other than delete it."""

from __future__ import annotations


class Retry(Exception):
    """A transient failure: make the message visible again after `delay` seconds."""

    def __init__(self, reason: str, delay: float = 5.0) -> None:
        super().__init__(reason)
        self.delay = delay


class Reject(Exception):
    """This message can never succeed: dead-letter it now with the reason."""


class AlreadyProcessed(Exception):
    """Another delivery of the same event committed first; this one changed nothing."""
