"""The running stack of the default render: real nginx (rendered conf,
self-signed certificate) -> gunicorn (rendered gunicorn.conf.py, production
settings, the environment compose gives `web`) -> PostgreSQL, Redis."""

import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from .celery import compose_environment
from .gunicorn import GunicornServer
from .http import Response, request
from .nginx import NginxServer, make_certificate
from .project import manage
from .redis import RedisServer
from .render import project_env

DOMAIN = "obcms.gov.ph"
ADMIN_PASSWORD = "a-long-test-password-for-the-admin"


@dataclass
class Stack:
    project: Path
    venv: Path
    env: dict
    redis: RedisServer
    gunicorn: GunicornServer
    nginx: NginxServer
    ca: Path
    media: Path
    # gunicorn's TMPDIR: where Django would store uploaded files it parses.
    upload_temp: Path

    def https(self, path: str, **kwargs) -> Response:
        return request(self.nginx.https_port, path, host_header=DOMAIN, tls_ca=self.ca, **kwargs)

    def http(self, path: str, **kwargs) -> Response:
        return request(self.nginx.http_port, path, host_header=DOMAIN, **kwargs)

    def direct(self, path: str, **kwargs) -> Response:
        """Straight to gunicorn, as a probe inside the compose network asks."""
        return request(self.gunicorn.port, path, host_header=DOMAIN, **kwargs)


def readable_directory(prefix: str) -> Path:
    """A directory that nginx's unprivileged workers and PostgreSQL may enter
    (pytest's temporary directories are root-only)."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    directory.chmod(0o755)
    return directory


@contextmanager
def running_stack(default_project: Path, venv: Path, postgres, base: Path, database: str, **env_overrides):
    project = base / "project"
    shutil.copytree(default_project, project)
    redis = RedisServer(base / "redis").start()
    media = readable_directory("obcms-test-media-")
    upload_temp = readable_directory("obcms-test-upload-temp-")
    env = project_env(
        project,
        venv,
        # What the compose file gives web (MEDIA_X_ACCEL_PREFIX: nginx sends uploads).
        **compose_environment(project, "web"),
        DATABASE_URL=postgres.create_database(database),
        REDIS_URL=redis.url,
        DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
        MEDIA_ROOT=str(media),
        TMPDIR=str(upload_temp),
        **env_overrides,
    )
    manage(project, venv, env, "collectstatic", "--noinput").checked()  # as the image build does
    manage(project, venv, env, "migrate_safely").checked()
    manage(
        project, venv, env, "createsuperuser", "--noinput", "--username", "admin", "--email", f"admin@{DOMAIN}"
    ).checked()
    gunicorn = nginx = None
    try:
        gunicorn = GunicornServer(project, venv, env, base / "gunicorn.log").start()
        ca = make_certificate(base / "certs", [DOMAIN, f"www.{DOMAIN}"])
        nginx = NginxServer(
            base / "nginx", project / "deploy/nginx/obcms.conf", gunicorn.port, base / "certs", media
        ).start()
        yield Stack(project, venv, env, redis, gunicorn, nginx, ca, media, upload_temp)
    finally:
        if nginx:
            nginx.stop()
        if gunicorn:
            gunicorn.stop()
        redis.stop()
        shutil.rmtree(media, ignore_errors=True)
        shutil.rmtree(upload_temp, ignore_errors=True)


def login_form(stack: Stack, username: str, password: str, **request_kwargs) -> Response:
    """The admin login form, fetched and posted over HTTPS as a browser does
    (request_kwargs: more headers, a source address)."""
    extra_headers = request_kwargs.pop("headers", {})
    page = stack.https("/admin/login/", headers=extra_headers, **request_kwargs)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.body.decode()).group(1)
    csrf_cookie = next(c for c in page.cookies if c.startswith("csrftoken=")).split(";")[0]
    form = urlencode({"csrfmiddlewaretoken": token, "username": username, "password": password, "next": "/admin/"})
    headers = {
        "Cookie": csrf_cookie,
        "Content-Type": "application/x-www-form-urlencoded",
        "Origin": f"https://{DOMAIN}",
        "Referer": f"https://{DOMAIN}/admin/login/",
        **extra_headers,
    }
    return stack.https(
        "/admin/login/?next=/admin/", method="POST", body=form.encode(), headers=headers, **request_kwargs
    )


def admin_session(stack: Stack) -> str:
    response = login_form(stack, "admin", ADMIN_PASSWORD)
    assert response.status == 302, response.body[:500]
    return next(c for c in response.cookies if c.startswith("sessionid=")).split(";")[0]
