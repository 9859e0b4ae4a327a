"""docs/reference/cli-json.md names every operator command and the shape of its --json."""

from __future__ import annotations

import argparse
from pathlib import Path

from shared.devtools.cli_reference import COMMANDS, openapi, render, response_schema
from shared.entrypoints.cli import build_parser

COMMITTED = Path(__file__).parents[2] / "docs" / "reference" / "cli-json.md"


def test_the_committed_cli_reference_is_the_generated_one() -> None:
    assert COMMITTED.read_text() == render(), (
        "docs/reference/cli-json.md is stale; run: "
        "python -m shared.devtools.cli_reference > docs/reference/cli-json.md"
    )


def _operator_commands(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if sub.get_default("call") is not None:
                    found.append(f"{prefix}{name}")
                found += _operator_commands(sub, f"{prefix}{name} ")
    return found


def test_every_operator_command_is_in_it_with_a_real_api_call() -> None:
    documented = set()
    for command, _method, _path in COMMANDS:
        words = command.removeprefix("dripr ").split()
        for first in words[0].split("|"):
            documented.add(" ".join([first, *(w for w in words[1:2] if w.islower())]))
    for command in _operator_commands(build_parser()):
        assert command in documented or command.split()[0] in documented, command
    spec = openapi()
    for command, method, path in COMMANDS:
        assert response_schema(spec, method, path), f"{command}: {method} {path} has no schema"
