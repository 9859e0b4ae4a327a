"""The heartbeat against SQS's rules for a message's visibility, on a simulated clock: it must
extend before the message reappears, with margin, and never past twelve hours from receipt."""

from __future__ import annotations

import contextlib

import pytest

from shared.consumer.visibility import MAX_VISIBILITY_SECONDS, Visibility


class Horizon(Exception):
    """The simulation has run as long as the test asked."""


class OneHiddenMessage:
    """SQS's view of one received message: hidden until a moment, on the test's clock.

    Refuses what SQS refuses: changing a message that is visible again (its receipt is stale)
    and hiding it beyond twelve hours from its receipt.
    """

    def __init__(self, timeout: int, horizon: float, call_seconds: float = 0.0) -> None:
        self.now = 0.0
        self.hidden_until = float(timeout)
        self.horizon = horizon
        self.call_seconds = call_seconds
        self.margins: list[float] = []
        """How long before reappearing each extension landed."""
        self.refused: list[str] = []
        """What real SQS would have refused (the heartbeat logs and carries on, so kept here)."""
        self.fail_next = 0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.now > self.horizon:
            raise Horizon

    async def change_message_visibility(
        self, *, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int
    ) -> None:
        self.now += self.call_seconds  # a slow emulator: SQS applies it when the call lands
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("endpoint unreachable")
        if self.now >= self.hidden_until:
            self.refused.append(f"visible again at {self.now:.0f}s before the extension")
            return
        if self.now + VisibilityTimeout > MAX_VISIBILITY_SECONDS:
            self.refused.append(f"beyond twelve hours from the receipt at {self.now:.0f}s")
            return
        self.margins.append(self.hidden_until - self.now)
        self.hidden_until = self.now + VisibilityTimeout


async def beat(message: OneHiddenMessage, seconds: int) -> None:
    visibility = Visibility(message, "queue", seconds, clock=message.clock, sleep=message.sleep)
    with contextlib.suppress(Horizon):
        await visibility.heartbeat("receipt", received_at=0.0)


@pytest.mark.parametrize("seconds", [10, 30, 300])
async def test_a_live_handler_keeps_its_message_hidden_for_hours(seconds: int) -> None:
    message = OneHiddenMessage(seconds, horizon=3 * 3600)

    await beat(message, seconds)

    assert message.refused == []
    assert len(message.margins) >= 3 * 3600 // seconds * 3 - 1
    assert min(message.margins) == pytest.approx(seconds * 2 / 3)
    assert message.hidden_until > message.horizon  # never visible while the handler ran


async def test_a_slow_or_failed_extension_still_lands_before_the_message_reappears() -> None:
    """Each call takes 8 s to land, and the first fails after its 8 s: the next beat keeps
    its time and still lands before the message reappears."""
    message = OneHiddenMessage(30, horizon=600, call_seconds=8.0)
    message.fail_next = 1

    await beat(message, 30)

    assert message.refused == []
    assert min(message.margins) == pytest.approx(2.0)  # the beat after the failure: 28 s of 30
    assert message.hidden_until > message.now


async def test_the_heartbeat_stops_at_sqs_s_twelve_hour_ceiling() -> None:
    message = OneHiddenMessage(30, horizon=MAX_VISIBILITY_SECONDS + 3600)

    await beat(message, 30)  # returns by itself, before the horizon

    assert message.refused == []
    assert message.now < MAX_VISIBILITY_SECONDS
    assert MAX_VISIBILITY_SECONDS - 120 <= message.hidden_until <= MAX_VISIBILITY_SECONDS
