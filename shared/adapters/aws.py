"""AWS clients, pointed at AWS or at an emulator by AWS_ENDPOINT_URL."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

import boto3
from aiobotocore.session import AioSession
from botocore.config import Config

from shared.config import Settings


def _client_kwargs(settings: Settings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "region_name": settings.aws_region,
        "config": Config(
            retries={"total_max_attempts": settings.aws_max_attempts, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
            max_pool_connections=50,
        ),
    }
    if settings.aws_endpoint_url:
        kwargs["endpoint_url"] = settings.aws_endpoint_url
        if not settings.aws_access_key_id:
            # Emulators accept any credentials; real AWS uses the normal credential chain.
            kwargs["aws_access_key_id"] = "test"
            kwargs["aws_secret_access_key"] = "test"
    return kwargs


def async_client(
    session: AioSession, service: str, settings: Settings
) -> AbstractAsyncContextManager[Any]:
    return session.create_client(service, **_client_kwargs(settings))  # type: ignore[no-any-return]


def sync_client(service: str, settings: Settings) -> Any:
    return boto3.client(service, **_client_kwargs(settings))
