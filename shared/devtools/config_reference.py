"""The configuration reference, generated from `Settings`: every variable, its type, default
and meaning. `python -m shared.devtools.config_reference > docs/reference/configuration.md`;
tests/unit/test_config_reference.py fails when the committed copy is stale."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any

from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo

from shared.adapters.topology import TOPOLOGY, QueueSpec, QueueTuning
from shared.config import Settings

HEADER = """# Configuration reference

Every setting every dripr process reads, from the environment (generated from
`shared/config.py` by `python -m shared.devtools.config_reference`; a test keeps it current).
All services read the same settings and ignore what they do not use. Where a standard name
exists (`DATABASE_URL`, `AWS_*`) it is that; the rest are `DRIPR_*`. Durations are seconds.
OpenTelemetry's own `OTEL_*` variables configure tracing and metrics export
([operations.md](../operations.md#traces)).

| variable | type | default | meaning |
| --- | --- | --- | --- |
"""


def variables(name: str, field: FieldInfo) -> list[str]:
    """The environment names a field is read from, first the one to use."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    if isinstance(alias, str):
        return [alias]
    return [f"DRIPR_{name.upper()}"]


def type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{value}`" for value in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return " \\| ".join(type_name(a) for a in args) + " (optional)"
    if origin is dict:
        key, value = typing.get_args(annotation)
        return f"JSON object {type_name(key)} → {type_name(value)}"
    if annotation is SecretStr:
        return "secret"
    return {str: "text", int: "integer", float: "number", bool: "true/false"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )


def default_of(field: FieldInfo) -> str:
    if field.default_factory is not None:
        return f"`{json.dumps(field.default_factory())}`"  # type: ignore[call-arg]
    value = field.default
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        return "a development value"
    return f"`{value}`"


def bounds(field: FieldInfo) -> str:
    parts = []
    for rule in field.metadata:
        for attribute, symbol in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            limit = getattr(rule, attribute, None)
            if limit is not None:
                parts.append(f"{symbol} {limit}")
        pattern = getattr(rule, "pattern", None)
        if pattern:
            parts.append(f"matching `{pattern}`")
    return f" ({', '.join(parts)})" if parts else ""


QUEUE_TUNING_HEADER = """
## Queue tuning: `DRIPR_QUEUES`

`DRIPR_QUEUES` is a JSON object from a queue's name to what `dripr provision` sets on it; what
it leaves unset keeps the default. The template's per-queue parameters do the same on AWS
(`Visibility<Queue>`, `MaxReceive<Queue>`, `Retention<Queue>`, `DlqRetention<Queue>`).
A consumer reads its queue's visibility timeout and receive count from the queue when it
starts: restart the consumers after changing them (until then a running consumer's heartbeat
keeps the old timeout's pace, too slow for a shorter one). Queues: {queues}.

| key | type | default | meaning |
| --- | --- | --- | --- |
"""


def queue_tuning_rows() -> list[str]:
    defaults = {field.name: field.default for field in dataclasses.fields(QueueSpec)}
    rows = []
    for name, field in QueueTuning.model_fields.items():
        kind = type_name(field.annotation).removesuffix(" (optional)")
        rows.append(
            f"| `{name}` | {kind}{bounds(field)} | `{defaults[name]}` | {field.description} |"
        )
    return rows


def render() -> str:
    rows = []
    for name, field in Settings.model_fields.items():
        names = variables(name, field)
        shown = f"`{names[0]}`" + (
            f" (or {', '.join(f'`{n}`' for n in names[1:])})" if names[1:] else ""
        )
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(
            f"| {shown} | {type_name(field.annotation)}{bounds(field)} | {default_of(field)} "
            f"| {meaning} |"
        )
    queues = ", ".join(f"`{spec.name}`" for spec in TOPOLOGY.queues)
    tuning = QUEUE_TUNING_HEADER.format(queues=queues) + "\n".join(queue_tuning_rows())
    return HEADER + "\n".join(rows) + "\n" + tuning + "\n"


if __name__ == "__main__":
    print(render(), end="")
