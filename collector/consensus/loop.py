"""What changes with time alone, with no new result to trigger it.

Every `every_s` the loop re-decides the monitors whose decision may have aged: votes that
went stale (an up or degraded monitor not evaluated for a whole interval), a maintenance
window that began or ended, a monitor paused or resumed. Every `sick_every_s` it compares
each probe that failed recently with the other regions and sets sick probes aside (or
re-admits them), then re-decides the monitors they check.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from picket.collector.consensus import events as ev
from picket.collector.consensus.decision import DEGRADED, MAINTENANCE, PAUSED, UP
from picket.collector.consensus.engine import Evaluator
from picket.collector.consensus.sick import Comparison, assess
from picket.db.engine import transaction
from picket.db.models import CheckResult, Monitor, MonitorState, Probe
from picket.db.types import utcnow
from picket.maintenance import load_windows, monitors_in_maintenance
from picket.specs import PUSH_TYPES

log = logging.getLogger(__name__)


def monitors_due(session: Session, now: datetime) -> list[str]:
    """Monitors whose state may be out of date although no result arrived."""
    covered = monitors_in_maintenance(load_windows(session), now)
    rows = session.execute(
        select(
            Monitor.id,
            Monitor.interval_seconds,
            Monitor.paused,
            MonitorState.status,
            MonitorState.updated_at,
        )
        .outerjoin(MonitorState, MonitorState.monitor_id == Monitor.id)
        # Push monitors (heartbeats) have no regions' votes; their own evaluator owns them.
        .where(Monitor.deleted_at.is_(None), Monitor.type.not_in(PUSH_TYPES))
    ).all()
    due = []
    for monitor_id, interval_s, paused, status, updated_at in rows:
        if (
            status is None
            or paused != (status == PAUSED)
            or (not paused and (monitor_id in covered) != (status == MAINTENANCE))
            # Down never ends by silence (it needs successes), so only these can age.
            or (status in (UP, DEGRADED) and updated_at <= now - timedelta(seconds=interval_s))
        ):
            due.append(monitor_id)
    return due


def check_probes(session: Session, now: datetime, window: timedelta) -> set[str]:
    """Mark sick probes unhealthy and re-admit recovered ones; returns monitors to
    re-decide because a probe's votes now count differently."""
    cutoff = now - window
    suspects = set(
        session.scalars(
            select(CheckResult.probe_id)
            .where(CheckResult.scheduled_at >= cutoff, CheckResult.ok.is_(False))
            .distinct()
        )
    )
    suspects |= set(session.scalars(select(Probe.id).where(Probe.unhealthy.is_(True))))
    if not suspects:
        return set()
    # Locked so that two collectors judging the same probe report it once.
    query = select(Probe).where(Probe.id.in_(sorted(suspects))).order_by(Probe.id)
    probes = {p.id: p for p in session.scalars(query.with_for_update())}
    watched = (
        select(CheckResult.monitor_id)
        .where(CheckResult.scheduled_at >= cutoff, CheckResult.probe_id.in_(list(probes)))
        .distinct()
    )
    rows = session.execute(
        select(CheckResult.monitor_id, CheckResult.region, CheckResult.probe_id, CheckResult.ok)
        .where(CheckResult.scheduled_at >= cutoff, CheckResult.monitor_id.in_(watched))
        .order_by(CheckResult.scheduled_at.desc())
    ).all()
    by_probe: dict[str, dict[str, bool]] = defaultdict(dict)  # probe -> monitor -> latest ok
    by_region: dict[str, dict[str, bool]] = defaultdict(dict)  # monitor -> region -> latest ok
    for monitor_id, region, probe_id, ok in rows:
        by_probe[probe_id].setdefault(monitor_id, ok)
        by_region[monitor_id].setdefault(region, ok)

    touched: set[str] = set()
    for probe in probes.values():
        comparisons = []
        for monitor_id, ok in by_probe.get(probe.id, {}).items():
            others = [o for region, o in by_region[monitor_id].items() if region != probe.region]
            if others:
                comparisons.append(Comparison(monitor_id, ok, any(others)))
        verdict = assess(comparisons, currently_unhealthy=probe.unhealthy)
        if verdict.unhealthy == probe.unhealthy:
            continue
        probe.unhealthy = verdict.unhealthy
        probe.unhealthy_since = now if verdict.unhealthy else None
        touched.update(by_probe.get(probe.id, {}))
        if verdict.unhealthy:
            log.warning(
                "probe %s (%s) set aside: failed %d of %d monitors other regions see up",
                probe.id,
                probe.region,
                verdict.disagreed,
                verdict.compared,
            )
            ev.probe_unhealthy_event(
                session,
                probe,
                at=now,
                compared=verdict.compared,
                disagreed=verdict.disagreed,
                monitor_ids=[c.monitor_id for c in comparisons if not c.probe_ok and c.others_ok],
            )
        else:
            log.warning("probe %s (%s) re-admitted", probe.id, probe.region)
    session.flush()
    return touched


class ConsensusLoop:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime] = utcnow,
        every_s: float = 1.0,
        sick_every_s: float = 5.0,
        sick_window_s: float = 180.0,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.every_s = every_s
        self.sick_every = timedelta(seconds=sick_every_s)
        self.sick_window = timedelta(seconds=sick_window_s)
        self._last_sick_check: datetime | None = None

    def tick(self) -> None:
        now = self.clock()
        with transaction(self.sessions) as session:
            touched: set[str] = set()
            if self._last_sick_check is None or now - self._last_sick_check >= self.sick_every:
                self._last_sick_check = now
                touched = check_probes(session, now, self.sick_window)
            due = touched | set(monitors_due(session, now))
            if due:
                Evaluator(session, now).evaluate(due)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.tick)
            except Exception:
                log.exception("consensus re-evaluation failed; retrying")
            try:
                await asyncio.wait_for(stop.wait(), self.every_s)
            except TimeoutError:
                pass
