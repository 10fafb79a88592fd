#!/bin/sh
# Lint (CI's first step): ruff, with the configuration in pyproject.toml.
#   scripts/ci/lint.sh
set -eu
cd "$(dirname "$0")/../.."

if ! ruff check .; then
    echo "Lint failed: fix the problems above ('ruff check --fix .' fixes many)." >&2
    exit 1
fi
if ! ruff format --check .; then
    echo "Lint failed: these files are not formatted; run 'ruff format .'." >&2
    exit 1
fi
echo "Lint passed."
