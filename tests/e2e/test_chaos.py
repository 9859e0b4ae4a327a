"""The concurrent-campaigns run, CI-sized: every fault of `make chaos`, every invariant checked.

Two runs: one that recovers from the open breaker as an operator would (reset, then resume) and
finishes every campaign; one that ends gracefully, as designed, when the breaker pauses the
pipeline. Either way nothing may be lost, sent twice, or dead-lettered without a reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.chaos.report import as_text
from tests.chaos.run import ChaosOptions, run_chaos

pytestmark = pytest.mark.timeout(600)

EMULATOR = os.environ.get("DRIPR_TEST_AWS_ENDPOINT")


def _run(tmp_path: Path, **options: object) -> tuple[bool, str, dict[str, int], str]:
    report = run_chaos(
        ChaosOptions(workdir=tmp_path, emulator=EMULATOR, **options),  # type: ignore[arg-type]
        say=lambda line: None,
    )
    text = as_text(report)
    print(text)
    return report.passed, report.outcome, report.fault_counts, text


def test_chaos_run_recovers_and_proves_every_invariant(tmp_path: Path) -> None:
    passed, outcome, faults, text = _run(
        tmp_path,
        campaigns=10,
        recipients=4,
        cycles=1,
        kills=3,
        kill_every=4.0,
        bad_messages=5,
        duplicate_rounds=3,
        endpoint_outage_seconds=30.0,
        database_outage_seconds=15.0,
        timeout=420.0,
    )
    assert passed, text
    assert outcome == "finished"
    for kind in (
        "sigkill",
        "duplicates",
        "malformed",
        "foreign",
        "sns_publish_failure",
        "endpoint_outage",
        "database_outage",
    ):
        assert faults.get(kind, 0) >= 1, kind
    assert "PASS a SIGKILLed service's interrupted work is done within 45s" in text
    assert "PASS the database and endpoint outages open no breaker" in text
    assert "Recovery: seconds until the work a fault interrupted was done" in text
    assert faults["breaker"] == 1 and faults["db_connection_drop"] >= 1
    assert "PASS manual resume refused while the breaker is open" in text
    assert "RESULT: PASSED" in (tmp_path / "chaos-report.txt").read_text()
    assert (tmp_path / "chaos-report.json").stat().st_size > 0


def test_chaos_run_ends_gracefully_when_a_breaker_pauses_the_pipeline(tmp_path: Path) -> None:
    passed, outcome, faults, text = _run(
        tmp_path,
        campaigns=6,
        recipients=4,
        cycles=1,
        kills=1,
        bad_messages=2,
        duplicate_rounds=1,
        endpoint_outage_seconds=0,
        database_outage_seconds=0,
        on_breaker="stop",
        timeout=300.0,
    )
    assert passed, text
    assert outcome == "breaker" and faults["breaker"] == 1
    assert "n/a  no campaign stuck: not checked: the run ended when a breaker paused" in text
    assert "PASS run ended gracefully on the open breaker" in text
