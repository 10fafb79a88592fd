"""Rendered files speak to their owner: no references to the template's own
benchmarks, design notes or the plan it was written from (the owner has
none of them), and names and drawings that fit the project's own names."""

import re

import pytest

from support.output_checks import rendered_files
from support.render import TEMPLATE_ROOT, render

# What the owner does not have: the template's benchmark, its results, the
# design notes and the deployment plan the template was written from.
TEMPLATE_NOTES = re.compile(r"bench/run|BENCHMARKS\.md|DESIGN\.md|design-notes|deployment plan")
# The longest slug copier.yml accepts, with the widest parts of the drawing.
LONG_NAMES = {
    "project_slug": "a-forty-character-project-slug-for-tests",
    "django_package": "a_long_django_package",
    "ops_app": "site_operations",
    "db_pooling": "pgbouncer",
    "media_storage": "s3",
    "s3_provider": "digitalocean",
}


@pytest.fixture(scope="module")
def long_names_project(tmp_path_factory):
    return render(tmp_path_factory.mktemp("long") / "project", LONG_NAMES)


def test_the_template_cites_none_of_its_own_notes():
    cites = [
        f"{path.relative_to(TEMPLATE_ROOT)}:{number}"
        for path in sorted((TEMPLATE_ROOT / "template").rglob("*"))
        if path.is_file()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if TEMPLATE_NOTES.search(line)
    ]
    assert cites == []


def test_rendered_files_cite_none_of_the_template_s_notes(default_project, long_names_project):
    for project in (default_project, long_names_project):
        cites = [
            str(path.relative_to(project))
            for path in rendered_files(project)
            if TEMPLATE_NOTES.search(path.read_text())
        ]
        assert cites == []


def topology(project) -> list[str]:
    runbook = (project / "docs/deployment.md").read_text()
    return runbook.split("## Topology\n\n```\n", 1)[1].split("```", 1)[0].splitlines()


@pytest.mark.parametrize("which", ["default_project", "long_names_project"])
def test_the_topology_drawing_lines_up_whatever_the_names(which, request):
    lines = topology(request.getfixturevalue(which))
    web = next(number for number, line in enumerate(lines) if line.startswith(" web ("))
    column = lines[web].index("+")
    assert lines[web].endswith("-+") and column == len(lines[web]) - 1
    media = next(number for number, line in enumerate(lines) if number > web and "media" in line)
    for line in lines[web + 1 : media]:
        assert len(line) > column and line[column] in "|v", line
    assert lines[media - 1][column] == "v" and lines[media][column:].startswith("media")
    assert lines[media][:column].strip(), "the database sits left of the media"


def test_the_long_slug_is_in_the_drawing(long_names_project):
    assert any(LONG_NAMES["project_slug"] in line for line in topology(long_names_project))


def test_the_app_config_is_named_after_the_app(default_project, long_names_project):
    assert "class CommonConfig(AppConfig):" in (default_project / "src/common/apps.py").read_text()
    apps = (long_names_project / "src/site_operations/apps.py").read_text()
    assert "class SiteOperationsConfig(AppConfig):" in apps and 'name = "site_operations"' in apps


def test_urls_say_where_each_probe_is_answered(default_project):
    urls = (default_project / "src/obc_management/urls.py").read_text()
    docstring = urls.split('"""')[1]
    assert "/health/ in wsgi.py" in docstring
    assert "/ready/" in docstring and "HealthCheckMiddleware" in docstring
    wsgi = (default_project / "src/obc_management/wsgi.py").read_text()
    assert "application = LivenessFirst(get_wsgi_application())" in wsgi
