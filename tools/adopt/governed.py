"""Settings whose value the template decides, and why: the table shows the
owner's value beside the template's, and adoption does not carry it."""

GOVERNED = {
    "DEBUG": "off in production, on in development",
    "SECRET_KEY": "from SECRET_KEY in the environment",
    "ALLOWED_HOSTS": "from ALLOWED_HOSTS in the environment",
    "CSRF_TRUSTED_ORIGINS": "from CSRF_TRUSTED_ORIGINS in the environment",
    "BASE_DIR": "src/, where manage.py is",
    "ROOT_URLCONF": "the package's urls.py",
    "WSGI_APPLICATION": "the package's wsgi.py (it answers /health/ first)",
    "ASGI_APPLICATION": "the package's asgi.py",
    "STATIC_URL": "served by WhiteNoise",
    "STATIC_ROOT": "collected into the image",
    "STATICFILES_STORAGE": "STORAGES (WhiteNoise, hashed and compressed)",
    "DEFAULT_FILE_STORAGE": "STORAGES (the media volume or S3)",
    "STORAGES": "WhiteNoise for static files; the media volume or S3 for uploads",
    "MEDIA_URL": "served by the template's protected media view",
    "MEDIA_ROOT": "the media volume (MEDIA_ROOT in the environment)",
    "EMAIL_BACKEND": "SMTP in production, the console in development, memory in tests",
    "CELERY_BROKER_URL": "Redis from REDIS_URL (or CELERY_BROKER_URL)",
    "CELERY_RESULT_BACKEND": "Redis from REDIS_URL (or CELERY_RESULT_BACKEND)",
    "CELERY_TASK_ALWAYS_EAGER": "eager in tests only",
    "CELERY_TASK_EAGER_PROPAGATES": "eager in tests only",
    "PASSWORD_HASHERS": "a fast hasher in tests only",
    "SECURE_PROXY_SSL_HEADER": "production hardening (production.py)",
    "SECURE_SSL_REDIRECT": "production hardening (SECURE_SSL_REDIRECT in the environment)",
    "SECURE_HSTS_SECONDS": "production hardening (production.py)",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "production hardening (production.py)",
    "SECURE_HSTS_PRELOAD": "production hardening (SECURE_HSTS_PRELOAD in the environment)",
    "SECURE_CONTENT_TYPE_NOSNIFF": "production hardening (production.py)",
    "SECURE_BROWSER_XSS_FILTER": "obsolete; browsers ignore it",
    "SECURE_REFERRER_POLICY": "production hardening (production.py)",
    "SECURE_CROSS_ORIGIN_OPENER_POLICY": "production hardening (production.py)",
    "SESSION_COOKIE_SECURE": "production hardening (production.py)",
    "SESSION_COOKIE_HTTPONLY": "production hardening (production.py)",
    "CSRF_COOKIE_SECURE": "production hardening (production.py)",
    "CSRF_COOKIE_HTTPONLY": "production hardening (production.py)",
    "X_FRAME_OPTIONS": "production hardening (production.py)",
    "USE_X_FORWARDED_HOST": "behind the template's proxy",
    "CONN_MAX_AGE": "DB_CONN_MAX_AGE in the environment",
}

# Dicts whose entries the template sets, while the owner's other entries are
# carried: key depth at which the owner's entries are added.
ADDITIVE = {"DATABASES": 1, "CACHES": 1, "LOGGING": 2}
