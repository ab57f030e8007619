"""Files into records: every bad row reported with its line number, nothing parsed half."""

from __future__ import annotations

from pathlib import Path

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from lineguard.contracts.errors import InputError
from lineguard.server.plantdata import parse_file


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_rows_become_records_with_fields_numbers_lines_and_dates(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "orders.csv",
        "id,type,date,line,customer,part,quantity,unit_price,note\n"
        "SO-1,sales_order,2026-11-02,line-1,Zephyr Motors,P-100,40,12.50,rush\n"
        'SO-2,sales_order,2026-11-03T10:00:00+01:00,,Acme,P-200,"1,200",3,\n',
    )
    parsed = parse_file(path, category="customer_orders")
    first, second = parsed.records
    assert parsed.format == "csv"
    assert (first.source_key, first.record_type, first.lines) == ("SO-1", "sales_order", ("line-1",))
    assert first.fields == {
        "customer": "Zephyr Motors",
        "part": "P-100",
        "quantity": 40,
        "unit_price": 12.5,
        "note": "rush",
    }
    assert first.measures() == (40.0, 500.0)
    assert second.lines is None and second.fields["quantity"] == 1200
    assert second.occurred_at is not None and second.occurred_at.utcoffset() is not None


def test_every_bad_csv_row_is_reported_with_its_line_number(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.csv",
        "id,date,quantity,part\n"
        "A,2026-11-01,4,P1\n"
        "B,2026-11-01,ten,P2\n"
        "C,not a date,1,P3\n"
        "D,2026-11-01,1\n"
        ",2026-11-01,1,P5\n"
        "A,2026-11-01,2,P6\n",
    )
    with pytest.raises(InputError, match="5 bad row") as caught:
        parse_file(path, category="production_data")
    details = caught.value.details
    assert details[0] == "line 3: quantity 'ten' is not a number"
    assert details[1].startswith("line 4: Invalid isoformat string")
    assert details[2] == "line 5: 3 cells, the header has 4"
    assert details[3].startswith("line 6: no id")
    assert details[4] == "line 7: id 'A' repeats line 2"


def test_csv_without_an_id_column_and_a_row_on_another_line_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no 'id' column"):
        parse_file(write(tmp_path, "a.csv", "part,quantity\nP1,3\n"), category="production_data")
    path = write(tmp_path, "b.csv", "id,line\nX,line-2\n")
    with pytest.raises(InputError) as caught:
        parse_file(path, category="production_data", lines=("line-1",))
    assert caught.value.details == ["line 2: line 'line-2' is not among --line line-1"]


def test_json_lines_with_bad_lines_named(tmp_path: Path) -> None:
    good = write(
        tmp_path, "wo.jsonl", '{"id": "WO-1", "machine": "Press 4", "downtime_min": 35}\n\n{"id": "WO-2"}\n'
    )
    assert [r.source_key for r in parse_file(good, category="maintenance_data").records] == ["WO-1", "WO-2"]
    bad = write(tmp_path, "bad.jsonl", '{"id": "WO-1"}\n[1, 2]\n{"id": "WO-3", "x": {"nested": 1}}\n{oops\n')
    with pytest.raises(InputError, match="3 bad row") as caught:
        parse_file(bad, category="maintenance_data")
    assert [d.split(":")[0] for d in caught.value.details] == ["line 2", "line 3", "line 4"]


def test_markdown_and_text_are_documents_titled_by_their_first_line(tmp_path: Path) -> None:
    md = parse_file(
        write(tmp_path, "sop.md", "# Press line changeover\n\nTorque to 25 Nm.\n"),
        category="production_data",
        lines=("line-1",),
    )
    (doc,) = md.records
    assert (doc.kind, doc.title, doc.source_key, doc.lines) == (
        "document",
        "Press line changeover",
        "sop.md",
        ("line-1",),
    )
    txt = parse_file(
        write(tmp_path, "terms.txt", "Net 30 days.\n"), category="vendor_terms", key="acme-terms"
    )
    assert txt.records[0].source_key == "acme-terms"
    with pytest.raises(InputError, match="document needs text"):
        parse_file(write(tmp_path, "empty.md", "  \n"), category="production_data")


def test_a_pdf_is_read_and_a_broken_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "agreement.pdf"
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.drawString(72, 760, "Supply agreement with Borealis Castings")
    pdf.drawString(72, 740, "Payment terms: net 45 days")
    pdf.save()
    (doc,) = parse_file(path, category="vendor_terms").records
    assert "net 45 days" in doc.text and doc.title == "Supply agreement with Borealis Castings"
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 50)
    with pytest.raises(InputError, match=r"broken\.pdf: the PDF could not be parsed"):
        parse_file(broken, category="vendor_terms")


def test_unknown_category_type_and_encoding_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "id\n1\n")
    with pytest.raises(InputError, match="unknown plant-data category 'salaries'"):
        parse_file(path, category="salaries")
    with pytest.raises(InputError, match=r"unknown file type '\.xlsx'"):
        parse_file(write(tmp_path, "a.xlsx", "x"), category="production_data")
    latin = tmp_path / "l.csv"
    latin.write_bytes(b"id,part\n1,Gr\xf6\xdfe\n")
    with pytest.raises(InputError, match="not UTF-8") as caught:
        parse_file(latin, category="production_data")
    assert caught.value.details == ["line 2: byte 0xf6 is not UTF-8"]


def test_a_pdf_without_text_is_refused_as_a_scan(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.rect(72, 72, 200, 200)
    pdf.save()
    with pytest.raises(InputError, match=r"scan\.pdf: the PDF has no extractable text"):
        parse_file(path, category="vendor_terms")
