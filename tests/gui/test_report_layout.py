"""The report's page layout engine (gui/report/layout.py) on its own: no session, just
blocks; read back with pypdf."""

from __future__ import annotations

import unicodedata

import pytest
from pypdf import PdfReader

from gui.report.layout import KEEP_TOGETHER_ROWS, Doc, write_pdf


def pages_text(path) -> list[str]:
    return [
        " ".join(unicodedata.normalize("NFKC", p.extract_text()).split())
        for p in PdfReader(path).pages
    ]


def test_a_long_table_breaks_with_its_header_on_every_page(qapp, tmp_path):
    rows = [[f"row-{k:03d}", f"{k * 1.5:.1f} N"] for k in range(150)]

    def build(doc: Doc) -> None:
        doc.heading("Rows")
        doc.table(("name", "force"), rows)

    out = tmp_path / "long.pdf"
    pages = write_pdf(out, "layout test", build)
    text = pages_text(out)
    assert pages == len(text) >= 3
    for n, page in enumerate(text, 1):
        assert page.count("name force") == 1, page  # the header, once per page
        assert f"layout test page {n} of {pages}" in page
    body = " ".join(text)
    for name, force in rows:
        assert body.count(f"{name} {force}") == 1


def test_a_short_table_is_never_split(qapp, tmp_path):
    rows = [[f"kept-{k:02d}", "x"] for k in range(KEEP_TOGETHER_ROWS)]

    def build(doc: Doc) -> None:
        while doc.y < doc.bottom - doc.height * 0.1:  # fill all but the foot of page 1
            doc.paragraph("filler")
        doc.table(("kept", "value"), rows)

    out = tmp_path / "short.pdf"
    assert write_pdf(out, "t", build) == 2
    first, second = pages_text(out)
    assert "kept-" not in first
    assert all(f"kept-{k:02d} x" in second for k in range(KEEP_TOGETHER_ROWS))


def test_a_failed_layout_leaves_no_file(qapp, tmp_path):
    calls = []

    def build(doc: Doc) -> None:
        calls.append(doc.total)
        doc.paragraph("half a report")
        if doc.total is not None:  # the second pass, writing the file
            raise RuntimeError("drawing failed")

    out = tmp_path / "failed.pdf"
    with pytest.raises(RuntimeError, match="drawing failed"):
        write_pdf(out, "t", build)
    assert calls == [None, 1]  # counted, then the file with "of 1"
    assert list(tmp_path.iterdir()) == []
