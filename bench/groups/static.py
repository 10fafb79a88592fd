"""A hashed static file, brotli: nginx from disk (the limit) against the
rendered nginx, which keeps WhiteNoise's answers (the edge), the same conf
without that copy (every request to gunicorn, as before), and WhiteNoise in
gunicorn on its own."""

import json

from ..measure import measure
from ..report import Report
from ..servers import Stack

STATIC_LOCATION = "    location /static/ {"


def from_disk(brotli_file, static_path: str):
    """The rendered conf with the file sent from disk by nginx, with
    WhiteNoise's headers, in front of the /static/ location."""

    def edit(text: str) -> str:
        location = f"""    location = {static_path} {{
        alias {brotli_file};
        types {{ text/css css; }}
        add_header Content-Encoding br;
        add_header Vary Accept-Encoding;
        add_header Cache-Control "max-age=315360000, public, immutable";
    }}

"""
        assert STATIC_LOCATION in text, "the rendered nginx conf has no /static/ location"
        return text.replace(STATIC_LOCATION, location + STATIC_LOCATION, 1)

    return edit


def without_copy(text: str) -> str:
    assert "proxy_cache static;" in text, "the rendered nginx conf keeps no static files"
    return text.replace("proxy_cache static;", "proxy_cache off;")


def group_static(stack: Stack, report: Report, args) -> None:
    project, venv = stack.project("default", {})
    manifest = json.loads((project / "src" / "staticfiles" / "staticfiles.json").read_text())
    static_path = "/static/" + manifest["paths"]["admin/css/base.css"]
    brotli_file = project / "src" / "staticfiles" / (static_path.removeprefix("/static/") + ".br")
    brotli = {"Accept-Encoding": "br"}
    whitenoise = stack.gunicorn("whitenoise", project, venv, static_path).start()
    servers = [
        whitenoise,
        stack.nginx_rendered("edge", project, whitenoise, static_path).start(),
        stack.nginx_rendered("disk", project, whitenoise, static_path, from_disk(brotli_file, static_path)).start(),
        stack.nginx_rendered("proxied", project, whitenoise, static_path, without_copy).start(),
    ]
    bodies = set()
    for server in servers:
        server.headers.update(brotli)
        response = server.get()
        assert response.status == 200 and response.header("content-encoding") == "br", (server.name, response)
        assert "immutable" in response.header("cache-control"), (server.name, response)
        bodies.add(response.body)
    assert len(bodies) == 1, "every variant must send the same bytes"
    results = measure(servers, args.rounds, args.seconds)
    stack.stop_servers()
    size = len(bodies.pop())
    report.ratio_table(
        f"hashed static file, brotli, HTTPS ({size} bytes)",
        results,
        [
            ("nginx keeping WhiteNoise's answers / nginx from disk", "edge", "disk", ">= 0.8"),
            ("nginx -> gunicorn every time / nginx from disk", "proxied", "disk", ""),
            ("nginx keeping WhiteNoise's answers / nginx -> gunicorn every time", "edge", "proxied", ""),
            ("WhiteNoise in gunicorn, plain HTTP / nginx from disk", "whitenoise", "disk", ""),
        ],
    )
    report.context_table(
        "hashed static file",
        results,
        {
            "edge": "rendered nginx, HTTPS: /static/ kept from WhiteNoise's answers",
            "disk": "rendered nginx, HTTPS: the file from disk (the limit)",
            "proxied": "rendered nginx, HTTPS: /static/ to gunicorn every time (before)",
            "whitenoise": "WhiteNoise in gunicorn, plain HTTP, rendered gunicorn.conf.py",
        },
    )
