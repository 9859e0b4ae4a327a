"""The control API: operators see and steer the pipeline here (and the `dripr` CLI calls it)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import structlog
import uvicorn
from fastapi import FastAPI

from services.control_api import dashboard, docs_page, errors
from services.control_api.dashboard.session import Signer, signed_in
from services.control_api.gatekeeper import Gatekeeper
from services.control_api.queue_watch import QueueWatch
from services.control_api.routes import (
    activity,
    campaigns,
    public,
    queue_management,
    queues,
    sends,
    suppressions,
)
from shared.bootstrap import Runtime, bootstrap
from shared.config import Settings

log = structlog.get_logger(__name__)


def create_app(settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    """An app bound to `runtime`, or one that bootstraps its own for its lifetime."""
    if not settings.api_token:
        raise ValueError("DRIPR_API_TOKEN must be set (16+ characters) to run the control API")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            bound: Runtime = (
                runtime
                if runtime is not None
                else await stack.enter_async_context(bootstrap(settings))
            )
            app.state.runtime = bound
            app.state.queue_watch = watch = QueueWatch(bound, settings.queue_watch_seconds)
            stop = asyncio.Event()
            watching = asyncio.create_task(watch.run(stop))
            try:
                yield
            finally:
                stop.set()
                await watching

    app = FastAPI(
        title="dripr control API",
        version="1.0",
        description="See and steer the dripr pipeline: campaigns, sends, queues.",
        lifespan=lifespan,
        docs_url=None,  # docs_page.py serves it from the package, or not at all
        redoc_url=None,
    )
    token = settings.api_token.get_secret_value()
    app.state.api_token = token
    app.add_middleware(
        Gatekeeper,
        api_token=token,
        max_body_bytes=settings.api_max_body_bytes,
        has_session=partial(signed_in, Signer(token)),
    )
    errors.install(app)
    for module in (campaigns, activity, sends, suppressions, queues, queue_management, public):
        app.include_router(module.router)
    dashboard.install(app, token)
    if settings.api_docs:
        docs_page.install(app)
    return app


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    """`dripr run control_api`: serve until SIGTERM, on the process's runtime."""
    settings = runtime.settings
    app = create_app(settings, runtime)
    config = uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        lifespan="on",
        proxy_headers=True,
        forwarded_allow_ips=settings.api_forwarded_allow_ips,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    stopping = asyncio.create_task(stop.wait())
    while not (server.started or serving.done() or stop.is_set()):  # noqa: ASYNC110 - a flag
        await asyncio.sleep(0.05)
    if server.started:
        url = f"http://{settings.api_host}:{settings.api_port}"
        structlog.get_logger(__name__).info("service.ready", url=url, dashboard=f"{url}/ui")
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopping.cancel()
    await serving
