"""The account's sending rate: a limiter shared through the database, and SES's throttling
taken as backpressure, never as a breaker failure."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiobotocore.session import AioSession
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.provision import Report
from services.email_sender.delivery import SendConfig, _send_within_rate
from shared.adapters.aws import async_client
from shared.adapters.db.models import CircuitBreakerRow, RateLimitRow
from shared.adapters.db.rate_limiter import SES_SENDING, SharedRateLimiter
from shared.adapters.providers.mailer import OutgoingEmail, SesMailer, max_send_rate
from shared.bootstrap import bootstrap
from shared.bootstrap.providers import open_rate_limiter
from shared.config import Settings
from shared.domain.dependencies import Dependency
from shared.domain.errors import Throttled
from shared.service_layer.breakers import CircuitBreaker, Guarded
from tests.standins.ses_query import ses_standin


async def test_of_two_replicas_taking_the_same_moment_one_gets_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    replicas = [SharedRateLimiter(sessions, 50.0) for _ in range(6)]

    answers = await asyncio.gather(*(r._take(1_000.0, 0.02) for r in replicas))

    assert answers.count(None) == 1  # one slot, one sender
    assert [a for a in answers if a is not None] == [pytest.approx(1_000.02)] * 5


async def test_the_next_slot_comes_one_interval_after_the_last_taken_and_never_saves_up(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    limiter = SharedRateLimiter(sessions, 10.0)

    assert await limiter._take(1_000.0, 0.1) is None
    assert await limiter._take(1_000.05, 0.1) == pytest.approx(1_000.1)  # too soon: wait
    assert await limiter._take(1_000.1, 0.1) is None
    assert await limiter._take(2_000.0, 0.1) is None  # idle for a long while, then:
    assert await limiter._take(2_000.0, 0.1) == pytest.approx(2_000.1)  # no burst of credit


async def test_ses_throttling_slows_everyone_and_counts_against_no_breaker(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with ses_standin() as standin:
        local = settings.model_copy(update={"aws_endpoint_url": standin.url})
        async with async_client(AioSession(), "ses", local, attempts=1) as ses:
            assert await max_send_rate(ses) == 14.0
            mailer = Guarded(
                SesMailer(ses, "news@dripr.example"), CircuitBreaker(Dependency.SES, sessions)
            )
            limiter = SharedRateLimiter(sessions, 100.0)
            config = SendConfig("https://news.example", "a-test-secret-of-some-length")
            standin.throttle_next = 1
            email = OutgoingEmail("a@x.io", "Hello", "<p>hi</p>", "hi")

            with pytest.raises(Throttled, match="Maximum sending rate exceeded"):
                await SesMailer(ses, "news@dripr.example").send(email)
            standin.throttle_next = 6  # in a row: more than the breaker's threshold of five
            started = time.time()
            message_id = await _send_within_rate(mailer, email, limiter, config)

    assert message_id and standin.throttled == 7 and len(standin.accepted) == 1
    assert standin.accepted[0] - started >= 6 * 1.0  # each throttle held every sender back 1 s
    async with sessions() as session:
        breaker = await session.get(CircuitBreakerRow, Dependency.SES)
        row = await session.get(RateLimitRow, SES_SENDING)
    assert breaker is None or (breaker.failures, breaker.state.value) == (0, "CLOSED")
    assert row is not None and row.per_second == 100.0


async def test_the_rate_is_the_lower_of_the_cap_and_ses_s_quota_read_at_start(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    topology: Report,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with ses_standin() as standin:
        standin.max_send_rate = 14.0
        told = settings.model_copy(update={"send_rate_from_quota": True})
        with monkeypatch.context() as patched:
            patched.setenv("AWS_ENDPOINT_URL_SES", standin.url)
            for cap, expected in ((None, 14.0), (50.0, 14.0), (5.0, 5.0)):
                configured = told.model_copy(update={"send_rate_cap": cap})
                async with bootstrap(configured) as runtime:
                    limiter = await open_rate_limiter(runtime)
                assert limiter.per_second == expected, cap
        async with bootstrap(settings.model_copy(update={"send_rate_cap": 5.0})) as runtime:
            assert (await open_rate_limiter(runtime)).per_second == 5.0  # emulator: cap alone
