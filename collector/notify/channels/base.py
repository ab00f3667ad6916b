"""What every channel shares: the error that says whether retrying can help, the context a
send gets, and the one HTTP call the HTTP channels make."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
from pydantic import AfterValidator, BaseModel, SecretStr

from picket.collector.notify.event import NotifyEvent


class DeliveryError(Exception):
    """A send that failed. `permanent`: retrying cannot help (revoked token, 404, bad
    config) and the channel is marked failing; otherwise the delivery is retried."""

    def __init__(self, message: str, *, permanent: bool, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status_code = status_code


@dataclass(frozen=True)
class SendContext:
    http: httpx.AsyncClient
    timeout_s: float = 15.0


@dataclass(frozen=True)
class ChannelKind:
    """One notification channel type, as the registry holds it."""

    name: str
    config: type[BaseModel]
    build_payload: Callable[[Any, NotifyEvent], Any]
    send: Callable[[Any, NotifyEvent, SendContext], Awaitable[None]]

    @property
    def secret_fields(self) -> frozenset[str]:
        return frozenset(
            name
            for name, info in self.config.model_fields.items()
            if info.annotation in (SecretStr, SecretStr | None)
        )


def _secret_http_url(value: SecretStr) -> SecretStr:
    parts = urlsplit(value.get_secret_value())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL with a host")
    return value


# A webhook URL that is itself the credential (Slack, Discord, Teams).
SecretHttpUrl = Annotated[SecretStr, AfterValidator(_secret_http_url)]

# Answers after which the same request can succeed later.
_TRANSIENT_STATUS = frozenset({408, 425, 429})


def classify_status(status: int) -> bool:
    """True when an HTTP error status is permanent."""
    return not (status >= 500 or status in _TRANSIENT_STATUS)


def _reason(response: httpx.Response) -> str:
    # Only the status and a short, service-written reason: never the request URL, which
    # carries the token for Telegram and webhook-URL channels.
    snippet = response.text[:200].replace("\n", " ").strip()
    return f"HTTP {response.status_code}" + (f": {snippet}" if snippet else "")


async def post(
    ctx: SendContext,
    url: str,
    *,
    body: bytes | None = None,
    json_body: Any = None,
    headers: dict[str, str] | None = None,
    what: str,
) -> httpx.Response:
    """POST and map every failure to a DeliveryError; `what` names the service in errors."""
    content = body if body is not None else json.dumps(json_body).encode()
    all_headers = {"Content-Type": "application/json", "User-Agent": "Picket-Notify/1"}
    all_headers.update(headers or {})
    try:
        response = await ctx.http.post(
            url, content=content, headers=all_headers, timeout=ctx.timeout_s
        )
    except httpx.TimeoutException:
        raise DeliveryError(f"{what}: timed out", permanent=False) from None
    except httpx.UnsupportedProtocol:
        raise DeliveryError(f"{what}: unsupported URL scheme", permanent=True) from None
    except httpx.TransportError as exc:
        raise DeliveryError(
            f"{what}: connection failed ({type(exc).__name__})", permanent=False
        ) from None
    if response.status_code >= 300:
        raise DeliveryError(
            f"{what}: {_reason(response)}",
            permanent=classify_status(response.status_code),
            status_code=response.status_code,
        )
    return response


def join_url(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path.lstrip("/")
