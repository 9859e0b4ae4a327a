"""docs/reference/configuration.md is generated from Settings and covers every setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.adapters.topology import TOPOLOGY, QueueTuning
from shared.config import Settings
from shared.devtools.config_reference import render, variables

COMMITTED = Path(__file__).parents[2] / "docs" / "reference" / "configuration.md"


def test_the_committed_reference_is_the_generated_one() -> None:
    assert COMMITTED.read_text() == render(), (
        "docs/reference/configuration.md is stale; run: "
        "python -m shared.devtools.config_reference > docs/reference/configuration.md"
    )


def test_every_setting_has_a_row_with_its_meaning() -> None:
    settings = render().split("## Queue tuning")[0]
    rows = [line for line in settings.splitlines() if line.startswith("| `")]
    assert len(rows) == len(Settings.model_fields)
    for name, field in Settings.model_fields.items():
        assert field.description, f"{name} has no description to document"
        assert any(row.startswith(f"| `{variables(name, field)[0]}`") for row in rows), name


def test_every_queue_tuning_key_has_a_row_with_its_default() -> None:
    tuning = render().split("## Queue tuning")[1]
    for name, field in QueueTuning.model_fields.items():
        default = getattr(TOPOLOGY.queue("intro"), name)
        assert (
            f"| `{name}` | integer" in tuning and f"| `{default}` | {field.description} |" in tuning
        )


def test_the_documented_names_are_the_ones_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        variables("shutdown_grace_seconds", Settings.model_fields["shutdown_grace_seconds"])[0], "7"
    )
    monkeypatch.setenv(
        variables("database_url", Settings.model_fields["database_url"])[0],
        "sqlite+aiosqlite:///x.db",
    )
    settings = Settings()
    assert settings.shutdown_grace_seconds == 7 and settings.database_url.endswith("x.db")
