"""The security headers, graded by the MDN HTTP Observatory, and the Django
admin working under the Content Security Policy in headless Chromium.

The Observatory scans a host name on ports 80 and 443, so nginx (the
rendered conf, a self-signed certificate) runs inside a network namespace of
the test's own, where it may take those ports and where /etc/hosts sends the
site's names to its loopback. gunicorn stays outside, on a Unix socket that
nginx reaches through the file system. The test copy of the project adds a
front page (/ redirects to the admin, as the real system has a page there:
the scanner refuses a 404)."""

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest

from support.binaries import require
from support.facts import computed_values
from support.gunicorn import GunicornServer
from support.netns import NetworkNamespace
from support.nginx import NginxServer, make_certificate
from support.npm import npm_tools, observatory
from support.project import as_deployed, shell
from support.render import project_env, project_venv, render
from support.testonly import add_test_urls

DOMAIN = "obcms.gov.ph"
NAMES = [DOMAIN, f"www.{DOMAIN}"]
ADMIN_PASSWORD = "a-long-test-password-for-the-admin"


@dataclass
class NamespacedStack:
    namespace: NetworkNamespace
    ca: Path
    tools: Path
    access_log: Path
    project: Path
    venv: Path
    env: dict


def browser_errors_in_access_log(log: Path) -> list[str]:
    """ "STATUS PATH" of Chromium's requests that failed, from nginx's log."""
    found = []
    for line in log.read_text().splitlines():
        request, status = line.split('"')[1], line.split('"')[2].split()[0]
        if "HeadlessChrome" in line and int(status) >= 400:
            found.append(f"{status} {request.split()[1]}")
    return found


@pytest.fixture(scope="module")
def stack(default_project, venv, postgres, redis, tmp_path_factory):
    tools = npm_tools()
    base = tmp_path_factory.mktemp("headers")
    project = base / "project"
    shutil.copytree(default_project, project)
    add_test_urls(project)
    env = project_env(
        project,
        venv,
        DATABASE_URL=postgres.create_database("headers"),
        REDIS_URL=redis.url,
        DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
        # HSTS as the runbook's "HSTS" step raises it once a certificate
        # renewal has worked (a new site's hour would cost 10 points).
        SECURE_HSTS_SECONDS=str(computed_values()["hsts_seconds"]),
    )
    as_deployed(project, venv, env, admin_email=f"admin@{DOMAIN}")
    # A directory nginx's unprivileged workers may enter (pytest's are root-only).
    socket_dir = Path(tempfile.mkdtemp(prefix="obcms-test-gunicorn-"))
    socket_dir.chmod(0o755)
    socket = socket_dir / "gunicorn.sock"
    gunicorn = GunicornServer(project, venv, env, base / "gunicorn.log", unix_socket=socket).start()
    ca = make_certificate(base / "certs", NAMES)
    namespace = NetworkNamespace(base / "netns", NAMES).start()
    nginx = NginxServer(
        base / "nginx",
        project / "deploy/nginx/obcms.conf",
        f"unix:{socket}",
        base / "certs",
        project / "src/media",
        namespace=namespace,
    )
    try:
        nginx.start()
        yield NamespacedStack(namespace, ca, tools, base / "nginx" / "access.log", project, venv, env)
    finally:
        nginx.stop()
        namespace.stop()
        gunicorn.stop()
        shutil.rmtree(socket_dir, ignore_errors=True)


def test_the_observatory_grades_the_site_a_plus(stack):
    scanner = observatory(stack.tools) / "src" / "scan.js"
    result = stack.namespace.run(
        [require("node"), str(scanner), DOMAIN],
        timeout=120,
        env={"PATH": os.environ["PATH"], "HOME": str(stack.tools), "NODE_EXTRA_CA_CERTS": str(stack.ca)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert "error" not in report, report
    print(f"\nObservatory: score {report['scan']['score']}, grade {report['scan']['grade']}")
    for name, test in sorted(report["tests"].items()):
        print(f"  {name}: {test['result']} ({test['scoreModifier']:+d})")
    penalties = {name: test["result"] for name, test in report["tests"].items() if test["scoreModifier"] < 0}
    assert penalties == {}
    assert report["scan"]["grade"] == "A+", report["scan"]


def in_chromium(stack, script: str, *args: str) -> dict:
    """Runs tests/npm/<script> as the signed-in admin and returns its report."""
    result = stack.namespace.run(
        [
            require("node"),
            str(Path(__file__).parent / "npm" / script),
            f"https://{DOMAIN}",
            "admin",
            ADMIN_PASSWORD,
            *args,
        ],
        timeout=180,
        env={
            "PATH": os.environ["PATH"],
            "HOME": str(stack.tools),
            "NODE_PATH": str(stack.tools / "node_modules"),
            "CHROMIUM": require("chromium"),
        },
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_admin_works_under_the_policy_in_chromium(stack):
    report = in_chromium(stack, "admin_csp.cjs")
    print("\n" + json.dumps(report["pages"], indent=2))
    assert report["violations"] == []
    assert report["failed"] == []
    # The skeleton has no favicon, which the browser asks for by itself (not
    # seen by the page): nginx's log shows it, and the console reports it.
    failed = browser_errors_in_access_log(stack.access_log)
    assert failed == ["404 /favicon.ico"]
    missing_favicon = "Failed to load resource: the server responded with a status of 404 ()"
    problems = [message for message in report["console"] if message["type"] in ("error", "warning", "pageerror")]
    assert [message["text"] for message in problems] in ([], [missing_favicon])
    pages = report["pages"]
    assert pages["login"]["url"].startswith(f"https://{DOMAIN}/admin/login/")
    assert pages["index"]["title"].startswith("Site administration")
    assert pages["changelist"]["rows"] == 1
    assert pages["changelist"]["counter"] == "1 of 1 selected", "the admin's scripts run"
    assert pages["changelist"]["header"] not in ("", "rgba(0, 0, 0, 0)"), "the admin's stylesheets apply"
    assert "/admin/auth/user/1/change/" in pages["change"]["url"]
    # The control: an inline script is blocked and reported.
    assert not report["inlineScriptRan"]
    assert [violation["directive"] for violation in report["control"]["violations"]] == ["script-src-elem"]
    assert any("Content Security Policy" in message["text"] for message in report["control"]["console"])


# If one of these ever runs, it says so on the browser's console: a page, a
# drawing, a script, an image that is also a page, and an image that is also
# a script (GIF89a=1; is valid JavaScript).
HOSTILE_UPLOADS = {
    "evil.html": b'<script>console.log("UPLOAD-SCRIPT-RAN html")</script>',
    "evil.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>console.log("UPLOAD-SCRIPT-RAN svg")</script></svg>',
    "evil.js": b'console.log("UPLOAD-SCRIPT-RAN js");',
    "evil.png": b'\x89PNG\r\n\x1a\n<html><script>console.log("UPLOAD-SCRIPT-RAN png")</script></html>',
    "evil.gif": b'GIF89a=1;console.log("UPLOAD-SCRIPT-RAN gif");',
}


def test_uploads_never_run_in_chromium(stack):
    """Django sends the files itself here (no X-Accel prefix, as on Coolify
    and in development). A signed-in admin opens each upload, and a page of
    the site loads each as a script: none runs. The control script does."""
    code = f"""
import json
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
files = {HOSTILE_UPLOADS!r}
print(json.dumps([default_storage.save("uploads/" + name, ContentFile(body)) for name, body in files.items()]))
"""
    urls = [f"/media/{name}" for name in shell(stack.project, stack.venv, stack.env, code).data]
    scripts_page = "/test/scripts/?" + urlencode([("src", url) for url in urls] + [("src", "/test/control.js")])
    report = in_chromium(stack, "uploads_run.cjs", scripts_page, *urls)
    print("\n" + json.dumps(report, indent=2))
    assert report["ran"] == ["UPLOAD-SCRIPT-RAN control"]
    opened = dict(zip(HOSTILE_UPLOADS, report["opened"].values(), strict=True))
    for name in ("evil.html", "evil.svg", "evil.js"):
        assert opened[name] == {"shown": None, "downloaded": True}, name
    assert opened["evil.png"]["shown"] == {"status": 200, "type": "image/png"}
    assert opened["evil.gif"]["shown"] == {"status": 200, "type": "image/gif"}
    refused = [text for text in report["console"] if "Refused to execute script" in text]
    assert len(refused) == len(HOSTILE_UPLOADS), report["console"]


@pytest.mark.parametrize(
    ("answers", "env", "origin"),
    [
        (
            {"s3_provider": "aws"},
            {"AWS_S3_REGION_NAME": "ap-southeast-1"},
            "https://obcms-media.s3.ap-southeast-1.amazonaws.com",
        ),
        (
            {"s3_provider": "digitalocean"},
            {"AWS_S3_REGION_NAME": "sgp1"},
            "https://obcms-media.sgp1.digitaloceanspaces.com",
        ),
        ({"s3_provider": "minio"}, {"AWS_S3_ENDPOINT_URL": "https://files.obcms.gov.ph"}, "https://files.obcms.gov.ph"),
    ],
)
def test_with_s3_media_the_policy_allows_the_bucket(answers, env, origin, tmp_path, postgres, redis):
    """/media/<name> redirects to a signed URL of the bucket: pages may show
    its images and play its audio and video, and load nothing else from it."""
    project = render(tmp_path / "project", {"media_storage": "s3", **answers})
    venv = project_venv(project)
    settings_env = project_env(
        project,
        venv,
        DATABASE_URL=postgres.create_database(f"csp_{answers['s3_provider']}"),
        REDIS_URL=redis.url,
        AWS_ACCESS_KEY_ID="test-access-key",
        AWS_SECRET_ACCESS_KEY="test-secret-key",
        **env,
    )
    code = (
        "import json; from django.conf import settings; from django.core.files.storage import default_storage; "
        "print(json.dumps([settings.CONTENT_SECURITY_POLICY, default_storage.url('photo.jpg')]))"
    )
    policy, signed_url = shell(project, venv, settings_env, code).data
    assert signed_url.startswith(origin + "/")
    assert policy["img-src"] == ["'self'", origin]
    assert policy["media-src"] == ["'self'", origin]
    assert policy["script-src"] == ["'self'"] and policy["connect-src"] == ["'self'"]
