"""The hooks' functions, one by one: hooks/post_copy.py (Copier's task after
copy and update) and hooks/migrations/rename_answer.py (a migration between
releases). Each runs under the Python that runs Copier, in the rendered
project; the end-to-end runs are in test_render.py and test_update.py."""

import ast
import os
import stat
import subprocess
import sys

import pytest

from hooks import post_copy
from hooks.migrations import rename_answer
from support.render import TEMPLATE_ROOT

HOOKS = [TEMPLATE_ROOT / "hooks" / "post_copy.py", TEMPLATE_ROOT / "hooks" / "migrations" / "rename_answer.py"]

EXAMPLE = """# Django
SECRET_KEY=
DEBUG=0
ALLOWED_HOSTS=obcms.gov.ph

# Database
POSTGRES_PASSWORD=
POSTGRES_APP_PASSWORD=
DATABASE_URL=postgres://obcms_app:${POSTGRES_APP_PASSWORD}@db:5432/obcms
REDIS_PASSWORD=
HEALTH_CHECK_TOKEN=
METRICS_TOKEN=
FLOWER_PASSWORD=
EMAIL_HOST_PASSWORD=
"""
# The backup service's env file (compose): its own secret, and the owner's.
BACKUP_EXAMPLE = """# Off-site backups
RESTIC_REPOSITORY=
RESTIC_PASSWORD=
AWS_ACCESS_KEY_ID=
"""
EXAMPLES = [EXAMPLE, BACKUP_EXAMPLE]


def env_values(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


@pytest.mark.parametrize("path", HOOKS, ids=lambda path: path.name)
def test_hooks_import_the_standard_library_only(path):
    """Copier's own Python runs them, with nothing else installed."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported and imported <= sys.stdlib_module_names, imported - sys.stdlib_module_names


# ------------------------------------------------------------------ post_copy


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("SECRET_KEY=", "SECRET_KEY"),
        ("DEBUG=0", "DEBUG"),
        ("  ALLOWED_HOSTS = a,b  ", "ALLOWED_HOSTS"),
        ("DATABASE_URL=postgres://u:p@db/x?a=b", "DATABASE_URL"),
        ("", None),
        ("   ", None),
        ("# SECRET_KEY=commented", None),
        ("not a variable", None),
    ],
)
def test_variable_name(line, name):
    assert post_copy.variable_name(line) == name


def test_each_generated_secret_is_long_and_fresh():
    for name, generate in post_copy.GENERATED.items():
        first, second = generate(), generate()
        assert len(first) >= 32, name
        assert first != second, name


def generated_in(text: str) -> list[str]:
    return [name for name in post_copy.GENERATED if name in env_values(text)]


def test_every_generated_secret_has_its_line_in_an_example():
    assert sorted(name for text in EXAMPLES for name in generated_in(text)) == sorted(post_copy.GENERATED)


@pytest.mark.parametrize(("text", "owners"), [(EXAMPLE, "EMAIL_HOST_PASSWORD"), (BACKUP_EXAMPLE, "AWS_ACCESS_KEY_ID")])
def test_write_env_fills_the_empty_secrets_and_keeps_every_other_line(tmp_path, capsys, text, owners):
    example, target = tmp_path / ".env.example", tmp_path / ".env"
    example.write_text(text)
    post_copy.write_env(example, target)

    written = target.read_text()
    values = env_values(written)
    for name in generated_in(text):
        assert len(values[name]) >= 32, name
    assert values[owners] == "", "not generated: the owner's to fill in"
    kept = [line for line in text.splitlines() if post_copy.variable_name(line) not in post_copy.GENERATED]
    assert [line for line in written.splitlines() if post_copy.variable_name(line) not in post_copy.GENERATED] == kept
    assert written.endswith("\n") and not written.endswith("\n\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "Wrote .env with fresh secrets" in capsys.readouterr().out


def test_write_env_keeps_a_value_the_example_sets(tmp_path):
    example, target = tmp_path / ".env.example", tmp_path / ".env"
    example.write_text("SECRET_KEY=set-by-the-example\nREDIS_PASSWORD=\n")
    post_copy.write_env(example, target)
    values = env_values(target.read_text())
    assert values["SECRET_KEY"] == "set-by-the-example"
    assert values["REDIS_PASSWORD"]


@pytest.mark.parametrize("text", EXAMPLES)
def test_write_env_gives_each_project_its_own_secrets(tmp_path, text):
    example = tmp_path / ".env.example"
    example.write_text(text)
    post_copy.write_env(example, tmp_path / "one.env")
    post_copy.write_env(example, tmp_path / "two.env")
    one, two = env_values((tmp_path / "one.env").read_text()), env_values((tmp_path / "two.env").read_text())
    assert generated_in(text) and all(one[name] != two[name] for name in generated_in(text))


def test_write_env_without_an_example_fails_and_writes_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        post_copy.write_env(tmp_path / ".env.example", tmp_path / ".env")
    assert not (tmp_path / ".env").exists()


def test_report_missing_names_what_the_example_gained(tmp_path, capsys):
    example, target = tmp_path / ".env.example", tmp_path / ".env"
    example.write_text(EXAMPLE)
    target.write_text("SECRET_KEY=x\nDEBUG=0\nALLOWED_HOSTS=a\nPOSTGRES_PASSWORD=y\nDATABASE_URL=z\n")
    post_copy.report_missing(example, target)
    out = capsys.readouterr().out
    assert "REDIS_PASSWORD, HEALTH_CHECK_TOKEN, METRICS_TOKEN, FLOWER_PASSWORD, EMAIL_HOST_PASSWORD." in out
    assert "SECRET_KEY" not in out


def test_report_missing_says_nothing_when_nothing_is_missing(tmp_path, capsys):
    example, target = tmp_path / ".env.example", tmp_path / ".env"
    example.write_text(EXAMPLE)
    target.write_text(EXAMPLE + "OWNER_ONLY=1\n")
    post_copy.report_missing(example, target)
    assert capsys.readouterr().out == ""


def test_init_git_starts_a_repository(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    post_copy.init_git()
    assert (tmp_path / ".git").is_dir()
    assert "Started a git repository" in capsys.readouterr().out


def test_init_git_leaves_an_enclosing_repository_alone(tmp_path, monkeypatch, capsys):
    subprocess.run(["git", "init", "--quiet", str(tmp_path)], check=True)
    inner = tmp_path / "rendered"
    inner.mkdir()
    monkeypatch.chdir(inner)
    post_copy.init_git()
    assert not (inner / ".git").exists()
    assert capsys.readouterr().out == ""


def test_init_git_without_git_says_so_and_goes_on(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "no-programs"
    empty.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(empty))
    post_copy.init_git()
    assert not (tmp_path / ".git").exists()
    assert "git is not installed" in capsys.readouterr().out


def test_main_copy_writes_env_and_starts_git(tmp_path, monkeypatch):
    (tmp_path / ".env.example").write_text(EXAMPLE)
    monkeypatch.chdir(tmp_path)
    post_copy.main("copy")
    assert env_values((tmp_path / ".env").read_text())["SECRET_KEY"]
    assert (tmp_path / ".git").is_dir()


def test_main_copy_keeps_an_existing_env(tmp_path, monkeypatch):
    (tmp_path / ".env.example").write_text(EXAMPLE)
    (tmp_path / ".env").write_text("SECRET_KEY=the-owners\n")
    monkeypatch.chdir(tmp_path)
    post_copy.main("copy")
    assert (tmp_path / ".env").read_text() == "SECRET_KEY=the-owners\n"


def test_main_update_reports_and_touches_nothing(tmp_path, monkeypatch, capsys):
    (tmp_path / ".env.example").write_text(EXAMPLE)
    (tmp_path / ".env").write_text("SECRET_KEY=the-owners\n")
    monkeypatch.chdir(tmp_path)
    post_copy.main("update")
    assert (tmp_path / ".env").read_text() == "SECRET_KEY=the-owners\n"
    assert not (tmp_path / ".git").exists(), "an update starts no repository"
    assert "lacks variables that .env.example now documents: DEBUG" in capsys.readouterr().out


def test_main_update_without_env_writes_none(tmp_path, monkeypatch, capsys):
    """A project whose .env lives in the platform (Coolify): nothing to do."""
    (tmp_path / ".env.example").write_text(EXAMPLE)
    monkeypatch.chdir(tmp_path)
    post_copy.main("update")
    assert not (tmp_path / ".env").exists()
    assert capsys.readouterr().out == ""


def test_run_as_copier_runs_it(tmp_path):
    """`python hooks/post_copy.py copy` in the project, and copy without an argument."""
    for name, args in (("with-argument", ["copy"]), ("without", [])):
        project = tmp_path / name
        project.mkdir()
        (project / ".env.example").write_text(EXAMPLE)
        result = subprocess.run(
            [sys.executable, str(HOOKS[0]), *args], cwd=project, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
        assert env_values((project / ".env").read_text())["SECRET_KEY"]


# -------------------------------------------------------------- rename_answer

ANSWERS = """# Changes here will be overwritten by Copier; NEVER EDIT MANUALLY
_commit: v0.1.0
_src_path: https://example.org/obcms-deployment-template.git
domain_name: obcms.gov.ph
max_upload_mb: 250
max_upload_mb_note: kept
project_slug: obcms
"""


def test_rename_renames_the_key_and_keeps_every_other_byte():
    text, done = rename_answer.rename(ANSWERS, "max_upload_mb", "max_request_body_mb")
    assert text == ANSWERS.replace("max_upload_mb: 250", "max_request_body_mb: 250")
    assert done == "renamed answer max_upload_mb to max_request_body_mb"


def test_rename_without_the_old_answer_changes_nothing():
    text, done = rename_answer.rename(ANSWERS, "use_sentry", "use_error_tracking")
    assert text == ANSWERS
    assert done == "no use_sentry answer recorded, nothing to rename"


def test_rename_when_both_are_recorded_keeps_the_new_one():
    both = ANSWERS + "max_request_body_mb: 500\n"
    text, done = rename_answer.rename(both, "max_upload_mb", "max_request_body_mb")
    assert text == both.replace("max_upload_mb: 250\n", "")
    assert done == "dropped max_upload_mb: max_request_body_mb is already recorded"


@pytest.mark.parametrize(
    "text",
    [
        "max_upload_mb_note: kept\n",  # a longer key that starts with the name
        "extra:\n  max_upload_mb: 250\n",  # not a top-level key
        "# max_upload_mb: 250\n",  # a comment
    ],
    ids=["longer key", "nested", "comment"],
)
def test_rename_touches_top_level_keys_only(text):
    assert rename_answer.rename(text, "max_upload_mb", "max_request_body_mb") == (
        text,
        "no max_upload_mb answer recorded, nothing to rename",
    )


def test_rename_keeps_a_value_on_the_following_lines():
    text = "extra_domains:\n- www.obcms.gov.ph\nproject_slug: obcms\n"
    renamed, _ = rename_answer.rename(text, "extra_domains", "other_domains")
    assert renamed == "other_domains:\n- www.obcms.gov.ph\nproject_slug: obcms\n"


def test_main_rewrites_the_answers_file_and_says_what_it_did(tmp_path, capsys):
    answers = tmp_path / ".copier-answers.yml"
    answers.write_text(ANSWERS)
    rename_answer.main(str(answers), "max_upload_mb", "max_request_body_mb", "v0.1.0", "v0.2.0")
    assert "max_request_body_mb: 250\n" in answers.read_text()
    out = capsys.readouterr().out
    assert (
        out
        == f"Template migration (v0.1.0 -> v0.2.0): renamed answer max_upload_mb to max_request_body_mb in {answers}.\n"
    )


def test_main_without_versions_says_question_marks(tmp_path, capsys):
    answers = tmp_path / ".copier-answers.yml"
    answers.write_text(ANSWERS)
    rename_answer.main(str(answers), "max_upload_mb", "max_request_body_mb")
    assert capsys.readouterr().out.startswith("Template migration (? -> ?): renamed answer")


def test_main_without_an_answers_file_fails(tmp_path):
    with pytest.raises(FileNotFoundError):
        rename_answer.main(str(tmp_path / ".copier-answers.yml"), "max_upload_mb", "max_request_body_mb")
    assert not (tmp_path / ".copier-answers.yml").exists()


def test_run_as_copier_runs_it_and_fails_on_missing_arguments(tmp_path):
    """As copier.yml's _migrations run it; too few arguments stop the update
    (a non-zero exit) with the file unchanged."""
    answers = tmp_path / ".copier-answers.yml"
    answers.write_text(ANSWERS)
    script = str(HOOKS[1])
    short = subprocess.run([sys.executable, script, str(answers), "max_upload_mb"], capture_output=True, check=False)
    assert short.returncode != 0
    assert answers.read_text() == ANSWERS
    command = [sys.executable, script, str(answers), "max_upload_mb", "max_request_body_mb", "v0.1.0", "v0.2.0"]
    full = subprocess.run(command, capture_output=True, text=True, check=False, env={"PATH": os.environ["PATH"]})
    assert full.returncode == 0, full.stderr
    assert "renamed answer max_upload_mb to max_request_body_mb" in full.stdout
    assert "max_request_body_mb: 250\n" in answers.read_text()
