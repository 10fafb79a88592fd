#!/bin/sh
# Build the production image (CI's image job).
#   scripts/ci/build-image.sh IMAGE [docker build options]
# e.g. scripts/ci/build-image.sh obcms:ci. Options go on to `docker build`
# (CI adds a label with the repository's URL). The image is labelled with
# the commit it was built from.
set -eu
if [ $# -lt 1 ]; then
    echo "usage: scripts/ci/build-image.sh IMAGE [docker build options]" >&2
    exit 2
fi
image=$1
shift
cd "$(dirname "$0")/../.."
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)

if ! docker build --target production --tag "$image" \
    --label "org.opencontainers.image.revision=$revision" "$@" .; then
    echo "The image $image did not build: see docker build's output above." >&2
    exit 1
fi
echo "Built $image (commit $revision)."
