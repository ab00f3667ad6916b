from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RegisterProbeRequest(_message.Message):
    __slots__ = ("version", "hostname", "clock_unix_ms")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    CLOCK_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    version: str
    hostname: str
    clock_unix_ms: int
    def __init__(self, version: _Optional[str] = ..., hostname: _Optional[str] = ..., clock_unix_ms: _Optional[int] = ...) -> None: ...

class RegisterProbeResponse(_message.Message):
    __slots__ = ("probe_id", "region", "nats_url", "subject_prefix", "ping_interval_s", "server_time_unix_ms")
    PROBE_ID_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    NATS_URL_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_PREFIX_FIELD_NUMBER: _ClassVar[int]
    PING_INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    probe_id: str
    region: str
    nats_url: str
    subject_prefix: str
    ping_interval_s: int
    server_time_unix_ms: int
    def __init__(self, probe_id: _Optional[str] = ..., region: _Optional[str] = ..., nats_url: _Optional[str] = ..., subject_prefix: _Optional[str] = ..., ping_interval_s: _Optional[int] = ..., server_time_unix_ms: _Optional[int] = ...) -> None: ...

class RunningCheck(_message.Message):
    __slots__ = ("monitor_id", "version")
    MONITOR_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    monitor_id: str
    version: int
    def __init__(self, monitor_id: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class WatchAssignmentsRequest(_message.Message):
    __slots__ = ("running",)
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    running: _containers.RepeatedCompositeFieldContainer[RunningCheck]
    def __init__(self, running: _Optional[_Iterable[_Union[RunningCheck, _Mapping]]] = ...) -> None: ...

class Assignment(_message.Message):
    __slots__ = ("monitor_id", "version", "kind", "target", "interval_s", "timeout_s", "offset_ms", "spec_json", "retries", "retry_delay_ms")
    MONITOR_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    OFFSET_MS_FIELD_NUMBER: _ClassVar[int]
    SPEC_JSON_FIELD_NUMBER: _ClassVar[int]
    RETRIES_FIELD_NUMBER: _ClassVar[int]
    RETRY_DELAY_MS_FIELD_NUMBER: _ClassVar[int]
    monitor_id: str
    version: int
    kind: str
    target: str
    interval_s: int
    timeout_s: int
    offset_ms: int
    spec_json: str
    retries: int
    retry_delay_ms: int
    def __init__(self, monitor_id: _Optional[str] = ..., version: _Optional[int] = ..., kind: _Optional[str] = ..., target: _Optional[str] = ..., interval_s: _Optional[int] = ..., timeout_s: _Optional[int] = ..., offset_ms: _Optional[int] = ..., spec_json: _Optional[str] = ..., retries: _Optional[int] = ..., retry_delay_ms: _Optional[int] = ...) -> None: ...

class CheckNow(_message.Message):
    __slots__ = ("monitor_id", "request_id")
    MONITOR_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    monitor_id: str
    request_id: str
    def __init__(self, monitor_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class AssignmentBatch(_message.Message):
    __slots__ = ("initial", "upserts", "removals", "check_now")
    INITIAL_FIELD_NUMBER: _ClassVar[int]
    UPSERTS_FIELD_NUMBER: _ClassVar[int]
    REMOVALS_FIELD_NUMBER: _ClassVar[int]
    CHECK_NOW_FIELD_NUMBER: _ClassVar[int]
    initial: bool
    upserts: _containers.RepeatedCompositeFieldContainer[Assignment]
    removals: _containers.RepeatedScalarFieldContainer[str]
    check_now: _containers.RepeatedCompositeFieldContainer[CheckNow]
    def __init__(self, initial: _Optional[bool] = ..., upserts: _Optional[_Iterable[_Union[Assignment, _Mapping]]] = ..., removals: _Optional[_Iterable[str]] = ..., check_now: _Optional[_Iterable[_Union[CheckNow, _Mapping]]] = ...) -> None: ...

class PingRequest(_message.Message):
    __slots__ = ("clock_unix_ms", "running_checks")
    CLOCK_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_CHECKS_FIELD_NUMBER: _ClassVar[int]
    clock_unix_ms: int
    running_checks: int
    def __init__(self, clock_unix_ms: _Optional[int] = ..., running_checks: _Optional[int] = ...) -> None: ...

class PingResponse(_message.Message):
    __slots__ = ("server_time_unix_ms",)
    SERVER_TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    server_time_unix_ms: int
    def __init__(self, server_time_unix_ms: _Optional[int] = ...) -> None: ...
