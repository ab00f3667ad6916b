"""Microsoft Teams workflow webhook ("When a Teams webhook request is received"): a message
carrying one Adaptive Card."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from picket.collector.notify.channels.base import SecretHttpUrl, SendContext, post
from picket.collector.notify.event import NotifyEvent


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Workflow URLs carry a signature (`sig=`) in the query: a credential.
    webhook_url: SecretHttpUrl


def build_payload(config: Config, event: NotifyEvent) -> dict[str, Any]:
    facts = [
        {
            "title": region,
            "value": "ok"
            if vote["ok"]
            else f"{vote['error_kind'] or 'failing'}: {vote['error'] or ''}",
        }
        for region, vote in sorted(event.regions.items())
    ]
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": event.title(),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        },
        {"type": "TextBlock", "text": event.text(), "wrap": True},
    ]
    if facts:
        body.append({"type": "FactSet", "facts": facts})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if event.incident_url:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": "Open incident", "url": event.incident_url}
        ]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


async def send(config: Config, event: NotifyEvent, ctx: SendContext) -> None:
    await post(
        ctx,
        config.webhook_url.get_secret_value(),
        json_body=build_payload(config, event),
        what="teams",
    )
