"""Production settings: `check --deploy` is clean, and every unsafe or missing
setting stops the processes before they serve anything."""

import subprocess

import pytest

from support.gunicorn import GunicornServer
from support.processes import port_open
from support.project import manage, shell
from support.render import project_env


@pytest.fixture
def production_env(default_project, venv, database_url, redis):
    return project_env(default_project, venv, DATABASE_URL=database_url, REDIS_URL=redis.url)


def test_check_deploy_reports_no_issues(default_project, venv, production_env):
    """With the rendered .env (HSTS preload off): no issue; the one check
    silenced is Django's warning that preload is off."""
    result = manage(default_project, venv, production_env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (1 silenced)." in result.stdout
    preload = {**production_env, "SECURE_HSTS_PRELOAD": "1"}
    result = manage(default_project, venv, preload, "check", "--deploy", "--fail-level", "WARNING")
    assert "System check identified no issues (0 silenced)." in result.stdout, result.stdout + result.stderr


def test_hsts_comes_from_env_and_only_its_choices_are_silenced(default_project, venv, production_env):
    """The header browsers get for each choice in .env; an HSTS that is off
    altogether still stops the deploy (the migrate job's check --deploy)."""
    code = """
import json
from django.test import Client
response = Client().get("/no-such-page/", secure=True, HTTP_HOST="obcms.gov.ph")
print(json.dumps(response.headers.get("Strict-Transport-Security")))
"""
    headers = {
        "rendered": shell(default_project, venv, production_env, code).data,
        "raised": shell(default_project, venv, {**production_env, "SECURE_HSTS_SECONDS": "31536000"}, code).data,
        "preload": shell(
            default_project,
            venv,
            {**production_env, "SECURE_HSTS_SECONDS": "63072000", "SECURE_HSTS_PRELOAD": "1"},
            code,
        ).data,
        "no subdomains": shell(
            default_project, venv, {**production_env, "SECURE_HSTS_INCLUDE_SUBDOMAINS": "0"}, code
        ).data,
    }
    assert headers == {
        "rendered": "max-age=3600; includeSubDomains",
        "raised": "max-age=31536000; includeSubDomains",
        "preload": "max-age=63072000; includeSubDomains; preload",
        "no subdomains": "max-age=3600",
    }
    unset = {key: value for key, value in production_env.items() if not key.startswith("SECURE_HSTS_")}
    assert shell(default_project, venv, unset, code).data == "max-age=31536000; includeSubDomains"
    off = manage(
        default_project,
        venv,
        {**production_env, "SECURE_HSTS_SECONDS": "0"},
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert off.returncode != 0 and "security.W004" in off.stderr + off.stdout
    bad = manage(default_project, venv, {**production_env, "SECURE_HSTS_SECONDS": "a year"}, "check")
    assert "SECURE_HSTS_SECONDS must be a whole number; got 'a year'" in bad.stderr


def test_host_lists_with_stray_spaces_are_trimmed(default_project, venv, production_env):
    env = {
        **production_env,
        "ALLOWED_HOSTS": " obcms.gov.ph , www.obcms.gov.ph,, ",
        "CSRF_TRUSTED_ORIGINS": "https://obcms.gov.ph ,  https://www.obcms.gov.ph",
    }
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps([settings.ALLOWED_HOSTS, settings.CSRF_TRUSTED_ORIGINS]))"
    )
    result = shell(default_project, venv, env, script)
    assert result.returncode == 0, result.stderr
    hosts, origins = result.data
    assert hosts == ["obcms.gov.ph", "www.obcms.gov.ph"]
    assert origins == ["https://obcms.gov.ph", "https://www.obcms.gov.ph"]


LONG_RANDOM = "q8Z3vJ0wXbT5nL2mR7yK1cF4hD9sG6aP-u_eWiOoYtNxVzMjBkCl"

REFUSALS = {
    "secret key missing": ({"SECRET_KEY": None}, "SECRET_KEY is not set"),
    "secret key short": ({"SECRET_KEY": "only-twenty-chars-x1"}, "SECRET_KEY is 20 characters long"),
    "secret key insecure default": (
        {"SECRET_KEY": "django-insecure-" + LONG_RANDOM},
        "SECRET_KEY is an insecure default or placeholder",
    ),
    "hosts empty": ({"ALLOWED_HOSTS": " , "}, "ALLOWED_HOSTS is empty"),
    "hosts wildcard": ({"ALLOWED_HOSTS": "obcms.gov.ph,*"}, "ALLOWED_HOSTS contains '*'"),
    "origin without https": (
        {"CSRF_TRUSTED_ORIGINS": "https://obcms.gov.ph,obcms.gov.ph"},
        "CSRF_TRUSTED_ORIGINS entry 'obcms.gov.ph' must start with https://",
    ),
    "console e-mail": ({"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}, "EMAIL_BACKEND is"),
    "locmem e-mail": ({"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}, "EMAIL_BACKEND is"),
    "database url missing": ({"DATABASE_URL": None}, "DATABASE_URL is not set"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_unsafe_settings_are_refused_and_nothing_starts(case, default_project, venv, production_env, tmp_path):
    changes, message = REFUSALS[case]
    env = {key: value for key, value in {**production_env, **changes}.items() if value is not None}

    # manage.py (the migrate job, any admin command) refuses...
    result = manage(default_project, venv, env, "check", "--deploy")
    assert result.returncode != 0
    assert "Refusing to start with these production settings" in result.stderr
    assert message in result.stderr

    # ...and so does gunicorn: it exits without ever listening.
    server = GunicornServer(default_project, venv, env, tmp_path / "gunicorn.log")
    server.process = subprocess.Popen(
        server.command,
        cwd=default_project,
        env=server.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output, _ = server.process.communicate(timeout=60)
    assert server.process.returncode != 0
    assert message in output
    assert not port_open("127.0.0.1", server.port)


def test_every_problem_is_reported_at_once(default_project, venv, production_env):
    env = {**production_env, "SECRET_KEY": "short", "ALLOWED_HOSTS": "*"}
    env.pop("DATABASE_URL")
    result = manage(default_project, venv, env, "check")
    for message in ("SECRET_KEY is 5 characters long", "ALLOWED_HOSTS contains '*'", "DATABASE_URL is not set"):
        assert message in result.stderr


def test_the_example_in_overrides_py_works(project_copy, venv, production_env):
    """overrides.py is the owner's extension point; the example its docstring
    gives must run as written."""
    overrides = project_copy / "src" / "obc_management" / "settings" / "overrides.py"
    docstring = overrides.read_text().split('"""')[1]
    example = "\n".join(line[4:] for line in docstring.splitlines() if line.startswith("    "))
    assert "SESSION_COOKIE_AGE = 8 * 3600" in example
    overrides.write_text(example + "\n")
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps([settings.SESSION_COOKIE_AGE, settings.SECURE_HSTS_INCLUDE_SUBDOMAINS]))"
    )
    result = shell(project_copy, venv, production_env, script)
    assert result.returncode == 0, result.stderr
    assert result.data == [8 * 3600, False]


def test_secrets_may_come_from_files(default_project, venv, production_env, tmp_path):
    """NAME_FILE names a file that holds the value (Docker secrets are files
    in /run/secrets): the swarm target passes its secrets that way."""
    files = {
        "SECRET_KEY": LONG_RANDOM * 2,
        "SECRET_KEY_FALLBACKS": f"{LONG_RANDOM}a, {LONG_RANDOM}b",
        "DATABASE_URL": production_env["DATABASE_URL"],
        "REDIS_CACHE_URL": "redis://:a-cache-password@cache:6379/0",
    }
    env = dict(production_env)
    for name, value in files.items():
        (tmp_path / name).write_text(value + "\n")
        env.pop(name, None)
        env[f"{name}_FILE"] = str(tmp_path / name)
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps([settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS, "
        "settings.DATABASES['default']['NAME'], settings.CACHES['default']['LOCATION']]))"
    )
    result = shell(default_project, venv, env, script)
    assert result.returncode == 0, result.stderr
    assert result.data == [
        files["SECRET_KEY"],
        [f"{LONG_RANDOM}a", f"{LONG_RANDOM}b"],
        production_env["DATABASE_URL"].rsplit("/", 1)[1],
        files["REDIS_CACHE_URL"],
    ]


@pytest.mark.parametrize(
    ("both", "message"),
    [
        (True, "set SECRET_KEY or SECRET_KEY_FILE, not both"),
        (False, "SECRET_KEY_FILE names a file that cannot be read"),
    ],
)
def test_a_secret_file_that_is_missing_or_doubled_is_refused(both, message, default_project, venv, production_env):
    env = {**production_env, "SECRET_KEY_FILE": "/nonexistent/secret_key"}
    if not both:
        env.pop("SECRET_KEY")
    result = manage(default_project, venv, env, "check")
    assert result.returncode != 0
    assert message in result.stderr
