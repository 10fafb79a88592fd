"""Every pair of answer values renders a project that passes the output
checks, `check --deploy` included (22 profiles cover all pairs of the 6144
combinations of the choice and bool questions)."""

from itertools import combinations

import pytest

from support import output_checks
from support.matrix import all_pairs, answers, question_values, row_id
from support.render import project_venv, render

FACTORS = question_values()
ROWS = all_pairs(FACTORS)


@pytest.fixture(scope="session")
def union_venv(tmp_path_factory):
    """One virtualenv with every optional requirement (S3, Flower, the pool),
    for `check --deploy` on any profile."""
    every_option = {"media_storage": "s3:aws", "db_pooling": "native", "use_flower": True}
    return project_venv(render(tmp_path_factory.mktemp("union") / "project", answers(every_option)))


def test_the_rows_cover_every_pair_of_values():
    covered = {frozenset(pair) for row in ROWS for pair in combinations(row.items(), 2)}
    for first, second in combinations(FACTORS, 2):
        for a in FACTORS[first]:
            for b in FACTORS[second]:
                assert frozenset({(first, a), (second, b)}) in covered, (first, a, second, b)


@pytest.mark.slow
@pytest.mark.parametrize("row", ROWS, ids=row_id)
def test_profile_passes_the_output_checks(row, union_venv, database_url, redis, tmp_path):
    project = render(tmp_path / "project", answers(row))
    assert output_checks.all_problems(project, union_venv, tmp_path / "work", database_url, redis.url) == []
