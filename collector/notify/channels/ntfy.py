"""ntfy: JSON publishing to the server's root URL, with the topic in the body."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from picket.collector.notify.channels.base import SendContext, post
from picket.collector.notify.event import NotifyEvent


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    server_url: str = Field(default="https://ntfy.sh", pattern=r"^https?://")
    topic: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    # An access token (tk_...) for protected topics.
    token: SecretStr | None = None
    priority: int = Field(default=4, ge=1, le=5)


def build_payload(config: Config, event: NotifyEvent) -> dict[str, Any]:
    body: dict[str, Any] = {
        "topic": config.topic,
        "title": event.title(),
        "message": event.text(),
        "priority": 3 if event.is_recovery else config.priority,
        "tags": ["white_check_mark"] if event.is_recovery else ["rotating_light"],
    }
    if event.incident_url:
        body["click"] = event.incident_url
    return body


async def send(config: Config, event: NotifyEvent, ctx: SendContext) -> None:
    headers = {}
    if config.token is not None:
        headers["Authorization"] = f"Bearer {config.token.get_secret_value()}"
    await post(
        ctx,
        config.server_url.rstrip("/") + "/",
        json_body=build_payload(config, event),
        headers=headers,
        what="ntfy",
    )
