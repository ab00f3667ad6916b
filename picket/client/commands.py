"""The operator's commands: `picket monitors|incidents|probes|report|apply`.

They talk to the REST API at PICKET_API_URL with PICKET_API_KEY (or --api-url,
--api-key); tables for people, --json for scripts; a failure is one line on stderr and
a non-zero exit (1: the API refused or is unreachable, 2: bad input).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from picket.client.http import ApiClient, ClientError
from picket.client.output import Column, details, emit_json, table
from picket.settings import SettingsError, load_settings

Handler = Callable[[argparse.Namespace, ApiClient], Any]


def _client(args: argparse.Namespace) -> ApiClient:
    settings = load_settings(api_url=args.api_url, api_key=args.api_key)
    return ApiClient(settings.api_url, settings.api_key)


def _run(handler: Handler) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            with _client(args) as client:
                result = handler(args, client)
        except ClientError as exc:
            print(f"picket: {exc}", file=sys.stderr)
            return 1
        except SettingsError as exc:
            print(f"picket: {exc}", file=sys.stderr)
            return 2
        return int(result or 0)

    return run


def _print(args: argparse.Namespace, data: Any, columns: list[Column] | None = None) -> None:
    if args.json:
        emit_json(data)
    elif columns is not None:
        table(data, columns)
    else:
        details(data)


# --- monitors -----------------------------------------------------------------------------

MONITOR_COLUMNS: list[Column] = [
    ("ID", lambda m: m["id"]),
    ("NAME", lambda m: m["name"]),
    ("TYPE", lambda m: m["type"]),
    ("STATUS", lambda m: m["status"]),
    ("EVERY", lambda m: f"{m['interval_seconds']}s"),
    ("REGIONS", lambda m: m["regions"]),
    ("TARGET", lambda m: m["url"]),
]


def monitors_list(args: argparse.Namespace, client: ApiClient) -> None:
    items = client.list_all("/monitors", type=args.type, tag=args.tag, status=args.status)
    _print(args, items, MONITOR_COLUMNS)


def monitors_get(args: argparse.Namespace, client: ApiClient) -> None:
    _print(args, client.get(f"/monitors/{args.id}"))


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('expected a JSON object like \'{"keyword": "ok"}\'')
    return value


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def monitors_create(args: argparse.Namespace, client: ApiClient) -> None:
    body: dict[str, Any] = {"name": args.name, "type": args.type, "url": args.url}
    optional = {
        "interval_seconds": args.interval,
        "timeout_seconds": args.timeout,
        "regions": args.regions,
        "min_failing_regions": args.min_failing_regions,
        "tags": args.tags,
        args.type: args.settings,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    created = client.post("/monitors", body)
    if args.json:
        emit_json(created)
    else:
        print(f"created monitor {created['id']} ({created['name']})")


def monitors_pause(args: argparse.Namespace, client: ApiClient) -> None:
    monitor = client.post(f"/monitors/{args.id}/pause")
    if args.json:
        emit_json(monitor)
    else:
        print(f"paused monitor {args.id}")


def monitors_resume(args: argparse.Namespace, client: ApiClient) -> None:
    monitor = client.post(f"/monitors/{args.id}/resume")
    if args.json:
        emit_json(monitor)
    else:
        print(f"resumed monitor {args.id}")


def monitors_delete(args: argparse.Namespace, client: ApiClient) -> None:
    client.delete(f"/monitors/{args.id}")
    if args.json:
        emit_json({"id": args.id, "deleted": True})
    else:
        print(f"deleted monitor {args.id}")


# --- incidents ----------------------------------------------------------------------------

INCIDENT_COLUMNS: list[Column] = [
    ("ID", lambda i: i["id"]),
    ("STATUS", lambda i: i["status"]),
    ("IMPACT", lambda i: i.get("impact")),
    ("STARTED", lambda i: i["started_at"]),
    ("ACKED", lambda i: bool(i.get("acknowledged_at"))),
    ("REGIONS", lambda i: sorted(i.get("regions") or [])),
    ("TITLE", lambda i: i["title"]),
]


def incidents_list(args: argparse.Namespace, client: ApiClient) -> None:
    active = True if args.active else None
    items = client.list_all("/incidents", active=active, monitor_id=args.monitor)
    _print(args, items, INCIDENT_COLUMNS)


def incidents_ack(args: argparse.Namespace, client: ApiClient) -> None:
    incident = client.post(f"/incidents/{args.id}/acknowledge")
    if args.json:
        emit_json(incident)
    else:
        print(f"acknowledged incident {args.id}")


def incidents_resolve(args: argparse.Namespace, client: ApiClient) -> None:
    incident = client.post(f"/incidents/{args.id}/resolve")
    if args.json:
        emit_json(incident)
    else:
        print(f"resolved incident {args.id}")


# --- probes -------------------------------------------------------------------------------

PROBE_COLUMNS: list[Column] = [
    ("ID", lambda p: p["id"]),
    ("NAME", lambda p: p["name"]),
    ("REGION", lambda p: p["region"]),
    ("STATUS", lambda p: p.get("status") or ("live" if p.get("live") else "offline")),
    ("VERSION", lambda p: p.get("version")),
    ("LAST SEEN", lambda p: p.get("last_seen_at")),
]


def probes_list(args: argparse.Namespace, client: ApiClient) -> None:
    _print(args, client.list_all("/probes", region=args.region), PROBE_COLUMNS)


def probes_create(args: argparse.Namespace, client: ApiClient) -> None:
    created = client.post("/probes", {"name": args.name, "region": args.region})
    if args.json:
        emit_json(created)
        return
    print(f"created probe {created['id']} in {created['region']}")
    print(f"token (shown once): {created['token']}")
    print("start it with:")
    print(f"  {created['command']}")


# --- reports ------------------------------------------------------------------------------


def _percent(value: Any) -> str:
    return "-" if value is None else f"{float(value):.3f}%"


def report_uptime(args: argparse.Namespace, client: ApiClient) -> None:
    params = {"monitor_id": args.monitor, "period": args.period, "from": args.from_, "to": args.to}
    if args.from_ or args.to:
        params["period"] = None
    report = client.get("/reports/uptime", **params)
    if args.json:
        emit_json(report)
        return
    print(f"monitor {report['monitor_id']}  {report['from']} → {report['to']}")
    rows = [{"region": "overall", **report["overall"]}] + [
        {"region": region, **values} for region, values in sorted(report["regions"].items())
    ]
    latency = lambda r, k: (r.get("latency_ms") or {}).get(k)  # noqa: E731
    table(
        rows,
        [
            ("REGION", lambda r: r["region"]),
            ("UPTIME", lambda r: _percent(r.get("uptime_percent"))),
            ("DOWNTIME", lambda r: f"{r.get('downtime_seconds', 0)}s"),
            ("INCIDENTS", lambda r: r.get("incidents")),
            ("AVG MS", lambda r: latency(r, "avg")),
            ("P95 MS", lambda r: latency(r, "p95")),
            ("P99 MS", lambda r: latency(r, "p99")),
        ],
    )


# --- apply --------------------------------------------------------------------------------


def run_apply(args: argparse.Namespace) -> int:
    # Imported here: the processes that share this parser never need the API's models.
    from picket.client.apply import apply
    from picket.client.manifest import ManifestError, load_manifest

    try:
        manifest = load_manifest(args.file)
    except ManifestError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2

    def handler(a: argparse.Namespace, client: ApiClient) -> None:
        apply(manifest, client, a.prune, a.dry_run, sys.stdout)

    return _run(handler)(args)


# --- registration -------------------------------------------------------------------------


def _connection_flags() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--api-url", default=None, help="overrides PICKET_API_URL")
    parent.add_argument("--api-key", default=None, help="overrides PICKET_API_KEY")
    return parent


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the client's commands to the `picket` parser."""
    connection = _connection_flags()
    common = argparse.ArgumentParser(add_help=False, parents=[connection])
    common.add_argument("--json", action="store_true", help="print JSON for scripts")

    def group(name: str, help_text: str) -> argparse._SubParsersAction:  # type: ignore[type-arg]
        parser = sub.add_parser(name, help=help_text)
        return parser.add_subparsers(dest=f"{name}_command", required=True)

    def command(
        parent: argparse._SubParsersAction,  # type: ignore[type-arg]
        name: str,
        handler: Handler,
        help_text: str,
    ) -> argparse.ArgumentParser:
        parser = parent.add_parser(name, help=help_text, parents=[common])
        parser.set_defaults(func=_run(handler))
        return parser

    monitors = group("monitors", "list, inspect, create, pause, resume and delete monitors")
    listing = command(monitors, "list", monitors_list, "list monitors")
    listing.add_argument("--type", default=None)
    listing.add_argument("--tag", default=None)
    listing.add_argument("--status", default=None)
    command(monitors, "get", monitors_get, "a monitor with its state per region").add_argument("id")
    create = command(monitors, "create", monitors_create, "create a monitor")
    create.add_argument("--name", required=True)
    create.add_argument("--type", required=True, help="http, tcp, dns, icmp, tls, heartbeat, api")
    create.add_argument("--url", default="", help="URL, host or name, as the type needs")
    create.add_argument("--interval", type=int, default=None, help="seconds between checks")
    create.add_argument("--timeout", type=int, default=None, help="seconds")
    create.add_argument("--regions", type=_csv, default=None, help="comma-separated")
    create.add_argument("--min-failing-regions", type=int, default=None)
    create.add_argument("--tags", type=_csv, default=None, help="comma-separated")
    create.add_argument(
        "--settings", type=_json_object, default=None, help="the type's settings as JSON"
    )
    for name, handler, text in (
        ("pause", monitors_pause, "stop checking a monitor"),
        ("resume", monitors_resume, "check a paused monitor again"),
        ("delete", monitors_delete, "delete a monitor (its history stays)"),
    ):
        command(monitors, name, handler, text).add_argument("id")

    incidents = group("incidents", "list, acknowledge and resolve incidents")
    listing = command(incidents, "list", incidents_list, "list incidents")
    listing.add_argument("--active", action="store_true", help="only unresolved ones")
    listing.add_argument("--monitor", default=None, help="only this monitor's")
    command(incidents, "ack", incidents_ack, "acknowledge an incident").add_argument("id")
    command(incidents, "resolve", incidents_resolve, "resolve an incident").add_argument("id")

    probes = group("probes", "list and create probes")
    command(probes, "list", probes_list, "list probes with liveness").add_argument(
        "--region", default=None
    )
    create = command(probes, "create", probes_create, "create a probe; prints its token once")
    create.add_argument("--name", required=True)
    create.add_argument("--region", required=True)

    reports = group("report", "reports")
    uptime = command(reports, "uptime", report_uptime, "uptime of a monitor, by region")
    uptime.add_argument("--monitor", required=True, help="monitor id")
    uptime.add_argument("--period", default="30d", help="24h, 7d, 30d, 90d")
    uptime.add_argument("--from", dest="from_", default=None, help="ISO 8601 start")
    uptime.add_argument("--to", default=None, help="ISO 8601 end")

    apply_parser = sub.add_parser(
        "apply",
        help="make monitors, channels and status pages match a file",
        parents=[connection],
        description="Monitors as code: see docs/monitors-as-code.md for the file's schema.",
    )
    apply_parser.add_argument("-f", "--file", required=True, help="the YAML file")
    apply_parser.add_argument("--dry-run", action="store_true", help="print the plan only")
    apply_parser.add_argument(
        "--prune", action="store_true", help="delete what the file's sections leave out"
    )
    apply_parser.set_defaults(func=run_apply)
