"""Bring the deployment template into an existing Django repository:

    python PATH/TO/TEMPLATE/tools/adopt [--template PATH-OR-URL] [--vcs-ref REF]
        [--data NAME=VALUE ...] [--data-file FILE] [--python PYTHON]
        [--accept-losses] REPOSITORY

It works in a scratch copy of REPOSITORY (a committed git work tree) and
changes REPOSITORY only when everything the owner's settings, routes and
Celery app did is kept; otherwise it names each loss and changes nothing
(--accept-losses adopts anyway). docs/adopt.md of the template explains it.
"""

import argparse
import os
import sys
from pathlib import Path

# The owner runs this directory with their own Python (docs/adopt.md), where
# the .pth of the template's .venv does not exist and only tools/adopt/ is on
# sys.path: its parent is added so that the package imports as `adopt`. The
# template's one sys.path edit; `python -m` would tie the command to a cwd.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml  # noqa: E402

from adopt import AdoptionError  # noqa: E402
from adopt.report import printed  # noqa: E402
from adopt.run import TEMPLATE_ROOT, Options, Refused, adopt  # noqa: E402


def answers_from(args: argparse.Namespace) -> dict:
    answers = {}
    if args.data_file:
        try:
            answers = yaml.safe_load(Path(args.data_file).read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise AdoptionError(f"--data-file {args.data_file}: {error}".splitlines()[0]) from None
    for item in args.data:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise AdoptionError(f"--data {item}: expected NAME=VALUE")
        answers[name] = yaml.safe_load(value)
    return answers


def main() -> int:
    parser = argparse.ArgumentParser(prog="tools/adopt", description=__doc__.split("\n\n")[0])
    parser.add_argument("repository", type=Path)
    parser.add_argument(
        "--template",
        default=str(TEMPLATE_ROOT),
        help="the template: a clone's path or a git URL, recorded for `copier update` (default: this clone)",
    )
    parser.add_argument("--vcs-ref", help="the release (vX.Y.Z) or commit to adopt (default: the clone's HEAD)")
    parser.add_argument("--data-file", help="a YAML file of answers, as for copier copy")
    parser.add_argument("--data", action="append", default=[], metavar="NAME=VALUE", help="an answer")
    parser.add_argument(
        "--python",
        type=Path,
        help="your project's Python (default: .venv/ or venv/ in it, or one made from its requirements)",
    )
    parser.add_argument(
        "--accept-losses", action="store_true", help="adopt even though the listed settings or routes are lost"
    )
    parser.add_argument("--table", choices=["changes", "all"], default="changes", help="rows of the before/after table")
    cache = Path(
        os.environ.get("OBCMS_ADOPT_VENVS")
        or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "obcms-adopt" / "venvs"
    )
    parser.add_argument(
        "--venv-cache",
        type=Path,
        default=cache,
        help=f"where virtualenvs are kept (default: $OBCMS_ADOPT_VENVS or {cache})",
    )
    args = parser.parse_args()
    repository = args.repository.resolve()
    try:
        if not repository.is_dir():
            raise AdoptionError(f"{args.repository}: no such directory")
        options = Options(
            template=args.template,
            vcs_ref=args.vcs_ref,
            answers=answers_from(args),
            python=args.python,
            venv_cache=args.venv_cache,
            accept_losses=args.accept_losses,
        )
        outcome = adopt(repository, options)
    except Refused as refused:
        print(printed(refused.outcome, args.table == "all"))
        print(f"Not adopted: {refused}; nothing was changed (--accept-losses adopts anyway).", file=sys.stderr)
        return 1
    except AdoptionError as error:
        print(f"Not adopted: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Not adopted: interrupted; nothing was changed.", file=sys.stderr)
        return 1
    except Exception as error:  # noqa: BLE001 - one line, not a traceback
        where = error.__traceback__
        while where.tb_next:
            where = where.tb_next
        place = f"{Path(where.tb_frame.f_code.co_filename).name}:{where.tb_lineno}"
        print(
            f"Not adopted: {type(error).__name__}: {error} (at {place}; please report it)".splitlines()[0],
            file=sys.stderr,
        )
        return 1
    print(printed(outcome, args.table == "all"))
    print(f"Adopted the template: {len(outcome.written)} files written, {len(outcome.removed)} removed.")
    print(
        "Next: review `git status` and `git diff`, run the tests and `manage.py check --deploy` "
        "(docs/adopt.md), then commit everything with `git add --all`."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
