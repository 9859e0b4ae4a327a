"""Choose and open each dependency's adapter: one handed to `bootstrap()`, else from settings
(real, or the embedded default). Every one is wrapped in its dependency's circuit breaker."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from shared.adapters.aws import async_client
from shared.adapters.db.rate_limiter import SharedRateLimiter
from shared.adapters.providers.data import DataProvider, SampleDataProvider
from shared.adapters.providers.llm import TemplateWriter, Writer
from shared.adapters.providers.mailer import Mailer, SesMailer, max_send_rate
from shared.bootstrap.runtime import Runtime
from shared.domain.dependencies import Dependency
from shared.service_layer.breakers import CircuitBreaker, Guarded

log = structlog.get_logger(__name__)


def guard(runtime: Runtime, adapter: Any, breaker: Dependency) -> Any:
    """Every call of the adapter goes through the dependency's circuit breaker."""
    ignore = tuple(t.strip() for t in runtime.settings.breaker_ignore.split(","))
    return Guarded(
        adapter,
        CircuitBreaker(
            breaker, runtime.sessions, ignore, outages=runtime.outages, reads=runtime.readers
        ),
    )


async def open_data_provider(runtime: Runtime) -> DataProvider:
    provider: DataProvider = guard(runtime, await _data_provider(runtime), Dependency.PROPERTY_DATA)
    return provider


async def _data_provider(runtime: Runtime) -> DataProvider:
    settings = runtime.settings
    if runtime.given.data_provider is not None:
        return runtime.given.data_provider
    if settings.data_provider == "sample":
        return SampleDataProvider()
    from shared.adapters.providers.http_data import HttpDataProvider

    if not settings.data_api_url:
        raise ValueError("DRIPR_DATA_PROVIDER=http needs DRIPR_DATA_API_URL")
    provider = HttpDataProvider(
        settings.data_api_url,
        settings.data_api_key.get_secret_value() if settings.data_api_key else None,
        timeout=settings.data_timeout_seconds,
    )
    runtime.stack.push_async_callback(provider.aclose)
    return provider


async def open_writer(runtime: Runtime) -> Writer:
    writer: Writer = guard(runtime, await _writer(runtime), Dependency.BEDROCK)
    return writer


async def _writer(runtime: Runtime) -> Writer:
    settings = runtime.settings
    if runtime.given.writer is not None:
        return runtime.given.writer
    if settings.llm == "template":
        return TemplateWriter()
    from shared.adapters.providers.bedrock import BedrockWriter, bedrock_client_kwargs

    kwargs = bedrock_client_kwargs(
        settings.region,
        settings.bedrock_endpoint_url,
        settings.llm_timeout_seconds,
        has_credentials=bool(settings.aws_access_key_id),
    )
    client = await runtime.stack.enter_async_context(
        runtime.aws.create_client("bedrock-runtime", **kwargs)
    )
    return BedrockWriter(client, settings.bedrock_model_id)


async def open_mailer(runtime: Runtime) -> Mailer:
    mailer: Mailer = guard(runtime, await _mailer(runtime), Dependency.SES)
    return mailer


async def _mailer(runtime: Runtime) -> Mailer:
    if runtime.given.mailer is not None:
        return runtime.given.mailer
    ses = await runtime.stack.enter_async_context(
        async_client(runtime.aws, "ses", runtime.settings, attempts=1)  # the sender retries
    )
    settings = runtime.settings
    return SesMailer(
        ses,
        settings.sender_email,
        settings.ses_configuration_set or runtime.names.configuration_set(),
        settings.unsubscribe_mailto,
    )


async def open_rate_limiter(runtime: Runtime) -> SharedRateLimiter:
    """The account's sending rate, shared by every sender: the configured cap, and SES's own
    MaxSendRate (read now and every `send_quota_refresh_seconds`) where that is lower.

    Unless told otherwise, not read on an emulator, whose quota is made up (moto: 1 email/s);
    the cap alone applies there.
    """
    settings = runtime.settings
    limiter = SharedRateLimiter(
        runtime.sessions, settings.send_rate_cap, headroom=settings.send_rate_headroom
    )
    from_quota = settings.send_rate_from_quota
    if from_quota is False or (from_quota is None and settings.on_emulator):
        return limiter
    ses = await runtime.stack.enter_async_context(async_client(runtime.aws, "ses", settings))

    async def refresh() -> None:
        try:
            quota = await max_send_rate(ses)
        except Exception as exc:  # keep the last rate: a quota read is no reason to stop
            log.warning("send_rate.quota_unread", error=str(exc))
            return
        cap = settings.send_rate_cap
        limiter.per_second = min(quota, cap) if cap else quota
        log.info("send_rate.set", per_second=limiter.per_second, quota=quota, cap=cap)

    async def keep_fresh() -> None:
        while True:
            await asyncio.sleep(settings.send_quota_refresh_seconds)
            await refresh()

    await refresh()
    task = asyncio.create_task(keep_fresh())
    runtime.stack.callback(task.cancel)
    return limiter
