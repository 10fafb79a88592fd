"""Middleware for running behind a proxy, and the security headers Django
does not set by itself."""

import logging
from ipaddress import ip_address, ip_network

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed

from .health import PROBES

logger = logging.getLogger(__name__)


class HealthCheckMiddleware:
    """Answers the probe paths before any other middleware runs.

    Probes come from Docker, Coolify or a load balancer over plain HTTP with
    whatever Host they like; host validation and the HTTPS redirect would
    refuse them, and sessions or CSRF would only slow them down.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        response = probe(request)
        if response.status_code >= 500:
            # A probe's 503 is its answer to the monitor that asked, not a
            # server error: django.request would mail it to ADMINS, and the
            # probe would wait for the SMTP server. Django skips responses
            # carrying its own _has_been_logged flag.
            logger.warning("%s answered %s", request.path_info, response.status_code)
            response._has_been_logged = True
        return response


def parse_address(text: str):
    try:
        return ip_address(text.strip())
    except ValueError:
        return None


class RealClientIPMiddleware:
    """Sets REMOTE_ADDR to the client's address when a trusted proxy forwarded
    the request.

    Each proxy appends the address it received the request from to
    X-Forwarded-For. Reading the list from the right, trusted proxies
    (TRUSTED_PROXY_NETWORKS) are skipped and the first other address is the
    client. Anything further left was written by the client and is ignored,
    and a request that did not come from a trusted proxy keeps its own peer
    address, so nobody can choose their address by sending the header.

    Behind Cloudflare (CLOUDFLARE_NETWORKS), the address found that way is
    one of Cloudflare's proxies, and Cloudflare names the client in
    CF-Connecting-IP. That header is believed only then: a request that
    reaches the proxies from anywhere else keeps the address they saw.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.trusted = [ip_network(network) for network in settings.TRUSTED_PROXY_NETWORKS]
        self.cloudflare = [ip_network(network) for network in getattr(settings, "CLOUDFLARE_NETWORKS", [])]

    @staticmethod
    def within(address, networks) -> bool:
        return address is not None and any(address in network for network in networks)

    def is_trusted(self, address) -> bool:
        return self.within(address, self.trusted)

    def forwarded_by(self, meta: dict) -> str:
        """The address the trusted proxies received the request from."""
        peer = meta.get("REMOTE_ADDR", "")
        if not self.is_trusted(parse_address(peer)):
            return peer
        client = peer
        for hop in reversed(meta.get("HTTP_X_FORWARDED_FOR", "").split(",")):
            address = parse_address(hop)
            if address is None:
                break
            client = str(address)
            if not self.is_trusted(address):
                break
        return client

    def client_address(self, meta: dict) -> str:
        hop = self.forwarded_by(meta)
        if self.within(parse_address(hop), self.cloudflare):
            visitor = parse_address(meta.get("HTTP_CF_CONNECTING_IP", ""))
            if visitor is not None:
                return str(visitor)
        return hop

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.META["REMOTE_ADDR"] = self.client_address(request.META)
        return self.get_response(request)


def client_ip_address(request: HttpRequest) -> str:
    """The client's address for django-axes (AXES_CLIENT_IP_CALLABLE): the
    one RealClientIPMiddleware settled on, never what a header claims."""
    return request.META.get("REMOTE_ADDR", "")


class AnonymousBodyLimitMiddleware:
    """Refuses, unread, a request body larger than ANONYMOUS_MAX_BODY_BYTES
    from a client that is not signed in (413).

    CsrfViewMiddleware reads the form to find its token, and reading a form
    stores its files (in memory, then in FILE_UPLOAD_TEMP_DIR): with a forged
    CSRF cookie, anyone could make the server store large files before the
    refusal. This runs before any view or CSRF check, and looks at the
    session only when the declared length is over the limit.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.limit = settings.ANONYMOUS_MAX_BODY_BYTES

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django reads no body then
        if length > self.limit and not request.user.is_authenticated:
            return HttpResponse(
                f"A request body over {self.limit // 1024} KB needs a signed-in user.\n",
                status=413,
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)


def policy_header(policy: dict[str, list[str]]) -> str:
    """The header value of a policy such as {"default-src": ["'self'"]}."""
    return "; ".join(" ".join([directive, *sources]) for directive, sources in policy.items())


class SecurityHeadersMiddleware:
    """Adds the Content-Security-Policy and Cross-Origin-Resource-Policy
    headers, which Django 5.2 has no setting for.

    The policy is settings.CONTENT_SECURITY_POLICY; with
    CONTENT_SECURITY_POLICY_REPORT_ONLY it is sent as
    Content-Security-Policy-Report-Only, so browsers report what it would
    block without blocking it. A view that sets either header itself keeps
    its own value.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.csp_name = (
            "Content-Security-Policy-Report-Only"
            if settings.CONTENT_SECURITY_POLICY_REPORT_ONLY
            else "Content-Security-Policy"
        )
        self.csp = policy_header(settings.CONTENT_SECURITY_POLICY)
        self.corp = settings.CROSS_ORIGIN_RESOURCE_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.csp:
            response.headers.setdefault(self.csp_name, self.csp)
        if self.corp:
            response.headers.setdefault("Cross-Origin-Resource-Policy", self.corp)
        return response
