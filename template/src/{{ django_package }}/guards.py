"""Refuse to start production with a missing or unsafe setting.

settings/production.py calls refuse_unsafe_settings() on its final values, so
gunicorn, Celery and every manage.py command stop before serving anything,
with one message that names each setting to fix.
"""

from django.core.exceptions import ImproperlyConfigured

SECRET_KEY_MIN_LENGTH = 50

# Values seen in tutorials and .env examples; a key that contains one of them
# was typed by a person, not generated.
PLACEHOLDER_KEY_PARTS = ("django-insecure", "change-me", "changeme", "your-secret", "secret-key")

# django-storages' class and the template's subclass of it.
S3_BACKEND_NAMES = ("S3Storage", "S3MediaStorage")
# What uploads to a bucket cannot work without (media_storage: s3).
S3_REQUIRED = {
    "AWS_STORAGE_BUCKET_NAME": "the name of the bucket that holds uploads",
    "AWS_ACCESS_KEY_ID": "the access key of the application's storage user",
    "AWS_SECRET_ACCESS_KEY": "the secret key of the application's storage user",
}

REFUSED_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend": "prints mail to the log",
    "django.core.mail.backends.locmem.EmailBackend": "keeps mail in memory",
    "django.core.mail.backends.dummy.EmailBackend": "drops mail",
    "django.core.mail.backends.filebased.EmailBackend": "writes mail to files",
}


def secret_key_problem(key: str) -> str | None:
    if not key:
        return "SECRET_KEY is not set. Generate one: python -c 'import secrets; print(secrets.token_urlsafe(64))'"
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return f"SECRET_KEY is {len(key)} characters long; use at least {SECRET_KEY_MIN_LENGTH} random characters"
    lowered = key.lower()
    if any(part in lowered for part in PLACEHOLDER_KEY_PARTS) or len(set(key)) < 5:
        return "SECRET_KEY is an insecure default or placeholder; generate a random one"
    return None


def s3_problems(settings: dict) -> list[str]:
    problems = [
        f"{name} is not set; media files are kept in S3, which needs {what} (see docs/s3.md)"
        for name, what in S3_REQUIRED.items()
        if not settings.get(name)
    ]
    endpoint = settings.get("AWS_S3_ENDPOINT_URL") or ""
    if not endpoint:
        # With Amazon S3 and DigitalOcean Spaces the endpoint follows from the region.
        if settings.get("AWS_S3_REGION_NAME"):
            problems.append("AWS_S3_ENDPOINT_URL is not set; give the server's URL, e.g. https://minio.example.org")
        else:
            problems.append("AWS_S3_REGION_NAME is not set; give the bucket's region, e.g. ap-southeast-1 or sgp1")
    elif not endpoint.startswith(("https://", "http://")):
        problems.append(f"AWS_S3_ENDPOINT_URL {endpoint!r} must be a URL starting with https://")
    return problems


def find_problems(settings: dict) -> list[str]:
    problems = []
    if settings.get("DEBUG"):
        problems.append("DEBUG is on; production must never run with DEBUG")
    if problem := secret_key_problem(settings.get("SECRET_KEY", "")):
        problems.append(problem)
    for number, key in enumerate(settings.get("SECRET_KEY_FALLBACKS", []), 1):
        if key == settings.get("SECRET_KEY"):
            problems.append(f"SECRET_KEY_FALLBACKS entry {number} is SECRET_KEY itself; list only retired keys")
        elif problem := secret_key_problem(key):
            problems.append(f"SECRET_KEY_FALLBACKS entry {number}: {problem.removeprefix('SECRET_KEY ')}")
    hosts = settings.get("ALLOWED_HOSTS", [])
    if not hosts:
        problems.append("ALLOWED_HOSTS is empty; list the site's host names, comma-separated")
    elif "*" in hosts:
        problems.append("ALLOWED_HOSTS contains '*'; list the site's host names instead")
    for origin in settings.get("CSRF_TRUSTED_ORIGINS", []):
        if not origin.startswith("https://"):
            problems.append(f"CSRF_TRUSTED_ORIGINS entry {origin!r} must start with https://")
    backend = settings.get("EMAIL_BACKEND", "")
    if backend in REFUSED_EMAIL_BACKENDS:
        problems.append(
            f"EMAIL_BACKEND is {backend}, which {REFUSED_EMAIL_BACKENDS[backend]}; "
            "use the SMTP backend (django.core.mail.backends.smtp.EmailBackend)"
        )
    if not settings.get("DATABASES", {}).get("default"):
        problems.append("DATABASE_URL is not set; give postgres://USER:PASSWORD@HOST:PORT/NAME")
    if not settings.get("REDIS_URL"):
        problems.append("REDIS_URL is not set; give redis://:PASSWORD@HOST:6379/0")
    storage = settings.get("STORAGES", {}).get("default", {}).get("BACKEND", "")
    if storage.rsplit(".", 1)[-1] in S3_BACKEND_NAMES:
        problems += s3_problems(settings)
    return problems


def refuse_unsafe_settings(settings: dict) -> None:
    problems = find_problems(settings)
    if problems:
        raise ImproperlyConfigured(
            "Refusing to start with these production settings:\n" + "\n".join(f"  - {problem}" for problem in problems)
        )
