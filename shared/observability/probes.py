"""Each service's small HTTP endpoint: `/metrics`, `/livez` and `/readyz`.

- `/metrics`: every instrument of `metrics.py` (and the process's CPU, memory and GC) in
  Prometheus's text format.
- `/livez`: 200 while every loop of the process beats within the bound (liveness.py); 503 naming
  the silent loop otherwise. For an orchestrator's liveness probe: restart what hangs.
- `/readyz`: 200 when the process's dependencies answer (the database, its queues or topic);
  503 with what failed. For readiness, and for a person asking what is wrong.

It runs in the service's own event loop, so a blocked loop also stops it answering, which is
what a liveness probe should see. The service owns its signals: this server installs none.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator, Mapping

import structlog
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shared.observability.liveness import Heartbeats

log = structlog.get_logger(__name__)

Check = Callable[[], Awaitable[object]]
"""A readiness check: returns when the dependency answers, raises when it does not."""
CHECK_TIMEOUT_SECONDS = 3.0


def probe_app(heartbeats: Heartbeats, checks: Mapping[str, Check]) -> Starlette:
    async def metrics(_: Request) -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    async def livez(_: Request) -> Response:
        silent = heartbeats.silent()
        body = {
            "alive": not silent,
            "bound_seconds": heartbeats.bound_seconds,
            "seconds_since_beat": heartbeats.ages(),
            "silent": silent,
        }
        return JSONResponse(body, status_code=503 if silent else 200)

    async def readyz(_: Request) -> Response:
        results = await asyncio.gather(*(_run(check) for check in checks.values()))
        outcome = dict(zip(checks, results, strict=True))
        ready = all(result == "ok" for result in outcome.values())
        return JSONResponse({"ready": ready, "checks": outcome}, status_code=200 if ready else 503)

    return Starlette(
        routes=[
            Route("/metrics", metrics),
            Route("/livez", livez),
            Route("/readyz", readyz),
        ]
    )


async def _run(check: Check) -> str:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    return "ok"


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the service's runner stops it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_probes(app: Starlette, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve until `stop`; a port already taken is logged, not fatal (the work goes on)."""
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
    server = _Server(config)

    async def run() -> None:
        with contextlib.suppress(SystemExit):  # uvicorn exits so when it cannot bind
            await server.serve()

    serving = asyncio.create_task(run())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopping.cancel()
    await serving
    if not server.started:
        log.error("probes.unavailable", host=host, port=port)
