"""Loads the fuzz suite's hypothesis profile before any of its tests is collected."""

from tests.fuzz import profiles  # noqa: F401
