"""Liveness that means the loops are going round, not just that the process exists.

Each long-running loop (a consumer's receive loop, the scheduler's clock) beats after every turn:
a receive that returned (messages, none, or an error), a check of its gate while held, a wait
for a free handler slot. The probe endpoint's `/livez` fails when any loop of the process has
not beaten within the bound: a loop that died or hangs while the process lives on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Heartbeats:
    bound_seconds: float = 120.0
    _last: dict[str, float] = field(default_factory=dict)
    _stopped: set[str] = field(default_factory=set)

    def beat(self, loop: str) -> None:
        self._last[loop] = time.monotonic()

    def stopped(self, loop: str) -> None:
        """The loop ended on purpose (shutdown): no longer judged."""
        self._stopped.add(loop)

    def silent(self) -> dict[str, float]:
        """Loops past the bound → seconds since their last beat."""
        now = time.monotonic()
        return {
            loop: round(now - last, 1)
            for loop, last in self._last.items()
            if loop not in self._stopped and now - last > self.bound_seconds
        }

    def ages(self) -> dict[str, float]:
        now = time.monotonic()
        return {loop: round(now - last, 1) for loop, last in self._last.items()}
