"""The monitors-as-code file: read, checked field by field, every error with its line.

The schema is documented in docs/monitors-as-code.md. Monitors reuse the API's own
models (picket.api.schemas.monitors, picket.specs), so a file that passes here is one the
server accepts, short of what only the server knows (its regions, say).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from picket.api.schemas.monitors import MonitorBase
from picket.specs import KIND_SETTINGS, MONITOR_TYPES

Path_ = tuple[str | int, ...]


class ManifestError(Exception):
    """One or more problems in the file, each `file:line: where: what`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class MonitorSpec(MonitorBase):
    paused: bool = False


class ChannelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=32)
    config: dict[str, Any] = Field(default_factory=dict)


class ComponentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    monitor: str = Field(min_length=1, description="the name of a monitor")
    name: str | None = Field(default=None, description="default: the monitor's name")
    section: str | None = None


class StatusPageSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    custom_domain: str | None = None
    components: list[ComponentSpec] = Field(default_factory=list)


class ManifestSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    monitors: list[MonitorSpec] | None = None
    notification_channels: list[ChannelSpec] | None = None
    status_pages: list[StatusPageSpec] | None = None


@dataclass
class Manifest:
    path: str
    spec: ManifestSpec
    lines: dict[Path_, int] = field(default_factory=dict)
    # Each monitor's kind settings as the server stores them (defaults filled in).
    kind_settings: list[dict[str, Any]] = field(default_factory=list)

    def line(self, path: Path_) -> int:
        """The line of `path`, or of the nearest enclosing item that has one."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return 1

    def where(self, path: Path_) -> str:
        return f"{self.path}:{self.line(path)}"


def _index_lines(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, str(key.value))
            lines[child] = key.start_mark.line + 1
            _index_lines(value, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index_lines(item, (*path, index), lines)


def format_path(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand_env(value: Any, path: Path_, missing: list[Path_ | str]) -> Any:
    """${NAME} in a string becomes the environment variable: secrets stay out of the file."""
    if isinstance(value, dict):
        return {k: _expand_env(v, (*path, k), missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, (*path, i), missing) for i, v in enumerate(value)]
    if isinstance(value, str):

        def one(match: re.Match[str]) -> str:
            if match.group(1) not in os.environ:
                missing.append(path)
                missing.append(match.group(1))
                return ""
            return os.environ[match.group(1)]

        return _ENV.sub(one, value)
    return value


def _pydantic_problems(manifest: Manifest, exc: ValidationError, prefix: Path_) -> list[str]:
    problems = []
    for err in exc.errors():
        path = (*prefix, *err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        elif err["type"] == "missing":
            message = "required field is missing"
        elif "input" in err and err["type"] not in ("model_type", "list_type", "dict_type"):
            message += f" (got {err['input']!r})"
        problems.append(f"{manifest.where(path)}: {format_path(path)}: {message}")
    return problems


def _check_unique(manifest: Manifest, section: str, items: list[Any], key: str) -> list[str]:
    seen: dict[str, int] = {}
    problems = []
    for index, item in enumerate(items):
        value = getattr(item, key)
        if value in seen:
            path = (section, index, key)
            problems.append(
                f"{manifest.where(path)}: {format_path(path)}: {value!r} is already used by "
                f"{section}[{seen[value]}] (line {manifest.line((section, seen[value]))})"
            )
        seen.setdefault(value, index)
    return problems


def _check_kinds(manifest: Manifest) -> list[str]:
    problems = []
    for index, monitor in enumerate(manifest.spec.monitors or []):
        for other in MONITOR_TYPES:
            if other != monitor.type and getattr(monitor, other) is not None:
                path = ("monitors", index, other)
                problems.append(
                    f"{manifest.where(path)}: {format_path(path)}: settings for {other} "
                    f"do not apply to a {monitor.type} monitor"
                )
        model = KIND_SETTINGS.get(monitor.type)
        if model is None:
            path = ("monitors", index, "type")
            problems.append(
                f"{manifest.where(path)}: {format_path(path)}: monitor type {monitor.type!r} "
                f"is not supported (supported: {', '.join(sorted(KIND_SETTINGS))})"
            )
            manifest.kind_settings.append({})
            continue
        try:
            settings = model.model_validate(getattr(monitor, monitor.type) or {})
        except ValidationError as exc:
            problems.extend(_pydantic_problems(manifest, exc, ("monitors", index, monitor.type)))
            manifest.kind_settings.append({})
            continue
        manifest.kind_settings.append(settings.model_dump(exclude_none=True))
    return problems


def _check_components(manifest: Manifest) -> list[str]:
    problems = []
    for p_index, page in enumerate(manifest.spec.status_pages or []):
        names = [c.name or c.monitor for c in page.components]
        for c_index, name in enumerate(names):
            if names.index(name) != c_index:
                path = ("status_pages", p_index, "components", c_index)
                problems.append(
                    f"{manifest.where(path)}: {format_path(path)}: the page already has a "
                    f"component named {name!r}"
                )
    return problems


def load_manifest(path: str | Path, text: str | None = None) -> Manifest:
    """Read and check the file; raises ManifestError listing every problem found."""
    name = str(path)
    if text is None:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ManifestError([f"{name}: cannot read: {exc.strerror or exc}"]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ManifestError([f"{name}:{line}: not valid YAML: {problem}"]) from None
    lines: dict[Path_, int] = {}
    if node is not None:
        _index_lines(node, (), lines)
    manifest = Manifest(name, ManifestSpec(), lines)
    if data is None:
        raise ManifestError([f"{name}:1: the file is empty"])
    if not isinstance(data, dict):
        raise ManifestError(
            [f"{name}:1: expected a mapping with monitors, notification_channels, status_pages"]
        )
    missing: list[Path_ | str] = []
    data = _expand_env(data, (), missing)
    if missing:
        pairs = zip(missing[::2], missing[1::2], strict=True)
        raise ManifestError(
            [
                f"{manifest.where(p)}: {format_path(p)}: environment variable {v} is not set"  # type: ignore[arg-type]
                for p, v in pairs
            ]
        )
    try:
        manifest.spec = ManifestSpec.model_validate(data)
    except ValidationError as exc:
        raise ManifestError(_pydantic_problems(manifest, exc, ())) from None
    problems = _check_kinds(manifest)
    problems += _check_unique(manifest, "monitors", manifest.spec.monitors or [], "name")
    problems += _check_unique(
        manifest, "notification_channels", manifest.spec.notification_channels or [], "name"
    )
    problems += _check_unique(manifest, "status_pages", manifest.spec.status_pages or [], "slug")
    problems += _check_components(manifest)
    if problems:
        raise ManifestError(problems)
    return manifest
