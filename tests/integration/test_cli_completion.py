"""Shell completion for `dripr`, answered by the parser itself (argcomplete)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_the_shell_completes_commands_from_the_parser(tmp_path: Path) -> None:
    """What bash asks after `eval "$(register-python-argcomplete dripr)"`."""

    def complete(line: str) -> list[str]:
        out = tmp_path / "completions"
        env = {
            **os.environ,
            "_ARGCOMPLETE": "1",
            "COMP_LINE": line,
            "COMP_POINT": str(len(line)),
            "_ARGCOMPLETE_STDOUT_FILENAME": str(out),
        }
        command = [sys.executable, "-m", "shared.entrypoints.cli"]
        subprocess.run(command, env=env, check=True, timeout=60, pass_fds=())
        return out.read_text().split("\v")

    assert complete("dripr camp") == ["campaigns "]
    assert {"progress", "pause", "resume", "cancel"} <= {
        c.strip() for c in complete("dripr sends ")
    }
