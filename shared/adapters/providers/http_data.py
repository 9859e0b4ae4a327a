"""Adapter for a property-data REST API (contract: docs/reference/property-data.openapi.yaml;
stand-in: tests/standins/property_api.py).

Every failure becomes a `TransientError` (throttling, 408, 5xx, timeouts, broken connections,
unreadable bodies: the dependency is unwell, so it is retried with exponential backoff) or a
`PermanentError` (other 4xx, including a rejected key: the request itself cannot succeed, so it
costs exactly one call). Responses have the same shapes as `SampleDataProvider`'s.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self

import aiohttp
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from shared.domain.dependencies import Dependency
from shared.domain.errors import PermanentError, TransientError

DEPENDENCY = Dependency.PROPERTY_DATA
MAX_RETRY_AFTER = 30.0  # a server asking for longer is better treated as down than waited on


class RetryLaterError(TransientError):
    """A retryable HTTP status; carries the server's Retry-After hint (seconds), if it sent one."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(DEPENDENCY, message)
        self.retry_after = retry_after


class HttpDataProvider:
    """`DataProvider` over HTTP: one pooled session, retries only where retrying can help."""

    name = DEPENDENCY

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float = 10.0,
        attempts: int = 3,
        backoff: float = 0.5,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._attempts = attempts
        self._backoff = wait_exponential(multiplier=backoff, max=MAX_RETRY_AFTER)
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # swappable in tests
        self._session: aiohttp.ClientSession | None = None

    async def property_valuation(self, address: str) -> dict[str, Any]:
        return await self._get("/v1/properties/valuation", {"address": address})

    async def active_listings(self, address: str) -> dict[str, Any]:
        return await self._get("/v1/listings/active", {"address": address})

    async def recent_sales(self, address: str) -> dict[str, Any]:
        return await self._get("/v1/sales/recent", {"address": address})

    async def local_market(self, area: str) -> dict[str, Any]:
        return await self._get("/v1/markets", {"area": area})

    async def mortgage_rate(self) -> float:
        body = await self._get("/v1/rates/mortgage", {})
        rate = body.get("rate_30y_fixed")
        if isinstance(rate, bool) or not isinstance(rate, int | float):
            raise TransientError(DEPENDENCY, f"mortgage rate response lacks rate_30y_fixed: {body}")
        return float(rate)

    async def aclose(self) -> None:
        """Close the pooled connections; the provider reopens them if used again."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self._attempts),
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
        )
        result: dict[str, Any] = await retrying(self._get_once, path, params)
        return result

    def _wait(self, state: RetryCallState) -> float:
        """The server's Retry-After (capped) when it gave one, else exponential backoff."""
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RetryLaterError) and error.retry_after is not None:
            return min(error.retry_after, MAX_RETRY_AFTER)
        return float(self._backoff(state))

    async def _get_once(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        if self._session is None:  # created here, not in __init__: it needs a running loop
            headers = {"Accept": "application/json"}
            if self._api_key is not None:
                headers["X-Api-Key"] = self._api_key
            self._session = aiohttp.ClientSession(headers=headers, timeout=self._timeout)
        where = f"GET {path}"
        try:
            async with self._session.get(self._base_url + path, params=params) as response:
                status, raw = response.status, await response.read()
                retry_after = response.headers.get("Retry-After")
        except (TimeoutError, aiohttp.ServerTimeoutError) as e:
            raise TransientError(DEPENDENCY, f"{where} timed out") from e
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as e:
            raise TransientError(DEPENDENCY, f"{where} failed: {e!r}") from e
        if 200 <= status < 300:
            try:
                body = json.loads(raw)
            except ValueError as e:
                raise TransientError(DEPENDENCY, f"{where} returned a non-JSON body") from e
            if not isinstance(body, dict):
                raise TransientError(DEPENDENCY, f"{where} returned JSON that is not an object")
            return body
        message = f"{where} returned HTTP {status}{_server_message(raw)}"
        if status in (408, 429) or status >= 500:
            hint = retry_after if status in (429, 503) else None
            raise RetryLaterError(message, _seconds(hint))
        if 400 <= status < 500:
            raise PermanentError(DEPENDENCY, message)
        raise TransientError(DEPENDENCY, f"{message} (unexpected)")


def _server_message(raw: bytes) -> str:
    """The error body's "message" field, so logs say why (e.g. "address not found")."""
    try:
        body = json.loads(raw)
    except ValueError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return f": {message}" if isinstance(message, str) and message else ""


def _seconds(header: str | None) -> float | None:
    """A delay-seconds Retry-After; the rare HTTP-date form falls back to plain backoff."""
    value = (header or "").strip()
    return float(value) if value.isascii() and value.isdigit() else None
