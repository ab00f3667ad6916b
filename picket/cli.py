"""The `picket` command line: one entry point for every process and the operator's client.

Each flag has the same name as its PICKET_* variable; a flag given wins over the variable.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from picket.client.commands import register as register_client
from picket.settings import Settings, SettingsError, load_settings

# Flags shared by the processes, named as the PICKET_* variables they override.
SETTING_FLAGS = {
    "--data-dir": "data_dir",
    "--database-url": "database_url",
    "--nats-url": "nats_url",
    "--collector-addr": "collector_addr",
    "--probe-token": "probe_token",
    "--region": "region",
    "--api-host": "api_host",
    "--api-port": "api_port",
    "--admin-api-key": "admin_api_key",
    "--source-address": "source_address",
    "--log-level": "log_level",
}


def _add_setting_flags(parser: argparse.ArgumentParser, names: Sequence[str]) -> None:
    for flag in names:
        parser.add_argument(
            flag,
            dest=SETTING_FLAGS[flag],
            default=None,
            help=f"overrides PICKET_{SETTING_FLAGS[flag].upper()}",
        )


def settings_from(args: argparse.Namespace) -> Settings:
    return load_settings(**{field: getattr(args, field, None) for field in SETTING_FLAGS.values()})


def _cmd_migrate(args: argparse.Namespace) -> int:
    from picket.migrations import migrate

    settings = settings_from(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.effective_database_url)
    print("database is up to date")
    return 0


def _cmd_collector(args: argparse.Namespace) -> int:
    from picket.collector.main import run_collector

    return run_collector(settings_from(args))


def _cmd_api(args: argparse.Namespace) -> int:
    from picket.api.main import run_api

    return run_api(settings_from(args))


def _cmd_probe(args: argparse.Namespace) -> int:
    from picket.probe.main import run_probe

    return run_probe(settings_from(args))


def _cmd_up(args: argparse.Namespace) -> int:
    from picket.up import run_up

    return run_up(
        settings_from(args),
        regions=args.regions,
        admin_key=args.admin_key,
        nats_port=args.nats_port,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="picket", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    process_flags = list(SETTING_FLAGS)

    up = sub.add_parser("up", help="run everything on this machine")
    _add_setting_flags(up, ["--data-dir", "--api-host", "--api-port", "--log-level"])
    up.add_argument(
        "--regions",
        default="us-east,eu-west,ap-south",
        help="comma-separated regions, one local probe each",
    )
    up.add_argument(
        "--admin-key", default=None, help="fix the admin API key (or PICKET_ADMIN_API_KEY)"
    )
    up.add_argument("--nats-port", type=int, default=None, help="default: a free port")
    up.set_defaults(func=_cmd_up)

    commands: dict[str, tuple[str, Callable[[argparse.Namespace], int]]] = {
        "collector": (
            "gRPC control plane, result ingest, consensus, notifications",
            _cmd_collector,
        ),
        "api": ("the REST API", _cmd_api),
        "probe": ("a probe agent", _cmd_probe),
        "migrate": ("bring the database schema up to date", _cmd_migrate),
    }
    for name, (help_text, func) in commands.items():
        command = sub.add_parser(name, help=help_text)
        _add_setting_flags(command, process_flags)
        command.set_defaults(func=func)
    register_client(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:
        print(f"picket: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
