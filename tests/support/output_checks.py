"""The checks every rendered project must pass. Each returns a list of
problems (empty when the check passes), so tests can assert `== []` and see
every problem at once."""

import os
import re
import shutil
import subprocess
from pathlib import Path

from . import coolify, kubernetes, monitoring
from .binaries import require, venv_bin
from .compose import PRODUCTION, compose_config, compose_file, plain_compose
from .nginx import make_certificate, wrapper_conf
from .render import project_env, read_answers, read_env_file

# `${{ ... }}` is a GitHub Actions expression in a rendered workflow, and
# `{{.Field}}`, `{{json .Field}}` or `{{index .Map "key"}}` a Go template of a docker --format
# option in a rendered script: not Jinja.
JINJA_LEFTOVER = re.compile(r"(?<!\$)\{\{-? *(?!(?:json|index|range|println|if|end)\b)\w+|\{%-? *\w+|\{#")


def run(args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)


def rendered_files(project: Path):
    for path in sorted(project.rglob("*")):
        if path.is_file() and ".git" not in path.relative_to(project).parts:
            yield path


def jinja_leftovers(project: Path) -> list[str]:
    found = []
    for path in rendered_files(project):
        relative = path.relative_to(project)
        if path.suffix == ".jinja" or "{{" in str(relative):
            found.append(f"{relative}: file name")
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if JINJA_LEFTOVER.search(line):
                found.append(f"{relative}:{number}: {line.strip()}")
    return found


def untidy_text(project: Path) -> list[str]:
    """As clear as a hand-written file: no runs of blank lines, no trailing
    spaces, one final newline."""
    found = []
    for path in rendered_files(project):
        relative, text = path.relative_to(project), path.read_text()
        if not text:
            continue  # an empty __init__.py
        if not text.endswith("\n") or text.endswith("\n\n"):
            found.append(f"{relative}: must end with exactly one newline")
        if text.startswith("\n"):
            found.append(f"{relative}: starts with a blank line")
        if "\n\n\n\n" in text or (path.suffix != ".py" and "\n\n\n" in text):
            found.append(f"{relative}: a run of blank lines")
        found += [
            f"{relative}:{n}: trailing white space"
            for n, line in enumerate(text.splitlines(), 1)
            if line != line.rstrip()
        ]
    return found


def ruff_problems(project: Path) -> list[str]:
    ruff = require("ruff")
    found = []
    for args in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]):
        result = run([ruff, *args], cwd=project)
        if result.returncode != 0:
            found.append(f"ruff {args[0]}: {result.stdout}{result.stderr}")
    return found


def hadolint_problems(project: Path) -> list[str]:
    found = []
    for dockerfile in [project / "Dockerfile", *sorted(project.glob("deploy/*/Dockerfile"))]:
        result = run([require("hadolint"), "--failure-threshold", "error", str(dockerfile)])
        if result.returncode != 0:
            found.append(f"hadolint {dockerfile.relative_to(project)}: {result.stdout}{result.stderr}")
    return found


def swarm_deploy_env(project: Path, workdir: Path) -> dict[str, str]:
    """What scripts/swarm-deploy.sh gives `docker stack deploy`: .env's
    variables, the image, and a directory with a placeholder for every file
    the stack file makes a secret of (and app.env)."""
    files = workdir / "deploy-files"
    files.mkdir(parents=True, exist_ok=True)
    stack = compose_file(project)
    versions = {}
    for name, entry in stack.get("secrets", {}).items():
        (files / Path(entry["file"]).name).write_text("placeholder\n")
        versions[f"{name.upper()}_VERSION"] = "0123456789ab"
    shutil.copy(project / ".env", files / "app.env")
    return {
        **read_env_file(project / ".env"),
        "IMAGE_REPOSITORY": "registry.invalid/project",
        "IMAGE_TAG": "test",
        "DEPLOY_FILES": str(files),
        **versions,
        "CONFIGS_VERSION": "0123456789ab",
    }


def stack_config(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`docker stack config`: the docker CLI's own reading of a stack file
    (Compose format 3, which `docker stack deploy` reads); needs no engine."""
    return run(
        [require("docker"), "stack", "config", "--compose-file", "docker-compose.prod.yml"],
        cwd=project,
        env={"PATH": os.environ["PATH"], "HOME": str(project), "DOCKER_HOST": "unix:///nonexistent.sock", **env},
    )


def compose_problems(project: Path, workdir: Path) -> list[str]:
    found = []
    results = [("docker-compose.yml", compose_config(project, "docker-compose.yml", "--quiet"))]
    target = read_answers(project)["deploy_target"]
    if target == "coolify":
        coolify.prepare_deployment(project, workdir, placeholder_credentials(project))
        results.append(("docker-compose.prod.yml", compose_config(workdir, "docker-compose.prod.yml", "--quiet")))
    elif target == "swarm":
        env = swarm_deploy_env(project, workdir)
        results.append(("docker-compose.prod.yml", compose_config(project, PRODUCTION, "--quiet", env=env)))
        results.append(("docker-compose.prod.yml (docker stack config)", stack_config(project, env)))
    elif target == "kubernetes":
        if (project / "docker-compose.prod.yml").exists():
            found.append("docker-compose.prod.yml: rendered for deploy_target kubernetes")
    else:
        # docker-compose.prod.yml and the owner's file, through .env's COMPOSE_FILE.
        results.append(
            (
                "docker-compose.prod.yml",
                plain_compose(project, "config", "--quiet", env=placeholder_credentials(project)),
            )
        )
    for name, result in results:
        if result.returncode != 0 or "variable is not set" in result.stderr:
            found.append(f"compose config {name}: {result.stderr}")
    return found


def nginx_problems(project: Path, workdir: Path) -> list[str]:
    """nginx -t on the rendered conf exactly as rendered: the files the
    compose file mounts into /etc/nginx go where it mounts them, and the `web`
    host name resolves, in a private mount namespace. Nothing to check when
    the target has no nginx."""
    answers = read_answers(project)
    if answers["deploy_target"] not in ("compose", "swarm"):
        nginx_dir = project / "deploy" / "nginx"
        return [f"{nginx_dir}: rendered for a target without nginx"] if nginx_dir.exists() else []
    etc = workdir / "etc-nginx"
    (etc / "conf.d").mkdir(parents=True)
    shutil.copy("/etc/nginx/mime.types", etc / "mime.types")
    for source, target in nginx_files(project):
        if source.startswith("./deploy/nginx/") and target.startswith("/etc/nginx/"):
            shutil.copy(project / source, etc / target.removeprefix("/etc/nginx/"))
    names = [answers["domain_name"], *answers["extra_domains"]]
    # compose: certbot's directory, as the certificates volume holds it (the
    # Debian package certbot makes /etc/letsencrypt, the mount point).
    # swarm: the certificate's Docker secrets in /etc/nginx/certs.
    letsencrypt = workdir / "letsencrypt"
    letsencrypt.mkdir()
    if answers["deploy_target"] == "compose":
        make_certificate(letsencrypt / "live" / answers["domain_name"], names)
    else:
        make_certificate(etc / "certs", names)
    prefix = workdir / "prefix"
    prefix.mkdir()
    (etc / "nginx.conf").write_text(wrapper_conf(prefix, Path("/etc/nginx/conf.d/default.conf")))
    hosts = workdir / "hosts"
    hosts.write_text("127.0.0.1 localhost web tasks.web\n")
    nginx = require("nginx")
    # The image has /var/cache/nginx, where the static cache goes.
    cache = "mount -t tmpfs tmpfs /var/cache && mkdir /var/cache/nginx"
    script = (
        f"mount --bind {etc} /etc/nginx && mount --bind {letsencrypt} /etc/letsencrypt"
        f" && mount --bind {hosts} /etc/hosts && {cache} && {nginx} -t -c /etc/nginx/nginx.conf"
    )
    result = run([require("unshare"), "--mount", "--propagation", "private", "sh", "-c", script])
    return [] if result.returncode == 0 else [f"nginx -t: {result.stderr}"]


def nginx_files(project: Path) -> list[tuple[str, str]]:
    """(file in the project, where the nginx service gets it): the volumes
    of compose, the configs of a swarm stack."""
    stack = compose_file(project)
    nginx = stack["services"]["nginx"]
    found = [tuple(volume.split(":")[:2]) for volume in nginx.get("volumes", [])]
    for config in nginx.get("configs", []):
        found.append((stack["configs"][config["source"]]["file"], config["target"]))
    return found


def kubernetes_problems(project: Path, workdir: Path) -> list[str]:
    """deploy_target kubernetes: the production overlay builds and passes
    offline validation (support/kubernetes.py). Other targets get no
    manifests."""
    if read_answers(project)["deploy_target"] != "kubernetes":
        manifests = project / "deploy" / "kubernetes"
        return [f"{manifests}: rendered for a target other than kubernetes"] if manifests.exists() else []
    return kubernetes.problems(project, workdir)


def is_shell_script(path: Path) -> bool:
    first_line = path.read_bytes().split(b"\n", 1)[0]
    return path.suffix == ".sh" or (first_line.startswith(b"#!") and first_line.endswith((b"sh", b"bash")))


def shellcheck_problems(project: Path) -> list[str]:
    scripts = [path for path in rendered_files(project) if is_shell_script(path)]
    if not scripts:
        return ["the render has no shell scripts to check"]
    result = run([require("shellcheck"), *map(str, scripts)])
    return [] if result.returncode == 0 else [f"shellcheck: {result.stdout}"]


def actionlint_problems(project: Path) -> list[str]:
    workflows = sorted((project / ".github" / "workflows").glob("*.yml"))
    if not workflows:
        return ["the render has no GitHub workflows"]
    # actionlint runs shellcheck on each `run:` script when it finds it on PATH.
    path = f"{Path(require('shellcheck')).parent}:{os.environ['PATH']}"
    result = run([require("actionlint"), *map(str, workflows)], cwd=project, env={**os.environ, "PATH": path})
    return [] if result.returncode == 0 else [f"actionlint: {result.stdout}{result.stderr}"]


def expected_silenced_checks(env: dict[str, str]) -> int:
    """Checks production.py silences: Django's warnings about HSTS preload
    and subdomains, when .env turns them off (the owner's choice)."""
    off = {"0", "false", "no", "off"}
    return sum(env.get(name, "").strip().lower() in off for name in HSTS_CHOICES)


HSTS_CHOICES = ("SECURE_HSTS_PRELOAD", "SECURE_HSTS_INCLUDE_SUBDOMAINS")


def check_deploy_problems(project: Path, venv: Path, database_url: str, redis_url: str) -> list[str]:
    """`manage.py check --deploy --fail-level WARNING` with the production
    settings and the render's own .env: no issue at all, and nothing silenced
    but the HSTS choices .env makes."""
    env = project_env(project, venv, DATABASE_URL=database_url, REDIS_URL=redis_url, **placeholder_credentials(project))
    result = run(
        [venv_bin(venv, "python"), "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=project / "src",
        env=env,
        timeout=120,
    )
    silenced = expected_silenced_checks(env)
    if result.returncode != 0 or f"System check identified no issues ({silenced} silenced)." not in result.stdout:
        return [f"check --deploy: {result.stdout}{result.stderr}"]
    return []


def monitoring_problems(project: Path, venv: Path, workdir: Path, database_url: str, redis_url: str) -> list[str]:
    """use_monitoring: the rendered rules, their unit tests, the scrape and
    probe configs, and the Alertmanager config that `manage.py
    alertmanager_config` makes from the render's .env, pass the field's own
    checks. Otherwise there is nothing to render."""
    rendered = (project / monitoring.MONITORING_DIR).exists()
    if not read_answers(project).get("use_monitoring"):
        return [f"{monitoring.MONITORING_DIR} rendered without use_monitoring"] if rendered else []
    workdir.mkdir(parents=True)
    env = project_env(project, venv, DATABASE_URL=database_url, REDIS_URL=redis_url, **placeholder_credentials(project))
    config = workdir / "alertmanager.yml"
    result = run(
        [venv_bin(venv, "python"), "manage.py", "alertmanager_config", str(config)],
        cwd=project / "src",
        env=env,
        timeout=120,
    )
    if result.returncode != 0:
        return [f"manage.py alertmanager_config: {result.stdout}{result.stderr}"]
    return monitoring.problems(project, config, workdir)


def placeholder_credentials(project: Path) -> dict[str, str]:
    """Values an owner fills in after rendering, and which the checks only
    need to be present (nothing connects to them)."""
    if read_answers(project).get("media_storage") == "s3":
        bucket = read_env_file(project / ".env").get("AWS_STORAGE_BUCKET_NAME") or "test-bucket"
        return {
            "AWS_ACCESS_KEY_ID": "test-access-key",
            "AWS_SECRET_ACCESS_KEY": "test-secret-key",
            "AWS_STORAGE_BUCKET_NAME": bucket,
        }
    return {}


def all_problems(project: Path, venv: Path, workdir: Path, database_url: str, redis_url: str) -> list[str]:
    return (
        jinja_leftovers(project)
        + untidy_text(project)
        + ruff_problems(project)
        + hadolint_problems(project)
        + compose_problems(project, workdir / "compose")
        + nginx_problems(project, workdir / "nginx")
        + kubernetes_problems(project, workdir / "kubernetes")
        + shellcheck_problems(project)
        + actionlint_problems(project)
        + check_deploy_problems(project, venv, database_url, redis_url)
        + monitoring_problems(project, venv, workdir / "monitoring", database_url, redis_url)
    )
