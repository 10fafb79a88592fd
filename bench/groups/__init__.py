"""The benchmark groups, in the order they run: each measures its variants
side by side and adds its tables to the report."""

from .db import group_db
from .health import group_health
from .memory import group_memory
from .metrics import group_metrics
from .page import group_page
from .render import group_render
from .static import group_static
from .workers import group_workers

GROUPS = {
    "render": group_render,
    "health": group_health,
    "static": group_static,
    "db": group_db,
    "page": group_page,
    "metrics": group_metrics,
    "workers": group_workers,
    "memory": group_memory,
}
