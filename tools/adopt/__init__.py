"""Bring the deployment template into a Django repository that was not
rendered from it (tools/adopt, run as `python tools/adopt REPOSITORY`).

One module per job: owner.py reads the owner's project, venvs.py makes the
virtualenvs its settings are evaluated in, probe.py and evaluate.py evaluate
them, values.py writes values back as Python, settings.py, urls.py,
celery.py, requirements.py, pytest_config.py and ignores.py merge each
shared file, changes.py says what changes for the owner, compare.py and
report.py compare before and after, releases.py finds the template's
releases, run.py puts it together and __main__.py is the command line.
"""


class AdoptionError(Exception):
    """A reason to stop: printed as one line, nothing changed."""
