"""Membership tests on JSON array columns, written once per dialect."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ColumnElement, cast, exists, func, literal, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session


def json_array_contains(session: Session, column: Any, value: str) -> ColumnElement[bool]:
    """`value` is one of the strings of the JSON array in `column`."""
    if session.get_bind().dialect.name == "postgresql":
        return column.op("@>")(cast(literal(json.dumps([value])), JSONB))
    items = func.json_each(column).table_valued("value")
    return exists(select(literal(1)).select_from(items).where(items.c.value == value))


def json_is_null(session: Session, column: Any) -> ColumnElement[bool]:
    """SQL NULL or a stored JSON null (what the JSON type writes for Python None)."""
    if session.get_bind().dialect.name == "postgresql":
        return or_(column.is_(None), func.jsonb_typeof(column) == "null")
    return or_(column.is_(None), func.json_type(column) == "null")
