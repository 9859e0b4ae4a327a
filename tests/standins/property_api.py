"""A local stand-in for the property-data REST API that `HttpDataProvider` talks to.

It speaks the real wire protocol over real HTTP, so the adapter's URL building, headers, status
handling and retries are exercised end to end, and it serves `SampleDataProvider`'s figures so
results can be compared. Tests script failures with `fail_next`, `delay_next` and `garble_next`.

Protocol (docs/reference/property-data.openapi.yaml is the contract; all GET, JSON bodies, key
in the `X-Api-Key` header, errors as {"message": ...}):
    /v1/properties/valuation?address=   -> SampleDataProvider.property_valuation
    /v1/listings/active?address=        -> {"listings": [...]}
    /v1/sales/recent?address=           -> {"sales": [...]}
    /v1/markets?area=                   -> SampleDataProvider.local_market
    /v1/rates/mortgage                  -> {"rate_30y_fixed": 6.27}
    401 bad or missing key, 400 missing query parameter, 404 unknown address ("nowhere").
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

from aiohttp import web

from shared.adapters.providers.data import SampleDataProvider
from shared.domain.errors import PermanentError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class SeenRequest(NamedTuple):
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class _Fault:
    path_prefix: str
    status: int | None = None  # answer with this status instead of serving
    retry_after: int | None = None
    delay: float = 0.0  # sleep this long first (then fail or serve)
    garble: bool = False  # answer 200 with a body that is not JSON


class PropertyApiStandin:
    """The app plus its scripted faults and a log of every request it received."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.url = ""  # set once listening
        self.requests: list[SeenRequest] = []
        self._faults: list[_Fault] = []
        self._data = SampleDataProvider()

    def fail_next(
        self, path_prefix: str, statuses: list[int], retry_after: int | None = None
    ) -> None:
        """The next len(statuses) requests under path_prefix get these statuses, in order."""
        self._faults += [_Fault(path_prefix, s, retry_after) for s in statuses]

    def delay_next(self, path_prefix: str, seconds: float, times: int = 1) -> None:
        """The next `times` requests under path_prefix are answered only after `seconds`."""
        self._faults += [_Fault(path_prefix, delay=seconds) for _ in range(times)]

    def garble_next(self, path_prefix: str, times: int = 1) -> None:
        """The next `times` requests under path_prefix get 200 with an HTML body."""
        self._faults += [_Fault(path_prefix, garble=True) for _ in range(times)]

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._log_and_fault, self._authenticate])
        app.router.add_get("/v1/properties/valuation", self._address(self._data.property_valuation))
        app.router.add_get("/v1/listings/active", self._address(self._data.active_listings))
        app.router.add_get("/v1/sales/recent", self._address(self._data.recent_sales))
        app.router.add_get("/v1/markets", self._markets)
        app.router.add_get("/v1/rates/mortgage", self._rate)
        return app

    @web.middleware
    async def _log_and_fault(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append(
            SeenRequest(
                request.method,
                request.path,
                dict(request.query),
                {str(k): v for k, v in request.headers.items()},
            )
        )
        fault = next((f for f in self._faults if request.path.startswith(f.path_prefix)), None)
        if fault is None:
            return await handler(request)
        self._faults.remove(fault)
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.garble:
            return web.Response(text="<html>502 Bad Gateway</html>", content_type="text/html")
        if fault.status is not None:
            headers = (
                {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            )
            body = {"message": f"scripted failure {fault.status}"}
            return web.json_response(body, status=fault.status, headers=headers)
        return await handler(request)

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.headers.get("X-Api-Key") != self.api_key:
            return web.json_response({"message": "invalid API key"}, status=401)
        return await handler(request)

    def _address(self, lookup: Callable[[str], Awaitable[dict[str, Any]]]) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            address = request.query.get("address")
            if not address:
                return _error(400, "missing query parameter 'address'")
            try:
                return web.json_response(await lookup(address))
            except PermanentError:
                return _error(404, "address not found")

        return handle

    async def _markets(self, request: web.Request) -> web.StreamResponse:
        area = request.query.get("area")
        if not area:
            return _error(400, "missing query parameter 'area'")
        return web.json_response(await self._data.local_market(area))

    async def _rate(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"rate_30y_fixed": await self._data.mortgage_rate()})


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


@asynccontextmanager
async def property_api_standin(api_key: str = "test-key") -> AsyncIterator[PropertyApiStandin]:
    """The stand-in listening on 127.0.0.1 at a free port; `standin.url` is its base URL."""
    standin = PropertyApiStandin(api_key)
    # handler_cancellation: a client that timed out should not keep a delayed handler alive,
    # and a short shutdown_timeout keeps teardown quick if one still is.
    runner = web.AppRunner(
        standin.app(), handler_cancellation=True, shutdown_timeout=1.0, access_log=None
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        standin.url = f"http://{host}:{port}"
        yield standin
    finally:
        await runner.cleanup()
