"""A bounded on-disk queue of results that could not be published yet.

While NATS is unreachable the probe keeps checking; its results wait here, oldest first,
and survive a restart of the probe. The queue is bounded by total payload bytes and by
age: when either limit is passed the oldest results are dropped, counted and logged, so a
long outage costs the oldest history rather than the probe's disk or memory.

One SQLite file per probe (under PICKET_DATA_DIR/spool) holds it: appends and removals
are transactions, so a probe killed mid-write loses at most what it was writing.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("picket.probe.spool")


@dataclass(frozen=True)
class Pending:
    """One encoded result ready to publish."""

    subject: str
    msg_id: str
    payload: bytes


@dataclass(frozen=True)
class Spooled:
    seq: int
    item: Pending


class Spool:
    def __init__(
        self,
        path: Path,
        max_bytes: int,
        max_age_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self._clock = clock
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
            "queued_at REAL NOT NULL, subject TEXT NOT NULL, msg_id TEXT NOT NULL, "
            "payload BLOB NOT NULL)"
        )
        count, size = self._db.execute(
            "SELECT count(*), coalesce(sum(length(payload)), 0) FROM spool"
        ).fetchone()
        self._count = int(count)
        self._bytes = int(size)
        self.spooled = 0
        self.sent = 0
        self.dropped = 0
        if self._count:
            log.info("spool %s holds %d unpublished results from before", path, self._count)
        self._expire()

    def __len__(self) -> int:
        return self._count

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def append(self, items: Sequence[Pending]) -> None:
        if not items:
            return
        now = self._clock()
        self._db.execute("BEGIN")
        self._db.executemany(
            "INSERT INTO spool (queued_at, subject, msg_id, payload) VALUES (?, ?, ?, ?)",
            [(now, i.subject, i.msg_id, i.payload) for i in items],
        )
        self._db.execute("COMMIT")
        self._count += len(items)
        self._bytes += sum(len(i.payload) for i in items)
        self.spooled += len(items)
        self._expire()
        self._trim()

    def peek(self, limit: int) -> list[Spooled]:
        """The oldest results, without removing them: they go only once NATS has them."""
        self._expire()
        rows = self._db.execute(
            "SELECT seq, subject, msg_id, payload FROM spool ORDER BY seq LIMIT ?", (limit,)
        ).fetchall()
        return [
            Spooled(seq, Pending(subject, msg_id, bytes(payload)))
            for seq, subject, msg_id, payload in rows
        ]

    def remove(self, entries: Sequence[Spooled]) -> None:
        if not entries:
            return
        seqs = [(e.seq,) for e in entries]
        self._db.execute("BEGIN")
        self._db.executemany("DELETE FROM spool WHERE seq = ?", seqs)
        self._db.execute("COMMIT")
        self._count -= len(entries)
        self._bytes -= sum(len(e.item.payload) for e in entries)
        self.sent += len(entries)

    def close(self) -> None:
        self._db.close()

    def _drop_through(self, seq: int, reason: str) -> None:
        count, size = self._db.execute(
            "SELECT count(*), coalesce(sum(length(payload)), 0) FROM spool WHERE seq <= ?",
            (seq,),
        ).fetchone()
        if not count:
            return
        self._db.execute("DELETE FROM spool WHERE seq <= ?", (seq,))
        self._count -= count
        self._bytes -= size
        self.dropped += count
        log.warning(
            "spool %s: dropped the %d oldest unpublished results (%s); %d dropped in all",
            self.path,
            count,
            reason,
            self.dropped,
        )

    def _expire(self) -> None:
        if not self._count:
            return
        cutoff = self._clock() - self.max_age_s
        row = self._db.execute(
            "SELECT max(seq) FROM spool WHERE queued_at < ?", (cutoff,)
        ).fetchone()
        if row and row[0] is not None:
            self._drop_through(row[0], f"older than {self.max_age_s:g}s")

    def _trim(self) -> None:
        if self._bytes <= self.max_bytes:
            return
        excess = self._bytes - self.max_bytes
        # The smallest prefix of the queue whose payloads cover the excess.
        row = self._db.execute(
            "SELECT seq FROM (SELECT seq, sum(length(payload)) OVER (ORDER BY seq) AS total "
            "FROM spool) WHERE total >= ? ORDER BY seq LIMIT 1",
            (excess,),
        ).fetchone()
        if row is not None:
            self._drop_through(row[0], f"over {self.max_bytes} bytes")
