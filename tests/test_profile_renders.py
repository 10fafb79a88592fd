"""Every answer file of tests/answers/ renders cleanly: no Jinja left, tidy
text, and output that the real linters and parsers accept (ruff, the compose
parser, hadolint, shellcheck, nginx -t)."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support.binaries import require
from support.nginx import make_certificate, wrapper_conf
from support.render import ANSWERS_DIR, profile_answers, render

PROFILES = sorted(path.stem for path in ANSWERS_DIR.glob("*.yml"))
JINJA_LEFTOVER = re.compile(r"\{\{-? *[\w.]+|\{%-? *\w+|\{#")
# Values the owner fills in before compose accepts the file.
OWNER_FILLS_IN = {"AWS_ACCESS_KEY_ID": "an-access-key", "AWS_SECRET_ACCESS_KEY": "a-secret-key"}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    renders: dict[str, Path] = {}

    def get(profile: str) -> Path:
        if profile not in renders:
            renders[profile] = render(tmp_path_factory.mktemp(profile) / "project", profile_answers(profile))
        return renders[profile]

    return get


def files(root: Path):
    for path in sorted(root.rglob("*")):
        if path.is_file() and ".git" not in path.relative_to(root).parts:
            yield path


def run(args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=120, **kwargs)


@pytest.mark.parametrize("profile", PROFILES)
def test_no_jinja_is_left_and_the_text_is_tidy(rendered, profile):
    project = rendered(profile)
    problems = []
    for path in files(project):
        relative = path.relative_to(project)
        if path.suffix == ".jinja" or "{{" in str(relative) or "{%" in str(relative):
            problems.append(f"{relative}: file name")
        text = path.read_text()
        for number, line in enumerate(text.splitlines(), 1):
            if JINJA_LEFTOVER.search(line):
                problems.append(f"{relative}:{number}: {line.strip()}")
            if line != line.rstrip():
                problems.append(f"{relative}:{number}: trailing white space")
        if not text:
            continue
        if not text.endswith("\n") or text.endswith("\n\n") or text.startswith("\n"):
            problems.append(f"{relative}: must start with text and end with exactly one newline")
        if "\n\n\n\n" in text or (path.suffix != ".py" and "\n\n\n" in text):
            problems.append(f"{relative}: a run of blank lines")
    assert problems == []


@pytest.mark.parametrize("profile", PROFILES)
def test_python_passes_ruff(rendered, profile):
    project = rendered(profile)
    check = run([require("ruff"), "check", "--no-cache", "."], cwd=project)
    assert check.returncode == 0, check.stdout
    fmt = run([require("ruff"), "format", "--no-cache", "--check", "."], cwd=project)
    assert fmt.returncode == 0, fmt.stdout


@pytest.mark.parametrize("profile", PROFILES)
def test_compose_files_pass_the_real_compose_parser(rendered, profile):
    project = rendered(profile)
    for compose_file in ("docker-compose.prod.yml", "docker-compose.yml"):
        result = run(
            [require("docker-compose"), "-f", compose_file, "config", "--quiet"],
            cwd=project,
            env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **OWNER_FILLS_IN},
        )
        assert result.returncode == 0, f"{compose_file}: {result.stderr}"


@pytest.mark.parametrize("profile", PROFILES)
def test_dockerfiles_pass_hadolint_and_scripts_pass_shellcheck(rendered, profile):
    project = rendered(profile)
    for dockerfile in [project / "Dockerfile", *project.glob("deploy/*/Dockerfile")]:
        result = run([require("hadolint"), "--failure-threshold", "error", str(dockerfile)])
        assert result.returncode == 0, result.stdout + result.stderr
    scripts = [str(path) for path in files(project) if path.suffix == ".sh"]
    result = run([require("shellcheck"), *scripts])
    assert result.returncode == 0, result.stdout


BEHIND_NGINX = [name for name in PROFILES if profile_answers(name).get("deploy_target", "compose") == "compose"]


@pytest.mark.parametrize("profile", BEHIND_NGINX)
def test_nginx_accepts_the_rendered_conf(rendered, profile, tmp_path):
    """nginx -t on the conf exactly as rendered, with what the compose file
    mounts next to it, in a private mount namespace."""
    project = rendered(profile)
    etc = tmp_path / "etc-nginx"
    (etc / "conf.d").mkdir(parents=True)
    shutil.copy("/etc/nginx/mime.types", etc / "mime.types")
    shutil.copy(project / "deploy/nginx/obcms.conf", etc / "conf.d/default.conf")
    extra = project / "deploy/nginx/cloudflare-extra.conf"
    if extra.exists():
        shutil.copy(extra, etc / "cloudflare-extra.conf")
    make_certificate(etc / "certs", ["obcms.gov.ph"])
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    (etc / "nginx.conf").write_text(wrapper_conf(prefix, Path("/etc/nginx/conf.d/default.conf")))
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost web\n")
    script = (
        f"mount --bind {etc} /etc/nginx && mount --bind {hosts} /etc/hosts && "
        f"{require('nginx')} -t -c /etc/nginx/nginx.conf"
    )
    result = run([require("unshare"), "--mount", "--propagation", "private", "sh", "-c", script])
    assert result.returncode == 0, result.stderr
