"""What the benchmark adds to its private copy of a render: a page that
reads 20 rows through the ORM and renders them with a Django template,
a raw WSGI app (the limit), Django without the WSGI wrapper, and variants
of the rendered gunicorn.conf.py."""

from pathlib import Path

PAGE_ROWS = 20

# The limit: a WSGI app that does nothing, with /health/'s body.
RAW_APP = """def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "43")])
    return [b'{"status": "healthy", "version": "unknown"}']
"""

PAGE_MODELS = """from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=100)
    quantity = models.IntegerField()
    created = models.DateTimeField(auto_now_add=True)
"""

PAGE_VIEWS = f"""from django.shortcuts import render

from .models import Item


def items(request):
    return render(request, "benchpage/items.html", {{"items": Item.objects.order_by("id")[:{PAGE_ROWS}]}})
"""

PAGE_TEMPLATE = """<!doctype html>
<title>Items</title>
<table>
{% for item in items %}<tr><td>{{ item.id }}</td><td>{{ item.name }}</td><td>{{ item.quantity }}</td>\
<td>{{ item.created|date:"Y-m-d H:i" }}</td></tr>
{% endfor %}</table>
"""

PAGE_SEED = f"""from benchpage.models import Item
Item.objects.all().delete()
Item.objects.bulk_create(Item(name=f"item {{n}}", quantity=n) for n in range({PAGE_ROWS}))
"""


def add_page(project: Path) -> None:
    """The app `benchpage` (its migration is made with makemigrations) at
    /bench/items/, and the WSGI modules bench_raw and bench_django in src/."""
    app = project / "src" / "benchpage"
    (app / "templates" / "benchpage").mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "models.py").write_text(PAGE_MODELS)
    (app / "views.py").write_text(PAGE_VIEWS)
    (app / "templates" / "benchpage" / "items.html").write_text(PAGE_TEMPLATE)
    package = next(path.parent for path in (project / "src").glob("*/urls.py"))
    with (package / "urls.py").open("a") as urls:
        urls.write(
            '\nfrom benchpage.views import items  # noqa: E402\n\nurlpatterns += [path("bench/items/", items)]\n'
        )
    with (package / "settings" / "overrides.py").open("a") as overrides:
        overrides.write('\nfrom .base import INSTALLED_APPS\n\nINSTALLED_APPS = [*INSTALLED_APPS, "benchpage"]\n')
    (project / "src" / "bench_raw.py").write_text(RAW_APP)
    # Django's own request cycle, without the WSGI wrapper that answers /health/ first.
    (project / "src" / "bench_django.py").write_text(
        f"from {package.name}.wsgi import application as wrapped\n\napplication = getattr(wrapped, 'app', wrapped)\n"
    )


def gunicorn_conf(project: Path, name: str, extra: str) -> str:
    """The rendered gunicorn.conf.py with lines appended (they win)."""
    path = project / f"bench-{name}.conf.py"
    path.write_text((project / "gunicorn.conf.py").read_text() + "\n# benchmark variant\n" + extra + "\n")
    return path.name
