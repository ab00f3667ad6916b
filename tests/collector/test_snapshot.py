"""Placement of checks on probes: rendezvous hashing, liveness by ping, with a fake clock."""

from __future__ import annotations

from datetime import timedelta

from picket.collector.placement import check_offset_ms, rendezvous_winner
from picket.collector.snapshot import build_snapshot
from picket.db.accounts import create_organization
from picket.db.engine import make_engine, make_sessionmaker, transaction
from picket.db.models import Probe
from picket.db.monitors import create_monitor
from picket.db.probes import create_probe
from picket.db.types import utcnow

PING = 10.0


def test_rendezvous_moves_only_the_leavers_share() -> None:
    probes = [f"p{i}" for i in range(5)]
    monitors = [f"m{i}" for i in range(2000)]
    before = {m: rendezvous_winner(m, probes) for m in monitors}
    after = {m: rendezvous_winner(m, probes[:-1]) for m in monitors}
    moved = {m for m in monitors if before[m] != after[m]}
    assert moved == {m for m in monitors if before[m] == "p4"}
    shares = [list(before.values()).count(p) for p in probes]
    assert min(shares) > 300, shares  # spread evenly enough: 400 each on average


def test_offsets_are_stable_and_inside_the_interval() -> None:
    offsets = {check_offset_ms("m1", region, 60) for region in ("a", "b", "c")}
    assert all(0 <= o < 60_000 for o in offsets)
    assert len(offsets) == 3  # regions are staggered
    assert check_offset_ms("m1", "a", 60) == check_offset_ms("m1", "a", 60)


def test_silent_probe_loses_its_checks_after_three_ping_intervals(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    now = utcnow()
    with transaction(sessions) as session:
        org = create_organization(session, "acme")
        a, _ = create_probe(session, "a", "us-east")
        b, _ = create_probe(session, "b", "us-east")
        a.last_seen_at = b.last_seen_at = now
        ids = [
            create_monitor(
                session,
                org.id,
                name=f"m{i}",
                type="http",
                url="http://example.com/",
                interval_seconds=30,
            ).id
            for i in range(20)
        ]
        a_id, b_id = a.id, b.id
    with sessions() as session:
        snapshot = build_snapshot(session, PING, set(), now=now)
        held_by_a = set(snapshot.assignments[a_id])
        assert held_by_a and set(snapshot.assignments[b_id])
        assert held_by_a | set(snapshot.assignments[b_id]) == set(ids)
        # b keeps pinging, a falls silent.
        session.get(Probe, b_id).last_seen_at = now + timedelta(seconds=40)
        session.commit()
        almost = build_snapshot(session, PING, set(), now=now + timedelta(seconds=29))
        assert set(almost.assignments[a_id]) == held_by_a
        later = build_snapshot(session, PING, set(), now=now + timedelta(seconds=31))
        assert a_id not in later.assignments
        assert set(later.assignments[b_id]) == set(ids)
        assert all(later.placement[m] == {"us-east": b_id} for m in ids)
    engine.dispose()


def test_deleted_and_paused_monitors_are_not_assigned(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        org = create_organization(session, "acme")
        probe, _ = create_probe(session, "a", "eu-west")
        probe.last_seen_at = utcnow()
        kept = create_monitor(session, org.id, name="kept", type="http", url="http://a.example/")
        create_monitor(
            session, org.id, name="paused", type="http", url="http://b.example/", paused=True
        )
        create_monitor(
            session, org.id, name="gone", type="http", url="http://c.example/", deleted_at=utcnow()
        )
        probe_id, kept_id = probe.id, kept.id
    with sessions() as session:
        snapshot = build_snapshot(session, PING, set())
    assert set(snapshot.assignments[probe_id]) == {kept_id}
    engine.dispose()
