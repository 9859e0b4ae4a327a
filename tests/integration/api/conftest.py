from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from pydantic import SecretStr

from services.control_api.app import create_app
from shared.bootstrap import Runtime
from shared.devtools.emulator import free_port

TOKEN = "test-operator-token-0123456789"


@pytest.fixture
async def api_url(runtime: Runtime) -> AsyncIterator[str]:
    """The control API served over real HTTP on localhost, on the test's runtime."""
    settings = runtime.settings.model_copy(update={"api_token": SecretStr(TOKEN)})
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, runtime), host="127.0.0.1", port=port, log_config=None
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture
async def api(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Operator": "olivia"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=30) as client:
        yield client
