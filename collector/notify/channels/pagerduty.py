"""PagerDuty Events API v2: trigger on an outage, resolve on recovery, one dedup key for
both so they land on the same PagerDuty incident."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from picket.collector.notify.channels.base import SendContext, join_url, post
from picket.collector.notify.event import NotifyEvent


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    routing_key: SecretStr
    api_base_url: str = Field(default="https://events.pagerduty.com", pattern=r"^https?://")
    severity: Literal["critical", "error", "warning", "info"] = "critical"


def _severity(config: Config, event: NotifyEvent) -> str:
    if event.type in {"monitor.degraded", "ssl.expiring", "incident.updated"}:
        return "warning"
    return config.severity


def build_payload(config: Config, event: NotifyEvent) -> dict[str, Any]:
    body: dict[str, Any] = {
        "routing_key": config.routing_key.get_secret_value(),
        "event_action": "resolve" if event.is_recovery else "trigger",
        "dedup_key": event.alert_key,
        "client": "Picket",
    }
    if event.incident_url:
        body["client_url"] = event.incident_url
        body["links"] = [{"href": event.incident_url, "text": "Incident in Picket"}]
    if not event.is_recovery:
        body["payload"] = {
            "summary": event.title()[:1024],
            "source": event.monitor.get("url") or event.monitor["name"],
            "severity": _severity(config, event),
            "timestamp": event.timestamp,
            "component": event.monitor["name"],
            "class": event.type,
            "custom_details": {"event": event.type, "regions": event.regions, **event.extra},
        }
    return body


async def send(config: Config, event: NotifyEvent, ctx: SendContext) -> None:
    await post(
        ctx,
        join_url(config.api_base_url, "/v2/enqueue"),
        json_body=build_payload(config, event),
        what="pagerduty",
    )
