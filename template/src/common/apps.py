from django.apps import AppConfig


class CommonConfig(AppConfig):
    """Deployment plumbing shared by the project: probes, proxy handling,
    housekeeping tasks and system checks."""

    name = "common"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
