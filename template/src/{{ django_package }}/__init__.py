"""Project package: settings, URLs, WSGI/ASGI entry points and the Celery app."""

# Loading the Celery app with Django makes @shared_task use it.
from .celery import app as celery_app

__all__ = ("celery_app",)
