"""Monitor bodies: Create, Update (all optional) and Public, as DESIGN.md fixes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from picket.specs import (
    KIND_SETTINGS,
    MONITOR_TYPES,
    ApiSettings,
    DnsSettings,
    HeartbeatSettings,
    HttpSettings,
    IcmpSettings,
    KindSettings,
    TcpSettings,
    TlsSettings,
)
from picket.targets import is_host

MonitorType = Literal["http", "tcp", "dns", "icmp", "tls", "heartbeat", "api"]
MonitorStatus = Literal["up", "degraded", "down", "paused", "maintenance", "unknown"]
# Kinds whose `url` is not needed: heartbeats are pushed, api checks carry URLs per step.
URL_OPTIONAL = frozenset({"heartbeat", "api"})
# Kinds whose `url` is a bare host (or, for dns, the name to look up).
HOST_KINDS = frozenset({"tcp", "icmp", "tls", "dns"})


class MonitorBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    type: MonitorType
    url: str = Field(
        default="",
        max_length=2048,
        description="URL for http; host for tcp, icmp, tls; name for dns",
        validate_default=True,
    )
    interval_seconds: int = Field(default=60, ge=1, le=86400)
    timeout_seconds: int = Field(default=10, ge=1, le=120)
    regions: list[str] | None = Field(default=None, description="default: every region")
    min_failing_regions: int | None = Field(default=None, ge=1)
    confirmation_period_s: int = Field(default=0, ge=0, le=86400)
    recovery_period_s: int = Field(default=0, ge=0, le=86400)
    incident_on_degraded: bool = False
    sla_target: float | None = Field(default=None, gt=0, le=100)
    retries: int = Field(default=1, ge=0, le=5)
    retry_delay_ms: int = Field(default=1000, ge=0, le=60000)
    tags: list[str] = Field(default_factory=list)
    # Typed so that OpenAPI documents each kind's settings and a wrong field is named;
    # validated even when absent, so the kind's required settings are asked for.
    http: HttpSettings | None = Field(default=None, validate_default=True)
    tcp: TcpSettings | None = Field(default=None, validate_default=True)
    dns: DnsSettings | None = Field(default=None, validate_default=True)
    icmp: IcmpSettings | None = Field(default=None, validate_default=True)
    tls: TlsSettings | None = Field(default=None, validate_default=True)
    heartbeat: HeartbeatSettings | None = Field(default=None, validate_default=True)
    api: ApiSettings | None = Field(default=None, validate_default=True)

    @field_validator("url")
    @classmethod
    def _url_needed(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("type")
        if kind is not None and kind not in URL_OPTIONAL and not value.strip():
            raise PydanticCustomError(
                "url_required", "required for a {kind} monitor", {"kind": kind}
            )
        if kind in HOST_KINDS and not is_host(value):
            raise PydanticCustomError(
                "host",
                "a {kind} monitor takes a host name or IP address (no scheme, port or path)",
                {"kind": kind},
            )
        return value

    @field_validator(*MONITOR_TYPES)
    @classmethod
    def _kind_settings(cls, value: KindSettings | None, info: ValidationInfo) -> Any:
        kind = info.data.get("type")
        if kind is None:  # the type itself was refused; that error is enough
            return value
        if info.field_name != kind:
            if value is not None:
                raise PydanticCustomError(
                    "kind_settings", "settings do not apply to a {kind} monitor", {"kind": kind}
                )
            return None
        if value is not None:
            return value
        try:
            return KIND_SETTINGS[kind].model_validate({})
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise PydanticCustomError(
                "kind_settings", "{where}: {msg}", {"where": where, "msg": err["msg"]}
            ) from None


class MonitorCreate(MonitorBase):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Shop",
                    "type": "http",
                    "url": "https://shop.example.com",
                    "interval_seconds": 60,
                    "timeout_seconds": 10,
                    "regions": ["us-east", "eu-west"],
                    "tags": ["prod"],
                    "http": {"method": "GET", "expected_status": ["2xx"], "keyword": "Welcome"},
                }
            ]
        },
    )


class MonitorUpdate(BaseModel):
    """PATCH body: every field optional; only what is sent changes."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"interval_seconds": 30, "tags": ["prod", "eu"], "http": {"keyword": "OK"}}
            ]
        },
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    url: str | None = Field(default=None, max_length=2048)
    interval_seconds: int | None = Field(default=None, ge=1, le=86400)
    timeout_seconds: int | None = Field(default=None, ge=1, le=120)
    regions: list[str] | None = None
    min_failing_regions: int | None = Field(default=None, ge=1)
    confirmation_period_s: int | None = Field(default=None, ge=0, le=86400)
    recovery_period_s: int | None = Field(default=None, ge=0, le=86400)
    incident_on_degraded: bool | None = None
    sla_target: float | None = Field(default=None, gt=0, le=100)
    retries: int | None = Field(default=None, ge=0, le=5)
    retry_delay_ms: int | None = Field(default=None, ge=0, le=60000)
    tags: list[str] | None = None
    http: dict[str, Any] | None = None
    tcp: dict[str, Any] | None = None
    dns: dict[str, Any] | None = None
    icmp: dict[str, Any] | None = None
    tls: dict[str, Any] | None = None
    heartbeat: dict[str, Any] | None = None
    api: dict[str, Any] | None = None


def validate_kind_fields(body: MonitorBase) -> dict[str, Any]:
    """The kind's settings (validated with the body), as stored and sent to probes."""
    settings = getattr(body, body.type)
    return settings.model_dump(mode="json")


class MonitorPublic(BaseModel):
    id: str
    name: str
    type: str
    url: str
    interval_seconds: int
    timeout_seconds: int
    regions: list[str]
    min_failing_regions: int
    confirmation_period_s: int
    recovery_period_s: int
    incident_on_degraded: bool
    sla_target: float | None
    retries: int
    retry_delay_ms: int
    tags: list[str]
    paused: bool
    version: int
    status: str
    region_status: dict[str, str]
    created_at: datetime
    updated_at: datetime
    http: dict[str, Any] | None = None
    tcp: dict[str, Any] | None = None
    dns: dict[str, Any] | None = None
    icmp: dict[str, Any] | None = None
    tls: dict[str, Any] | None = None
    heartbeat: dict[str, Any] | None = None
    api: dict[str, Any] | None = None
    heartbeat_token: str | None = None


class CheckResultPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    monitor_id: str
    monitor_version: int
    region: str
    probe_id: str
    scheduled_at: datetime
    ok: bool
    error_kind: str | None
    error: str | None
    status_code: int | None
    latency_ms: float | None
    timings: dict[str, float]
    detail: dict[str, Any] | None
    attempts: int


class LatencyFigures(BaseModel):
    avg: float | None
    p95: float | None


class UptimeFigures(BaseModel):
    uptime_percent: float | None = Field(description="null when there were no checks")
    total_checks: int
    failed_checks: int
    latency_ms: LatencyFigures


class OverallUptime(UptimeFigures):
    incidents: int


class MonitorUptime(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    monitor_id: str
    period: str
    from_: datetime = Field(alias="from")
    to: datetime
    overall: OverallUptime
    regions: dict[str, UptimeFigures]


class TagPublic(BaseModel):
    name: str
    monitors: int = Field(description="how many monitors carry the tag")
