"""Property and market data: the interface, and the embedded deterministic sample provider.

The sample provider makes realistic figures from the address alone (the same address always
gives the same figures), so the whole pipeline runs offline. `shared.adapters.providers.http_data`
holds the adapter for a real property-data REST API.
"""

from __future__ import annotations

import hashlib
import random
from datetime import date, timedelta
from typing import Any, Protocol

from shared.domain.errors import PermanentError

STREETS = ("Maple", "Oak", "Cedar", "Elm", "Willow", "Birch", "Pine", "Aspen", "Juniper", "Laurel")
KINDS = ("Street", "Avenue", "Lane", "Court", "Drive", "Way")


class DataProvider(Protocol):
    async def property_valuation(self, address: str) -> dict[str, Any]: ...

    async def active_listings(self, address: str) -> dict[str, Any]: ...

    async def recent_sales(self, address: str) -> dict[str, Any]: ...

    async def local_market(self, area: str) -> dict[str, Any]: ...

    async def mortgage_rate(self) -> float: ...


class SampleDataProvider:
    """Deterministic, offline, plausible. An address containing 'nowhere' is not found."""

    name = "sample-data"

    async def property_valuation(self, address: str) -> dict[str, Any]:
        rng = _rng("property", address)
        self._check(address)
        value = rng.randrange(180_000, 1_400_000, 500)
        sold_years_ago = rng.randint(2, 15)
        return {
            "formatted_address": address.strip(),
            "current_value": value,
            "value_range_low": round(value * 0.94, -3),
            "value_range_high": round(value * 1.06, -3),
            "bedrooms": rng.randint(2, 6),
            "bathrooms": rng.choice((1, 1.5, 2, 2.5, 3, 3.5)),
            "square_feet": rng.randrange(900, 4200, 10),
            "year_built": rng.randint(1920, 2022),
            "last_sold_price": round(value / (1 + 0.045) ** sold_years_ago, -3),
            "last_sold_date": (date(2026, 6, 1) - timedelta(days=365 * sold_years_ago)).isoformat(),
            "value_change_12m_pct": round(rng.uniform(-4.0, 9.0), 1),
        }

    async def active_listings(self, address: str) -> dict[str, Any]:
        self._check(address)
        rng = _rng("listings", address)
        return {
            "listings": [
                _home(rng, address) | {"days_on_market": rng.randint(1, 90)}
                for _ in range(rng.randint(3, 6))
            ]
        }

    async def recent_sales(self, address: str) -> dict[str, Any]:
        self._check(address)
        rng = _rng("sales", address)
        sales = []
        for _ in range(rng.randint(3, 6)):
            sold = date(2026, 11, 1) - timedelta(days=rng.randint(5, 120))
            sales.append(_home(rng, address) | {"sold_date": sold.isoformat()})
        return {"sales": sorted(sales, key=lambda s: s["sold_date"], reverse=True)}

    async def local_market(self, area: str) -> dict[str, Any]:
        rng = _rng("market", area)
        median = rng.randrange(220_000, 950_000, 1000)
        return {
            "area": area,
            "median_price": median,
            "median_price_change_12m_pct": round(rng.uniform(-3.0, 8.0), 1),
            "median_days_on_market": rng.randint(12, 75),
            "active_inventory": rng.randint(40, 900),
            "sales_last_30_days": rng.randint(15, 400),
            "months_of_supply": round(rng.uniform(1.2, 6.5), 1),
        }

    async def mortgage_rate(self) -> float:
        return 6.27

    def _check(self, address: str) -> None:
        if "nowhere" in address.lower():
            raise PermanentError(self.name, f"address not found: {address!r}")


def _rng(kind: str, key: str) -> random.Random:
    digest = hashlib.sha256(f"{kind}:{key.strip().lower()}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _home(rng: random.Random, near: str) -> dict[str, Any]:
    city = near.split(",", 1)[1].strip() if "," in near else ""
    street = f"{rng.randint(10, 9999)} {rng.choice(STREETS)} {rng.choice(KINDS)}"
    return {
        "address": f"{street}, {city}".rstrip(", "),
        "price": rng.randrange(150_000, 1_500_000, 1000),
        "bedrooms": rng.randint(1, 6),
        "bathrooms": rng.choice((1, 1.5, 2, 2.5, 3)),
        "square_feet": rng.randrange(700, 4500, 10),
    }
