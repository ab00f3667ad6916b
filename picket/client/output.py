"""How the client prints: aligned tables for people, JSON for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

Column = tuple[str, Callable[[dict[str, Any]], Any]]


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or "-"
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value)


def table(
    rows: Sequence[dict[str, Any]], columns: Sequence[Column], out: TextIO | None = None
) -> None:
    out = out or sys.stdout
    header = [name for name, _ in columns]
    body = [[cell(get(row)) for _, get in columns] for row in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    for line in [header, *body]:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip(), file=out)


def details(item: dict[str, Any], out: TextIO | None = None) -> None:
    """One `key: value` line per field, nested objects flattened."""
    out = out or sys.stdout
    width = max((len(k) for k in item), default=0)
    for key, value in item.items():
        print(f"{key.ljust(width)}  {cell(value)}", file=out)


def emit_json(data: Any, out: TextIO | None = None) -> None:
    print(json.dumps(data, indent=2, sort_keys=False, default=str), file=out or sys.stdout)
