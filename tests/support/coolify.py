"""What Coolify does with a compose file before it runs it."""

import secrets
from pathlib import Path

import yaml

from .compose import compose_file

# Keys Coolify's "Docker Compose" build pack understands and Compose does
# not; Coolify removes them before it runs `docker compose config`.
COOLIFY_KEYS = ("exclude_from_hc",)


def injected_variables(domain: str = "obcms.gov.ph") -> dict[str, str]:
    """The magic variables Coolify generates for our compose file."""
    return {
        "SERVICE_USER_POSTGRES": secrets.token_hex(8),
        "SERVICE_PASSWORD_POSTGRES": secrets.token_urlsafe(24),
        "SERVICE_PASSWORD_POSTGRESAPP": secrets.token_urlsafe(24),
        "SERVICE_PASSWORD_REDIS": secrets.token_urlsafe(24),
        "SERVICE_BASE64_64_SECRETKEY": secrets.token_hex(32),
        "SERVICE_PASSWORD_64_HEALTHCHECK": secrets.token_urlsafe(48),
        "SERVICE_PASSWORD_64_METRICS": secrets.token_urlsafe(48),
        "SERVICE_USER_FLOWER": secrets.token_hex(8),
        "SERVICE_PASSWORD_FLOWER": secrets.token_urlsafe(24),
        "SERVICE_PASSWORD_64_RESTIC": secrets.token_urlsafe(48),
        "SERVICE_FQDN_WEB": domain,
        "SERVICE_URL_WEB": f"https://{domain}",
    }


def prepare_deployment(project: Path, workdir: Path, owner_values: dict[str, str] | None = None) -> dict[str, str]:
    """Lay out the compose file as Coolify would: its own keys stripped, and a
    .env of the variables it injects plus those the owner set in its UI.
    Returns the injected ones."""
    workdir.mkdir(parents=True, exist_ok=True)
    compose = compose_file(project)
    for service in compose["services"].values():
        for key in COOLIFY_KEYS:
            service.pop(key, None)
    (workdir / "docker-compose.prod.yml").write_text(yaml.safe_dump(compose, sort_keys=False))
    injected = injected_variables()
    values = {**injected, **(owner_values or {})}
    (workdir / ".env").write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    return injected
