"""The watch on a dependency every handler needs: marked by the first failure that is its
outage, probed one at a time on a backoff while down, cleared by the first probe that answers."""

from __future__ import annotations

import asyncio

from shared.consumer.outage import Outage
from shared.domain.errors import TransientError, Unavailable


class Refused(Exception):
    pass


class Dependency:
    """A probe target on a simulated clock: down until `up_at`."""

    def __init__(self, up_at: float) -> None:
        self.now = 0.0
        self.up_at = up_at
        self.probed_at: list[float] = []

    def clock(self) -> float:
        return self.now

    async def probe(self) -> None:
        self.probed_at.append(self.now)
        await asyncio.sleep(0)
        if self.now < self.up_at:
            raise Refused("connection refused")


def watch(dependency: Dependency) -> Outage:
    return Outage(
        "database",
        dependency.probe,
        lambda exc: isinstance(exc, Refused),
        clock=dependency.clock,
    )


async def test_probes_back_off_to_five_seconds_and_the_first_answer_ends_it() -> None:
    dependency = Dependency(up_at=30.0)
    outage = watch(dependency)
    assert await outage.held() is None and not outage.noticed(RuntimeError("a bug"))

    wrapped = TransientError("db", "wrapped")
    wrapped.__cause__ = Refused("connection refused")
    assert outage.noticed(wrapped)

    reasons = []
    while (reason := await outage.held()) is not None:  # a consumer loop asking every 0.5 s
        reasons.append(reason)
        dependency.now += 0.5

    gaps = [b - a for a, b in zip(dependency.probed_at, dependency.probed_at[1:], strict=False)]
    assert gaps[:3] == [2.0, 4.0, 5.0] and set(gaps[3:]) == {5.0}
    assert 30.0 <= dependency.probed_at[-1] <= 35.0  # carried on within a probe interval
    assert reasons[0] == "database unreachable for 0s" and not outage.down


async def test_many_consumers_share_one_probe_at_a_time() -> None:
    dependency = Dependency(up_at=0.0)
    outage = watch(dependency)
    outage.noticed(Refused("connection refused"))
    dependency.now = 1.0

    results = await asyncio.gather(*(outage.held() for _ in range(8)))

    assert results == [None] * 8 and dependency.probed_at == [1.0]


async def test_a_breaker_s_failure_is_an_outage_only_if_the_probe_fails_too() -> None:
    """SES failing to connect while SQS answers is SES's failure; both failing is not."""
    dependency = Dependency(up_at=10.0)
    outage = watch(dependency)
    failure = TransientError("ses", "EndpointConnectionError")
    failure.__cause__ = Refused("connection refused")

    assert await outage.confirms(failure) and outage.down  # the probe failed as well
    dependency.now = 12.0
    assert await outage.held() is None
    assert not await outage.confirms(failure)  # the endpoint answers: SES's own failure
    assert not await outage.confirms(TransientError("ses", "503 Service Unavailable"))
    assert outage.caused(Unavailable("database", "said by a handler"))
