"""The default render passes the real linters and parsers."""

from support import output_checks
from support.compose import compose_config
from support.render import TEMPLATE_ROOT, read_env_file


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
    result = compose_config(project_copy, "docker-compose.prod.yml", "--quiet")
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


def test_workflows_pass_actionlint(default_project):
    assert output_checks.actionlint_problems(default_project) == []


def test_update_script_installs_the_copier_that_the_template_is_tested_with(default_project):
    def copier_pins(path):
        return [word for word in path.read_text().split() if word.startswith("copier==")]

    assert copier_pins(default_project / "requirements" / "copier.txt") == copier_pins(
        TEMPLATE_ROOT / "requirements-dev.txt"
    )
