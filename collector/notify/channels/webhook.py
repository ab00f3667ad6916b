"""Generic webhook: the event as JSON, signed with HMAC-SHA256 over the raw body.

Receivers verify `X-Signature-256: sha256=<hex>` by computing
`hmac.new(secret, raw_body, sha256).hexdigest()` and comparing in constant time, and can
drop a resend by `X-Picket-Event-Id`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from picket.collector.notify.channels.base import SendContext, post
from picket.collector.notify.event import NotifyEvent

SIGNATURE_HEADER = "X-Signature-256"
TIMESTAMP_HEADER = "X-Picket-Timestamp"
EVENT_ID_HEADER = "X-Picket-Event-Id"
EVENT_TYPE_HEADER = "X-Picket-Event"


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048, pattern=r"^https?://")
    secret: SecretStr | None = None


def build_payload(config: Config, event: NotifyEvent) -> bytes:
    return json.dumps(event.as_json(), separators=(",", ":"), sort_keys=True).encode()


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def send(config: Config, event: NotifyEvent, ctx: SendContext) -> None:
    body = build_payload(config, event)
    headers = {
        EVENT_ID_HEADER: event.uid,
        EVENT_TYPE_HEADER: event.type,
        TIMESTAMP_HEADER: str(int(time.time())),
    }
    if config.secret is not None:
        headers[SIGNATURE_HEADER] = sign(config.secret.get_secret_value(), body)
    await post(ctx, config.url, body=body, headers=headers, what="webhook")
