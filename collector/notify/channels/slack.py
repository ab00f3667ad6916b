"""Slack incoming webhook: `text` (the fallback every client shows) plus Block Kit blocks."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from picket.collector.notify.channels.base import SecretHttpUrl, SendContext, post
from picket.collector.notify.event import NotifyEvent


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The webhook URL is the credential: anyone holding it can post.
    webhook_url: SecretHttpUrl


def build_payload(config: Config, event: NotifyEvent) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": event.title()[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": event.text()[:3000]}},
    ]
    if event.incident_url:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open incident"},
                        "url": event.incident_url,
                    }
                ],
            }
        )
    return {"text": event.text(), "blocks": blocks}


async def send(config: Config, event: NotifyEvent, ctx: SendContext) -> None:
    await post(
        ctx,
        config.webhook_url.get_secret_value(),
        json_body=build_payload(config, event),
        what="slack",
    )
