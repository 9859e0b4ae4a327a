"""A send's rules: the controls an operator may set, and when a send has finished."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.errors import NotFound, Refused

SENDER_QUEUE = "email-sender"
"""SEND_BATCH messages go straight to the sender's own queue (not through the topic)."""


class Controls(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_size: int = Field(ge=1, le=1000)
    delay_ms: int = Field(ge=0, le=60_000)
    cooldown_seconds: int = Field(ge=0, le=3600)


class ControlChanges(BaseModel):
    """A partial update of a running send's controls; the next batch uses the new values."""

    model_config = ConfigDict(extra="forbid")

    batch_size: int | None = Field(None, ge=1, le=1000)
    delay_ms: int | None = Field(None, ge=0, le=60_000)
    cooldown_seconds: int | None = Field(None, ge=0, le=3600)


@dataclass(frozen=True)
class Counts:
    sent: int
    failed: int
    skipped: int
    pending: int
    sending: int

    @property
    def finished(self) -> bool:
        return self.pending == 0 and self.sending == 0


class SendNotFound(NotFound):
    pass


class SendStateError(Refused):
    """The send is not in a state that allows this (resume a cancelled send, say)."""
