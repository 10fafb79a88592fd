"""`manage.py known_migrations`: every migration this code knows, one
`app.name` a line: those on disk, and those that a squashed migration
replaces (a database that applied them is one the code can migrate).

scripts/restore.sh compares a backup's django_migrations with this list and
refuses a backup made by a newer release. It needs no database.
"""

from django.core.management.base import BaseCommand
from django.db.migrations.loader import MigrationLoader


class Command(BaseCommand):
    help = "List every migration this code knows (app.name), without a database."
    requires_system_checks = []

    def handle(self, *args, **options) -> None:
        loader = MigrationLoader(None, ignore_no_migrations=True)
        known = set(loader.disk_migrations)
        for migration in loader.disk_migrations.values():
            known.update(migration.replaces)
        for app, name in sorted(known):
            self.stdout.write(f"{app}.{name}")
