"""Typed reading of settings from environment variables.

Every error names the variable and what it expects, so a misconfigured
deployment stops with a message that says what to fix.
"""

import os
from ipaddress import ip_network
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


def env_str(name: str, default: str = "") -> str:
    """The variable's value; or, where NAME_FILE names a file instead (a
    Docker or Kubernetes secret mounted as a file), that file's content."""
    path = os.environ.get(f"{name}_FILE")
    if path is None:
        return os.environ.get(name, default).strip()
    if name in os.environ:
        raise ImproperlyConfigured(f"set {name} or {name}_FILE, not both")
    try:
        return Path(path).read_text().strip()
    except OSError as error:
        raise ImproperlyConfigured(f"{name}_FILE names a file that cannot be read: {error}") from None


def env_bool(name: str, default: bool) -> bool:
    raw = env_str(name).lower()
    if not raw:
        return default
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be 1/0, true/false, yes/no or on/off; got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = env_str(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number; got {raw!r}") from None


def env_choice(name: str, default: str, choices: list[str]) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    """A comma-separated list; stray spaces and empty items are dropped."""
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_networks(name: str, default: list[str] | None = None) -> list[str]:
    """A comma-separated list of networks in CIDR notation (10.0.0.0/8, 2400:cb00::/32)."""
    networks = env_list(name, default)
    for network in networks:
        try:
            ip_network(network)
        except ValueError as error:
            raise ImproperlyConfigured(f"{name} must list networks such as 10.0.0.0/8; {error}") from None
    return networks


def database_from_url(url: str, name: str = "DATABASE_URL") -> dict:
    """A DATABASES entry from postgres://USER:PASSWORD@HOST:PORT/NAME?OPTION=VALUE.

    sqlite:///relative/path or sqlite:////absolute/path is accepted for demos.
    """
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": parts.path[1:]}
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(f"{name} must start with postgres://; got {parts.scheme or 'no'} scheme")
    try:
        port = parts.port or 5432
    except ValueError:
        raise ImproperlyConfigured(f"{name} has an invalid port") from None
    database = unquote(parts.path.lstrip("/"))
    if not parts.hostname or not database:
        raise ImproperlyConfigured(f"{name} must name a host and a database: postgres://USER:PASSWORD@HOST:PORT/NAME")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": database,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname,
        "PORT": port,
        "OPTIONS": dict(parse_qsl(parts.query)),
    }
