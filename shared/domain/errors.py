"""The two ways a third-party dependency can fail, as every adapter reports them.

`TransientError`: the dependency is unwell (timeouts, 5xx, throttling). Worth retrying, and what
circuit breakers count. `PermanentError`: the request itself cannot succeed (unknown address,
invalid recipient). Retrying is pointless and the dependency is not to blame.
"""

from __future__ import annotations


class DependencyError(Exception):
    def __init__(self, dependency: str, message: str) -> None:
        super().__init__(f"{dependency}: {message}")
        self.dependency = dependency


class TransientError(DependencyError):
    pass


class PermanentError(DependencyError):
    pass
