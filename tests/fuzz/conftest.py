"""Loads the fuzz suite's hypothesis profile before any of its tests is collected."""

from __future__ import annotations

import pytest

from tests.fuzz.profiles import LONG_FACTOR, PROFILE

LONG_TIMEOUT = 300 * LONG_FACTOR
"""The suite's per-test timeout, stretched as far as the long profile stretches the examples."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if PROFILE == "long":
        for item in items:
            if "tests/fuzz/" in item.nodeid:
                item.add_marker(pytest.mark.timeout(LONG_TIMEOUT))
