"""Typed reading of settings from environment variables.

Every error names the variable and what it expects, so a misconfigured
deployment stops with a message that says what to fix.
"""

import os
from ipaddress import ip_network
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

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


def env_float(name: str, default: float, low: float = 0.0, high: float = 1.0) -> float:
    raw = env_str(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number from {low} to {high}; got {raw!r}") from None
    if not low <= value <= high:
        raise ImproperlyConfigured(f"{name} must be a number from {low} to {high}; got {raw!r}")
    return value


def env_choice(name: str, default: str, choices: list[str]) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    """A comma-separated list (or NAME_FILE's content, as env_str); stray
    spaces and empty items are dropped."""
    if name not in os.environ and f"{name}_FILE" not in os.environ:
        return list(default or [])
    return [item.strip() for item in env_str(name).split(",") if item.strip()]


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


def redis_database(url: str) -> int:
    """The logical database of redis://[:PASSWORD@]HOST:PORT/DB (0 when none is given)."""
    number = urlsplit(url).path.strip("/") or "0"
    if not number.isdigit():
        raise ImproperlyConfigured(f"A Redis URL must end with a database number, such as /0; got /{number}")
    return int(number)


def redis_cache_url(url: str) -> str:
    """The cache's place when REDIS_CACHE_URL is not set: the server of
    REDIS_URL, database 1 (0 when REDIS_URL uses 1), so that clearing the
    cache never deletes queued tasks."""
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss"}:
        raise ImproperlyConfigured(f"REDIS_URL is a {parts.scheme}:// URL; set REDIS_CACHE_URL for the cache as well")
    database = 0 if redis_database(url) == 1 else 1
    return urlunsplit(parts._replace(path=f"/{database}"))
