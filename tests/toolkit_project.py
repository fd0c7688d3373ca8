"""The shipped #FreePalestinianStudents project (config.toml, the campaign, its assets) copied into a test
folder, optionally with its storm moved to another moment, for the supporter toolkit's tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from project import REPO

CAMPAIGN = "campaigns/free-palestinian-students.toml"
SHIPPED_START = "start = 2021-03-11T10:00:00"


def sample_project(root: Path, start: str | None = None) -> Path:
    """The folder's campaign file; ``start``: a local wall-clock time ("2031-03-13T10:00:00", Los Angeles)
    for the storm instead of the shipped 11 March 2021."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO / "config.toml", root / "config.toml")
    shutil.copytree(REPO / "assets", root / "assets", dirs_exist_ok=True)
    (root / "campaigns").mkdir(exist_ok=True)
    text = (REPO / CAMPAIGN).read_text(encoding="utf-8")
    assert SHIPPED_START in text
    if start is not None:
        text = text.replace(SHIPPED_START, f"start = {start}")
    path = root / CAMPAIGN
    path.write_text(text, encoding="utf-8")
    return path
