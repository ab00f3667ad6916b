"""Monitor kinds and their settings: validated by the API, carried to probes as JSON."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from picket.status_codes import valid_status_pattern
from picket.targets import split_host_port

MONITOR_TYPES = ("http", "tcp", "dns", "icmp", "tls", "heartbeat", "api")
# Push monitors are fed by pings to the API, never assigned to a probe.
PUSH_TYPES = ("heartbeat",)
MAX_API_STEPS = 10
HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class KindSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _status_patterns(value: object) -> list[str]:
    items = value if isinstance(value, list) else [value]
    out = [str(item).strip().lower() for item in items]
    bad = [item for item in out if not valid_status_pattern(item)]
    if bad:
        raise ValueError(f"not a status code, range (200-299) or class (2xx): {', '.join(bad)}")
    return out


class HttpSettings(KindSettings):
    method: HttpMethod = "GET"
    expected_status: list[str] = Field(default_factory=lambda: ["2xx", "3xx"], min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    follow_redirects: bool = True
    verify_tls: bool = True
    keyword: str | None = Field(default=None, min_length=1)
    keyword_negate: bool = False
    response_time_threshold_ms: int | None = Field(default=None, ge=1)

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("expected_status", mode="before")
    @classmethod
    def _patterns(cls, value: object) -> list[str]:
        return _status_patterns(value)


class TcpSettings(KindSettings):
    port: int = Field(ge=1, le=65535)
    # Optional exchange: bytes to send once connected, text that must come back.
    send: str | None = None
    expect: str | None = Field(default=None, min_length=1)


RecordType = Literal["A", "AAAA", "MX", "TXT", "CNAME", "NS"]


class DnsSettings(KindSettings):
    record_type: RecordType = "A"
    # An address, optionally with a port: "1.1.1.1", "1.1.1.1:5353", "[2606:4700::1111]:53".
    resolver: str | None = None
    # Every expected value must be among the answers (order and case do not matter).
    expected: list[str] = Field(default_factory=list)

    @field_validator("record_type", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("resolver")
    @classmethod
    def _resolver(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            host, port = split_host_port(value, 53)
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError("expected an IP address, optionally with :port") from None
        if not 1 <= port <= 65535:
            raise ValueError("port must be 1-65535")
        return value.strip()


class IcmpSettings(KindSettings):
    count: int = Field(default=3, ge=1, le=20)
    interval_ms: int = Field(default=200, ge=10, le=5000)
    # Failing when more than this share of packets is lost; unset: only when all are.
    max_packet_loss_percent: float | None = Field(default=None, ge=0, lt=100)
    # Average round trip above this counts as failed (error kind `slow`).
    max_rtt_ms: float | None = Field(default=None, gt=0)


class TlsSettings(KindSettings):
    port: int = Field(default=443, ge=1, le=65535)
    expiry_thresholds_days: list[int] = Field(
        default_factory=lambda: [30, 14, 7, 1], min_length=1, max_length=10
    )

    @field_validator("expiry_thresholds_days")
    @classmethod
    def _thresholds(cls, value: list[int]) -> list[int]:
        if any(not 1 <= day <= 3650 for day in value):
            raise ValueError("each threshold must be 1-3650 days")
        return sorted(set(value), reverse=True)


class HeartbeatSettings(KindSettings):
    grace_seconds: int = Field(default=300, ge=0, le=7 * 86400)
    # A cron schedule (5 fields) replaces interval_seconds when given.
    cron: str | None = None
    timezone: str = "UTC"

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and not croniter.is_valid(value):
            raise ValueError(f"not a valid cron expression: {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone: {value!r}") from None
        return value


class StatusAssertion(KindSettings):
    type: Literal["status"]
    expected: list[str] = Field(min_length=1)

    @field_validator("expected", mode="before")
    @classmethod
    def _patterns(cls, value: object) -> list[str]:
        return _status_patterns(value)


class BodyContainsAssertion(KindSettings):
    type: Literal["body_contains"]
    value: str = Field(min_length=1)


class JsonPathAssertion(KindSettings):
    type: Literal["json_path"]
    path: str = Field(min_length=1)
    equals: Any


class HeaderAssertion(KindSettings):
    type: Literal["header"]
    name: str = Field(min_length=1)
    equals: str


class ResponseTimeAssertion(KindSettings):
    type: Literal["response_time"]
    max_ms: float = Field(gt=0)


Assertion = Annotated[
    StatusAssertion
    | BodyContainsAssertion
    | JsonPathAssertion
    | HeaderAssertion
    | ResponseTimeAssertion,
    Field(discriminator="type"),
]
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# {{name}} in a step's URL, header values or body: a value an earlier step extracted.
TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class ApiStep(KindSettings):
    name: str = Field(min_length=1, max_length=200)
    method: HttpMethod = "GET"
    url: str = Field(min_length=1, max_length=2048)
    headers: dict[str, str] = Field(default_factory=dict)
    # A string is sent as is; an object or a list is sent as JSON.
    body: str | dict[str, Any] | list[Any] | None = None
    # Without a status assertion, the step must answer 2xx or 3xx.
    assertions: list[Assertion] = Field(default_factory=list, max_length=20)
    # {"token": "data.access_token"}: later steps use it as {{token}}.
    extract: dict[str, str] = Field(default_factory=dict)

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @field_validator("extract")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [name for name in value if not _VARIABLE.match(name)]
        if bad:
            raise ValueError(f"variable names are letters, digits and _: {', '.join(bad)}")
        return value


class ApiSettings(KindSettings):
    steps: list[ApiStep] = Field(min_length=1, max_length=MAX_API_STEPS)
    verify_tls: bool = True
    follow_redirects: bool = True

    @model_validator(mode="after")
    def _variables_defined_before_use(self) -> ApiSettings:
        known: set[str] = set()
        for number, step in enumerate(self.steps, start=1):
            used = set(TEMPLATE.findall(json.dumps([step.url, step.headers, step.body])))
            unknown = sorted(used - known)
            if unknown:
                raise ValueError(
                    f"step {number} ({step.name}) uses {{{{{unknown[0]}}}}}, "
                    "which no earlier step extracts"
                )
            known |= step.extract.keys()
        return self


# Every kind the API accepts, with its settings model. Every kind here but the push kinds
# has a probe check (picket.probe.checks.CHECKS); a conformance test keeps them in step.
KIND_SETTINGS: dict[str, type[KindSettings]] = {
    "http": HttpSettings,
    "tcp": TcpSettings,
    "dns": DnsSettings,
    "icmp": IcmpSettings,
    "tls": TlsSettings,
    "heartbeat": HeartbeatSettings,
    "api": ApiSettings,
}
