from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class CheckResult(_message.Message):
    __slots__ = ("monitor_id", "monitor_version", "region", "probe_id", "scheduled_at_ms", "started_at_ms", "ok", "error_kind", "error", "status_code", "detail_json", "latency_ms", "timings", "attempts", "check_now_id")
    class TimingsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    MONITOR_ID_FIELD_NUMBER: _ClassVar[int]
    MONITOR_VERSION_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    PROBE_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_KIND_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_JSON_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CHECK_NOW_ID_FIELD_NUMBER: _ClassVar[int]
    monitor_id: str
    monitor_version: int
    region: str
    probe_id: str
    scheduled_at_ms: int
    started_at_ms: int
    ok: bool
    error_kind: str
    error: str
    status_code: int
    detail_json: str
    latency_ms: float
    timings: _containers.ScalarMap[str, float]
    attempts: int
    check_now_id: str
    def __init__(self, monitor_id: _Optional[str] = ..., monitor_version: _Optional[int] = ..., region: _Optional[str] = ..., probe_id: _Optional[str] = ..., scheduled_at_ms: _Optional[int] = ..., started_at_ms: _Optional[int] = ..., ok: _Optional[bool] = ..., error_kind: _Optional[str] = ..., error: _Optional[str] = ..., status_code: _Optional[int] = ..., detail_json: _Optional[str] = ..., latency_ms: _Optional[float] = ..., timings: _Optional[_Mapping[str, float]] = ..., attempts: _Optional[int] = ..., check_now_id: _Optional[str] = ...) -> None: ...
