"""The unit tier runs on fakes alone: asking for a database or an emulator here is an error."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def database_url() -> str:
    pytest.fail("unit tests use tests/fakes.py, not a database: move this test to integration")


@pytest.fixture(scope="session")
def aws_endpoint() -> str:
    pytest.fail("unit tests use tests/fakes.py, not an emulator: move this test to integration")
