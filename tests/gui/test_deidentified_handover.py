"""De-identified reports and the de-identified review window: every byte of the PDF (raw,
every decompressed stream, the extracted text and the metadata) is searched for the
identifying strings, and so is everything the window shows."""

from __future__ import annotations

import re
import stat
import unicodedata

import pytest
from pypdf import PdfReader
from pypdf.generic import IndirectObject, StreamObject

from gui.report import write_report
from gui.review import ReviewWindow
from gui.review.demo import write_session
from logger.cli import main
from logger.deidentify import DeidentifiedStore
from logger.store import AuditAction, SessionStore

PEOPLE = {
    "reference": dict(
        therapist="Rosalind Okafor",
        client="Jane Smith",
        started_at="2024-03-05T09:41:27+00:00",
        notes="tender since the accident in Harrogate",
    ),
    "trainee": dict(
        therapist="Tom Baker",
        client="Mary Jones",
        started_at="2024-03-19T15:10:00+00:00",
        notes="referred by Dr Whitfield",
    ),
}
WORDS = ["Rosalind", "Okafor", "Jane", "Smith", "Harrogate", "accident", "Tom Baker", "Baker",
         "Mary", "Jones", "Whitfield", "2024-03", "09:41", "15:10", "2024",
         "2026-11-01"]  # fmt: skip


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    db = tmp_path_factory.mktemp("handover") / "sessions.sqlite3"
    with SessionStore(db) as store:
        ids = {
            role: write_session(
                store,
                plateaus_n=[[30.0, 31.0], [28.0, 29.0]],
                rate_hz=100.0,
                hold_s=6.0,
                seed=3,
                **people,
            )  # fmt: skip
            for role, people in PEOPLE.items()
        }
    return db, ids


def identifying(ids: dict[str, str]) -> list[str]:
    return [*WORDS, *ids.values(), *(i[:8] for i in ids.values())]


def pdf_everything(path) -> str:
    """Raw bytes, every stream decompressed, the extracted text and the metadata."""
    return pdf_read(path)[0]


def pdf_read(path) -> tuple[str, list[str]]:
    """:func:`pdf_everything`, and the extracted text of each page."""
    raw = path.read_bytes()
    reader = PdfReader(path)
    parts = [raw.decode("latin-1")]
    numbers = {(num, gen) for gen, objs in reader.xref.items() for num in objs}
    numbers |= {(num, 0) for num in reader.xref_objStm}
    assert len(numbers) > 10  # the walk below sees the document's objects
    for num, gen in sorted(numbers):
        obj = reader.get_object(IndirectObject(num, gen, reader))
        if isinstance(obj, StreamObject):
            parts.append(obj.get_data().decode("latin-1"))
    pages = [p.extract_text() for p in reader.pages]
    parts += pages
    parts.append(repr(dict(reader.metadata or {})))
    return without_file_dates("\n".join(parts)), pages


# when the PDF itself was written (XMP xmp:CreateDate/ModifyDate/MetadataDate, the Info
# dictionary's D:… dates): today, not the session's time; a report written at hh:09:41
# read as the session's "09:41" (checked apart: test_the_file_dates_are_when_it_was_written)
FILE_DATE = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?|D:\d{14}[^)'\s]*"
)


def without_file_dates(text: str) -> str:
    return FILE_DATE.sub("<file date>", text)


def found(text: str, ids: dict[str, str]) -> list[str]:
    """The identifying strings in ``text``, read as a reader would: ligatures unfolded
    ("ﬁ" → "fi", which the PDF's text uses) and runs of white space as one space."""
    low = " ".join(unicodedata.normalize("NFKC", text).split()).lower()
    return [w for w in identifying(ids) if w.lower() in low]


@pytest.mark.parametrize("with_reference", [False, True])
def test_deidentified_report_holds_no_identifying_string(qapp, library, tmp_path, with_reference):
    db, ids = library
    reference = ids["reference"] if with_reference else None
    plain, deid = tmp_path / "plain.pdf", tmp_path / "deid.pdf"
    with SessionStore(db) as store:
        write_report(store, ids["trainee"], plain, reference_sid=reference)
        summary = write_report(
            store, ids["trainee"], deid, reference_sid=reference, deidentify=True
        )
        audit = store.audit()[-2:]
    assert {"Tom Baker", "Mary", "Whitfield"} <= set(found(pdf_everything(plain), ids))
    everything, pages = pdf_read(deid)
    assert found(everything, ids) == []
    assert stat.S_IMODE(deid.stat().st_mode) == 0o600
    text = " ".join(" ".join(unicodedata.normalize("NFKC", p).split()) for p in pages)
    assert "removed (de-identified)" in text and "day 0" in text
    assert summary.holds == 4 and "Per-point statistics" in text
    if with_reference:
        assert summary.compared_points == 2 and "Comparison with the reference" in text
    assert [(a.action, a.deidentified) for a in audit] == [
        (AuditAction.REPORT, False),
        (AuditAction.REPORT, True),
    ]
    assert set(audit[1].detail["handed_over_as"]) == {ids["trainee"]} | (
        {reference} if reference else set()
    )


def test_report_command_deidentify(qapp, library, tmp_path):
    db, ids = library
    out = tmp_path / "cmd.pdf"
    args = ["report", ids["trainee"], "--out", str(out), "--db", str(db), "--deidentify"]
    assert main(args) == 0
    assert found(pdf_everything(out), ids) == []


@pytest.fixture
def deid_window(qtbot, library):
    db, ids = library
    store = SessionStore(db)
    view = DeidentifiedStore(store, ids["reference"])
    w = ReviewWindow(view)
    qtbot.addWidget(w)
    w.show()
    yield w, view, ids
    w.close()
    store.close()


def test_deidentified_review_window_shows_no_names_or_dates(deid_window, tmp_path):
    w, view, ids = deid_window
    public = view.public_id(ids["trainee"])
    w.open_session(public)
    w.set_reference(view.public_id(ids["reference"]))
    assert "day 14" in w.header.text()  # two weeks after the reference
    shown = [w.windowTitle(), w.header.text()]
    table = w.library.table
    for r in range(table.rowCount()):
        for c in range(table.columnCount()):
            item = table.item(r, c)
            shown += [item.text(), item.toolTip() or ""]
    shown += [w.compare.findChildren(type(w.header))[i].text()
              for i in range(len(w.compare.findChildren(type(w.header))))]  # fmt: skip
    assert found("\n".join(shown), ids) == []
    assert "de-identified" in w.windowTitle()
    assert w.act_deidentify.isChecked() and not w.act_deidentify.isEnabled()
    edf = w.export("edf", tmp_path / "w.edf")
    assert found(edf.read_bytes().decode("latin-1"), ids) == []


def test_identified_window_hands_over_deidentified_copies_on_request(qtbot, library, tmp_path):
    db, ids = library
    with SessionStore(db) as store:
        w = ReviewWindow(store)
        qtbot.addWidget(w)
        w.open_session(ids["trainee"])
        assert "Tom Baker" in w.header.text()  # the clinic's own view has the names
        assert w.suggested_name() == ids["trainee"]
        w.act_deidentify.setChecked(True)
        assert w.suggested_name() == "deidentified-session"  # the id holds the date
        edf = w.export("edf", tmp_path / "w.edf")
        pdf = w.save_report(tmp_path / "w.pdf")
        w.close()
    assert found(edf.read_bytes().decode("latin-1"), ids) == []
    assert found(pdf_everything(pdf), ids) == []


def test_the_file_dates_are_when_it_was_written(qapp, library, tmp_path):
    """The only dates the search above sets aside are the file's own, and they are today's."""
    import datetime

    db, ids = library
    out = tmp_path / "deid.pdf"
    with SessionStore(db) as store:
        write_report(store, ids["trainee"], out, deidentify=True)
    raw = out.read_bytes().decode("latin-1")
    dates = FILE_DATE.findall(raw)
    assert dates  # the search would set something aside
    today = datetime.datetime.now(datetime.UTC).date()
    for d in dates:
        digits = d[2:10] if d.startswith("D:") else d[:10].replace("-", "")
        day = datetime.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
        assert abs((day - today).days) <= 1, d
