"""Render the default answers and serve the result on loopback (bin/demo).

The rendered project runs as in production (production settings, gunicorn
with its gunicorn.conf.py, WhiteNoise, Redis), except for two things a demo
on a laptop needs: an SQLite file instead of PostgreSQL, and plain HTTP on
127.0.0.1 instead of TLS behind nginx (SECURE_SSL_REDIRECT=0).

    bin/demo           serve until Ctrl+C
    bin/demo --check   serve, check /health/, /ready/ and the admin login page, stop
"""

import argparse
import re
import secrets
import shutil
import signal
import sys

from support.gunicorn import GunicornServer
from support.http import request
from support.project import as_deployed
from support.redis import RedisServer
from support.render import TEMPLATE_ROOT, project_env, project_venv, render

BUILD = TEMPLATE_ROOT / "build"


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def check(port: int) -> None:
    """What the README promises: /health/, /ready/ and a styled login page."""
    health = request(port, "/health/")
    assert health.status == 200, health
    ready = request(port, "/ready/")
    assert ready.status == 200, ready.body
    login = request(port, "/admin/login/", host_header="localhost")
    assert login.status == 200, login.status
    css = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login.body.decode())
    assert css and request(port, css.group(1), host_header="localhost").status == 200, "admin CSS"
    print("Checked: /health/ 200, /ready/ 200, /admin/login/ 200 with its hashed CSS.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="probe the URLs, then stop")
    options = parser.parse_args()

    project, run = BUILD / "demo", BUILD / "demo-run"
    shutil.rmtree(project, ignore_errors=True)
    shutil.rmtree(run, ignore_errors=True)
    step(f"Rendering the default answers into {project.relative_to(TEMPLATE_ROOT)}/")
    render(project)
    step("Installing its pinned requirements into a virtualenv (cached after the first run)")
    venv = project_venv(project)

    redis = RedisServer(run / "redis").start()
    password = secrets.token_urlsafe(12)
    env = project_env(
        project,
        venv,
        DATABASE_URL=f"sqlite:///{run / 'demo.sqlite3'}",
        REDIS_URL=redis.url,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        CSRF_TRUSTED_ORIGINS="",
        SECURE_SSL_REDIRECT="0",
        DJANGO_SUPERUSER_PASSWORD=password,
    )
    gunicorn = None
    try:
        step("Collecting static files, migrating the SQLite database, creating the admin user")
        as_deployed(project, venv, env, admin_email="admin@localhost")
        step("Starting gunicorn with the rendered gunicorn.conf.py and production settings")
        gunicorn = GunicornServer(project, venv, env, run / "gunicorn.log").start()
        base = f"http://localhost:{gunicorn.port}"
        print(
            f"""
  Health:     {base}/health/
  Readiness:  {base}/ready/
  Admin:      {base}/admin/   (user: admin, password: {password})
  Logs:       {run.relative_to(TEMPLATE_ROOT)}/gunicorn.log
  The project itself: {project.relative_to(TEMPLATE_ROOT)}/
""",
            flush=True,
        )
        if options.check:
            check(gunicorn.port)
            return 0
        print("Serving; press Ctrl+C to stop.", flush=True)
        try:
            gunicorn.process.wait()
        except KeyboardInterrupt:
            pass
        return 0
    finally:
        if gunicorn:
            gunicorn.stop()
        redis.stop()
        step("Stopped.")


def interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, interrupt)  # stop cleanly on SIGTERM as on Ctrl+C
    sys.exit(main())
