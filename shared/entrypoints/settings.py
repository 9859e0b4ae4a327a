"""Settings for an entrypoint: the environment read, or a clear exit naming what is wrong."""

from __future__ import annotations

import sys

from pydantic import ValidationError

from shared.config import Settings


def load_settings(**given: object) -> Settings:
    """Settings from the environment, or SystemExit(2) naming each bad variable and why.

    For entrypoints: a person who set DRIPR_QUEUES wrong should read which
    variable and what is wrong with it, not a traceback.
    """
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            info = Settings.model_fields.get(field)
            alias = info.validation_alias if info is not None else None
            name = alias if isinstance(alias, str) else f"DRIPR_{field.upper()}"
            within = "".join(f"{part}: " for part in error["loc"][1:])
            problems.append(f"  {name}: {within}{error['msg'].removeprefix('Value error, ')}")
        print("dripr: invalid settings:\n" + "\n".join(problems), file=sys.stderr)
        raise SystemExit(2) from None
