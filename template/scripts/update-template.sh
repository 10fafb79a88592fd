#!/usr/bin/env bash
# Pulls the deployment template's updates into this repository
# (README.md, "Updating from the template").
#
#   scripts/update-template.sh --check    is a newer template release out?
#                                         exit 0: no; 2: yes
#   scripts/update-template.sh [OPTION]   update to the latest release, keeping
#                                         the recorded answers; options go to
#                                         `copier update` (e.g. --vcs-ref v0.3.0)
#
# Copier exits 0 even when its merge left conflicts, and with --conflict rej
# it puts your lines that did not merge into .rej files without a word. So,
# after updating, this script exits 1 and names every file that needs a hand:
# conflict markers, unmerged paths, .rej files.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v copier >/dev/null; then
    echo "Copier is not installed: pip install --requirement requirements/copier.txt" >&2
    exit 1
fi

if [ "${1:-}" = "--check" ]; then
    copier check-update --output-format json | python3 -c '
import json, sys

report = json.load(sys.stdin)
current, latest = report["current_version"], report["latest_version"]
if report["update_available"]:
    print(f"Template {latest} is out; this repository is at {current}.")
    print("Update with scripts/update-template.sh.")
    sys.exit(2)
print(f"Up to date with the template ({current}).")
'
    exit 0
fi

if [ -n "$(git status --porcelain --untracked-files=normal -- .)" ]; then
    echo "Commit or stash your changes first: the update must start from a clean tree." >&2
    git status --short -- . >&2
    exit 1
fi

# --trust: the template runs its own code during the update (hooks/post_copy.py
# and the migrations between releases). --defaults: keep the recorded answers;
# new questions take their defaults.
copier update --defaults --trust "$@"

problems="$(
    git diff --name-only --relative --diff-filter=U | sed 's/$/: unmerged/'
    { git diff --name-only --relative HEAD; git ls-files --others --exclude-standard; } | sort -u |
        while IFS= read -r path; do
            if [ -f "$path" ] && grep -qE '^(<<<<<<<|>>>>>>>)( |$)' -- "$path"; then
                echo "$path: conflict markers"
            fi
        done
    find . -name '*.rej' -not -path './.git/*' -not -path './.venv/*' | sed 's|^\./||; s/$/: hunks that did not apply; merge them by hand, delete the file/'
)"

if [ -n "$problems" ]; then
    {
        echo
        echo "The update needs your hand in these files:"
        sort <<<"$problems" | sed 's/^/  /'
        echo "In each, keep what both sides need and remove the markers, then 'git add' it."
        echo "A lock file (requirements/*.lock) is easier made again: fix the .txt files, then run scripts/lock-requirements.sh."
        echo "To drop the update instead: git reset --hard HEAD && git clean -d --force"
    } >&2
    exit 1
fi

echo "Updated cleanly. Review 'git diff', run the tests, then commit."
