"""A service's probe endpoint over HTTP: liveness that sees a dead or hung loop, readiness that
sees what does not answer. The consumer runs against the emulator server and the database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from infra.provision import Report
from shared.adapters.topology import TOPOLOGY
from shared.bootstrap import Runtime
from shared.consumer.consumer import Consumer
from shared.devtools.emulator import free_port
from shared.domain.events import StatusChange
from shared.entrypoints.cli import _probe, build_parser
from shared.observability.liveness import Heartbeats
from shared.observability.probes import probe_app, serve_probes
from tests.support import eventually

BOUND = 1.5


@asynccontextmanager
async def probes(runtime: Runtime) -> AsyncIterator[str]:
    stop = asyncio.Event()
    port = free_port()
    app = probe_app(runtime.heartbeats, runtime.readiness_checks())
    serving = asyncio.create_task(serve_probes(app, "127.0.0.1", port, stop))
    url = f"http://127.0.0.1:{port}"
    await eventually(lambda: _answers(url), within=10)
    try:
        yield url
    finally:
        stop.set()
        await serving


async def _answers(url: str) -> bool:
    try:
        async with httpx.AsyncClient() as client:
            await client.get(f"{url}/livez")
    except httpx.HTTPError:
        return False
    return True


async def _get(url: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(url, timeout=10)


async def _consumer(runtime: Runtime, gate: Callable[[], Awaitable[str | None]]) -> Consumer:
    spec = TOPOLOGY.queue("intro")
    consumer = await runtime.consumer(spec, {StatusChange: _nothing}, wait_time_seconds=0)
    consumer._gate = gate  # the loop's own gate, made to hang on demand
    return consumer


async def _nothing(event: StatusChange, uow: object) -> None:
    return None


@pytest.fixture
def bounded(runtime: Runtime) -> Runtime:
    runtime.heartbeats = Heartbeats(BOUND)
    return runtime


@pytest.mark.parametrize("how", ["hangs", "dies"])
async def test_liveness_turns_red_when_the_consumer_loop_stops_going_round(
    bounded: Runtime, topology: Report, how: str
) -> None:
    hang = asyncio.Event()

    async def gate() -> str | None:
        if hang.is_set():
            await asyncio.Event().wait()  # never set: the loop is stuck here
        return None

    consumer = await _consumer(bounded, gate)
    stop = asyncio.Event()
    loop = asyncio.create_task(consumer.run(stop))
    async with probes(bounded) as url:
        await eventually(lambda: _status(url, "/livez", 200), within=10)
        assert (await _get(f"{url}/livez")).json()["seconds_since_beat"]["intro"] < BOUND
        if how == "hangs":
            hang.set()
        else:
            loop.cancel()
        await eventually(lambda: _status(url, "/livez", 503), within=BOUND + 5)
        body = (await _get(f"{url}/livez")).json()
        assert body["alive"] is False and set(body["silent"]) == {"intro"}
        # The process itself is fine: the endpoint answers and readiness stays green.
        assert (await _get(f"{url}/readyz")).status_code == 200
    stop.set()
    loop.cancel()
    await asyncio.gather(loop, return_exceptions=True)


async def test_a_consumer_stopped_on_purpose_is_not_judged(
    bounded: Runtime, topology: Report
) -> None:
    async def gate() -> None:
        return None

    consumer = await _consumer(bounded, gate)
    stop = asyncio.Event()
    loop = asyncio.create_task(consumer.run(stop))
    async with probes(bounded) as url:
        await eventually(lambda: _status(url, "/livez", 200), within=10)
        stop.set()
        await loop
        await asyncio.sleep(BOUND + 0.5)
        assert (await _get(f"{url}/livez")).status_code == 200


async def test_readiness_names_the_dependency_that_does_not_answer(
    runtime: Runtime, topology: Report
) -> None:
    await _consumer(runtime, lambda: asyncio.sleep(0, None))
    async with probes(runtime) as url:
        ready = await _get(f"{url}/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"ready": True, "checks": {"database": "ok", "aws": "ok"}}

        runtime.consumed.append(runtime.consumed[0] + "-gone")  # its queue deleted, say
        not_ready = await _get(f"{url}/readyz")
        assert not_ready.status_code == 503
        checks = not_ready.json()["checks"]
        assert checks["database"] == "ok"
        assert "NonExistentQueue" in checks["aws"] or "does not exist" in checks["aws"]


async def _status(url: str, path: str, status: int) -> bool:
    return (await _get(f"{url}{path}")).status_code == status


async def test_the_image_health_check_command_asks_the_probe_endpoint(
    runtime: Runtime, topology: Report, capsys: pytest.CaptureFixture[str]
) -> None:
    await _consumer(runtime, lambda: asyncio.sleep(0, None))
    async with probes(runtime) as url:
        port = int(url.rsplit(":", 1)[1])
        for check in ("livez", "readyz"):
            args = build_parser().parse_args(["probe", check])
            settings = runtime.settings.model_copy(update={"probe_port": port})
            assert await asyncio.to_thread(_probe, args, settings) == 0
            nobody = runtime.settings.model_copy(update={"probe_port": free_port()})
            assert await asyncio.to_thread(_probe, args, nobody) == 1
        assert '"ready":true' in capsys.readouterr().out
