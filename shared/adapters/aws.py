"""AWS clients, pointed at AWS or at an emulator by AWS_ENDPOINT_URL.

A service's own endpoint variable (AWS_ENDPOINT_URL_SES, say, AWS's convention) wins over it,
so one service can be pointed elsewhere (a stand-in) while the rest use the emulator.

AWS's conventions hold: the region and credentials come from the standard chain unless set,
and botocore's retries (AWS_MAX_ATTEMPTS, AWS_RETRY_MODE) are the one retry layer for every
call. Only an emulator endpoint, with no credentials configured, gets the `test` pair
emulators accept; a private AWS endpoint uses the chain like AWS itself.
"""

from __future__ import annotations

import os
from contextlib import AbstractAsyncContextManager
from typing import Any

import boto3
from aiobotocore.session import AioSession
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError, ConnectTimeoutError, EndpointConnectionError

from shared.config import Settings
from shared.observability import metrics


def _client_kwargs(service: str, settings: Settings, attempts: int | None = None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "config": Config(
            retries={
                "total_max_attempts": attempts or settings.aws_max_attempts,
                "mode": settings.aws_retry_mode,
            },
            connect_timeout=5,
            read_timeout=30,
            max_pool_connections=50,
        ),
    }
    if settings.region:
        kwargs["region_name"] = settings.region
    endpoint = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}")
    if endpoint or settings.aws_endpoint_url:
        kwargs["endpoint_url"] = endpoint or settings.aws_endpoint_url
    if settings.on_emulator and not settings.aws_access_key_id:
        kwargs["aws_access_key_id"] = "test"
        kwargs["aws_secret_access_key"] = "test"
    return kwargs


def async_client(
    session: AioSession, service: str, settings: Settings, *, attempts: int | None = None
) -> AbstractAsyncContextManager[Any]:
    """`attempts`: for a caller that retries itself (the sender counts each recipient's)."""
    client = session.create_client(service, **_client_kwargs(service, settings, attempts))
    return _CountedCalls(client)


class _CountedCalls:
    """The client's context manager, counting each API call into `dripr_aws_calls_total`
    (botocore's before-call event: once per call, not per retry)."""

    def __init__(self, creating: AbstractAsyncContextManager[Any]) -> None:
        self._creating = creating

    async def __aenter__(self) -> Any:
        client = await self._creating.__aenter__()
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(
            f"before-call.{service}",
            lambda model, **_: metrics.aws_calls.add(
                1, {"service": service, "operation": model.name}
            ),
        )
        return client

    async def __aexit__(self, *exc: Any) -> bool | None:
        return await self._creating.__aexit__(*exc)


def sync_client(service: str, settings: Settings) -> Any:
    return boto3.client(service, **_client_kwargs(service, settings))


def endpoint_unreachable(exc: BaseException) -> bool:
    """Whether `exc` says the AWS endpoint cannot be reached at all (after botocore's retries),
    rather than that it answered with an error."""
    return isinstance(exc, EndpointConnectionError | ConnectionClosedError | ConnectTimeoutError)
