"""docs/reference/database.md is generated from the models and names every table and column."""

from __future__ import annotations

from pathlib import Path

from shared.adapters.db.models import Base
from shared.devtools.schema_reference import render

COMMITTED = Path(__file__).parents[2] / "docs" / "reference" / "database.md"


def test_the_committed_schema_reference_is_the_generated_one() -> None:
    assert COMMITTED.read_text() == render(), (
        "docs/reference/database.md is stale; run: "
        "python -m shared.devtools.schema_reference > docs/reference/database.md"
    )


def test_every_table_and_column_is_in_it() -> None:
    text = render()
    for table in Base.metadata.tables.values():
        assert f"## {table.name}\n" in text and f"    {table.name} {{" in text
        for column in table.columns:
            assert f"| `{column.name}` |" in text, f"{table.name}.{column.name}"
    assert "The campaign's cycle the event belongs to, for SEND_BATCH rows too." in text
