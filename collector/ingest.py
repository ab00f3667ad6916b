"""The JetStream consumer that stores check results: batch fetch, one transaction, ack.

Collectors share one durable pull consumer, so several may run at once; a message is
acked only after its batch is committed, so a crash redelivers it and the unique
(monitor, region, slot) key stores it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import nats.errors
from google.protobuf.message import DecodeError
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StreamConfig
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from picket import metrics
from picket.collector.processors import IngestedResult, ResultProcessor
from picket.collector.result_writer import insert_new
from picket.db.engine import one_of
from picket.db.models import Monitor, Probe
from picket.db.types import utcnow
from picket.errors import ErrorKind
from picket.proto.v1 import results_pb2

log = logging.getLogger("picket.collector.ingest")

STREAM = "PICKET_RESULTS"
SUBJECTS = "results.>"
DURABLE = "picket-collector"
MAX_PAYLOAD = 64 * 1024
# Redelivery delay while the database is unreachable.
DB_RETRY_DELAY_S = 2.0
# A batch held by a collector that died is redelivered after this long. A batch takes
# milliseconds to store; a slower one redelivered to another collector is harmless (the
# slot key stores it once), so this is short to keep a crash's gap short.
ACK_WAIT_S = 10
# A probe whose clock is off by more than this has its results' times corrected by the
# skew measured at registration and at each ping (rounded to whole seconds, so a result
# sent twice maps to the same slot).
CLOCK_SKEW_CORRECT_MS = 5_000
# A result scheduled this far past the collector's clock, even after correction, comes
# from a clock that jumped since it was last measured: it cannot be placed in time.
FUTURE_LIMIT_MS = 10_000
_ERROR_KINDS = {kind.value for kind in ErrorKind}


# Allocations between young-generation collections (CPython's default is 700). A batch
# of 500 results allocates some hundred thousand objects, so the default collects many
# times per batch, and the oldest generation (the whole heap) every few batches.
GC_THRESHOLD = 50_000


def tune_gc() -> None:
    """Garbage collection for a collector process, called once it has started: what is
    alive by then (modules, mappers, settings) is frozen out of every later collection,
    and the young generation is collected every GC_THRESHOLD allocations rather than
    every 700. Sessions' reference cycles are still collected, a few times per batch."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, middle, old)


async def ensure_stream(js: JetStreamContext, max_age_s: float = 7 * 86400) -> None:
    config = StreamConfig(
        name=STREAM,
        subjects=[SUBJECTS],
        retention=RetentionPolicy.LIMITS,
        max_age=max_age_s,
        # Resends after a probe's reconnect are dropped by the stream for this long, and
        # by the database's unique slot key after that.
        duplicate_window=600,
        max_msg_size=MAX_PAYLOAD,
    )
    try:
        await js.stream_info(STREAM)
    except nats.js.errors.NotFoundError:
        await js.add_stream(config)


def msg_id(monitor_id: str, region: str, scheduled_at_ms: int) -> str:
    return f"{monitor_id}:{region}:{scheduled_at_ms}"


class Rejected(Exception):
    """A message that can never be stored: it is terminated, not redelivered."""


@dataclass
class IngestStats:
    stored: int = 0
    duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    batches: int = 0

    def reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1


def _ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def decode(msg: Msg) -> dict[str, Any]:
    """A row for check_results from one message, or Rejected with the reason."""
    if len(msg.data) > MAX_PAYLOAD:
        raise Rejected("oversized")
    result = results_pb2.CheckResult()
    try:
        result.ParseFromString(msg.data)
    except DecodeError:
        raise Rejected("malformed") from None
    parts = msg.subject.split(".")
    if len(parts) != 3 or parts[1] != result.region or parts[2] != result.probe_id:
        raise Rejected("subject does not match the result's region and probe")
    if not result.monitor_id or result.scheduled_at_ms <= 0:
        raise Rejected("malformed")
    try:
        detail = json.loads(result.detail_json) if result.detail_json else None
    except ValueError:
        raise Rejected("malformed") from None
    error_kind = result.error_kind or None
    if error_kind is not None and error_kind not in _ERROR_KINDS:
        error_kind = ErrorKind.INTERNAL.value
    return {
        "monitor_id": result.monitor_id,
        "monitor_version": result.monitor_version,
        "region": result.region,
        "probe_id": result.probe_id,
        "scheduled_at": _ms_to_dt(result.scheduled_at_ms),
        "started_at": _ms_to_dt(result.started_at_ms) if result.started_at_ms else None,
        "ok": result.ok,
        "error_kind": None if result.ok else error_kind,
        "error": (result.error or None) if not result.ok else None,
        "status_code": result.status_code or None,
        "latency_ms": result.latency_ms,
        "timings": dict(result.timings),
        "detail": detail,
        "attempts": result.attempts or 1,
        "check_now_id": result.check_now_id or None,
    }


class ResultStore:
    """Writes one batch of results in one transaction, with every processor."""

    def __init__(
        self, sessions: sessionmaker[Session], processors: Sequence[ResultProcessor] = ()
    ) -> None:
        self._sessions = sessions
        self.processors = list(processors)
        self._corrected: set[str] = set()

    @staticmethod
    def _insert(session: Session, rows: list[dict[str, Any]]) -> list[IngestedResult]:
        ids = insert_new(session, rows)
        stored = []
        for row in rows:
            id_ = ids.get((row["monitor_id"], row["region"], row["scheduled_at"]))
            if id_ is None:
                continue
            stored.append(
                IngestedResult(
                    id=id_,
                    monitor_id=row["monitor_id"],
                    monitor_version=row["monitor_version"],
                    region=row["region"],
                    probe_id=row["probe_id"],
                    scheduled_at=row["scheduled_at"],
                    ok=row["ok"],
                    error_kind=row["error_kind"],
                    error=row["error"],
                    status_code=row["status_code"],
                    latency_ms=row["latency_ms"],
                    timings=row["timings"],
                    detail=row["detail"],
                    check_now_id=row["check_now_id"],
                )
            )
        return stored

    def _correct_clock(self, rows: list[dict[str, Any]], skews: dict[str, int]) -> set[int]:
        """Shift the times of skewed probes' results; returns rows that stay in the future."""
        future = set()
        limit = utcnow() + timedelta(milliseconds=FUTURE_LIMIT_MS)
        for i, row in enumerate(rows):
            skew_ms = skews.get(row["probe_id"], 0)
            if abs(skew_ms) > CLOCK_SKEW_CORRECT_MS:
                shift = timedelta(seconds=round(skew_ms / 1000))
                row["scheduled_at"] -= shift
                if row["started_at"] is not None:
                    row["started_at"] -= shift
                if row["probe_id"] not in self._corrected:
                    self._corrected.add(row["probe_id"])
                    log.warning(
                        "probe %s clock is off by %+d ms: correcting its results' times",
                        row["probe_id"],
                        skew_ms,
                    )
            if row["scheduled_at"] > limit:
                future.add(i)
        return future

    def store_own(self, session: Session, rows: list[dict[str, Any]]) -> list[IngestedResult]:
        """Results the collector makes itself (push monitors), in the caller's transaction,
        through every processor like results from probes."""
        stored = self._insert(session, rows) if rows else []
        for processor in self.processors:
            processor.process(session, stored)
        return stored

    def store(self, rows: list[dict[str, Any]]) -> tuple[list[IngestedResult], set[int]]:
        """Store rows; returns the new results and the indexes of rows to reject."""
        stored, rejected = self.store_with_reasons(rows)
        return stored, set(rejected)

    def store_with_reasons(
        self, rows: list[dict[str, Any]]
    ) -> tuple[list[IngestedResult], dict[int, str]]:
        """Store rows; returns the new results and the rows to reject, with the reason."""
        with self._sessions() as session, session.begin():
            monitor_ids = {r["monitor_id"] for r in rows}
            probe_ids = {r["probe_id"] for r in rows}
            known = set(
                session.scalars(select(Monitor.id).where(one_of(session, Monitor.id, monitor_ids)))
            )
            probes = {
                id_: (region, skew)
                for id_, region, skew in session.execute(
                    select(Probe.id, Probe.region, Probe.clock_skew_ms).where(
                        Probe.id.in_(probe_ids)
                    )
                )
            }
            rejected: dict[int, str] = {}
            for i, r in enumerate(rows):
                if r["monitor_id"] not in known:
                    rejected[i] = "unknown monitor"
                elif probes.get(r["probe_id"], (None, 0))[0] != r["region"]:
                    rejected[i] = "unknown probe, or probe not allowed in that region"
            skews = {id_: skew or 0 for id_, (_, skew) in probes.items()}
            for i in self._correct_clock(rows, skews):
                rejected.setdefault(
                    i, "scheduled in the future: the probe's clock is ahead of the collector's"
                )
            # One row per slot even when a batch holds the same result twice.
            unique: dict[tuple[str, str, datetime], dict[str, Any]] = {}
            for i, row in enumerate(rows):
                if i not in rejected:
                    unique.setdefault((row["monitor_id"], row["region"], row["scheduled_at"]), row)
            stored = self._insert(session, list(unique.values())) if unique else []
            for processor in self.processors:
                processor.process(session, stored)
        return stored, rejected


class BatchFetcher:
    """Pull requests for the durable consumer, answered into one inbox whose callback
    gathers them: nats-py's own fetch awaits each message with a timeout of its own, which
    costs more than storing it. Messages arriving after a fetch returned wait for the next.
    """

    def __init__(self, nc: NATS, durable: str) -> None:
        self._nc = nc
        self._next = f"$JS.API.CONSUMER.MSG.NEXT.{STREAM}.{durable}"
        self._inbox = nc.new_inbox()
        self._buffer: list[Msg] = []
        self._wanted = 0
        self._any = False
        self._wake = asyncio.Event()

    async def start(self) -> None:
        await self._nc.subscribe(self._inbox, cb=self._on_msg)

    async def _on_msg(self, msg: Msg) -> None:
        status = msg.headers.get("Status") if msg.headers else None
        if status is None:
            self._buffer.append(msg)
            if self._any or len(self._buffer) >= self._wanted:
                self._wake.set()
        elif status != "100":
            # 404 no messages, 408 request expired, 409 too many requests: this request
            # is over (idle heartbeats, 100, are not).
            self._wake.set()

    async def _request(self, request: dict[str, Any], wait_s: float) -> None:
        self._wake.clear()
        await self._nc.publish(self._next, json.dumps(request).encode(), reply=self._inbox)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                await self._wake.wait()

    async def fetch(self, batch: int, timeout: float) -> list[Msg]:  # noqa: ASYNC109 - nats-py's signature
        if not self._nc.is_connected:
            await asyncio.sleep(timeout)
            return []
        self._wanted, self._any = batch, False
        if len(self._buffer) < batch:
            # What is there now, without waiting: full batches while results pile up.
            await self._request({"batch": batch - len(self._buffer), "no_wait": True}, timeout)
        if not self._buffer:
            # Nothing pending: wait for the first result to come, and return with it.
            self._any = True
            await self._request({"batch": batch, "expires": int(timeout * 1e9)}, timeout + 0.5)
        msgs, self._buffer = self._buffer[:batch], self._buffer[batch:]
        return msgs


class Ingestor:
    def __init__(
        self,
        js: JetStreamContext,
        store: ResultStore,
        batch_size: int = 500,
        durable: str = DURABLE,
    ) -> None:
        self._js = js
        self._store = store
        self._batch_size = batch_size
        self._durable = durable
        self.stats = IngestStats()
        self.after_commit: list[Any] = []

    async def subscribe(self) -> JetStreamContext.PullSubscription:
        return await self._js.pull_subscribe(
            SUBJECTS,
            durable=self._durable,
            stream=STREAM,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=ACK_WAIT_S,
                max_ack_pending=50_000,
                max_deliver=-1,
            ),
        )

    async def run(self, stop: asyncio.Event) -> None:
        # Creates the durable consumer when it is new; batches are pulled by BatchFetcher.
        await self.subscribe()
        sub = BatchFetcher(self._js._nc, self._durable)
        await sub.start()
        # The next batch is fetched while the previous one is stored: the database's time
        # and the network's overlap. One batch is stored at a time, so commits stay in order.
        storing: asyncio.Task[None] | None = None
        try:
            while not stop.is_set():
                try:
                    msgs = await sub.fetch(self._batch_size, timeout=0.5)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                except nats.errors.ConnectionClosedError:
                    return
                except Exception as exc:
                    log.warning("fetching results failed (%s); retrying", exc or type(exc).__name__)
                    await asyncio.sleep(1)
                    continue
                if storing is not None:
                    await storing
                storing = asyncio.create_task(self._handle_or_nak(msgs))
        finally:
            if storing is not None:
                await storing

    async def _handle_or_nak(self, msgs: list[Msg]) -> None:
        try:
            await self.handle(msgs)
        except Exception:
            # Whatever went wrong, the loop must outlive it: the batch comes back later.
            log.exception("storing %d results failed; they will be redelivered", len(msgs))
            for msg in msgs:
                with contextlib.suppress(Exception):
                    await msg.nak(delay=DB_RETRY_DELAY_S)

    async def handle(self, msgs: list[Msg]) -> None:
        rows: list[dict[str, Any]] = []
        accepted: list[Msg] = []
        for msg in msgs:
            try:
                rows.append(decode(msg))
                accepted.append(msg)
            except Rejected as exc:
                await self._reject(msg, str(exc))
        if not rows:
            return
        try:
            stored, rejected = await asyncio.to_thread(self._store.store_with_reasons, rows)
        except OperationalError as exc:
            log.warning(
                "database unavailable, %d results will be redelivered: %s",
                len(rows),
                str(exc).splitlines()[0],
            )
            for msg in accepted:
                await msg.nak(delay=DB_RETRY_DELAY_S)
            return
        except Exception:
            # A bug in a processor must not stop ingest nor lose the batch: it is retried.
            log.exception("storing %d results failed; they will be redelivered", len(rows))
            for msg in accepted:
                await msg.nak(delay=DB_RETRY_DELAY_S)
            return
        for index, msg in enumerate(accepted):
            if index in rejected:
                await self._reject(msg, rejected[index])
            else:
                await msg.ack()
        self.stats.batches += 1
        self.stats.stored += len(stored)
        self.stats.duplicates += len(accepted) - len(rejected) - len(stored)
        metrics.record_ingest(
            ((r.region, r.scheduled_at) for r in stored),
            batch_size=len(msgs),
            duplicates=len(accepted) - len(rejected) - len(stored),
        )
        for callback in self.after_commit:
            try:
                await callback(stored)
            except Exception:
                log.exception("after-commit hook failed")

    async def _reject(self, msg: Msg, reason: str) -> None:
        self.stats.reject(reason)
        log.warning("rejected result on %s: %s", msg.subject, reason)
        await msg.term()
