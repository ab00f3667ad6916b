"""Opsgenie Alert API: create an alert with an alias on an outage, close it by alias on
recovery."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from picket.collector.notify.channels.base import SendContext, join_url, post
from picket.collector.notify.event import NotifyEvent


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: SecretStr
    # https://api.eu.opsgenie.com for the EU instance.
    api_base_url: str = Field(default="https://api.opsgenie.com", pattern=r"^https?://")
    priority: Literal["P1", "P2", "P3", "P4", "P5"] = "P1"
    tags: list[str] = Field(default_factory=list)


def build_payload(config: Config, event: NotifyEvent) -> dict[str, Any]:
    if event.is_recovery:
        return {"source": "Picket", "note": event.text()[:25000]}
    details = {
        f"region.{region}": "ok" if vote["ok"] else f"{vote['error_kind']}: {vote['error']}"
        for region, vote in event.regions.items()
    }
    details["event"] = event.type
    if event.incident_url:
        details["incident_url"] = event.incident_url
    return {
        "message": event.title()[:130],
        "alias": event.alert_key,
        "description": event.text()[:15000],
        "priority": "P3" if event.type in {"monitor.degraded", "ssl.expiring"} else config.priority,
        "source": "Picket",
        "entity": event.monitor["name"],
        "tags": [*config.tags, event.type],
        "details": details,
    }


async def send(config: Config, event: NotifyEvent, ctx: SendContext) -> None:
    if event.is_recovery:
        path = f"/v2/alerts/{quote(event.alert_key, safe='')}/close?identifierType=alias"
    else:
        path = "/v2/alerts"
    await post(
        ctx,
        join_url(config.api_base_url, path),
        json_body=build_payload(config, event),
        headers={"Authorization": f"GenieKey {config.api_key.get_secret_value()}"},
        what="opsgenie",
    )
