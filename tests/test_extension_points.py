"""The owner's extension points of the production stack, checked with the
real Compose binary: .env's COMPOSE_FILE makes plain `docker compose` read
docker-compose.prod.yml and the owner's docker-compose.owner.yml; the
owner file's examples are valid as written; a database or Redis elsewhere
comes from .env; the scripts refuse to run without COMPOSE_FILE (plain
`docker compose` would take the development stack); and an update from the
last release adds COMPOSE_FILE to an existing .env."""

import json
import os
import subprocess

import pytest
import yaml
from packaging.version import Version

from support.compose import compose_file, plain_compose
from support.facts import computed_values, copier_config
from support.releases import clone_with_releases, git, releases, run_update
from support.render import profile_answers, read_env_file, render

COMPOSE_FILE = computed_values()["compose_file"]


def config(project, env: dict | None = None) -> dict:
    result = plain_compose(project, "config", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    assert "variable is not set" not in result.stderr, result.stderr
    return json.loads(result.stdout)


def uncommented_examples(owner_file: str) -> str:
    """The owner file with its examples switched on, as an owner would."""
    lines = owner_file.splitlines()
    start = lines.index("# services:")
    return "\n".join(lines[:start] + [line[2:] if line.startswith("# ") else line[1:] for line in lines[start:]]) + "\n"


def test_plain_compose_reads_the_owners_file(project_copy):
    assert read_env_file(project_copy / ".env")["COMPOSE_FILE"] == COMPOSE_FILE
    owner = {
        "services": {
            "reports": {"image": "obcms:latest", "command": ["sleep", "infinity"], "networks": ["backend"]},
            "web": {"volumes": ["./letterheads:/app/letterheads:ro"]},
        }
    }
    (project_copy / "docker-compose.owner.yml").write_text(yaml.safe_dump(owner))
    services = config(project_copy)["services"]
    assert "reports" in services and "certbot" in services
    targets = [volume["target"] for volume in services["web"]["volumes"]]
    assert targets == ["/app/src/media", "/var/tmp/uploads", "/app/letterheads"]


def test_the_owner_files_examples_are_valid_as_written(project_copy):
    owner = project_copy / "docker-compose.owner.yml"
    assert config(project_copy)["services"].keys() == compose_file(project_copy)["services"].keys(), (
        "the rendered owner file only has comments"
    )
    owner.write_text(uncommented_examples(owner.read_text()))
    services = config(project_copy)["services"]
    assert services["antivirus"]["deploy"]["resources"]["limits"]["memory"] == str(1500 * 1024 * 1024)
    assert services["celery"]["deploy"]["resources"]["limits"]["cpus"] == 1.5
    assert services["db"]["entrypoint"] == ["sleep", "infinity"]
    assert services["db"].get("volumes", []) == [], "the data volume is gone from db"
    assert set(services["db"]["networks"]) == {"backend", "default"}
    assert services["db"]["environment"]["PGHOST"] == "db.example.org"
    assert services["redis"]["command"] == ["sleep", "infinity"]
    for name in ("migrate", "beat"):
        assert set(services[name]["networks"]) == {"backend", "default"}, name


def test_a_database_and_redis_elsewhere_come_from_env(project_copy):
    default = config(project_copy)["services"]
    assert default["web"]["environment"]["DATABASE_URL"].endswith("@db:5432/obcms")
    assert default["migrate"]["environment"]["DATABASE_URL"].endswith("@db:5432/obcms")
    assert default["web"]["environment"]["REDIS_URL"].endswith("@redis:6379/0")

    managed = "postgres://app:secret@db.example.org:5432/obcms?sslmode=require"
    pooled = "postgres://app:secret@pool.example.org:25061/obcms?sslmode=require"
    redis = "rediss://:secret@redis.example.org:6379/0"
    with (project_copy / ".env").open("a") as env:
        env.write(f"DATABASE_URL={managed}\nREDIS_URL={redis}\n")
    services = config(project_copy)["services"]
    for name in ("web", "celery", "beat", "migrate"):
        assert services[name]["environment"]["DATABASE_URL"] == managed, name
        assert services[name]["environment"]["REDIS_URL"] == redis, name

    # Behind a pooler in transaction mode, the migrate job gets its own direct connection.
    with (project_copy / ".env").open("a") as env:
        env.write(f"DATABASE_URL={pooled}\nMIGRATE_DATABASE_URL={managed}\n")
    services = config(project_copy)["services"]
    assert services["web"]["environment"]["DATABASE_URL"] == pooled
    assert services["migrate"]["environment"]["DATABASE_URL"] == managed


def check_default_memory_limits(project) -> None:
    """Every service of the production stack has copier.yml's limit, and
    .env.example names the variable that changes it."""
    limits = computed_values()["memory_limits"]
    services = config(project)["services"]
    example = read_env_file(project / ".env.example")
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    for name, service in services.items():
        expected = int(limits[name][:-1]) * units[limits[name][-1]]
        assert service["deploy"]["resources"]["limits"]["memory"] == str(expected), name
        assert example[f"{name.upper().replace('-', '_')}_MEMORY_LIMIT"] == limits[name], name


def test_memory_limits_have_defaults_and_come_from_env(project_copy):
    check_default_memory_limits(project_copy)
    with (project_copy / ".env").open("a") as env:
        env.write("WEB_MEMORY_LIMIT=2g\n")
    assert config(project_copy)["services"]["web"]["deploy"]["resources"]["limits"]["memory"] == str(2 * 1024**3)


def test_the_monitoring_services_have_memory_limits_too(tmp_path):
    project = render(tmp_path / "project", profile_answers("monitoring"))
    check_default_memory_limits(project)
    with (project / ".env").open("a") as env:
        env.write("NODE_EXPORTER_MEMORY_LIMIT=100m\n")
    limits = config(project)["services"]["node-exporter"]["deploy"]["resources"]["limits"]
    assert limits["memory"] == str(100 * 1024**2)


def run_bare(project, *command: str) -> subprocess.CompletedProcess:
    """A rendered script run from the project with PATH alone: only .env can give it COMPOSE_FILE."""
    return subprocess.run(
        command, cwd=project, env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, timeout=60, check=False
    )


def test_scripts_refuse_to_run_without_compose_file(project_copy):
    """Without COMPOSE_FILE, plain `docker compose` would read
    docker-compose.yml, the development stack: the scripts say so and stop."""
    env_file = project_copy / ".env"
    env_file.write_text("".join(line for line in env_file.read_text().splitlines(True) if "COMPOSE_FILE=" not in line))
    scripts = {
        "backup.sh": ["backups/x"],
        "restore.sh": ["backups/x", "--yes"],
        "backup-offsite.sh": [],
        "fetch-backup.sh": [],
        "restore-drill.sh": [],
        "upgrade-postgres.sh": ["--yes"],
        "rotate-secrets.sh": ["database-password"],
    }
    env_before = env_file.read_text()
    for script, arguments in scripts.items():
        result = run_bare(project_copy, "bash", f"scripts/{script}", *arguments)
        assert result.returncode == 2, (script, result.stdout, result.stderr)
        assert result.stderr.strip() == f"COMPOSE_FILE is not set in .env: add the line COMPOSE_FILE={COMPOSE_FILE}"
    assert not (project_copy / "backups").exists(), "nothing was written"
    assert env_file.read_text() == env_before
    # A deploy or rollback without it would leave out the owner's file.
    git(project_copy, "add", "--all")
    git(project_copy, "commit", "--quiet", "--message", "the release")
    for script in ("deploy.sh", "rollback.sh"):
        result = run_bare(project_copy, "sh", f"scripts/{script}")
        assert result.returncode == 1, (script, result.stdout, result.stderr)
        assert result.stderr.strip().endswith(
            f"COMPOSE_FILE is not set in .env: add the line COMPOSE_FILE={COMPOSE_FILE}"
        ), (script, result.stderr)
    assert not (project_copy / "releases.log").exists(), "nothing was written"


def test_coolify_has_no_owner_file_and_no_compose_file_setting(tmp_path):
    project = render(tmp_path / "project", {"deploy_target": "coolify"})
    assert not (project / "docker-compose.owner.yml").exists()
    assert "COMPOSE_FILE" not in (project / ".env").read_text()


@pytest.fixture(scope="module")
def compose_file_release(tmp_path_factory):
    """A clone of the template with its releases, the release that brings
    COMPOSE_FILE (its _migrations entry; HEAD, the working tree, stands in
    for it until it is released) and the last release before it."""
    migrations = copier_config()["_migrations"]
    version = next(m["version"] for m in migrations if "compose_file.py" in " ".join(m["command"]))
    clone = clone_with_releases(tmp_path_factory.mktemp("releases") / "template")
    tags = [tag for tag, _ in releases()]
    if version not in tags:
        git(clone, "tag", version)
    before = [tag for tag in tags if Version(tag) < Version(version)][-1]
    return clone, before, version


def test_an_update_adds_compose_file_to_an_existing_env(compose_file_release, tmp_path):
    clone, last, version = compose_file_release
    project = render(tmp_path / "project", vcs_ref=last, template=clone)
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "--message", f"Rendered at {last}")
    env_before = (project / ".env").read_text()
    assert "COMPOSE_FILE" not in env_before
    assert not (project / "docker-compose.owner.yml").exists()

    result = run_update(project, "--vcs-ref", version)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"added COMPOSE_FILE={COMPOSE_FILE} to .env" in result.stdout + result.stderr
    env_after = (project / ".env").read_text()
    assert env_after.startswith(env_before), "the owner's lines are kept as they were"
    added = [line for line in env_after[len(env_before) :].splitlines() if line and not line.startswith("#")]
    assert added == [f"COMPOSE_FILE={COMPOSE_FILE}"]
    assert (project / "docker-compose.owner.yml").exists()
    # The owner adds what the update says .env lacks (a new secret among them).
    assert "POSTGRES_APP_PASSWORD" in result.stdout + result.stderr
    assert "certbot" in config(project, env={"POSTGRES_APP_PASSWORD": "the-owners-new-secret"})["services"]

    # Run again (a second update to the same release): nothing changes.
    hook = clone / "hooks/migrations/compose_file.py"
    again = subprocess.run(
        ["python3", str(hook), COMPOSE_FILE], cwd=project, capture_output=True, text=True, check=True
    )
    assert "COMPOSE_FILE is set in .env already" in again.stdout
    assert (project / ".env").read_text() == env_after
