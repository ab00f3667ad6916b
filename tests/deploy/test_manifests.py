"""Acceptance 1: the compose file, the Kubernetes manifests and the systemd units run only
commands, settings, ports and images that exist, and agree with each other and with the
NATS configuration. (No Docker here: the files are parsed and checked.)"""

from __future__ import annotations

import argparse
import configparser
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from picket.cli import build_parser
from picket.settings import ENV_PREFIX, Settings
from tests.deploy.conftest import DEPLOY, NATS_DIR, REGIONS, nats_users

SETTING_VARS = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
PICKET_IMAGE = "picket:latest"
NATS_IMAGE = "nats:2.10-alpine"
POSTGRES_IMAGE = "postgres:16-alpine"
USERS = nats_users((NATS_DIR / "auth.conf").read_text())


def subcommands() -> set[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(action.choices)


ROLES = subcommands()


def nats_conf_port(key: str) -> int:
    match = re.search(rf"^{key}:\s*\S+:(\d+)", (NATS_DIR / "nats-server.conf").read_text(), re.M)
    assert match, key
    return int(match.group(1))


def check_settings(env: dict[str, str], where: str) -> Settings:
    """Every PICKET_ variable is a setting Picket reads, and its value is valid."""
    unknown = sorted(set(env) - SETTING_VARS)
    assert not unknown, f"{where}: {unknown} are not Picket settings"
    values = {name[len(ENV_PREFIX) :].lower(): value for name, value in env.items()}
    return Settings.model_validate(values)


def host_port(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host, int(port)


# --- compose ----------------------------------------------------------------------------

COMPOSE_DIR = DEPLOY / "compose"
_VAR = re.compile(r"\$\{(\w+)(?::([-?])([^}]*))?\}")


def example_env() -> dict[str, str]:
    env = {}
    for line in (COMPOSE_DIR / "example.env").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value or f"value-of-{name.lower()}"
    return env


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error}; a variable must exist somewhere."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        name, kind, default = match.groups()
        if kind == "-":
            return env.get(name, default)
        assert name in env, f"compose uses ${{{name}}}, which example.env does not define"
        return env[name]

    return _VAR.sub(one, value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    raw = yaml.safe_load((COMPOSE_DIR / "compose.yaml").read_text())
    return interpolate(raw, example_env())


def picket_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose["services"].items() if s["image"] == PICKET_IMAGE}


def test_compose_images_and_build(compose: dict[str, Any]) -> None:
    images = {s["image"] for s in compose["services"].values()}
    assert images == {PICKET_IMAGE, NATS_IMAGE, POSTGRES_IMAGE}
    for name, service in picket_services(compose).items():
        context = (COMPOSE_DIR / service["build"]["context"]).resolve()
        assert (context / service["build"]["dockerfile"]).is_file(), name
        assert (context / "pyproject.toml").is_file(), name


def test_compose_services_run_picket_commands_with_valid_settings(
    compose: dict[str, Any],
) -> None:
    services = picket_services(compose)
    roles = {name: service["command"][0] for name, service in services.items()}
    assert set(roles.values()) <= ROLES
    assert sorted(roles.values()) == sorted(
        ["migrate", "collector", "api"] + ["probe"] * len(REGIONS)
    )
    for name, service in services.items():
        check_settings(service["environment"], f"compose service {name}")
        for dep in service.get("depends_on", []):
            assert dep in compose["services"], f"{name} depends on unknown {dep}"


def test_compose_ports_and_addresses_agree(compose: dict[str, Any]) -> None:
    services = compose["services"]
    by_role = {s["command"][0]: s for s in picket_services(compose).values()}
    collector = check_settings(by_role["collector"]["environment"], "collector")
    api = check_settings(by_role["api"]["environment"], "api")
    grpc_port = host_port(collector.collector_addr)[1]
    assert f"{grpc_port}:{grpc_port}" in by_role["collector"]["ports"]
    assert any(p.endswith(f":{api.api_port}") for p in by_role["api"]["ports"])
    assert api.api_host == "0.0.0.0" and collector.health_host == "0.0.0.0"
    assert f"127.0.0.1:{api.api_port}/readyz" in " ".join(by_role["api"]["healthcheck"]["test"])
    health = f"127.0.0.1:{collector.health_port}/readyz"
    assert health in " ".join(by_role["collector"]["healthcheck"]["test"])
    # Clients dial the collector by its service name and listening port.
    assert host_port(api.collector_addr) == ("collector", grpc_port)

    postgres = services["postgres"]["environment"]
    for service in (by_role["collector"], by_role["api"], by_role["migrate"]):
        url = urlsplit(service["environment"]["PICKET_DATABASE_URL"])
        assert (url.hostname, url.port) == ("postgres", 5432)
        assert (url.username, url.password) == (
            postgres["POSTGRES_USER"],
            postgres["POSTGRES_PASSWORD"],
        )
        assert url.path == "/" + postgres["POSTGRES_DB"]


def check_nats_urls(urls: str, user: str, password: str, hosts: set[str], where: str) -> None:
    assert user in USERS, f"{where}: NATS user {user} is not in auth.conf"
    for part in urls.split(","):
        url = urlsplit(part)
        assert url.scheme == "nats", where
        assert url.hostname in hosts, f"{where}: {url.hostname} is not a NATS node"
        assert url.port == nats_conf_port("listen"), where
        assert (url.username, url.password) == (user, password), where


def test_compose_nats_cluster_users_and_probes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    nodes = {n: s for n, s in services.items() if s["image"] == NATS_IMAGE}
    assert sorted(nodes) == ["nats-1", "nats-2", "nats-3"]
    routes = re.findall(r"nats-route://([\w-]+):(\d+)", (NATS_DIR / "nats-server.conf").read_text())
    assert {host for host, _ in routes} == set(nodes)
    assert {int(port) for _, port in routes} == {nats_conf_port("listen") + 2000}
    conf_text = (NATS_DIR / "nats-server.conf").read_text()
    assert re.search(r"cluster \{[^}]*listen: 0\.0\.0\.0:6222", conf_text)
    for name, node in nodes.items():
        assert node["environment"]["NATS_SERVER_NAME"] == name
        for mount in node["volumes"][:2]:
            source, target = mount.split(":")[:2]
            assert (COMPOSE_DIR / source).resolve().is_file(), mount
            assert Path(target).parent == Path(node["command"][1]).parent
    nats_env = nodes["nats-1"]["environment"]
    for user, spec in USERS.items():
        assert spec["password_var"] in nats_env, f"nats nodes lack the password of {user}"

    by_role: dict[str, list[dict[str, Any]]] = {}
    for service in picket_services(compose).values():
        by_role.setdefault(service["command"][0], []).append(service)
    collector = by_role["collector"][0]["environment"]
    check_nats_urls(
        collector["PICKET_NATS_URL"],
        "collector",
        nats_env[str(USERS["collector"]["password_var"])],
        set(nodes),
        "collector",
    )
    regions = []
    for probe in by_role["probe"]:
        env = probe["environment"]
        settings = check_settings(env, "probe")
        regions.append(settings.region)
        user = f"probe-{settings.region}"
        assert USERS[user]["publish"] == [f"results.{settings.region}.>"]
        check_nats_urls(
            env["PICKET_NATS_URL"],
            user,
            nats_env[str(USERS[user]["password_var"])],
            set(nodes),
            user,
        )
        assert host_port(settings.collector_addr) == (
            "collector",
            host_port(collector["PICKET_COLLECTOR_ADDR"])[1],
        )
        assert settings.probe_token
    assert sorted(regions) == sorted(REGIONS)


# --- Kubernetes ---------------------------------------------------------------------------

K8S_DIR = DEPLOY / "kubernetes"


@pytest.fixture(scope="module")
def k8s() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk, "every manifest is listed in kustomization.yaml, and only those"
    docs = []
    for name in kustomization["resources"]:
        docs.extend(d for d in yaml.safe_load_all((K8S_DIR / name).read_text()) if d)
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == kustomization["namespace"], doc
    return docs


def objects(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def resolve_env(container: dict[str, Any], docs: list[dict[str, Any]]) -> dict[str, str]:
    """The container's environment, with Secret and ConfigMap references looked up."""
    config_maps = objects(docs, "ConfigMap")
    secrets = objects(docs, "Secret")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        ref = source["configMapRef"]["name"]
        assert ref in config_maps, f"envFrom names unknown ConfigMap {ref}"
        env.update(config_maps[ref]["data"])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], item["value"])
            continue
        source = item["valueFrom"]
        if "fieldRef" in source:
            env[item["name"]] = "pod-name"
            continue
        kind, ref = (
            ("Secret", source["secretKeyRef"])
            if "secretKeyRef" in source
            else ("ConfigMap", source["configMapKeyRef"])
        )
        store = secrets if kind == "Secret" else config_maps
        assert ref["name"] in store, f"{item['name']}: unknown {kind} {ref['name']}"
        data = store[ref["name"]].get("stringData") or store[ref["name"]].get("data")
        assert ref["key"] in data, f"{item['name']}: {kind} {ref['name']} has no {ref['key']}"
        env[item["name"]] = data[ref["key"]]
    return env


def workloads(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]


def test_k8s_workloads_run_picket_commands_with_valid_settings(
    k8s: list[dict[str, Any]],
) -> None:
    roles = []
    for workload in workloads(k8s):
        pod = workload["spec"]["template"]["spec"]
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert workload["spec"]["selector"]["matchLabels"].items() <= labels.items()
        for container in pod.get("initContainers", []) + pod["containers"]:
            assert container["image"] in (PICKET_IMAGE, NATS_IMAGE)
            env = resolve_env(container, k8s)
            if container["image"] != PICKET_IMAGE:
                continue
            role = container["args"][0]
            assert role in ROLES
            roles.append(role)
            picket_env = {k: v for k, v in env.items() if k.startswith(ENV_PREFIX)}
            helpers = set(env) - set(picket_env)
            # A non-Picket variable only feeds another value, such as a password in a URL.
            for helper in helpers:
                used = any(f"$({helper})" in i.get("value", "") for i in container["env"])
                assert used, f"{workload['metadata']['name']}: {helper} is never used"
            check_settings(picket_env, workload["metadata"]["name"])
    assert sorted(roles) == sorted(["migrate", "collector", "api"] + ["probe"] * len(REGIONS))


def container_ports(container: dict[str, Any]) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in container.get("ports", [])}


def test_k8s_health_probes_and_ports_match_settings(k8s: list[dict[str, Any]]) -> None:
    for workload in workloads(k8s):
        for container in workload["spec"]["template"]["spec"]["containers"]:
            ports = container_ports(container)
            live, ready = (
                container["livenessProbe"]["httpGet"],
                container["readinessProbe"]["httpGet"],
            )
            assert live["port"] in ports and ready["port"] in ports
            if container["image"] != PICKET_IMAGE:
                continue
            assert (live["path"], ready["path"]) == ("/healthz", "/readyz")
            settings = check_settings(
                {k: v for k, v in resolve_env(container, k8s).items() if k.startswith("PICKET_")},
                container["name"],
            )
            role = container["args"][0]
            if role == "api":
                assert ports[live["port"]] == settings.api_port
                assert settings.api_host == "0.0.0.0"
            else:
                assert ports[live["port"]] == settings.health_port
                assert settings.health_host == "0.0.0.0"
            if role == "collector":
                assert ports["grpc"] == host_port(settings.collector_addr)[1]


def test_k8s_services_select_pods_and_their_ports(k8s: list[dict[str, Any]]) -> None:
    templates = [w["spec"]["template"] for w in workloads(k8s)]
    services = objects(k8s, "Service")
    assert {"api", "collector", "nats", "nats-public"} <= set(services)
    for name, service in services.items():
        selector = service["spec"]["selector"]
        pods = [t for t in templates if selector.items() <= t["metadata"]["labels"].items()]
        assert pods, f"Service {name} selects no pods"
        for port in service["spec"]["ports"]:
            for pod in pods:
                names = set().union(*(container_ports(c) for c in pod["spec"]["containers"]))
                assert port["targetPort"] in names, f"Service {name}: {port['targetPort']}"


def test_k8s_probes_and_nats(k8s: list[dict[str, Any]]) -> None:
    deployments = objects(k8s, "Deployment")
    pod = deployments["collector"]["spec"]["template"]["spec"]
    collector = resolve_env(pod["containers"][0], k8s)
    grpc_port = host_port(collector["PICKET_COLLECTOR_ADDR"])[1]
    public_host, public_port = host_port(collector["PICKET_COLLECTOR_PUBLIC_ADDR"])
    assert public_port == grpc_port
    url = urlsplit(collector["PICKET_NATS_URL"])
    assert (url.username, url.hostname, url.port) == ("collector", "nats", 4222)
    for region in REGIONS:
        container = deployments[f"probe-{region}"]["spec"]["template"]["spec"]["containers"][0]
        env = resolve_env(container, k8s)
        assert env["PICKET_REGION"] == region
        assert host_port(env["PICKET_COLLECTOR_ADDR"]) == (public_host, grpc_port)
        nats = urlsplit(env["PICKET_NATS_URL"])
        assert nats.username == f"probe-{region}" and nats.port == nats_conf_port("listen")
        assert USERS[nats.username]["publish"] == [f"results.{region}.>"]

    nats_config = objects(k8s, "ConfigMap")["nats-config"]["data"]
    assert nats_config["auth.conf"] == (NATS_DIR / "auth.conf").read_text()
    server = (NATS_DIR / "nats-server.conf").read_text()
    strip = re.compile(r"^#.*\n|nats-route://\S+", re.M)
    assert strip.sub("", nats_config["nats-server.conf"]) == strip.sub("", server)
    statefulset = objects(k8s, "StatefulSet")["nats"]
    assert statefulset["spec"]["replicas"] == 3
    routes = re.findall(r"nats-route://(nats-\d)\.nats:", nats_config["nats-server.conf"])
    assert routes == [f"nats-{i}" for i in range(3)]
    nats_env = resolve_env(statefulset["spec"]["template"]["spec"]["containers"][0], k8s)
    for user, spec in USERS.items():
        assert spec["password_var"] in nats_env, f"the NATS pods lack the password of {user}"


# --- systemd ------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", sorted((DEPLOY / "systemd").glob("picket-*.service")))
def test_systemd_units_run_picket_commands(unit: Path) -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(unit.read_text())
    service = parser["Service"]
    role = unit.stem.removeprefix("picket-")
    assert service["ExecStart"].split()[-1] == role and role in ROLES
    assert service["ExecStart"].split()[0].endswith("/bin/picket")
    assert service["EnvironmentFile"] == f"/etc/picket/{role}.env"
    assert parser["Install"]["WantedBy"] == "multi-user.target"
    for line in unit.read_text().splitlines():
        if line.startswith("Environment=PICKET_"):
            name = line.removeprefix("Environment=").split("=")[0]
            assert name in SETTING_VARS


# --- Dockerfile ---------------------------------------------------------------------------


def test_dockerfile_copies_what_exists_and_sets_only_settings(compose: dict[str, Any]) -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    root = DEPLOY.parent
    for source in re.findall(r"^COPY (?!--from)(\S+)", text, re.M):
        assert (root / source).exists(), f"COPY {source}: no such path in the repository"
    for name in re.findall(r"\b(PICKET_[A-Z_]+)=", text):
        assert name in SETTING_VARS, f"the image sets {name}, which Picket does not read"
    assert re.search(r'^ENTRYPOINT \["picket"\]', text, re.M)
    exposed = {int(p) for p in re.search(r"^EXPOSE (.+)$", text, re.M).group(1).split()}  # type: ignore[union-attr]
    by_role = {s["command"][0]: s["environment"] for s in picket_services(compose).values()}
    used = {
        check_settings(by_role["api"], "api").api_port,
        host_port(by_role["collector"]["PICKET_COLLECTOR_ADDR"])[1],
        check_settings(by_role["collector"], "collector").health_port,
    }
    assert exposed == used
