"""A hashed static file, brotli: WhiteNoise in gunicorn against nginx
sending the same bytes from disk."""

import json

from ..measure import measure
from ..report import Report
from ..servers import Stack


def group_static(stack: Stack, report: Report, args) -> None:
    project, venv = stack.project("default", {})
    manifest = json.loads((project / "src" / "staticfiles" / "staticfiles.json").read_text())
    static_path = "/static/" + manifest["paths"]["admin/css/base.css"]
    brotli = {"Accept-Encoding": "br"}
    servers = [
        stack.gunicorn("whitenoise", project, venv, static_path).start(),
        stack.nginx_static("nginx", project, static_path).start(),
    ]
    bodies = set()
    for server in servers:
        server.headers.update(brotli)
        response = server.get()
        assert response.status == 200 and response.header("content-encoding") == "br", (server.name, response)
        bodies.add(response.body)
    assert len(bodies) == 1, "WhiteNoise and nginx must send the same bytes"
    results = measure(servers, args.rounds, args.seconds)
    stack.stop_servers()
    size = len(bodies.pop())
    report.ratio_table(
        f"hashed static file, brotli ({size} bytes)",
        results,
        [
            ("WhiteNoise in gunicorn / nginx from disk", "whitenoise", "nginx", ""),
        ],
    )
    report.context_table(
        "hashed static file",
        results,
        {
            "whitenoise": "WhiteNoise, rendered gunicorn.conf.py",
            "nginx": "nginx from disk (worker_processes auto)",
        },
    )
