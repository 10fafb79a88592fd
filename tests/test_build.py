"""What the Dockerfile runs at build time works, run natively with exactly the
environment the Dockerfile gives it: no .env, no real secret."""

import re
import subprocess
import sys

import pytest

from support import dockerfile


def native(command: str, env: dict[str, str], paths: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The command and environment with the image's paths mapped to local ones."""
    for image_path, local_path in paths.items():
        command = command.replace(image_path, local_path)
        env = {key: value.replace(image_path, local_path) for key, value in env.items()}
    return command, env


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(requirements_file) -> dict[str, str]:
    found = {}
    for line in requirements_file.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found |= pins(requirements_file.parent / line[3:].strip())
        elif "==" in line:
            name, version = line.split("==")
            found[normalized(name.split("[")[0])] = version.strip()
    return found


@pytest.fixture(scope="module")
def built(default_project, tmp_path_factory):
    """Run the builder stage's commands (except apt-get, the system's job)
    and the production stage's collectstatic, as the image build does."""
    project = tmp_path_factory.mktemp("build") / "project"
    subprocess.run(["cp", "-a", str(default_project), str(project)], check=True)
    (project / ".env").unlink()  # the build context never has it (.dockerignore)
    stages = dockerfile.parse(project / "Dockerfile")
    venv = project.parent / "venv"
    paths = {"/opt/venv": str(venv), "/tmp/requirements/": f"{project}/requirements/", "/app": str(project)}
    home = project.parent / "home"
    home.mkdir()
    logs = []
    selected = [run for run in stages["builder"].runs if "apt-get" not in run[0]]
    selected += [run for run in stages["production"].runs if "collectstatic" in run[0]]
    assert len(selected) == 4, "builder: venv, pip install from the locks, their check; production: collectstatic"
    for command, env, workdir in selected:
        command, env = native(command, {**env, "HOME": str(home)}, paths)
        workdir = native(workdir, {}, paths)[0]
        # The venv is made from this machine's Python, standing in for the image's.
        command = command.replace("python -m venv", f"{sys.executable} -m venv", 1)
        result = subprocess.run(
            ["sh", "-c", command], cwd=workdir, env=env, capture_output=True, text=True, check=False, timeout=900
        )
        logs.append(f"$ {command}\n{result.stdout[-2000:]}{result.stderr[-4000:]}")
        assert result.returncode == 0, "\n".join(logs)
    return project, venv


def test_pinned_requirements_install_exactly(built):
    """Everything pip installed is pinned: the image gets the same versions
    on every build."""
    project, venv = built
    freeze = subprocess.run(
        [str(venv / "bin" / "pip"), "freeze", "--all"], capture_output=True, text=True, check=True
    ).stdout
    installed = {
        normalized(name): version
        for name, version in (line.split("==") for line in freeze.splitlines() if "==" in line)
        if normalized(name) not in {"pip", "setuptools", "wheel"}
    }
    assert installed == pins(project / "requirements" / "production.txt")


def test_static_files_are_collected_hashed_and_compressed(built):
    project, _ = built
    static = project / "src" / "staticfiles"
    assert (static / "staticfiles.json").is_file(), "the manifest of hashed names"
    hashed_css = [path for path in (static / "admin/css").glob("base.*.css")]
    assert hashed_css, "hashed copies of the admin CSS"
    assert (hashed_css[0].parent / (hashed_css[0].name + ".br")).is_file(), "brotli"
    assert (hashed_css[0].parent / (hashed_css[0].name + ".gz")).is_file(), "gzip"


def test_dockerfile_shape(default_project):
    """Multi-stage, non-root at run time, a health check, the production
    settings module that exists, no reference to a missing one."""
    stages = dockerfile.parse(default_project / "Dockerfile")
    assert list(stages) == ["builder", "production"]
    text = (default_project / "Dockerfile").read_text()
    assert "\nUSER app\n" in text
    assert "HEALTHCHECK" in text
    module = stages["production"].env["DJANGO_SETTINGS_MODULE"]
    assert module == "obc_management.settings.production"
    assert (default_project / "src" / (module.replace(".", "/") + ".py")).is_file()
    assert "settings_minimal" not in text
    assert "gcc" not in text.split("AS production", 1)[1], "no compiler in the final stage"
