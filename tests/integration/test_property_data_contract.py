"""docs/reference/property-data.openapi.yaml is the contract dripr's HTTP data provider keeps:
the paths it calls are the spec's, and what it reads back validates against the spec's
schemas (served by the stand-in, which answers with the sample provider's figures)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from shared.adapters.providers.http_data import HttpDataProvider
from shared.domain.errors import PermanentError
from tests.standins.property_api import property_api_standin

SPEC = yaml.safe_load(
    (Path(__file__).parents[2] / "docs" / "reference" / "property-data.openapi.yaml").read_text()
)
ADDRESS = "12 Elm Way, Boise, ID 83702"


def validator(path: str, status: str) -> jsonschema.Draft202012Validator:
    response = SPEC["paths"][path]["get"]["responses"][status]
    if "$ref" in response:
        response = SPEC["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = {**response["content"]["application/json"]["schema"], "components": SPEC["components"]}
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def test_the_spec_is_valid_openapi_shaped() -> None:
    assert SPEC["openapi"].startswith("3.1")
    assert SPEC["components"]["securitySchemes"]["apiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
    }
    for path, item in SPEC["paths"].items():
        assert set(item) == {"get"}, path
        assert "200" in item["get"]["responses"] and "401" in item["get"]["responses"], path


async def test_what_dripr_calls_and_reads_is_what_the_spec_says() -> None:
    async with property_api_standin(api_key="k") as api:
        provider = HttpDataProvider(api.url, "k", attempts=1)
        try:
            answers: dict[str, Any] = {
                "/v1/properties/valuation": await provider.property_valuation(ADDRESS),
                "/v1/listings/active": await provider.active_listings(ADDRESS),
                "/v1/sales/recent": await provider.recent_sales(ADDRESS),
                "/v1/markets": await provider.local_market("Boise, ID"),
            }
            rate = await provider.mortgage_rate()
        finally:
            await provider.aclose()
        seen = api.requests
    assert sorted({r.path for r in seen}) == sorted(SPEC["paths"])
    for request in seen:
        assert request.headers["X-Api-Key"] == "k" and "json" in request.headers["Accept"]
        wanted = [p["name"] for p in _parameters(request.path)]
        assert sorted(request.query) == sorted(wanted), request.path
    for path, body in answers.items():
        validator(path, "200").validate(body)
    validator("/v1/rates/mortgage", "200").validate({"rate_30y_fixed": rate})


async def test_an_unknown_address_is_a_404_error_body_that_fails_the_step() -> None:
    async with property_api_standin(api_key="k") as api:
        provider = HttpDataProvider(api.url, "k", attempts=1)
        try:
            with pytest.raises(PermanentError, match="HTTP 404") as failed:
                await provider.property_valuation("9 Nowhere Road, Boise, ID")
        finally:
            await provider.aclose()
    message = str(failed.value).split("HTTP 404: ", 1)[1]
    validator("/v1/properties/valuation", "404").validate({"message": message})
    with pytest.raises(jsonschema.ValidationError):
        validator("/v1/properties/valuation", "200").validate({"formatted_address": "x"})


def _parameters(path: str) -> list[dict[str, Any]]:
    resolved = []
    for parameter in SPEC["paths"][path]["get"].get("parameters", []):
        if "$ref" in parameter:
            parameter = SPEC["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
        resolved.append(parameter)
    return resolved
