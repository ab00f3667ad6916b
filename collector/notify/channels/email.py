"""Email over SMTP: implicit TLS, STARTTLS or plain, with optional login. smtplib is
blocking, so the send runs in a thread."""

from __future__ import annotations

import asyncio
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from picket.collector.notify.channels.base import DeliveryError, SendContext
from picket.collector.notify.event import NotifyEvent


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1, max_length=255)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    from_address: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    to_addresses: list[str] = Field(min_length=1, max_length=50)
    # PEM of a private CA that signed the server's certificate; default: the system's CAs.
    ca_cert_pem: str | None = None


def build_payload(config: Config, event: NotifyEvent) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = event.title()
    message["From"] = config.from_address
    message["To"] = ", ".join(config.to_addresses)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="picket")
    message["X-Picket-Event-Id"] = event.uid
    message["X-Picket-Event"] = event.type
    message.set_content(event.text())
    return message


def _tls_context(config: Config) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if config.ca_cert_pem:
        context.load_verify_locations(cadata=config.ca_cert_pem)
    return context


def _send_blocking(config: Config, message: EmailMessage, timeout: float) -> None:
    smtp: smtplib.SMTP
    if config.security == "tls":
        smtp = smtplib.SMTP_SSL(
            config.host, config.port, timeout=timeout, context=_tls_context(config)
        )
    else:
        smtp = smtplib.SMTP(config.host, config.port, timeout=timeout)
    with smtp:
        if config.security == "starttls":
            smtp.starttls(context=_tls_context(config))
        if config.username:
            password = config.password.get_secret_value() if config.password else ""
            smtp.login(config.username, password)
        smtp.send_message(message)


def _map_error(exc: Exception) -> DeliveryError:
    # Messages name the failure, never the credentials sent.
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return DeliveryError(f"email: login refused ({exc.smtp_code})", permanent=True)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return DeliveryError("email: every recipient was refused", permanent=True)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(f"email: server does not support it: {exc}", permanent=True)
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
        return DeliveryError(
            f"email: server answered {exc.smtp_code} {text}".strip(),
            permanent=exc.smtp_code >= 500,
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryError(
            f"email: TLS certificate rejected: {exc.verify_message}", permanent=True
        )
    if isinstance(exc, TimeoutError | socket.timeout):
        return DeliveryError("email: timed out", permanent=False)
    if isinstance(exc, smtplib.SMTPException | OSError):
        return DeliveryError(f"email: {type(exc).__name__}: {exc}", permanent=False)
    return DeliveryError(f"email: {type(exc).__name__}", permanent=False)


async def send(config: Config, event: NotifyEvent, ctx: SendContext) -> None:
    message = build_payload(config, event)
    try:
        await asyncio.to_thread(_send_blocking, config, message, ctx.timeout_s)
    except Exception as exc:  # every failure becomes a classified DeliveryError
        raise _map_error(exc) from None
