#!/bin/sh
# Publish a built image to the registry (CI's image job, on the default
# branch only).
#   REGISTRY_USER=... REGISTRY_PASSWORD=... \
#       scripts/ci/publish-image.sh IMAGE REPOSITORY TAG [TAG...]
# Tags IMAGE as REPOSITORY:TAG for each TAG and pushes it, after logging in
# to the registry of REPOSITORY (its first part, e.g. ghcr.io) when
# REGISTRY_PASSWORD is set. CI pushes REPOSITORY:<commit> (what deploys and
# rollbacks pull) and REPOSITORY:<branch>. Nothing is deleted: the images of
# earlier commits stay for rollbacks.
set -eu
if [ $# -lt 3 ]; then
    echo "usage: scripts/ci/publish-image.sh IMAGE REPOSITORY TAG [TAG...]" >&2
    exit 2
fi
image=$1
repository=$2
shift 2
case "$repository" in
    */*) ;;
    *)
        echo "REPOSITORY '$repository' must name its registry, e.g. ghcr.io/OWNER/NAME" >&2
        exit 2
        ;;
esac

if [ -n "${REGISTRY_PASSWORD:-}" ]; then
    printf '%s\n' "$REGISTRY_PASSWORD" |
        docker login "${repository%%/*}" --username "${REGISTRY_USER:?set REGISTRY_USER}" --password-stdin
fi
for tag in "$@"; do
    docker tag "$image" "$repository:$tag"
    docker push "$repository:$tag"
    echo "Published $repository:$tag"
done
