"""One governance document as structured data, and its HTML and PDF renderings.

Documents are composed as :class:`Document` — sections of paragraphs, bullet lists and
tables of plain text — so that one structure gives both renderings: HTML through a
Jinja2 template (autoescaped), PDF through ReportLab's platypus (``invariant`` mode: no
creation date, fixed document id). The same document therefore always renders to the
same bytes, which is what lets the build manifest's digest identify a set of documents.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import cache
from xml.sax.saxutils import escape

from jinja2 import Environment, PackageLoader, select_autoescape

__all__ = ["Document", "Section", "Table", "render_html", "render_pdf"]


@dataclass(frozen=True, slots=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Section:
    heading: str
    paragraphs: tuple[str, ...] = ()
    bullets: tuple[str, ...] = ()
    table: Table | None = None


@dataclass(frozen=True, slots=True)
class Document:
    #: File name without extension, e.g. ``worker-notice-plant-a-line-1.de``.
    name: str
    title: str
    #: The legal anchor (e.g. "GDPR Art. 30"), printed under the title.
    anchor: str
    lang: str = "en"
    sections: tuple[Section, ...] = field(default_factory=tuple)

    def text(self) -> str:
        """Every string of the document, for searching in tests and the dashboard."""
        parts = [self.title, self.anchor]
        for s in self.sections:
            parts += [s.heading, *s.paragraphs, *s.bullets]
            if s.table:
                parts += [*s.table.header, *(c for row in s.table.rows for c in row)]
        return "\n".join(parts)


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("lineguard.server.governance", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        keep_trailing_newline=True,
    )


def render_html(document: Document) -> bytes:
    return _environment().get_template("document.html.j2").render(doc=document).encode("utf-8")


def render_pdf(document: Document) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import ListFlowable, ListItem, Paragraph, SimpleDocTemplate, Spacer
    from reportlab.platypus import Table as PdfTable

    styles = getSampleStyleSheet()
    cell = styles["BodyText"].clone("cell", fontSize=8, leading=10)
    story: list[object] = [
        Paragraph(escape(document.title), styles["Title"]),
        Paragraph(escape(document.anchor), styles["Italic"]),
        Spacer(1, 4 * mm),
    ]
    for section in document.sections:
        story.append(Paragraph(escape(section.heading), styles["Heading2"]))
        story += [Paragraph(escape(p), styles["BodyText"]) for p in section.paragraphs]
        if section.bullets:
            items = [ListItem(Paragraph(escape(b), styles["BodyText"])) for b in section.bullets]
            story.append(ListFlowable(items, bulletType="bullet", start="-"))
        if section.table is not None:
            data = [[Paragraph(f"<b>{escape(h)}</b>", cell) for h in section.table.header]]
            data += [[Paragraph(escape(c), cell) for c in row] for row in section.table.rows]
            table = PdfTable(data, repeatRows=1, hAlign="LEFT")
            table.setStyle(
                [("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")]
            )
            story.append(table)
        story.append(Spacer(1, 3 * mm))
    out = io.BytesIO()
    pdf = SimpleDocTemplate(
        out, pagesize=A4, title=document.title, author="LineGuard", subject=document.anchor,
        creator="LineGuard", producer="LineGuard", invariant=True, lang=document.lang,
    )  # fmt: skip
    pdf.build(story)
    return out.getvalue()
