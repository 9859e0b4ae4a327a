"""The database schema as a Mermaid diagram and a table per table, generated from the models.

`python -m shared.devtools.schema_reference > docs/reference/database.md`;
tests/unit/test_schema_reference.py fails when the committed copy is stale.
"""

from __future__ import annotations

import ast
import inspect

from sqlalchemy import Column, Table, UniqueConstraint

from shared.adapters.db import models
from shared.adapters.db.models import Base

HEADER = """# Database schema

Generated from `shared/adapters/db/models.py` by `python -m shared.devtools.schema_reference`
(a test keeps it current); Alembic's migrations in `shared/adapters/db/migrations/` build it
(`dripr migrate`). Times are UTC without a zone (the API adds the `Z`). PK primary key, FK
foreign key, UK part of a unique key.
"""


def _documented() -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """From the models' source: each table's class docstring, and each column's attribute
    docstring (the string right after its annotation)."""
    tree = ast.parse(inspect.getsource(models))
    tables: dict[str, str] = {}
    columns: dict[str, dict[str, str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        name = next(
            (
                s.value.value
                for s in node.body
                if isinstance(s, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__tablename__" for t in s.targets)
                and isinstance(s.value, ast.Constant)
            ),
            None,
        )
        if not isinstance(name, str):
            continue
        tables[name] = " ".join((ast.get_docstring(node) or "").split())
        docs: dict[str, str] = {}
        for before, after in zip(node.body, node.body[1:], strict=False):
            if (
                isinstance(before, ast.AnnAssign)
                and isinstance(before.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[before.target.id] = " ".join(after.value.value.split())
        columns[name] = docs
    return tables, columns


def _type(column: Column[object]) -> str:
    try:
        name = str(column.type.compile())
    except Exception:  # a type only a dialect can compile: its class name says enough
        name = type(column.type).__name__.upper()
    return name.split("(")[0].replace(" ", "_")


def _uniques(table: Table) -> list[UniqueConstraint]:
    return [c for c in table.constraints if isinstance(c, UniqueConstraint)]


def _keys(table: Table, column: Column[object]) -> list[str]:
    keys = []
    if column.primary_key:
        keys.append("PK")
    if column.foreign_keys:
        keys.append("FK")
    if any(column.name in c.columns for c in _uniques(table)):
        keys.append("UK")
    return keys


def render() -> str:
    tables = sorted(Base.metadata.tables.values(), key=lambda t: t.name)
    lines = [HEADER, "```mermaid", "erDiagram"]
    for table in tables:
        for column in table.columns:
            for key in column.foreign_keys:
                target = key.column.table.name
                lines.append(f'    {target} ||--o{{ {table.name} : "{column.name}"')
    for table in tables:
        lines.append(f"    {table.name} {{")
        for column in table.columns:
            keys = ",".join(_keys(table, column))
            lines.append(f"        {_type(column)} {column.name}{' ' + keys if keys else ''}")
        lines.append("    }")
    lines += ["```", ""]
    table_docs, column_docs = _documented()
    for table in tables:
        lines += [f"## {table.name}", ""]
        doc = table_docs.get(table.name, "")
        if doc:
            lines += [doc, ""]
        lines += ["| column | type | null | key | notes |", "| --- | --- | --- | --- | --- |"]
        for column in table.columns:
            notes = column_docs.get(table.name, {}).get(column.key, "").replace("|", "\\|")
            targets = ", ".join(f"→ {k.target_fullname}" for k in column.foreign_keys)
            keys = " ".join(_keys(table, column))
            said = " ".join(p for p in (targets, notes) if p)
            null = "yes" if column.nullable else "no"
            lines.append(f"| `{column.name}` | {_type(column)} | {null} | {keys} | {said} |")
        indexes = sorted(
            f"`{i.name}` ({', '.join(c.name for c in i.columns)})" for i in table.indexes
        )
        uniques = sorted(
            f"unique `{c.name}` ({', '.join(col.name for col in c.columns)})"
            if c.name
            else f"unique ({', '.join(col.name for col in c.columns)})"
            for c in _uniques(table)
        )
        if indexes or uniques:
            lines += ["", "Indexes: " + ", ".join(uniques + indexes)]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
