import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from ..middleware import RealClientIPMiddleware, SecurityHeadersMiddleware, policy_header


@pytest.fixture
def middleware(settings):
    settings.TRUSTED_PROXY_NETWORKS = ["127.0.0.0/8", "172.16.0.0/12"]
    settings.CLOUDFLARE_NETWORKS = []
    return RealClientIPMiddleware(lambda request: HttpResponse(request.META["REMOTE_ADDR"]))


def client_address(middleware, peer, forwarded_for=None):
    extra = {"REMOTE_ADDR": peer}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return middleware(RequestFactory().get("/", **extra)).content.decode()


def test_direct_request_keeps_its_own_address_even_with_a_forged_header(middleware):
    assert client_address(middleware, "203.0.113.9", "198.51.100.7") == "203.0.113.9"


def test_address_seen_by_a_trusted_proxy_is_the_client(middleware):
    assert client_address(middleware, "172.18.0.5", "198.51.100.7") == "198.51.100.7"


def test_addresses_a_client_prepended_are_ignored(middleware):
    assert client_address(middleware, "172.18.0.5", "10.9.9.9, 1.2.3.4, 198.51.100.7") == "198.51.100.7"


def test_a_chain_of_trusted_proxies_is_walked(middleware):
    assert client_address(middleware, "127.0.0.1", "198.51.100.7, 172.18.0.9") == "198.51.100.7"


def test_garbage_in_the_header_is_not_believed(middleware):
    assert client_address(middleware, "172.18.0.5", "not-an-address") == "172.18.0.5"


CLOUDFLARE_EDGE = "162.158.10.20"


@pytest.fixture
def behind_cloudflare(settings):
    settings.TRUSTED_PROXY_NETWORKS = ["127.0.0.0/8", "172.16.0.0/12"]
    settings.CLOUDFLARE_NETWORKS = ["162.158.0.0/15", "2400:cb00::/32"]
    return RealClientIPMiddleware(lambda request: HttpResponse(request.META["REMOTE_ADDR"]))


def cloudflare_client(middleware, peer, forwarded_for=None, connecting_ip="198.51.100.7"):
    extra = {"REMOTE_ADDR": peer, "HTTP_CF_CONNECTING_IP": connecting_ip}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return middleware(RequestFactory().get("/", **extra)).content.decode()


def test_behind_cloudflare_the_client_is_cf_connecting_ip(behind_cloudflare):
    assert cloudflare_client(behind_cloudflare, "172.18.0.5", CLOUDFLARE_EDGE) == "198.51.100.7"


def test_cloudflare_ipv6_edges_are_recognised(behind_cloudflare):
    assert cloudflare_client(behind_cloudflare, "172.18.0.5", "2400:cb00:2049::1") == "198.51.100.7"


def test_a_forged_cf_connecting_ip_through_the_proxy_is_ignored(behind_cloudflare):
    """Sent straight to the origin's proxy: the hop before it is not Cloudflare."""
    assert cloudflare_client(behind_cloudflare, "172.18.0.5", "203.0.113.9") == "203.0.113.9"


def test_a_forged_cf_connecting_ip_sent_to_the_app_directly_is_ignored(behind_cloudflare):
    assert cloudflare_client(behind_cloudflare, "203.0.113.9", CLOUDFLARE_EDGE) == "203.0.113.9"


def test_a_cloudflare_address_the_client_prepended_is_not_believed(behind_cloudflare):
    forwarded = f"{CLOUDFLARE_EDGE}, 203.0.113.9"
    assert cloudflare_client(behind_cloudflare, "172.18.0.5", forwarded) == "203.0.113.9"


def test_garbage_in_cf_connecting_ip_keeps_the_cloudflare_address(behind_cloudflare):
    assert cloudflare_client(behind_cloudflare, "172.18.0.5", CLOUDFLARE_EDGE, "not-an-address") == CLOUDFLARE_EDGE


def test_without_cloudflare_the_header_means_nothing(middleware):
    assert cloudflare_client(middleware, "172.18.0.5", CLOUDFLARE_EDGE) == CLOUDFLARE_EDGE


def test_policy_header_joins_directives_in_order():
    policy = {"default-src": ["'none'"], "img-src": ["'self'", "https://cdn.example.org"]}
    assert policy_header(policy) == "default-src 'none'; img-src 'self' https://cdn.example.org"


def test_every_response_gets_the_policy_and_the_resource_policy(settings):
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = False
    response = SecurityHeadersMiddleware(lambda request: HttpResponse("page"))(RequestFactory().get("/"))
    assert response["Content-Security-Policy"] == policy_header(settings.CONTENT_SECURITY_POLICY)
    assert "Content-Security-Policy-Report-Only" not in response
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"


def test_the_default_policy_allows_no_inline_script_and_no_framing(settings):
    policy = settings.CONTENT_SECURITY_POLICY
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert not any("unsafe" in source for sources in policy.values() for source in sources)


def test_report_only_sends_the_policy_under_the_reporting_header(settings):
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = True
    response = SecurityHeadersMiddleware(lambda request: HttpResponse("page"))(RequestFactory().get("/"))
    assert response["Content-Security-Policy-Report-Only"] == policy_header(settings.CONTENT_SECURITY_POLICY)
    assert "Content-Security-Policy" not in response


def test_a_view_keeps_the_policy_it_set_itself(settings):
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = False

    def view(request):
        response = HttpResponse("embeddable")
        response["Content-Security-Policy"] = "frame-ancestors 'self'"
        return response

    response = SecurityHeadersMiddleware(view)(RequestFactory().get("/"))
    assert response["Content-Security-Policy"] == "frame-ancestors 'self'"
