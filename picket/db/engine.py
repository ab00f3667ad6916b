"""Engine and session factory for SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, any_, bindparam, create_engine, event
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, sessionmaker


def normalize_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever driver the URL names."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # API, collector and probes of `picket up` share one SQLite file from several processes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # pysqlite starts a transaction only at the first write, so two threads that read a
    # monitor's state and then both write it would each act on the state before the
    # other's commit (two incidents for one outage). Writers that read first ask for
    # BEGIN IMMEDIATE: SQLite's write lock is then taken before the first read.
    if conn.get_execution_options().get("sqlite_begin") == "IMMEDIATE":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("connect_args", {"connect_timeout": 5})
    return create_engine(url, **kwargs)


def make_sessionmaker(engine: Engine, *, serialized: bool = False) -> sessionmaker[Session]:
    """Sessions on `engine`. `serialized` sessions read what they then write (a state
    machine, a queue): on PostgreSQL they lock rows themselves (SELECT … FOR UPDATE), on
    SQLite, where that is a no-op, their transactions take the write lock from the start.
    """
    if serialized:
        engine = engine.execution_options(sqlite_begin="IMMEDIATE")
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One session, one transaction: committed on success, rolled back on error."""
    with factory() as session, session.begin():
        yield session


def one_of(session: Session, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """`column IN values`, written `column = ANY(array)` on PostgreSQL: one parameter
    however many values, so the statement's text is the same every time and neither
    SQLAlchemy nor the driver renders and parses hundreds of placeholders per execution
    (the collector filters by a batch's monitors several times per batch)."""
    values = list(values)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)
