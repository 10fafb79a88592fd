from io import StringIO

from django.core.management import call_command


def known_migrations() -> list[str]:
    out = StringIO()
    call_command("known_migrations", stdout=out)
    return out.getvalue().split()


def test_every_migration_on_disk_is_listed_once_in_order_without_a_database():
    names = known_migrations()
    assert {"auth.0001_initial", "contenttypes.0002_remove_content_type_name", "sessions.0001_initial"} <= set(names)
    assert names == sorted(set(names))
