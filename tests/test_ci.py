"""The rendered project's CI scripts (scripts/ci/), run as its workflow runs
them but natively, against the suite's PostgreSQL and Redis: they pass on a
fresh render and fail, saying why, on a failing test, an unsafe migration and
a missing migration. The unsafe-migration gate names each kind of unsafe
change, passes the safe ways to make them and a reviewed migration.
The image build and smoke run need Docker: tests/containers/test_ci_image.py."""

import re
import subprocess

import pytest
import yaml

from support.ci import add_app, ci_env, run_script
from support.compose import services as compose_services
from support.facts import copier_config
from support.releases import git
from support.render import project_package


def test_every_action_is_pinned_to_a_commit_from_copier_yml(default_project):
    """A tag can be moved to other code, a commit cannot; the pins are kept
    in one place (copier.yml's github_actions) with the tag they are."""
    pins = copier_config()["github_actions"]["default"]
    assert all(re.fullmatch(r"[\w-]+/[\w-]+@[0-9a-f]{40} # v\d+(\.\d+)*", pin) for pin in pins.values()), pins
    used = []
    for workflow in sorted((default_project / ".github" / "workflows").glob("*.yml")):
        used += re.findall(r"^\s*(?:- )?uses: (.+)$", workflow.read_text(), re.MULTILINE)
    assert used and set(used) <= set(pins.values()), used


def test_ci_services_are_the_production_database_and_redis(default_project):
    ci = yaml.safe_load((default_project / ".github" / "workflows" / "ci.yml").read_text())
    production = compose_services(default_project)
    for job in ("test", "image"):
        services = ci["jobs"][job]["services"]
        assert services["postgres"]["image"] == production["db"]["image"]
        assert services["redis"]["image"] == production["redis"]["image"]


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def refused(result: subprocess.CompletedProcess) -> dict[str, str]:
    """The gate's list of refused migrations: {"app.migration": "problem; problem"}."""
    found: dict[str, list[str]] = {}
    for name, problem in re.findall(r"^  (\w+\.\w+): (.+)$", result.stderr, re.MULTILINE):
        found.setdefault(name, []).append(problem)
    return {name: "; ".join(problems) for name, problems in found.items()}


def database_tables(postgres, database_url: str) -> list[str]:
    database = database_url.rsplit("/", 1)[1]
    return postgres.psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", database).split()


def test_ci_scripts_pass_on_a_fresh_render(project_copy, venv, database_url, redis, postgres):
    env = ci_env(project_copy, venv, database_url, redis.url)
    steps = {
        "ci/lint.sh": "Lint passed.",
        "ci/test.sh": " passed",
        # Silenced: Django's warning that HSTS preload is off, the default.
        "ci/check-deploy.sh": "System check identified no issues (1 silenced).",
        "ci/migrations.sh": "Migration checks passed.",
    }
    for script, expected in steps.items():
        result = run_script(project_copy, script, env)
        assert result.returncode == 0, f"{script}:\n{output(result)[-5000:]}"
        assert expected in result.stdout, f"{script}:\n{output(result)[-3000:]}"
    assert "Migration gate passed." in result.stdout
    assert "django_migrations" in database_tables(postgres, database_url), "migrations.sh migrated the database"


def test_a_failing_test_fails_the_test_step(project_copy, venv, database_url, redis):
    package = project_copy / "src" / project_package(project_copy)
    (package / "test_ci_broken.py").write_text("def test_totals_add_up():\n    assert 1 + 1 == 3\n")
    result = run_script(project_copy, "ci/test.sh", ci_env(project_copy, venv, database_url, redis.url))
    assert result.returncode == 1, output(result)[-3000:]
    assert "FAILED src/" in result.stdout and "test_ci_broken.py::test_totals_add_up" in result.stdout
    assert "Tests failed: see pytest's report above." in result.stderr


def test_an_unsafe_migration_fails_the_migration_checks_before_migrating(
    project_copy, venv, database_url, redis, postgres
):
    add_app(project_copy, "shop")
    result = run_script(project_copy, "ci/migrations.sh", ci_env(project_copy, venv, database_url, redis.url))
    assert result.returncode == 1, output(result)[-3000:]
    assert "Migration gate: REFUSED." in result.stderr
    assert refused(result) == {
        "shop.0002_remove_product_legacy_code": "DROPPING columns (table: shop_product, column: legacy_code)"
    }
    assert database_tables(postgres, database_url) == [], "refused before any migration ran"


def test_a_missing_migration_fails_the_migration_checks(project_copy, venv, database_url, redis):
    app = add_app(project_copy, "shop")
    models = app / "models.py"
    models.write_text(models.read_text() + "    price = models.IntegerField(null=True)\n")
    result = run_script(project_copy, "ci/migrations.sh", ci_env(project_copy, venv, database_url, redis.url))
    assert result.returncode == 1, output(result)[-3000:]
    assert "Add field price to product" in result.stdout
    assert "Models changed without a migration" in result.stderr
    assert "Migration gate" not in result.stdout


# Each refused migration of tests/fixtures/ci/catalog and what the gate says it does.
CATALOG_REFUSED = {
    "catalog.0005_item_weight": "NOT NULL constraint on columns",
    "catalog.0006_remove_item_notes": "DROPPING columns (table: catalog_item, column: notes)",
    "catalog.0007_rename_item_code_sku": "RENAMING columns (table: catalog_item, column: code)",
    "catalog.0008_alter_item_price": "ALTERING columns",
    "catalog.0009_item_sku_unique": "ADDING unique constraint",
    "catalog.0010_item_colour_index": "CREATE INDEX locks table",
    "catalog.0011_rename_tag_label": "RENAMING tables (table: catalog_tag)",
    "catalog.0012_delete_archive": "DROPPING table (table: catalog_archive)",
}


@pytest.fixture
def catalog_project(project_copy):
    add_app(project_copy, "catalog")
    return project_copy


def test_the_gate_names_each_unsafe_change_and_passes_safe_and_reviewed_ones(catalog_project, venv, database_url):
    env = ci_env(catalog_project, venv, database_url, "")
    result = run_script(catalog_project, "migration_gate.sh", env)
    assert result.returncode == 1, output(result)[-3000:]
    found = refused(result)
    assert sorted(found) == sorted(CATALOG_REFUSED), output(result)
    for name, problem in CATALOG_REFUSED.items():
        assert found[name].startswith(problem), f"{name}: {found[name]}"
    # The safe ways pass, and the reviewed one is reported as ignored.
    for name in ("0001_initial", "0002_item_colour_nullable", "0003_item_stock_db_default"):
        assert f"(catalog, {name})... OK" in result.stdout
    assert "(catalog, 0004_item_name_index_concurrently)... OK" in result.stdout
    assert "(catalog, 0013_remove_item_colour)... IGNORE" in result.stdout


def test_the_gate_since_a_commit_checks_only_the_migrations_added_after_it(catalog_project, venv, database_url):
    """CI's mode: migrations committed before the base are not judged again."""
    migrations = catalog_project / "src" / "catalog" / "migrations"
    later = sorted(path for path in migrations.glob("00*.py") if path.name >= "0007")
    moved = catalog_project.parent / "later-migrations"
    moved.mkdir()
    for path in later:
        path.rename(moved / path.name)
    git(catalog_project, "add", "--all")
    git(catalog_project, "commit", "--quiet", "--message", "base: catalog up to 0006")
    base = git(catalog_project, "rev-parse", "HEAD").strip()
    for path in later:
        (moved / path.name).rename(path)
    git(catalog_project, "add", "--all")
    git(catalog_project, "commit", "--quiet", "--message", "catalog 0007 to 0013")

    env = ci_env(catalog_project, venv, database_url, "")
    result = run_script(catalog_project, "migration_gate.sh", env, "--since", base)
    assert result.returncode == 1, output(result)[-3000:]
    assert sorted(refused(result)) == sorted(name for name in CATALOG_REFUSED if name >= "catalog.0007")


def test_the_gate_without_since_judges_only_what_the_database_lacks(catalog_project, venv, database_url):
    """A deploy's mode: the production database already has the old release's
    migrations; only those the deploy would apply are judged."""
    env = ci_env(catalog_project, venv, database_url, "")
    migrated = subprocess.run(
        ["python", "manage.py", "migrate", "catalog", "0006"],
        cwd=catalog_project / "src", env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    result = run_script(catalog_project, "migration_gate.sh", env)
    assert result.returncode == 1, output(result)[-3000:]
    assert sorted(refused(result)) == sorted(name for name in CATALOG_REFUSED if name >= "catalog.0007")


def test_the_gate_says_when_it_could_not_run(project_copy, venv, database_url):
    """Exit 2, not 1: a deploy script can tell "refused" from "not judged"."""
    unreachable = re.sub(r"@[^/]+/", "@127.0.0.1:9/", database_url)
    result = run_script(project_copy, "migration_gate.sh", ci_env(project_copy, venv, unreachable, ""))
    assert result.returncode == 2, output(result)[-3000:]
    assert "the check itself failed" in result.stderr
    usage = run_script(project_copy, "migration_gate.sh", ci_env(project_copy, venv, database_url, ""), "--since")
    assert usage.returncode == 2 and "usage:" in usage.stderr
