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

from .compose import compose_environment
from .gunicorn import GunicornServer
from .http import Response, request
from .nginx import NginxServer, make_certificate
from .project import manage, migrate_job
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
    owner_url, app_url = postgres.create_owned_database(database)
    env = project_env(
        project,
        venv,
        # What the compose file gives web (MEDIA_X_ACCEL_PREFIX: nginx sends
        # uploads; the upload_tmp volume is a directory here); the
        # application's role, which reads and writes rows only.
        **{**compose_environment(project, "web"), "FILE_UPLOAD_TEMP_DIR": str(upload_temp)},
        DATABASE_URL=app_url,
        REDIS_URL=redis.url,
        DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
        MEDIA_ROOT=str(media),
        TMPDIR=str(upload_temp),
        **env_overrides,
    )
    manage(project, venv, env, "collectstatic", "--noinput").checked()  # as the image build does
    migrate_job(project, env, owner_url, app_url).checked()
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


def login_page(stack: Stack, **request_kwargs) -> tuple[str, str]:
    """The login form's CSRF token and cookie, as a browser gets them."""
    page = stack.https("/admin/login/", **request_kwargs)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.body.decode()).group(1)
    cookie = next(c for c in page.cookies if c.startswith("csrftoken=")).split(";")[0]
    return token, cookie


def post_login(stack: Stack, token: str, cookie: str, username: str, password: str, **request_kwargs) -> Response:
    """The admin login form posted over HTTPS as a browser posts it
    (request_kwargs: more headers, a source address)."""
    form = urlencode({"csrfmiddlewaretoken": token, "username": username, "password": password, "next": "/admin/"})
    headers = {
        "Cookie": cookie,
        "Content-Type": "application/x-www-form-urlencoded",
        "Origin": f"https://{DOMAIN}",
        "Referer": f"https://{DOMAIN}/admin/login/",
        **request_kwargs.pop("headers", {}),
    }
    return stack.https(
        "/admin/login/?next=/admin/", method="POST", body=form.encode(), headers=headers, **request_kwargs
    )


def login_form(stack: Stack, username: str, password: str, **request_kwargs) -> Response:
    """The login page fetched, then its form posted."""
    token, cookie = login_page(stack, source=request_kwargs.get("source"))
    return post_login(stack, token, cookie, username, password, **request_kwargs)


def admin_session(stack: Stack) -> str:
    response = login_form(stack, "admin", ADMIN_PASSWORD)
    assert response.status == 302, response.body[:500]
    return next(c for c in response.cookies if c.startswith("sessionid=")).split(";")[0]
