"""Regenerate docs/images/dashboard-*.png: `python -m tests.e2e.screenshots [directory]`.

It runs the dashboard's browser tests with DRIPR_SCREENSHOTS set, so every picture shows a page
in a state a test has just checked (MySQL at 127.0.0.1:3306 if it answers, the moto server).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def main() -> int:
    directory = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs" / "images")
    os.environ["DRIPR_SCREENSHOTS"] = str(directory.resolve())
    code = int(pytest.main(["-q", str(ROOT / "tests" / "e2e" / "test_dashboard.py")]))
    if code == 0:
        print(f"screenshots in {directory}:")
        for png in sorted(directory.glob("dashboard-*.png")):
            print(" ", png.name)
    return code


if __name__ == "__main__":
    sys.exit(main())
