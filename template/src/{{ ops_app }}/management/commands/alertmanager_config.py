"""`manage.py alertmanager_config OUTPUT`: Alertmanager's configuration, with
the e-mail settings this application sends its own mail with.

deploy/monitoring/alertmanager.yml is a template: its $placeholders are
filled in here from EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER,
EMAIL_HOST_PASSWORD, EMAIL_USE_TLS, DEFAULT_FROM_EMAIL and ADMINS, so alerts
go out through the same SMTP server, to the same people, as error reports.
OUTPUT holds the SMTP password: it is written for Alertmanager's own user to
read, in a volume that only Alertmanager mounts.
"""

import json
import os
import tempfile
from pathlib import Path
from string import Template

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

DEFAULT_TEMPLATE = Path(settings.BASE_DIR).parent / "deploy" / "monitoring" / "alertmanager.yml"


def template_values() -> dict[str, str]:
    """Each value as a JSON string, which YAML reads as the same string."""
    admins = [address for _, address in settings.ADMINS]
    if not admins:
        raise CommandError("ADMINS is empty: alerts would go to nobody. Set ADMINS (comma-separated addresses).")
    if settings.EMAIL_HOST in ("", "localhost", "127.0.0.1"):
        raise CommandError(
            f"EMAIL_HOST is {settings.EMAIL_HOST!r}: Alertmanager runs in its own container and would "
            "mail itself. Set EMAIL_HOST to your SMTP server."
        )
    values = {
        "smarthost": f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}",
        "sender": settings.DEFAULT_FROM_EMAIL,
        "username": settings.EMAIL_HOST_USER,
        "password": settings.EMAIL_HOST_PASSWORD,
        "require_tls": settings.EMAIL_USE_TLS,
        "admins": ", ".join(admins),
    }
    return {name: json.dumps(value) for name, value in values.items()}


class Command(BaseCommand):
    help = "Write Alertmanager's configuration with this application's e-mail settings."

    def add_arguments(self, parser) -> None:
        parser.add_argument("output", type=Path, help="File to write (replaced atomically).")
        parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE, help="Default: %(default)s.")

    def handle(self, *args, **options) -> None:
        values = template_values()
        try:
            text = Template(options["template"].read_text()).substitute(values)
        except KeyError as error:
            raise CommandError(f"{options['template']}: ${error.args[0]} is not one of ${', $'.join(values)}") from None
        except ValueError as error:
            raise CommandError(f"{options['template']}: {error} (write $$ for a dollar sign)") from None
        output: Path = options["output"]
        # Written next to the target, then renamed: Alertmanager never reads half a file.
        descriptor, temporary = tempfile.mkstemp(dir=output.parent, prefix=".alertmanager-")
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
        # Alertmanager runs as another user than this command.
        os.chmod(temporary, 0o644)
        os.replace(temporary, output)
        self.stdout.write(f"Wrote {output}: alerts go to {json.loads(values['admins'])}.")
