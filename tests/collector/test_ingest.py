"""The JetStream consumer against a real nats-server and a real database."""

from __future__ import annotations

import asyncio

import pytest
from nats import connect as nats_connect
from nats.errors import TimeoutError as NatsTimeout
from sqlalchemy import func, select

from picket.collector.ingest import Ingestor, ResultStore, ensure_stream, msg_id
from picket.db.accounts import create_organization
from picket.db.engine import make_engine, make_sessionmaker, transaction
from picket.db.models import CheckResult
from picket.db.monitors import create_monitor
from picket.db.probes import create_probe
from picket.proto.v1 import results_pb2
from picket.testing import NatsServer


@pytest.fixture
def world(database_url: str):
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        org = create_organization(session, "acme")
        probe, _ = create_probe(session, "p", "us-east")
        monitor = create_monitor(session, org.id, name="m", type="http", url="http://x.example/")
        ids = {"probe": probe.id, "monitor": monitor.id}
    yield sessions, ids
    engine.dispose()


def _result(ids: dict[str, str], slot_ms: int, ok: bool = True) -> results_pb2.CheckResult:
    return results_pb2.CheckResult(
        monitor_id=ids["monitor"],
        monitor_version=1,
        region="us-east",
        probe_id=ids["probe"],
        scheduled_at_ms=slot_ms,
        ok=ok,
        latency_ms=12.5,
        status_code=200 if ok else 500,
        error_kind="" if ok else "status",
        error="" if ok else "status 500",
        timings={"total": 12.5},
    )


async def _ingest_until(ingestor: Ingestor, sub, predicate, rounds: int = 50) -> None:
    for _ in range(rounds):
        try:
            msgs = await sub.fetch(500, timeout=0.5)
        except (TimeoutError, NatsTimeout):
            msgs = []
        if msgs:
            await ingestor.handle(msgs)
        if predicate():
            return
    raise AssertionError(f"ingest did not get there: {ingestor.stats}")


async def _wait_all_acked(sub, within_s: float = 10.0):
    """Acks are processed by the server asynchronously: poll until none is pending."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        info = await sub.consumer_info()
        if info.num_ack_pending == 0 and info.num_pending == 0:
            return info
        assert loop.time() < deadline, f"messages still pending: {info}"
        await asyncio.sleep(0.05)


def _count(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(CheckResult))


async def test_same_result_twice_is_stored_once(nats: NatsServer, world) -> None:
    sessions, ids = world
    nc = await nats_connect(nats.url)
    js = nc.jetstream()
    await ensure_stream(js)
    subject = f"results.us-east.{ids['probe']}"
    payload = _result(ids, 1_700_000_000_000).SerializeToString()
    header = msg_id(ids["monitor"], "us-east", 1_700_000_000_000)
    # The same id twice: the stream's duplicate window drops the second.
    await js.publish(subject, payload, headers={"Nats-Msg-Id": header})
    await js.publish(subject, payload, headers={"Nats-Msg-Id": header})
    # Past the duplicate window (a resend after a long outage): the database drops it.
    await js.publish(subject, payload, headers={"Nats-Msg-Id": header + ":late"})
    await js.publish(subject, _result(ids, 1_700_000_060_000, ok=False).SerializeToString())
    ingestor = Ingestor(js, ResultStore(sessions), durable="test")
    sub = await ingestor.subscribe()
    await _ingest_until(
        ingestor, sub, lambda: ingestor.stats.duplicates >= 1 and ingestor.stats.stored >= 2
    )
    assert _count(sessions) == 2
    with sessions() as session:
        failed = session.scalar(select(CheckResult).where(CheckResult.ok.is_(False)))
        assert failed.error_kind == "status" and failed.status_code == 500
        assert failed.timings == {"total": 12.5}
    await _wait_all_acked(sub)
    await nc.close()


async def test_bad_messages_are_terminated_and_counted(nats: NatsServer, world) -> None:
    sessions, ids = world
    nc = await nats_connect(nats.url)
    js = nc.jetstream()
    await ensure_stream(js)
    good = _result(ids, 1_700_000_000_000)
    await js.publish(f"results.us-east.{ids['probe']}", b"\xff\x00 not protobuf")
    # A probe publishing for a region that is not its own.
    await js.publish(f"results.eu-west.{ids['probe']}", _result({**ids}, 1).SerializeToString())
    unknown = _result({**ids, "monitor": "0" * 32}, 1_700_000_000_000)
    await js.publish(f"results.us-east.{ids['probe']}", unknown.SerializeToString())
    await js.publish(f"results.us-east.{ids['probe']}", good.SerializeToString())
    ingestor = Ingestor(js, ResultStore(sessions), durable="test")
    sub = await ingestor.subscribe()
    await _ingest_until(
        ingestor,
        sub,
        lambda: ingestor.stats.stored == 1 and sum(ingestor.stats.rejected.values()) == 3,
    )
    assert _count(sessions) == 1
    info = await _wait_all_acked(sub)
    assert info.num_redelivered == 0
    await nc.close()
