"""The installed package (what the image gets) must carry its templates, prompts and scripts:
every non-Python file in the packages matches a package-data pattern of pyproject.toml."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_every_data_file_is_declared_as_package_data() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["*"]
    data_files = [
        path.relative_to(ROOT)
        for package in ("shared", "services", "infra")
        for path in (ROOT / package).rglob("*")
        if path.is_file()
        and path.suffix not in (".py", ".pyc")
        and "__pycache__" not in path.parts
        and path.name not in ("cloudformation.json", "requirements.lock")  # not read at run time
        and path.suffix != ".sh"  # run from a checkout, not the image
    ]

    assert data_files, "expected templates and prompts"
    missing = [str(p) for p in data_files if not any(fnmatch.fnmatch(p.name, x) for x in patterns)]
    assert missing == []
