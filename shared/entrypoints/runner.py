"""Run one service until SIGTERM/SIGINT: the `main` behind every `python -m services.<name>`."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import signal
from collections.abc import Awaitable, Callable

import structlog

from shared.adapters.reachability import unreachable
from shared.bootstrap import Runtime, bootstrap
from shared.config import Settings, UnsafeSettings
from shared.entrypoints.settings import load_settings
from shared.logging import configure_logging
from shared.observability.metrics import configure_metrics
from shared.observability.probes import probe_app, serve_probes
from shared.observability.tracing import configure_tracing, shutdown_tracing

ServiceMain = Callable[[Runtime, asyncio.Event], Awaitable[None]]

SERVICES: dict[str, str] = {
    name: f"services.{name}.app"
    for name in (
        "scheduler",
        "data_fetcher",
        "intro",
        "home_report",
        "email_creation",
        "email_sender",
        "feedback",
        "control_api",
    )
}
"""Service name → module with `async def run(runtime, stop)`; imported only when run."""


def load(name: str) -> ServiceMain:
    try:
        module = importlib.import_module(SERVICES[name])
    except KeyError:
        raise SystemExit(
            f"unknown service {name!r}; choose from {', '.join(sorted(SERVICES))}"
        ) from None
    run: ServiceMain = module.run
    return run


async def serve(name: str, settings: Settings | None = None) -> None:
    settings = settings or Settings()
    try:
        settings.refuse_unsafe()
    except UnsafeSettings as exc:
        raise SystemExit(f"dripr {name}: {exc}") from None
    run = load(name)
    structlog.contextvars.bind_contextvars(service=name)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _stopper(stop, sig))
    wait = 1.0
    while True:
        try:
            await _serve_once(run, settings, stop)
            return
        except Exception as exc:
            dependency = unreachable(exc)
            if dependency is None or stop.is_set():
                raise
            log = structlog.get_logger(__name__)
            log.warning("service.waiting", dependency=dependency, error=str(exc), retry_in=wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
            if stop.is_set():
                return
            wait = min(START_WAIT_MAX_SECONDS, wait * 2)


START_WAIT_MAX_SECONDS = 5.0
"""A service starting while the database or the AWS endpoint is unreachable tries again this
often at most, instead of exiting into its orchestrator's crash loop."""


async def _serve_once(run: ServiceMain, settings: Settings, stop: asyncio.Event) -> None:
    async with bootstrap(settings) as runtime:
        structlog.get_logger(__name__).info("service.started", env=settings.env)
        probes = None
        over = asyncio.Event()  # this attempt's end: a stop, or a failure to start
        if settings.probe_port:
            app = probe_app(runtime.heartbeats, runtime.readiness_checks())
            probes = asyncio.create_task(
                serve_probes(app, settings.probe_host, settings.probe_port, over)
            )
        announcing = asyncio.create_task(_announce_ready(runtime, over))
        try:
            await run(runtime, stop)
        finally:
            over.set()
            await announcing
            if probes is not None:
                await probes


async def _announce_ready(runtime: Runtime, over: asyncio.Event) -> None:
    """Log `service.ready` once every loop of the process has gone round: it takes work now.

    (`service.started` is logged when the adapters are wired, before the consumers have found
    their queues.) The control API, which runs no loop, says so itself when it listens.
    """
    while not over.is_set():
        loops = runtime.heartbeats.ages()
        if loops and len(loops) >= len(runtime.consumed):
            structlog.get_logger(__name__).info("service.ready", loops=sorted(loops))
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(over.wait(), timeout=0.2)


def _stopper(stop: asyncio.Event, sig: signal.Signals) -> Callable[[], None]:
    def _stop() -> None:
        structlog.get_logger(__name__).info("service.stopping", signal=sig.name)
        stop.set()

    return _stop


def main(name: str) -> None:
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    configure_metrics(name)
    configure_tracing(name)
    try:
        asyncio.run(serve(name, settings))
    finally:
        shutdown_tracing()
