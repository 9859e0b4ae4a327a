"""What an operator command prints without `--json`: a table for whatever the API returned."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table


def render(result: Any) -> Any:
    """A readable table for whatever the API returned."""
    if isinstance(result, dict) and "items" in result:
        return _rows(result["items"], title=f"{result['total']} in all, page {result['page']}")
    if isinstance(result, list):
        return _rows(result)
    if isinstance(result, dict) and "updated_count" in result:
        table = _rows(
            [
                {"campaign_id": i, "result": "updated, STATUS_CHANGE queued"}
                for i in result["updated"]
            ]
            + [{"campaign_id": r["campaign_id"], "result": r["reason"]} for r in result["refused"]],
            title=f"{result['action']}: {result['updated_count']} updated",
        )
        return table
    if isinstance(result, dict) and "matched" in result:
        verb = "would redrive" if result["dry_run"] else f"redrove {result['redriven']}"
        return _rows(result["matched"], title=f"{result['queue']}: {verb}", skip=("body",))
    table = Table(show_header=False)
    for key, value in (result or {}).items():
        if isinstance(value, list | dict):
            value = json.dumps(value, default=str)[:300]
        table.add_row(str(key), "" if value is None else str(value))
    return table


def _rows(
    items: list[dict[str, Any]], title: str | None = None, skip: tuple[str, ...] = ()
) -> Table:
    table = Table(title=title)
    keys = [k for k in (items[0] if items else {}) if k not in skip]
    for key in keys:
        table.add_column(key)
    for item in items:
        table.add_row(*(_cell(item.get(k)) for k in keys))
    return table


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return "" if value is None else str(value)
