"""Facts that several files need are stated once, in copier.yml's computed
values: a rendered file that names an image, the development database, the
Celery command or an owner's marker names the one copier.yml gives."""

import hashlib
import re
from pathlib import Path

import pytest

from support.compose import compose_file
from support.compose import services as compose_services
from support.facts import computed_values, images, owner_markers
from support.output_checks import rendered_files
from support.render import read_answers, render

# Another Python and PostgreSQL than the defaults, PgBouncer's image and the
# monitoring images: with the defaults, these answers use every image of
# copier.yml.
OTHER_ANSWERS = {"python_version": "3.12", "postgres_version": "18", "db_pooling": "pgbouncer", "use_monitoring": True}
ARG_DEFAULT = re.compile(r"^ARG (\w+)=(\S+)$", re.MULTILINE)
DATABASE_URL = re.compile(r"postgres://[^\s\"']+")


@pytest.fixture(scope="module")
def other_project(tmp_path_factory) -> Path:
    return render(tmp_path_factory.mktemp("facts") / "project", OTHER_ANSWERS)


@pytest.fixture(scope="module")
def projects(default_project, other_project) -> list[Path]:
    return [default_project, other_project]


def source_images(project: Path) -> set[str]:
    answers = read_answers(project)
    return set(images(python_version=answers["python_version"], postgres_version=answers["postgres_version"]).values())


def text_with_build_args(path: Path) -> str:
    """A file's text; in a Dockerfile, ${ARG} replaced by the ARG's default."""
    text = path.read_text()
    if path.name == "Dockerfile":
        for name, value in ARG_DEFAULT.findall(text):
            text = text.replace("${" + name + "}", value)
    return text


def image_mention(project: Path) -> re.Pattern:
    """An image of the repositories copier.yml's images come from, wherever a
    file names one (compose files, Dockerfiles, docs); not a host:port such
    as @redis:6379."""
    repositories = sorted({image.split(":")[0] for image in source_images(project)})
    alternatives = "|".join(map(re.escape, repositories))
    return re.compile(r"(?<![\w@/.-])(?:" + alternatives + r"):[\w${}.-]+")


def image_mentions(project: Path) -> dict[str, set[str]]:
    """Every image of those repositories a rendered file names, by file."""
    mention, found = image_mention(project), {}
    for path in rendered_files(project):
        mentions = set(mention.findall(text_with_build_args(path)))
        if mentions:
            found[str(path.relative_to(project))] = mentions
    return found


def built_images(project: Path) -> list[str]:
    """The images of the compose services and the FROM lines of the Dockerfiles."""
    named = []
    for name in ("docker-compose.prod.yml", "docker-compose.yml"):
        services = compose_services(project, name)
        named += [service["image"] for service in services.values() if "image" in service]
    for dockerfile in [project / "Dockerfile", *project.glob("deploy/*/Dockerfile")]:
        named += re.findall(r"^FROM (\S+)", text_with_build_args(dockerfile), re.MULTILINE)
    return named


def test_every_image_named_is_one_of_copier_yml(projects):
    for project in projects:
        allowed = source_images(project)
        strays = {name: mentions - allowed for name, mentions in image_mentions(project).items() if mentions - allowed}
        assert strays == {}, f"images not from copier.yml's *_image values ({sorted(allowed)})"


def test_every_image_run_or_built_on_is_from_copier_yml_or_the_project(projects):
    for project in projects:
        slug = read_answers(project)["project_slug"]
        for image in built_images(project):
            assert image in source_images(project) or image.startswith((f"{slug}:", f"{slug}-")), image


def test_every_image_of_copier_yml_is_used(projects):
    used = set().union(*(mentions for project in projects for mentions in image_mentions(project).values()))
    for project in projects:
        unused = source_images(project) - used
        assert not unused, f"no render here names {unused}: add answers that use it to OTHER_ANSWERS"


def test_the_development_database_is_the_one_of_copier_yml(default_project):
    facts = computed_values()
    on_the_host, in_the_stack = facts["dev_database_url"], facts["dev_database_url"].replace("@localhost:", "@db:")
    for path in rendered_files(default_project):
        for url in DATABASE_URL.findall(path.read_text()):
            if f":{facts['dev_database_password']}@" in url:
                assert url in (on_the_host, in_the_stack), f"{path.name}: {url}"
    development = (default_project / "src/obc_management/settings/development.py").read_text()
    assert f'DEV_DATABASE_URL = "{on_the_host}"' in development
    assert f"export DATABASE_URL={on_the_host} " in (default_project / "README.md").read_text()
    stack = compose_file(default_project, "docker-compose.yml")
    assert stack["x-dev-app"]["environment"]["DATABASE_URL"] == in_the_stack
    assert stack["services"]["db"]["environment"]["POSTGRES_DB"] == facts["database_name"]


def test_every_celery_process_starts_with_copier_yml_s_command(projects):
    for project in projects:
        command = computed_values(django_package=read_answers(project)["django_package"])["celery_command"]
        for name in ("docker-compose.prod.yml", "docker-compose.yml"):
            services = compose_services(project, name)
            started = [service["command"] for service in services.values() if "celery" in service.get("command", [])]
            assert started and all(argv[: len(command)] == command for argv in started), name
        worker = compose_services(project)["celery"]
        assert worker["healthcheck"]["test"][1].startswith(" ".join(command) + " inspect ping")


def test_each_owner_marker_opens_its_part_of_a_shared_file(default_project):
    markers = owner_markers()
    files = {
        "apps": "src/obc_management/settings/base.py",
        "beat_schedule": "src/obc_management/settings/base.py",
        "routes": "src/obc_management/urls.py",
        "requirements": "requirements/base.txt",
    }
    assert set(markers) == set(files)
    for name, marker in markers.items():
        assert (default_project / files[name]).read_text().splitlines().count(marker) == 1, (name, marker)


def test_digests_given_in_copier_yml_pin_every_image(tmp_path):
    """copier.yml's image_digests, the one place to pin images by content:
    each image the stacks run or build from then carries its digest."""
    tags = images(python_version="3.12", postgres_version="18").values()
    digests = {tag: "sha256:" + hashlib.sha256(tag.encode()).hexdigest() for tag in tags}
    project = render(tmp_path / "project", {**OTHER_ANSWERS, "image_digests": digests})
    slug = read_answers(project)["project_slug"]
    official = [image for image in built_images(project) if not image.startswith((f"{slug}:", f"{slug}-"))]
    assert official and all(image.split("@")[0] in digests for image in official), official
    assert all(image == f"{image.split('@')[0]}@{digests[image.split('@')[0]]}" for image in official), official
    assert {image.split("@")[0] for image in official} == set(digests), "every image of copier.yml is pinned"


def test_the_probes_are_the_ones_of_copier_yml(default_project):
    """health.py serves the probe paths every target asks (the image's
    HEALTHCHECK, the swarm stack, the Kubernetes probes)."""
    facts = computed_values()
    health = (default_project / "src/common/health.py").read_text()
    assert f'PROBES = {{"{facts["health_path"]}": health, "{facts["ready_path"]}": ready,' in health
    dockerfile = (default_project / "Dockerfile").read_text()
    assert f'CMD ["python", "scripts/healthcheck.py", "{facts["health_path"]}"]' in dockerfile
