"""What an operator command prints without `--json`: a table for whatever the API returned.

On a terminal, a table that fits it: columns wrap rather than shrink to "…", and when even
that is too wide the least important columns are left out, named under the table (`--json`
has everything). Piped or redirected, plain tab-separated lines with a header, for `cut`,
`awk` or a spreadsheet.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
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


FIRST = (
    "id",
    "campaign_id",
    "name",
    "queue",
    "campaign_status",
    "status",
    "state",
    "result",
    "reason",
    "error_reason",
    "visible",
    "in_flight",
    "dead_letters",
    "cycle",
    "next_send_datetime",
)
"""Columns kept longest when a table is too wide; the others go first, the rightmost first."""

MAX_CELL = 40
"""A column is never measured wider than this: longer values wrap."""
WRAPPED = 20
"""Values longer than this may wrap to this width (a timestamp's 20 stays on one line)."""


def _rows(
    items: list[dict[str, Any]],
    title: str | None = None,
    skip: tuple[str, ...] = (),
    width: int | None = None,
) -> Table:
    keys = [k for k in (items[0] if items else {}) if k not in skip]
    cells = [[_cell(item.get(k)) for k in keys] for item in items]
    kept = _fitting(keys, cells, width if width is not None else Console().width)
    hidden = [k for k in keys if k not in kept]
    caption = f"not shown at this width: {', '.join(hidden)} (--json has all)" if hidden else None
    table = Table(title=title, caption=caption)
    for key in kept:
        table.add_column(key, overflow="fold")
    for row in cells:
        table.add_row(*(cell for key, cell in zip(keys, row, strict=True) if key in kept))
    return table


def _fitting(keys: list[str], cells: list[list[str]], width: int) -> list[str]:
    """The columns that fit `width`, dropping the least important first."""
    natural = {
        key: min(MAX_CELL, max([len(key), *(len(row[i]) for row in cells)]))
        for i, key in enumerate(keys)
    }
    kept = list(keys)

    def needed() -> int:  # short values whole; long ones may wrap down to WRAPPED
        return sum(min(natural[k], WRAPPED) for k in kept) + 3 * len(kept)

    def importance(key: str) -> tuple[int, int]:  # ascending: the first to leave out
        return (1, -FIRST.index(key)) if key in FIRST else (0, -keys.index(key))

    by_importance = sorted(keys, key=importance)
    for key in by_importance:
        if needed() <= width or len(kept) <= 2:
            break
        if key not in FIRST[:3]:
            kept.remove(key)
    return kept


def tsv(result: Any) -> str:
    """Tab-separated lines: a header then rows, or `key<TAB>value` for a single record."""
    rows = _records(result)
    if rows is None:
        return "\n".join(f"{k}\t{_plain(v)}" for k, v in (result or {}).items())
    keys = list(rows[0]) if rows else []
    lines = ["\t".join(keys)]
    lines += ["\t".join(_plain(row.get(k)) for k in keys) for row in rows]
    return "\n".join(lines)


def summary(result: Any) -> str | None:
    """The line a table's title would say (a count, an action's outcome), for piped output."""
    if isinstance(result, dict) and "items" in result:
        return f"{result['total']} in all, page {result['page']}"
    if isinstance(result, dict) and "updated_count" in result:
        return f"{result['action']}: {result['updated_count']} updated"
    return None


def _records(result: Any) -> list[dict[str, Any]] | None:
    if isinstance(result, dict) and "items" in result:
        return list(result["items"])
    if isinstance(result, list):
        return result
    if isinstance(result, dict) and "updated_count" in result:
        return [{"campaign_id": i, "result": "updated"} for i in result["updated"]] + [
            {"campaign_id": r["campaign_id"], "result": r["reason"]} for r in result["refused"]
        ]
    if isinstance(result, dict) and "matched" in result:
        return [{k: v for k, v in m.items() if k != "body"} for m in result["matched"]]
    return None


def _plain(value: Any) -> str:
    if isinstance(value, list | dict):
        value = json.dumps(value, default=str)
    return "" if value is None else " ".join(str(value).split())


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return "" if value is None else str(value)
