"""The README is the front door and every section it used to hold lives on a docs page.

The site itself (links, anchors, nav, the generated references) is checked by
``mkdocs build --strict`` in ``make test``; these tests check what MkDocs cannot know: that no
README section was lost in the move, and that new sections go to the docs instead of the README.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
#: The README's own sections: what the front door says (everything else lives in docs/).
FRONT_DOOR = {"Two commands", "Layout", "Documentation"}
HEADING = re.compile(r"^(#{1,6}) (.+?)\s*$")


def headings(markdown: str) -> Iterator[tuple[int, str]]:
    """``(level, text)`` of every heading outside fenced code blocks."""
    fenced = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (match := HEADING.match(line)):
            yield len(match[1]), match[2]


def docs_headings() -> set[str]:
    return {text for page in DOCS.rglob("*.md") for _, text in headings(page.read_text())}


def moved_headings() -> list[str]:
    lines = (Path(__file__).parent / "moved_readme_headings.txt").read_text().splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def test_the_parser_skips_code_blocks() -> None:
    text = "# Title\n\n```bash\n# a comment\n```\n\n## Section\n"
    assert list(headings(text)) == [(1, "Title"), (2, "Section")]


@pytest.mark.parametrize("heading", moved_headings())
def test_every_moved_readme_section_is_a_docs_heading(heading: str) -> None:
    assert heading in docs_headings(), f"README section {heading!r} is on no page of docs/"


def test_the_readme_holds_only_the_front_door() -> None:
    sections = {text for level, text in headings((ROOT / "README.md").read_text()) if level >= 2}
    extra = sections - FRONT_DOOR
    assert not extra, (
        f"README sections {sorted(extra)} belong on a docs page (docs/<area>.md): move them there "
        "verbatim and add their headings to tests/docs/moved_readme_headings.txt"
    )
