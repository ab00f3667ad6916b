"""Acceptance 4: `picket apply -f` is idempotent and names the line of a bad field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from picket.specs import KIND_SETTINGS
from tests.client.conftest import Api
from tests.client.test_commands import require_route

FILE = """\
# Two monitors, as an operator would keep them in git.
monitors:
  - name: Shop
    type: http
    url: http://127.0.0.1:9/shop
    interval_seconds: 60
    regions: [us-east, eu-west]
    tags: [prod]
    http:
      expected_status: ["2xx"]
      keyword: Welcome
  - name: API
    type: http
    url: http://127.0.0.1:9/api
"""


def write(tmp_path: Path, text: str, name: str = "monitors.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def monitors(cli) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    return {m["name"]: m for m in json.loads(cli("monitors", "list", "--json").out)}


def test_apply_twice_reports_no_changes(api: Api, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, FILE)
    first = cli("apply", "-f", path)
    assert first.code == 0, first.err
    assert f"Plan for {path}:" in first.out
    assert "  + monitor 'Shop': http http://127.0.0.1:9/shop" in first.out
    assert "  + monitor 'API': http http://127.0.0.1:9/api" in first.out
    assert "2 to create, 0 to update, 0 to delete." in first.out
    assert "Applied: 2 created, 0 updated, 0 deleted." in first.out
    created = monitors(cli)
    assert sorted(created["Shop"]["regions"]) == ["eu-west", "us-east"]
    assert created["Shop"]["http"]["keyword"] == "Welcome"

    second = cli("apply", "-f", path)
    assert second.code == 0, second.err
    assert second.out == f"No changes: the server matches {path}.\n"
    assert monitors(cli) == created


def test_dry_run_changes_nothing(api: Api, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, FILE)
    result = cli("apply", "-f", path, "--dry-run")
    assert result.code == 0
    assert "2 to create" in result.out and "Applied" not in result.out
    assert monitors(cli) == {}


def test_update_shows_the_difference_then_settles(api: Api, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, FILE)
    assert cli("apply", "-f", path).code == 0
    before = monitors(cli)
    changed = FILE.replace("interval_seconds: 60", "interval_seconds: 30").replace(
        "keyword: Welcome", "keyword: Hello"
    )
    write(tmp_path, changed)
    result = cli("apply", "-f", path)
    assert result.code == 0, result.err
    assert (
        "  ~ monitor 'Shop': interval_seconds 60 → 30; http.keyword 'Welcome' → 'Hello'"
        in result.out
    )
    assert "0 to create, 1 to update, 0 to delete." in result.out
    after = monitors(cli)
    assert after["Shop"]["id"] == before["Shop"]["id"]
    assert after["Shop"]["interval_seconds"] == 30
    assert after["API"] == before["API"]
    assert cli("apply", "-f", path).out.startswith("No changes")

    # A field removed from the file goes back to its default.
    write(tmp_path, changed.replace("    interval_seconds: 30\n", ""))
    result = cli("apply", "-f", path)
    assert "interval_seconds 30 → 60" in result.out


def test_prune_deletes_only_with_the_flag(api: Api, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, FILE)
    assert cli("apply", "-f", path).code == 0
    only_shop = FILE.split("  - name: API")[0]
    write(tmp_path, only_shop)
    kept = cli("apply", "-f", path)
    assert kept.out.startswith("No changes")
    assert "Note: 1 monitor(s) on the server are not in" in kept.out
    assert set(monitors(cli)) == {"Shop", "API"}

    pruned = cli("apply", "-f", path, "--prune")
    assert pruned.code == 0
    assert "  - monitor 'API'" in pruned.out and "deleted monitor 'API'" in pruned.out
    assert set(monitors(cli)) == {"Shop"}
    assert cli("apply", "-f", path, "--prune").out.startswith("No changes")


def test_a_monitor_deleted_by_hand_comes_back(api: Api, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, FILE)
    assert cli("apply", "-f", path).code == 0
    api_id = monitors(cli)["API"]["id"]
    assert cli("monitors", "delete", api_id).code == 0
    result = cli("apply", "-f", path)
    assert "  + monitor 'API'" in result.out and "1 to create" in result.out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            FILE.replace("interval_seconds: 60", "interval_seconds: often"),
            ":6: monitors[0].interval_seconds: Input should be a valid integer",
        ),
        (
            FILE.replace("    tags: [prod]\n", "    tags: [prod]\n    intervall: 5\n"),
            ":9: monitors[0].intervall: unknown field",
        ),
        (
            FILE.replace("keyword: Welcome", "keyword: Welcome\n      method: FETCH"),
            ":12: monitors[0].http.method: ",
        ),
        (
            FILE.replace('      expected_status: ["2xx"]', '      expected_status: ["7xx"]'),
            ":10: monitors[0].http.expected_status: not a status code",
        ),
        (
            FILE.replace("  - name: API\n    type: http\n", "  - name: API\n    type: smtp\n"),
            ":13: monitors[1].type: Input should be",
        ),
        (FILE.replace("  - name: API", "  - name: Shop"), ":12: monitors[1].name: 'Shop' is"),
        (FILE + "  - name: [oops\n", ":16: not valid YAML"),
        (FILE + "dashboards: []\n", ":15: dashboards: unknown field"),
        (FILE.replace("Welcome", "${PICKET_TEST_UNSET_VARIABLE}"), ":11: monitors[0].http."),
    ],
)
def test_a_bad_field_reports_its_line(
    api: Api,
    cli,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    text: str,
    expected: str,
) -> None:
    path = write(tmp_path, text)
    result = cli("apply", "-f", path)
    assert result.code == 2
    assert result.out == ""
    first = result.err.splitlines()[0]
    assert first.startswith(path + expected), result.err
    assert monitors(cli) == {}


def test_missing_type_names_the_field(api: Api, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, FILE.replace("    type: http\n    url: http://127.0.0.1:9/api", ""))
    result = cli("apply", "-f", path)
    assert result.err.startswith(f"{path}:12: monitors[1].type: required field is missing")


def test_a_server_refusal_names_the_item(api: Api, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, FILE.replace("[us-east, eu-west]", "[us-east, mars]"))
    result = cli("apply", "-f", path)
    assert result.code == 1
    assert result.err.startswith(f"picket: {path}:3: monitor 'Shop': POST /monitors: 422")
    assert "mars" in result.err


def test_environment_variables_fill_secrets(
    api: Api,
    cli,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOP_KEYWORD", "Bienvenue")
    path = write(tmp_path, FILE.replace("Welcome", "${SHOP_KEYWORD}"))
    assert cli("apply", "-f", path).code == 0
    assert monitors(cli)["Shop"]["http"]["keyword"] == "Bienvenue"


def test_paused_in_the_file(api: Api, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    require_route(api, "post", "/api/v1/monitors/{monitor_id}/pause")
    path = write(
        tmp_path, FILE.replace("    tags: [prod]\n", "    tags: [prod]\n    paused: true\n")
    )
    assert cli("apply", "-f", path).code == 0
    assert monitors(cli)["Shop"]["paused"] is True
    assert cli("apply", "-f", path).out.startswith("No changes")
    write(tmp_path, FILE)
    result = cli("apply", "-f", path)
    assert "  ~ monitor 'Shop': resumed" in result.out
    assert monitors(cli)["Shop"]["paused"] is False


CHANNELS = """\
notification_channels:
  - name: ops
    type: webhook
    config:
      url: http://127.0.0.1:9/hook
      secret: s3cret
"""

PAGES = """\
status_pages:
  - name: Shop status
    slug: shop
    components:
      - monitor: Shop
        section: Web
      - monitor: API
        name: Public API
"""


def test_channels(api: Api, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    require_route(api, "post", "/api/v1/notifications/channels")
    path = write(tmp_path, FILE + CHANNELS)
    first = cli("apply", "-f", path)
    assert first.code == 0, first.err
    assert "  + channel 'ops': webhook" in first.out and "3 to create" in first.out
    assert cli("apply", "-f", path).out.startswith("No changes")

    write(tmp_path, FILE + CHANNELS.replace("/hook", "/hook2"))
    changed = cli("apply", "-f", path)
    assert "  ~ channel 'ops': config.url changed" in changed.out
    assert cli("apply", "-f", path).out.startswith("No changes")

    write(tmp_path, FILE + "notification_channels: []\n")
    assert "deleted channel 'ops'" in cli("apply", "-f", path, "--prune").out


def test_status_pages(api: Api, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    require_route(api, "post", "/api/v1/status-pages")
    path = write(tmp_path, FILE + PAGES)
    first = cli("apply", "-f", path)
    assert first.code == 0, first.err
    assert "  + status page 'shop'" in first.out and "3 to create" in first.out
    assert cli("apply", "-f", path).out.startswith("No changes")

    write(tmp_path, FILE + PAGES.replace("name: Public API", "name: REST API"))
    result = cli("apply", "-f", path)
    assert "  ~ status page 'shop': components changed" in result.out
    assert cli("apply", "-f", path).out.startswith("No changes")

    # A page refers to monitors by name; one not in the file must exist on the server.
    write(tmp_path, PAGES.replace("monitor: API", "monitor: Nowhere"))
    missing = cli("apply", "-f", path)
    assert missing.code == 1
    assert missing.err.startswith(f"picket: {path}:7: no monitor named 'Nowhere'")

    # Pages go before the monitors they show.
    write(tmp_path, "monitors: []\nstatus_pages: []\n")
    pruned = cli("apply", "-f", path, "--prune")
    assert pruned.code == 0, pruned.err
    assert pruned.out.index("deleted status page 'shop'") < pruned.out.index("deleted monitor")


@pytest.mark.skipif("tcp" not in KIND_SETTINGS, reason="this server has no tcp checks yet")
def test_a_type_change_replaces_the_monitor(api: Api, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, FILE)
    assert cli("apply", "-f", path).code == 0
    old_id = monitors(cli)["API"]["id"]
    as_tcp = FILE.replace(
        "    type: http\n    url: http://127.0.0.1:9/api\n",
        "    type: tcp\n    url: 127.0.0.1\n    tcp:\n      port: 5432\n",
    )
    write(tmp_path, as_tcp)
    result = cli("apply", "-f", path)
    assert result.code == 0, result.err
    assert "  -/+ monitor 'API': type 'http' → 'tcp'" in result.out
    assert "1 to create, 0 to update, 1 to delete." in result.out
    replaced = monitors(cli)["API"]
    assert replaced["id"] != old_id and replaced["tcp"]["port"] == 5432
    assert cli("apply", "-f", path).out.startswith("No changes")
