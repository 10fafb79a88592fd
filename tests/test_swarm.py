"""deploy_target swarm, as rendered: the stack file passes the docker CLI's
own reading (`docker stack config`) and the Compose parser, says what the
runbook promises (rolling updates, one beat, the database pinned, nginx on
every node), and shares its facts with the compose target: the same
images, commands, probe and environment. The two-node run is
tests/containers/test_swarm.py."""

import pytest
import yaml

from support import output_checks
from support.facts import computed_values
from support.render import profile_answers, read_answers, read_env_file, render

SWARM = profile_answers("swarm-minio")


@pytest.fixture(scope="module")
def swarm_project(tmp_path_factory):
    return render(tmp_path_factory.mktemp("swarm") / "project", {**SWARM, "use_cloudflare": True})


@pytest.fixture(scope="module")
def compose_project(tmp_path_factory):
    """The compose target with the same answers otherwise."""
    answers = {**SWARM, "deploy_target": "compose", "use_cloudflare": True}
    return render(tmp_path_factory.mktemp("compose") / "project", answers)


def stack(project) -> dict:
    return yaml.safe_load((project / "docker-compose.prod.yml").read_text())


def test_the_render_passes_the_output_checks(swarm_project, tmp_path):
    problems = (
        output_checks.jinja_leftovers(swarm_project)
        + output_checks.untidy_text(swarm_project)
        + output_checks.compose_problems(swarm_project, tmp_path / "compose")
        + output_checks.nginx_problems(swarm_project, tmp_path / "nginx")
        + output_checks.shellcheck_problems(swarm_project)
    )
    assert problems == []


def test_docker_stack_config_refuses_what_the_deploy_script_did_not_set(swarm_project, tmp_path):
    env = output_checks.swarm_deploy_env(swarm_project, tmp_path)
    del env["POSTGRES_PASSWORD_VERSION"]
    result = output_checks.stack_config(swarm_project, env)
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD_VERSION" in result.stderr and "deploy with the swarm deploy script" in result.stderr


def test_a_new_app_secret_leaves_the_database_redis_and_nginx_as_they_are(swarm_project, tmp_path):
    """Each secret's name carries a digest of its own value: a deploy with a
    new app secret changes what the app services read, never what db, redis
    or nginx read (a changed db would restart: stop-first, an outage)."""
    env = output_checks.swarm_deploy_env(swarm_project, tmp_path)

    def secret_names(env: dict[str, str]) -> dict[str, set[str]]:
        """Each service's secrets, by the names the swarm keeps them under."""
        document = yaml.safe_load(output_checks.stack_config(swarm_project, env).stdout)
        names = {key: secret["name"] for key, secret in document["secrets"].items()}
        return {
            service: {names[s["source"] if isinstance(s, dict) else s] for s in spec.get("secrets", [])}
            for service, spec in document["services"].items()
        }

    before = secret_names(env)
    after = secret_names({**env, "METRICS_TOKEN_VERSION": "ba9876543210"})
    for name in ("db", "redis", "nginx"):
        assert before[name] == after[name], name
    for name in ("web", "celery", "beat", "migrate"):
        assert before[name] != after[name], name
    assert before["db"] == {"obcms_postgres_password_0123456789ab"}


def test_services_update_one_task_at_a_time_and_roll_back(swarm_project):
    services = stack(swarm_project)["services"]
    for name in ("web", "celery"):
        update = services[name]["deploy"]["update_config"]
        assert (update["parallelism"], update["order"], update["failure_action"]) == (1, "start-first", "rollback")
        assert services[name]["deploy"]["rollback_config"]["order"] == "start-first"
        assert services[name]["healthcheck"]["test"]
    beat = services["beat"]["deploy"]
    assert beat["replicas"] == 1
    assert beat["update_config"]["order"] == beat["rollback_config"]["order"] == "stop-first"
    migrate = services["migrate"]["deploy"]
    assert (migrate["mode"], migrate["restart_policy"]["condition"]) == ("replicated-job", "none")


def test_the_database_and_redis_stay_on_the_labelled_node_and_nginx_on_every_node(swarm_project):
    label = computed_values(**read_answers(swarm_project))["swarm_data_label"]
    services = stack(swarm_project)["services"]
    for name in ("db", "redis"):
        assert services[name]["deploy"]["placement"]["constraints"] == [f"node.labels.{label} == true"]
        assert services[name]["deploy"]["update_config"]["order"] == "stop-first"
    # Every service reached by name resolves to its tasks, not to a virtual
    # IP (no IPVS needed on the hosts).
    for name in ("db", "redis", "web"):
        assert services[name]["deploy"]["endpoint_mode"] == "dnsrr", name
    nginx = services["nginx"]
    assert nginx["deploy"]["mode"] == "global"
    assert {port["mode"] for port in nginx["ports"]} == {"host"}
    conf = (swarm_project / "deploy" / "nginx" / "obcms.conf").read_text()
    # Every task of web, looked up per request (a variable in proxy_pass).
    assert "default tasks.web:8000;" in conf and "proxy_pass http://$web_backend;" in conf
    assert "/etc/nginx/deploy/" not in conf  # compose's release switch; swarm rolls tasks itself


def test_secrets_are_docker_secrets_never_environment(swarm_project):
    document = stack(swarm_project)
    secret_names = computed_values(**read_answers(swarm_project))["app_secret_variables"]
    # Only the migrate job connects as the owner of the tables; it makes the
    # application's role, which the others connect as.
    owner = {"DATABASE_URL": "migrate_database_url", "APP_DATABASE_URL": "app_database_url"}
    for name in ("web", "celery", "beat", "migrate"):
        environment = document["x-app"]["environment"] | document["services"][name].get("environment", {})
        files = {secret: secret.lower() for secret in secret_names} | (owner if name == "migrate" else {})
        for secret, file in files.items():
            assert secret not in environment, (name, secret)
            assert environment[f"{secret}_FILE"] == f"/run/secrets/{file}", (name, secret)
        listed = set(document["services"][name].get("secrets", document["x-app"]["secrets"]))
        assert listed == set(files.values()), name
    script = (swarm_project / "scripts" / "swarm-deploy.sh").read_text()
    for secret in [*secret_names, *owner, "POSTGRES_PASSWORD", "POSTGRES_APP_PASSWORD", "REDIS_PASSWORD"]:
        assert secret in script.split("grep -v -E '")[1].split("'")[0], secret


def test_the_swarm_target_shares_its_facts_with_compose(swarm_project, compose_project):
    """Images, commands, the probe, the port and the environment's names
    are those of the compose target (one source: copier.yml)."""
    swarm, compose = stack(swarm_project)["services"], stack(compose_project)["services"]
    for name in ("db", "redis", "nginx"):
        assert swarm[name]["image"] == compose[name]["image"], name
    for name in ("migrate", "celery", "beat"):
        assert swarm[name]["command"] == compose[name]["command"], name
    assert swarm["celery"]["healthcheck"]["test"] == compose["celery"]["healthcheck"]["test"]
    health_path = computed_values()["health_path"]
    assert swarm["web"]["healthcheck"]["test"] == ["CMD", "python", "scripts/healthcheck.py", health_path]
    assert f'"scripts/healthcheck.py", "{health_path}"]' in (compose_project / "Dockerfile").read_text()
    # The rest of the environment comes from .env (env_file) in both.
    swarm_names = {name.removesuffix("_FILE") for name in stack(swarm_project)["x-app"]["environment"]}
    swarm_names |= set(read_env_file(swarm_project / ".env.example"))
    # The release: compose gives IMAGE_TAG, swarm APP_VERSION (which /health/
    # reports too); error reports read either.
    assert stack(swarm_project)["x-app"]["environment"]["APP_VERSION"] == "${IMAGE_TAG}"
    swarm_names.add("IMAGE_TAG")
    assert set(stack(compose_project)["x-app"]["environment"]) <= swarm_names
    assert (swarm_project / "Dockerfile").read_text() == (compose_project / "Dockerfile").read_text()


def test_the_app_services_get_a_writable_tmp_from_the_stack(swarm_project, tmp_path):
    """Their root file system is read-only; `docker stack deploy` ignores a
    service's short `tmpfs:` key, so /tmp must be a tmpfs mount (without
    one gunicorn finds no temporary directory and exits)."""
    result = output_checks.stack_config(swarm_project, output_checks.swarm_deploy_env(swarm_project, tmp_path))
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    for name in ("migrate", "web", "celery", "beat"):
        assert services[name]["read_only"] is True, name
        mounts = [(v.get("type"), v.get("target")) for v in services[name].get("volumes", [])]
        assert ("tmpfs", "/tmp") in mounts, name
