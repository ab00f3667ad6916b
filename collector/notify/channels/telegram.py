"""Telegram Bot API: sendMessage to one chat."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from picket.collector.notify.channels.base import DeliveryError, SendContext, join_url, post
from picket.collector.notify.event import NotifyEvent


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bot_token: SecretStr
    chat_id: str = Field(min_length=1, max_length=64)
    api_base_url: str = Field(default="https://api.telegram.org", pattern=r"^https?://")


def build_payload(config: Config, event: NotifyEvent) -> dict[str, Any]:
    # Plain text: no parse_mode, so error messages need no escaping.
    return {
        "chat_id": config.chat_id,
        "text": event.text()[:4096],
        "disable_web_page_preview": True,
    }


async def send(config: Config, event: NotifyEvent, ctx: SendContext) -> None:
    url = join_url(config.api_base_url, f"bot{config.bot_token.get_secret_value()}/sendMessage")
    response = await post(ctx, url, json_body=build_payload(config, event), what="telegram")
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or answer.get("ok") is not True:
        raise DeliveryError("telegram: the Bot API did not answer ok", permanent=False)
