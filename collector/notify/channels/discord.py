"""Discord webhook: a short `content` line and one embed with a field per region."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from picket.collector.notify.channels.base import SecretHttpUrl, SendContext, post
from picket.collector.notify.event import NotifyEvent

RED, GREEN, AMBER, GREY = 0xD83C3E, 0x2EB67D, 0xECB22E, 0x808080


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    webhook_url: SecretHttpUrl
    username: str | None = Field(default=None, max_length=80)


def _color(event: NotifyEvent) -> int:
    if event.is_recovery:
        return GREEN
    if event.is_trigger:
        return RED
    return AMBER if event.type in {"monitor.degraded", "ssl.expiring"} else GREY


def build_payload(config: Config, event: NotifyEvent) -> dict[str, Any]:
    fields = [
        {
            "name": region[:256],
            "value": (
                "ok" if vote["ok"] else f"{vote['error_kind'] or 'failing'}: {vote['error'] or ''}"
            )[:1024],
            "inline": True,
        }
        for region, vote in sorted(event.regions.items())
    ][:25]
    embed: dict[str, Any] = {
        "title": event.title()[:256],
        "description": event.text()[:4096],
        "color": _color(event),
        "fields": fields,
        "timestamp": event.timestamp,
    }
    if event.incident_url:
        embed["url"] = event.incident_url
    body: dict[str, Any] = {"content": event.title()[:2000], "embeds": [embed]}
    if config.username:
        body["username"] = config.username
    return body


async def send(config: Config, event: NotifyEvent, ctx: SendContext) -> None:
    await post(
        ctx,
        config.webhook_url.get_secret_value(),
        json_body=build_payload(config, event),
        what="discord",
    )
