"""HttpDataProvider against the property-API stand-in, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from shared.adapters.providers.data import SampleDataProvider
from shared.adapters.providers.http_data import HttpDataProvider
from shared.domain.errors import PermanentError, TransientError
from tests.standins.property_api import PropertyApiStandin, property_api_standin

KEY = "test-key"
ADDRESS = "1234 Maple Street, Springfield"
VALUATION = "/v1/properties/valuation"


@pytest.fixture
async def api() -> AsyncIterator[PropertyApiStandin]:
    async with property_api_standin(api_key=KEY) as standin:
        yield standin


@pytest.fixture
async def provider(api: PropertyApiStandin) -> AsyncIterator[HttpDataProvider]:
    async with HttpDataProvider(api.url, KEY, timeout=2.0, attempts=3, backoff=0.01) as provider:
        yield provider


def record_sleeps(provider: HttpDataProvider) -> list[float]:
    """Swap the retry sleep for a recorder: asserts the waits chosen without spending them."""
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    provider._sleep = sleep
    return sleeps


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("method", "arg", "keys"),
    [
        ("property_valuation", ADDRESS, {"formatted_address", "current_value", "bedrooms"}),
        ("active_listings", ADDRESS, {"listings"}),
        ("recent_sales", ADDRESS, {"sales"}),
        ("local_market", "Springfield", {"area", "median_price", "months_of_supply"}),
    ],
)
async def test_each_lookup_returns_what_the_sample_provider_gives(
    provider: HttpDataProvider, method: str, arg: str, keys: set[str]
) -> None:
    got: dict[str, Any] = await getattr(provider, method)(arg)
    assert keys <= got.keys()
    assert got == await getattr(SampleDataProvider(), method)(arg)


async def test_listings_and_sales_are_lists_of_homes(provider: HttpDataProvider) -> None:
    listings = (await provider.active_listings(ADDRESS))["listings"]
    sales = (await provider.recent_sales(ADDRESS))["sales"]
    assert listings and all({"address", "price", "days_on_market"} <= h.keys() for h in listings)
    assert sales and all({"address", "price", "sold_date"} <= h.keys() for h in sales)


async def test_mortgage_rate_is_a_float(provider: HttpDataProvider) -> None:
    rate = await provider.mortgage_rate()
    assert isinstance(rate, float)
    assert rate == await SampleDataProvider().mortgage_rate()


async def test_sends_the_key_and_the_query_on_the_documented_paths(
    api: PropertyApiStandin, provider: HttpDataProvider
) -> None:
    awkward = "12 Oak Lane #4, St. John's & Co?"
    await provider.property_valuation(awkward)
    await provider.local_market("Springfield")
    await provider.mortgage_rate()
    assert [(r.method, r.path, r.query) for r in api.requests] == [
        ("GET", VALUATION, {"address": awkward}),
        ("GET", "/v1/markets", {"area": "Springfield"}),
        ("GET", "/v1/rates/mortgage", {}),
    ]
    assert all(r.headers["X-Api-Key"] == KEY for r in api.requests)


async def test_a_trailing_slash_on_the_base_url_is_fine(api: PropertyApiStandin) -> None:
    async with HttpDataProvider(api.url + "/", KEY) as provider:
        assert await provider.mortgage_rate() == 6.27
    assert api.paths() == ["/v1/rates/mortgage"]


async def test_a_503_then_success_is_retried(
    api: PropertyApiStandin, provider: HttpDataProvider
) -> None:
    api.fail_next(VALUATION, [503])
    got = await provider.property_valuation(ADDRESS)
    assert got == await SampleDataProvider().property_valuation(ADDRESS)
    assert api.paths() == [VALUATION, VALUATION]


async def test_persistent_500_gives_up_after_exactly_attempts_requests(
    api: PropertyApiStandin, provider: HttpDataProvider
) -> None:
    sleeps = record_sleeps(provider)
    api.fail_next(VALUATION, [500] * 10)
    with pytest.raises(TransientError, match="HTTP 500: scripted failure 500"):
        await provider.property_valuation(ADDRESS)
    assert api.paths() == [VALUATION] * 3
    assert sleeps == [0.01, 0.02]  # exponential from backoff, none after the last attempt


async def test_a_single_attempt_does_not_retry(api: PropertyApiStandin) -> None:
    api.fail_next(VALUATION, [500, 500])
    async with HttpDataProvider(api.url, KEY, attempts=1) as provider:
        with pytest.raises(TransientError):
            await provider.property_valuation(ADDRESS)
    assert len(api.requests) == 1


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_transient_statuses_are_retried(
    api: PropertyApiStandin, provider: HttpDataProvider, status: int
) -> None:
    api.fail_next("/v1/markets", [status])
    assert (await provider.local_market("Springfield"))["area"] == "Springfield"
    assert len(api.requests) == 2


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
async def test_other_4xx_are_permanent_and_not_retried(
    api: PropertyApiStandin, provider: HttpDataProvider, status: int
) -> None:
    api.fail_next("/v1/markets", [status, status, status])
    with pytest.raises(PermanentError, match=f"HTTP {status}"):
        await provider.local_market("Springfield")
    assert len(api.requests) == 1


async def test_429_with_retry_after_waits_as_told(
    api: PropertyApiStandin, provider: HttpDataProvider
) -> None:
    sleeps = record_sleeps(provider)
    api.fail_next("/v1/rates/mortgage", [429], retry_after=2)
    assert await provider.mortgage_rate() == 6.27
    assert len(api.requests) == 2
    assert sleeps == [2.0]


async def test_a_huge_retry_after_is_capped(
    api: PropertyApiStandin, provider: HttpDataProvider
) -> None:
    sleeps = record_sleeps(provider)
    api.fail_next("/v1/rates/mortgage", [429], retry_after=3600)
    assert await provider.mortgage_rate() == 6.27
    assert sleeps == [30.0]


async def test_429_for_real_with_retry_after_zero(
    api: PropertyApiStandin, provider: HttpDataProvider
) -> None:
    api.fail_next("/v1/rates/mortgage", [429, 429], retry_after=0)
    assert await provider.mortgage_rate() == 6.27
    assert len(api.requests) == 3


async def test_a_timeout_is_transient(api: PropertyApiStandin) -> None:
    api.delay_next(VALUATION, 1.0, times=2)
    async with HttpDataProvider(api.url, KEY, timeout=0.2, attempts=2, backoff=0.01) as provider:
        with pytest.raises(TransientError, match="timed out"):
            await provider.property_valuation(ADDRESS)
    assert len(api.requests) == 2


async def test_a_slow_answer_then_a_quick_one_succeeds(api: PropertyApiStandin) -> None:
    api.delay_next(VALUATION, 1.0)
    async with HttpDataProvider(api.url, KEY, timeout=0.2, backoff=0.01) as provider:
        assert (await provider.property_valuation(ADDRESS))["formatted_address"] == ADDRESS
    assert len(api.requests) == 2


async def test_an_unknown_address_is_permanent_after_one_request(
    api: PropertyApiStandin, provider: HttpDataProvider
) -> None:
    with pytest.raises(PermanentError, match="HTTP 404: address not found") as raised:
        await provider.recent_sales("1 Nowhere Road, Atlantis")
    assert raised.value.dependency == "property-data"
    assert api.paths() == ["/v1/sales/recent"]


@pytest.mark.parametrize("key", ["wrong-key", None])
async def test_a_bad_or_missing_key_is_permanent(api: PropertyApiStandin, key: str | None) -> None:
    async with HttpDataProvider(api.url, key, backoff=0.01) as provider:
        with pytest.raises(PermanentError, match="HTTP 401: invalid API key"):
            await provider.property_valuation(ADDRESS)
    assert len(api.requests) == 1
    assert api.requests[0].headers.get("X-Api-Key") == key


async def test_connection_refused_is_transient() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    async with HttpDataProvider(url, KEY, attempts=2, backoff=0.01) as provider:
        with pytest.raises(TransientError, match="failed"):
            await provider.mortgage_rate()


async def test_a_non_json_body_is_transient(
    api: PropertyApiStandin, provider: HttpDataProvider
) -> None:
    api.garble_next("/v1/listings", times=3)
    with pytest.raises(TransientError, match="non-JSON"):
        await provider.active_listings(ADDRESS)
    assert len(api.requests) == 3


async def test_a_non_json_body_then_json_recovers(
    api: PropertyApiStandin, provider: HttpDataProvider
) -> None:
    api.garble_next("/v1/listings")
    assert "listings" in await provider.active_listings(ADDRESS)
    assert len(api.requests) == 2


async def test_aclose_is_idempotent_and_the_provider_reopens(api: PropertyApiStandin) -> None:
    provider = HttpDataProvider(api.url, KEY)
    await provider.aclose()  # never opened
    assert await provider.mortgage_rate() == 6.27
    await provider.aclose()
    await provider.aclose()
    assert await provider.mortgage_rate() == 6.27
    await provider.aclose()
    assert len(api.requests) == 2
