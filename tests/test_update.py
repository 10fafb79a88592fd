"""`copier update` from every release in CHANGELOG.md to HEAD keeps the owner's
work: for two profiles, a project rendered at the release gets an owner's
typical edits, is updated, and must merge cleanly, keep every edit, answer
and .env byte, and still pass its own tests and `check --deploy`."""

import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from packaging.version import Version

from support import output_checks
from support.facts import computed_values
from support.locks import lock_requirements
from support.owner import apply_owner_edits
from support.releases import answer_renames, answers_at, git, releases, run_update
from support.render import project_package, project_venv, read_answers, render, run_project_tests

PROFILES = {
    "default": {},
    "s3-native-json-nobeat": {
        "media_storage": "s3",
        "db_pooling": "native",
        "log_format": "json",
        "use_celery_beat": False,
        "max_request_body_mb": 250,
    },
}
RELEASES = [tag for tag, _ in releases()]
COMPOSE_FILE = computed_values()["compose_file"]
CONFLICT_MARKER = re.compile(rb"^(<<<<<<<|>>>>>>>)( |$)", re.MULTILINE)


@dataclass
class Update:
    project: Path
    answers_before: dict
    answers_after: dict
    env_before: bytes
    witnesses: dict[str, list[str]]
    returncode: int
    output: str
    seconds: float


UPDATES: dict[tuple[str, str], Update] = {}


def updated(release: str, profile: str, template_clone: Path, tmp_path_factory) -> Update:
    """Render at `release`, commit, apply the owner's edits, commit, update to HEAD (once per test session)."""
    if (release, profile) not in UPDATES:
        project = tmp_path_factory.mktemp(f"update-{release}-{profile}") / "project"
        answers = answers_at(release, PROFILES[profile])
        render(project, answers, vcs_ref=release, template=template_clone)
        git(project, "add", "--all")
        git(project, "commit", "--quiet", "--message", f"Rendered at {release}")
        beat = PROFILES[profile].get("use_celery_beat", True)
        witnesses = apply_owner_edits(project, project_package(project), beat)
        git(project, "add", "--all")
        git(project, "commit", "--quiet", "--message", "The owner's edits")
        env_before = (project / ".env").read_bytes()
        answers_before = read_answers(project)

        # From the release that has it, the project's own script; before that, Copier itself.
        started = time.monotonic()
        result = run_update(project, "--vcs-ref", "HEAD")
        UPDATES[release, profile] = Update(
            project=project,
            answers_before=answers_before,
            answers_after=read_answers(project),
            env_before=env_before,
            witnesses=witnesses,
            returncode=result.returncode,
            output=result.stdout + result.stderr,
            seconds=time.monotonic() - started,
        )
    return UPDATES[release, profile]


@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize("release", RELEASES)
def test_update_merges_cleanly_and_keeps_the_owners_work(release, profile, template_clone, tmp_path_factory):
    update = updated(release, profile, template_clone, tmp_path_factory)
    project = update.project
    assert update.returncode == 0, update.output
    print(f"update {release} -> HEAD ({profile}): {update.seconds:.1f} s")

    assert git(project, "ls-files", "--unmerged") == ""
    files = [path for path in project.rglob("*") if path.is_file() and ".git" not in path.relative_to(project).parts]
    assert [path for path in files if path.suffix == ".rej"] == []
    assert [path for path in files if CONFLICT_MARKER.search(path.read_bytes())] == []

    missing = [
        f"{name}: {line!r}"
        for name, lines in update.witnesses.items()
        for line in lines
        if line not in (project / name).read_text()
    ]
    assert missing == []
    # .env is the owner's: kept byte for byte; an update that crosses the
    # release of COMPOSE_FILE only appends that setting (a migration).
    env_after = (project / ".env").read_bytes()
    assert env_after.startswith(update.env_before)
    appended = env_after[len(update.env_before) :].decode().splitlines()
    assert [line for line in appended if line and not line.startswith("#")] in ([], [f"COMPOSE_FILE={COMPOSE_FILE}"])

    # Every answer is kept, under its new name where a migration renamed it.
    expected = dict(update.answers_before)
    for version, old, new in answer_renames():
        if Version(release) < version and old in expected:
            expected[new] = expected.pop(old)
    del expected["_commit"]
    assert {name: update.answers_after.get(name) for name in expected} == expected
    assert update.answers_after["_commit"] != release


@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize("release", RELEASES)
def test_a_migration_runs_exactly_when_the_update_crosses_its_release(
    release, profile, template_clone, tmp_path_factory
):
    update = updated(release, profile, template_clone, tmp_path_factory)
    assert update.returncode == 0, update.output
    for version, old, new in answer_renames():
        crossed = Version(release) < version
        assert (f"renamed answer {old} to {new}" in update.output) == crossed, update.output
        assert old not in update.answers_after
        if crossed:
            assert update.answers_after[new] == update.answers_before[old]

    # The renamed answer's effect: the owner's limit, not the default, reaches nginx.
    limit = update.answers_after["max_request_body_mb"]
    assert limit == PROFILES[profile].get("max_request_body_mb", 100)
    slug = update.answers_after["project_slug"]
    assert f"client_max_body_size {limit}m;" in (update.project / f"deploy/nginx/{slug}.conf").read_text()


@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize("release", RELEASES)
def test_updated_project_passes_its_tests_linters_and_check_deploy(
    release, profile, template_clone, tmp_path_factory, database_url, redis
):
    update = updated(release, profile, template_clone, tmp_path_factory)
    assert update.returncode == 0, update.output
    project = update.project
    # The owner's requirement in the lock files, as the image build asks.
    lock_requirements(project)
    venv = project_venv(project)

    assert output_checks.ruff_problems(project) == []

    result = run_project_tests(project, venv, database_url, redis.url, "-v")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    for test in ("test_summary_counts_reports", "test_export_is_a_spreadsheet", "test_our_password_rule_is_kept"):
        assert f"src/reports/test_reports.py::{test} PASSED" in result.stdout

    assert output_checks.check_deploy_problems(project, venv, database_url, redis.url) == []

    config = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert config["_src_path"] == str(template_clone)


def test_an_answer_file_with_a_renamed_answer_keeps_its_value(tmp_path):
    """`copier copy --data-file` runs no migration: the new name's default takes the old one's value."""
    for version, old, new in answer_renames():
        project = render(tmp_path / old, {old: 250})
        assert read_answers(project)[new] == 250, f"{old} -> {new} ({version})"
