"""Links between the Markdown docs resolve, and the summary tables stay summaries.

Sections of docs/benchmarks.md and docs/detection.md are moved and renamed as figures
change; other docs and the README link into them by heading anchor. A broken anchor
lands a reader at the top of a 4,000-line page, so every ``[text](file.md#anchor)`` and
``[text](#anchor)`` link in README.md and docs/*.md is checked against the headings of
its target, with the anchors GitHub makes (lower case, punctuation dropped, spaces to
hyphens, ``-1``, ``-2`` … for repeats).

The "Current figures" tables at the top of those two pages are what a reader needs now:
one short row per figure, the history in the linked sections below. A cell that grows
past :data:`MAX_CELL_WORDS` words is a lab notebook creeping back into the table.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])

#: Words a cell of a top "Current figures" table may hold (the longest today: 29).
MAX_CELL_WORDS = 30

_FENCE = re.compile(r"^(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# [text](target); an image's ![alt](file) matches too and is checked the same way.
_LINK = re.compile(r"\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks (a shell ``# comment`` is no heading)."""
    lines: list[tuple[int, str]] = []
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading (before de-duplication)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = re.sub(r"<[^>]+>", "", text)
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in _prose_lines(path.read_text(encoding="utf-8")):
        match = _HEADING.match(line)
        if match is None:
            continue
        base = github_anchor(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def _links(path: Path) -> list[tuple[int, str]]:
    links: list[tuple[int, str]] = []
    for number, line in _prose_lines(path.read_text(encoding="utf-8")):
        stripped = re.sub(r"`[^`]*`", "", line)  # a link inside inline code is an example
        links.extend((number, target) for target in _LINK.findall(stripped))
    return links


def test_anchor_rules() -> None:
    assert github_anchor("Scale-out: nodes and replicas") == "scale-out-nodes-and-replicas"
    assert (
        github_anchor("20,000 events/s, ninth pass: inside `ingest_batch` (2026-12-07, issue #22 item 5)")
        == "20000-eventss-ninth-pass-inside-ingest_batch-2026-12-07-issue-22-item-5"
    )
    assert github_anchor("Fifth session (#24): latency — the same graph") == (
        "fifth-session-24-latency--the-same-graph"
    )


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve(doc: Path) -> None:
    broken: list[str] = []
    for line, target in _links(doc):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: …
            continue
        file_part, _, fragment = target.partition("#")
        dest = (doc.parent / file_part).resolve() if file_part else doc
        if not dest.exists():
            broken.append(f"{doc.name}:{line}: {target} (no file {dest.relative_to(ROOT)})")
            continue
        if fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            broken.append(f"{doc.name}:{line}: {target} (no heading with anchor #{fragment})")
    assert broken == [], "broken links:\n" + "\n".join(broken)


def _top_table(path: Path) -> list[list[str]]:
    """The rows of the first table under the page's "Current figures" heading."""
    lines = [line for _, line in _prose_lines(path.read_text(encoding="utf-8"))]
    start = lines.index("## Current figures")
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
        elif rows:
            break
    return rows[2:]  # below the header and its rule


@pytest.mark.parametrize("name", ["benchmarks.md", "detection.md"])
def test_current_figures_cells_are_short(name: str) -> None:
    rows = _top_table(ROOT / "docs" / name)
    assert rows, f"docs/{name} has no table under '## Current figures'"
    long_cells = [
        f"{row[0][:60]!r}, column {column + 1}: {len(cell.split())} words"
        for row in rows
        for column, cell in enumerate(row)
        if len(cell.split()) > MAX_CELL_WORDS
    ]
    assert long_cells == [], (
        f"docs/{name}: cells of the top table over {MAX_CELL_WORDS} words; keep the current "
        "figure there and move the history to the linked section:\n" + "\n".join(long_cells)
    )
