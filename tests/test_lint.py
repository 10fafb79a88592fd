"""The default render passes the real linters and parsers."""

from support import output_checks
from support.render import read_env_file


def test_python_passes_ruff(default_project):
    assert output_checks.ruff_problems(default_project) == []


def test_dockerfile_passes_hadolint(default_project):
    assert output_checks.hadolint_problems(default_project) == []


def test_compose_files_pass_the_real_compose_parser(default_project, tmp_path):
    assert output_checks.compose_problems(default_project, tmp_path) == []


def test_compose_refuses_a_missing_required_variable(project_copy):
    env_file = project_copy / ".env"
    kept = [line for line in env_file.read_text().splitlines() if not line.startswith("POSTGRES_PASSWORD=")]
    env_file.write_text("\n".join(kept) + "\n")
    result = output_checks.compose_config(project_copy, "docker-compose.prod.yml", "--quiet")
    assert result.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in result.stderr


def test_production_compose_has_no_obsolete_version_key_nor_secrets(default_project):
    text = (default_project / "docker-compose.prod.yml").read_text()
    assert not any(line.startswith("version:") for line in text.splitlines())
    assert read_env_file(default_project / ".env")["SECRET_KEY"] not in text


def test_nginx_accepts_the_rendered_conf(default_project, tmp_path):
    assert output_checks.nginx_problems(default_project, tmp_path) == []


def test_scripts_pass_shellcheck(default_project):
    assert output_checks.shellcheck_problems(default_project) == []
