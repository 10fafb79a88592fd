"""Uploaded files, for signed-in users only.

Django does not serve MEDIA_URL in production, and uploads of a government
system are not public. This view checks the user, then lets the fastest
available server send the file:
- an S3 bucket: a redirect to a signed URL that expires (AWS_QUERYSTRING_EXPIRE);
- nginx in front (MEDIA_X_ACCEL_PREFIX set): an X-Accel-Redirect header, so
  nginx sends the file from the media volume;
- otherwise (Coolify, development): Django streams the file itself.
"""

import mimetypes
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.cache import add_never_cache_headers


@login_required
def protected_media(request: HttpRequest, name: str) -> HttpResponse:
    if not default_storage.exists(name):
        raise Http404("No such file")
    try:
        default_storage.path(name)
    except NotImplementedError:  # a remote storage such as S3
        response = HttpResponseRedirect(default_storage.url(name))
        # The signed URL opens the file until it expires: no cache may keep it.
        add_never_cache_headers(response)
        return response
    prefix = getattr(settings, "MEDIA_X_ACCEL_PREFIX", "")
    if prefix:
        response = HttpResponse(content_type=mimetypes.guess_type(name)[0] or "application/octet-stream")
        response["X-Accel-Redirect"] = prefix + quote(name)
        return response
    return FileResponse(default_storage.open(name, "rb"))
