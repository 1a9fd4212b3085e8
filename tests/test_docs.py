"""The README and docs stand alone in a clone: every relative link and every shipped file they name exists, and
nothing points outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_and_named_samples_exist(page):
    text = page.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" not in target:
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
    for sample in re.findall(r"(?<![\w/])(puzzles/[\w./-]+\.(?:txt|csv|col|json))", text):
        assert (ROOT / sample).is_file(), f"{page.name} names missing {sample}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_nothing_points_outside_the_repository(page):
    text = page.read_text(encoding="utf-8")
    assert "../shared" not in text and "/work/" not in text and "DESIGN.md" not in text, page.name
