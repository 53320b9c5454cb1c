"""The Kubernetes overlays: schema-valid, and every service scales, drains and is fenced alone."""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

Manifest = dict[str, Any]
Render = Callable[[str], list[Manifest]]

OVERLAYS = ("staging", "production")
GRPC_SERVICES = {"auth": 50051, "search": 50052, "ingest": 50053}
DEPLOYMENTS = ("gateway", "auth", "search", "ingest", "ingest-worker")
SECRET_KEYS = {
    "database-url",
    "redis-url",
    "pinecone-api-key",
    "aws-access-key-id",
    "aws-secret-access-key",
    "openai-api-key",
    "github-token",
    "jwt-secret",
    "oauth-client-id",
    "oauth-client-secret",
    "sentry-dsn",
    "backup-database-url",
}
# The oldest Kubernetes the manifests promise to work on (matchLabelKeys, grpc probes, timeZone)
# and the newest schema kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.30.0", latest_version())


def by_kind(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def pod_spec(manifest: Manifest) -> Manifest:
    if manifest["kind"] == "CronJob":
        spec: Manifest = manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return spec
    spec = manifest["spec"]["template"]["spec"]
    return spec


def env_of(container: Manifest) -> dict[str, Manifest]:
    return {e["name"]: e for e in container.get("env", [])}


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_manifest_validates_against_the_kubernetes_schema(
    rendered: Render, overlay: str, version: str
) -> None:
    manifests = rendered(overlay)
    assert len(manifests) > 20
    for manifest in manifests:
        where = f"{overlay} {manifest['kind']}/{manifest['metadata']['name']}"
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{where} is invalid for Kubernetes {version}: {error}")


def test_the_schema_check_rejects_a_misspelt_field(rendered: Render) -> None:
    broken = copy.deepcopy(by_kind(rendered("production"), "Deployment")["gateway"])
    pod_spec(broken)["containers"][0]["livenesProbe"] = {"httpGet": {"path": "/", "port": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, latest_version(), strict=True)


def test_the_secret_example_validates_and_lists_every_key(repo: Path) -> None:
    secret = yaml.safe_load((repo / "deploy/k8s/secret.example.yaml").read_text())
    kubernetes_validate.validate(secret, latest_version(), strict=True)
    assert secret["metadata"]["name"] == "twinmcp-secrets"
    assert set(secret["stringData"]) == SECRET_KEYS


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_are_patches_of_the_base_not_copies(repo: Path, overlay: str) -> None:
    kustomization = yaml.safe_load(
        (repo / "deploy/k8s/overlays" / overlay / "kustomization.yaml").read_text()
    )
    assert kustomization["resources"] == ["../../base"]
    assert set(kustomization) <= {"apiVersion", "kind", "resources", "patches", "labels", "images"}
    assert sorted(p.name for p in (repo / "deploy/k8s/overlays" / overlay).iterdir()) == [
        "kustomization.yaml"
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_everything_lands_in_the_twinmcp_namespace(rendered: Render, overlay: str) -> None:
    for manifest in rendered(overlay):
        if manifest["kind"] == "Namespace":
            assert manifest["metadata"]["name"] == "twinmcp"
        else:
            assert manifest["metadata"]["namespace"] == "twinmcp", manifest["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_has_its_own_autoscaler_and_disruption_budget(
    rendered: Render, overlay: str
) -> None:
    manifests = rendered(overlay)
    deployments = by_kind(manifests, "Deployment")
    hpas = by_kind(manifests, "HorizontalPodAutoscaler")
    pdbs = by_kind(manifests, "PodDisruptionBudget")
    assert set(deployments) == set(DEPLOYMENTS)
    for name, deployment in deployments.items():
        assert "replicas" not in deployment["spec"], f"{name}: the HPA owns the replica count"
        hpa = hpas[name]
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = pdbs[name]["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pod_labels.items(), f"{name}: the PDB must select its pods"
        assert selector == deployment["spec"]["selector"]["matchLabels"]
        if "minAvailable" in pdbs[name]["spec"]:
            assert pdbs[name]["spec"]["minAvailable"] < hpa["spec"]["minReplicas"], (
                f"{name}: a PDB that needs every pod blocks node drains"
            )


def cpu_target(hpa: Manifest) -> int:
    [metric] = [m for m in hpa["spec"]["metrics"] if m["resource"]["name"] == "cpu"]
    target: int = metric["resource"]["target"]["averageUtilization"]
    return target


def test_production_gateway_scales_from_3_to_10_replicas_at_70_percent_cpu(
    rendered: Render,
) -> None:
    hpa = by_kind(rendered("production"), "HorizontalPodAutoscaler")["gateway"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 10)
    assert cpu_target(hpa) == 70


def test_each_service_has_a_scaling_policy_of_its_own(rendered: Render) -> None:
    hpas = by_kind(rendered("production"), "HorizontalPodAutoscaler")
    policies = {
        name: (h["spec"]["minReplicas"], h["spec"]["maxReplicas"], cpu_target(h), str(h["spec"]))
        for name, h in hpas.items()
    }
    assert len(set(policies.values())) == len(policies)
    workers = hpas["ingest-worker"]["spec"]["behavior"]["scaleDown"]
    assert workers["stabilizationWindowSeconds"] >= 600
    assert hpas["search"]["spec"]["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 0


def test_staging_is_smaller_than_production(rendered: Render) -> None:
    staging = by_kind(rendered("staging"), "HorizontalPodAutoscaler")
    production = by_kind(rendered("production"), "HorizontalPodAutoscaler")
    for name in DEPLOYMENTS:
        assert staging[name]["spec"]["maxReplicas"] < production[name]["spec"]["maxReplicas"]
    assert by_kind(rendered("staging"), "CronJob")["postgres-base-backup"]["spec"]["suspend"]
    assert not by_kind(rendered("production"), "CronJob")["postgres-base-backup"]["spec"].get(
        "suspend", False
    )


def test_gateway_requests_and_limits_match_the_sizing(rendered: Render) -> None:
    [container] = pod_spec(by_kind(rendered("production"), "Deployment")["gateway"])["containers"]
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "500m", "memory": "512Mi"},
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_non_root_with_requests_and_limits(
    rendered: Render, overlay: str
) -> None:
    manifests = rendered(overlay)
    workloads = [
        *by_kind(manifests, "Deployment").values(),
        *by_kind(manifests, "CronJob").values(),
    ]
    for workload in workloads:
        spec = pod_spec(workload)
        name = workload["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] > 0, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys(), name
            assert {"cpu", "memory"} <= resources["limits"].keys(), name
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"]["drop"] == ["ALL"], name


def test_gateway_is_probed_over_http_and_grpc_services_over_grpc_health(
    rendered: Render,
) -> None:
    deployments = by_kind(rendered("production"), "Deployment")
    [gateway] = pod_spec(deployments["gateway"])["containers"]
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/health"
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert {p["name"]: p["containerPort"] for p in gateway["ports"]}["http"] == 3000
    for name, port in GRPC_SERVICES.items():
        [container] = pod_spec(deployments[name])["containers"]
        assert {p["name"]: p["containerPort"] for p in container["ports"]}["grpc"] == port
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert container[probe]["grpc"] == {"port": port}, f"{name} {probe}"


def seconds_in_env(container: Manifest, name: str) -> int:
    value = env_of(container).get(name, {}).get("value", "0")
    return int(value)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_termination_grace_outlasts_prestop_drain_and_grace(rendered: Render, overlay: str) -> None:
    for name, deployment in by_kind(rendered(overlay), "Deployment").items():
        spec = pod_spec(deployment)
        [container] = spec["containers"]
        pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {})
        sleep = int(pre_stop["command"][1]) if pre_stop else 0
        drain = seconds_in_env(container, "SHUTDOWN_DRAIN_SECONDS")
        grace = seconds_in_env(container, "SHUTDOWN_GRACE_SECONDS")
        needed = sleep + drain + grace + 5
        assert spec["terminationGracePeriodSeconds"] >= needed, (
            f"{name}: preStop {sleep}s + drain {drain}s + grace {grace}s + 5s margin "
            f"> terminationGracePeriodSeconds {spec['terminationGracePeriodSeconds']}"
        )
        if name != "ingest-worker":
            assert pre_stop["command"][0] == "sleep" and sleep > 0, name
            assert drain > 0 and grace > 0, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_come_only_from_twinmcp_secrets_with_known_keys(
    rendered: Render, overlay: str
) -> None:
    manifests = rendered(overlay)
    assert not by_kind(manifests, "Secret"), "secrets are created out of band, never rendered"
    workloads = [
        *by_kind(manifests, "Deployment").values(),
        *by_kind(manifests, "CronJob").values(),
    ]
    for workload in workloads:
        for container in pod_spec(workload)["containers"]:
            for entry in container.get("env", []):
                if "value" in entry:
                    assert not any(
                        word in entry["name"] for word in ("SECRET", "TOKEN", "PASSWORD", "KEY")
                    ), f"{entry['name']} must come from the Secret"
                    continue
                ref = entry["valueFrom"].get("secretKeyRef")
                if ref is not None:
                    assert ref["name"] == "twinmcp-secrets"
                    assert ref["key"] in SECRET_KEYS
    auth_env = env_of(pod_spec(by_kind(manifests, "Deployment")["auth"])["containers"][0])
    assert auth_env["JWT_SECRET"]["valueFrom"]["secretKeyRef"].get("optional") is None


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_grpc_addresses_point_at_headless_services_that_exist(
    rendered: Render, overlay: str
) -> None:
    manifests = rendered(overlay)
    config = by_kind(manifests, "ConfigMap")["twinmcp-config"]["data"]
    services = by_kind(manifests, "Service")
    deployments = by_kind(manifests, "Deployment")
    for name, port in GRPC_SERVICES.items():
        target = config[f"{name.upper()}_ADDR"]
        assert target == f"dns:///{name}-headless.twinmcp.svc.cluster.local:{port}"
        service = services[f"{name}-headless"]
        assert service["spec"]["clusterIP"] == "None"
        assert service["spec"]["selector"].items() <= (
            deployments[name]["spec"]["template"]["metadata"]["labels"].items()
        )
        assert port in [p["port"] for p in service["spec"]["ports"]]
        assert config[f"{name.upper()}_GRPC_PORT"] == str(port)
    ingest_env = env_of(pod_spec(deployments["ingest"])["containers"][0])
    assert ingest_env["INGEST_WORKERS"]["value"] == "0", "jobs run in ingest-worker pods"
    [worker] = pod_spec(deployments["ingest-worker"])["containers"]
    assert worker["command"] == ["python", "-m", "twinmcp.ingest.worker"]


def test_ingress_streams_mcp_through_ingress_nginx(rendered: Render) -> None:
    [ingress] = by_kind(rendered("production"), "Ingress").values()
    annotations = ingress["metadata"]["annotations"]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 600
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-next-upstream-tries"]) <= 3
    [path] = ingress["spec"]["rules"][0]["http"]["paths"]
    assert path["backend"]["service"]["name"] == "gateway"
    staging = by_kind(rendered("staging"), "Ingress")["twinmcp"]
    assert staging["spec"]["rules"][0]["host"] != ingress["spec"]["rules"][0]["host"]
    assert staging["spec"]["tls"][0]["hosts"] == [staging["spec"]["rules"][0]["host"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_serves_every_host_its_ingress_routes(rendered: Render, overlay: str) -> None:
    """The gateway answers 421 for a Host that is not API_BASE_URL's or in ALLOWED_HOSTS."""
    manifests = rendered(overlay)
    config = by_kind(manifests, "ConfigMap")["twinmcp-config"]["data"]
    served = {urlsplit(config["API_BASE_URL"]).hostname}
    served |= {h.strip().rsplit(":", 1)[0] for h in config.get("ALLOWED_HOSTS", "").split(",")}
    for ingress in by_kind(manifests, "Ingress").values():
        for rule in ingress["spec"]["rules"]:
            assert rule["host"] in served, (overlay, rule["host"], served)


# --- NetworkPolicy semantics -------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """A pod (namespace set) or an address outside the cluster (namespace None)."""

    namespace: str | None
    labels: Mapping[str, str] = field(default_factory=dict)
    ip: str = "10.244.0.10"

    @property
    def namespace_labels(self) -> dict[str, str]:
        return {"kubernetes.io/metadata.name": self.namespace} if self.namespace else {}


def selects(selector: Manifest | None, labels: Mapping[str, str]) -> bool:
    if selector is None:
        return False
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def peer_matches(peer: Manifest, policy_namespace: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        address = ipaddress.ip_address(other.ip)
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(e) for e in block.get("except", [])
        )
    if other.namespace is None:
        return False
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], other.namespace_labels):
            return False
    elif other.namespace != policy_namespace:
        return False
    return "podSelector" not in peer or selects(peer["podSelector"], other.labels)


def rule_allows(
    rule: Manifest, direction: str, namespace: str, other: Endpoint, port: int, protocol: str
) -> bool:
    peers = rule.get("from" if direction == "Ingress" else "to")
    if peers is not None and not any(peer_matches(p, namespace, other) for p in peers):
        return False
    ports = rule.get("ports")
    return ports is None or any(
        p.get("protocol", "TCP") == protocol and p.get("port") in (None, port) for p in ports
    )


def allowed_one_way(
    policies: list[Manifest], direction: str, pod: Endpoint, other: Endpoint, port: int, proto: str
) -> bool:
    """Whether `pod`'s own policies let traffic out to (Egress) or in from (Ingress) `other`."""
    if pod.namespace != "twinmcp":
        return True  # Only our namespace's policies are under test.
    selecting = [
        p
        for p in policies
        if direction in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], pod.labels)
    ]
    if not selecting:
        return True
    key = "ingress" if direction == "Ingress" else "egress"
    return any(
        rule_allows(rule, direction, "twinmcp", other, port, proto)
        for p in selecting
        for rule in p["spec"].get(key, [])
    )


def connects(
    policies: list[Manifest], source: Endpoint, target: Endpoint, port: int, proto: str = "TCP"
) -> bool:
    return allowed_one_way(policies, "Egress", source, target, port, proto) and (
        target.namespace is None
        or allowed_one_way(policies, "Ingress", target, source, port, proto)
    )


@pytest.fixture(scope="module")
def network(rendered: Render) -> tuple[list[Manifest], dict[str, Endpoint]]:
    manifests = rendered("production")
    policies = list(by_kind(manifests, "NetworkPolicy").values())
    pods = {
        name: Endpoint("twinmcp", d["spec"]["template"]["metadata"]["labels"])
        for name, d in by_kind(manifests, "Deployment").items()
    }
    backup = by_kind(manifests, "CronJob")["postgres-base-backup"]
    pods["backup"] = Endpoint(
        "twinmcp", backup["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    )
    pods["ingress-nginx"] = Endpoint("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
    pods["other-namespace"] = Endpoint("default", {"app": "curious"})
    pods["prometheus"] = Endpoint("monitoring", {"app": "prometheus"})
    pods["kube-dns"] = Endpoint("kube-system", {"k8s-app": "kube-dns"})
    pods["postgres"] = Endpoint(None, ip="10.20.0.5")
    pods["internet"] = Endpoint(None, ip="93.184.216.34")
    pods["private"] = Endpoint(None, ip="10.1.2.3")
    pods["metadata"] = Endpoint(None, ip="169.254.169.254")
    return policies, pods


ALLOWED = [
    ("ingress-nginx", "gateway", 3000),
    ("gateway", "auth", 50051),
    ("gateway", "search", 50052),
    ("gateway", "ingest", 50053),
    ("ingest", "search", 50052),
    ("ingest-worker", "search", 50052),
    ("auth", "postgres", 5432),
    ("search", "postgres", 6379),
    ("ingest-worker", "postgres", 5432),
    ("backup", "postgres", 5432),
    ("ingest", "internet", 443),
    ("ingest-worker", "internet", 443),
    ("backup", "internet", 443),
    ("prometheus", "search", 9102),
]
DENIED = [
    ("other-namespace", "gateway", 3000),
    ("ingress-nginx", "gateway", 9999),
    ("ingress-nginx", "auth", 50051),
    ("ingress-nginx", "search", 50052),
    ("gateway", "gateway", 3000),
    ("search", "ingest", 50053),
    ("auth", "search", 50052),
    ("search", "auth", 50051),
    ("gateway", "postgres", 5432),
    ("gateway", "internet", 443),
    ("ingest", "internet", 80),
    ("ingest", "private", 443),
    ("ingest-worker", "metadata", 80),
    ("ingest-worker", "metadata", 443),
    ("other-namespace", "ingest", 50053),
    ("prometheus", "auth", 50051),
]


@pytest.mark.parametrize(("source", "target", "port"), ALLOWED)
def test_network_policies_allow_the_paths_the_architecture_has(
    network: tuple[list[Manifest], dict[str, Endpoint]], source: str, target: str, port: int
) -> None:
    policies, pods = network
    assert connects(policies, pods[source], pods[target], port)


@pytest.mark.parametrize(("source", "target", "port"), DENIED)
def test_network_policies_deny_everything_else(
    network: tuple[list[Manifest], dict[str, Endpoint]], source: str, target: str, port: int
) -> None:
    policies, pods = network
    assert not connects(policies, pods[source], pods[target], port)


def test_every_pod_resolves_names(network: tuple[list[Manifest], dict[str, Endpoint]]) -> None:
    policies, pods = network
    for name in (*DEPLOYMENTS, "backup"):
        assert connects(policies, pods[name], pods["kube-dns"], 53, "UDP"), name
    default_deny = [
        p
        for p in policies
        if p["spec"]["podSelector"] == {} and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    ]
    assert any("ingress" not in p["spec"] and "egress" not in p["spec"] for p in default_deny)
