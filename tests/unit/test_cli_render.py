"""The operator commands' tables at 80 columns and piped: readable, never a row of "…"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from services.control_api.cli.render import render, summary, tsv

SNAPSHOTS = Path(__file__).parent / "snapshots"


def campaign(i: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": i,
        "name": f"Elm Way {i}",
        "agent_name": "Ada Agent",
        "agent_email": "ada@realty.example",
        "address": f"{i} Elm Way, Boise, ID 83702",
        "market_area": "Boise, ID",
        "no_address_newsletter": False,
        "requires_approval": i % 2 == 0,
        "campaign_status": "DORMANT" if i != 2 else "ERROR",
        "cycle": 3,
        "cadence_days": 30,
        "next_send_datetime": "2026-12-24T09:00:00Z",
        "sub_statuses": {"property_status": "READY", "intro_status": "READY"},
        "error_reason": None if i != 2 else "property_status: address not found",
        "error_from_status": None,
        "paused": False,
        "paused_reason": None,
        "recipients": 12,
        "unsubscribed": 1,
        **fields,
    }


PAGE = {"items": [campaign(i) for i in (1, 2, 3)], "total": 3, "page": 1, "page_size": 25}


def printed(result: Any, width: int) -> str:
    console = Console(width=width, record=True, force_terminal=False, color_system=None)
    table = render(result)
    console.print(table)
    return console.export_text()


def test_a_campaign_list_at_80_columns_keeps_what_matters_and_says_what_it_left_out(
    monkeypatch: Any,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    text = printed(PAGE, 80)

    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    for kept in ("id", "name", "campaign_status", "Elm Way 2", "ERROR"):
        assert kept in text
    assert "not shown at this width:" in text and "(--json has all)" in text
    assert text == (SNAPSHOTS / "campaigns-80.txt").read_text()


def test_wide_terminals_show_every_column(monkeypatch: Any) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    text = printed(PAGE, 400)
    assert "not shown" not in text and "agent_email" in text and "unsubscribed" in text


def test_piped_output_is_tab_separated_with_every_field() -> None:
    header, *rows = [line.split("\t") for line in tsv(PAGE).splitlines()]

    assert header == list(campaign(1)) and len(rows) == 3
    error = dict(zip(header, rows[1], strict=True))
    assert error["error_reason"] == "property_status: address not found"
    assert error["sub_statuses"] == '{"property_status": "READY", "intro_status": "READY"}'
    assert summary(PAGE) == "3 in all, page 1"
    refused = {
        "action": "approve",
        "updated_count": 1,
        "updated": [4],
        "refused": [{"campaign_id": 5, "reason": "campaign 5 is DORMANT: cannot approve"}],
    }
    assert tsv(refused).splitlines() == [
        "campaign_id\tresult",
        "4\tupdated",
        "5\tcampaign 5 is DORMANT: cannot approve",
    ]
