"""deploy_target: coolify — the compose file Coolify runs, with the variables
Coolify injects, and its web health check against the production settings."""

import json
import re
import subprocess

import pytest

from support import coolify, dockerfile
from support.compose import compose_config as run_compose_config
from support.compose import compose_file
from support.facts import computed_values
from support.gunicorn import GunicornServer
from support.http import request
from support.render import project_env, render


@pytest.fixture(scope="module")
def coolify_project(tmp_path_factory):
    return render(tmp_path_factory.mktemp("coolify") / "project", {"deploy_target": "coolify"})


@pytest.fixture(scope="module")
def compose_config(coolify_project, tmp_path_factory):
    """`docker compose config` as Coolify runs it: its .env of generated
    values beside a copy of the file stripped of its own keys."""
    workdir = tmp_path_factory.mktemp("coolify-deploy")
    injected = coolify.prepare_deployment(coolify_project, workdir)
    result = run_compose_config(workdir, "docker-compose.prod.yml", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert "variable is not set" not in result.stderr, result.stderr
    return json.loads(result.stdout), injected


def test_coolify_compose_passes_the_real_compose_parser(compose_config):
    config, injected = compose_config
    web = config["services"]["web"]["environment"]
    assert web["DATABASE_URL"].startswith(f"postgres://obcms_app:{injected['SERVICE_PASSWORD_POSTGRESAPP']}@db:")
    migrate = config["services"]["migrate"]["environment"]
    assert injected["SERVICE_PASSWORD_POSTGRES"] in migrate["DATABASE_URL"], "the owner for the migrate job only"
    assert web["SECRET_KEY"] == injected["SERVICE_BASE64_64_SECRETKEY"]
    assert web["ALLOWED_HOSTS"] == "obcms.gov.ph,www.obcms.gov.ph"
    assert "SERVICE_FQDN_WEB_8000" in web, "Coolify routes the web domain to port 8000"


def test_coolify_compose_publishes_no_ports_and_keeps_its_data(coolify_project, compose_config):
    config, _ = compose_config
    assert all("ports" not in service for service in config["services"].values())
    assert "nginx" not in config["services"]
    assert {"postgres_data", "redis_data", "media"} <= set(config["volumes"])
    raw = compose_file(coolify_project)
    assert raw["services"]["migrate"]["exclude_from_hc"] is True
    assert raw["services"]["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert not (coolify_project / "deploy" / "nginx").exists()


def test_web_healthcheck_is_accepted_by_the_production_settings(
    coolify_project, compose_config, venv, database_url, redis, tmp_path
):
    """The image's HEALTHCHECK, run as Docker runs it inside the container,
    against gunicorn configured with the environment Compose gave web."""
    config, _ = compose_config
    web_env = {key: str(value) for key, value in config["services"]["web"]["environment"].items() if value}
    env = project_env(coolify_project, venv, **{**web_env, "DATABASE_URL": database_url, "REDIS_URL": redis.url})
    gunicorn = GunicornServer(coolify_project, venv, env, tmp_path / "gunicorn.log").start()
    try:
        healthcheck = dockerfile.healthcheck(coolify_project / "Dockerfile")
        assert healthcheck == ["python", "scripts/healthcheck.py", "/health/"]
        result = subprocess.run(
            [str(venv / "bin" / "python"), *healthcheck[1:]],
            cwd=coolify_project,
            env={**env, "PORT": str(gunicorn.port)},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        # The probe's Host (127.0.0.1:port) is not an allowed host: any other
        # path is refused, so it is the probe middleware that accepts it.
        assert request(gunicorn.port, "/admin/login/", host_header=f"127.0.0.1:{gunicorn.port}").status == 400
    finally:
        gunicorn.stop()


def test_the_body_limit_is_a_traefik_middleware_that_coolify_attaches(coolify_project, compose_config):
    """Coolify adds every middleware a service's labels define to the router
    it makes for the service's domain (coolify.ROUTER_MIDDLEWARES); the one
    here is Traefik's buffering middleware with the answer's limit."""
    config, _ = compose_config
    labels = config["services"]["web"]["labels"]
    limit = 100 * 1024 * 1024
    assert labels == {"traefik.http.middlewares.obcms-body-limit.buffering.maxRequestBodyBytes": str(limit)}
    assert coolify.router_middlewares(labels) == ["obcms-body-limit"]
    assert all("labels" not in service for name, service in config["services"].items() if name != "web")


def test_another_limit_reaches_the_label(tmp_path):
    project = render(tmp_path / "project", {"deploy_target": "coolify", "max_request_body_mb": 7})
    web = compose_file(project)["services"]["web"]
    assert web["labels"] == [f"traefik.http.middlewares.obcms-body-limit.buffering.maxRequestBodyBytes={7 * 1048576}"]
    runbook = (project / "docs/deployment.md").read_text()
    # 7 MB at 1 Mbit/s is 56 s: the read timeout the runbook asks for never
    # goes below the proxies' timeout.
    assert "respondingTimeouts.readTimeout=125s'" in runbook


def test_the_runbook_and_readme_speak_coolify(coolify_project):
    """Every command they give works on Coolify: no plain compose commands
    (Coolify's SERVICE_* values exist only there), no .env, no nginx."""
    runbook = (coolify_project / "docs/deployment.md").read_text()
    readme = (coolify_project / "README.md").read_text()
    blocks = [block for text in (runbook, readme) for block in re.findall(r"```\w*\n(.*?)```", text, re.DOTALL)]
    commands = [line.strip() for block in blocks for line in block.splitlines() if line.strip()]
    compose_commands = [line for line in commands if line.startswith("docker compose")]
    # The development stack of the README is the one compose file Coolify does not run.
    assert compose_commands == ["docker compose up --detach db redis          # PostgreSQL and Redis on localhost"]
    assert "docker compose up --build`" not in readme.split("## Deploy")[1]
    inline = re.findall(r"`([^`]*)`", runbook)
    assert [code for code in inline if code.startswith("docker compose ") and code != "docker compose ..."] == []
    assert ".env's" not in runbook
    assert "from nginx" not in runbook and "nginx -s reload" not in runbook
    assert "deploy/nginx" not in runbook
    # What the operator sets in Coolify's proxy for slow uploads, precisely.
    timeout = computed_values(deploy_target="coolify")["traefik_read_timeout_seconds"]
    assert timeout == 800, "100 MB at 1 Mbit/s"
    assert f"- '--entrypoints.https.transport.respondingTimeouts.readTimeout={timeout}s'" in runbook
    assert "Servers → this server → Proxy → Configuration" in runbook


def test_a_coolify_deploy_pauses_web_as_the_compose_file_and_runbook_say(coolify_project, compose_config):
    """Coolify deploys a Docker Compose application with `docker compose up`:
    its documentation says rolling updates are not supported for them. So
    Compose recreates web, the old container stopped (gracefully) before the
    new one starts, and Traefik routes to the new one once Docker reports it
    healthy. How long that takes follows from the compose file and the
    image, and the runbook says it with the same numbers."""
    config, _ = compose_config
    web = config["services"]["web"]
    assert "healthcheck" not in web, "web keeps the image's HEALTHCHECK, which Traefik's routing waits for"
    options = dockerfile.healthcheck_options(coolify_project / "Dockerfile")
    interval = int(options["interval"].removesuffix("s"))
    stop_grace = int(web["stop_grace_period"].removesuffix("s"))
    graceful = int(
        re.search(r'GUNICORN_GRACEFUL_TIMEOUT", (\d+)\)', (coolify_project / "gunicorn.conf.py").read_text()).group(1)
    )
    assert graceful < stop_grace, "Docker lets gunicorn finish the requests in flight"
    runbook = " ".join((coolify_project / "docs" / "deployment.md").read_text().split())
    assert "rolling updates are not supported for Docker Compose applications" in runbook
    assert f"(up to {graceful} s; Docker waits {stop_grace} s)" in runbook
    assert f"first probes `/health/` {interval} s after the start" in runbook
    assert "exclude_from_hc" in runbook
    # Nothing in the file keeps two web containers from running side by side
    # (what Coolify's own rolling update needs, and a scaled service too).
    assert not {"container_name", "ports", "mac_address"} & set(web)
    assert all("ipv4_address" not in (network or {}) for network in web.get("networks", {}).values())
