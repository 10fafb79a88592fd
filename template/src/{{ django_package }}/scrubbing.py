"""Secrets kept out of error reports: the Sentry events of error_tracking.py
and the e-mail of error_mail.py.

- Values under a key that names a secret (password, secret, token, api_key,
  cookie, session, csrf, authorization, dsn, database_url, redis_url...)
  are replaced, wherever they are: request headers and form fields, local
  variables of stack frames, task arguments, settings.
- The values of this process's secrets are cut out of every text, such as
  an exception message that quotes a connection URL: SECRET_KEY and its
  fallbacks, the passwords inside DATABASE_URL, REDIS_URL and every other
  URL of the environment, and every variable whose name says PASSWORD,
  SECRET, TOKEN, KEY or DSN.

A secret passed as a positional task argument, or typed by a user into a
field whose name does not say so, cannot be known here: keep secrets in
keyword arguments and fields with telling names.
"""

import os
import re
from collections.abc import Iterable, Mapping
from functools import cache
from urllib.parse import unquote, urlsplit

from django.views.debug import SafeExceptionReporterFilter

FILTERED = "[Filtered]"
# Keys whose values are secret.
SECRET_NAME = re.compile(
    r"passw(or)?d|pwd|^pass$|secret|token|api.?key|private.?key|authori[sz]ation|^auth$|cookie|session|csrf"
    r"|signature|credential|dsn|(database|redis|redis_cache|broker|cache|backend)_url",
    re.IGNORECASE,
)
# The same inside text: `'password': 'x'`, `token=x&`, `Authorization: Bearer x`
# (the repr of a dict too deep to send as one, a query string, a header).
SECRET_IN_TEXT = re.compile(
    r"""(?P<key>\b[\w-]*(?:passw(?:or)?d|pwd|secret|token|api.?key|private.?key|authori[sz]ation|cookie|session"""
    r"""|csrf|signature|credential|dsn|(?:database|redis|broker|cache|backend)_url)[\w-]*)"""
    r"""(?P<separator>['"]?\s*[:=]\s*)"""
    r"""(?:(?P<quote>['"])(?P<quoted>.*?)(?P=quote)|(?P<bare>(?:(?:Bearer|Basic|Token)\s+)?[^\s&,;'"}\]]+))""",
    re.IGNORECASE,
)
# Environment variables whose values are secret.
SECRET_VARIABLE = re.compile(r"PASSWORD|SECRET|TOKEN|KEY|DSN|CREDENTIAL", re.IGNORECASE)
# The password of scheme://USER:PASSWORD@HOST...
URL_PASSWORD = re.compile(r"(\w[\w+.-]*://[^:/@\s]*:)[^@\s/]+@")
# Shorter values are not cut out of text: they would garble it, and no
# generated secret is this short.
MIN_SECRET_LENGTH = 6


def url_secrets(value: str) -> set[str]:
    """The password of a URL such as postgres://USER:PASSWORD@HOST/NAME, or
    its user when it has no password (the key of a Sentry DSN)."""
    try:
        parts = urlsplit(value)
        password, username = parts.password, parts.username
    except ValueError:
        return set()
    if not parts.scheme or "@" not in parts.netloc:
        return set()
    secret = password if password is not None else username
    return {secret, unquote(secret)} if secret else set()


def secret_values(environ: Mapping[str, str], settings: Mapping) -> list[str]:
    """The secrets this process knows, longest first (so that a secret that
    contains another is cut out whole)."""
    found: set[str] = set()
    for name, value in environ.items():
        if SECRET_VARIABLE.search(name):
            found.add(value)
            found.update(item.strip() for item in value.split(","))  # SECRET_KEY_FALLBACKS
        found |= url_secrets(value)
    found.add(str(settings.get("SECRET_KEY") or ""))
    found.update(settings.get("SECRET_KEY_FALLBACKS") or [])
    for database in (settings.get("DATABASES") or {}).values():
        found.add(str(database.get("PASSWORD") or ""))
    for cache_settings in (settings.get("CACHES") or {}).values():
        found |= url_secrets(str(cache_settings.get("LOCATION") or ""))
    for name, value in settings.items():
        if isinstance(value, str) and name.isupper():
            if SECRET_VARIABLE.search(name):
                found.add(value)
            found |= url_secrets(value)
    return sorted((value for value in found if len(value) >= MIN_SECRET_LENGTH), key=len, reverse=True)


@cache
def known_secrets() -> tuple[str, ...]:
    """secret_values() of this process's environment and settings."""
    from django.conf import settings

    return tuple(secret_values(os.environ, {name: getattr(settings, name) for name in dir(settings) if name.isupper()}))


def filtered_in_text(match: re.Match) -> str:
    quote = match["quote"] or ""
    return f"{match['key']}{match['separator']}{quote}{FILTERED}{quote}"


def scrub(data, secrets: Iterable[str]):
    """data with every secret value, and every value under a secret key,
    replaced by [Filtered]."""
    if isinstance(data, str):
        for secret in secrets:
            if secret in data:
                data = data.replace(secret, FILTERED)
        return SECRET_IN_TEXT.sub(filtered_in_text, data)
    if isinstance(data, Mapping):
        return {
            key: FILTERED if value and isinstance(key, str) and SECRET_NAME.search(key) else scrub(value, secrets)
            for key, value in data.items()
        }
    if isinstance(data, list | tuple):
        # Headers may come as [name, value] pairs.
        if len(data) == 2 and isinstance(data[0], str) and SECRET_NAME.search(data[0]) and data[1]:
            return [data[0], FILTERED]
        return [scrub(item, secrets) for item in data]
    return data


class SecretsReporterFilter(SafeExceptionReporterFilter):
    """Django's error reports (the e-mail to ADMINS) hide settings whose
    names say API, AUTH, TOKEN, KEY, SECRET, PASS or SIGNATURE. This also
    hides SENTRY_DSN, the password inside every URL (DATABASE_URL,
    REDIS_URL, the cache's LOCATION...) and form fields named like secrets,
    without @sensitive_post_parameters."""

    hidden_settings = re.compile(SafeExceptionReporterFilter.hidden_settings.pattern + "|DSN", flags=re.IGNORECASE)

    def cleanse_setting(self, key, value):
        value = super().cleanse_setting(key, value)
        if isinstance(value, str):
            # str(): a lazy setting (django-axes has some) passes for a str
            # but is no string to re.
            return URL_PASSWORD.sub(rf"\g<1>{self.cleansed_substitute}@", str(value))
        return value

    def get_post_parameters(self, request):
        parameters = super().get_post_parameters(request)
        if not self.is_active(request) or not parameters:
            return parameters
        cleansed = parameters.copy()
        for name in parameters:
            if SECRET_NAME.search(name):
                cleansed[name] = self.cleansed_substitute
        return cleansed
