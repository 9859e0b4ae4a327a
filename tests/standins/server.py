"""Serving a stand-in: an aiohttp app on 127.0.0.1 and a free port, for as long as a test needs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from aiohttp import web


@contextlib.asynccontextmanager
async def serving(
    app: web.Application, before_shutdown: Callable[[], None] | None = None
) -> AsyncIterator[str]:
    """Yield the app's base URL; shut it down on exit, first calling `before_shutdown` (to wake
    handlers a test left waiting, which the shutdown would otherwise wait for)."""
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        if before_shutdown is not None:
            before_shutdown()
        await runner.cleanup()
