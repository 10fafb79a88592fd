"""Error tracking with Sentry (or a service that speaks its protocol, such
as GlitchTip), on only when SENTRY_DSN is set (settings/production.py).

Unhandled errors of requests and Celery tasks, and ERROR log lines, become
events; INFO and WARNING lines ride along as breadcrumbs. No personal data
is sent (send_default_pii=False: no cookies, no user, no client address),
and every event is scrubbed of secrets on its way out (scrubbing.py).
"""

import logging
import os
from collections.abc import Mapping

from .scrubbing import scrub, secret_values


def release(environ: Mapping[str, str]) -> str | None:
    """The release events name: SENTRY_RELEASE, APP_VERSION or the image
    tag (a deploy sets IMAGE_TAG to the git commit); "latest" says nothing."""
    for name in ("SENTRY_RELEASE", "APP_VERSION", "IMAGE_TAG"):
        value = environ.get(name, "").strip()
        if value and value != "latest":
            return value
    return None


def start_error_tracking(settings: Mapping) -> None:
    """Start the Sentry SDK if SENTRY_DSN is set. Called at the end of
    settings/production.py, so that web, the migrate job and every Celery
    process report alike."""
    if not settings.get("SENTRY_DSN"):
        return
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    secrets = secret_values(os.environ, settings)

    def before_send(event: dict, hint: dict) -> dict:
        # Sentry's sampling context names the DSN's public key on purpose:
        # it goes back to Sentry only, in the envelope's header.
        trace = event.get("contexts", {}).get("trace", {})
        sampling = trace.pop("dynamic_sampling_context", None)
        event = scrub(event, secrets)
        if sampling is not None:
            public_key = sampling.pop("public_key", None)
            sampling = scrub(sampling, secrets) | ({"public_key": public_key} if public_key else {})
            event["contexts"]["trace"]["dynamic_sampling_context"] = sampling
        return event

    sentry_sdk.init(
        dsn=settings["SENTRY_DSN"],
        environment=settings.get("SENTRY_ENVIRONMENT") or "production",
        release=release(os.environ),
        send_default_pii=False,
        traces_sample_rate=settings.get("SENTRY_TRACES_SAMPLE_RATE", 0.0),
        integrations=[
            DjangoIntegration(),
            CeleryIntegration(),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
        before_send=before_send,
        before_send_transaction=before_send,
    )
