"""What Coolify does with a compose file before it runs it."""

import re
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


# Coolify (bootstrap/helpers/docker.php, fqdnLabelsForTraefik) adds to the
# router it makes for a service's domain the middlewares that the service's
# own labels define (traefik.http.middlewares.<name>.*) or name
# (coolify.traefik.middlewares=<a>,<b>), after its own gzip. This is that
# rule, for the tests that stand in for Coolify.
MIDDLEWARE_DEFINITION = re.compile(r"^traefik\.http\.middlewares\.(.*?)(\.|$)")


def router_middlewares(labels: dict[str, str]) -> list[str]:
    names: list[str] = []
    for key, value in labels.items():
        if match := MIDDLEWARE_DEFINITION.match(key):
            names.append(match.group(1))
        elif key == "coolify.traefik.middlewares":
            names += value.split(",")
    return list(dict.fromkeys(names))


def traefik_labels(service: str, domain: str, port: int, labels: dict[str, str], uuid: str = "testuuid") -> dict:
    """The labels Coolify adds to a service with an https domain, as it
    writes them (its own middlewares first, then the service's)."""
    router = f"https-0-{uuid}-{service}"
    return {
        "traefik.enable": "true",
        "traefik.http.middlewares.gzip.compress": "true",
        f"traefik.http.routers.{router}.rule": f"Host(`{domain}`) && PathPrefix(`/`)",
        f"traefik.http.routers.{router}.entryPoints": "https",
        f"traefik.http.routers.{router}.service": router,
        f"traefik.http.services.{router}.loadbalancer.server.port": str(port),
        f"traefik.http.routers.{router}.middlewares": ",".join(["gzip", *router_middlewares(labels)]),
        f"traefik.http.routers.{router}.tls": "true",
    }
