"""The rendered files pass the real linters and parsers."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support.binaries import require, venv_bin
from support.nginx import make_certificate, wrapper_conf
from support.render import TEMPLATE_ROOT, read_env_file


def run(args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)


def test_python_passes_ruff(default_project, venv):
    ruff = venv_bin(venv, "ruff")
    check = run([ruff, "check", "--no-cache", "."], cwd=default_project)
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = run([ruff, "format", "--no-cache", "--check", "."], cwd=default_project)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_dockerfile_passes_hadolint(default_project):
    result = run([require("hadolint"), "--failure-threshold", "error", "Dockerfile"], cwd=default_project)
    assert result.returncode == 0, result.stdout + result.stderr


def compose_config(project: Path, compose_file: str, env: dict[str, str]):
    # Only the given environment: the real `docker compose config` reads .env
    # from the project directory itself.
    return run(
        [require("docker-compose"), "-f", compose_file, "config", "--quiet"],
        cwd=project,
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env},
    )


@pytest.mark.parametrize("compose_file", ["docker-compose.prod.yml", "docker-compose.yml"])
def test_compose_files_pass_the_real_compose_parser(default_project, compose_file):
    result = compose_config(default_project, compose_file, {})
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_refuses_a_missing_required_variable(project_copy):
    env_file = project_copy / ".env"
    kept = [line for line in env_file.read_text().splitlines() if not line.startswith("POSTGRES_PASSWORD=")]
    env_file.write_text("\n".join(kept) + "\n")
    result = compose_config(project_copy, "docker-compose.prod.yml", {})
    assert result.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in result.stderr


def test_production_compose_has_no_obsolete_version_key(default_project):
    text = (default_project / "docker-compose.prod.yml").read_text()
    assert not any(line.startswith("version:") for line in text.splitlines())
    assert read_env_file(default_project / ".env")["SECRET_KEY"] not in text


def test_nginx_accepts_the_rendered_conf(default_project, tmp_path):
    """nginx -t on the file exactly as rendered, with the names it expects
    (/etc/nginx/certs, the `web` host) provided in a private mount namespace."""
    etc = tmp_path / "etc-nginx"
    (etc / "conf.d").mkdir(parents=True)
    shutil.copy("/etc/nginx/mime.types", etc / "mime.types")
    shutil.copy(default_project / "deploy/nginx/obcms.conf", etc / "conf.d/default.conf")
    make_certificate(etc / "certs", ["obcms.gov.ph", "www.obcms.gov.ph"])
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    (etc / "nginx.conf").write_text(wrapper_conf(prefix, Path("/etc/nginx/conf.d/default.conf")))
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost web\n")
    nginx = require("nginx")
    script = f"mount --bind {etc} /etc/nginx && mount --bind {hosts} /etc/hosts && {nginx} -t -c /etc/nginx/nginx.conf"
    result = run([require("unshare"), "--mount", "--propagation", "private", "sh", "-c", script])
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def is_shell_script(path: Path) -> bool:
    first_line = path.read_bytes().split(b"\n", 1)[0]
    return path.suffix == ".sh" or (first_line.startswith(b"#!") and first_line.endswith((b"sh", b"bash")))


def test_scripts_pass_shellcheck(default_project):
    files = (path for path in sorted(default_project.rglob("*")) if path.is_file() and ".git" not in path.parts)
    scripts = [path for path in files if is_shell_script(path)]
    assert scripts, "the render has shell scripts"
    result = run([require("shellcheck"), *map(str, scripts)])
    assert result.returncode == 0, result.stdout


def test_workflows_pass_actionlint(default_project):
    workflows = sorted((default_project / ".github" / "workflows").glob("*.yml"))
    assert workflows, "the render has GitHub workflows"
    # actionlint runs shellcheck on each `run:` script when it finds it on PATH.
    path = f"{Path(require('shellcheck')).parent}:{os.environ['PATH']}"
    result = run([require("actionlint"), *map(str, workflows)], cwd=default_project, env={**os.environ, "PATH": path})
    assert result.returncode == 0, result.stdout + result.stderr


def test_update_script_installs_the_copier_that_the_template_is_tested_with(default_project):
    def copier_pins(path):
        return [word for word in path.read_text().split() if word.startswith("copier==")]

    assert copier_pins(default_project / "requirements" / "copier.txt") == copier_pins(
        TEMPLATE_ROOT / "requirements-dev.txt"
    )
