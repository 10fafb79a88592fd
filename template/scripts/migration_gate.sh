#!/bin/sh
# The unsafe-migration gate: refuses migrations that would break the version
# still running while a deploy applies them. django-migration-linter reads
# the SQL of each migration and finds: a NOT NULL column without a database
# default, a dropped or renamed column or table, a changed column type, a
# unique constraint, an index built without CONCURRENTLY.
#
#   scripts/migration_gate.sh              the migrations that the database of
#                                          DATABASE_URL lacks: what a deploy
#                                          would apply (run it in the new image)
#   scripts/migration_gate.sh --since REF  the migrations added since git
#                                          commit REF (CI: the pull request's base)
#
# Exit status: 0 nothing unsafe; 1 unsafe migrations, each named with its
# operation; 2 the gate could not run (arguments, database, git).
# docs/deployment.md ("Migrations") says how to ship each of these changes
# safely, and how to mark a migration as reviewed (IgnoreMigration).
set -u
cd "$(dirname "$0")/../src" || exit 2

case "${1:-}" in
    "")
        scope="--unapplied-migrations"
        echo "Migration gate: checking the migrations that the database lacks..."
        ;;
    --since)
        if [ -z "${2:-}" ]; then
            echo "usage: scripts/migration_gate.sh [--since GIT_COMMIT]" >&2
            exit 2
        fi
        scope="--git-commit-id=$2"
        echo "Migration gate: checking the migrations added since $2..."
        ;;
    *)
        echo "usage: scripts/migration_gate.sh [--since GIT_COMMIT]" >&2
        exit 2
        ;;
esac

# --no-cache: the image's file system is read-only. CREATE_INDEX is only a
# warning in the linter; here an index that locks the table fails too.
# LOG_LEVEL=WARNING: the linter's own progress lines say nothing more.
# django-axes's migrations are its own, on tables that only hold login
# attempts: the gate would refuse its older ones on every first deploy.
output=$(LOG_LEVEL=WARNING python manage.py lintmigrations "$scope" --project-root-path . --no-cache \
    --warnings-as-errors CREATE_INDEX --exclude-apps axes 2>&1)
status=$?
printf '%s\n' "$output"

if [ "$status" -eq 0 ]; then
    echo "Migration gate passed."
    exit 0
fi
if ! printf '%s\n' "$output" | grep -q '^Erroneous migrations: [1-9]'; then
    echo "Migration gate: the check itself failed (see above); nothing was judged." >&2
    exit 2
fi

# The linter prints "(app, migration)... ERR" and then one indented line per
# problem; say each as "app.migration: problem".
{
    echo "Migration gate: REFUSED. These migrations would break the version that is still running during a deploy:"
    printf '%s\n' "$output" | awk '
        /^\(.*\)\.\.\. ERR/ { name = $0; sub(/^\(/, "", name); sub(/\)\.\.\. ERR.*$/, "", name); sub(/, /, ".", name); next }
        /^\(/ { name = ""; next }
        /^\t/ && name != "" { sub(/^\t/, ""); print "  " name ": " $0 }'
    echo "Ship such a change in steps, or mark a reviewed migration with IgnoreMigration(): docs/deployment.md, \"Migrations\"."
} >&2
exit 1
