"""deploy_target kubernetes: the Kustomize manifests, checked offline (no API
server can run here): built by `kubectl kustomize`, validated with
kubernetes-validate --strict for two Kubernetes releases, their API versions
asserted, and their facts (image, port, probes, commands, settings) compared
with copier.yml and the compose target. The deploy script's --print output
(image, ConfigMap, Secret) is checked the same way."""

import shutil
from pathlib import Path

import pytest
import yaml

from support import kubernetes
from support.compose import compose_file
from support.compose import services as compose_services
from support.facts import answer_context
from support.render import profile_answers, read_answers, read_env_file, render

TAG = "0123456789abcdef0123456789abcdef01234567"
REPOSITORY = "registry.example.org/ministry/obcms"
# What an owner adds to .env before the first deploy (the rest is rendered).
OWNER_SETTINGS = {
    "IMAGE_REPOSITORY": REPOSITORY,
    "DATABASE_URL": "postgres://obcms:database-password@db.example.org:5432/obcms",
    "REDIS_URL": "redis://:redis-password@redis.example.org:6379/0",
    "AWS_ACCESS_KEY_ID": "access-key-id",
    "AWS_SECRET_ACCESS_KEY": "secret-access-key",
    "EMAIL_HOST_PASSWORD": "smtp password",
    # Left over from a compose setup: never to go into the ConfigMap.
    "POSTGRES_PASSWORD": "compose-database-password",
}
APP = ("web", "celery", "beat", "migrate")


@pytest.fixture(scope="session")
def kubernetes_project(tmp_path_factory) -> Path:
    return render(tmp_path_factory.mktemp("kubernetes") / "project", profile_answers("kubernetes"))


@pytest.fixture(scope="session")
def compose_twin(tmp_path_factory) -> Path:
    """The same answers for the compose target: what the manifests must match."""
    answers = {**profile_answers("kubernetes"), "deploy_target": "compose"}
    return render(tmp_path_factory.mktemp("compose-twin") / "project", answers)


@pytest.fixture(scope="session")
def facts(kubernetes_project) -> dict:
    """copier.yml's answers and computed values for this render."""
    return answer_context(**read_answers(kubernetes_project))


@pytest.fixture(scope="session")
def overlay_text(kubernetes_project) -> str:
    built = kubernetes.kustomize(kubernetes_project / kubernetes.OVERLAY)
    assert built.returncode == 0, built.stderr
    return built.stdout


@pytest.fixture(scope="session")
def overlay(overlay_text) -> list[dict]:
    return kubernetes.documents(overlay_text)


@pytest.fixture(scope="session")
def printed(kubernetes_project, tmp_path_factory) -> list[dict]:
    """What scripts/kubernetes-deploy.sh --print TAG would apply, from a copy
    of the render whose .env has the owner's settings."""
    project = tmp_path_factory.mktemp("kubernetes-deploy") / "project"
    shutil.copytree(kubernetes_project, project, symlinks=True)
    with (project / ".env").open("a") as env:
        env.writelines(f'{name}="{value}"\n' for name, value in OWNER_SETTINGS.items())
    result = kubernetes.run(
        ["scripts/kubernetes-deploy.sh", "--print", TAG],
        cwd=project,
        env={"PATH": kubernetes.kubectl_path(), "HOME": str(project)},
    )
    assert result.returncode == 0, result.stderr
    assert not list((project / "deploy/kubernetes").glob(".deploy.*")), "the script left its secret files behind"
    return kubernetes.documents(result.stdout)


def test_the_overlay_has_every_part(overlay, facts):
    kinds = sorted((item["kind"], item["metadata"]["name"]) for item in overlay)
    assert kinds == [
        ("Deployment", "beat"),
        ("Deployment", "celery"),
        ("Deployment", "web"),
        ("HorizontalPodAutoscaler", "web"),
        ("Ingress", "web"),
        ("Job", "migrate"),
        ("Namespace", facts["project_slug"]),
        ("NetworkPolicy", "app-egress"),
        ("NetworkPolicy", "default-deny"),
        ("NetworkPolicy", "web-from-ingress"),
        ("PodDisruptionBudget", "celery"),
        ("PodDisruptionBudget", "web"),
        ("Service", "web"),
    ]
    namespaced = [item for item in overlay if item["kind"] != "Namespace"]
    assert {item["metadata"]["namespace"] for item in namespaced} == {facts["project_slug"]}


@pytest.mark.parametrize("version", kubernetes.VERSIONS)
def test_manifests_pass_strict_validation(printed, version, tmp_path):
    """The deploy script's output: the overlay plus its ConfigMap and Secret."""
    manifests = tmp_path / "printed.yaml"
    manifests.write_text(yaml.safe_dump_all(printed))
    result = kubernetes.validate(manifests, version)
    assert result.returncode == 0, result.stdout + result.stderr
    assert kubernetes.api_version_problems(printed) == []


def test_validation_fails_for_a_broken_manifest(overlay, tmp_path):
    """A misspelt field fails kubernetes-validate --strict; an API version
    that newer releases removed passes it (with a warning) but not our
    assertion."""
    broken = yaml.safe_load(yaml.safe_dump(kubernetes.by_kind(overlay, "Deployment")["web"]))
    probe = broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]
    probe["paht"] = probe.pop("path")
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(broken))
    for version in kubernetes.VERSIONS:
        result = kubernetes.validate(tmp_path / "broken.yaml", version)
        assert result.returncode != 0 and "paht" in result.stdout + result.stderr, version

    removed = yaml.safe_load(yaml.safe_dump(kubernetes.by_kind(overlay, "HorizontalPodAutoscaler")["web"]))
    removed["apiVersion"] = "autoscaling/v2beta2"
    (tmp_path / "removed.yaml").write_text(yaml.safe_dump(removed))
    assert kubernetes.validate(tmp_path / "removed.yaml", kubernetes.VERSIONS[-1]).returncode == 0
    assert kubernetes.api_version_problems([removed]) == [
        "HorizontalPodAutoscaler/web: apiVersion autoscaling/v2beta2, expected autoscaling/v2"
    ]


def test_rollouts_beat_and_the_migrate_job(overlay):
    deployments, pods = kubernetes.by_kind(overlay, "Deployment"), kubernetes.pods(overlay)
    for name in ("web", "celery"):
        assert deployments[name]["spec"]["strategy"] == {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
        }
    assert "replicas" not in deployments["web"]["spec"], "the autoscaler sets web's count"
    assert deployments["celery"]["spec"]["replicas"] == 2
    assert deployments["beat"]["spec"]["replicas"] == 1
    assert deployments["beat"]["spec"]["strategy"] == {"type": "Recreate"}
    job = kubernetes.by_kind(overlay, "Job")["migrate"]["spec"]
    assert job["backoffLimit"] == 0 and pods["migrate"]["restartPolicy"] == "Never"

    autoscaler = kubernetes.by_kind(overlay, "HorizontalPodAutoscaler")["web"]["spec"]
    assert autoscaler["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    assert [metric["resource"]["name"] for metric in autoscaler["metrics"]] == ["cpu"]
    assert autoscaler["minReplicas"] >= 2
    budgets = kubernetes.by_kind(overlay, "PodDisruptionBudget")
    for name in ("web", "celery"):
        assert budgets[name]["spec"]["selector"] == deployments[name]["spec"]["selector"]


def test_every_pod_is_locked_down(overlay):
    for name, pod in kubernetes.pods(overlay).items():
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in pod["containers"]:
            assert container["securityContext"] == {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            }, name
            assert set(container["resources"]) == {"requests", "limits"}, name
    namespace = kubernetes.by_kind(overlay, "Namespace")
    assert [ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] for ns in namespace.values()] == [
        "restricted"
    ]


def test_network_policies_deny_what_they_do_not_allow(overlay, facts):
    policies = kubernetes.by_kind(overlay, "NetworkPolicy")
    assert policies["default-deny"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    web_in = policies["web-from-ingress"]["spec"]
    assert web_in["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "web"
    assert [port["port"] for rule in web_in["ingress"] for port in rule["ports"]] == [facts["web_port"]]
    egress_ports = {port["port"] for rule in policies["app-egress"]["spec"]["egress"] for port in rule["ports"]}
    assert {53, 5432, 6379, 443} <= egress_ports


def test_the_ingress_serves_every_domain_over_tls(overlay, facts):
    ingress = kubernetes.by_kind(overlay, "Ingress")["web"]["spec"]
    assert [rule["host"] for rule in ingress["rules"]] == facts["all_domains"]
    assert ingress["tls"] == [{"hosts": facts["all_domains"], "secretName": "web-tls"}]
    backends = {path["backend"]["service"]["name"] for rule in ingress["rules"] for path in rule["http"]["paths"]}
    assert backends == {"web"}


def test_the_facts_are_the_compose_target_s(overlay, facts, compose_twin):
    """Image, port, probes, commands and settings: copier.yml's, and the
    ones the compose target runs with."""
    compose = compose_services(compose_twin)
    dockerfile = (compose_twin / "Dockerfile").read_text()
    assert f"EXPOSE {facts['web_port']}\n" in dockerfile
    assert f'"scripts/healthcheck.py", "{facts["health_path"]}"]' in dockerfile
    pods = kubernetes.pods(overlay)
    assert set(pods) == set(APP)
    containers = {name: pod["containers"][0] for name, pod in pods.items()}
    for name, container in containers.items():
        assert container["image"] == facts["project_slug"], name
        assert compose[name]["image"].startswith(f"{facts['project_slug']}:"), name

    web = containers["web"]
    assert web["ports"] == [{"name": "http", "containerPort": facts["web_port"]}]
    assert web["livenessProbe"]["httpGet"] == {"path": facts["health_path"], "port": "http"}
    assert web["startupProbe"]["httpGet"] == {"path": facts["health_path"], "port": "http"}
    assert web["readinessProbe"]["httpGet"] == {"path": facts["ready_path"], "port": "http"}
    service = kubernetes.by_kind(overlay, "Service")["web"]["spec"]
    assert service["ports"] == [{"name": "http", "port": facts["web_port"], "targetPort": "http"}]

    assert "args" not in web and "command" not in compose["web"]
    assert containers["celery"]["args"] == facts["celery_worker_command"] == compose["celery"]["command"]
    assert containers["beat"]["args"] == facts["celery_beat_command"] == compose["beat"]["command"]
    assert containers["migrate"]["args"] == facts["migrate_command"] == compose["migrate"]["command"]
    celery_env = {item["name"]: item.get("value") for item in containers["celery"]["env"]}
    assert celery_env["REMAP_SIGTERM"] == compose["celery"]["environment"]["REMAP_SIGTERM"]
    assert f"{pods['celery']['terminationGracePeriodSeconds']}s" == compose["celery"]["stop_grace_period"]
    assert f"{pods['web']['terminationGracePeriodSeconds']}s" == compose["web"]["stop_grace_period"]
    ping = " ".join(containers["celery"]["livenessProbe"]["exec"]["command"][2:])
    assert ping.replace("${HOSTNAME}", "$${HOSTNAME}") == compose["celery"]["healthcheck"]["test"][1]


def test_every_setting_of_the_compose_target_reaches_the_pods(overlay, facts, compose_twin, kubernetes_project):
    """A variable compose gives the application comes, on Kubernetes, from a
    secret file (NAME_FILE) or from .env through the ConfigMap app-config
    (the deploy script splits .env: see the test of its output)."""
    compose = compose_file(compose_twin)
    compose_names = set(compose["x-app"]["environment"])
    secrets = set(facts["app_secret_variables"])
    settings = set(read_env_file(kubernetes_project / ".env.example"))
    # IMAGE_TAG names the release on compose; on Kubernetes the deploy
    # script's APP_VERSION carries the tag (see its output's test).
    assert compose_names - secrets - settings == {"IMAGE_TAG"}
    for name, pod in kubernetes.pods(overlay).items():
        container = pod["containers"][0]
        files = {item["name"]: item["value"] for item in container["env"] if item["name"].endswith("_FILE")}
        assert files == {f"{secret}_FILE": f"/run/secrets/app/{secret}" for secret in secrets}, name
        assert container["envFrom"] == [{"configMapRef": {"name": "app-config"}}], name
        assert {"name": "secrets", "mountPath": "/run/secrets/app", "readOnly": True} in container["volumeMounts"]


def test_no_secret_is_in_the_repository(overlay_text, kubernetes_project):
    assert "kind: Secret" not in overlay_text
    written = read_env_file(kubernetes_project / ".env")
    for name in ("SECRET_KEY", "HEALTH_CHECK_TOKEN", "METRICS_TOKEN"):
        assert written[name] and written[name] not in overlay_text, name
    assert "deploy/kubernetes/.deploy.*" in (kubernetes_project / ".gitignore").read_text()


def test_the_deploy_script_adds_the_image_the_settings_and_the_secrets(printed, facts):
    configs, secrets = kubernetes.by_kind(printed, "ConfigMap"), kubernetes.by_kind(printed, "Secret")
    assert len(configs) == len(secrets) == 1
    (config_name, config), (secret_name, secret) = *configs.items(), *secrets.items()
    assert config_name.startswith("app-config-") and secret_name.startswith("app-secrets-")
    assert set(secret["data"]) == set(facts["app_secret_variables"])
    leaked = set(config["data"]) & {*facts["app_secret_variables"], "POSTGRES_PASSWORD", "REDIS_PASSWORD"}
    assert leaked == set()
    assert config["data"]["APP_VERSION"] == TAG
    assert config["data"]["ALLOWED_HOSTS"] == facts["allowed_hosts"]
    for name, pod in kubernetes.pods(printed).items():
        container = pod["containers"][0]
        assert container["image"] == f"{REPOSITORY}:{TAG}", name
        assert container["envFrom"] == [{"configMapRef": {"name": config_name}}], name
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        assert volumes["secrets"]["secret"]["secretName"] == secret_name, name
    namespaced = [item for item in printed if item["kind"] != "Namespace"]
    assert {item["metadata"]["namespace"] for item in namespaced} == {facts["project_slug"]}


def test_the_deploy_script_refuses_a_missing_setting(kubernetes_project, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(kubernetes_project, project, symlinks=True)
    with (project / ".env").open("a") as env:
        env.write(f"IMAGE_REPOSITORY={REPOSITORY}\n")
    result = kubernetes.run(
        ["scripts/kubernetes-deploy.sh", "--print", TAG],
        cwd=project,
        env={"PATH": kubernetes.kubectl_path(), "HOME": str(project)},
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "kubernetes-deploy: set DATABASE_URL in .env: postgres://USER:PASSWORD@HOST:5432/NAME of your PostgreSQL"
    )
