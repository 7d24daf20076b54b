"""deploy/: the files operators apply are valid for their tools and agree with ivrd and each other.

Schemas come from PyPI packages (no network at test time): Kubernetes' from
`kubernetes-validate` (strict: unknown fields are errors), the Compose Specification's as
vendored by `check-jsonschema`, checked with `jsonschema`. Beyond the schemas, the files must
agree on what the schemas cannot know: ports, paths, names, the drain deadline, the metric
names the dashboard queries.
"""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from kubernetes_validate.utils import latest_version  # type: ignore[import-untyped]
from prometheus_client.parser import text_string_to_metric_families

from ivrd.observability import Metrics

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
# The oldest Kubernetes still common in managed clusters, and the newest the package knows.
KUBERNETES_VERSIONS = ("1.29", latest_version())


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def kubernetes_documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                found.append(
                    (f"{path.name}:{document['kind']}/{document['metadata']['name']}", document)
                )
    return found


def kubernetes_object(kind: str, name: str = "ivrd") -> dict[str, Any]:
    for _, document in kubernetes_documents():
        if document["kind"] == kind and document["metadata"]["name"] == name:
            return document
    raise AssertionError(f"no {kind} named {name} in {KUBERNETES}")


def seconds(duration: str) -> float:
    """`45s`, `30s`, `2m` as in config.yaml and compose files."""
    match = re.fullmatch(r"(\d+)(ms|s|m|h)", duration)
    assert match, f"unexpected duration {duration!r}"
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match.group(2)]
    return int(match.group(1)) * scale


@pytest.fixture(scope="module")
def container_config() -> dict[str, Any]:
    config: dict[str, Any] = load_yaml(DEPLOY / "config.yaml")
    return config


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = load_yaml(DEPLOY / "docker-compose.yml")
    return document


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, Any]:
    vendored = files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema: dict[str, Any] = json.loads(vendored.read_text(encoding="utf-8"))
    return schema


# --- the container's config.yaml -------------------------------------------------------------


def test_the_container_config_is_valid_for_the_daemon(tmp_path: Path) -> None:
    from ivrd.daemon.loading import load_config

    result = load_config(DEPLOY / "config.yaml", environ={})

    assert [str(error) for error in result.errors] == []


# --- docker-compose ----------------------------------------------------------------------------


def test_compose_file_is_accepted_by_the_compose_specification(
    compose: dict[str, Any], compose_schema: dict[str, Any]
) -> None:
    validator = jsonschema.Draft202012Validator(compose_schema)
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(compose)
    ]

    assert errors == []


def test_the_compose_schema_catches_a_misspelt_key(
    compose: dict[str, Any], compose_schema: dict[str, Any]
) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["ivrd-1"]["helthcheck"] = broken["services"]["ivrd-1"].pop("healthcheck")

    assert not jsonschema.Draft202012Validator(compose_schema).is_valid(broken)


def test_compose_mounts_exist_and_match_the_container_layout(
    compose: dict[str, Any], container_config: dict[str, Any]
) -> None:
    for name in ("ivrd-1", "ivrd-2", "freeswitch"):
        for volume in compose["services"][name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} does not exist"
    ivrd = compose["services"]["ivrd-1"]
    assert "../flows:/etc/ivrd/flows:ro" in ivrd["volumes"]
    assert "./config.yaml:/etc/ivrd/config.yaml:ro" in ivrd["volumes"]
    assert container_config["flows"]["directory"] == "/etc/ivrd/flows"
    assert (DEPLOY / ivrd["build"]["context"] / ivrd["build"]["dockerfile"]).is_file()


def test_compose_gives_both_sides_the_same_event_socket_password(compose: dict[str, Any]) -> None:
    services = compose["services"]
    ivrd_password = services["ivrd-1"]["environment"]["IVRD_FREESWITCH_PASSWORD"]
    freeswitch_password = services["freeswitch"]["environment"]["FREESWITCH_ESL_PASSWORD"]

    assert ivrd_password == freeswitch_password
    assert ivrd_password.startswith("${FREESWITCH_ESL_PASSWORD:?")  # refuses to start without it
    event_socket = (DEPLOY / "freeswitch/autoload_configs/event_socket.conf.xml").read_text()
    assert 'data="ivrd_esl_password=$FREESWITCH_ESL_PASSWORD"' in event_socket


def test_compose_waits_for_a_whole_drain(
    compose: dict[str, Any], container_config: dict[str, Any]
) -> None:
    from ivrd.daemon.server import END_GRACE

    drain = seconds(container_config["limits"]["drain_timeout"])
    for name in ("ivrd-1", "ivrd-2"):
        assert seconds(compose["services"][name]["stop_grace_period"]) >= drain + END_GRACE


# --- Kubernetes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_kubernetes_manifests_are_accepted_by_their_schemas(version: str) -> None:
    documents = kubernetes_documents()
    assert {document["kind"] for _, document in documents} == {
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
    }
    for name, document in documents:
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(map(str, error.path))
            pytest.fail(f"{name} (Kubernetes {version}): {path}: {error.message}")


def test_the_kubernetes_schemas_catch_a_misspelt_field() -> None:
    deployment = copy.deepcopy(kubernetes_object("Deployment"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    probe = container["readinessProbe"]["httpGet"]
    probe["pth"] = probe.pop("path")

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def test_the_grace_period_covers_prestop_drain_and_ending_calls(
    container_config: dict[str, Any],
) -> None:
    from ivrd.daemon.server import END_GRACE

    pod = kubernetes_object("Deployment")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    sleep_command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep_command[0] == "sleep"
    pre_stop = float(sleep_command[1])
    drain = seconds(container_config["limits"]["drain_timeout"])

    assert pod["terminationGracePeriodSeconds"] >= pre_stop + drain + END_GRACE


def test_probes_and_ports_match_the_config(container_config: dict[str, Any]) -> None:
    container = kubernetes_object("Deployment")["spec"]["template"]["spec"]["containers"][0]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}

    assert ports == {
        "socket": container_config["listen"]["port"],
        "http": container_config["http"]["port"],
    }
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}


def test_the_pod_runs_as_the_images_user_on_a_read_only_root() -> None:
    pod = kubernetes_object("Deployment")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    dockerfile_user = re.search(r"^USER (\d+):(\d+)$", (REPO / "Dockerfile").read_text(), re.M)
    assert dockerfile_user is not None

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == int(dockerfile_user.group(1))
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_the_service_selects_the_pods_and_names_their_ports() -> None:
    deployment = kubernetes_object("Deployment")
    service = kubernetes_object("Service")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    container_ports = {
        port["name"] for port in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
    }

    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    budget = kubernetes_object("PodDisruptionBudget")
    assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert {port["targetPort"] for port in service["spec"]["ports"]} == container_ports
    assert {port["port"] for port in service["spec"]["ports"]} == {8084, 9090}


def test_the_configmaps_hold_the_repositorys_config_and_flows(
    container_config: dict[str, Any],
) -> None:
    config = kubernetes_object("ConfigMap", "ivrd-config")["data"]
    flows = kubernetes_object("ConfigMap", "ivrd-flows")["data"]

    assert config == {"config.yaml": (DEPLOY / "config.yaml").read_text(encoding="utf-8")}
    assert flows
    for key, text in flows.items():
        assert text == (REPO / "flows" / key).read_text(encoding="utf-8"), key
    routing_default = container_config["routing"]["default"]
    assert f"{routing_default}.yaml" in flows


def test_the_pod_mounts_config_and_flows_where_the_daemon_looks(
    container_config: dict[str, Any],
) -> None:
    pod = kubernetes_object("Deployment")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
    volumes = {
        volume["name"]: volume["configMap"]["name"]
        for volume in pod["volumes"]
        if "configMap" in volume
    }
    config_path = Path(container["args"][container["args"].index("--config") + 1])

    assert volumes == {"config": "ivrd-config", "flows": "ivrd-flows"}
    assert str(config_path.parent) == mounts["config"]
    assert config_path.name == "config.yaml"
    assert mounts["flows"] == container_config["flows"]["directory"]


# --- Prometheus and Grafana ------------------------------------------------------------------


def test_the_prometheus_examples_scrape_the_metrics_port(
    compose: dict[str, Any], container_config: dict[str, Any]
) -> None:
    http_port = container_config["http"]["port"]
    static = load_yaml(DEPLOY / "prometheus/prometheus.yml")
    (job,) = static["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    targets = job["static_configs"][0]["targets"]
    assert targets == [f"{name}:{http_port}" for name in ("ivrd-1", "ivrd-2")]
    assert set(compose["services"]) >= {"ivrd-1", "ivrd-2"}

    in_cluster = load_yaml(DEPLOY / "prometheus/prometheus-kubernetes.yml")
    (job,) = in_cluster["scrape_configs"]
    keep = {
        tuple(rule["source_labels"]): rule["regex"]
        for rule in job["relabel_configs"]
        if rule.get("action") == "keep"
    }
    assert keep == {
        ("__meta_kubernetes_pod_label_app_kubernetes_io_name",): "ivrd",
        ("__meta_kubernetes_pod_container_port_name",): "http",
    }


def exposed_metrics() -> dict[str, set[str]]:
    """Every sample name `Metrics` exposes once each kind of event happened, with its labels."""
    metrics = Metrics()
    metrics.call_started("hello")
    metrics.call_ended("hello", "hangup", 12.0)
    metrics.call_refused("draining")
    metrics.step_finished("hello", "play", "next", 0.4)
    metrics.application_finished("playback", 0.4)
    metrics.esl_error("timeout")
    metrics.reload_finished(ok=True)
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


# PromQL words that look like metric names: functions, aggregations, keywords, Grafana's.
_PROMQL_WORDS = {
    "sum", "rate", "increase", "histogram_quantile", "by", "without", "min", "max", "avg",
    "label_values", "le", "instance", "flow", "disposition", "reason", "step_type", "outcome",
    "application", "kind", "result", "version", "__rate_interval", "__range",
}  # fmt: skip


def dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads((DEPLOY / "grafana/ivrd-dashboard.json").read_text(encoding="utf-8"))
    queries = [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]
    queries += [
        (f"variable {variable['name']}", variable["query"]["query"])
        for variable in dashboard["templating"]["list"]
        if variable["type"] == "query"
    ]
    return queries


def test_the_dashboard_queries_only_metrics_that_exist() -> None:
    exposed = exposed_metrics()
    queries = dashboard_queries()
    assert len(queries) >= 15

    queried: set[str] = set()
    for title, expr in queries:
        # Label values and range durations ([5m]) are not names.
        without_strings = re.sub(r'"[^"]*"|\[[^\]]*\]', "", expr)
        words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_strings)) - _PROMQL_WORDS
        assert words, f"{title}: {expr} queries no metric"
        unknown = words - exposed.keys()
        assert not unknown, f"{title}: {expr} uses {unknown}, which ivrd does not expose"
        queried |= words
        for grouping in re.findall(r"\bby \(([^)]*)\)", expr):
            labels = {label.strip() for label in grouping.split(",")}
            known = set().union(*(exposed[word] for word in words))
            assert labels <= known, f"{title}: groups by {labels - known}, not a label of {words}"
    # Every family of ivrd's own shows up somewhere on the dashboard.
    families = {name.removesuffix("_bucket") for name in exposed if name.startswith("ivrd_")}
    families -= {name for name in families if name.endswith(("_created", "_sum", "_count"))}
    families -= {"ivrd_build_info"}
    assert families - {name.removesuffix("_bucket") for name in queried} == set()


def test_the_dashboard_panels_do_not_overlap_and_use_the_datasource_variable() -> None:
    dashboard = json.loads((DEPLOY / "grafana/ivrd-dashboard.json").read_text(encoding="utf-8"))
    cells: dict[tuple[int, int], str] = {}
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


# --- FreeSWITCH ----------------------------------------------------------------------------------


def xml_comments(path: Path) -> list[str]:
    return re.findall(r"<!--(.*?)-->", path.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize(
    "relative",
    ["freeswitch/dialplan/ivrd.xml", "freeswitch/autoload_configs/event_socket.conf.xml"],
)
def test_freeswitch_files_survive_its_preprocessor(relative: str) -> None:
    # FreeSWITCH's XML preprocessor works line by line and ignores comments: a line whose
    # comment mentions its directive's name is executed or dropped, breaking the file.
    path = DEPLOY / relative
    ET.parse(path)
    for comment in xml_comments(path):
        assert "x-pre-process" not in comment.lower()
    for line in path.read_text(encoding="utf-8").splitlines():
        if "X-PRE-PROCESS" in line:
            assert re.fullmatch(r'\s*<X-PRE-PROCESS cmd="[a-z-]+" data="[^"]*"/>', line), line


def test_the_dialplan_hands_calls_to_two_instances_in_turn(
    compose: dict[str, Any], container_config: dict[str, Any]
) -> None:
    root = ET.parse(DEPLOY / "freeswitch/dialplan/ivrd.xml").getroot()
    variables = dict(
        element.get("data", "").split("=", 1)
        for element in root.iter("X-PRE-PROCESS")
        if element.get("cmd") == "set"
    )
    handing_over = [
        extension
        for extension in root.iter("extension")
        if any(a.get("application") == "socket" for a in extension.iter("action"))
    ]
    assert [extension.get("name") for extension in handing_over] == ["ivrd"]
    actions = [(a.get("application"), a.get("data", "")) for a in handing_over[0].iter("action")]

    assert [app for app, _ in actions] == ["socket", "socket", "hangup"]
    targets = []
    for _, data in actions[:2]:
        target, *options = data.split()
        assert options == ["async", "full"]
        match = re.fullmatch(r"\$\$\{(\w+)\}", target)
        assert match, f"socket target {target} is not a variable"
        targets.append(variables[match.group(1)])
    assert len(set(targets)) == 2
    listen_port = container_config["listen"]["port"]
    assert targets == [f"{name}:{listen_port}" for name in ("ivrd-1", "ivrd-2")]
    assert set(compose["services"]) >= {"ivrd-1", "ivrd-2"}


def test_the_dialplan_picks_flows_that_exist(container_config: dict[str, Any]) -> None:
    root = ET.parse(DEPLOY / "freeswitch/dialplan/ivrd.xml").getroot()
    flow_names = {
        load_yaml(path)["name"]
        for path in (REPO / "flows").glob("*.yaml")
        if not path.name.endswith(".test.yaml")
    }
    variable = container_config["routing"]["variable"]

    chosen = [
        action.get("data", "").split("=", 1)
        for action in root.iter("action")
        if action.get("application") == "set"
    ]
    assert chosen
    for name, flow in chosen:
        assert name == variable
        assert flow == "$1" or flow in flow_names, flow
    hand_over = next(e for e in root.iter("extension") if e.get("name") == "ivrd")
    pattern = hand_over.find("condition")
    assert pattern is not None
    expression = re.compile(pattern.get("expression", ""))
    for extension in root.iter("extension"):
        if extension.get("continue") == "true":
            # Every number or name that sets a flow is also handed over.
            condition = extension.find("condition")
            assert condition is not None
            example = {"^8400$": "8400", "^8401$": "8401", "^8402$": "8402"}.get(
                condition.get("expression", ""), "ivr-hello"
            )
            assert re.match(condition.get("expression", ""), example)
            assert expression.match(example), example


def test_the_event_socket_listens_where_ivrd_connects(container_config: dict[str, Any]) -> None:
    root = ET.parse(DEPLOY / "freeswitch/autoload_configs/event_socket.conf.xml").getroot()
    params = {param.get("name"): param.get("value") for param in root.iter("param")}

    assert root.get("name") == "event_socket.conf"
    assert params["listen-port"] == str(container_config["freeswitch"]["port"])
    assert params["password"] == "$${ivrd_esl_password}"
