"""Bad answers are refused by `copier copy` with a message that names the
question and what is allowed, and nothing is rendered."""

import pytest

from support.render import render

BAD_ANSWERS = [
    ("project_slug", "OBCMS", "must start with a lower-case letter"),
    ("project_slug", "1obcms", "must start with a lower-case letter"),
    ("project_slug", "obcms-", "must not end with a hyphen"),
    ("project_name", "   ", "must not be empty"),
    ("django_package", "class", "is a Python keyword"),
    ("django_package", "json", "would shadow the standard library module"),
    ("django_package", "celery", "would shadow a package the project uses"),
    ("django_package", "obc-management", "is not a lower-case Python identifier"),
    ("ops_app", "obc_management", "is already the django_package"),
    ("ops_app", "django", "would shadow a package the project uses"),
    ("domain_name", "https://obcms.gov.ph", "has a scheme"),
    ("domain_name", "obcms.gov.ph:8443", "has a port"),
    ("domain_name", "obcms.gov.ph/app", "has a path"),
    ("domain_name", "OBCMS.gov.ph", "has upper-case letters"),
    ("domain_name", "*.obcms.gov.ph", "is a wildcard"),
    ("domain_name", "obcms_.gov.ph", "is not a valid host name"),
    ("extra_domains", "www.obcms.gov.ph", "must be a YAML list"),
    ("extra_domains", "[obcms.gov.ph]", "is already the main domain_name"),
    ("extra_domains", "[www.obcms.gov.ph, http://x.gov.ph]", "item 2"),
    ("admin_email", "admin-at-obcms.gov.ph", "is not an e-mail address"),
    ("time_zone", "Asia/Manilla", "is not an IANA time zone name"),
    ("deploy_target", "nomad", "'nomad' is not in ['compose', 'coolify', 'swarm', 'kubernetes']"),
    ("postgres_version", "14", "'14' is not in ['15', '16', '17', '18']"),
    ("db_pooling", "pgpool", "is not in ['persistent', 'pgbouncer', 'native']"),
    ("log_format", "xml", "is not in ['text', 'json']"),
    ("max_request_body_mb", "0", "must be between 1 and 10240"),
]


# Answers that are fine alone but not together: a target that runs the
# application on several hosts, and what it cannot carry there. The message
# names both questions.
BAD_COMBINATIONS = [
    ("swarm", "media_storage", "volume", "answer s3 (a bucket every host reaches), or deploy_target compose"),
    ("kubernetes", "media_storage", "volume", "volume keeps uploads on one host, and deploy_target kubernetes"),
    ("swarm", "db_pooling", "pgbouncer", "pgbouncer is not available with deploy_target swarm yet"),
    ("swarm", "use_flower", "true", "Flower is not available with deploy_target swarm yet"),
    ("kubernetes", "use_monitoring", "true", "answer false for deploy_target kubernetes"),
]


def assert_refused(result, target, question, reason):
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert f"'{question}'" in last_line, last_line
    assert reason in last_line, last_line
    assert not target.exists()


@pytest.mark.parametrize(("question", "value", "reason"), BAD_ANSWERS, ids=lambda v: str(v)[:30])
def test_bad_answer_is_refused_and_nothing_is_rendered(question, value, reason, tmp_path):
    target = tmp_path / "out"
    result = render(target, {question: value}, cli=True)
    assert_refused(result, target, question, reason)


@pytest.mark.parametrize(("deploy_target", "question", "value", "reason"), BAD_COMBINATIONS, ids=lambda v: str(v)[:30])
def test_a_combination_a_multi_host_target_cannot_carry_is_refused(deploy_target, question, value, reason, tmp_path):
    target = tmp_path / "out"
    result = render(target, {"deploy_target": deploy_target, question: value}, cli=True)
    assert_refused(result, target, question, reason)
