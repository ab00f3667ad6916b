"""/api/v1/notifications: channels, routing rules, escalation policies, deliveries."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from picket.api.audit import audit
from picket.api.auth import Principal
from picket.api.deps import PageDep, SessionDep, SettingsDep, get_owned, require
from picket.api.pagination import Page, paginate
from picket.api.schemas.notifications import (
    ChannelCreate,
    ChannelPublic,
    ChannelTestResult,
    ChannelUpdate,
    DeliveryPublic,
    DeliveryStatus,
    PolicyCreate,
    PolicyPublic,
    PolicyUpdate,
    RuleCreate,
    RulePublic,
    RuleUpdate,
)
from picket.collector.notify.channels import CHANNELS, ChannelKind, DeliveryError, SendContext
from picket.collector.notify.event import NotifyEvent
from picket.collector.notify.secretbox import SecretBox, SecretBoxError
from picket.collector.notify.store import create_channel, redact, validate_config
from picket.db.models import Monitor
from picket.db.models_notify import (
    Delivery,
    EscalationPolicy,
    NotificationChannel,
    NotificationRule,
)
from picket.db.types import utcnow
from picket.settings import Settings
from picket.targets import TargetError, screen_monitor_target

router = APIRouter(prefix="/notifications", tags=["notifications"])

Reader = Annotated[Principal, Depends(require("notifications:read"))]
Writer = Annotated[Principal, Depends(require("notifications:write"))]

TEST_SEND_TIMEOUT_S = 10.0


# --- channels ---------------------------------------------------------------------------


def _kind(type_: str) -> ChannelKind:
    kind = CHANNELS.get(type_)
    if kind is None:
        raise HTTPException(
            422, f"type: unknown channel type {type_!r}; known: {', '.join(sorted(CHANNELS))}"
        )
    return kind


def _config_error(exc: ValidationError) -> HTTPException:
    # loc and msg only: pydantic's error also carries the input, which may be a secret.
    err = exc.errors()[0]
    where = ".".join(str(p) for p in ("config", *err["loc"]))
    return HTTPException(422, f"{where}: {err['msg']}")


def _screen_targets(kind: ChannelKind, config: BaseModel, settings: Settings) -> None:
    """The collector sends where the config points: the same SSRF policy as checks."""
    for name in kind.config.model_fields:
        value = getattr(config, name)
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if not isinstance(value, str):
            continue
        try:
            if name.endswith("url"):
                screen_monitor_target("http", value, allow_private=settings.allow_private_targets)
            elif name == "host":
                screen_monitor_target("tcp", value, allow_private=settings.allow_private_targets)
        except TargetError as exc:
            raise HTTPException(422, f"config.{name}: {exc}") from None


def _validated(
    kind: ChannelKind,
    config: dict[str, Any],
    settings: Settings,
    previous_secrets: dict[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    try:
        public, secrets = validate_config(kind, config, previous_secrets)
        _screen_targets(kind, kind.config.model_validate({**public, **secrets}), settings)
    except ValidationError as exc:
        raise _config_error(exc) from None
    return public, secrets


def channel_public(channel: NotificationChannel, box: SecretBox) -> dict[str, Any]:
    kind = CHANNELS.get(channel.type)
    try:
        secret_names = sorted(box.open(channel.sealed_secrets))
    except SecretBoxError:
        secret_names = []
    public_config = {
        k: v for k, v in channel.config.items() if not kind or k not in kind.secret_fields
    }
    return {
        "id": channel.id,
        "name": channel.name,
        "type": channel.type,
        "config": public_config,
        "secret_fields_set": secret_names,
        "enabled": channel.enabled,
        "failing": channel.failing,
        "failing_reason": channel.failing_reason,
        "failing_since": channel.failing_since,
        "created_at": channel.created_at,
        "updated_at": channel.updated_at,
    }


@router.get(
    "/channel-types",
    summary="Every channel type with the JSON schema of its config (scope notifications:read)",
)
def channel_types(principal: Reader) -> dict[str, Any]:
    return {
        "data": [
            {
                "type": name,
                "secret_fields": sorted(kind.secret_fields),
                "config_schema": kind.config.model_json_schema(),
            }
            for name, kind in sorted(CHANNELS.items())
        ]
    }


@router.post(
    "/channels",
    status_code=201,
    response_model=ChannelPublic,
    summary="Create a channel; secrets in config are write-only (scope notifications:write)",
)
def create_channel_route(
    body: ChannelCreate, session: SessionDep, settings: SettingsDep, principal: Writer
) -> dict[str, Any]:
    kind = _kind(body.type)
    _validated(kind, body.config, settings)
    box = SecretBox(settings.secret_key)
    channel = create_channel(
        session,
        principal.organization_id,
        name=body.name,
        type=body.type,
        config=body.config,
        box=box,
        enabled=body.enabled,
    )
    audit(
        session,
        principal,
        "notification_channel.create",
        "notification_channel",
        channel.id,
        name=channel.name,
        type=channel.type,
    )
    session.commit()
    return channel_public(channel, box)


@router.get(
    "/channels",
    response_model=Page[ChannelPublic],
    summary="List channels (scope notifications:read)",
)
def list_channels(
    session: SessionDep,
    settings: SettingsDep,
    principal: Reader,
    params: PageDep,
    type: str | None = None,
) -> dict[str, Any]:
    stmt = (
        select(NotificationChannel)
        .where(
            NotificationChannel.organization_id == principal.organization_id,
            NotificationChannel.deleted_at.is_(None),
        )
        .order_by(NotificationChannel.created_at, NotificationChannel.id)
    )
    if type:
        stmt = stmt.where(NotificationChannel.type == type)
    box = SecretBox(settings.secret_key)
    return paginate(session, stmt, params, lambda c: channel_public(c, box))


@router.get(
    "/channels/{channel_id}",
    response_model=ChannelPublic,
    summary="Get a channel (scope notifications:read)",
)
def get_channel(
    channel_id: str, session: SessionDep, settings: SettingsDep, principal: Reader
) -> dict[str, Any]:
    channel = get_owned(session, NotificationChannel, channel_id, principal)
    return channel_public(channel, SecretBox(settings.secret_key))


@router.patch(
    "/channels/{channel_id}",
    response_model=ChannelPublic,
    summary="Change a channel; a config change clears 'failing' (scope notifications:write)",
)
def patch_channel(
    channel_id: str,
    body: ChannelUpdate,
    session: SessionDep,
    settings: SettingsDep,
    principal: Writer,
) -> dict[str, Any]:
    channel = get_owned(session, NotificationChannel, channel_id, principal)
    box = SecretBox(settings.secret_key)
    sent = body.model_dump(exclude_unset=True)
    if sent.get("name") is not None:
        channel.name = sent["name"]
    if sent.get("enabled") is not None:
        channel.enabled = sent["enabled"]
    if body.config is not None:
        kind = _kind(channel.type)
        try:
            previous = box.open(channel.sealed_secrets)
        except SecretBoxError:
            previous = {}
        public, secrets = _validated(kind, {**channel.config, **body.config}, settings, previous)
        channel.config = public
        channel.sealed_secrets = box.seal(secrets)
        channel.failing = False
        channel.failing_reason = None
        channel.failing_since = None
    channel.updated_at = utcnow()
    # Field names only: the values may be secrets.
    audit(
        session,
        principal,
        "notification_channel.update",
        "notification_channel",
        channel.id,
        fields=sorted(sent),
        config_keys=sorted(body.config or {}),
    )
    session.commit()
    return channel_public(channel, box)


@router.delete(
    "/channels/{channel_id}",
    status_code=204,
    summary="Delete a channel; its delivery history stays (scope notifications:write)",
)
def delete_channel(channel_id: str, session: SessionDep, principal: Writer) -> None:
    channel = get_owned(session, NotificationChannel, channel_id, principal)
    channel.deleted_at = channel.updated_at = utcnow()
    audit(session, principal, "notification_channel.delete", "notification_channel", channel.id)
    session.commit()


async def _send_once(
    kind: ChannelKind, config: BaseModel, event: NotifyEvent
) -> DeliveryError | None:
    async with httpx.AsyncClient(follow_redirects=False) as http:
        ctx = SendContext(http=http, timeout_s=TEST_SEND_TIMEOUT_S)
        try:
            async with asyncio.timeout(TEST_SEND_TIMEOUT_S + 5):
                await kind.send(config, event, ctx)
        except DeliveryError as exc:
            return exc
        except TimeoutError:
            return DeliveryError(f"{kind.name}: timed out", permanent=False)
        except Exception as exc:  # a channel bug is reported as a failed test, not a 500
            return DeliveryError(f"{kind.name}: unexpected {type(exc).__name__}", permanent=False)
    return None


def delivery_public(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "channel_id": delivery.channel_id,
        "event_id": delivery.event_uid,
        "event_type": delivery.event_type,
        "reason": delivery.reason,
        "escalation_step": delivery.escalation_step,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_error": delivery.last_error,
        "error_permanent": delivery.error_permanent,
        "next_attempt_at": delivery.next_attempt_at if delivery.status == "retrying" else None,
        "created_at": delivery.created_at,
        "updated_at": delivery.updated_at,
        "delivered_at": delivery.delivered_at,
    }


@router.post(
    "/channels/{channel_id}/test",
    response_model=ChannelTestResult,
    summary="Send a test message now and report the outcome (scope notifications:write)",
)
def test_channel(
    channel_id: str, session: SessionDep, settings: SettingsDep, principal: Writer
) -> dict[str, Any]:
    channel = get_owned(session, NotificationChannel, channel_id, principal)
    kind = _kind(channel.type)
    box = SecretBox(settings.secret_key)
    try:
        secrets = box.open(channel.sealed_secrets)
        config = kind.config.model_validate({**channel.config, **secrets})
    except SecretBoxError as exc:
        raise HTTPException(409, f"the channel's secrets cannot be read: {exc}") from None
    except ValidationError:
        raise HTTPException(409, "the channel's config is no longer valid; PATCH it") from None
    event = _test_event(settings)
    now = utcnow()
    delivery = Delivery(
        organization_id=channel.organization_id,
        channel_id=channel.id,
        event_uid=event.uid,
        event_type="test",
        reason="test",
        dedupe_key=event.uid,
        status="sending",
        attempts=1,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(delivery)
    audit(session, principal, "notification_channel.test", "notification_channel", channel.id)
    # Recorded before it is sent, like every delivery.
    session.commit()
    error = asyncio.run(_send_once(kind, config, event))
    delivery.updated_at = utcnow()
    if error is None:
        delivery.status = "delivered"
        delivery.delivered_at = delivery.updated_at
        channel.failing = False
        channel.failing_reason = None
        channel.failing_since = None
    else:
        delivery.status = "failed"
        delivery.last_error = redact(error.message, list(secrets.values()))
        delivery.error_permanent = error.permanent
    session.commit()
    return {
        "ok": error is None,
        "error": delivery.last_error,
        "permanent": None if error is None else error.permanent,
        "delivery": delivery_public(delivery),
    }


def _test_event(settings: Settings) -> NotifyEvent:
    now = datetime.now(UTC)
    event = NotifyEvent.from_outbox(
        uid=f"test{uuid.uuid4().hex[:28]}",
        type="monitor.down",
        payload={
            "monitor": {
                "id": "test",
                "name": "Picket test notification",
                "url": "https://example.com",
                "type": "http",
            },
            "regions": {
                "us-east": {"ok": False, "error_kind": "connect", "error": "connection refused"},
                "eu-west": {"ok": True},
            },
            "timestamp": now.isoformat(),
        },
        created_at=now,
        api_public_url=settings.api_public_url,
    )
    return NotifyEvent(**{**event.__dict__, "test": True})


# --- deliveries -------------------------------------------------------------------------


@router.get(
    "/deliveries",
    response_model=Page[DeliveryPublic],
    summary="Every delivery attempt, newest first (scope notifications:read)",
)
def list_deliveries(
    session: SessionDep,
    principal: Reader,
    params: PageDep,
    channel_id: str | None = None,
    status: DeliveryStatus | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    stmt = select(Delivery).where(Delivery.organization_id == principal.organization_id)
    if channel_id:
        stmt = stmt.where(Delivery.channel_id == channel_id)
    if status:
        stmt = stmt.where(Delivery.status == status)
    if event_id:
        stmt = stmt.where(Delivery.event_uid == event_id)
    stmt = stmt.order_by(Delivery.created_at.desc(), Delivery.id.desc())
    return paginate(session, stmt, params, delivery_public)


# --- escalation policies ----------------------------------------------------------------


def _check_channels(session: Session, principal: Principal, ids: list[str], field: str) -> None:
    found = set(
        session.scalars(
            select(NotificationChannel.id).where(
                NotificationChannel.id.in_(ids),
                NotificationChannel.organization_id == principal.organization_id,
                NotificationChannel.deleted_at.is_(None),
            )
        )
    )
    missing = [i for i in ids if i not in found]
    if missing:
        raise HTTPException(422, f"{field}: unknown channel(s) {', '.join(missing)}")


def _check_steps(session: Session, principal: Principal, steps: list[Any]) -> None:
    for index, step in enumerate(steps):
        _check_channels(session, principal, step.channel_ids, f"steps.{index}.channel_ids")


@router.post(
    "/escalation-policies",
    status_code=201,
    response_model=PolicyPublic,
    summary="Create an escalation policy (scope notifications:write)",
)
def create_policy(body: PolicyCreate, session: SessionDep, principal: Writer) -> EscalationPolicy:
    _check_steps(session, principal, body.steps)
    policy = EscalationPolicy(
        organization_id=principal.organization_id,
        name=body.name,
        steps=[step.model_dump() for step in body.steps],
        repeat_every_minutes=body.repeat_every_minutes,
    )
    session.add(policy)
    session.flush()
    audit(session, principal, "escalation_policy.create", "escalation_policy", policy.id)
    session.commit()
    return policy


@router.get(
    "/escalation-policies",
    response_model=Page[PolicyPublic],
    summary="List escalation policies (scope notifications:read)",
)
def list_policies(session: SessionDep, principal: Reader, params: PageDep) -> dict[str, Any]:
    stmt = (
        select(EscalationPolicy)
        .where(EscalationPolicy.organization_id == principal.organization_id)
        .order_by(EscalationPolicy.created_at, EscalationPolicy.id)
    )
    return paginate(session, stmt, params, PolicyPublic.model_validate)


@router.get(
    "/escalation-policies/{policy_id}",
    response_model=PolicyPublic,
    summary="Get an escalation policy (scope notifications:read)",
)
def get_policy(policy_id: str, session: SessionDep, principal: Reader) -> EscalationPolicy:
    return get_owned(session, EscalationPolicy, policy_id, principal)


@router.patch(
    "/escalation-policies/{policy_id}",
    response_model=PolicyPublic,
    summary="Change an escalation policy (scope notifications:write)",
)
def patch_policy(
    policy_id: str, body: PolicyUpdate, session: SessionDep, principal: Writer
) -> EscalationPolicy:
    policy = get_owned(session, EscalationPolicy, policy_id, principal)
    sent = body.model_dump(exclude_unset=True)
    if sent.get("name") is not None:
        policy.name = sent["name"]
    if body.steps is not None:
        _check_steps(session, principal, body.steps)
        policy.steps = [step.model_dump() for step in body.steps]
    if "repeat_every_minutes" in sent:
        policy.repeat_every_minutes = sent["repeat_every_minutes"]
    policy.updated_at = utcnow()
    audit(
        session,
        principal,
        "escalation_policy.update",
        "escalation_policy",
        policy.id,
        fields=sorted(sent),
    )
    session.commit()
    return policy


@router.delete(
    "/escalation-policies/{policy_id}",
    status_code=204,
    summary="Delete an escalation policy no rule uses (scope notifications:write)",
)
def delete_policy(policy_id: str, session: SessionDep, principal: Writer) -> None:
    policy = get_owned(session, EscalationPolicy, policy_id, principal)
    users = list(
        session.scalars(
            select(NotificationRule.id).where(NotificationRule.escalation_policy_id == policy.id)
        )
    )
    if users:
        raise HTTPException(409, f"the policy is used by rule(s) {', '.join(users)}")
    audit(session, principal, "escalation_policy.delete", "escalation_policy", policy.id)
    session.delete(policy)
    session.commit()


# --- rules ------------------------------------------------------------------------------


def _check_rule_refs(
    session: Session,
    principal: Principal,
    channel_ids: list[str],
    policy_id: str | None,
    monitor_ids: list[str] | None,
) -> None:
    _check_channels(session, principal, channel_ids, "channel_ids")
    if policy_id is not None:
        policy = session.get(EscalationPolicy, policy_id)
        if policy is None or policy.organization_id != principal.organization_id:
            raise HTTPException(422, f"escalation_policy_id: unknown policy {policy_id}")
    if monitor_ids:
        found = set(
            session.scalars(
                select(Monitor.id).where(
                    Monitor.id.in_(monitor_ids),
                    Monitor.organization_id == principal.organization_id,
                    Monitor.deleted_at.is_(None),
                )
            )
        )
        missing = [i for i in monitor_ids if i not in found]
        if missing:
            raise HTTPException(422, f"monitor_ids: unknown monitor(s) {', '.join(missing)}")


@router.post(
    "/rules",
    status_code=201,
    response_model=RulePublic,
    summary="Route events to channels or an escalation policy (scope notifications:write)",
)
def create_rule(body: RuleCreate, session: SessionDep, principal: Writer) -> NotificationRule:
    _check_rule_refs(
        session, principal, body.channel_ids, body.escalation_policy_id, body.monitor_ids
    )
    rule = NotificationRule(organization_id=principal.organization_id, **body.model_dump())
    session.add(rule)
    session.flush()
    audit(session, principal, "notification_rule.create", "notification_rule", rule.id)
    session.commit()
    return rule


@router.get(
    "/rules", response_model=Page[RulePublic], summary="List rules (scope notifications:read)"
)
def list_rules(session: SessionDep, principal: Reader, params: PageDep) -> dict[str, Any]:
    stmt = (
        select(NotificationRule)
        .where(NotificationRule.organization_id == principal.organization_id)
        .order_by(NotificationRule.created_at, NotificationRule.id)
    )
    return paginate(session, stmt, params, RulePublic.model_validate)


@router.get(
    "/rules/{rule_id}", response_model=RulePublic, summary="Get a rule (scope notifications:read)"
)
def get_rule(rule_id: str, session: SessionDep, principal: Reader) -> NotificationRule:
    return get_owned(session, NotificationRule, rule_id, principal)


@router.patch(
    "/rules/{rule_id}",
    response_model=RulePublic,
    summary="Change a rule (scope notifications:write)",
)
def patch_rule(
    rule_id: str, body: RuleUpdate, session: SessionDep, principal: Writer
) -> NotificationRule:
    rule = get_owned(session, NotificationRule, rule_id, principal)
    sent = body.model_dump(exclude_unset=True)
    for required in ("name", "events", "channel_ids", "enabled"):
        if required in sent and sent[required] is None:
            raise HTTPException(422, f"{required}: may not be null")
    merged = {
        "channel_ids": sent.get("channel_ids", rule.channel_ids),
        "escalation_policy_id": sent.get("escalation_policy_id", rule.escalation_policy_id),
        "monitor_ids": sent.get("monitor_ids", rule.monitor_ids),
    }
    if not merged["channel_ids"] and not merged["escalation_policy_id"]:
        raise HTTPException(422, "channel_ids: give channel_ids, an escalation_policy_id, or both")
    _check_rule_refs(
        session,
        principal,
        merged["channel_ids"],
        merged["escalation_policy_id"],
        merged["monitor_ids"],
    )
    for key, value in sent.items():
        setattr(rule, key, value)
    rule.updated_at = utcnow()
    audit(
        session,
        principal,
        "notification_rule.update",
        "notification_rule",
        rule.id,
        fields=sorted(sent),
    )
    session.commit()
    return rule


@router.delete(
    "/rules/{rule_id}", status_code=204, summary="Delete a rule (scope notifications:write)"
)
def delete_rule(rule_id: str, session: SessionDep, principal: Writer) -> None:
    rule = get_owned(session, NotificationRule, rule_id, principal)
    audit(session, principal, "notification_rule.delete", "notification_rule", rule.id)
    session.delete(rule)
    session.commit()
