"""The lines that open the owner's parts of the template's shared files.

copier.yml (`owner_markers`) is their one source; the template renders them
and adoption puts the owner's lines right after them.
"""

from pathlib import Path

import yaml

COPIER_YML = Path(__file__).resolve().parents[2] / "copier.yml"
MARKERS = yaml.safe_load(COPIER_YML.read_text())["owner_markers"]["default"]

APPS = MARKERS["apps"]
ROUTES = MARKERS["routes"]
BEAT_SCHEDULE = MARKERS["beat_schedule"]
REQUIREMENTS = MARKERS["requirements"]
