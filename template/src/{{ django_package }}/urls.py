"""URL routes. /health/, /ready/ and /health/monitor/ are answered earlier, by
common.middleware.HealthCheckMiddleware."""

from django.contrib import admin
from django.urls import path

from common.views import protected_media

urlpatterns = [
    path("admin/", admin.site.urls),
    path("media/<path:name>", protected_media, name="media"),
]

# Your routes go in this list: `copier update` never changes it.
urlpatterns += [
    # path("surveys/", include("surveys.urls")),
]
