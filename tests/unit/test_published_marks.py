"""The published mark's group commit, with stand-in sessions: who waits, and for what."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from shared.adapters.outbox import PublishedMarks


class StandInSession:
    def __init__(self, log: list[str], gate: asyncio.Event) -> None:
        self._log, self._gate = log, gate

    async def __aenter__(self) -> StandInSession:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        return None

    async def execute(self, statement: Any) -> None:
        self._log.append("update")
        await self._gate.wait()

    async def commit(self) -> None:
        self._log.append("commit")


async def test_callers_arriving_during_an_update_share_the_next_one() -> None:
    log: list[str] = []
    gate = asyncio.Event()
    marks = PublishedMarks(lambda: StandInSession(log, gate))  # type: ignore[arg-type, return-value]
    first = asyncio.create_task(marks.mark([1]))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(marks.mark([n])) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    assert log == ["update"] and not first.done()  # each caller waits for its own mark
    gate.set()
    await asyncio.gather(first, *rest)
    assert log == ["update", "commit", "update", "commit"]  # four callers, two UPDATEs


async def test_a_stopping_writer_cancels_every_caller_rather_than_leaving_one_waiting() -> None:
    log: list[str] = []
    marks = PublishedMarks(lambda: StandInSession(log, asyncio.Event()))  # type: ignore[arg-type, return-value]
    callers = [asyncio.create_task(marks.mark([n])) for n in (1, 2)]
    await asyncio.sleep(0)
    later = asyncio.create_task(marks.mark([3]))  # waiting for the next UPDATE
    await asyncio.sleep(0)
    assert marks._writer is not None
    marks._writer.cancel()
    for caller in [*callers, later]:
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(caller, timeout=1)
