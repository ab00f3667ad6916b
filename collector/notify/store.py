"""Notification state in the database: routing outbox events into deliveries, running
escalations, claiming a delivery before it is sent and recording what happened after.

Plain functions over a session; the caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from picket.collector.notify.channels import CHANNELS, ChannelKind, DeliveryError
from picket.collector.notify.event import TRIGGERS, NotifyEvent
from picket.collector.notify.routing import escalation_delays, rule_matches
from picket.collector.notify.secretbox import SecretBox, SecretBoxError
from picket.db.models import Event, Incident, Monitor
from picket.db.models_notify import (
    Delivery,
    Escalation,
    EscalationPolicy,
    NotificationChannel,
    NotificationRule,
)

OPEN_STATUSES = ("pending", "retrying", "sending")


# --- channel settings -------------------------------------------------------------------


def split_config(kind: ChannelKind, config: BaseModel) -> tuple[dict[str, Any], dict[str, str]]:
    """A validated config as (public settings, secret settings)."""
    public = config.model_dump(mode="json", exclude=set(kind.secret_fields))
    secrets: dict[str, str] = {}
    for name in kind.secret_fields:
        value = getattr(config, name)
        if value is not None:
            secrets[name] = value.get_secret_value()
    return public, secrets


def validate_config(
    kind: ChannelKind, config: dict[str, Any], previous_secrets: dict[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate a config as sent (secret fields omitted keep their stored value); raises
    pydantic's ValidationError."""
    merged = {**(previous_secrets or {}), **config}
    return split_config(kind, kind.config.model_validate(merged))


def create_channel(
    session: Session,
    organization_id: str,
    *,
    name: str,
    type: str,
    config: dict[str, Any],
    box: SecretBox,
    enabled: bool = True,
) -> NotificationChannel:
    public, secrets = validate_config(CHANNELS[type], config)
    channel = NotificationChannel(
        organization_id=organization_id,
        name=name,
        type=type,
        config=public,
        sealed_secrets=box.seal(secrets),
        enabled=enabled,
    )
    session.add(channel)
    session.flush()
    return channel


def _secret_parts(secret: str) -> list[str]:
    """A secret and, for a secret URL, the parts a service may echo back on their own."""
    url = urlsplit(secret)
    if not (url.scheme in {"http", "https"} and url.netloc):
        return [secret] if len(secret) >= 4 else []
    # Tokens in webhook URLs are long; short segments ("api", "services") are not secret.
    pieces = [url.path, url.query, *url.path.split("/"), *url.query.split("&")]
    return [secret, *(p for p in pieces if len(p) >= 12)]


def redact(message: str, secrets: list[str]) -> str:
    """Belt and braces: whatever an error message says, no secret value survives in it."""
    for part in sorted({p for s in secrets for p in _secret_parts(s)}, key=len, reverse=True):
        message = message.replace(part, "***")
    return message


def mark_failing(channel: NotificationChannel, reason: str, now: datetime) -> None:
    if not channel.failing:
        channel.failing_since = now
    channel.failing = True
    channel.failing_reason = reason


# --- routing ----------------------------------------------------------------------------


def notify_event(event: Event, api_public_url: str = "") -> NotifyEvent:
    return NotifyEvent.from_outbox(
        uid=event.uid,
        type=event.type,
        payload=event.payload,
        created_at=event.created_at,
        monitor_id=event.monitor_id,
        incident_id=event.incident_id,
        api_public_url=api_public_url,
    )


class _Router:
    """Routes one event; remembers the channels it already wrote a delivery for."""

    def __init__(self, session: Session, event: Event, now: datetime) -> None:
        self.session = session
        self.event = event
        self.now = now
        self.written: set[str] = set()

    def deliver(
        self,
        channel_id: str,
        *,
        reason: str = "event",
        dedupe_key: str | None = None,
        escalation: Escalation | None = None,
        step: int | None = None,
    ) -> bool:
        key = dedupe_key or f"{self.event.uid}:{channel_id}"
        if key in self.written:
            return False
        channel = self.session.get(NotificationChannel, channel_id)
        organization_id = self.event.organization_id
        if (
            channel is None
            or channel.deleted_at is not None
            or not channel.enabled
            or (organization_id and channel.organization_id != organization_id)
        ):
            return False
        if self.session.scalar(select(Delivery.id).where(Delivery.dedupe_key == key)):
            self.written.add(key)
            return False
        self.session.add(
            Delivery(
                organization_id=channel.organization_id,
                channel_id=channel.id,
                event_id=self.event.id,
                event_uid=self.event.uid,
                event_type=self.event.type,
                reason=reason,
                escalation_id=escalation.id if escalation else None,
                escalation_step=step,
                dedupe_key=key,
                status="pending",
                next_attempt_at=self.now,
                created_at=self.now,
                updated_at=self.now,
            )
        )
        self.written.add(key)
        return True


def _matching_escalations(session: Session, event: Event) -> list[Escalation]:
    conditions = []
    if event.incident_id:
        conditions.append(Escalation.incident_id == event.incident_id)
    if event.monitor_id:
        conditions.append(Escalation.monitor_id == event.monitor_id)
    if not conditions:
        return []
    return list(
        session.scalars(
            select(Escalation)
            .where(Escalation.status.in_(("active", "acknowledged")), or_(*conditions))
            .order_by(Escalation.started_at)
        )
    )


def _auto_acknowledge(session: Session, escalation: Escalation, now: datetime) -> None:
    escalation.acknowledged_at = escalation.acknowledged_at or now
    if escalation.incident_id:
        incident = session.get(Incident, escalation.incident_id)
        if incident is not None and incident.acknowledged_at is None:
            incident.acknowledged_at = now
            incident.acknowledged_by = "picket (recovered)"


def _recover(router: _Router) -> None:
    """Recovery ends every escalation of the outage, whatever rule started it, and tells
    every channel it already paged."""
    for escalation in _matching_escalations(router.session, router.event):
        _auto_acknowledge(router.session, escalation, router.now)
        escalation.status = "resolved"
        escalation.resolved_at = router.now
        escalation.next_fire_at = None
        for channel_id in escalation.notified_channel_ids:
            router.deliver(channel_id, reason="resolution", escalation=escalation)


def _fire_due_steps(
    router: _Router, escalation: Escalation, policy: EscalationPolicy, now: datetime
) -> None:
    steps = policy.steps
    delays = escalation_delays(steps)
    notified = list(escalation.notified_channel_ids)
    while escalation.next_step < len(steps) and (
        escalation.next_fire_at is None or escalation.next_fire_at <= now
    ):
        index = escalation.next_step
        for channel_id in steps[index].get("channel_ids", []):
            if channel_id not in notified:
                router.deliver(
                    channel_id, reason="escalation", escalation=escalation, step=index + 1
                )
                notified.append(channel_id)
        escalation.next_step = index + 1
        if escalation.next_step < len(steps):
            # The wait counts from when this step was due, so a late tick does not
            # stretch the whole policy.
            fired_at = escalation.next_fire_at or now
            escalation.next_fire_at = fired_at + timedelta(minutes=delays[escalation.next_step])
        elif policy.repeat_every_minutes:
            escalation.next_fire_at = now + timedelta(minutes=policy.repeat_every_minutes)
        else:
            escalation.next_fire_at = None
    escalation.notified_channel_ids = notified


def _start_or_join_escalation(router: _Router, policy: EscalationPolicy) -> None:
    event = router.event
    existing = [e for e in _matching_escalations(router.session, event) if e.policy_id == policy.id]
    if existing:
        if event.type not in TRIGGERS:
            for channel_id in existing[0].notified_channel_ids:
                router.deliver(channel_id, escalation=existing[0])
        return
    if event.type not in TRIGGERS:
        # Not an outage of its own (degraded, ssl.expiring...): the first step hears it.
        first = policy.steps[0].get("channel_ids", []) if policy.steps else []
        for channel_id in first:
            router.deliver(channel_id)
        return
    escalation = Escalation(
        organization_id=policy.organization_id,
        policy_id=policy.id,
        event_id=event.id,
        monitor_id=event.monitor_id,
        incident_id=event.incident_id,
        status="active",
        next_step=0,
        next_fire_at=None,
        notified_channel_ids=[],
        started_at=router.now,
    )
    router.session.add(escalation)
    router.session.flush()
    _fire_due_steps(router, escalation, policy, router.now)


def route_event(session: Session, event: Event, now: datetime) -> None:
    router = _Router(session, event, now)
    notify = notify_event(event)
    if notify.is_recovery:
        _recover(router)
    tags: list[str] = []
    if event.monitor_id:
        monitor = session.get(Monitor, event.monitor_id)
        tags = list(monitor.tags or []) if monitor is not None else []
    stmt = select(NotificationRule).where(NotificationRule.enabled.is_(True))
    if event.organization_id:
        stmt = stmt.where(NotificationRule.organization_id == event.organization_id)
    for rule in session.scalars(stmt.order_by(NotificationRule.created_at, NotificationRule.id)):
        if not rule_matches(
            rule,
            event.type,
            event.monitor_id,
            tags,
            organization_event=event.organization_id is not None,
        ):
            continue
        for channel_id in rule.channel_ids:
            router.deliver(channel_id)
        if rule.escalation_policy_id:
            policy = session.get(EscalationPolicy, rule.escalation_policy_id)
            if policy is not None:
                _start_or_join_escalation(router, policy)


def dispatch_events(session: Session, now: datetime, limit: int = 200) -> int:
    """Turn undispatched outbox events into deliveries. Returns how many were routed."""
    events = session.scalars(
        select(Event)
        .where(Event.dispatched_at.is_(None))
        .order_by(Event.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for event in events:
        route_event(session, event, now)
        event.dispatched_at = now
    return len(events)


def advance_escalations(session: Session, now: datetime) -> int:
    """Fire the escalation steps and repeats that are due; stop acknowledged ones."""
    due = session.scalars(
        select(Escalation)
        .where(Escalation.status == "active", Escalation.next_fire_at <= now)
        .order_by(Escalation.next_fire_at)
        .with_for_update(skip_locked=True)
    ).all()
    for escalation in due:
        incident = session.get(Incident, escalation.incident_id) if escalation.incident_id else None
        if incident is not None and incident.resolved_at is not None:
            # Resolved without a recovery event reaching us (by hand): stop quietly.
            escalation.status = "resolved"
            escalation.resolved_at = incident.resolved_at
            escalation.next_fire_at = None
            continue
        if incident is not None and incident.acknowledged_at is not None:
            escalation.status = "acknowledged"
            escalation.acknowledged_at = incident.acknowledged_at
            escalation.next_fire_at = None
            continue
        policy = session.get(EscalationPolicy, escalation.policy_id)
        event = session.get(Event, escalation.event_id)
        if policy is None or event is None:
            escalation.status = "resolved"
            escalation.next_fire_at = None
            continue
        router = _Router(session, event, now)
        if escalation.next_step < len(policy.steps):
            _fire_due_steps(router, escalation, policy, now)
        elif policy.repeat_every_minutes:
            escalation.repeats += 1
            for channel_id in escalation.notified_channel_ids:
                router.deliver(
                    channel_id,
                    reason="repeat",
                    dedupe_key=f"{event.uid}:{channel_id}:repeat:{escalation.repeats}",
                    escalation=escalation,
                )
            escalation.next_fire_at = now + timedelta(minutes=policy.repeat_every_minutes)
        else:
            escalation.next_fire_at = None
    return len(due)


# --- delivery ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A delivery taken for one attempt, with everything the send needs."""

    delivery_id: int
    channel_id: str
    kind: ChannelKind
    config: BaseModel
    event: NotifyEvent
    attempt: int
    secrets: tuple[str, ...]


def _is_due(delivery: Delivery, now: datetime) -> bool:
    if delivery.status == "sending":
        # A worker that claimed it and never recorded the outcome has crashed.
        return delivery.locked_until is not None and delivery.locked_until <= now
    return delivery.next_attempt_at <= now


def due_channels(session: Session, now: datetime) -> list[str]:
    """Channels whose oldest open delivery can be attempted now. Deliveries to a channel go
    in order, so a later message never overtakes an earlier one being retried."""
    heads: dict[str, Delivery] = {}
    for delivery in session.scalars(
        select(Delivery).where(Delivery.status.in_(OPEN_STATUSES)).order_by(Delivery.id)
    ):
        heads.setdefault(delivery.channel_id, delivery)
    return [channel_id for channel_id, head in heads.items() if _is_due(head, now)]


def _fail_without_sending(
    delivery: Delivery, message: str, now: datetime, *, permanent: bool = True
) -> None:
    delivery.status = "failed"
    delivery.last_error = message
    delivery.error_permanent = permanent
    delivery.locked_until = None
    delivery.updated_at = now


def claim_next(
    session: Session,
    channel_id: str,
    now: datetime,
    *,
    box: SecretBox,
    lease: timedelta,
    max_attempts: int,
    api_public_url: str = "",
) -> Claim | None:
    """Take the channel's oldest open delivery for one attempt, if it is due, and record
    the attempt before anything is sent. None when nothing is due."""
    while True:
        head = session.scalar(
            select(Delivery)
            .where(Delivery.channel_id == channel_id, Delivery.status.in_(OPEN_STATUSES))
            .order_by(Delivery.id)
            .limit(1)
        )
        if head is None or not _is_due(head, now):
            return None
        channel = session.get(NotificationChannel, channel_id)
        if channel is None or channel.deleted_at is not None or not channel.enabled:
            _fail_without_sending(head, "channel was deleted or disabled", now)
            continue
        if channel.failing:
            _fail_without_sending(head, f"channel is failing: {channel.failing_reason}", now)
            continue
        if head.status == "sending" and head.attempts >= max_attempts:
            _fail_without_sending(
                head,
                "the worker stopped during the last attempt; its outcome is unknown",
                now,
                permanent=False,
            )
            continue
        taken = session.execute(
            update(Delivery)
            .where(
                Delivery.id == head.id,
                Delivery.status == head.status,
                Delivery.attempts == head.attempts,
            )
            .values(
                status="sending",
                attempts=head.attempts + 1,
                locked_until=now + lease,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:
            return None  # another collector took it
        session.refresh(head)
        try:
            secrets = box.open(channel.sealed_secrets)
            config = CHANNELS[channel.type].config.model_validate({**channel.config, **secrets})
        except (SecretBoxError, ValidationError, KeyError) as exc:
            reason = (
                str(exc)
                if isinstance(exc, SecretBoxError)
                else f"channel config no longer valid for type {channel.type!r}"
            )
            _fail_without_sending(head, reason, now)
            mark_failing(channel, reason, now)
            continue
        event_row = session.get(Event, head.event_id) if head.event_id else None
        if event_row is None:
            _fail_without_sending(head, "the event is gone", now)
            continue
        event = notify_event(event_row, api_public_url)
        if head.reason == "escalation" and head.escalation_step and head.escalation_step > 1:
            event = replace(event, escalation_step=head.escalation_step)
        return Claim(
            delivery_id=head.id,
            channel_id=channel.id,
            kind=CHANNELS[channel.type],
            config=config,
            event=event,
            attempt=head.attempts,
            secrets=tuple(secrets.values()),
        )


def renew_claim(session: Session, claim: Claim, until: datetime) -> None:
    """Extend the claim of an attempt still in flight (only that attempt's)."""
    session.execute(
        update(Delivery)
        .where(
            Delivery.id == claim.delivery_id,
            Delivery.status == "sending",
            Delivery.attempts == claim.attempt,
        )
        .values(locked_until=until)
        .execution_options(synchronize_session=False)
    )


def record_outcome(
    session: Session,
    claim: Claim,
    error: DeliveryError | None,
    now: datetime,
    *,
    retry_delays: tuple[float, ...],
    max_attempts: int,
) -> str:
    """Record the attempt's outcome; returns the delivery's new status."""
    delivery = session.get(Delivery, claim.delivery_id)
    if delivery is None or delivery.status != "sending":
        return delivery.status if delivery else "failed"
    delivery.locked_until = None
    delivery.updated_at = now
    if error is None:
        delivery.status = "delivered"
        delivery.delivered_at = now
        delivery.last_error = None
        delivery.error_permanent = False
        return delivery.status
    message = redact(error.message, list(claim.secrets))
    delivery.last_error = message
    delivery.error_permanent = error.permanent
    if error.permanent:
        delivery.status = "failed"
        channel = session.get(NotificationChannel, claim.channel_id)
        if channel is not None:
            mark_failing(channel, message, now)
    elif delivery.attempts >= max_attempts:
        delivery.status = "failed"
        delivery.last_error = f"gave up after {delivery.attempts} attempts: {message}"
    else:
        delivery.status = "retrying"
        delay = retry_delays[min(delivery.attempts - 1, len(retry_delays) - 1)]
        delivery.next_attempt_at = now + timedelta(seconds=delay)
    return delivery.status
