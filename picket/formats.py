"""Output formats for exports and report downloads: one registry, one interface."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol, TextIO


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


# CSV cells that need more than str(): looked up by exact type, once per value, since
# this runs for every cell of exports with millions of rows. csv writes None as "".
_CSV_CONVERTERS: dict[type, Any] = {datetime: _plain, dict: json.dumps, list: json.dumps}


class Writer(Protocol):
    media_type: str
    extension: str

    def write(self, out: TextIO, columns: list[str], rows: Iterable[Sequence[Any]]) -> int:
        """Write every row (values in the order of `columns`); return how many."""
        ...


class CsvWriter:
    media_type = "text/csv; charset=utf-8"
    extension = "csv"

    def write(self, out: TextIO, columns: list[str], rows: Iterable[Sequence[Any]]) -> int:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        count = 0
        for row in rows:
            writer.writerow([c(v) if (c := _CSV_CONVERTERS.get(type(v))) else v for v in row])
            count += 1
        return count


class NdjsonWriter:
    media_type = "application/x-ndjson"
    extension = "ndjson"

    def write(self, out: TextIO, columns: list[str], rows: Iterable[Sequence[Any]]) -> int:
        count = 0
        for row in rows:
            out.write(json.dumps(dict(zip(columns, row, strict=True)), default=_plain))
            out.write("\n")
            count += 1
        return count


class JsonWriter:
    """One JSON array, written element by element so it never sits whole in memory."""

    media_type = "application/json"
    extension = "json"

    def write(self, out: TextIO, columns: list[str], rows: Iterable[Sequence[Any]]) -> int:
        count = 0
        out.write("[")
        for row in rows:
            out.write(",\n" if count else "\n")
            out.write(json.dumps(dict(zip(columns, row, strict=True)), default=_plain))
            count += 1
        out.write("\n]\n" if count else "]\n")
        return count


WRITERS: dict[str, Writer] = {"csv": CsvWriter(), "json": JsonWriter(), "ndjson": NdjsonWriter()}
