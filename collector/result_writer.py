"""Bulk insert of check results that skips stored slots and says which rows were new.

Each backend gets its fastest path: PostgreSQL copies the batch into a temporary table
and inserts from it with ON CONFLICT DO NOTHING RETURNING (one round trip per batch, no
giant parameter lists to parse); SQLite runs INSERT OR IGNORE through executemany in C and
reads back the rows it added.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from picket.db.types import utcnow

COLUMNS = (
    "monitor_id",
    "monitor_version",
    "region",
    "probe_id",
    "scheduled_at",
    "started_at",
    "received_at",
    "ok",
    "error_kind",
    "error",
    "status_code",
    "latency_ms",
    "timings",
    "detail",
    "attempts",
    "check_now_id",
)
JSON_COLUMNS = {"timings", "detail"}
Key = tuple[str, str, datetime]


def insert_new(session: Session, rows: list[dict[str, Any]]) -> dict[Key, int]:
    """Insert rows whose (monitor, region, slot) is not stored yet; returns their ids."""
    if not rows:
        return {}
    now = utcnow()
    for row in rows:
        row["received_at"] = now
    if session.get_bind().dialect.name == "postgresql":
        return _insert_postgresql(session, rows)
    return _insert_sqlite(session, rows)


# Below this many rows one INSERT with its VALUES beats creating and filling the temporary
# table.
SMALL_BATCH = 50


def _insert_postgresql(session: Session, rows: list[dict[str, Any]]) -> dict[Key, int]:
    from psycopg.types.json import Jsonb

    cols = ", ".join(COLUMNS)
    connection = session.connection()
    if len(rows) < SMALL_BATCH:
        values = ", ".join(f"({', '.join(['%s'] * len(COLUMNS))})" for _ in rows)
        params = [
            Jsonb(row[c]) if c in JSON_COLUMNS and row[c] is not None else row[c]
            for row in rows
            for c in COLUMNS
        ]
        raw = connection.connection.dbapi_connection
        assert raw is not None
        with raw.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO check_results ({cols}) VALUES {values} "
                "ON CONFLICT (monitor_id, region, scheduled_at) DO NOTHING "
                "RETURNING id, monitor_id, region, scheduled_at",
                params,
            )
            return {(m, r, s): i for i, m, r, s in cursor.fetchall()}
    connection.exec_driver_sql(
        "CREATE TEMP TABLE IF NOT EXISTS incoming_results ON COMMIT DELETE ROWS AS "
        f"SELECT {cols} FROM check_results WITH NO DATA"
    )
    raw = connection.connection.dbapi_connection
    assert raw is not None
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY incoming_results ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    [
                        Jsonb(row[c]) if c in JSON_COLUMNS and row[c] is not None else row[c]
                        for c in COLUMNS
                    ]
                )
        cursor.execute(
            f"INSERT INTO check_results ({cols}) SELECT {cols} FROM incoming_results "
            "ON CONFLICT (monitor_id, region, scheduled_at) DO NOTHING "
            "RETURNING id, monitor_id, region, scheduled_at"
        )
        # No TRUNCATE: ON COMMIT DELETE ROWS empties the table at commit more cheaply (an
        # explicit TRUNCATE makes new files for the table every batch).
        returned = cursor.fetchall()
    return {(m, r, s): i for i, m, r, s in returned}


def _sqlite_value(column: str, value: Any) -> Any:
    if value is None:
        return None
    if column in JSON_COLUMNS:
        return json.dumps(value)
    if isinstance(value, datetime):
        # The same naive-UTC text form the UTCDateTime column type writes on SQLite.
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return value


def _insert_sqlite(session: Session, rows: list[dict[str, Any]]) -> dict[Key, int]:
    connection = session.connection()
    placeholders = ", ".join("?" for _ in COLUMNS)
    raw = connection.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        cursor.executemany(
            f"INSERT OR IGNORE INTO check_results ({', '.join(COLUMNS)}) VALUES ({placeholders})",
            [[_sqlite_value(c, row[c]) for c in COLUMNS] for row in rows],
        )
        added = cursor.rowcount
    finally:
        cursor.close()
    if added <= 0:
        return {}
    # This transaction holds SQLite's write lock, so the rows it added carry the highest
    # rowids, consecutively.
    returned = session.execute(
        text(
            "SELECT id, monitor_id, region, scheduled_at FROM check_results "
            "WHERE id > (SELECT max(id) FROM check_results) - :added"
        ),
        {"added": added},
    ).all()
    by_text = {
        (r["monitor_id"], r["region"], _sqlite_value("scheduled_at", r["scheduled_at"])): (
            r["monitor_id"],
            r["region"],
            r["scheduled_at"],
        )
        for r in rows
    }
    return {by_text[(m, r, s)]: i for i, m, r, s in returned}
