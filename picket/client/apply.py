"""`picket apply -f monitors.yaml`: make the server match the file, showing the plan first.

Resources are matched by identity: monitors and notification channels by name, status
pages by slug. Only the sections present in the file are managed: a file without
`status_pages` leaves status pages alone, even with --prune.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TextIO

from picket.client.http import ApiClient, ClientError
from picket.client.manifest import Manifest, MonitorSpec

# Fields compared and sent as they are; a field left out of the file means its default.
MONITOR_FIELDS = (
    "url",
    "interval_seconds",
    "timeout_seconds",
    "confirmation_period_s",
    "recovery_period_s",
    "incident_on_degraded",
    "sla_target",
    "retries",
    "retry_delay_ms",
    "tags",
)
# Left out of the file, these follow the server (every region, a majority of them), so
# they are compared only when the file gives them.
OPTIONAL_MONITOR_FIELDS = ("regions", "min_failing_regions")

CHANNELS = "/notifications/channels"
STATUS_PAGES = "/status-pages"


@dataclass
class Change:
    action: str  # create | update | replace | delete
    kind: str  # monitor | channel | status page
    name: str
    line: int | None = None
    existing: dict[str, Any] | None = None
    body: dict[str, Any] = field(default_factory=dict)
    diffs: list[str] = field(default_factory=list)
    index: int | None = None  # the item's position in its section of the file

    def describe(self) -> str:
        sign = {"create": "+", "update": "~", "replace": "-/+", "delete": "-"}[self.action]
        text = f"  {sign} {self.kind} {self.name!r}"
        if self.diffs:
            text += ": " + "; ".join(self.diffs)
        return text


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    unmanaged: dict[str, int] = field(default_factory=dict)  # kind → count not in the file

    @property
    def empty(self) -> bool:
        return not self.changes

    def counts(self) -> dict[str, int]:
        counts = {"create": 0, "update": 0, "delete": 0}
        for change in self.changes:
            if change.action == "replace":
                counts["create"] += 1
                counts["delete"] += 1
            else:
                counts[change.action] += 1
        return counts

    def print(self, source: str, out: TextIO) -> None:
        if self.empty:
            print(f"No changes: the server matches {source}.", file=out)
        else:
            print(f"Plan for {source}:", file=out)
            for change in self.changes:
                print(change.describe(), file=out)
            c = self.counts()
            print(
                f"{c['create']} to create, {c['update']} to update, {c['delete']} to delete.",
                file=out,
            )
        for kind, count in self.unmanaged.items():
            print(
                f"Note: {count} {kind}(s) on the server are not in {source} "
                "(--prune deletes them).",
                file=out,
            )


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _diff(name: str, old: Any, new: Any) -> str:
    return f"{name} {_show(old)} → {_show(new)}"


def _by_key(items: list[dict[str, Any]], key: str, kind: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for item in items:
        if item[key] in found:
            raise ClientError(
                f"the server has more than one {kind} with {key} {item[key]!r}: "
                "rename or delete one so the file can say which it means"
            )
        found[item[key]] = item
    return found


def monitor_body(spec: MonitorSpec, settings: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"name": spec.name, "type": spec.type}
    body.update({f: getattr(spec, f) for f in MONITOR_FIELDS})
    for name in OPTIONAL_MONITOR_FIELDS:
        if getattr(spec, name) is not None:
            body[name] = getattr(spec, name)
    body[spec.type] = settings
    return body


def _monitor_diffs(
    body: dict[str, Any], paused: bool, existing: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    patch: dict[str, Any] = {}
    diffs: list[str] = []
    for name in (*MONITOR_FIELDS, *OPTIONAL_MONITOR_FIELDS):
        if name not in body:
            continue
        old, new = existing.get(name), body[name]
        same = sorted(old or []) == sorted(new) if name == "regions" else old == new
        if not same:
            patch[name] = new
            diffs.append(_diff(name, old, new))
    kind = body["type"]
    if (existing.get(kind) or {}) != body[kind]:
        patch[kind] = body[kind]
        old_settings = existing.get(kind) or {}
        for key in sorted(set(old_settings) | set(body[kind])):
            if old_settings.get(key) != body[kind].get(key):
                diffs.append(_diff(f"{kind}.{key}", old_settings.get(key), body[kind].get(key)))
    if bool(existing.get("paused")) != paused:
        diffs.append("paused" if paused else "resumed")
    return patch, diffs


def _channel_diffs(desired: dict[str, Any], existing: dict[str, Any]) -> list[str]:
    # Secrets are write-only: the server lists which are set, never their values, so a
    # secret that is set cannot be compared (rotate it by changing the file's variable
    # name, or through the API).
    hidden = set(existing.get("secret_fields_set") or [])
    old = existing.get("config") or {}
    diffs = []
    for key in sorted(set(old) | set(desired["config"])):
        if key in hidden and key not in old:
            continue
        if old.get(key) != desired["config"].get(key):
            diffs.append(f"config.{key} changed")
    return diffs


def _components(page: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(c["monitor_id"], c["name"], c.get("section")) for c in page.get("components") or []]


def build_plan(manifest: Manifest, client: ApiClient, prune: bool) -> Plan:
    spec = manifest.spec
    plan = Plan()
    monitor_ids: dict[str, str] = {}

    if spec.monitors is not None or spec.status_pages is not None:
        existing_monitors = _by_key(client.list_all("/monitors"), "name", "monitor")
        monitor_ids = {name: m["id"] for name, m in existing_monitors.items()}
    if spec.monitors is not None:
        wanted = set()
        for index, (monitor, settings) in enumerate(
            zip(spec.monitors, manifest.kind_settings, strict=True)
        ):
            wanted.add(monitor.name)
            body = monitor_body(monitor, settings)
            line = manifest.line(("monitors", index))
            existing = existing_monitors.get(monitor.name)
            if existing is None:
                change = Change("create", "monitor", monitor.name, line, body=body, index=index)
                change.diffs = [f"{monitor.type} {monitor.url}".strip()]
                plan.changes.append(change)
            elif existing["type"] != monitor.type:
                plan.changes.append(
                    Change(
                        "replace",
                        "monitor",
                        monitor.name,
                        line,
                        existing,
                        body,
                        [_diff("type", existing["type"], monitor.type)],
                        index,
                    )
                )
            else:
                patch, diffs = _monitor_diffs(body, monitor.paused, existing)
                if diffs:
                    plan.changes.append(
                        Change(
                            "update", "monitor", monitor.name, line, existing, patch, diffs, index
                        )
                    )
        _extra(plan, "monitor", [m for n, m in existing_monitors.items() if n not in wanted], prune)

    if spec.notification_channels is not None:
        existing_channels = _by_key(client.list_all(CHANNELS), "name", "notification channel")
        wanted = set()
        for index, channel in enumerate(spec.notification_channels):
            wanted.add(channel.name)
            body = channel.model_dump()
            line = manifest.line(("notification_channels", index))
            existing = existing_channels.get(channel.name)
            if existing is None:
                plan.changes.append(
                    Change("create", "channel", channel.name, line, body=body, diffs=[channel.type])
                )
            elif existing.get("type") != channel.type:
                diffs = [_diff("type", existing.get("type"), channel.type)]
                plan.changes.append(
                    Change("replace", "channel", channel.name, line, existing, body, diffs)
                )
            elif diffs := _channel_diffs(body, existing):
                plan.changes.append(
                    Change("update", "channel", channel.name, line, existing, body, diffs)
                )
        _extra(plan, "channel", [c for n, c in existing_channels.items() if n not in wanted], prune)

    if spec.status_pages is not None:
        existing_pages = _by_key(client.list_all(STATUS_PAGES), "slug", "status page")
        file_monitors = {m.name for m in spec.monitors or []}
        wanted = set()
        for index, page in enumerate(spec.status_pages):
            wanted.add(page.slug)
            line = manifest.line(("status_pages", index))
            for c_index, component in enumerate(page.components):
                if component.monitor not in file_monitors | set(monitor_ids):
                    path = ("status_pages", index, "components", c_index, "monitor")
                    raise ClientError(
                        f"{manifest.where(path)}: no monitor named {component.monitor!r} "
                        "in the file or on the server"
                    )
            body = page.model_dump()
            existing = existing_pages.get(page.slug)
            if existing is None:
                plan.changes.append(
                    Change("create", "status page", page.slug, line, body=body, index=index)
                )
                continue
            diffs = []
            for name in ("name", "custom_domain"):
                if existing.get(name) != body[name]:
                    diffs.append(_diff(name, existing.get(name), body[name]))
            desired = [
                (monitor_ids.get(c.monitor, ""), c.name or c.monitor, c.section)
                for c in page.components
            ]
            if desired != _components(existing):
                diffs.append("components changed")
            if diffs:
                plan.changes.append(
                    Change("update", "status page", page.slug, line, existing, body, diffs, index)
                )
        _extra(
            plan, "status page", [p for s, p in existing_pages.items() if s not in wanted], prune
        )
    return plan


def _extra(plan: Plan, kind: str, extra: list[dict[str, Any]], prune: bool) -> None:
    if not extra:
        return
    if not prune:
        plan.unmanaged[kind] = len(extra)
        return
    for item in extra:
        name = item.get("slug") if kind == "status page" else item["name"]
        plan.changes.append(Change("delete", kind, str(name), existing=item))


def _page_body(body: dict[str, Any], monitor_ids: dict[str, str]) -> dict[str, Any]:
    components = []
    for component in body["components"]:
        item = {"monitor_id": monitor_ids[component["monitor"]], "name": component["name"]}
        item["name"] = item["name"] or component["monitor"]
        if component.get("section") is not None:
            item["section"] = component["section"]
        components.append(item)
    out = {"name": body["name"], "slug": body["slug"], "components": components}
    if body.get("custom_domain") is not None:
        out["custom_domain"] = body["custom_domain"]
    return out


def execute(plan: Plan, manifest: Manifest, client: ApiClient, out: TextIO) -> None:
    """Create and update in dependency order (monitors before the pages that show them),
    then delete in the reverse order."""
    monitor_ids = {m["name"]: m["id"] for m in client.list_all("/monitors")}
    monitors = manifest.spec.monitors or []
    order = {"monitor": 0, "channel": 1, "status page": 2}
    writes = sorted((c for c in plan.changes if c.action != "delete"), key=lambda c: order[c.kind])
    deletes = sorted(
        (c for c in plan.changes if c.action == "delete"), key=lambda c: -order[c.kind]
    )
    for change in writes:
        try:
            _write(change, client, monitors, monitor_ids)
        except ClientError as exc:
            where = f"{manifest.path}:{change.line}: " if change.line else ""
            raise ClientError(f"{where}{change.kind} {change.name!r}: {exc}", exc.status) from None
        print(f"{change.action}d {change.kind} {change.name!r}", file=out)
    for change in deletes:
        assert change.existing is not None
        path = {"monitor": "/monitors", "channel": CHANNELS, "status page": STATUS_PAGES}
        try:
            client.delete(f"{path[change.kind]}/{change.existing['id']}")
        except ClientError as exc:
            raise ClientError(f"{change.kind} {change.name!r}: {exc}", exc.status) from None
        print(f"deleted {change.kind} {change.name!r}", file=out)


def _write(
    change: Change,
    client: ApiClient,
    monitors: list[MonitorSpec],
    monitor_ids: dict[str, str],
) -> None:
    if change.kind == "monitor":
        paused = monitors[change.index or 0].paused
        if change.action == "replace":
            assert change.existing is not None
            client.delete(f"/monitors/{change.existing['id']}")
        if change.action in ("create", "replace"):
            created = client.post("/monitors", change.body)
            monitor_ids[created["name"]] = created["id"]
            if paused:
                client.post(f"/monitors/{created['id']}/pause")
            return
        assert change.existing is not None
        monitor_id = change.existing["id"]
        if change.body:
            client.patch(f"/monitors/{monitor_id}", change.body)
        if bool(change.existing.get("paused")) != paused:
            client.post(f"/monitors/{monitor_id}/{'pause' if paused else 'resume'}")
    elif change.kind == "channel":
        if change.action == "replace":
            assert change.existing is not None
            client.delete(f"{CHANNELS}/{change.existing['id']}")
        if change.action in ("create", "replace"):
            client.post(CHANNELS, change.body)
        else:
            assert change.existing is not None
            client.patch(f"{CHANNELS}/{change.existing['id']}", {"config": change.body["config"]})
    else:
        body = _page_body(change.body, monitor_ids)
        if change.action == "create":
            client.post(STATUS_PAGES, body)
        else:
            assert change.existing is not None
            client.patch(f"{STATUS_PAGES}/{change.existing['id']}", body)


def apply(manifest: Manifest, client: ApiClient, prune: bool, dry_run: bool, out: TextIO) -> Plan:
    plan = build_plan(manifest, client, prune)
    plan.print(manifest.path, out)
    if plan.empty or dry_run:
        return plan
    execute(plan, manifest, client, out)
    c = plan.counts()
    print(
        f"Applied: {c['create']} created, {c['update']} updated, {c['delete']} deleted.", file=out
    )
    return plan
