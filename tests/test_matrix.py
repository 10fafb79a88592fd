"""Every pair of answer values that Copier accepts renders a project that
passes the output checks, `check --deploy` included (21 profiles cover all
pairs of the 12288 combinations of the choice and bool questions)."""

from itertools import combinations

import pytest

from support import output_checks
from support.matrix import all_pairs, answers, question_values, refusals, refused_pairs, row_id
from support.render import project_venv, render

FACTORS = question_values()
ROWS = all_pairs(FACTORS)


@pytest.fixture(scope="session")
def union_venv(tmp_path_factory):
    """One virtualenv with every optional requirement (S3, Flower, the pool),
    for `check --deploy` on any profile."""
    every_option = {"media_storage": "s3:aws", "db_pooling": "native", "use_flower": True}
    return project_venv(render(tmp_path_factory.mktemp("union") / "project", answers(every_option)))


# What a target that runs the application on several hosts cannot carry
# (copier.yml's validators refuse it, naming the questions).
REFUSED_WITH_SEVERAL_HOSTS = [
    ("media_storage", "volume"),
    ("db_pooling", "pgbouncer"),
    ("use_flower", True),
    ("use_monitoring", True),
]


def test_the_rows_cover_every_pair_of_values_that_copier_accepts():
    covered = {frozenset(pair) for row in ROWS for pair in combinations(row.items(), 2)}
    refused = refused_pairs(FACTORS)
    for first, second in combinations(FACTORS, 2):
        for a in FACTORS[first]:
            for b in FACTORS[second]:
                pair = frozenset({(first, a), (second, b)})
                assert pair in covered or pair in refused, (first, a, second, b)


def test_copier_refuses_exactly_the_pairs_a_multi_host_target_cannot_carry():
    expected = {
        frozenset({("deploy_target", target), refused})
        for target in ("swarm", "kubernetes")
        for refused in REFUSED_WITH_SEVERAL_HOSTS
    }
    assert refused_pairs(FACTORS) == expected


def test_every_row_is_accepted():
    assert [refusals(row) for row in ROWS if refusals(row)] == []


@pytest.mark.slow
@pytest.mark.parametrize("row", ROWS, ids=row_id)
def test_profile_passes_the_output_checks(row, union_venv, database_url, redis, tmp_path):
    project = render(tmp_path / "project", answers(row))
    assert output_checks.all_problems(project, union_venv, tmp_path / "work", database_url, redis.url) == []
