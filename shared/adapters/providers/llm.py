"""Text generation: the interface, and the embedded deterministic template writer.

Prompts live in `prompts/` beside this module, not in code; `bedrock.py` holds the Amazon Bedrock
adapter that fills them and calls the Converse API.
"""

from __future__ import annotations

from importlib import resources
from string import Template
from typing import Any, Protocol


class Writer(Protocol):
    async def intro(
        self, *, area: str, local_market: dict[str, Any], mortgage_rate: float, agent_name: str
    ) -> str: ...

    async def home_report(self, *, property_data: dict[str, Any]) -> str: ...


def prompt(name: str) -> Template:
    """A prompt template from shared/adapters/providers/prompts, with $placeholders."""
    text = (
        resources.files("shared.adapters.providers.prompts")
        .joinpath(f"{name}.txt")
        .read_text(encoding="utf-8")
    )
    return Template(text)


class TemplateWriter:
    """Writes the intro and the home report from fixed sentences: offline and repeatable."""

    name = "template-writer"

    async def intro(
        self, *, area: str, local_market: dict[str, Any], mortgage_rate: float, agent_name: str
    ) -> str:
        change = float(local_market.get("median_price_change_12m_pct", 0.0))
        direction = "up" if change > 0 else "down" if change < 0 else "flat"
        median = int(local_market.get("median_price", 0))
        days = local_market.get("median_days_on_market", "?")
        return (
            f"Here is your monthly look at the {area} market. The median sale price is "
            f"${median:,}, {direction} {abs(change):.1f}% on a year ago, and homes are selling "
            f"in about {days} days. The average 30-year fixed mortgage rate stands at "
            f"{mortgage_rate:.2f}%. As always, I'm happy to talk through what this means for "
            f"you. - {agent_name}"
        )

    async def home_report(self, *, property_data: dict[str, Any]) -> str:
        value = int(property_data.get("current_value", 0))
        low = int(property_data.get("value_range_low", value))
        high = int(property_data.get("value_range_high", value))
        change = float(property_data.get("value_change_12m_pct", 0.0))
        trend = "gained" if change >= 0 else "lost"
        address = property_data.get("formatted_address", "your address")
        return (
            f"Your home at {address} is estimated at ${value:,} (range ${low:,} to ${high:,}). "
            f"It has {trend} {abs(change):.1f}% of its value over the last twelve months. With "
            f"{property_data.get('bedrooms', '?')} bedrooms and "
            f"{property_data.get('square_feet', '?')} square feet, it compares well with recent "
            "sales nearby."
        )
