"""A send's rules: the controls an operator may set, and when a send has finished."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from shared.domain.errors import NotFound, Refused

SENDER_QUEUE = "email-sender"
"""SEND_BATCH messages go straight to the sender's own queue (not through the topic)."""


class Controls(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_size: int = Field(ge=1, le=1000)
    delay_ms: int = Field(ge=0, le=60_000)
    cooldown_seconds: int = Field(ge=0, le=3600)


class ControlChanges(BaseModel):
    """A partial update of a running send's controls; the next batch uses the new values.
    At least one is given, none as null."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    batch_size: Annotated[int, Field(ge=1, le=1000)] | SkipJsonSchema[None] = None
    delay_ms: Annotated[int, Field(ge=0, le=60_000)] | SkipJsonSchema[None] = None
    cooldown_seconds: Annotated[int, Field(ge=0, le=3600)] | SkipJsonSchema[None] = None


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


ABANDONED_CLAIM = "sender stopped mid-send; not resent, it may have gone"
"""A delivery's error when its claim was given up on without SES's word either way."""


@dataclass(frozen=True)
class Guard:
    """When a send's feedback says to stop: rates near SES's review levels, over enough mail.

    SES reviews an account at a 5% bounce rate or a 0.1% complaint rate (and may pause its
    sending at 10% and 0.5%); the guard pauses one send before the account gets there.
    """

    bounce_rate: float = 0.05
    complaint_rate: float = 0.001
    min_sent: int = 100
    """Below this many sent, a rate says too little to act on."""

    def tripped(self, sent: int, bounced: int, complained: int) -> str | None:
        """The reason to pause, or None."""
        if sent < self.min_sent or sent <= 0:
            return None
        if complained / sent >= self.complaint_rate:
            return (
                f"complaint rate {complained / sent:.2%} ({complained} of {sent}) reached "
                f"the guard's {self.complaint_rate:.2%}"
            )
        if bounced / sent >= self.bounce_rate:
            return (
                f"bounce rate {bounced / sent:.2%} ({bounced} of {sent}) reached "
                f"the guard's {self.bounce_rate:.2%}"
            )
        return None


def rate(count: int, sent: int) -> float | None:
    return count / sent if sent else None
